"""Errors as types, rendered once at the edge (the CLI).

Exit codes (documented in the README):
  0  success
  1  a run failed on the hosts (Ansible failed, a deploy did not converge)
  2  bad input: inventory, spec or command line; nothing was touched
  3  preflight checks failed, or the manager deploy uses cannot deploy; nothing was changed
  4  `swarmctl plan` only: there are changes to apply
  5  another swarmctl run holds the swarm's lock; nothing was changed
"""

from __future__ import annotations


class SwarmctlError(Exception):
    """Base class: a message for the user, one line, and an exit code."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputError(SwarmctlError):
    """The user's input (inventory, spec, CLI arguments) is wrong. Nothing was touched."""

    exit_code = 2


class RunError(SwarmctlError):
    """A run against the hosts failed."""

    exit_code = 1


class PreflightError(SwarmctlError):
    """Preflight checks refused the hosts before anything changed."""

    exit_code = 3


class LabError(SwarmctlError):
    """The local lab could not be created, inspected or removed."""

    exit_code = 1


class LockedError(SwarmctlError):
    """Another swarmctl run holds the swarm's lock. Nothing was changed."""

    exit_code = 5
