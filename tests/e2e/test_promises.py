"""README promises that had no test of their own, on the session's lab swarm: each
changes nothing that the next test depends on."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import (
    REPO,
    SWARMCTL,
    assert_no_changes,
    assert_refused,
    node_exec,
    run_dir_from,
    swarmctl,
)

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent


def _with_vars(inventory: Path, tmp_path: Path, **variables) -> Path:
    """A copy of the lab's inventory with more variables for every host."""
    data = yaml.safe_load(inventory.read_text())
    data["all"].setdefault("vars", {}).update(variables)
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_skip_checks_converges_without_probing_any_host(cluster):
    """Also: the user's environment (credentials, say) is not copied into the run folder
    (ansible-runner records the run's environment in artifacts/*/command)."""
    canary = "canary-7f3c9e1d2b"
    result = swarmctl("provision", "--skip-checks", "--full", str(cluster.inventory),
                      env={"AWS_SECRET_ACCESS_KEY": canary})
    assert result.rc == 0, result.output
    assert "Preflight checks" not in result.output
    assert_no_changes(result.output, *(n.name for n in cluster.lab.nodes))
    run_dir = run_dir_from(result.output)
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert canary not in path.read_text(errors="replace"), path


def test_empty_daemon_options_leave_daemon_json_alone(cluster, tmp_path):
    """`docker_engine_daemon_options: {}` means "not mine": a file written by someone
    else is neither rewritten nor a reason to restart Docker."""
    node = cluster.lab.workers[0].name
    before = node_exec(node, "cat", "/etc/docker/daemon.json")
    theirs = json.dumps({"log-driver": "json-file", "log-opts": {"max-size": "5m"}})
    node_exec(node, "sh", "-c", f"printf '%s' '{theirs}' > /etc/docker/daemon.json")
    started = node_exec(node, "systemctl", "show", "docker", "-p", "ActiveEnterTimestamp")
    try:
        inv = _with_vars(cluster.inventory, tmp_path, docker_engine_daemon_options={})
        result = swarmctl("provision", "--skip-checks", str(inv))
        assert result.rc == 0, result.output
        assert_no_changes(result.output, node)
        assert node_exec(node, "cat", "/etc/docker/daemon.json") == theirs
        assert node_exec(node, "systemctl", "show", "docker", "-p",
                         "ActiveEnterTimestamp") == started
    finally:  # back to the roles' own file: the next provision must not restart Docker
        node_exec(node, "sh", "-c", f"printf '%s' '{before}' > /etc/docker/daemon.json")


def test_check_diff_predicts_a_change_and_makes_none(cluster, tmp_path):
    """`ansible-playbook site.yml --check --diff` with a new label reports the change on
    every host and applies it on none."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(cluster.inventory), "--check", "--diff",
         "-e", json.dumps({"swarm_node_labels": {"predicted": "yes"}}),
         str(REPO / "playbooks" / "site.yml")],
        capture_output=True, text=True, timeout=900, cwd=REPO, env=env, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    for node in cluster.lab.nodes:
        recap = next(line for line in proc.stdout.splitlines()
                     if line.startswith(node.name + " ") and "ok=" in line)
        assert "changed=0" not in recap, recap
        labels = node_exec(cluster.leader, "docker", "node", "inspect", node.name,
                           "--format", "{{json .Spec.Labels}}")
        assert "predicted" not in (json.loads(labels) or {}), node.name


def _lock(container: str, holder: dict) -> None:
    data = json.dumps(holder)
    node_exec(container, "sh", "-c", f"printf '%s' '{data}' | docker config create "
              "swarmctl-lock -")


def _locked(container: str) -> bool:
    return "swarmctl-lock" in node_exec(container, "docker", "config", "ls", "--format",
                                        "{{.Name}}")


def test_a_second_run_at_once_is_refused_naming_the_first(cluster):
    """Two operators at once: the second provision refuses (exit 5, one line naming the
    holder) while the first holds the swarm's lock; the first converges and releases it."""
    first = subprocess.Popen([*SWARMCTL, "provision", "--skip-checks", "--full",
                              str(cluster.inventory)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "COLUMNS": "200"})
    try:
        deadline = time.monotonic() + 120
        while not _locked(cluster.leader):
            assert first.poll() is None, "the first run ended before it took the lock"
            assert time.monotonic() < deadline, "the first run never took the lock"
            time.sleep(0.5)
        second = swarmctl("deploy", "-i", str(cluster.inventory),
                          str(REPO / "examples" / "my-web" / "my-web.yml"))
        assert_refused(second, 5, "another swarmctl run holds this swarm's lock",
                       "`swarmctl provision`")
    finally:
        out, errs = first.communicate(timeout=900)
    assert first.returncode == 0, out + errs
    assert not _locked(cluster.leader)


def test_a_foreign_lock_is_waited_for_then_refused_and_changes_nothing(cluster):
    _lock(cluster.leader, {"by": "alice@elsewhere", "pid": 77, "command": "deploy",
                           "since": time.time()})
    try:
        result = swarmctl("provision", str(cluster.inventory), "--lock-wait", "2")
        assert_refused(result, 5, "alice@elsewhere", "swarmctl deploy", "--lock-wait",
                       "docker config rm swarmctl-lock")
        assert "Run folder" not in result.output  # no run started
    finally:
        node_exec(cluster.leader, "docker", "config", "rm", "swarmctl-lock", check=False)


def test_a_lock_left_by_a_killed_run_here_is_broken_safely(cluster):
    dead = subprocess.Popen(["true"])
    dead.wait()
    user = os.environ.get("USER") or os.environ.get("LOGNAME") or str(os.getuid())
    _lock(cluster.leader, {"by": f"{user}@{socket.gethostname()}", "pid": dead.pid,
                           "command": "provision", "since": time.time(), "token": "old"})
    result = swarmctl("provision", "--skip-checks", str(cluster.inventory))
    assert result.rc == 0, result.output
    assert "breaking a stale swarmctl lock" in result.stderr
    assert not _locked(cluster.leader)
