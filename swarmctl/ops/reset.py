"""Take the swarm apart: run reset.yml with live progress and report each host's state.

The order (workers, then managers demoted one at a time, the last one leaving) is the
role's (swarm_reset); here the result is read from the run's events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Console

from swarmctl.ansible.progress import Progress
from swarmctl.ansible.runner import RunResult, raise_for_failures, run_playbook
from swarmctl.models.inventory import Inventory

READ_TASK = "Record the host's swarm state."
LEAVE_TASK = "Ensure the host is in no swarm."
PURGE_TASK = "Ensure Docker's packages, data and configuration are gone."


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


def hosts_with(result: RunResult, task: str, *, changed: bool) -> list[str]:
    """Hosts where the task ran ok (and changed, when asked), in the order they did."""
    out = []
    for ev in result.events:
        data = ev.get("event_data", {})
        if ev.get("event") == "runner_on_ok" and data.get("task") == task \
                and (not changed or (data.get("res") or {}).get("changed")):
            out.append(data.get("host"))
    return out


def reset(inv: Inventory, *, purge: bool = False, verbosity: int = 0,
          console: Console) -> Reset:
    """Make every host leave the swarm (and remove Docker with `purge`)."""
    with Progress(console, "reset", active=not verbosity) as progress:
        result = run_playbook("reset.yml", inv.path, verb="reset",
                              extravars={"swarm_reset_purge": purge}, verbosity=verbosity,
                              forks=len(inv.hosts), on_event=progress)
    raise_for_failures(result, "reset")
    before = {}
    for ev in result.events:
        data = ev.get("event_data", {})
        if ev.get("event") == "runner_on_ok" and data.get("task") == READ_TASK:
            facts = (data.get("res") or {}).get("ansible_facts", {})
            before[data["host"]] = facts.get("swarm_reset_state", "")
    return Reset(result, before, hosts_with(result, LEAVE_TASK, changed=True),
                 hosts_with(result, PURGE_TASK, changed=True))
