"""Verify the swarm that playbooks/site.yml built (run by `molecule verify`).

Expectations come from the scenario's inventory (groups, swarm_node_labels,
swarm_node_availability), so the tests follow molecule.yml instead of repeating it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import testinfra
from testinfra.utils.ansible_runner import AnsibleRunner

# The inventory folder Molecule writes (hosts and their host_vars).
INVENTORY = str(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent)
RUNNER = AnsibleRunner(INVENTORY)
MANAGERS = RUNNER.get_hosts("swarm_managers")
WORKERS = RUNNER.get_hosts("swarm_workers")

testinfra_hosts = MANAGERS + WORKERS

# Where a role could leave a file behind: configuration, home folders, temporary files, logs.
SEARCHED = ("/etc", "/root", "/home", "/tmp", "/var/log")
# A swarm join token as Docker prints it. The pattern does not match its own text, so the
# search command cannot find itself in a log.
TOKEN_PATTERN = "SWMTKN-1-[0-9a-z]{40,}"


def _node(name: str) -> testinfra.host.Host:
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=INVENTORY)


@pytest.fixture(scope="module")
def leader() -> testinfra.host.Host:
    return _node(MANAGERS[0])


@pytest.fixture(scope="module")
def join_tokens(leader: testinfra.host.Host) -> list[str]:
    tokens = [leader.check_output(f"docker swarm join-token -q {role}")
              for role in ("worker", "manager")]
    assert all(t.startswith("SWMTKN-1-") for t in tokens), "unexpected join-token format"
    return tokens


def _hostname(host: testinfra.host.Host) -> str:
    return host.check_output("hostname")


def _swarm_info(host: testinfra.host.Host) -> dict:
    return json.loads(host.check_output("docker info --format '{{json .Swarm}}'"))


def test_docker_is_enabled_and_running(host: testinfra.host.Host) -> None:
    docker = host.service("docker")
    assert docker.is_enabled
    assert docker.is_running


def test_swarm_is_active_with_the_inventory_role(host: testinfra.host.Host) -> None:
    name = host.backend.get_hostname()
    swarm = _swarm_info(host)
    assert swarm["LocalNodeState"] == "active"
    assert swarm["ControlAvailable"] is (name in MANAGERS), (
        f"{name}: manager={swarm['ControlAvailable']}, inventory group says "
        f"{'manager' if name in MANAGERS else 'worker'}")


def test_managers_listen_on_2377(host: testinfra.host.Host) -> None:
    if host.backend.get_hostname() not in MANAGERS:
        pytest.skip("workers do not listen on the cluster management port")
    assert host.socket("tcp://2377").is_listening


def test_every_inventory_host_is_a_ready_node(leader: testinfra.host.Host) -> None:
    lines = leader.check_output(
        "docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'").splitlines()
    nodes = {line.split()[0]: line.split()[1:] for line in lines}
    for name in MANAGERS + WORKERS:
        hostname = _hostname(_node(name))
        assert hostname in nodes, f"{name} ({hostname}) is not a node of the swarm"
        status = nodes[hostname]
        assert status[0] == "Ready", f"{name}: {status}"
        if name in MANAGERS:
            assert status[1:] and status[1] in ("Leader", "Reachable"), f"{name}: {status}"
    assert len(nodes) == len(MANAGERS + WORKERS)


def test_labels_and_availability_match_the_inventory(host: testinfra.host.Host,
                                                     leader: testinfra.host.Host) -> None:
    name = host.backend.get_hostname()
    wanted = RUNNER.get_variables(name)
    spec = json.loads(leader.check_output(
        f"docker node inspect {_hostname(host)} --format '{{{{json .Spec}}}}'"))
    labels = spec.get("Labels") or {}
    for key, value in (wanted.get("swarm_node_labels") or {}).items():
        assert labels.get(key) == str(value), f"{name}: label {key}={labels.get(key)!r}"
    expected = wanted.get("swarm_node_availability") or "active"
    assert spec["Availability"] == expected


def test_no_join_token_in_any_file(host: testinfra.host.Host, join_tokens: list[str]) -> None:
    # The tokens go on the command line of `docker exec`, never into a file on the node.
    patterns = " ".join(f"-e {p}" for p in (f"'{TOKEN_PATTERN}'", *join_tokens))
    found = host.run(f"grep -rlsE -D skip {patterns} {' '.join(SEARCHED)}")
    assert found.rc == 1, f"join token found in: {found.stdout.split()}" if found.rc == 0 \
        else f"search failed (rc {found.rc})"
