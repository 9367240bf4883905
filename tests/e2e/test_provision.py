"""`swarmctl provision` from bare Debian nodes to a healthy swarm, and again (idempotent)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import (
    REPO,
    _lab_down,
    assert_no_changes,
    changed_counts,
    cluster_id,
    lab_name,
    node_exec,
    node_ls,
    provisioned_lab,
    run_dir_from,
    run_events,
    swarmctl,
)

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent


def _assert_healthy(prov) -> None:
    nodes = {n["Hostname"]: n for n in node_ls(prov.leader)}
    assert set(nodes) == {n.name for n in prov.lab.nodes}
    assert all(n["Status"] == "Ready" for n in nodes.values())
    managers = {n.name for n in prov.lab.managers}
    statuses = [nodes[m]["ManagerStatus"] for m in managers]
    assert statuses.count("Leader") == 1
    assert sorted(statuses) == sorted(["Leader"] + ["Reachable"] * (len(managers) - 1))
    for w in prov.lab.workers:
        assert nodes[w.name]["ManagerStatus"] == ""


def _tokens(container: str) -> list[str]:
    return [node_exec(container, "docker", "swarm", "join-token", "-q", role).strip()
            for role in ("worker", "manager")]


def _assert_no_tokens(prov, texts: list[str]) -> None:
    tokens = _tokens(prov.leader)
    assert all(t.startswith("SWMTKN-") for t in tokens)
    for text in texts:
        for token in tokens:
            assert token not in text
            # the secret part of a token, alone
            assert token.split("-")[-1] not in text


def _artifact_texts(run_dir) -> list[str]:
    return [p.read_text(errors="replace") for p in run_dir.rglob("*") if p.is_file()]


def _task_outcomes(run_dir, task: str) -> dict[str, str]:
    """host -> runner_on_ok / runner_on_skipped / ... of one task in a run."""
    found = {}
    for ev in run_events(run_dir):
        data = ev.get("event_data", {})
        if data.get("task") == task and ev.get("event", "").startswith("runner_on_") \
                and ev["event"] != "runner_on_start":
            found[data["host"]] = ev["event"]
    return found


def test_provision_builds_a_healthy_swarm(cluster):
    _assert_healthy(cluster)
    out = cluster.first.output
    # the summary table names every node, and the elapsed time
    for node in cluster.lab.nodes:
        assert node.name in out
    assert re.search(r"converged in \d+\.\d+s", out)
    # engine installed from Debian's docker.io, running under systemd
    for node in cluster.lab.nodes:
        assert node_exec(node.container, "systemctl", "is-active", "docker").strip() == "active"
        assert node_exec(node.container, "systemctl", "is-enabled", "docker").strip() == "enabled"


def test_second_run_changes_nothing_and_keeps_the_cluster(cluster):
    """Every task runs again (--full) and none changes anything: the roles' idempotency,
    which the converged re-run (test below) relies on."""
    before = cluster_id(cluster.leader)
    again = swarmctl("provision", "--full", str(cluster.inventory))
    assert again.rc == 0, again.output
    changed = changed_counts(run_dir_from(again.output))
    assert changed and set(changed.values()) == {0}, changed
    assert "(0 changes)" in " ".join(again.output.split())
    assert cluster_id(cluster.leader) == before
    _assert_healthy(cluster)
    # provision reads each host's Docker state once: in the preflight's host read,
    # which docker_engine then uses instead of its own (plain site.yml, as Molecule
    # runs it, makes that read).
    read = _task_outcomes(run_dir_from(again.output), "Read the host's facts, Docker "
                          "packages, service, daemon.json and package lists.")
    assert read == {n.name: "runner_on_skipped" for n in cluster.lab.nodes}, read


def test_a_converged_rerun_reads_every_host_once_and_runs_no_task(cluster):
    """A re-run of a converged cluster is one read: no playbook, the same node table,
    a run folder that says what was compared. A changed inventory variable runs every
    task (nothing to change) and leaves a new stamp; a plain ansible-playbook run
    removes the stamps; `plan` agrees with each."""
    names = {n.name for n in cluster.lab.nodes}
    settled = swarmctl("provision", "--full", str(cluster.inventory))
    assert settled.rc == 0, settled.output
    fast = swarmctl("provision", str(cluster.inventory))
    assert fast.rc == 0, fast.output
    text = " ".join(fast.output.split())
    assert "no task ran" in text and "running every task" not in text, fast.output
    for name in names:
        assert name in fast.output  # the node table
    run_dir = run_dir_from(fast.output)
    assert not (run_dir / "artifacts").exists()  # no playbook ran
    assert assert_no_changes(fast.output, *names).keys() == names
    recorded = json.loads((run_dir / "converged.json").read_text())
    assert {h: len(v["digest"]) for h, v in recorded["hosts"].items()} == \
        {n: 64 for n in names}
    stamp = json.loads(node_exec(cluster.leader, "cat", "/var/lib/swarmctl/converged.json"))
    assert stamp["digest"] == recorded["hosts"][cluster.lab.managers[0].name]["digest"]
    assert node_exec(cluster.leader, "stat", "-c", "%a %U",
                     "/var/lib/swarmctl/converged.json").strip() == "600 root"
    planned = swarmctl("plan", str(cluster.inventory))
    assert planned.rc == 0 and "provision: runs no task" in planned.output, planned.output

    # an inventory variable that changes nothing on the hosts: every task runs, none
    # changes, and the stamps now hold that inventory's digest
    marked = swarmctl("provision", str(cluster.inventory), "-e", "swarmctl_test_marker=1")
    assert marked.rc == 0, marked.output
    assert "running every task" in marked.output and "inventory variables" in marked.output
    assert_no_changes(marked.output, *names)
    again = swarmctl("provision", str(cluster.inventory), "-e", "swarmctl_test_marker=1")
    assert "no task ran" in " ".join(again.output.split()), again.output

    # plain Ansible passes no digest: its run leaves no stamp behind
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")}
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(cluster.inventory),
                           str(REPO / "playbooks" / "site.yml")], capture_output=True,
                          text=True, timeout=900, cwd=REPO, env=env, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert not any(_stamped(node.container) for node in cluster.lab.nodes)
    planned = swarmctl("plan", str(cluster.inventory))
    assert planned.rc == 0, planned.output
    assert "provision: runs every task" in planned.output
    assert "holds no stamp" in " ".join(planned.output.split())
    full = swarmctl("provision", str(cluster.inventory))
    assert full.rc == 0, full.output
    assert "holds no stamp of a converged run" in " ".join(full.output.split())
    assert_no_changes(full.output, *names)


def _stamped(container: str) -> bool:
    return node_exec(container, "sh", "-c", "test -e /var/lib/swarmctl/converged.json "
                     "&& echo yes || echo no").strip() == "yes"


def test_join_tokens_appear_in_no_output_or_artifact(cluster):
    first_dir = run_dir_from(cluster.first.output)
    verbose = swarmctl("provision", "--full", "-vvv", str(cluster.inventory))
    assert verbose.rc == 0, verbose.output
    texts = [cluster.first.output, verbose.output,
             *_artifact_texts(first_dir), *_artifact_texts(run_dir_from(verbose.output))]
    _assert_no_tokens(cluster, texts)


def test_drift_is_repaired_only_where_it_is(cluster):
    """A stopped engine and a hand-edited daemon.json are put back, on those hosts only.

    A converged host costs one probe in docker_engine: this proves that the probe sees
    what differs, and that the steps it skips still run where they are needed.
    """
    # a manager's daemon.json: its restart must wait until it is back in the Raft group
    stopped, edited = cluster.lab.workers[0], cluster.lab.managers[1]
    wanted = node_exec(edited.container, "cat", "/etc/docker/daemon.json")
    node_exec(stopped.container, "systemctl", "stop", "docker.socket", "docker")
    node_exec(edited.container, "sh", "-c", 'echo "{}" > /etc/docker/daemon.json')
    started_before = node_exec(edited.container, "systemctl", "show", "docker",
                               "--property=ActiveEnterTimestampMonotonic").strip()

    planned = swarmctl("plan", "--json", str(cluster.inventory))
    assert planned.rc == 4, planned.output
    # the plan names both hosts and only them: daemon.json on one; on the other, whose
    # engine stops, `start` and/or `join` (what the read sees of an engine going down)
    found = {(a["kind"], a["target"]) for a in json.loads(planned.stdout)["actions"]}
    assert ("configure", edited.name) in found, found
    assert {target for _, target in found} == {edited.name, stopped.name}, found
    again = swarmctl("provision", str(cluster.inventory))
    assert again.rc == 0, again.output
    changed = changed_counts(run_dir_from(again.output))
    assert changed[stopped.name] > 0 and changed[edited.name] > 0, changed
    assert all(n == 0 for host, n in changed.items()
               if host not in (stopped.name, edited.name)), changed
    assert node_exec(stopped.container, "systemctl", "is-active", "docker").strip() == "active"
    assert node_exec(edited.container, "cat", "/etc/docker/daemon.json") == wanted
    # the engine of the edited host was restarted to read its daemon.json again
    assert node_exec(edited.container, "systemctl", "show", "docker",
                     "--property=ActiveEnterTimestampMonotonic").strip() != started_before
    _assert_healthy(cluster)

    settled = swarmctl("provision", str(cluster.inventory))
    assert settled.rc == 0, settled.output
    assert set(changed_counts(run_dir_from(settled.output)).values()) == {0}


def test_a_half_joined_worker_is_repaired_on_the_next_run(cluster):
    """An interrupted join leaves the node `pending`; the next run repairs it."""
    worker = cluster.lab.workers[-1]
    token = _tokens(cluster.leader)[0]
    node_exec(worker.container, "docker", "swarm", "leave")
    # a join towards an address nobody answers on (a free one in the lab's own subnet)
    # times out and keeps trying in the background: the node is half-joined
    unused = cluster.lab.subnet.rsplit(".", 1)[0] + ".250"
    node_exec(worker.container, "docker", "swarm", "join", "--token", token,
              f"{unused}:2377", check=False)
    state = node_exec(worker.container, "docker", "info", "--format",
                      "{{.Swarm.LocalNodeState}}").strip()
    assert state == "pending"

    again = swarmctl("provision", str(cluster.inventory))
    assert again.rc == 0, again.output
    changed = changed_counts(run_dir_from(again.output))
    assert changed[worker.name] > 0
    assert all(n == 0 for host, n in changed.items()
               if host not in (worker.name, cluster.lab.managers[0].name)), changed
    # healthy again, and the old entry of the worker is gone (not left Down)
    _assert_healthy(cluster)
    assert [n["Hostname"] for n in node_ls(cluster.leader)].count(worker.name) == 1


def test_trixie_nodes_build_a_swarm_and_a_new_host_joins_alone():
    """On trixie: 3 managers + 1 worker, then a second worker added to the inventory
    joins alone (nothing else changes), and a third run changes nothing at all."""
    from swarmctl.lab import lab

    name = lab_name("tx")
    prov = provisioned_lab(name, 3, 1, "trixie")
    try:
        first_id = cluster_id(prov.leader)
        prov.lab = lab.up(name, 3, 2, "trixie")  # the inventory now lists w2 too
        added = prov.lab.workers[-1].name
        second = swarmctl("provision", str(prov.inventory))
        assert second.rc == 0, second.output
        changed = changed_counts(run_dir_from(second.output))
        assert changed[added] > 0
        others = {h: n for h, n in changed.items() if h != added}
        assert set(others) >= {n.name for n in prov.lab.nodes} - {added}, changed
        assert set(others.values()) == {0}, changed
        _assert_healthy(prov)
        assert cluster_id(prov.leader) == first_id

        third = swarmctl("provision", str(prov.inventory))
        assert third.rc == 0, third.output
        assert set(changed_counts(run_dir_from(third.output)).values()) == {0}
    finally:
        _lab_down(name)
