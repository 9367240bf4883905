"""The two consoles every command prints to: results on stdout, progress and errors on
stderr. Piped output (logs, CI) gets wide lines rather than truncated table cells."""

from __future__ import annotations

import sys

from rich.console import Console

out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)


def warn(message: str) -> None:
    """A warning line on stderr."""
    err.print(f"[yellow]warning:[/] {message}", soft_wrap=True, highlight=False)
