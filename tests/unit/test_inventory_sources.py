"""Inventory sources as Ansible reads them: INI, YAML, a directory with group_vars/ and
host_vars/, the `constructed` plugin, several -i, -e, vault. Each resolves to the same
typed model; the fast path (a lone plain YAML file, read without Ansible) gives the
same answer as Ansible's InventoryManager on every layout here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from swarmctl.ansible import vault
from swarmctl.errors import InputError
from swarmctl.models import inventory

PASSWORD = "correct horse"

# One cluster, written five ways: m1, m2 managers; w1 a worker with labels.
YAML = """\
all:
  vars: {ansible_user: admin, ansible_become: true}
  children:
    swarm_managers:
      hosts:
        m1: {ansible_host: 192.0.2.11}
        m2: {ansible_host: 192.0.2.12, ansible_port: 2222}
    swarm_workers:
      vars: {swarm_node_availability: active}
      hosts:
        w1:
          ansible_host: 192.0.2.21
          swarm_node_labels: {zone: eu-1a, disk: ssd}
"""

INI = """\
# the same, as INI
[swarm_managers]
m1 ansible_host=192.0.2.11
m2 ansible_host=192.0.2.12 ansible_port=2222

[swarm_workers]
w1 ansible_host=192.0.2.21 swarm_node_labels="{'zone': 'eu-1a', 'disk': 'ssd'}"

[swarm_workers:vars]
swarm_node_availability=active

[all:vars]
ansible_user=admin
ansible_become=true
"""


def _summary(inv: inventory.Inventory) -> list[dict]:
    return [h.model_dump(exclude={"vars"}) for h in inv.hosts]


@pytest.fixture(autouse=True)
def _no_vault():
    vault.configure(vault.VaultOptions())
    yield
    vault.configure(vault.VaultOptions())


@pytest.fixture
def expected(tmp_path):
    path = tmp_path / "ref" / "inventory.yml"
    path.parent.mkdir()
    path.write_text(YAML)
    return _summary(inventory.load(path))


def test_ini_file_resolves_to_the_yaml_model(tmp_path, expected):
    path = tmp_path / "hosts.ini"
    path.write_text(INI)
    assert _summary(inventory.load(path)) == expected


def test_directory_with_group_vars_and_host_vars(tmp_path, expected):
    inv = tmp_path / "inventory"
    (inv / "group_vars").mkdir(parents=True)
    (inv / "host_vars").mkdir()
    (inv / "hosts").write_text("[swarm_managers]\nm1 ansible_host=192.0.2.11\n"
                               "m2 ansible_host=192.0.2.12\n\n"
                               "[swarm_workers]\nw1 ansible_host=192.0.2.21\n")
    (inv / "group_vars" / "all.yml").write_text("ansible_user: admin\nansible_become: true\n")
    (inv / "group_vars" / "swarm_workers.yml").write_text("swarm_node_availability: active\n")
    (inv / "host_vars" / "m2.yml").write_text("ansible_port: 2222\n")
    (inv / "host_vars" / "w1").mkdir()
    (inv / "host_vars" / "w1" / "labels.yml").write_text(
        "swarm_node_labels:\n  zone: eu-1a\n  disk: ssd\n")
    assert _summary(inventory.load(inv)) == expected


def test_group_vars_next_to_an_inventory_file(tmp_path, expected):
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text("ansible_user: admin\n")
    path = tmp_path / "hosts.yml"
    path.write_text(YAML.replace("ansible_user: admin, ", ""))
    assert _summary(inventory.load(path)) == expected


def test_constructed_plugin_builds_the_groups(tmp_path, expected):
    inv = tmp_path / "inventory"
    inv.mkdir()
    (inv / "01-hosts.ini").write_text(
        "[all:vars]\nansible_user=admin\nansible_become=true\n\n[dc1]\n"
        "m1 ansible_host=192.0.2.11 node_role=manager\n"
        "m2 ansible_host=192.0.2.12 ansible_port=2222 node_role=manager\n"
        "w1 ansible_host=192.0.2.21 node_role=worker swarm_node_availability=active "
        "swarm_node_labels=\"{'zone': 'eu-1a', 'disk': 'ssd'}\"\n")
    (inv / "02-constructed.yml").write_text(
        "plugin: ansible.builtin.constructed\nstrict: true\ngroups:\n"
        "  swarm_managers: node_role == 'manager'\n  swarm_workers: node_role == 'worker'\n")
    assert _summary(inventory.load(inv)) == expected


def test_several_sources_merge(tmp_path, expected):
    first, second = tmp_path / "a.ini", tmp_path / "b.yml"
    first.write_text("[swarm_managers]\nm1 ansible_host=192.0.2.11\n"
                     "m2 ansible_host=192.0.2.12 ansible_port=2222\n")
    second.write_text(YAML.split("    swarm_managers:")[0] + YAML.split("            ansible_port: 2222}\n")[-1]
                      if False else
                      "all:\n  vars: {ansible_user: admin, ansible_become: true}\n"
                      "  children:\n    swarm_workers:\n      vars: {swarm_node_availability: active}\n"
                      "      hosts:\n        w1:\n          ansible_host: 192.0.2.21\n"
                      "          swarm_node_labels: {zone: eu-1a, disk: ssd}\n")
    inv = inventory.load([first, second])
    assert _summary(inv) == expected
    assert inv.sources == (first, second) and inv.path == first


def test_extra_vars_win_over_every_inventory_level(tmp_path):
    path = tmp_path / "hosts.ini"
    path.write_text(INI)
    inv = inventory.load(path, extra_vars=["ansible_user=ops",
                                           '{"swarm_node_labels": {"zone": "x"}}'])
    assert {h.user for h in inv.hosts} == {"ops"}
    assert inv.host("w1").labels == {"zone": "x"}
    varfile = tmp_path / "vars.yml"
    varfile.write_text("ansible_port: 2200\n")
    inv = inventory.load(path, extra_vars=[f"@{varfile}"])
    assert {h.port for h in inv.hosts} == {2200}


def test_templated_variables_are_resolved(tmp_path):
    path = tmp_path / "hosts.yml"
    path.write_text("all:\n  vars: {net: 192.0.2, admin_user: ops}\n  children:\n"
                    "    swarm_managers:\n      hosts:\n"
                    "        m1: {ansible_host: '{{ net }}.11', ansible_user: '{{ admin_user }}'}\n")
    host = inventory.load(path).host("m1")
    assert (host.address, host.user) == ("192.0.2.11", "ops")


# --------------------------------------------------------------------------- fast path

LAYOUTS = {
    "sample": (Path(__file__).resolve().parents[2] / "inventories" / "sample.yml").read_text(),
    "reference": YAML,
    "host in two groups, group depth decides": """\
all:
  vars: {ansible_user: base}
  children:
    dc1:
      vars: {ansible_user: dc1, ansible_port: 2201}
      children:
        rack1:
          vars: {ansible_user: rack1}
          hosts: {m1: {}}
    swarm_managers:
      hosts: {m1: {ansible_host: 192.0.2.1}, m2: {ansible_host: 192.0.2.2}}
""",
    "priority beats name": """\
swarm_managers:
  hosts: {m1: {ansible_host: 192.0.2.1}}
aaa:
  vars: {ansible_user: from-aaa, ansible_group_priority: 5}
  hosts: {m1: {}}
zzz:
  vars: {ansible_user: from-zzz}
  hosts: {m1: {}}
""",
    "managers through a child group, in order": """\
swarm_managers:
  hosts: {m3: {ansible_host: 192.0.2.3}}
  children:
    dc1_managers:
      hosts: {m1: {ansible_host: 192.0.2.1}, m2: {ansible_host: 192.0.2.2}}
swarm_workers:
  children:
    dc1_workers:
      vars: {swarm_node_labels: {dc: one}}
      hosts: {w1: {ansible_host: 192.0.2.9}}
""",
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_fast_path_gives_ansibles_answer(tmp_path, monkeypatch, layout):
    path = tmp_path / "inventory.yml"
    path.write_text(LAYOUTS[layout])
    checked = inventory._check_source(path)
    assert inventory._fast_path([path], checked, ()) is not None, "expected the fast path"
    fast = inventory.load(path)
    monkeypatch.setenv("SWARMCTL_INVENTORY_LOADER", "ansible")
    slow = inventory.load(path)
    assert _summary(fast) == _summary(slow)
    assert [h.name for h in fast.managers] == [h.name for h in slow.managers]
    for a, b in zip(fast.hosts, slow.hosts, strict=True):
        assert a.vars == b.vars, a.name


def test_what_leaves_the_fast_path(tmp_path):
    path = tmp_path / "inventory.yml"
    path.write_text(YAML)
    assert inventory._fast_path([path], inventory._check_source(path), ()) is not None
    assert inventory._fast_path([path], inventory._check_source(path), ("a=1",)) is None
    (tmp_path / "host_vars").mkdir()
    assert inventory._fast_path([path], inventory._check_source(path), ()) is None


# --------------------------------------------------------------------------- vault


def _encrypt_string(tmp_path: Path, value: str, name: str) -> str:
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    ansible_vault = Path(sys.executable).parent / "ansible-vault"
    return subprocess.run([str(ansible_vault), "encrypt_string", "--vault-password-file",
                           str(pw), value, "--name", name], capture_output=True, text=True,
                          check=True).stdout


def test_vaulted_variable_is_decrypted_for_validation_only(tmp_path):
    inv = tmp_path / "inventory"
    (inv / "group_vars").mkdir(parents=True)
    (inv / "hosts.ini").write_text("[swarm_managers]\nm1 ansible_host=192.0.2.11\n")
    (inv / "group_vars" / "all.yml").write_text(
        _encrypt_string(tmp_path, "admin", "ansible_user")
        + _encrypt_string(tmp_path, "hunter2", "ansible_become_password"))
    with pytest.raises(InputError, match="no vault password was given") as info:
        inventory.load(inv)
    assert "group_vars/all.yml" in info.value.message
    wrong = tmp_path / "wrong"
    wrong.write_text("nope\n")
    vault.configure(vault.VaultOptions(password_files=(str(wrong),)))
    with pytest.raises(InputError, match="does not decrypt"):
        inventory.load(inv)
    vault.configure(vault.VaultOptions(password_files=(str(tmp_path / "pw"),)))
    host = inventory.load(inv).host("m1")
    assert host.user == "admin"
    # the password the playbook needs stays encrypted in the model's vars
    assert "hunter2" not in str(host.vars)
    assert str(host.vars["ansible_become_password"]).startswith("$ANSIBLE_VAULT;")
