"""`swarmctl plan` and membership by inventory on one lab of 3 managers + 2 workers.

The tests run in file order on one module-scoped lab, each starting from the state the
one before left: bare hosts, provisioned, a worker promoted and demoted again, an unsafe
removal refused, a re-joined worker's stale entry, a worker dropped while it runs tasks,
a Down host dropped, a manager replaced. Every plan is checked against what the run then
changed: the nodes end as the plan said, a new plan is empty, and no host the plan did
not name reported a change (the first manager does the node-list changes for others).
"""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import pytest
import yaml

from tests.conftest import (
    REPO,
    _lab_down,
    _lab_up,
    assert_refused,
    changed_counts,
    lab_name,
    node_exec,
    node_ls,
    run_dir_from,
    swarmctl,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def lab():
    name = lab_name("plan")
    _lab_down(name)
    the_lab = _lab_up(name, 3, 2, "bookworm")
    yield the_lab
    _lab_down(name)


def short(name: str) -> str:
    return name.rsplit("-", 1)[-1]


def inventory(lab, tmp_path: Path, managers: str, workers: str) -> Path:
    """The lab's inventory with the hosts (short names, comma-separated) in these groups."""
    data = yaml.safe_load(lab.inventory_path.read_text())
    groups = data["all"]["children"]
    hosts = {short(n): v for g in groups.values() for n, v in (g["hosts"] or {}).items()}
    full = {short(n.name): n.name for n in lab.nodes}
    groups["swarm_managers"]["hosts"] = {full[s]: hosts[s] for s in managers.split(",") if s}
    groups["swarm_workers"]["hosts"] = {full[s]: hosts[s] for s in workers.split(",") if s}
    path = tmp_path / f"inventory-{managers.replace(',', '')}-{workers.replace(',', '')}.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def plan(inv: Path, *flags: str) -> tuple[int, dict]:
    cli = swarmctl("plan", str(inv), "--json", *flags, timeout=300)
    assert cli.rc in (0, 4), cli.output
    return cli.rc, json.loads(cli.stdout)


def actions(the_plan: dict) -> list[tuple[str, str]]:
    return [(a["kind"], short(a["target"])) for a in the_plan["actions"]]


def nodes(lab) -> dict[str, dict]:
    return {short(n["Hostname"]): n for n in node_ls(lab.managers[0].container)}


def swarm_state(container: str) -> str:
    return node_exec(container, "docker", "info", "--format",
                     "{{.Swarm.LocalNodeState}}").strip()


def container(lab, s: str) -> str:
    return lab.node(s).container


def provision(inv: Path, *flags: str) -> dict[str, int]:
    """Run provision; the per-host changes of its run(s)."""
    cli = swarmctl("provision", str(inv), *flags, timeout=1500)
    assert cli.rc == 0, cli.output
    changed = changed_counts(run_dir_from(cli.stdout))
    marker = "removal run folder: "
    text = " ".join(cli.stdout.split())
    if marker in text:
        removal = Path(text.split(marker, 1)[1].split()[0])
        for host, n in changed_counts(removal).items():
            changed[host] = changed.get(host, 0) + n
    return changed


def assert_honest(changed: dict[str, int], the_plan: dict, inv: Path, *flags: str,
                  first_manager: str) -> None:
    """No host the plan did not name changed (but the manager acting for them), and the
    plan is done: planning again finds nothing."""
    named = {short(a["target"]) for a in the_plan["actions"]} | {first_manager}
    unexpected = {short(h) for h, n in changed.items() if n} - named
    assert not unexpected, f"changed without a planned action: {unexpected}; {changed}"
    rc, again = plan(inv, *flags)
    assert rc == 0 and again["actions"] == [], again


def test_plan_on_bare_hosts_lists_installs_init_and_joins_and_changes_nothing(lab, tmp_path):
    inv = inventory(lab, tmp_path, "m1,m2,m3", "w1,w2")
    rc, the_plan = plan(inv)
    assert rc == 4
    assert actions(the_plan) == [("install", h) for h in ("m1", "m2", "m3", "w1", "w2")] + [
        ("init", "m1"), ("join", "m2"), ("join", "m3"), ("join", "w1"), ("join", "w2")]
    assert the_plan["quorum"]["line"] == "no swarm → 3 managers, tolerates 1"
    text = swarmctl("plan", str(inv))
    assert text.rc == 4 and "10 changes planned" in text.stdout
    for node in lab.nodes:
        found = node_exec(node.container, "sh", "-c", "command -v docker || true").strip()
        assert found == "", f"{node.name} has Docker after a plan"


def test_provision_does_what_the_plan_said_then_the_plan_is_empty(lab, tmp_path):
    inv = inventory(lab, tmp_path, "m1,m2,m3", "w1,w2")
    _, the_plan = plan(inv)
    changed = provision(inv)
    assert all(changed[n.name] > 0 for n in lab.nodes), changed
    assert_honest(changed, the_plan, inv, first_manager="m1")
    listed = nodes(lab)
    assert sorted(listed) == ["m1", "m2", "m3", "w1", "w2"]
    text = swarmctl("plan", str(inv))
    assert text.rc == 0 and "nothing to do" in text.stdout, text.output


def test_worker_moved_to_the_managers_is_promoted_and_back_demoted(lab, tmp_path):
    up = inventory(lab, tmp_path, "m1,m2,m3,w1", "w2")
    rc, the_plan = plan(up)
    assert rc == 4 and actions(the_plan) == [("promote", "w1")]
    assert the_plan["quorum"]["line"] == "3 managers, tolerates 1 → 4 managers, tolerates 1"
    changed = provision(up)
    assert nodes(lab)["w1"]["ManagerStatus"] == "Reachable"
    assert_honest(changed, the_plan, up, first_manager="m1")

    down = inventory(lab, tmp_path, "m1,m2,m3", "w1,w2")
    rc, the_plan = plan(down)
    assert rc == 4 and actions(the_plan) == [("demote", "w1")]
    changed = provision(down)
    assert nodes(lab)["w1"]["ManagerStatus"] == ""
    assert_honest(changed, the_plan, down, first_manager="m1")


def test_removing_two_of_three_managers_at_once_is_refused(lab, tmp_path):
    before = nodes(lab)
    inv = inventory(lab, tmp_path, "m1", "w1,w2")
    for verb in (("plan",), ("provision",)):
        cli = swarmctl(*verb, str(inv), "--prune", timeout=300)
        assert_refused(cli, 2, "removing", "m2 and", "m3 at once leaves 1 of 3 managers",
                       "remove one at a time, or add managers first")
    assert nodes(lab) == before


def _wait(what: str, check, tries: int = 90) -> None:
    for _ in range(tries):
        if check():
            return
        subprocess.run(["sleep", "2"], check=True)
    raise AssertionError(f"timed out waiting until {what}")


def test_stale_entry_of_a_rejoined_worker_is_removed(lab, tmp_path):
    node_exec(container(lab, "w2"), "docker", "swarm", "leave")
    _wait("w2's old entry is Down", lambda: nodes(lab)["w2"]["Status"] == "Down")
    inv = inventory(lab, tmp_path, "m1,m2,m3", "w1,w2")
    rc, the_plan = plan(inv)
    assert rc == 4 and sorted(actions(the_plan)) == [("join", "w2"), ("remove-entry", "w2")]
    changed = provision(inv)
    entries = [n for n in node_ls(lab.managers[0].container) if n["Hostname"].endswith("-w2")]
    assert [e["Status"] for e in entries] == ["Ready"]
    assert_honest(changed, the_plan, inv, first_manager="m1")


@pytest.fixture(scope="module")
def spread(lab):
    """A service of 5 replicas on the 5 nodes (swarm spreads them one per node), at most 2
    per node: 4 nodes can take them all."""
    subprocess.run([str(REPO / "examples/my-web/build-image.sh")], check=True,
                   capture_output=True, timeout=600)
    loaded = swarmctl("images", "load", "-i", str(lab.inventory_path), "my-web:v1")
    assert loaded.rc == 0, loaded.output
    node_exec(lab.managers[0].container, "docker", "service", "create", "--detach",
              "--name", "spread", "--replicas", "5", "--replicas-max-per-node", "2",
              "--endpoint-mode", "dnsrr", "my-web:v1")
    _wait("5 tasks of spread run", lambda: len(running(lab)) == 5)
    assert sorted(running(lab)) == ["m1", "m2", "m3", "w1", "w2"]
    return "spread"


def running(lab) -> list[str]:
    out = node_exec(lab.managers[0].container, "docker", "service", "ps", "spread",
                    "--filter", "desired-state=running", "--format",
                    "{{.Node}} {{.CurrentState}}")
    return [short(line.split()[0]) for line in out.splitlines()
            if line.split()[1:2] == ["Running"]]


def test_worker_dropped_with_prune_moves_its_tasks_and_leaves(lab, tmp_path, spread):
    assert "w1" in running(lab)
    inv = inventory(lab, tmp_path, "m1,m2,m3", "w2")
    rc, kept = plan(inv)
    assert rc == 0 and [short(k["target"]) for k in kept["kept"]] == ["w1"]
    rc, the_plan = plan(inv, "--prune")
    assert rc == 4 and actions(the_plan) == [("remove", "w1")]
    assert the_plan["actions"][0]["detail"].startswith("drain → wait")
    changed = provision(inv, "--prune")
    assert "w1" not in nodes(lab)
    assert swarm_state(container(lab, "w1")) == "inactive"
    where = running(lab)
    assert len(where) == 5 and "w1" not in where, where
    assert_honest(changed, the_plan, inv, "--prune", first_manager="m1")


def test_down_host_dropped_is_removed_from_the_node_list_only(lab, tmp_path, spread):
    subprocess.run(["docker", "stop", container(lab, "w2")], check=True, capture_output=True,
                   timeout=120)
    _wait("w2 is Down", lambda: nodes(lab)["w2"]["Status"] == "Down")
    inv = inventory(lab, tmp_path, "m1,m2,m3", "")
    rc, the_plan = plan(inv, "--prune")
    assert rc == 4 and actions(the_plan) == [("remove", "w2")]
    assert "node list only" in the_plan["actions"][0]["detail"]
    changed = provision(inv, "--prune")
    assert "w2" not in nodes(lab)
    assert_honest(changed, the_plan, inv, "--prune", first_manager="m1")


def test_manager_replaced_in_one_run_keeps_quorum(lab, tmp_path):
    """w1 (out of the swarm since the test above) replaces m3: it joins as a manager
    first, then m3 is demoted, leaves and is removed; the swarm has a leader all along."""
    inv = inventory(lab, tmp_path, "m1,m2,w1", "")
    rc, the_plan = plan(inv, "--prune")
    assert rc == 4 and actions(the_plan) == [("join", "w1"), ("remove", "m3")]
    assert the_plan["quorum"]["line"] == "3 managers, tolerates 1 (unchanged)"
    lost: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(2):
            proc = subprocess.run(["docker", "exec", container(lab, "m1"), "docker", "node",
                                   "ls", "-q"], capture_output=True, text=True, timeout=60,
                                  check=False)
            if proc.returncode != 0:
                lost.append(proc.stderr.strip())

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        changed = provision(inv, "--prune")
    finally:
        stop.set()
        watcher.join()
    assert not lost, lost
    listed = nodes(lab)
    assert sorted(listed) == ["m1", "m2", "w1"]
    assert all(n["ManagerStatus"] in ("Leader", "Reachable") for n in listed.values()), listed
    assert swarm_state(container(lab, "m3")) == "inactive"
    assert_honest(changed, the_plan, inv, "--prune", first_manager="m1")
