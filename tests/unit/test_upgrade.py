"""The decisions of upgrade, maintenance and reset, from recorded data (no hosts):
quorum arithmetic, when a drain is complete, the apt version read, --batch, and the
report built from a run's events."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from swarmctl.errors import InputError
from swarmctl.ops import upgrade as ops
from tests.conftest import REPO, load_file

DATA = Path(__file__).parent / "data"


def _load(name: str, path: Path):
    return load_file(name, path)


node_mod = _load("swarm_maintenance_node",
                 REPO / "plugins/modules/swarm_maintenance_node.py")


@pytest.fixture
def swarm():
    """`api.nodes()`, `api.services()` and `api.tasks()` of a 3+1 lab running my-web
    (2 replicas), recorded on its first manager."""
    return json.loads((DATA / "swarm-3+1-my-web.json").read_text())


def by_name(swarm, hostname):
    return next(n for n in swarm["nodes"] if n["Description"]["Hostname"] == hostname)


def hosts_of_web(swarm):
    web = next(s["ID"] for s in swarm["services"] if s["Spec"]["Name"] == "my-web")
    ids = {t["NodeID"] for t in swarm["tasks"]
           if t["ServiceID"] == web and t["Status"]["State"] == "running"}
    return [n for n in swarm["nodes"] if n["ID"] in ids]


# --------------------------------------------------------------------------- quorum


def test_three_reachable_managers_tolerate_one_away(swarm):
    q = node_mod.quorum(swarm["nodes"])
    assert (q["managers"], q["reachable"], q["quorum"], q["fault_tolerance"]) == (3, 3, 2, 1)
    assert q["leader"]
    manager = next(n for n in swarm["nodes"] if n["Spec"]["Role"] == "manager")
    assert node_mod.loss_refusal(swarm["nodes"], manager) is None
    assert node_mod.problems(swarm["nodes"], {n["ID"] for n in swarm["nodes"]}) == []


def test_with_a_manager_unreachable_no_other_manager_can_go(swarm):
    nodes = copy.deepcopy(swarm["nodes"])
    managers = [n for n in nodes if n["Spec"]["Role"] == "manager"]
    down = managers[2]
    down["ManagerStatus"]["Reachability"] = "unreachable"
    down["Status"]["State"] = "down"
    refusal = node_mod.loss_refusal(nodes, managers[1])
    host = managers[1]["Description"]["Hostname"]
    assert refusal.startswith(f"the swarm cannot lose manager {host}: 2 of 3 managers")
    assert "bring the unreachable managers back first" in refusal
    found = node_mod.problems(nodes, {n["ID"] for n in nodes})
    assert found == [f"manager {down['Description']['Hostname']} is unreachable (status down)"]
    # a worker may still be drained: it counts in no quorum
    worker = next(n for n in nodes if n["Spec"]["Role"] == "worker")
    assert node_mod.loss_refusal(nodes, worker) is None


def test_one_or_two_managers_cannot_lose_one(swarm):
    nodes = copy.deepcopy(swarm["nodes"])
    managers = [n for n in nodes if n["Spec"]["Role"] == "manager"]
    two = [n for n in nodes if n is not managers[2]]
    assert "add managers first" in node_mod.loss_refusal(two, managers[0])
    one = [n for n in nodes if n not in managers[1:]]
    assert node_mod.loss_refusal(one, managers[0]) is not None


def test_a_node_is_found_by_id_hostname_or_unique_prefix(swarm):
    node = swarm["nodes"][0]
    assert node_mod.find(swarm["nodes"], node["ID"]) is node
    assert node_mod.find(swarm["nodes"], node["Description"]["Hostname"]) is node
    assert node_mod.find(swarm["nodes"], node["ID"][:6]) is node
    assert node_mod.find(swarm["nodes"], "no-such-node") is None


# --------------------------------------------------------------------------- drains


def test_drain_waits_for_the_tasks_of_the_node_to_run_elsewhere(swarm):
    node = hosts_of_web(swarm)[0]
    wanted = node_mod.moves_wanted(swarm["services"], swarm["tasks"], node["ID"])
    assert list(wanted.values()) == [2]  # my-web ran 2 tasks in all, 1 on this node
    # as recorded, a task still runs on the node: not drained, and why
    assert not node_mod.drained(swarm["tasks"], node["ID"], wanted)
    assert node_mod.stuck(swarm["services"], swarm["tasks"], node["ID"], wanted) == [
        "my-web runs 1 of 2 tasks on other nodes", "tasks still run on the node"]
    # the swarm shut it down and started a replacement on a free node
    tasks = copy.deepcopy(swarm["tasks"])
    mine = next(t for t in tasks if t["NodeID"] == node["ID"]
                and t["Status"]["State"] == "running")
    mine["DesiredState"] = mine["Status"]["State"] = "shutdown"
    busy = {t["NodeID"] for t in tasks if t["Status"]["State"] == "running"}
    free = next(n for n in swarm["nodes"] if n["ID"] not in busy and n["ID"] != node["ID"])
    assert not node_mod.drained(tasks, node["ID"], wanted)
    tasks.append({**copy.deepcopy(mine), "ID": "new", "NodeID": free["ID"],
                  "DesiredState": "running", "Status": {"State": "running"}})
    assert node_mod.drained(tasks, node["ID"], wanted)


def test_a_task_that_cannot_move_is_named_with_the_scheduler_reason(swarm):
    node = hosts_of_web(swarm)[0]
    wanted = node_mod.moves_wanted(swarm["services"], swarm["tasks"], node["ID"])
    tasks = copy.deepcopy(swarm["tasks"])
    mine = next(t for t in tasks if t["NodeID"] == node["ID"]
                and t["Status"]["State"] == "running")
    mine["DesiredState"] = mine["Status"]["State"] = "shutdown"
    tasks.append({**copy.deepcopy(mine), "ID": "pending", "NodeID": "",
                  "DesiredState": "running",
                  "Status": {"State": "pending",
                             "Err": "no suitable node (max replicas per node limit exceed)"}})
    assert node_mod.stuck(swarm["services"], tasks, node["ID"], wanted) == [
        "my-web runs 1 of 2 tasks on other nodes "
        "(no suitable node (max replicas per node limit exceed))"]


def test_a_node_without_tasks_is_drained_at_once(swarm):
    busy = {t["NodeID"] for t in swarm["tasks"] if t["Status"]["State"] == "running"}
    idle = next(n for n in swarm["nodes"] if n["ID"] not in busy)
    wanted = node_mod.moves_wanted(swarm["services"], swarm["tasks"], idle["ID"])
    assert wanted == {}
    assert node_mod.drained(swarm["tasks"], idle["ID"], wanted)


def test_a_node_is_back_when_ready_and_a_manager_when_reachable_with_a_leader(swarm):
    nodes = copy.deepcopy(swarm["nodes"])
    manager = next(n for n in nodes if n["Spec"]["Role"] == "manager"
                   and not n["ManagerStatus"].get("Leader"))
    assert node_mod.back(nodes, manager["ID"])
    manager["ManagerStatus"]["Reachability"] = "unreachable"
    assert not node_mod.back(nodes, manager["ID"])
    worker = next(n for n in nodes if n["Spec"]["Role"] == "worker")
    worker["Status"]["State"] = "down"
    assert not node_mod.back(nodes, worker["ID"])
    assert not node_mod.back(nodes, "no-such-id")


def test_the_summary_carries_the_recorded_availability(swarm):
    node = copy.deepcopy(swarm["nodes"][0])
    node["Spec"]["Labels"] = {node_mod.AVAILABILITY_LABEL: "pause",
                              node_mod.OWNER_LABEL: "upgrade"}
    info = node_mod.summary(node)
    assert (info["before"], info["owner"]) == ("pause", "upgrade")


# --------------------------------------------------------------------------- versions


class _Host:
    """run_command() answering from recorded outputs of dpkg-query, apt-cache policy
    and dpkg --compare-versions on a bookworm node."""

    def __init__(self, dpkg: str, policy: str) -> None:
        self.dpkg, self.policy = dpkg, policy

    def run_command(self, argv, environ_update=None):
        if argv[0] == "dpkg-query":
            return 0, self.dpkg, ""
        if argv[:2] == ["apt-cache", "policy"]:
            return 0, self.policy, ""
        if argv[:2] == ["dpkg", "--compare-versions"]:
            left, op, right = argv[2:5]
            assert op == "lt"
            order = ["1.6.20~ds1-1+deb12u2", "1.6.20~ds1-1+deb12u3"]
            return (0 if order.index(left) < order.index(right) else 1), "", ""
        raise AssertionError(argv)


@pytest.fixture
def engine_host(monkeypatch):
    mod = _load("docker_engine_host_for_test",
                REPO / "plugins/module_utils/docker_engine_host.py")
    monkeypatch.setattr(mod.shutil, "which", lambda name: f"/usr/bin/{name}")
    return mod


POLICY = (DATA / "apt-cache-policy-bookworm.txt").read_text()
DPKG_OLD = ("containerd installed 1.6.20~ds1-1+deb12u2\n"
            "docker.io installed 20.10.24+dfsg1-1+deb12u1+b6\n"
            "runc installed 1.1.5+ds1-1+deb12u1\n")


def test_versions_read_the_newest_offered_when_nothing_is_pinned(engine_host):
    got = engine_host.package_versions(_Host(DPKG_OLD, POLICY), {
        "docker.io": "", "containerd": "", "runc": "", "docker-cli": ""})
    assert got["containerd"] == {"installed": "1.6.20~ds1-1+deb12u2",
                                 "target": "1.6.20~ds1-1+deb12u3", "available": True,
                                 "action": "upgrade"}
    assert got["docker.io"]["action"] == got["runc"]["action"] == "ok"
    assert got["docker-cli"]["action"] == "absent"


def test_a_pin_is_the_target_and_an_older_one_a_downgrade(engine_host):
    dpkg_new = DPKG_OLD.replace("deb12u2", "deb12u3")
    got = engine_host.package_versions(_Host(dpkg_new, POLICY),
                                       {"containerd": "1.6.20~ds1-1+deb12u2"})
    assert got["containerd"]["action"] == "downgrade"
    missing = engine_host.package_versions(_Host(dpkg_new, POLICY), {"containerd": "9.9"})
    assert missing["containerd"]["action"] == "unavailable"
    same = engine_host.package_versions(_Host(dpkg_new, POLICY),
                                        {"containerd": "1.6.20~ds1-1+deb12u3"})
    assert same["containerd"]["action"] == "ok"


# --------------------------------------------------------------------------- the CLI side


@pytest.mark.parametrize("value,expected", [("1", 1), ("3", 3), ("25%", "25%"),
                                            ("100%", "100%")])
def test_batch_is_a_count_or_a_percentage(value, expected):
    assert ops.parse_batch(value) == expected


@pytest.mark.parametrize("value", ["0", "-1", "0%", "101%", "two", "1.5", "%", ""])
def test_a_bad_batch_is_refused(value):
    with pytest.raises(InputError, match="--batch"):
        ops.parse_batch(value)


def test_leader_changes_count_each_change_once():
    steps = [ops.NodeStep("m2", leader_after="m1"), ops.NodeStep("m3", leader_after="m1"),
             ops.NodeStep("m1", leader_after="m2"), ops.NodeStep("w1", leader_after="m2")]
    assert ops.leader_changes(steps, "m1") == 1
    assert ops.leader_changes(steps, "") == 2


def test_the_report_is_read_from_an_upgrade_runs_events():
    events = json.loads((DATA / "upgrade-events.json").read_text())
    steps = ops.steps_from(events)
    upgraded = [s for s in steps.values() if s.upgraded]
    assert upgraded, steps
    for step in upgraded:
        assert step.upgraded == ["containerd=1.6.20~ds1-1+deb12u3"]
        assert step.changes == "containerd 1.6.20~ds1-1+deb12u2 → 1.6.20~ds1-1+deb12u3"
        assert step.seconds is not None and step.seconds > 0
        assert step.availability == "active"


_ASK = "from swarmctl.cli.nodes import _ask\nprint(_ask('Upgrade [b]m2[/b] now?'))\n"


@pytest.mark.parametrize(("typed", "shown", "yes"), [
    ("y\n", "? Upgrade [b]m2[/b] now? [y/N] y", True),
    ("yes\n", "? Upgrade [b]m2[/b] now? [y/N] yes", True),
    ("n\n", "? Upgrade [b]m2[/b] now? [y/N] n", False),
    ("\n", "? Upgrade [b]m2[/b] now? [y/N] ", False),
    ("", "? Upgrade [b]m2[/b] now? [y/N] (end of input: no)", False),
])
def test_the_upgrade_question_shows_its_choices_and_echoes_a_piped_answer(typed, shown, yes):
    proc = subprocess.run([sys.executable, "-c", _ASK], input=typed, capture_output=True,
                          text=True, cwd=REPO, timeout=60, check=True,
                          env={**os.environ, "COLUMNS": "200"})
    assert proc.stderr.rstrip() == shown.rstrip()
    assert proc.stdout.strip() == str(yes)
