"""The swarm_validate role (what plain ansible-playbook runs before any host changes)
refuses each inventory mistake with its one-line message, on the controller only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PLAY = [{"hosts": "localhost", "connection": "local", "gather_facts": False,
         "roles": ["swarm_validate"]}]


def _run(tmp_path: Path, managers: dict, workers: dict | None = None,
         extra: dict | None = None) -> tuple[int, str]:
    """(rc, the failure message or '') of the role against an inventory."""
    inv = {"all": {"children": {"swarm_managers": {"hosts": managers},
                                "swarm_workers": {"hosts": workers or {}}}}}
    (tmp_path / "inv.yml").write_text(yaml.safe_dump(inv))
    (tmp_path / "play.yml").write_text(yaml.safe_dump(PLAY))
    env = {**os.environ, "ANSIBLE_ROLES_PATH": str(REPO / "roles"),
           "ANSIBLE_STDOUT_CALLBACK": "json", "ANSIBLE_LOCALHOST_WARNING": "False",
           "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False"}
    argv = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(tmp_path / "inv.yml"),
            str(tmp_path / "play.yml")]
    if extra:
        argv += ["-e", json.dumps(extra)]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120,
                          check=False)
    out = json.loads(proc.stdout)
    msgs = [res.get("msg", "") for play in out["plays"] for task in play["tasks"]
            for res in task["hosts"].values() if res.get("failed")]
    return proc.returncode, (msgs[0] if msgs else "")


@pytest.mark.parametrize(("managers", "workers", "extra", "says"), [
    ({}, {"w1": {}}, None, "group swarm_managers has no hosts"),
    ({"m1": {}}, {"m1": {}}, None, "host m1 is in both swarm_managers and swarm_workers"),
    ({"m1": {"swarm_node_availability": "sleep"}}, None, None,
     "swarm_node_availability is invalid; set it to active, pause or drain"),
    ({"m1": {"swarm_node_labels": ["a"]}}, None, None, "must be a mapping of label: value"),
    ({"m1": {"swarm_advertise_addr": "nope"}}, None, None, "swarm_advertise_addr is not an IP"),
    ({"m1": {"swarm_advertise_network": "nope"}}, None, None, "write it in CIDR notation"),
    ({"m1": {"swarm_autolock": "maybe"}}, None, None, "swarm_autolock is not true or false"),
    ({"m1": {"swarm_autolock": True}}, None, None, "swarm_unlock_key_file is not set"),
    ({"m1": {"swarm_autolock": "yes", "swarm_unlock_key_file": ""}}, None, None,
     "swarm_unlock_key_file is not set"),
    ({"m1": {"swarm_rotate_join_tokens": "always"}}, None, None,
     "swarm_rotate_join_tokens is not a policy"),
    ({"m1": {}, "m2": {}}, None, {"swarm_validate_strict_quorum": True},
     "2 managers: an even count"),
])
def test_each_mistake_is_refused_with_its_message(tmp_path, managers, workers, extra, says):
    rc, msg = _run(tmp_path, managers, workers, extra)
    assert rc != 0
    assert says in msg and "\n" not in msg, msg


def test_a_valid_inventory_passes(tmp_path):
    rc, msg = _run(tmp_path, {"m1": {}, "m2": {}, "m3": {}}, {"w1": {"swarm_node_labels": {"a": 1}}},
                   {"swarm_autolock": True, "swarm_unlock_key_file": "unlock.key",
                    "swarm_rotate_join_tokens": "after_join"})
    assert (rc, msg) == (0, "")
