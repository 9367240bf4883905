"""`swarmctl check` on a running swarm: the swarm's own ports and membership pass, and
provision ran the same checks first."""

from __future__ import annotations

import pytest

from swarmctl.ops.checks import CHECKS
from tests.conftest import node_exec, swarmctl

pytestmark = pytest.mark.e2e


def assert_check_passes_on_a_swarm(prov) -> None:
    before = node_exec(prov.leader, "docker", "info", "--format", "{{.Swarm.Cluster.ID}}")
    cli = swarmctl("check", str(prov.inventory), env={"COLUMNS": "250"})
    assert cli.rc == 0, cli.output
    assert cli.stderr.count("\n") <= 1 and "Traceback" not in cli.output
    rows = {line.split()[0]: line.split() for line in cli.stdout.splitlines()
            if line.split() and line.split()[0] in {n.name for n in prov.lab.nodes}}
    assert set(rows) == {n.name for n in prov.lab.nodes}
    for row in rows.values():
        # HOST, then one column per check in checks.CHECKS; only the kernel may warn
        # (no IPVS, no IPsec in this kernel)
        assert len(row) == 1 + len(CHECKS), row
        assert row[1:4] == ["ok", "ok", "ok"] and row[5:] == ["ok"] * (len(CHECKS) - 4), row
    assert "FAIL" not in cli.stdout
    # the swarm is unchanged and no swarm port lost its dockerd
    after = node_exec(prov.leader, "docker", "info", "--format", "{{.Swarm.Cluster.ID}}")
    assert after == before
    for node in prov.lab.nodes:
        listening = node_exec(node.container, "ss", "-Hltnp")
        assert ":7946 " in listening and "dockerd" in listening


def test_check_passes_on_the_provisioned_cluster(cluster):
    assert_check_passes_on_a_swarm(cluster)


def test_provision_ran_the_checks_first(cluster):
    out = cluster.first.stdout
    assert "Preflight checks" in out
    assert out.index("Preflight checks") < out.index("Swarm nodes")
