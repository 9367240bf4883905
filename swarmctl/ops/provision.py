"""Provisioning: run the playbook with live progress and read the cluster from its events.

With the preflight checks (the default), `playbooks/provision.yml` runs them, waits at a
gate for swarmctl's verdict (checks.Gate judges the probes' events as they arrive), then
runs site.yml: one ansible-playbook run. Without them, site.yml alone.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from swarmctl.ansible import events
from swarmctl.ansible.progress import Progress
from swarmctl.ansible.runner import RunResult, new_run_dir, raise_for_failures, run_playbook
from swarmctl.models.cluster import Node
from swarmctl.models.inventory import Inventory


def forks_for(inv: Inventory) -> int:
    return len(inv.hosts)


@dataclass(frozen=True)
class Limited:
    """A `--limit` run: the hosts it converges, and the hosts it runs on (those, and
    every manager, read but not changed: they hold the swarm)."""

    inventory: Inventory  # the hosts of the run: every manager, the selected workers
    converge: tuple[str, ...]

    @classmethod
    def of(cls, inv: Inventory, selected: list[str]) -> Limited:
        chosen = set(selected)
        run = inv.model_copy(update={"workers": tuple(w for w in inv.workers
                                                      if w.name in chosen)})
        return cls(run, tuple(h.name for h in inv.hosts if h.name in chosen))

    @property
    def pattern(self) -> str:
        """ansible-playbook's --limit: the hosts of the run."""
        return ",".join(h.name for h in self.inventory.hosts)

    def extravars(self) -> dict[str, list[str]]:
        managers = {h.name for h in self.inventory.managers}
        return {"swarm_converge_hosts": list(self.converge),
                "swarm_converge_managers": [h for h in self.converge if h in managers],
                "swarm_converge_workers": [h for h in self.converge if h not in managers]}


def provision(inv: Inventory, *, verbosity: int = 0, console: Console,
              checks: bool = True, report_console: Console | None = None,
              limit: Limited | None = None,
              converged: dict[str, str] | None = None) -> RunResult:
    """Check the hosts (unless `checks` is false), then run site.yml against them.

    PreflightError (exit 3, the table printed to `report_console`) when a check fails,
    before anything changed; RunError when the run fails. With `limit`, only its hosts
    are converged (and checked, with every manager). `converged`: each host's digest
    (swarmctl.ops.converged): the caller writes the stamps after the run, so site.yml's
    last play (which removes them in a run without digests) does not run.
    """
    extra: dict = limit.extravars() if limit else {}
    if converged:  # swarmctl writes the stamps itself after the run (ops.converged)
        extra["swarmctl_stamps_by_controller"] = True
    pattern = limit.pattern if limit else None
    run_inv = limit.inventory if limit else inv
    if not checks:
        with Progress(console, "provisioning", active=not verbosity) as progress:
            result = run_playbook("site.yml", inv.path, verb="provision", extravars=extra,
                                  verbosity=verbosity, forks=forks_for(run_inv),
                                  limit=pattern, on_event=progress)
        raise_for_failures(result, "provisioning")
        return result

    from swarmctl.console import out
    from swarmctl.ops.checks import Gate

    with tempfile.TemporaryDirectory(prefix="swarmctl-") as tmp, \
            Progress(console, "preflight checks", active=not verbosity) as progress:
        verdict = Path(tmp) / "verdict.json"
        gate = Gate(run_inv, verdict, progress, report_console or out, pause=progress.paused,
                    converge=limit.converge if limit else None)
        result = run_playbook("provision.yml", inv.path, verb="provision",
                              extravars={"swarmctl_preflight_verdict": str(verdict), **extra},
                              verbosity=verbosity, forks=forks_for(run_inv), limit=pattern,
                              on_event=gate)
    gate.outcome(result.events)
    raise_for_failures(result, "provisioning")
    return result


def nodes_from(result: RunResult) -> list[Node]:
    """The node list the verify role published last, sorted managers first."""
    found = events.published(result.events, "nodes")
    if not found:
        return []
    return nodes_from_api(found[-1].get("nodes") or [])


def nodes_from_api(raw_nodes: list[dict]) -> list[Node]:
    """Engine API node objects as Nodes, sorted managers first."""
    nodes = [Node.from_api(raw) for raw in raw_nodes]
    return sorted(nodes, key=lambda n: (n.role != "manager", n.hostname))


def record_converged(inv: Inventory, obs, the_plan) -> Path:
    """A run folder for a re-run that ran no task: what was read and compared
    (`converged.json`: per host its stamp's digest and the fingerprint read, the plan)."""
    import json

    from swarmctl.ops import membership

    run_dir = new_run_dir("provision")
    hosts = {h.name: {"digest": (obs.hosts[h.name].stamp or {}).get("digest", ""),
                      "fingerprint": obs.hosts[h.name].fingerprint, "changed": 0}
             for h in inv.hosts}
    data = {"skipped": True, "changed": 0, "hosts": hosts,
            "plan": membership.as_json(the_plan)}
    (run_dir / "converged.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return run_dir
