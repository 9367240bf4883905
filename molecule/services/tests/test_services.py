"""Verify what playbooks/services.yml deployed (run by `molecule verify -s services`).

The declared services come from the scenario's inventory (swarm_services_services).
Every node fetches the page of every task's node over the node network.
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
NODES = MANAGERS + RUNNER.get_hosts("swarm_workers")
SERVICE = RUNNER.get_variables(MANAGERS[0])["swarm_services_services"][0]
NETWORK = RUNNER.get_variables(MANAGERS[0])["swarm_services_networks"][0]
PORT = SERVICE["publish"][0]["published"]

testinfra_hosts = NODES


def _node(name: str) -> testinfra.host.Host:
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=INVENTORY)


@pytest.fixture(scope="module")
def manager() -> testinfra.host.Host:
    return _node(MANAGERS[0])


@pytest.fixture(scope="module")
def task_addresses(manager: testinfra.host.Host) -> list[str]:
    """The node address of every running task of the service."""
    nodes = manager.check_output(
        f"docker service ps {SERVICE['name']} --filter desired-state=running "
        "--format '{{.Node}} {{.CurrentState}}'").splitlines()
    running = [line.split()[0] for line in nodes if line.split()[1] == "Running"]
    return [manager.check_output(f"docker node inspect {n} --format '{{{{.Status.Addr}}}}'")
            for n in running]


def test_the_overlay_network_exists(manager: testinfra.host.Host) -> None:
    net = json.loads(manager.check_output(f"docker network inspect {NETWORK['name']}"))[0]
    assert net["Driver"] == "overlay"
    assert net["Scope"] == "swarm"
    assert net["Attachable"] is bool(NETWORK.get("attachable", False))


def test_the_service_runs_its_replicas(manager: testinfra.host.Host,
                                       task_addresses: list[str]) -> None:
    spec = json.loads(manager.check_output(
        f"docker service inspect {SERVICE['name']} --format '{{{{json .Spec}}}}'"))
    assert spec["TaskTemplate"]["ContainerSpec"]["Image"].startswith(SERVICE["image"])
    assert spec["Mode"]["Replicated"]["Replicas"] == SERVICE["replicas"]
    ports = spec["EndpointSpec"]["Ports"]
    assert [(p["PublishedPort"], p["PublishMode"]) for p in ports] == [(PORT, "host")]
    assert len(task_addresses) == SERVICE["replicas"]


def test_every_task_answers_over_http_from_this_node(host: testinfra.host.Host,
                                                     task_addresses: list[str]) -> None:
    assert task_addresses, "no running task"
    for address in task_addresses:
        page = host.run(f"curl -fsS --max-time 10 http://{address}:{PORT}/")
        assert page.rc == 0, f"{address}:{PORT} from {host.backend.get_hostname()}: {page.stderr}"
        assert "my-web" in page.stdout
