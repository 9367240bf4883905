"""Disaster recovery: `recover` (quorum lost) and `restore` (from a backup archive).

Both run one playbook (playbooks/recover.yml, playbooks/restore.yml) whose first plays
decide (the swarm_recover role's filter) and refuse with a reason before anything
changes; the refusal becomes a PreflightError (exit 3). Then a new cluster is forced on
one manager (`swarm init --force-new-cluster`), managers with old state leave it and
site.yml joins every host again, and stale node entries are removed.
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from swarmctl.ansible import events
from swarmctl.ansible.progress import Progress
from swarmctl.ansible.runner import RunResult, raise_for_failures, run_playbook
from swarmctl.errors import InputError, PreflightError, RunError
from swarmctl.models.cluster import Node
from swarmctl.models.inventory import Host, Inventory
from swarmctl.ops.backup import Archive, check_archive, quiet_refusals, refusal


@dataclass
class Recovered:
    plan: dict[str, Any]
    nodes: list[Node]
    removed: list[str]
    result: RunResult
    archive: Archive | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = {"plan": self.plan, "removed_entries": self.removed,
               "nodes": [asdict(n) for n in self.nodes],
               "run_dir": str(self.result.run_dir), "notes": self.notes}
        if self.archive:
            out["archive"] = self.archive.as_dict()
        return out


def _plan(result: RunResult) -> dict[str, Any]:
    found = events.published(result.events, "recover_plan")
    return found[-1]["plan"] if found else {}


def _removed(result: RunResult) -> list[str]:
    found = events.published(result.events, "removed_entries")
    return [f"{e.get('hostname', '')} ({e.get('id', '')})"
            for e in (found[-1].get("entries") or [] if found else [])]


def _only_lost(result: RunResult) -> bool:
    """Whether every failure is a manager that did not answer (ignore_unreachable at
    the first read): those are lost, the recovery itself went through."""
    return all(r.outcome == "unreachable" for r in events.results(result.events)
               if r.outcome in ("failed", "unreachable") and not r.ignored)


def _nodes(result: RunResult) -> list[Node]:
    from swarmctl.ops.provision import nodes_from

    return nodes_from(result)


def _run(playbook: str, inv: Inventory, extravars: dict[str, Any], verbosity: int,
         console: Console, title: str) -> RunResult:
    with Progress(console, title, active=not verbosity) as progress:
        result = run_playbook(playbook, inv.path, verb=Path(playbook).stem,
                              extravars=extravars, verbosity=verbosity,
                              forks=len(inv.hosts), on_event=quiet_refusals(progress))
    refused = refusal(result, "recover_plan")
    if refused:
        raise PreflightError(f"{refused} (nothing was changed)")
    return result


def recover(inv: Inventory, *, from_host: str = "", verbosity: int = 0,
            console: Console) -> Recovered:
    """Recover a swarm that lost quorum; PreflightError (3) when there is nothing to do."""
    if from_host and from_host not in [h.name for h in inv.managers]:
        raise InputError(f"--from {from_host}: not in swarm_managers of {inv.path}")
    result = _run("recover.yml", inv, {"swarm_recover_from": from_host}, verbosity, console,
                  "recovering")
    plan = _plan(result)
    # A lost manager is unreachable at the first read (ignore_unreachable): not a failure.
    if not (plan and plan.get("lost") and _only_lost(result)):
        raise_for_failures(result, "recovery")
    notes = []
    if plan.get("lost"):
        left = len(inv.managers) - len(plan["lost"])
        notes.append(
            f"{', '.join(plan['lost'])} did not answer: the swarm runs on {left} of "
            f"{len(inv.managers)} managers now and tolerates {(left - 1) // 2} failure(s); "
            "bring them back (or replace them at their addresses) and run `swarmctl "
            "recover` again: a manager with old state leaves it and rejoins")
        return Recovered(plan, [], [], result, notes=notes)
    # Every manager answered: join them again as site.yml does, then remove stale entries.
    rejoined = _run("rejoin.yml", inv, {}, verbosity, console, "rejoining")
    raise_for_failures(rejoined, "rejoining after the recovery")
    return Recovered(plan, _nodes(rejoined), _removed(rejoined), rejoined, notes=notes)


def _addr(host: Host) -> str:
    return host.advertise_addr or host.address


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def restore_target(inv: Inventory, meta: dict[str, Any], on: str = "") -> Host:
    """The manager to restore on: --on, else the one at the backup's address.

    InputError naming the address to restore on when none fits: a state restored
    onto another address comes up, but managers that join it later stay pending.
    """
    want = meta["node_addr"]
    why = ("a swarm state restored onto another address comes up, but managers that "
           "join it stay pending")
    if on:
        match = [h for h in inv.managers if h.name == on]
        if not match:
            raise InputError(f"--on {on}: not in swarm_managers of {inv.path}")
        host = match[0]
        if _is_ip(_addr(host)) and _addr(host) != want:
            raise InputError(f"--on {on}: it has address {_addr(host)}, the backup was taken "
                             f"at {want} (node {meta.get('hostname', '')}): restore on the "
                             f"manager with address {want} ({why})")
        return host
    for host in inv.managers:
        if _addr(host) == want:
            return host
    for host in inv.managers:
        if host.name == meta.get("host"):
            return host
    raise InputError(f"no manager of {inv.path} has the address the backup was taken at, "
                     f"{want} (node {meta.get('hostname', '')}): restore on a manager with "
                     f"address {want}, or name one with --on ({why})")


def restore(inv: Inventory, archive_path: Path, *, on: str = "",
            unlock_key_file: Path | None = None, verbosity: int = 0,
            console: Console) -> Recovered:
    archive = check_archive(archive_path)
    host = restore_target(inv, archive.meta, on)
    extravars: dict[str, Any] = {"swarm_recover_archive": str(archive.path.resolve()),
                                 "swarm_recover_restore_host": host.name}
    if archive.meta.get("autolock") and not unlock_key_file:
        raise InputError(f"{archive.path}: the backup is of an autolocked swarm: pass "
                         "--unlock-key-file PATH with its unlock key")
    if unlock_key_file:
        if not Path(unlock_key_file).is_file():
            raise InputError(f"--unlock-key-file {unlock_key_file}: no such file")
        extravars["swarm_recover_unlock_key_file"] = str(Path(unlock_key_file).resolve())
    result = _run("restore.yml", inv, extravars, verbosity, console, "restoring")
    raise_for_failures(result, "restore")
    # A second run: docker_engine's registered results of the first one would leak
    # into site.yml's docker_engine and swarm_facts.
    rejoined = _run("rejoin.yml", inv, {}, verbosity, console, "rejoining")
    raise_for_failures(rejoined, "rejoining after the restore")
    nodes = _nodes(rejoined)
    if not nodes:
        raise RunError(f"restore ran but the swarm was not verified; details in "
                       f"{rejoined.run_dir}")
    plan = _plan(rejoined) or {"leader": host.name}
    return Recovered(plan, nodes, _removed(rejoined), rejoined, archive=archive)
