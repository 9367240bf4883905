"""Where swarmctl finds its playbooks and roles, and where it keeps its state."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


COLLECTION = "swarmctl.swarm"
_WHEEL_ROOT = PACKAGE_DIR / "_ansible"


@cache
def ansible_dir() -> Path:
    """The collection swarmctl.swarm: `playbooks/`, `roles/`, `plugins/`, `ansible.cfg`.

    In an installed wheel it is copied into the package
    (`swarmctl/_ansible/ansible_collections/swarmctl/swarm`); in a checkout (tests) it is
    the top of the repository, which is the collection's root.
    """
    namespace, name = COLLECTION.split(".")
    for candidate in (_WHEEL_ROOT / "ansible_collections" / namespace / name,
                      PACKAGE_DIR.parent):
        if (candidate / "playbooks" / "site.yml").is_file() and (candidate / "roles").is_dir():
            return candidate
    raise FileNotFoundError(
        "swarmctl's playbooks were not found next to the package; reinstall swarmctl"
    )


def collections_root() -> Path:
    """The folder holding `ansible_collections/swarmctl/swarm`, for ANSIBLE_COLLECTIONS_PATH:
    the wheel's `_ansible`, or the checkout's `.collections` (a link to the repository)."""
    root = ansible_dir()
    if root.parent.parent.name == "ansible_collections":
        return root.parent.parent.parent
    return root / ".collections"


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
