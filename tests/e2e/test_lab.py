"""`swarmctl lab` end to end: real container nodes on the local Docker engine."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from swarmctl import lab
from swarmctl.lab import docker
from swarmctl.models import inventory

pytestmark = pytest.mark.e2e

ANSIBLE = Path(sys.executable).with_name("ansible")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[lab.Lab]:
    """A 1 manager + 1 worker lab with a unique name and its own state folder."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SWARMCTL_HOME", str(tmp_path_factory.mktemp("swarmctl-home")))
        name = f"e2e-lab-{uuid.uuid4().hex[:6]}"
        try:
            yield lab.up(name, managers=1, workers=1)
        finally:
            lab.down(name)


def _ssh(sandbox: lab.Lab, node: str, *command: str) -> subprocess.CompletedProcess[str]:
    argv = lab.ssh_argv(node, sandbox.name, list(command))
    argv[1:1] = ["-o", "BatchMode=yes"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def test_nodes_are_running(sandbox: lab.Lab) -> None:
    assert [(n.name, n.role) for n in sandbox.nodes] == [
        (f"{sandbox.name}-m1", "manager"), (f"{sandbox.name}-w1", "worker")]
    assert all(n.state == "running" for n in sandbox.nodes)


@pytest.mark.parametrize("node", ["m1", "w1"])
def test_ssh_as_lab_user_with_sudo_and_systemd(sandbox: lab.Lab, node: str) -> None:
    proc = _ssh(sandbox, node, "id -un; hostname; sudo -n true && echo sudo-ok; "
                "systemctl is-system-running; command -v docker || echo no-docker")
    assert proc.returncode == 0, proc.stderr
    user, hostname, sudo, systemd, docker_bin = proc.stdout.split()
    assert (user, hostname, sudo) == ("swarm", f"{sandbox.name}-{node}", "sudo-ok")
    assert systemd == "running"
    assert docker_bin == "no-docker"


def test_inventory_is_valid_for_provision(sandbox: lab.Lab) -> None:
    inv = inventory.load(sandbox.inventory_path)
    assert [h.name for h in inv.managers] == [f"{sandbox.name}-m1"]
    assert [h.name for h in inv.workers] == [f"{sandbox.name}-w1"]
    assert all(h.become and h.user == lab.LAB_USER for h in inv.hosts)


@pytest.mark.skipif(not ANSIBLE.exists(), reason="ansible is not installed next to python")
def test_ansible_ping_with_become(sandbox: lab.Lab) -> None:
    proc = subprocess.run([str(ANSIBLE), "all", "-i", str(sandbox.inventory_path),
                           "-m", "ansible.builtin.ping", "-b", "-o"],
                          capture_output=True, text=True, timeout=180, check=False,
                          env={**os.environ, "ANSIBLE_HOST_KEY_CHECKING": "False"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("SUCCESS") == 2


def test_up_again_keeps_the_same_containers(sandbox: lab.Lab) -> None:
    again = lab.up(sandbox.name, managers=1, workers=1)
    assert [n.container for n in again.nodes] == [n.container for n in sandbox.nodes]
    assert [n.address for n in again.nodes] == [n.address for n in sandbox.nodes]


def test_down_leaves_nothing_labelled() -> None:
    with pytest.MonkeyPatch.context() as mp:
        home = Path(os.environ.get("TMPDIR", "/tmp")) / f"swarmctl-e2e-{uuid.uuid4().hex[:6]}"
        mp.setenv("SWARMCTL_HOME", str(home))
        name = f"e2e-lab-{uuid.uuid4().hex[:6]}"
        try:
            created = lab.up(name, managers=1, workers=0)
            assert created.key_path.is_file()
        finally:
            removed = lab.down(name)
        assert (removed.containers, removed.volumes, removed.networks) == (1, 1, 1)
        for kind in ("container", "volume", "network"):
            assert docker.ids_by_label(kind, name) == []
        assert not created.key_path.parent.exists()
        assert lab.down(name).containers == 0  # idempotent
