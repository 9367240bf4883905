"""The one reader of ansible-runner events, and the channel the roles publish on.

What the CLI reads from a run reaches it in one of two ways, never by task or play name:

- the result of one of the collection's own modules, known by its FQCN (`MODULES`), for
  per-host results; a module's name is part of its code, like a function's;
- `ansible.builtin.set_stats` data under the key `swarmctl`, a mapping with a `kind`
  (`KINDS`), for what a role publishes with Ansible's own modules (the node list the
  verify role read, "the checks are done"). The data is in the task's result
  event as it happens, and in the run's stats at the end.

A unit test (tests/unit/test_channel.py) checks that every kind and module read here is
published by a role, so renaming a task or a play cannot silently break the CLI.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from swarmctl.console import one_line

CHANNEL = "swarmctl"
COLLECTION = "swarmctl.swarm"

# set_stats kinds the CLI reads, and who publishes them.
KINDS = {
    "checks_done": "playbooks/provision.yml (the gate play, before the gate waits)",
    "services_changes": "roles/swarm_services (main.yml: what a deploy changed, or would)",
    "nodes": "roles/swarm_verify (the node list it waited on)",
    "engine_upgraded": "roles/docker_engine (tasks/upgrade.yml: the packages a host upgraded)",
    "question": "roles/swarm_upgrade (tasks/ask.yml: ask the operator, then wait)",
    "reset_state": "roles/swarm_reset (tasks/read.yml: the swarm state before the reset)",
    "purged": "roles/swarm_reset (tasks/purge.yml: Docker removed from a host)",
    "backup_choice": "roles/swarm_backup (choose.yml: the manager to stop, or why none)",
    "backup": "roles/swarm_backup (fetch.yml: the archive fetched and checked)",
    "recover_plan": "roles/swarm_recover (main.yml: the recovery decided, or refused)",
    "removed_entries": "roles/swarm_recover (cleanup.yml: stale node entries removed)",
    "refused": "roles/swarm_backup (main.yml) and roles/swarm_recover (restore.yml): why",
    "unlock": "roles/swarm_security (tasks/unlock.yml: whether it unlocked this manager)",
}

# The collection's modules whose results the CLI reads.
MODULES = ("swarm_preflight_host", "swarm_preflight_reach", "swarm_services_converge",
           "swarm_maintenance_node", "docker_engine_state")

_OUTCOMES = {"runner_on_ok": "ok", "runner_on_failed": "failed",
             "runner_on_unreachable": "unreachable", "runner_on_skipped": "skipped"}


@dataclass(frozen=True)
class Result:
    """One host's result of one task, from a `runner_on_*` event."""

    host: str
    outcome: str  # ok | failed | unreachable | skipped
    module: str  # the module's short name when it is one of the collection's, else its FQCN
    res: dict[str, Any]
    task: str  # for messages only: never read to decide anything
    ignored: bool  # failed with ignore_errors
    start: float | None
    end: float | None

    @property
    def published(self) -> dict[str, Any] | None:
        """The `swarmctl` set_stats data of this result, if it carries any."""
        stats = self.res.get("ansible_stats")
        data = stats.get("data") if isinstance(stats, dict) else None
        found = data.get(CHANNEL) if isinstance(data, dict) else None
        return found if isinstance(found, dict) else None

    @property
    def message(self) -> str:
        return message(self.res)


def _epoch(value: Any) -> float | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return None


def result(event: dict[str, Any]) -> Result | None:
    """The task result an event carries, or None for other events."""
    outcome = _OUTCOMES.get(str(event.get("event")))
    if outcome is None:
        return None
    data = event.get("event_data") or {}
    action = str(data.get("resolved_action") or data.get("task_action") or "")
    prefix = COLLECTION + "."
    module = action.removeprefix(prefix) if action.startswith(prefix) else action
    res = data.get("res")
    return Result(host=str(data.get("host", "")), outcome=outcome, module=module,
                  res=res if isinstance(res, dict) else {}, task=str(data.get("task", "")),
                  ignored=bool(data.get("ignore_errors")), start=_epoch(data.get("start")),
                  end=_epoch(data.get("end")))


def results(events: Iterable[dict[str, Any]]) -> Iterator[Result]:
    for event in events:
        found = result(event)
        if found is not None:
            yield found


def of_module(events: Iterable[dict[str, Any]], module: str) -> list[Result]:
    """Every result of one of the collection's modules (by short name)."""
    assert module in MODULES, module
    return [r for r in results(events) if r.module == module]


def published(events: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The `swarmctl` set_stats data of that kind, in the order published."""
    assert kind in KINDS, kind
    found = []
    for r in results(events):
        data = r.published
        if r.outcome == "ok" and data and data.get("kind") == kind:
            found.append(data)
    return found


def publishes(event: dict[str, Any], kind: str) -> bool:
    """Whether this one event publishes data of that kind (for handlers that stream)."""
    r = result(event)
    data = r.published if r else None
    return bool(data and data.get("kind") == kind)


def failures(events: Iterable[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(host, task, message) of every failure that was not ignored."""
    return [(r.host, r.task, r.message) for r in results(events)
            if r.outcome in ("failed", "unreachable") and not r.ignored]


def touched_hosts(events: Iterable[dict[str, Any]]) -> bool:
    """Whether any task ran on a host (False: the playbook never started its work)."""
    return any(str(e.get("event", "")).startswith("runner_on_") for e in events)


def changed(events: Iterable[dict[str, Any]]) -> dict[str, int] | None:
    """Per-host `changed` of every host the run processed, from its stats event."""
    for event in events:
        if event.get("event") == "playbook_on_stats":
            data = event.get("event_data") or {}
            counts = data.get("changed") or {}
            return {host: counts.get(host, 0) for host in data.get("processed") or {}}
    return None


def message(res: dict[str, Any], limit: int = 400) -> str:
    """A task result's error as one line."""
    if res.get("censored"):
        return "the output of this task is hidden because it handles secrets (no_log)"
    msg = res.get("msg") or res.get("stderr") or res.get("module_stderr") or res.get("reason") \
        or ""
    if isinstance(msg, list):
        msg = "; ".join(str(m) for m in msg)
    return one_line(msg, limit)
