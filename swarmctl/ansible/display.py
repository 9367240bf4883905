"""Ansible's warnings, collected instead of printed while swarmctl uses Ansible's
machinery in its own process (loading an inventory, reading vault secrets), so that a
refusal stays one line on stderr. The caller reads what was collected."""

from __future__ import annotations


class quiet:
    """Context manager: collect Display.warning/error_as_warning/deprecated calls.

    `warnings` holds (message, exception or None) in order. Only these three methods
    of Ansible's Display singleton are replaced, on the instance, and put back on exit.
    """

    def __init__(self) -> None:
        self.warnings: list[tuple[str, BaseException | None]] = []

    def __enter__(self) -> quiet:
        from ansible.utils.display import Display

        self._display = Display()
        self._saved = {name: self._display.__dict__.get(name)
                       for name in ("warning", "error_as_warning", "deprecated")}

        def warning(msg, *args, **kwargs):
            self.warnings.append((str(msg), None))

        def error_as_warning(msg, exception, *args, **kwargs):
            self.warnings.append((str(msg or ""), exception))

        def deprecated(*args, **kwargs):
            return None

        self._display.warning = warning
        self._display.error_as_warning = error_as_warning
        self._display.deprecated = deprecated
        return self

    def __exit__(self, *exc) -> None:
        for name, saved in self._saved.items():
            if saved is None:
                self._display.__dict__.pop(name, None)
            else:
                setattr(self._display, name, saved)


def one_line(exc: BaseException | str) -> str:
    """An Ansible error as one line: its message, whitespace collapsed, bounded."""
    text = exc if isinstance(exc, str) else str(getattr(exc, "message", "") or exc)
    return " ".join(text.split())[:300]
