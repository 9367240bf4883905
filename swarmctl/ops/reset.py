"""Take the swarm apart: run reset.yml with live progress and report each host's state.

The order (workers, then managers demoted one at a time, the last one leaving) is the
role's (swarm_reset); here the result is read from the run's events: the leave module's
results and what the role publishes (the state before, the hosts purged).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Console

from swarmctl.ansible import events as events_
from swarmctl.ansible.progress import Progress
from swarmctl.ansible.runner import RunResult, raise_for_failures, run_playbook
from swarmctl.models.inventory import Inventory

LEAVE = "community.docker.docker_swarm"  # swarm_reset's leave (state: absent)


@dataclass
class Reset:
    result: RunResult
    before: dict[str, str]  # host → swarm state before (active, inactive, none, ...)
    left: list[str]
    purged: list[str]

    @property
    def changed(self) -> int:
        return self.result.total_changed

    def as_dict(self) -> dict[str, Any]:
        return {"changed": self.changed, "run_dir": str(self.result.run_dir),
                "before": self.before, "left": self.left, "purged": self.purged}


def left(result: RunResult) -> list[str]:
    """Hosts that left the swarm in this run, in the order they did."""
    return [r.host for r in events_.results(result.events)
            if r.module == LEAVE and r.outcome == "ok" and r.res.get("changed")]


def reset(inv: Inventory, *, purge: bool = False, verbosity: int = 0,
          console: Console) -> Reset:
    """Make every host leave the swarm (and remove Docker with `purge`)."""
    with Progress(console, "reset", active=not verbosity) as progress:
        result = run_playbook("reset.yml", inv.path, verb="reset",
                              extravars={"swarm_reset_purge": purge}, verbosity=verbosity,
                              forks=len(inv.hosts), on_event=progress)
    raise_for_failures(result, "reset")
    before = {str(d.get("host")): str(d.get("state"))
              for d in events_.published(result.events, "reset_state")}
    purged = [str(d.get("host")) for d in events_.published(result.events, "purged")
              if d.get("removed") in (True, "True", "true")]
    return Reset(result, before, left(result), purged)
