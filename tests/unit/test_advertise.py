"""The advertise-address choice (plugins/module_utils/advertise.py), shared by the
preflight's host read and swarm_facts' filter: one rule, two callers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

sys.path.insert(0, str(REPO / ".collections"))
from ansible_collections.swarmctl.swarm.plugins.filter.advertise import (
    advertise_address,
)
from ansible_collections.swarmctl.swarm.plugins.module_utils.advertise import (
    choose,
)

ADDRS = ["10.0.0.5", "192.168.1.5", "fd00::5"]


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"explicit": "10.9.9.9"}, ("10.9.9.9", "swarm_advertise_addr")),
    ({"network": "192.168.1.0/24", "ansible_host": "10.0.0.5"},
     ("192.168.1.5", "swarm_advertise_network")),
    ({"network": "fd00::/64"}, ("fd00::5", "swarm_advertise_network")),
    # a network the host has no address in chooses nothing: the caller refuses it
    ({"network": "172.16.0.0/12", "default": "10.0.0.5"}, ("", "swarm_advertise_network")),
    ({"network": "not-a-net"}, ("", "swarm_advertise_network")),
    ({"ansible_host": "192.168.1.5", "default": "10.0.0.5"}, ("192.168.1.5", "ansible_host")),
    # ansible_host that is a name or another machine's address: the default route's
    ({"ansible_host": "node1.example", "default": "10.0.0.5"}, ("10.0.0.5", "default route")),
    ({}, ("", "default route")),
])
def test_the_first_rule_that_applies_chooses(kwargs, expected):
    assert choose(ADDRS, **kwargs) == expected


def test_the_filter_is_the_same_choice():
    assert advertise_address(ADDRS, "", "192.168.1.0/24", "10.0.0.5", "10.0.0.5") == "192.168.1.5"
    assert advertise_address(ADDRS, None, None, None, None) == ""


def test_swarm_facts_chooses_through_the_filter(tmp_path: Path):
    """The role's Jinja calls the filter by FQCN (an Ansible run on the controller)."""
    play = tmp_path / "play.yml"
    play.write_text("""
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.assert:
        that: >-
          ['10.0.0.5', '192.168.1.5'] | swarmctl.swarm.advertise_address('', '192.168.1.0/24',
          '10.0.0.5', '10.0.0.5') == '192.168.1.5'
""")
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(play)],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
