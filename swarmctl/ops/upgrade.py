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
from pathlib import Path
from typing import Any

from rich.console import Console

from swarmctl.ansible import events as events_
from swarmctl.ansible.progress import Progress
from swarmctl.ansible.runner import RunResult, raise_for_failures, run_playbook
from swarmctl.console import lit
from swarmctl.errors import InputError, PreflightError, RunError
from swarmctl.models.inventory import Inventory

MAINTENANCE = "swarm_maintenance_node"  # its results: state check, drained or active
VERSIONS = "docker_engine_state"  # its results with `versions`: the version read

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


def steps_from(events: list[dict[str, Any]]) -> dict[str, NodeStep]:
    """Per host, from upgrade.yml's or maintenance.yml's events (by module and published
    data, never by task name): the versions read, the packages installed, the drain and
    restore results, and the time from the start of the drain to the end of the restore."""
    steps: dict[str, NodeStep] = {}
    started: dict[str, float] = {}
    for r in events_.of_module(events, VERSIONS):
        if r.outcome == "ok" and "versions" in r.res:
            step = steps.setdefault(r.host, NodeStep(r.host))
            step.versions = {n: v for n, v in r.res["versions"].items()
                             if v.get("action") != "absent"}
            swarm = r.res.get("swarm") or {}
            step.role = "manager" if swarm.get("ControlAvailable") else "worker"
    for r in events_.of_module(events, MAINTENANCE):
        state = r.res.get("state")
        if r.outcome != "ok" or state not in ("drained", "active"):
            continue
        step = steps.setdefault(r.host, NodeStep(r.host))
        node = (r.res.get("nodes") or [{}])[0]
        step.role = step.role or node.get("role", "")
        step.availability = node.get("availability", "")
        if state == "drained":
            step.drained = True
            step.moved = r.res.get("moved", [])
            step.seconds = r.res.get("waited")
            if r.start is not None:
                started[r.host] = r.start
        else:
            step.leader_after = (r.res.get("cluster") or {}).get("leader", "")
            if r.host in started and r.end is not None:
                step.seconds = round(r.end - started[r.host], 1)
    for data in events_.published(events, "engine_upgraded"):
        step = steps.setdefault(str(data.get("host")), NodeStep(str(data.get("host"))))
        step.upgraded = list(data.get("packages") or [])
        step.engine = str(data.get("engine") or "")
    return steps


def leader_changes(steps: list[NodeStep], leader_before: str) -> int:
    """How often the leader changed over the steps, in the order they ran."""
    changes, leader = 0, leader_before
    for step in steps:
        if step.leader_after and step.leader_after != leader:
            changes += 1
            leader = step.leader_after
    return changes


def _leader_before(events: list[dict[str, Any]]) -> str:
    for r in events_.of_module(events, MAINTENANCE):
        if r.res.get("state") == "check":
            return (r.res.get("cluster") or {}).get("leader", "")
    return ""


def _order(events: list[dict[str, Any]]) -> list[str]:
    """Hosts in the order their drain (or restore) finished."""
    out: list[str] = []
    for r in events_.of_module(events, MAINTENANCE):
        if r.outcome == "ok" and r.res.get("state") in ("drained", "active") \
                and r.host not in out:
            out.append(r.host)
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


def _refusal(result: RunResult) -> str | None:
    """Why the run stopped before anything changed, or None: a module that refused
    (swarm_maintenance_node), or a failure in a run that changed nothing and drained no
    node (the plan's checks: a host not in the swarm, a version not offered, ...)."""
    for r in events_.of_module(result.events, MAINTENANCE):
        if r.outcome == "failed" and r.res.get("refused"):
            return r.message
    drained = any(r.outcome == "ok" and r.res.get("state") == "drained"
                  for r in events_.of_module(result.events, MAINTENANCE))
    if not drained and result.total_changed == 0 and result.failures:
        return result.failures[0][2]
    return None


def _raise_for(result: RunResult, inv: Inventory, verb: str) -> None:
    if result.ok:
        return
    refused = _refusal(result)
    if refused:
        if "nothing was changed" not in refused:
            refused += "; nothing was changed"
        raise PreflightError(f"{verb} refused: {refused}")
    if result.failures:  # the last one: the role's own account (where it stopped, how
        # to resume), after the failure that made it stop
        msg = result.failures[-1][2]
        raise RunError(f"{msg} (`swarmctl {verb} {inv.path}`); details in {result.run_dir}")
    raise_for_failures(result, verb)


# --------------------------------------------------------------------------- questions

Ask = Callable[[str], bool]


class _Asker:
    """Answers the roles' questions: when a role publishes one (swarm_upgrade's ask.yml,
    once per batch), ask on this terminal and write the answer where the play waits."""

    def __init__(self, answers: Path, ask: Ask, progress: Progress,
                 then: Callable[[dict[str, Any]], None]) -> None:
        self.answers, self.ask, self.progress, self.then = answers, ask, progress, then

    def __call__(self, event: dict[str, Any]) -> None:
        self.then(event)
        if not events_.publishes(event, "question"):
            return
        data = events_.result(event).published or {}
        batch = ", ".join(data.get("batch") or [data.get("host", "")])
        kind = "before" if data.get("when") == "before" else "after"
        question = (f"Upgrade {batch} now?" if kind == "before"
                    else f"{batch} upgraded. Go on with the next?")
        with self.progress.paused():
            yes = self.ask(question)
        (self.answers / f"{data.get('host')}.{kind}").write_text("yes" if yes else "no")


def _shown(progress: Progress) -> Callable[[dict[str, Any]], None]:
    """Progress without play titles and failure lines (the error line names the host
    and what happened), with a line per node drained and back."""

    def handler(event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind in ("runner_on_failed", "runner_on_unreachable", "playbook_on_play_start"):
            return
        progress(event)
        r = events_.result(event)
        if r is not None and r.outcome == "ok" and r.module == MAINTENANCE \
                and r.res.get("state") in ("drained", "active") and progress.active:
            res = r.res
            node = (res.get("nodes") or [{}])[0]
            what = "drained" if res["state"] == "drained" else "back"
            with progress.paused():
                progress.console.print(
                    f"  [green]✓[/] {lit(r.host)} {lit(what)}, "
                    f"{lit(str(node.get('availability', '?')))} ({res.get('waited', 0):.0f}s)")

    return handler


def _run(playbook: str, inv: Inventory, verb: str, extravars: dict[str, Any], *,
         verbosity: int, console: Console, ask: Ask | None = None) -> RunResult:
    with tempfile.TemporaryDirectory(prefix="swarmctl-") as tmp, \
            Progress(console, verb, active=not verbosity) as progress:
        handler: Callable[[dict[str, Any]], None] = _shown(progress)
        if ask is not None:
            extravars = {**extravars, "swarm_upgrade_answers_dir": tmp}
            handler = _Asker(Path(tmp), ask, progress, handler)
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
                  console=console, ask=ask if kinds else None)
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
        for r in events_.of_module(result.events, MAINTENANCE):
            if r.outcome == "failed" and r.res.get("refused"):
                raise PreflightError(f"maintenance refused for {r.host}: {r.message}")
    raise_for_failures(result, "maintenance")
    outcome = _outcome(result, inv)
    outcome.steps = [s for s in outcome.steps if s.host in hosts]
    return outcome
