"""Deploy a services spec (networks, secrets, configs, services, stacks) and read their state.

`deploy` validates the spec, then runs `playbooks/services.yml` on one reachable manager
with the spec file's *path* as an extra var: the file is read on the controller inside
the play (under no_log), so secret values never land in the run folder. The role waits
until the services converged and reports updates that rolled back.

`status` reads nodes and services from a manager over SSH in one round trip.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from swarmctl.ansible import events
from swarmctl.ansible.progress import Progress, status_only
from swarmctl.ansible.runner import RunResult, raise_for_failures, run_playbook
from swarmctl.console import lit, one_line
from swarmctl.errors import PreflightError, RunError
from swarmctl.models import spec as specmod
from swarmctl.models.cluster import ClusterStatus, Node, ServiceStatus, counts
from swarmctl.models.inventory import Host, Inventory
from swarmctl.ops import autoscale, remote


@dataclass
class Deployed:
    """What a deploy did."""

    result: RunResult
    services: list[dict[str, Any]]
    warnings: list[str]
    # services deployed from a spec (ownership label) that this spec does not declare:
    # removed when `pruned`, else kept
    undeclared: list[str] = field(default_factory=list)
    pruned: bool = False
    # what the run changed, by kind and name (swarm_services_changes)
    changes: list[dict[str, Any]] = field(default_factory=list)
    # the networks, secrets and configs like `undeclared`: {kind: names}
    undeclared_objects: dict[str, list[str]] = field(default_factory=dict)

    def kept(self) -> list[str]:
        """What the spec no longer declares and the run kept ("service web", ...)."""
        return [] if self.pruned else kept_objects(self.undeclared, self.undeclared_objects)

    @property
    def changed(self) -> int:
        return self.result.total_changed

    def statuses(self) -> list[ServiceStatus]:
        """The services as the wait left them, for the table."""
        return [ServiceStatus.from_converged(s) for s in self.services]


def kept_objects(services: list[str], objects: dict[str, list[str]]) -> list[str]:
    return [f"service {n}" for n in services] + [
        f"{kind} {n}" for kind in ("network", "secret", "config")
        for n in (objects or {}).get(kind) or []]


def _converge(result: RunResult, phase: str) -> list[events.Result]:
    """The results of swarm_services_converge's snapshot or wait phase on the manager.
    The snapshot is the play's first task on the manager: it only reads, and refuses a
    host that cannot deploy (manager_problem)."""
    found = events.of_module(result.events, "swarm_services_converge")
    if phase == "snapshot":
        return [r for r in found if ("snapshot" in r.res and "services" not in r.res)
                or r.res.get("manager_problem")]
    return [r for r in found if "services" in r.res]


def _warnings(result: RunResult) -> list[str]:
    """The kernel warnings of the snapshot (IPVS, IPsec), once each."""
    found: list[str] = []
    for r in _converge(result, "snapshot"):
        for warning in r.res.get("kernel_warnings") or []:
            if warning not in found:
                found.append(warning)
    return found


def _before_snapshot(result: RunResult, manager: Host) -> events.Result | None:
    """The manager's failure before the snapshot succeeded (SSH, sudo, Docker, not an
    active manager): nothing was changed then. None when it did not fail there."""
    for r in events.results(result.events):
        if r.host != manager.name:
            continue
        if r.module == "swarm_services_converge" and r.outcome == "ok":
            return None  # the snapshot passed: a later failure is the run's own
        if r.outcome == "unreachable" or (r.outcome == "failed" and not r.ignored):
            return r
    return None


def _refusal(result: RunResult, manager: Host) -> str | None:
    """Why the manager refused the deploy before anything changed, as one line with the
    fix; None when it did not."""
    from swarmctl.ops import checks

    r = _before_snapshot(result, manager)
    if r is None:
        return None
    if r.outcome == "unreachable":
        verdict = checks.access_failure(manager, unreachable=checks.ansible_message(r.res))
    elif r.res.get("manager_problem"):
        return f"{manager.name}: {one_line(r.res.get('msg'))}"
    else:
        verdict = checks.access_failure(manager, failed=checks.ansible_message(r.res))
    return verdict.line() if verdict else None


def deploy(inv: Inventory, spec_path: Path, *, verbosity: int = 0, console: Console,
           timeout: int = 300, prune: bool = False) -> Deployed:
    """Converge the cluster to the spec; with `prune`, then remove the services,
    networks, secrets and configs deployed from a spec that this one no longer declares.
    RunError when it fails or does not converge (nothing is pruned then)."""
    spec = specmod.load(spec_path)  # validate before anything is applied
    manager = remote.first_reachable_manager(inv)
    extravars = _extravars(spec_path, manager, timeout, prune)
    if spec.autoscaled():
        given = spec.autoscaler.image if spec.autoscaler else None
        if not given:
            with console.status("autoscaler: building its image, copying it to the nodes"
                                ) as shown:
                given = autoscale.ship(inv, lambda line: shown.update(f"autoscaler: {lit(line)}"))
        extravars["swarm_services_autoscaler_image"] = given
    snapshot_passed = False

    def track(event: dict[str, Any]) -> None:
        nonlocal snapshot_passed
        r = events.result(event)
        if r and r.host == manager.name and r.module == "swarm_services_converge" \
                and r.outcome == "ok":
            snapshot_passed = True
        shown(event)

    with Progress(console, "deploying", active=not verbosity) as progress:
        # a failure before the snapshot passed, or of the wait (services that did not
        # converge, and why), is reported as the one error line
        shown = status_only(progress, hide_failures_of=lambda r: r.host == manager.name and (
            not snapshot_passed or r.module == "swarm_services_converge"))
        result = run_playbook("services.yml", inv.path, verb="deploy", extravars=extravars,
                              verbosity=verbosity, on_event=track)
    refused = _refusal(result, manager)
    if refused:
        raise PreflightError(f"cannot deploy from {refused}; nothing was changed")
    warnings = _warnings(result)
    waited = _converge(result, "wait")
    services = list(waited[-1].res.get("services", [])) if waited else []
    if waited and waited[-1].outcome == "failed":
        for warning in warnings:
            console.print(f"[yellow]warning:[/] {lit(warning)}", soft_wrap=True)
        states = {s.get("state") for s in services}
        head = "update rolled back: " if "rolled_back" in states else \
            "deploy failed: " if "stuck" in states else "deploy did not converge: "
        msg = one_line(waited[-1].res.get("msg", ""), 2000)  # Docker's errors, flattened
        if "No such image" in msg:
            msg += ("; copy the image to the nodes with `swarmctl images load -i "
                    f"{inv.path} IMAGE`, or push it to a registry they can pull from")
        raise RunError(f"{head}{msg}; details in {result.run_dir}")
    raise_for_failures(result, "deploy")
    published = _published_changes(result)
    return Deployed(result, services, warnings, list(published.get("undeclared") or []),
                    prune, list(published.get("changes") or []),
                    dict(published.get("undeclared_objects") or {}))


def _extravars(spec_path: Path, manager: Host, timeout: int, prune: bool) -> dict[str, Any]:
    """What services.yml is given by deploy and by plan (the spec by its path: the play
    reads it on the controller under no_log)."""
    return {"swarm_services_spec_file": str(spec_path.resolve()),
            "swarm_services_manager": manager.name,
            "swarm_services_wait_timeout": timeout,
            "swarm_services_prune": prune}


def _published_changes(result: RunResult) -> dict[str, Any]:
    found = events.published(result.events, "services_changes")
    return found[-1] if found else {}


@dataclass
class ServicesPlan:
    """What `deploy` would change (its playbook in check mode): `changes` as
    swarm_services_changes lists them, `undeclared` services kept or (with prune) in
    `changes` as removals, `stacks` not planned (docker stack deploy has no dry run);
    `unavailable`: why no plan could be made (no swarm yet, no manager answers)."""

    changes: list[dict[str, Any]] = field(default_factory=list)
    undeclared: list[str] = field(default_factory=list)
    stacks: list[str] = field(default_factory=list)
    prune: bool = False
    unavailable: str = ""
    undeclared_objects: dict[str, list[str]] = field(default_factory=dict)

    def kept(self) -> list[str]:
        return [] if self.prune else kept_objects(self.undeclared, self.undeclared_objects)

    def as_json(self) -> dict[str, Any]:
        return {"changes": self.changes, "kept": self.kept(),
                "stacks_not_planned": self.stacks, "unavailable": self.unavailable}


def plan(inv: Inventory, spec_path: Path, *, console: Console, prune: bool = False,
         verbosity: int = 0) -> ServicesPlan:
    """Run the deploy's playbook in check mode from the first manager that answers:
    the same modules decide what differs, nothing is changed, nothing is built or copied
    (the autoscaler's image is named by its tag)."""
    spec = specmod.load(spec_path)
    try:
        manager = remote.first_reachable_manager(inv)
    except (PreflightError, RunError) as exc:
        return ServicesPlan(prune=prune, unavailable=one_line(str(exc)))
    extravars = _extravars(spec_path, manager, 0, prune)
    if spec.autoscaled():
        extravars["swarm_services_autoscaler_image"] = (
            spec.autoscaler.image if spec.autoscaler and spec.autoscaler.image
            else autoscale.tag())
    with Progress(console, "planning the services", active=not verbosity) as progress:
        result = run_playbook("services.yml", inv.path, verb="plan-services",
                              extravars=extravars, verbosity=verbosity, on_event=progress,
                              check=True)
    refused = _refusal(result, manager)
    if refused:
        return ServicesPlan(prune=prune, unavailable=f"cannot read the services from {refused}")
    raise_for_failures(result, "planning the services")
    published = _published_changes(result)
    return ServicesPlan(list(published.get("changes") or []),
                        list(published.get("undeclared") or []),
                        list(published.get("stacks") or []), prune,
                        undeclared_objects=dict(published.get("undeclared_objects") or {}))


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
services = api.services()
logs = []
# the autoscaler's latest rounds ("the metric now"), when a service has a policy
if any("io.swarmctl.autoscale" in (s["Spec"].get("Labels") or {}) for s in services):
    import subprocess
    try:
        logs = subprocess.run(["docker", "service", "logs", "--raw", "--tail", "3",
                               "swarmctl-autoscaler"], capture_output=True, text=True,
                              timeout=20).stdout.splitlines()
    except Exception:
        pass
print(json.dumps({"nodes": api.nodes(), "services": services, "tasks": tasks,
                  "autoscaler_log": logs}))
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
    observed = autoscale.latest_rounds(data.get("autoscaler_log") or [])
    services = sorted((ServiceStatus.from_api(s, counts(s, data["tasks"], down), observed)
                       for s in data["services"]), key=lambda s: s.name)
    return ClusterStatus(manager.name, nodes, services)
