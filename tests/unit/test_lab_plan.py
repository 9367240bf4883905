"""Pure lab logic: names, addresses, subnet choice, inventory rendering (no Docker)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from swarmctl.errors import InputError
from swarmctl.lab import plan
from swarmctl.models import inventory

NET = ipaddress.IPv4Network


def test_node_specs_names_and_order() -> None:
    specs = plan.node_specs("lab", 3, 2)
    assert [s.name for s in specs] == ["lab-m1", "lab-m2", "lab-m3", "lab-w1", "lab-w2"]
    assert specs[0].volume == "lab-m1-docker"


def test_addresses_are_stable_and_distinct() -> None:
    subnet = NET("10.213.4.0/24")
    specs = plan.node_specs("lab", plan.MAX_MANAGERS, plan.MAX_WORKERS)
    addresses = [s.address(subnet) for s in specs]
    assert len(set(addresses)) == len(addresses)
    assert all(ipaddress.ip_address(a) in subnet for a in addresses)
    assert str(subnet.network_address + 1) not in addresses  # the gateway
    assert str(subnet.broadcast_address) not in addresses
    assert plan.NodeSpec("lab", "worker", 1).address(subnet) == "10.213.4.101"


@pytest.mark.parametrize("name", ["swarmctl", "dev-1", "a", "x" * 40])
def test_valid_names(name: str) -> None:
    assert plan.check_name(name) == name


@pytest.mark.parametrize("name", ["", "-a", "a-", "A", "a_b", "a.b", "x" * 41])
def test_invalid_names(name: str) -> None:
    with pytest.raises(InputError, match="lab name"):
        plan.check_name(name)


@pytest.mark.parametrize(("managers", "workers"), [(0, 1), (-1, 0), (1, -1), (90, 0),
                                                   (1, 151)])
def test_counts_out_of_range(managers: int, workers: int) -> None:
    with pytest.raises(InputError, match="out of range"):
        plan.check_counts(managers, workers)


def test_pick_subnet_first_free() -> None:
    assert plan.pick_subnet([]) == NET("10.213.0.0/24")
    assert plan.pick_subnet(["10.213.0.0/24", "10.213.1.0/25"]) == NET("10.213.2.0/24")


def test_pick_subnet_skips_wide_routes_and_ignores_junk() -> None:
    used = ["10.0.0.0/8", "fe80::/64", "not-a-net", "0.0.0.0/0", "172.17.0.0/16"]
    assert plan.pick_subnet(used) == NET("172.28.0.0/24")


def test_pick_subnet_host_route() -> None:
    assert plan.pick_subnet(["10.213.0.5"]) == NET("10.213.1.0/24")


def test_pick_subnet_none_left() -> None:
    with pytest.raises(InputError, match="no free"):
        plan.pick_subnet(["0.0.0.0/1", "128.0.0.0/1"])


def test_inventory_renders_and_loads(tmp_path: Path) -> None:
    key = tmp_path / "id_ed25519"
    hosts = [("lab-m1", "manager", "10.213.0.11"), ("lab-w1", "worker", "10.213.0.101")]
    path = tmp_path / "inventory.yml"
    path.write_text(plan.render_inventory("lab", key, hosts))
    inv = inventory.load(path)
    assert [h.name for h in inv.managers] == ["lab-m1"]
    assert [h.name for h in inv.workers] == ["lab-w1"]
    m1 = inv.host("lab-m1")
    assert (m1.address, m1.user, m1.become) == ("10.213.0.11", "swarm", True)
    assert m1.vars["ansible_ssh_private_key_file"] == str(key)
    assert "StrictHostKeyChecking=no" in m1.vars["ansible_ssh_common_args"]
    assert m1.vars["ansible_python_interpreter"] == "/usr/bin/python3"


def test_inventory_without_workers_loads(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yml"
    path.write_text(plan.render_inventory("lab", tmp_path / "k",
                                          [("lab-m1", "manager", "10.213.0.11")]))
    assert inventory.load(path).workers == ()
