"""The collection as an Ansible user gets it: `ansible-galaxy collection build`, installed
into an empty collections path, its site playbook run by FQCN with plain
`ansible-playbook` (no checkout, no swarmctl) against the session's lab swarm."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, node_exec

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent


def _recap(output: str) -> dict[str, int]:
    """host -> changed, from the play recap."""
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)",
                                                  output, re.M)}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("collection")
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path",
                    str(tmp), str(REPO)], check=True, capture_output=True, timeout=120)
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "--no-deps", "-p",
                    str(tmp / "collections"), *map(str, tmp.glob("swarmctl-swarm-*.tar.gz"))],
                   check=True, capture_output=True, timeout=120, cwd=tmp)
    return tmp


def _site(installed: Path, inventory: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_COLLECTIONS_PATH=str(installed / "collections"),
               ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_NOCOLOR="1")
    return subprocess.run([str(BIN / "ansible-playbook"), "-i", str(inventory),
                           "swarmctl.swarm.site", *extra], cwd=installed, env=env,
                          capture_output=True, text=True, timeout=900, check=False)


def _labels(container: str, node: str) -> dict[str, str]:
    out = node_exec(container, "docker", "node", "inspect", node, "--format",
                    "{{json .Spec.Labels}}")
    return json.loads(out) or {}


def test_installed_collection_converges_the_lab_with_plain_ansible(cluster, installed):
    label = ["-e", json.dumps({"swarm_node_labels": {"via": "collection"}})]
    first = _site(installed, cluster.inventory, *label)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    for node in cluster.lab.nodes:
        assert _labels(cluster.leader, node.name).get("via") == "collection", node.name
    again = _site(installed, cluster.inventory, *label)
    assert again.returncode == 0, again.stdout[-4000:]
    changed = _recap(again.stdout)
    assert set(changed) >= {n.name for n in cluster.lab.nodes}
    assert sum(changed.values()) == 0, changed
    # the label was the roles' own: dropping it from the inventory removes it
    back = _site(installed, cluster.inventory)
    assert back.returncode == 0, back.stdout[-4000:]
    for node in cluster.lab.nodes:
        assert "via" not in _labels(cluster.leader, node.name), node.name
