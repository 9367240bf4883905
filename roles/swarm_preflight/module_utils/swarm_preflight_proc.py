"""Process identity shared by the preflight modules: a PID plus its start time names one
process, so that a listener is only ever stopped by the run that started it."""

from __future__ import annotations


def start_time(pid):
    """The start time of process `pid` (in clock ticks since boot), or "" when gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""
