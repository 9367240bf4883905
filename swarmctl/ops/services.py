"""Deploy a services spec (networks, secrets, configs, services, stacks) and read their state.

`deploy` validates the spec, then runs `playbooks/services.yml` on one reachable manager
with the spec file's *path* as an extra var: the file is read on the controller inside
the play (under no_log), so secret values never land in the run folder. The role waits
until the services converged and reports updates that rolled back.

`status` reads nodes and services from a manager over SSH in one round trip.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from swarmctl.ansible.progress import Progress
from swarmctl.ansible.runner import RunResult, raise_for_failures, run_playbook
from swarmctl.errors import PreflightError, RunError
from swarmctl.models import spec as specmod
from swarmctl.models.cluster import ClusterStatus, Node, ServiceStatus, counts
from swarmctl.models.inventory import Host, Inventory
from swarmctl.ops import remote

WAIT_TASK = "Wait until every declared service has converged."
# The play's first task on the manager; it also refuses a host that cannot deploy.
SNAPSHOT_TASK = "Record the services' update state before changing them."
WARNING_MARKS = ("swarm_services_ipvs_missing: ", "swarm_services_ipsec_missing: ")


@dataclass
class Deployed:
    """What a deploy did."""

    result: RunResult
    services: list[dict[str, Any]]
    warnings: list[str]

    @property
    def changed(self) -> int:
        return self.result.total_changed


def _events_of(result: RunResult, task: str) -> list[tuple[bool, dict[str, Any]]]:
    """(failed, res) of each result of a task."""
    out = []
    for ev in result.events:
        data = ev.get("event_data", {})
        if ev.get("event") in ("runner_on_ok", "runner_on_failed") and data.get("task") == task:
            out.append((ev["event"] == "runner_on_failed", data.get("res", {})))
    return out


def _warnings(result: RunResult) -> list[str]:
    """The role's kernel warnings (IPVS, IPsec), once each."""
    found: list[str] = []
    for ev in result.events:
        res = ev.get("event_data", {}).get("res", {})
        msg = res.get("msg") if isinstance(res, dict) else None
        if ev.get("event") != "runner_on_ok" or not isinstance(msg, str):
            continue
        for mark in WARNING_MARKS:
            if msg.startswith(mark) and msg.removeprefix(mark) not in found:
                found.append(msg.removeprefix(mark))
    return found


def _shown(progress: Progress):
    """Progress without the play's title (the status line names it) and without the first
    task's failure: a refusal there is reported as the one error line."""

    def handler(event: dict[str, Any]) -> None:
        kind, data = event.get("event"), event.get("event_data", {})
        if kind == "playbook_on_play_start" or (
                kind in ("runner_on_failed", "runner_on_unreachable")
                and data.get("task") == SNAPSHOT_TASK):
            return
        progress(event)

    return handler


def _refusal(result: RunResult, manager: Host) -> str | None:
    """Why the manager refused the deploy in the play's first task (SSH, sudo, Docker,
    not an active manager), as one line with the fix; None when it did not. Nothing
    was changed then: the first task only reads."""
    from swarmctl.ops import checks

    for ev in result.events:
        kind, data = ev.get("event"), ev.get("event_data", {})
        res = data.get("res") or {}
        if data.get("task") != SNAPSHOT_TASK:
            continue
        if kind == "runner_on_unreachable":
            verdict = checks.access_failure(manager, unreachable=checks.ansible_message(res))
        elif kind == "runner_on_failed":
            if res.get("manager_problem"):
                return f"{manager.name}: {res.get('msg')}"
            verdict = checks.access_failure(manager, failed=checks.ansible_message(res))
        else:
            continue
        return verdict.line() if verdict else None
    return None


def deploy(inv: Inventory, spec_path: Path, *, verbosity: int = 0, console: Console,
           timeout: int = 300) -> Deployed:
    """Converge the cluster to the spec. RunError when it fails or does not converge."""
    specmod.load(spec_path)  # validate before anything is applied
    manager = remote.first_reachable_manager(inv)
    extravars = {
        "swarm_services_spec_file": str(spec_path.resolve()),
        "swarm_services_manager": manager.name,
        "swarm_services_wait_timeout": timeout,
    }
    with Progress(console, "deploying", active=not verbosity) as progress:
        result = run_playbook("services.yml", inv.path, verb="deploy", extravars=extravars,
                              verbosity=verbosity, on_event=_shown(progress))
    refused = _refusal(result, manager)
    if refused:
        raise PreflightError(f"cannot deploy from {refused}; nothing was changed")
    warnings = _warnings(result)
    waited = _events_of(result, WAIT_TASK)
    services = list(waited[-1][1].get("services", [])) if waited else []
    if waited and waited[-1][0]:
        for warning in warnings:
            console.print(f"[yellow]warning:[/] {warning}", soft_wrap=True)
        rolled = [s["name"] for s in services if s.get("state") == "rolled_back"]
        head = "update rolled back: " if rolled else "deploy did not converge: "
        msg = waited[-1][1].get("msg", "")
        if "No such image" in msg:
            msg += ("; copy the image to the nodes with `swarmctl images load -i "
                    f"{inv.path} IMAGE`, or push it to a registry they can pull from")
        raise RunError(f"{head}{msg}; details in {result.run_dir}")
    raise_for_failures(result, "deploy")
    return Deployed(result, services, warnings)


# --------------------------------------------------------------------------- status

# Runs on the manager with its Python and Docker SDK (the roles need both there): one
# round trip for nodes, services and a slim list of tasks.
_STATUS_SCRIPT = r"""
import json
import docker
api = docker.APIClient(base_url="unix://var/run/docker.sock", version="auto")
tasks = [{"service": t.get("ServiceID"), "node": t.get("NodeID"),
          "desired": t.get("DesiredState"), "state": t.get("Status", {}).get("State")}
         for t in api.tasks()]
print(json.dumps({"nodes": api.nodes(), "services": api.services(), "tasks": tasks}))
"""


def status(inv: Inventory) -> ClusterStatus:
    """Nodes and services as a reachable manager sees them."""
    manager = remote.first_reachable_manager(inv)
    proc = remote.run(manager, ["python3", "-c", _STATUS_SCRIPT], timeout=60)
    if proc.returncode != 0:
        raise RunError(f"{manager.name}: cannot read the swarm: {remote.error_text(proc)}; "
                       f"is it a manager of an active swarm (swarmctl provision)?")
    try:
        data = json.loads(proc.stdout.decode())
    except json.JSONDecodeError as exc:
        raise RunError(f"{manager.name}: unexpected answer reading the swarm ({exc})") from None
    nodes = sorted((Node.from_api(n) for n in data["nodes"]),
                   key=lambda n: (n.role != "manager", n.hostname))
    down = {n["ID"] for n in data["nodes"] if n.get("Status", {}).get("State") == "down"}
    services = sorted((ServiceStatus.from_api(s, counts(s, data["tasks"], down))
                       for s in data["services"]), key=lambda s: s.name)
    return ClusterStatus(manager.name, nodes, services)
