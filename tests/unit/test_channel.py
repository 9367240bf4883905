"""The channel between the roles and the CLI (swarmctl.ansible.events): what the CLI
reads is published by a role, by module FQCN or `swarmctl` set_stats data, never found by a
task or play name. Renaming a task cannot break the CLI; dropping a publisher fails here."""

from __future__ import annotations

from pathlib import Path

import yaml

from swarmctl.ansible import events

REPO = Path(__file__).resolve().parents[2]


def _tasks(node):
    """Every task mapping in a playbook or task file, blocks and plays included."""
    if isinstance(node, list):
        for item in node:
            yield from _tasks(item)
    elif isinstance(node, dict):
        yield node
        for key in ("tasks", "pre_tasks", "post_tasks", "handlers", "block", "rescue",
                    "always"):
            yield from _tasks(node.get(key))


def _all_tasks():
    for path in [*REPO.glob("roles/*/tasks/*.yml"), *REPO.glob("playbooks/*.yml")]:
        for task in _tasks(yaml.safe_load(path.read_text())):
            yield path.relative_to(REPO).as_posix(), task


def _publishers() -> dict[str, list[tuple[str, dict]]]:
    found: dict[str, list[tuple[str, dict]]] = {}
    for where, task in _all_tasks():
        stats = task.get("ansible.builtin.set_stats")
        data = (stats or {}).get("data", {}).get(events.CHANNEL) if stats else None
        if isinstance(data, dict):
            found.setdefault(data.get("kind"), []).append((where, task))
    return found


def published_event(where: str, kind: str, host: str) -> dict:
    """The runner event of the set_stats task in `where` that publishes `kind`, as
    ansible-runner reports it (for tests of the readers)."""
    for path, task in _publishers().get(kind, []):
        if path == where:
            stats = task["ansible.builtin.set_stats"]
            return {"event": "runner_on_ok", "event_data": {
                "host": host, "task": task.get("name", ""),
                "resolved_action": "ansible.builtin.set_stats",
                "res": {"ansible_stats": {"data": stats["data"], "per_host": False,
                                          "aggregate": True}, "changed": False}}}
    raise AssertionError(f"{where} publishes no {kind!r}")


def test_every_kind_the_cli_reads_is_published_by_a_role_or_playbook():
    publishers = _publishers()
    for kind, who in events.KINDS.items():
        assert kind in publishers, f"nothing publishes {kind!r} ({who})"
        assert any(who.split(" ")[0] in where for where, _ in publishers[kind]), (kind, who)
    assert set(publishers) <= set(events.KINDS), "a published kind the CLI does not know"


def test_every_module_the_cli_reads_is_the_collections_and_called_by_fqcn():
    called = {key.removeprefix(events.COLLECTION + ".") for _, task in _all_tasks()
              for key in task if key.startswith(events.COLLECTION + ".")}
    for module in events.MODULES:
        assert (REPO / "plugins" / "modules" / f"{module}.py").is_file(), module
        assert module in called, f"no task calls {events.COLLECTION}.{module}"


def test_readers_find_published_data_and_module_results_whatever_the_task_is_called():
    stats = published_event("roles/swarm_verify/tasks/main.yml", "nodes", host="m1")
    stats["event_data"]["res"]["ansible_stats"]["data"]["swarmctl"]["nodes"] = [{"ID": "x"}]
    stats["event_data"]["task"] = "renamed"
    module = {"event": "runner_on_failed", "event_data": {
        "host": "m1", "task": "renamed too", "ignore_errors": True,
        "resolved_action": "swarmctl.swarm.swarm_preflight_reach", "res": {"msg": "a\nb"}}}
    evs = [stats, module, {"event": "playbook_on_play_start", "event_data": {"play": "p"}}]
    assert events.published(evs, "nodes") == [{"kind": "nodes", "nodes": [{"ID": "x"}]}]
    assert events.publishes(stats, "nodes") and not events.publishes(module, "nodes")
    [reach] = events.of_module(evs, "swarm_preflight_reach")
    assert reach.outcome == "failed" and reach.ignored and reach.message == "a b"
    assert events.failures(evs) == []  # ignored
    assert events.touched_hosts(evs) and not events.touched_hosts(evs[2:])
