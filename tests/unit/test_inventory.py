"""The inventory model: valid layouts load, bad ones fail with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarmctl.errors import InputError
from swarmctl.models import inventory

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inventory.yml"
    path.write_text(text)
    return path


def load_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(InputError) as info:
        inventory.load(write(tmp_path, text))
    message = info.value.message
    assert "\n" not in message
    return message


def test_sample_inventory_loads():
    inv = inventory.load(REPO / "inventories" / "sample.yml")
    assert [h.name for h in inv.managers] == ["manager1", "manager2", "manager3"]
    assert [h.name for h in inv.workers] == ["worker1", "worker2"]
    assert inv.host("worker2").port == 2222
    assert inv.host("worker1").labels == {"zone": "eu-1a", "disk": "ssd"}
    assert inv.host("manager3").advertise_addr == "10.0.0.13"
    assert inv.host("manager1").user == "admin"  # from all.vars
    assert inv.host("manager1").become is True
    assert inv.fault_tolerance == 1
    assert inv.warnings() == []


def test_groups_at_top_level_and_group_vars(tmp_path):
    inv = inventory.load(write(tmp_path, """
swarm_managers:
  vars: {ansible_user: ops}
  hosts:
    m1: {ansible_host: 192.0.2.1}
swarm_workers:
  hosts:
    w1:
""".lstrip()))
    assert inv.host("m1").user == "ops"
    assert inv.host("w1").address == "w1"  # the inventory name when no ansible_host
    assert inv.host("w1").user is None
    assert not inv.host("w1").is_ip and inv.host("m1").is_ip


def test_host_vars_override_group_vars(tmp_path):
    inv = inventory.load(write(tmp_path, """
all:
  vars: {ansible_port: 2200}
  children:
    swarm_managers:
      vars: {ansible_port: 2201}
      hosts:
        m1: {ansible_host: 192.0.2.1, ansible_port: 2202}
        m2: {ansible_host: 192.0.2.2}
    swarm_workers:
      hosts:
        w1: {ansible_host: 192.0.2.3}
"""))
    assert [inv.host(n).port for n in ("m1", "m2", "w1")] == [2202, 2201, 2200]


def test_nested_children_are_found(tmp_path):
    inv = inventory.load(write(tmp_path, """
all:
  children:
    dc1:
      vars: {ansible_user: dc1user}
      children:
        swarm_managers:
          hosts: {m1: {ansible_host: 192.0.2.1}}
"""))
    assert inv.host("m1").user == "dc1user"
    assert inv.workers == ()


def test_even_manager_count_warns(tmp_path):
    inv = inventory.load(write(tmp_path, """
swarm_managers:
  hosts: {m1: {ansible_host: 192.0.2.1}, m2: {ansible_host: 192.0.2.2}}
"""))
    assert len(inv.warnings()) == 1 and "odd number" in inv.warnings()[0]
    assert inv.fault_tolerance == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "is empty"),
        ("- a\n- b\n", "not a mapping"),
        ("all: [\n", "fix the YAML syntax"),
        ("swarm_workers:\n  hosts: {w1: {ansible_host: 192.0.2.1}}\n", "swarm_managers: has no hosts"),
        ("swarm_managers:\n  hosts: {a: {ansible_host: 192.0.2.1}}\n"
         "swarm_workers:\n  hosts: {a: {ansible_host: 192.0.2.1}}\n", "in both swarm_managers and"),
        ("swarm_managers:\n  hosts:\n    a: {ansible_host: 192.0.2.1}\n    b: {ansible_host: 192.0.2.1}\n",
         "same address 192.0.2.1:22 as a"),
        ("swarm_managers:\n  hosts: {a: {ansible_host: 192.0.2.1, ansible_port: ssh}}\n",
         "host a: ansible_port='ssh' is invalid"),
        ("swarm_managers:\n  hosts: {a: {ansible_host: 192.0.2.1, ansible_port: 70000}}\n",
         "1 to 65535"),
        ("swarm_managers:\n  hosts: {a: {ansible_host: 192.0.2.1, swarm_advertise_addr: 10.0.0.300}}\n",
         "swarm_advertise_addr='10.0.0.300' is invalid"),
        ("swarm_managers:\n  hosts: {a: {swarm_node_availability: sleeping}}\n",
         "active, pause or drain"),
        ("swarm_managers:\n  hosts: {a: {swarm_node_labels: [x]}}\n", "mapping of label: value"),
        ("swarm_managers:\n  hosts: {a: {ansible_become: 'yes'}}\n", "without quotes"),
        ("swarm_managers:\n  hots: {a: {}}\n", "unknown key 'hots'"),
        ("swarm_managers:\n  hosts: [a, b]\n", "expected a mapping, got list"),
    ],
)
def test_bad_inventories_fail_with_one_line(tmp_path, text, expected):
    message = load_error(tmp_path, text)
    assert expected in message, message
    assert str(tmp_path / "inventory.yml") in message


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        inventory.load(tmp_path / "nope.yml")
    with pytest.raises(InputError, match="is a directory with no inventory file"):
        inventory.load(tmp_path)
