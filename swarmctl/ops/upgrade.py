"""Rolling engine upgrades and node maintenance: run upgrade.yml / maintenance.yml with
live progress, answer the roles' questions (--confirm, --pause-after) on this terminal,
and read what happened to each node from the run's events.

The decisions (which node, in which order, whether the swarm can afford it) are made in
the roles (swarm_upgrade, swarm_maintenance); this module turns their results into a
report and their refusals into one line with an exit code: a refusal before anything
changed is a PreflightError (3), a node that did not come back a RunError (1).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from swarmctl.ansible.progress import Progress
from swarmctl.ansible.runner import RunResult, raise_for_failures, run_playbook
from swarmctl.errors import InputError, PreflightError, RunError
from swarmctl.models.inventory import Inventory

DRAIN_TASK = "Ensure the node is drained and its tasks run on other nodes."
RESTORE_TASK = "Ensure the node is back and has its availability from before the drain."
INSTALL_TASK = "Ensure Docker's packages are at their target versions (the engine restarts)."
VERSIONS_TASK = "Record the packages to bring to their target versions."
CHECK_TASK = "Read the swarm's nodes, managers and quorum."
STOP_TASK = "Stop the upgrade at this node, saying how to resume."
ASK_TASK = "Wait for the operator's answer to swarmctl."
# Tasks whose failure means "refused before anything changed".
REFUSALS = (
    "Stop unless the swarm can afford to lose each node for a while (else nothing changed).",
    "Ensure Docker is installed and every target version is offered and no downgrade.",
    "Stop unless the host is a member of an active swarm.",
    "Ensure the inventory is valid (groups, node availability and labels, advertise addresses).",
)

_BATCH = re.compile(r"^(?:[1-9][0-9]*|(?:[1-9][0-9]?|100)%)$")


def parse_batch(value: str) -> int | str:
    """--batch: a count of workers (≥ 1) or a percentage (1% to 100%)."""
    value = value.strip()
    if not _BATCH.match(value):
        raise InputError(f"--batch {value!r}: give a number of workers (1, 2, ...) or a "
                         "percentage of them (25%)")
    return value if value.endswith("%") else int(value)


# --------------------------------------------------------------------------- the report


@dataclass
class NodeStep:
    """What the run did to one host."""

    host: str
    role: str = ""
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)
    upgraded: list[str] = field(default_factory=list)
    drained: bool = False
    moved: list[dict[str, Any]] = field(default_factory=list)
    availability: str = ""
    leader_after: str = ""
    seconds: float | None = None
    engine: str = ""

    @property
    def changes(self) -> str:
        """`containerd 1.6.20~ds1-1+deb12u2 → 1.6.20~ds1-1+deb12u3`, one per package."""
        out = []
        for spec in self.upgraded:
            name, _, target = spec.partition("=")
            before = (self.versions.get(name) or {}).get("installed") or "?"
            out.append(f"{name} {before} → {target}")
        return ", ".join(out)


def _stamp(event: dict[str, Any]) -> float | None:
    try:
        return datetime.fromisoformat(event["created"]).timestamp()
    except (KeyError, ValueError):
        return None


def steps_from(events: list[dict[str, Any]]) -> dict[str, NodeStep]:
    """Per host, from upgrade.yml's or maintenance.yml's events: the versions read, the
    packages installed, the drain and restore results, and the time from the start of
    the drain to the end of the restore."""
    steps: dict[str, NodeStep] = {}
    started: dict[str, float] = {}
    installed: set[str] = set()
    for ev in events:
        data = ev.get("event_data", {})
        host, task, kind = data.get("host"), data.get("task"), ev.get("event")
        if not host:
            continue
        res = data.get("res") or {}
        step = steps.setdefault(host, NodeStep(host))
        if kind == "runner_on_start" and task == DRAIN_TASK:
            started[host] = _stamp(ev) or 0.0
        if kind != "runner_on_ok":
            continue
        if task == VERSIONS_TASK:
            facts = res.get("ansible_facts", {})
            step.versions = facts.get("docker_engine_versions", {})
            swarm = facts.get("docker_engine_swarm") or {}
            step.role = "manager" if swarm.get("ControlAvailable") else "worker"
        elif task == DRAIN_TASK:
            step.drained = True
            step.moved = res.get("moved", [])
            step.seconds = res.get("waited")
            node = (res.get("nodes") or [{}])[0]
            step.role = step.role or node.get("role", "")
            step.availability = node.get("availability", "")
        elif task == INSTALL_TASK and res.get("changed"):
            installed.add(host)
            lines = res.get("stdout_lines") or []
            step.engine = lines[-1] if lines else ""
        elif task == RESTORE_TASK:
            node = (res.get("nodes") or [{}])[0]
            step.role = step.role or node.get("role", "")
            step.availability = node.get("availability", "")
            step.leader_after = (res.get("cluster") or {}).get("leader", "")
            end = _stamp(ev)
            if host in started and end is not None:
                step.seconds = round(end - started[host], 1)
    for host in installed:
        step = steps[host]
        step.upgraded = [f"{n}={v['target']}" for n, v in step.versions.items()
                             if v.get("action") in ("upgrade", "downgrade")]
    return {h: s for h, s in steps.items() if s.role or s.versions or s.drained}


def leader_changes(steps: list[NodeStep], leader_before: str) -> int:
    """How often the leader changed over the steps, in the order they ran."""
    changes, leader = 0, leader_before
    for step in steps:
        if step.leader_after and step.leader_after != leader:
            changes += 1
            leader = step.leader_after
    return changes


def _leader_before(events: list[dict[str, Any]]) -> str:
    for ev in events:
        data = ev.get("event_data", {})
        if ev.get("event") == "runner_on_ok" and data.get("task") == CHECK_TASK:
            return ((data.get("res") or {}).get("cluster") or {}).get("leader", "")
    return ""


def _order(events: list[dict[str, Any]]) -> list[str]:
    """Hosts in the order their drain (or restore) finished."""
    out = []
    for ev in events:
        data = ev.get("event_data", {})
        if ev.get("event") == "runner_on_ok" and data.get("task") in (DRAIN_TASK, RESTORE_TASK) \
                and data.get("host") not in out:
            out.append(data["host"])
    return out


@dataclass
class Outcome:
    """What an upgrade or maintenance run did."""

    result: RunResult
    steps: list[NodeStep]
    leader_before: str
    leader_changes: int

    @property
    def changed(self) -> int:
        return self.result.total_changed

    def as_dict(self) -> dict[str, Any]:
        return {"changed": self.changed, "elapsed": round(self.result.elapsed, 1),
                "run_dir": str(self.result.run_dir), "leader_before": self.leader_before,
                "leader_changes": self.leader_changes,
                "nodes": [{**asdict(s), "changes": s.changes} for s in self.steps]}


def _outcome(result: RunResult, inv: Inventory) -> Outcome:
    steps = steps_from(result.events)
    order = _order(result.events)
    ran = [steps[h] for h in order if h in steps]
    rest = [steps[h.name] for h in inv.hosts if h.name in steps and h.name not in order]
    before = _leader_before(result.events)
    return Outcome(result, ran + rest, before, leader_changes(ran, before))


def _failure(result: RunResult, tasks: tuple[str, ...] | str) -> tuple[str, str] | None:
    """(host, message) of the first failure of one of these tasks, if any."""
    tasks = (tasks,) if isinstance(tasks, str) else tasks
    for host, task, msg in result.failures:
        if task in tasks:
            return host, msg
    return None


def _raise_for(result: RunResult, inv: Inventory, verb: str) -> None:
    if result.ok:
        return
    refused = _failure(result, REFUSALS)
    if refused:
        _host, msg = refused
        if "nothing was changed" not in msg:
            msg += "; nothing was changed"
        raise PreflightError(f"{verb} refused: {msg}")
    stopped = _failure(result, STOP_TASK)
    if stopped:
        raise RunError(f"{stopped[1]} (`swarmctl {verb} {inv.path}`); details in "
                       f"{result.run_dir}")
    declined = _failure(result, ASK_TASK)
    if declined:
        raise RunError(declined[1])
    raise_for_failures(result, verb)


# --------------------------------------------------------------------------- questions

Ask = Callable[[str], bool]


class _Asker:
    """Answers the roles' questions: when the wait task starts on a host (the first of
    its batch), ask on this terminal and write the answer where the play waits for it.
    Per batch the play asks before (--confirm), then after (--pause-after)."""

    def __init__(self, answers: Path, ask: Ask, progress: Progress, kinds: list[str],
                 then: Callable[[dict[str, Any]], None]) -> None:
        self.answers, self.ask, self.progress, self.kinds = answers, ask, progress, kinds
        self.then = then
        self.asked: dict[str, int] = {}

    def __call__(self, event: dict[str, Any]) -> None:
        data = event.get("event_data", {})
        if event.get("event") == "runner_on_start" and data.get("task") == ASK_TASK:
            host = data.get("host", "")
            n = self.asked.get(host, 0)
            self.asked[host] = n + 1
            kind = self.kinds[min(n, len(self.kinds) - 1)]
            question = (f"Upgrade the batch of {host} now?" if kind == "before"
                        else f"The batch of {host} is upgraded. Go on?")
            with self.progress.paused():
                yes = self.ask(question)
            (self.answers / f"{host}.{kind}").write_text("yes" if yes else "no")
        self.then(event)


QUIET_PLAYS = ("Validate the inventory before any host changes",
               "Plan the upgrade and refuse it when the swarm cannot afford it",
               "Read the swarm membership of the managers and the hosts in maintenance")


def _shown(progress: Progress) -> Callable[[dict[str, Any]], None]:
    """Progress without the reading plays' titles and without failure lines (the error
    line names the host and what happened), with a line per node done."""

    def handler(event: dict[str, Any]) -> None:
        kind, data = event.get("event"), event.get("event_data", {})
        if kind in ("runner_on_failed", "runner_on_unreachable") or (
                kind == "playbook_on_play_start" and data.get("play") in QUIET_PLAYS):
            return
        progress(event)
        if kind == "runner_on_ok" and data.get("task") in (DRAIN_TASK, RESTORE_TASK) \
                and progress.active:
            res = data.get("res") or {}
            node = (res.get("nodes") or [{}])[0]
            what = "drained" if data["task"] == DRAIN_TASK else "back"
            with progress.paused():
                progress.console.print(
                    f"  [green]✓[/] {data.get('host')} {what}, "
                    f"{node.get('availability', '?')} ({res.get('waited', 0):.0f}s)")

    return handler


def _run(playbook: str, inv: Inventory, verb: str, extravars: dict[str, Any], *,
         verbosity: int, console: Console, ask: Ask | None = None,
         kinds: list[str] | None = None) -> RunResult:
    with tempfile.TemporaryDirectory(prefix="swarmctl-") as tmp, \
            Progress(console, verb, active=not verbosity) as progress:
        handler: Callable[[dict[str, Any]], None] = _shown(progress)
        if ask is not None:
            extravars = {**extravars, "swarm_upgrade_answers_dir": tmp}
            handler = _Asker(Path(tmp), ask, progress, kinds or ["before"], handler)
        return run_playbook(playbook, inv.path, verb=verb, extravars=extravars,
                            verbosity=verbosity, forks=len(inv.hosts), on_event=handler)


# --------------------------------------------------------------------------- verbs


def upgrade(inv: Inventory, *, batch: int | str = 1, confirm: bool = False,
            pause_after: bool = False, ask: Ask | None = None, verbosity: int = 0,
            console: Console) -> Outcome:
    """Upgrade Docker's packages on every host, one node at a time (see upgrade.yml)."""
    extravars = {"swarm_upgrade_batch": batch, "swarm_upgrade_confirm": confirm,
                 "swarm_upgrade_pause_after": pause_after}
    kinds = (["before"] if confirm else []) + (["after"] if pause_after else [])
    if kinds and ask is None:
        raise InputError("--confirm and --pause-after need someone to answer")
    result = _run("upgrade.yml", inv, "upgrade", extravars, verbosity=verbosity,
                  console=console, ask=ask if kinds else None, kinds=kinds)
    _raise_for(result, inv, "upgrade")
    return _outcome(result, inv)


def maintenance(inv: Inventory, hosts: list[str], *, done: bool = False,
                verbosity: int = 0, console: Console) -> Outcome:
    """Drain the hosts one at a time and wait until their tasks run elsewhere, or (done)
    bring them back (see maintenance.yml)."""
    names = {h.name for h in inv.hosts}
    unknown = [h for h in hosts if h not in names]
    if unknown:
        raise InputError(f"{inv.path}: no host {', '.join(map(repr, unknown))} in "
                         f"swarm_managers or swarm_workers; its hosts: "
                         f"{', '.join(sorted(names))}")
    extravars = {"swarm_maintenance_hosts": ",".join(dict.fromkeys(hosts)),
                 "swarm_maintenance_state": "active" if done else "drained"}
    result = _run("maintenance.yml", inv, "maintenance", extravars, verbosity=verbosity,
                  console=console)
    if not result.ok:
        for ev in result.events:
            data = ev.get("event_data", {})
            res = data.get("res") or {}
            if ev.get("event") == "runner_on_failed" and res.get("refused"):
                raise PreflightError(f"maintenance refused for {data.get('host')}: "
                                     f"{res.get('msg')}; nothing was changed")
    raise_for_failures(result, "maintenance")
    outcome = _outcome(result, inv)
    outcome.steps = [s for s in outcome.steps if s.host in hosts]
    return outcome
