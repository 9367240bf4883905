"""Verify what playbooks/upgrade.yml did (run by `molecule verify -s upgrade`).

prepare pinned the older containerd (molecule_old_containerd) and recorded the cluster
ID; converge upgraded without the pin. Every node must now run the newest containerd
its package sources offer, in the same swarm, Ready, Active and rid of the upgrade's
maintenance labels.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import testinfra
from testinfra.utils.ansible_runner import AnsibleRunner

INVENTORY = str(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent)
RUNNER = AnsibleRunner(INVENTORY)
MANAGERS = RUNNER.get_hosts("swarm_managers")
WORKERS = RUNNER.get_hosts("swarm_workers")
OLD = RUNNER.get_variables(MANAGERS[0])["molecule_old_containerd"]

testinfra_hosts = MANAGERS + WORKERS


def _node(name: str) -> testinfra.host.Host:
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=INVENTORY)


@pytest.fixture(scope="module")
def manager() -> testinfra.host.Host:
    return _node(MANAGERS[0])


def test_containerd_is_the_newest_offered_and_not_the_old_one(host: testinfra.host.Host) -> None:
    installed = host.check_output("dpkg-query -W -f '${Version}' containerd")
    policy = host.check_output("apt-cache policy containerd")
    candidate = next(line.split(":", 1)[1].strip() for line in policy.splitlines()
                     if line.strip().startswith("Candidate:"))
    assert installed == candidate, f"installed {installed}, the sources offer {candidate}"
    assert installed != OLD


def test_docker_runs_and_the_node_is_in_the_swarm(host: testinfra.host.Host) -> None:
    assert host.service("docker").is_running
    swarm = json.loads(host.check_output("docker info --format '{{json .Swarm}}'"))
    assert swarm["LocalNodeState"] == "active"
    assert swarm["ControlAvailable"] is (host.backend.get_hostname() in MANAGERS)


def test_same_swarm_every_node_ready_active_and_unlabelled(manager: testinfra.host.Host) -> None:
    recorded = manager.check_output("cat /var/tmp/molecule-cluster-id")
    assert manager.check_output("docker info --format '{{.Swarm.Cluster.ID}}'") == recorded
    ids = manager.check_output("docker node ls -q").split()
    nodes = json.loads(manager.check_output(f"docker node inspect {' '.join(ids)}"))
    assert len(nodes) == len(MANAGERS + WORKERS)
    for n in nodes:
        name = n["Description"]["Hostname"]
        assert n["Status"]["State"] == "ready", name
        assert n["Spec"]["Availability"] == "active", name
        assert not [k for k in (n["Spec"].get("Labels") or {})
                    if k.startswith("io.swarmctl.maintenance")], name
        if "ManagerStatus" in n:
            assert n["ManagerStatus"]["Reachability"] == "reachable", name
    assert sum(1 for n in nodes if (n.get("ManagerStatus") or {}).get("Leader")) == 1
