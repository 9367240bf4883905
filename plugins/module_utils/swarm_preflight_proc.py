"""What the preflight modules share: the marker of a probe, which ports a host is probed
on, and process identity (a PID plus its start time names one process, so that a
listener is only ever stopped by the run that started it)."""

from __future__ import annotations

# Marks a probe: UDP probes start with it (the listener echoes them), TCP probes towards
# a temporary listener send it (only marked connections count as probes).
MAGIC = b"swarmctl-preflight"


def probed_ports(manager):
    """The ports the other hosts probe on a host: 2377/tcp on a manager only."""
    return (["2377/tcp"] if manager else []) + ["7946/tcp", "7946/udp", "4789/udp"]


def start_time(pid):
    """The start time of process `pid` (in clock ticks since boot), or "" when gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""
