"""Bad inventories, refused by the real CLI before any host is contacted.

Each case: exactly one line on stderr naming the file, the place (host / group / line)
and the fix; exit 2; no traceback; no playbook run.
"""

from __future__ import annotations

import pytest

from tests.unit.badinput import refused

# name → (inventory text, strings the error line must contain)
CASES = {
    "empty file": ("", ("is empty", "swarm_managers")),
    "only a comment": ("# nothing here\n", ("is empty",)),
    "broken YAML": ("all:\n  children:\n    swarm_managers:\n     hosts: [\n",
                    ("line", "fix the YAML syntax")),
    "top level is a list": ("- m1\n- m2\n", ("top level is a list", "all: children:")),
    "group is a list": ("swarm_managers: [m1, m2]\n",
                        ("swarm_managers", "expected a mapping, got list", "sample.yml")),
    "hosts is a list": ("swarm_managers:\n  hosts: [m1]\n",
                        ("swarm_managers hosts", "expected a mapping")),
    "no managers group": ("swarm_workers:\n  hosts:\n    w1: {ansible_host: 127.0.0.21}\n",
                          ("group swarm_managers", "has no hosts", "add at least one host")),
    "empty managers group": ("swarm_managers:\n  hosts: {}\nswarm_workers:\n  hosts:\n"
                             "    w1: {ansible_host: 127.0.0.21}\n", ("has no hosts",)),
    "host in both groups": (
        "swarm_managers:\n  hosts:\n    h1: {ansible_host: 127.0.0.11}\n"
        "swarm_workers:\n  hosts:\n    h1: {ansible_host: 127.0.0.11}\n",
        ("host h1", "is in both swarm_managers and swarm_workers", "keep it in one group")),
    "duplicate address": (
        "swarm_managers:\n  hosts:\n    m1: {ansible_host: 127.0.0.11}\n"
        "swarm_workers:\n  hosts:\n    w1: {ansible_host: 127.0.0.11}\n",
        ("host w1", "127.0.0.11:22", "as m1", "its own ansible_host")),
    "duplicate advertise address": (
        "swarm_managers:\n  hosts:\n"
        "    m1: {ansible_host: 127.0.0.11, swarm_advertise_addr: 127.0.0.50}\n"
        "    m2: {ansible_host: 127.0.0.12, swarm_advertise_addr: 127.0.0.50}\n",
        ("host m2", "swarm_advertise_addr 127.0.0.50 is also used by m1")),
    "invalid advertise IP": (
        "swarm_managers:\n  hosts:\n    m1: {ansible_host: 127.0.0.11, "
        "swarm_advertise_addr: 10.0.0.300}\n",
        ("host m1", "swarm_advertise_addr='10.0.0.300' is invalid", "set swarm_advertise_addr")),
    "invalid advertise network": (
        "swarm_managers:\n  hosts:\n    m1: {ansible_host: 127.0.0.11, "
        "swarm_advertise_network: not-a-net}\n",
        ("host m1", "swarm_advertise_network='not-a-net' is invalid", "e.g. 10.0.0.0/8")),
    "non-integer port": (
        "swarm_managers:\n  hosts:\n    m1: {ansible_host: 127.0.0.11, ansible_port: ssh}\n",
        ("host m1", "ansible_port='ssh' is invalid", "1 to 65535")),
    "port out of range": (
        "swarm_managers:\n  hosts:\n    m1: {ansible_host: 127.0.0.11, ansible_port: 70000}\n",
        ("host m1", "ansible_port=70000", "1 to 65535")),
    "become as a string": (
        "swarm_managers:\n  vars: {ansible_become: 'yes'}\n  hosts:\n"
        "    m1: {ansible_host: 127.0.0.11}\n",
        ("host m1", "ansible_become is the string 'yes'", "true or false")),
    "bad availability": (
        "swarm_managers:\n  hosts:\n    m1: {ansible_host: 127.0.0.11, "
        "swarm_node_availability: off}\n",
        ("host m1", "swarm_node_availability", "active, pause or drain")),
    "labels not a mapping": (
        "swarm_managers:\n  hosts:\n    m1: {ansible_host: 127.0.0.11, "
        "swarm_node_labels: [a, b]}\n",
        ("host m1", "swarm_node_labels", "mapping")),
    # swarm_security's variables: the role reads them only after the swarm is built,
    # so swarmctl refuses them before any host changes
    "autolock not a boolean": (
        "swarm_managers:\n  vars: {swarm_autolock: maybe}\n  hosts:\n"
        "    m1: {ansible_host: 127.0.0.11}\n",
        ("host m1", "swarm_autolock='maybe' is not true or false", "true or false")),
    "autolock without a key file": (
        "swarm_managers:\n  vars: {swarm_autolock: true}\n  hosts:\n"
        "    m1: {ansible_host: 127.0.0.11}\n",
        ("host m1", "swarm_unlock_key_file is not set", "mode 0600")),
    "key file not a path": (
        "swarm_managers:\n  vars: {swarm_autolock: true, swarm_unlock_key_file: [a]}\n"
        "  hosts:\n    m1: {ansible_host: 127.0.0.11}\n",
        ("host m1", "swarm_unlock_key_file is a list", "path of a file")),
    "cert expiry not a duration": (
        "swarm_managers:\n  vars: {swarm_cert_expiry: ninety days}\n  hosts:\n"
        "    m1: {ansible_host: 127.0.0.11}\n",
        ("host m1", "swarm_cert_expiry='ninety days' is not a duration", "2160h")),
    "cert expiry under an hour": (
        "swarm_managers:\n  vars: {swarm_cert_expiry: 30m}\n  hosts:\n"
        "    m1: {ansible_host: 127.0.0.11}\n",
        ("host m1", "shorter than 1h", "1h or more")),
    "unknown token rotation policy": (
        "swarm_managers:\n  vars: {swarm_rotate_join_tokens: always}\n  hosts:\n"
        "    m1: {ansible_host: 127.0.0.11}\n",
        ("host m1", "swarm_rotate_join_tokens='always'", "after_join", "never")),
    "unknown key in a group": (
        "swarm_managers:\n  host:\n    m1: {ansible_host: 127.0.0.11}\n",
        ("group swarm_managers", "unknown key 'host'", "hosts, vars and children")),
    "host listed twice": (
        "all:\n  children:\n    swarm_managers:\n      hosts:\n        m1: {}\n"
        "    other:\n      children:\n        swarm_managers:\n          hosts:\n"
        "            m1: {}\n",
        ("host m1", "is listed twice", "list each host once")),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("verb", ["provision", "check"])
def test_bad_inventory_is_refused(tmp_path, case, verb):
    text, says = CASES[case]
    inv = tmp_path / "inventory.yml"
    inv.write_text(text, encoding="utf-8")
    refused(tmp_path / "home", verb, str(inv), says=(str(inv), *says))


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.yml"
    refused(tmp_path / "home", "provision", str(missing),
            says=(str(missing), "file not found", "pass the path of an inventory"))


def test_a_directory_without_inventory(tmp_path):
    # a directory is an inventory source (as for ansible-playbook -i): one with nothing
    # in it is refused
    empty = tmp_path / "inventory"
    empty.mkdir()
    refused(tmp_path / "home", "check", str(empty),
            says=(str(empty), "is a directory with no inventory file", "YAML or INI file"))


def test_not_utf8(tmp_path):
    inv = tmp_path / "inventory.yml"
    inv.write_bytes(b"swarm_managers:\n  hosts:\n    m\xff\xfe1: {}\n")
    refused(tmp_path / "home", "provision", str(inv),
            says=(str(inv), "line 3, column 6", "byte 0xff is not UTF-8", "save the file as UTF-8"))

