"""Where swarmctl finds its playbooks and roles, and where it keeps its state."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def ansible_dir() -> Path:
    """The folder holding `playbooks/`, `roles/` and `ansible.cfg`.

    In an installed wheel they are copied into the package (`swarmctl/_ansible`);
    in a checkout (editable install, tests) they sit at the top of the repository.
    """
    for candidate in (PACKAGE_DIR / "_ansible", PACKAGE_DIR.parent):
        if (candidate / "playbooks" / "site.yml").is_file() and (candidate / "roles").is_dir():
            return candidate
    raise FileNotFoundError(
        "swarmctl's playbooks were not found next to the package; reinstall swarmctl"
    )


def playbook(name: str) -> Path:
    return ansible_dir() / "playbooks" / name


def roles_dir() -> Path:
    return ansible_dir() / "roles"


def state_dir() -> Path:
    """Per-user state: run artifacts, labs. `SWARMCTL_HOME` overrides it."""
    env = os.environ.get("SWARMCTL_HOME")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "swarmctl"
