"""Live progress of a playbook run, built from ansible-runner events (not from text)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.status import Status

from swarmctl.console import lit

_DONE = ("runner_on_ok", "runner_on_failed", "runner_on_skipped", "runner_on_unreachable")


class Progress:
    """Shows the current play, task and how many hosts finished it, on stderr.

    Used as an ansible-runner event handler; prints a line for each failed or
    unreachable host as it happens, and keeps one status line for the rest.
    """

    def __init__(self, console: Console, title: str, *, active: bool = True) -> None:
        # Inactive (with -v, when Ansible prints its own output) it shows nothing.
        self.active = active
        self.console = console
        self.title = title
        self.play = ""
        self.task = ""
        self.task_no = 0
        self.hosts: set[str] = set()
        self.done: set[str] = set()
        self.started = time.monotonic()
        self.status: Status | None = None

    def __enter__(self) -> Progress:
        if self.active:
            self.status = self.console.status(self._line_markup())
            self.status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.status:
            self.status.__exit__(None, None, None)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Hide the status line while something else is printed."""
        if self.status is None:
            yield
            return
        self.status.stop()
        try:
            yield
        finally:
            self.status.start()

    def _line_markup(self) -> str:
        """The status line, as rich markup (play and task names escaped)."""
        elapsed = time.monotonic() - self.started
        if self.task:
            where_markup = f"[bold]{lit(self.play)}[/]: {lit(self.task)}" if self.play \
                else lit(self.task)
        else:
            where_markup = lit(self.title)
        count = f" ({len(self.done)}/{len(self.hosts)} hosts)" if self.hosts else ""
        return f"{where_markup}{lit(count)}  [dim]{elapsed:.0f}s[/]"

    def __call__(self, event: dict[str, Any]) -> None:
        if not self.active:
            return
        kind = event.get("event")
        data = event.get("event_data", {})
        if kind == "playbook_on_play_start":
            play = data.get("play", "")
            if play and play != self.play:  # a serial play starts once per batch
                self.console.print(f"[dim]▶ {lit(play)}[/]", soft_wrap=True)
            self.play = play
            self.task = ""
            self.hosts = set()
            self.done = set()
        elif kind == "playbook_on_task_start":
            self.task_no += 1
            self.task = data.get("task", "")
            self.done = set()
        elif kind == "runner_on_start":
            self.hosts.add(data.get("host", ""))
        elif kind in _DONE:
            host = data.get("host", "")
            self.hosts.add(host)
            self.done.add(host)
            if kind == "runner_on_unreachable" or (
                kind == "runner_on_failed" and not data.get("ignore_errors")
            ):
                self.console.print(f"  [red]✗ {lit(host)}[/]: {lit(self.task)}",
                                   soft_wrap=True)
        if self.status:
            self.status.update(self._line_markup())


def status_only(progress: Progress, *, hide_failures_of=None):
    """`progress` as a status line only: no play titles and no failure lines (a table or
    one error line reports those). With `hide_failures_of` (a predicate on an events.Result),
    only the failures it matches are hidden, and play titles too."""
    from swarmctl.ansible import events

    def handler(event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "playbook_on_play_start":
            return
        if kind in ("runner_on_failed", "runner_on_unreachable"):
            r = events.result(event)
            if hide_failures_of is None or (r is not None and hide_failures_of(r)):
                return
        progress(event)

    return handler
