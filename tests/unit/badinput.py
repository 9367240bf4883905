"""Shared assertions for the bad-input catalogue: one line on stderr, the documented exit
code, no traceback, and nothing run (no run folder was created)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Cli, assert_refused, swarmctl

BAD_INPUT, RUN_FAILED, PREFLIGHT_FAILED = 2, 1, 3

# Inventories of these tests point at loopback only: were a bad input ever let
# through, nothing outside this machine would be contacted.
GOOD_INVENTORY = """\
all:
  vars: {ansible_user: admin}
  children:
    swarm_managers:
      hosts:
        m1: {ansible_host: 127.0.0.11}
    swarm_workers:
      hosts:
        w1: {ansible_host: 127.0.0.21}
"""


def refused(home: Path, *args: str, code: int = BAD_INPUT,
            says: tuple[str, ...] = ()) -> str:
    """Run the CLI with SWARMCTL_HOME=home and check it refused cleanly; returns the line."""
    cli: Cli = swarmctl(*args, env={"SWARMCTL_HOME": str(home)}, timeout=120)
    line = assert_refused(cli, code, *says)
    assert not (home / "runs").exists() or not any((home / "runs").iterdir()), \
        "a playbook ran: bad input must be refused before any host is contacted"
    return line
