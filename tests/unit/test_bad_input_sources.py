"""Bad inventory sources of every kind Ansible reads, and bad -e / vault options, refused
by the real CLI before any host is contacted: one line naming the source (file and
line where known), the host and the variable, with a fix; exit 2; no run folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.badinput import refused

PASSWORD = "correct horse"

# name → (file name, text, strings the error line must contain)
CASES = {
    "INI: section not closed": (
        "hosts.ini", "# hosts\n[swarm_managers\nm1 ansible_host=127.0.0.11\n",
        ("line 2", "not closed with ']'", "INI syntax")),
    "INI: host variable without =": (
        "hosts.ini", "[swarm_managers]\nm1 ansible_port\n",
        ("line 2", "Expected key=value host variable assignment", "INI syntax")),
    "INI: vars line without =": (
        "hosts", "[swarm_managers]\nm1 ansible_host=127.0.0.11\n[swarm_managers:vars]\nfoo\n",
        ("line 4", "Expected key=value, got: foo", "INI syntax")),
    "INI: unknown section type": (
        "hosts.ini", "[swarm_managers:bogus]\nm1\n",
        ("line 1", "unknown type: bogus", "INI syntax")),
    "INI: no managers": (
        "hosts.ini", "[swarm_workers]\nw1 ansible_host=127.0.0.21\n",
        ("group swarm_managers", "has no hosts")),
    "INI: bad port": (
        "hosts.ini", "[swarm_managers]\nm1 ansible_host=127.0.0.11 ansible_port=70000\n",
        ("hosts.ini:2", "host m1", "ansible_port=70000", "1 to 65535")),
    "unknown inventory plugin": (
        "cloud.yml", "plugin: example.nowhere.cloud\n",
        ("unknown plugin 'example.nowhere.cloud'", "ansible-doc -t inventory")),
    "label value is a list": (
        "inventory.yml", "swarm_managers:\n  hosts:\n    m1:\n      ansible_host: 127.0.0.11\n"
        "      swarm_node_labels: {zone: [a, b]}\n",
        ("host m1", "swarm_node_labels.zone is a list", "label values are strings")),
    "label value is a mapping": (
        "inventory.yml", "swarm_managers:\n  hosts:\n    m1:\n      ansible_host: 127.0.0.11\n"
        "      swarm_node_labels: {zone: {a: b}}\n",
        ("host m1", "swarm_node_labels.zone is a dict", "label values are strings")),
    "INI: label value is a list": (
        "hosts.ini", "[swarm_managers]\nm1 ansible_host=127.0.0.11 "
        "swarm_node_labels=\"{'zone': ['a']}\"\n",
        ("hosts.ini:2", "host m1", "swarm_node_labels.zone is a list")),
    "ansible_host with a shell command": (
        "inventory.yml", "swarm_managers:\n  hosts:\n"
        "    m1: {ansible_host: '10.0.0.1; touch /tmp/x'}\n",
        ("host m1", "ansible_host='10.0.0.1; touch /tmp/x'",
         "neither an IP address nor a valid host name")),
    "host name that is no address": (
        "inventory.yml", "swarm_managers:\n  hosts:\n    'bad host!': {}\n",
        ("host bad host!", "the host name 'bad host!'", "set ansible_host")),
    "the same host twice in one group": (
        "inventory.yml", "swarm_managers:\n  hosts:\n    m1: {ansible_host: 127.0.0.11}\n"
        "    m2: {ansible_host: 127.0.0.12}\n    m1: {ansible_host: 127.0.0.13}\n",
        ("line 5", "key 'm1' is also at line 3", "keep one of them")),
    "the same variable twice": (
        "inventory.yml", "all:\n  vars:\n    ansible_user: a\n    ansible_user: b\n"
        "  children:\n    swarm_managers:\n      hosts: {m1: {ansible_host: 127.0.0.11}}\n",
        ("line 4", "key 'ansible_user' is also at line 3")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_source_is_refused(tmp_path, case):
    name, text, says = CASES[case]
    inv = tmp_path / name
    inv.write_text(text, encoding="utf-8")
    refused(tmp_path / "home", "check", str(inv), says=(str(inv), *says))


def test_duplicate_key_in_group_vars(tmp_path):
    inv = tmp_path / "inventory"
    (inv / "group_vars").mkdir(parents=True)
    (inv / "hosts.ini").write_text("[swarm_managers]\nm1 ansible_host=127.0.0.11\n")
    gv = inv / "group_vars" / "all.yml"
    gv.write_text("ansible_user: a\nansible_port: 22\nansible_user: b\n")
    refused(tmp_path / "home", "check", str(inv),
            says=(str(gv), "line 3", "key 'ansible_user' is also at line 1"))


def test_oversized_file(tmp_path):
    inv = tmp_path / "inventory.yml"
    inv.write_bytes(b"# " + b"x" * (6 * 1024 * 1024) + b"\n")
    refused(tmp_path / "home", "check", str(inv),
            says=(str(inv), "is 6.3 MB, more than the 5 MB swarmctl reads"))


def test_bad_extra_vars(tmp_path):
    inv = tmp_path / "hosts.ini"
    inv.write_text("[swarm_managers]\nm1 ansible_host=127.0.0.11\n")
    refused(tmp_path / "home", "check", str(inv), "-e", "[1, 2]",
            says=("-e/--extra-vars", "could not be made into a dictionary", "key=value"))
    refused(tmp_path / "home", "provision", str(inv), "-e", f"@{tmp_path / 'nope.yml'}",
            says=("-e/--extra-vars", "nope.yml", "@FILE"))
    refused(tmp_path / "home", "check", str(inv), "-e", "ansible_port=0",
            says=("host m1", "ansible_port='0'", "1 to 65535"))


def _vaulted_inventory(tmp_path: Path) -> Path:
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    inv = tmp_path / "inventory"
    (inv / "group_vars").mkdir(parents=True)
    (inv / "hosts.ini").write_text("[swarm_managers]\nm1 ansible_host=127.0.0.11\n")
    gv = inv / "group_vars" / "all.yml"
    gv.write_text("ansible_user: admin\n")
    ansible_vault = Path(sys.executable).parent / "ansible-vault"
    subprocess.run([str(ansible_vault), "encrypt", "--vault-password-file", str(pw), str(gv)],
                   capture_output=True, check=True)
    return inv


def test_vaulted_file_without_password(tmp_path):
    inv = _vaulted_inventory(tmp_path)
    refused(tmp_path / "home", "check", str(inv),
            says=("group_vars/all.yml", "encrypted with Ansible Vault",
                  "no vault password was given", "--vault-password-file"))


def test_vaulted_file_with_wrong_password(tmp_path):
    inv = _vaulted_inventory(tmp_path)
    wrong = tmp_path / "wrong"
    wrong.write_text("not it\n")
    refused(tmp_path / "home", "provision", str(inv), "--vault-password-file", str(wrong),
            says=("group_vars/all.yml", "the vault password given does not decrypt it"))
    refused(tmp_path / "home", "check", str(inv), "--vault-id", f"prod@{wrong}",
            says=("does not decrypt",))


def test_vault_options_that_cannot_work(tmp_path):
    inv = _vaulted_inventory(tmp_path)
    refused(tmp_path / "home", "check", str(inv), "--vault-password-file",
            str(tmp_path / "missing"), says=("missing", "vault password file not found"))
    # no terminal in the tests: asking is refused with the alternative
    refused(tmp_path / "home", "check", str(inv), "--ask-vault-pass",
            says=("--ask-vault-pass needs a terminal", "--vault-password-file"))


def test_vaulted_spec_value_without_password(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    inv = tmp_path / "hosts.ini"
    inv.write_text("[swarm_managers]\nm1 ansible_host=127.0.0.11\n")
    ansible_vault = Path(sys.executable).parent / "ansible-vault"
    vaulted = subprocess.run([str(ansible_vault), "encrypt_string", "--vault-password-file",
                              str(pw), "s3cret", "--name", "value"], capture_output=True,
                             text=True, check=True).stdout
    spec = tmp_path / "services.yml"
    spec.write_text("secrets:\n  - name: db\n" +
                    "".join(f"    {line}\n" for line in vaulted.splitlines()))
    refused(tmp_path / "home", "deploy", "-i", str(inv), str(spec),
            says=(str(spec), "secrets[db].value", "no vault password was given"))


def test_limit_that_matches_no_host(tmp_path):
    inv = tmp_path / "hosts.ini"
    inv.write_text("[swarm_managers]\nm1 ansible_host=127.0.0.11\n[other]\nx1\n")
    refused(tmp_path / "home", "provision", str(inv), "--limit", "w7",
            says=("--limit w7", "matches no host of swarm_managers or swarm_workers"))
    refused(tmp_path / "home", "check", str(inv), "--limit", "other",
            says=("--limit other", "matches no host"))
