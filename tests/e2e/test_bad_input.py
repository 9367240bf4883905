"""Bad hosts, refused cleanly by the preflight checks of `swarmctl provision`, and by
the manager check that opens `swarmctl deploy`.

Each case breaks one thing on a real lab node (or in the inventory pointing at it), runs
the real CLI and checks: exit 3, exactly one line on stderr naming the host, the check
and the fix, no traceback, and nothing changed on any node (Docker still not installed,
no swarm port left open, the SSH user's home untouched, swarm state unchanged).

Lab names are unique to the test session (conftest.lab_name).
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from tests.conftest import (
    Cli,
    _lab_down,
    _lab_up,
    assert_refused,
    cluster_id,
    lab_name,
    node_exec,
    swarmctl,
)

pytestmark = pytest.mark.e2e

PREFLIGHT_FAILED = 3
WEB_SPEC = Path(__file__).resolve().parents[2] / "examples" / "my-web" / "lab-v1-x3.yml"
SWARM_PORTS = (":2377 ", ":7946 ", ":4789 ")


# --------------------------------------------------------------------------- helpers


def _inventory(lab, tmp_path: Path, name: str = "inventory.yml", edit=None) -> Path:
    """A copy of the lab's inventory, edited by `edit(data)`."""
    data = yaml.safe_load(lab.inventory_path.read_text())
    if edit:
        edit(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _hosts(data: dict, group: str) -> dict:
    return data["all"]["children"][group]["hosts"]


def _free_address(lab, last_octet: int) -> str:
    """An address in the lab's own subnet that no node uses (never any other network)."""
    net = ipaddress.ip_network(lab.subnet)
    address = str(net.network_address + last_octet)
    assert address not in {n.address for n in lab.nodes}
    return address


def _state(node) -> dict[str, str]:
    """What a node looks like from the outside, for the before/after comparison."""
    c = node.container
    docker = node_exec(c, "sh", "-c", "command -v docker dockerd || true").strip()
    swarm = ""
    if docker:
        swarm = node_exec(c, "docker", "info", "--format",
                          "{{.Swarm.LocalNodeState}} {{.Swarm.NodeID}} {{.Swarm.Cluster.ID}}",
                          check=False).strip()
    listening = node_exec(c, "ss", "-Hltnu").splitlines()
    ports = sorted(line.split()[4] for line in listening
                   if any(line.split()[4].endswith(p.strip()) for p in SWARM_PORTS))
    return {
        "docker": docker,
        "swarm": swarm,
        "etc_docker": node_exec(c, "sh", "-c", "ls -A /etc/docker 2>/dev/null || true"),
        "home": node_exec(c, "ls", "-A", "/home/swarm"),
        "ports": " ".join(ports),
    }


def _refused(inventory: Path, *says: str, verb: str = "provision") -> str:
    # A fresh HOME: no SSH master connection of an earlier run (ControlPersist) is reused,
    # so that each case really logs in.
    home = inventory.parent / "home"
    home.mkdir(exist_ok=True)
    cli: Cli = swarmctl(verb, str(inventory), timeout=300, env={"HOME": str(home)})
    line = assert_refused(cli, PREFLIGHT_FAILED, *says, prefix="error: preflight failed: ")
    assert "Preflight checks" in cli.stdout  # the table, on stdout
    return line


def _deploy_refused(inventory: Path, *says: str) -> str:
    """`swarmctl deploy` of a valid spec, refused by its manager check (exit 3)."""
    home = inventory.parent / "home"
    home.mkdir(exist_ok=True)
    cli: Cli = swarmctl("deploy", "-i", str(inventory), str(WEB_SPEC), timeout=300,
                        env={"HOME": str(home)})
    line = assert_refused(cli, PREFLIGHT_FAILED, *says, "nothing was changed",
                          prefix="error: cannot deploy from ")
    return line


@pytest.fixture(scope="module")
def bare():
    """A lab of bare nodes (one manager, one worker): nothing installed yet."""
    name = lab_name("badin")
    _lab_down(name)
    lab = _lab_up(name, 1, 1, "bookworm")
    yield lab
    _lab_down(name)


@pytest.fixture
def untouched(bare) -> Iterator[None]:
    """Asserts after the test that no node of the lab changed."""
    before = {n.name: _state(n) for n in bare.nodes}
    assert all(not s["docker"] and not s["ports"] for s in before.values()), before
    yield
    after = {n.name: _state(n) for n in bare.nodes}
    assert after == before


# --------------------------------------------------------------------------- cases


def test_unreachable_host(bare, tmp_path, untouched):
    ghost = _free_address(bare, 250)

    def edit(data):
        _hosts(data, "swarm_workers")["ghost"] = {"ansible_host": ghost}

    inv = _inventory(bare, tmp_path, edit=edit)
    _refused(inv, "ghost: ssh:", f"cannot connect to {ghost}:22", "check ansible_host")


def _with_key(lab, tmp_path: Path, group: str, host: str, key: Path) -> Path:
    """The lab's inventory with another SSH key for one host."""
    def edit(data):
        _hosts(data, group)[host]["ansible_ssh_private_key_file"] = str(key)

    return _inventory(lab, tmp_path, edit=edit)


@contextmanager
def _foreign_key(tag: str) -> Iterator[Path]:
    """An SSH key that no lab node accepts."""
    from swarmctl.lab.lab import ensure_key

    key = ensure_key(lab_name(tag))
    try:
        yield key
    finally:
        shutil.rmtree(key.parent, ignore_errors=True)


@contextmanager
def _without_sudo(node) -> Iterator[None]:
    """The node's SSH user loses its passwordless sudo for the block."""
    node_exec(node.container, "mv", "/etc/sudoers.d/swarm", "/root/sudoers-swarm.bak")
    try:
        yield
    finally:
        node_exec(node.container, "mv", "/root/sudoers-swarm.bak", "/etc/sudoers.d/swarm")


def test_wrong_ssh_key(bare, tmp_path, untouched):
    worker = bare.workers[0].name
    with _foreign_key("badin-otherkey") as key:
        _refused(_with_key(bare, tmp_path, "swarm_workers", worker, key), f"{worker}: ssh:",
                 "refused", "Permission denied", "ansible_ssh_private_key_file")


def test_user_without_sudo(bare, tmp_path, untouched):
    worker = bare.workers[0]
    with _without_sudo(worker):
        _refused(_inventory(bare, tmp_path), f"{worker.name}: sudo:", "password", "NOPASSWD")


def test_unsupported_os(bare, tmp_path, untouched):
    manager = bare.managers[0]
    c = manager.container
    node_exec(c, "sh", "-c", "cp -P /etc/os-release /root/os-release.bak && "
              "rm /etc/os-release && printf 'ID=ubuntu\\nVERSION_ID=\"22.04\"\\n"
              "PRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\\n' > /etc/os-release")
    try:
        _refused(_inventory(bare, tmp_path), f"{manager.name}: os:", "Ubuntu 22.04.4 LTS",
                 "is not supported", "Debian 12 or 13")
    finally:
        node_exec(c, "sh", "-c", "rm -f /etc/os-release && cp -P /root/os-release.bak "
                  "/etc/os-release && rm /root/os-release.bak")


def test_swarm_port_taken_by_another_program(bare, tmp_path):
    manager = bare.managers[0]
    c = manager.container
    before = {n.name: _state(n) for n in bare.nodes}
    # a preflight listener of an earlier test stops by itself within 60 s: wait for it
    for _ in range(80):
        if ":7946 " not in node_exec(c, "ss", "-Hltn"):
            break
        time.sleep(1)
    # detached, so that the program outlives the `docker exec` that starts it
    subprocess.run(["docker", "exec", "-d", c, "sh", "-c",
                    "echo $$ > /run/busy-7946.pid; exec python3 -c 'import socket, time; "
                    "s = socket.socket(); "
                    # the earlier cases' reachability probes leave TIME_WAIT sockets
                    "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
                    "s.bind((\"0.0.0.0\", 7946)); s.listen(); "
                    "time.sleep(900)' 2>/run/busy-7946.err"], check=True, timeout=60)
    try:
        for _ in range(150):  # until the program listens (python starts slowly under load)
            if ":7946 " in node_exec(c, "ss", "-Hltn"):
                break
            time.sleep(0.2)
        else:
            pytest.fail("the test's own listener on 7946/tcp did not start: "
                        + node_exec(c, "cat", "/run/busy-7946.err", check=False))
        line = _refused(_inventory(bare, tmp_path), verb="check")
        assert f"{manager.name}: ports: 7946/tcp, needed for node gossip, is in use by " \
            "python3" in line
        assert "stop python3" in line
    finally:
        node_exec(c, "sh", "-c", "kill $(cat /run/busy-7946.pid); "
                  "rm -f /run/busy-7946.pid /run/busy-7946.err")
    after = {n.name: _state(n) for n in bare.nodes}
    assert after == before


def test_duplicate_hostnames(bare, tmp_path, untouched):
    manager, worker = bare.managers[0], bare.workers[0]
    node_exec(worker.container, "hostname", manager.name)
    try:
        _refused(_inventory(bare, tmp_path), "hostname:",
                 f"hostname {manager.name!r} is also the hostname of",
                 "hostnamectl set-hostname")
    finally:
        node_exec(worker.container, "hostname", worker.name)


def test_advertise_address_not_on_the_host(bare, tmp_path, untouched):
    manager = bare.managers[0]
    wrong = _free_address(bare, 251)

    def edit(data):
        _hosts(data, "swarm_managers")[manager.name]["swarm_advertise_addr"] = wrong

    inv = _inventory(bare, tmp_path, edit=edit)
    _refused(inv, f"{manager.name}: address:", f"swarm_advertise_addr {wrong} is not an "
             f"address of the host (it has {manager.address})")


def test_check_alone_passes_on_bare_nodes_and_changes_nothing(bare, untouched):
    cli = swarmctl("check", str(bare.inventory_path), timeout=300)
    assert cli.rc == 0, cli.output
    assert "Traceback" not in cli.output
    for node in bare.nodes:
        assert node.name in cli.stdout
    assert "hosts ready" in cli.stdout
    if not Path("/proc/net/ip_vs").exists():  # this machine's kernel has no IPVS
        assert "routing mesh" in cli.stdout and "mode: host" in cli.stdout


# --------------------------------------------------------------------------- deploy


def test_deploy_on_bare_nodes_says_to_provision_first(bare, tmp_path, untouched):
    manager = bare.managers[0]
    _deploy_refused(_inventory(bare, tmp_path), f"{manager.name}: ",
                    "Docker SDK for Python (python3-docker) is missing",
                    "run `swarmctl provision` first")


def test_deploy_with_a_wrong_ssh_key(bare, tmp_path, untouched):
    manager = bare.managers[0].name
    with _foreign_key("badin-deploykey") as key:
        _deploy_refused(_with_key(bare, tmp_path, "swarm_managers", manager, key),
                        f"{manager}: ssh:", "refused", "ansible_ssh_private_key_file")


def test_deploy_without_sudo(bare, tmp_path, untouched):
    manager = bare.managers[0]
    with _without_sudo(manager):
        _deploy_refused(_inventory(bare, tmp_path), f"{manager.name}: sudo:", "password",
                        "NOPASSWD")


# --------------------------------------------------------------------------- foreign swarm


def test_host_in_a_foreign_swarm(tmp_path):
    """A worker that is already the manager of its own swarm is refused, with the way out."""
    name = lab_name("badin-swarm")
    _lab_down(name)
    lab = _lab_up(name, 1, 1, "bookworm")
    try:
        manager, worker = lab.managers[0], lab.workers[0]

        def only_worker(data):  # the worker alone, as the manager of its own swarm
            data["all"]["children"]["swarm_managers"]["hosts"] = {
                worker.name: _hosts(data, "swarm_workers")[worker.name]}
            data["all"]["children"]["swarm_workers"]["hosts"] = {}

        own = swarmctl("provision", str(_inventory(lab, tmp_path, "own.yml", only_worker)))
        assert own.rc == 0, own.output
        foreign = cluster_id(worker.container)
        assert foreign
        before = {n.name: _state(n) for n in lab.nodes}

        line = _refused(_inventory(lab, tmp_path), f"{worker.name}: swarm:",
                        "none of the inventory's managers",
                        f"run `docker swarm leave --force` on {worker.name}")
        assert "remove it from the inventory" in line
        after = {n.name: _state(n) for n in lab.nodes}
        assert after == before
        assert not after[manager.name]["docker"]  # nothing installed on the manager
        assert cluster_id(worker.container) == foreign
    finally:
        _lab_down(name)
