"""`swarmctl upgrade`, `maintenance` and `reset` on real lab nodes.

One lab (3 managers + 1 worker, bookworm) for the whole file, provisioned with the
older containerd of Debian's archive pinned (1.6.20~ds1-1+deb12u2, from
bookworm-security; the lab's sources list it), then upgraded for real to the newer one
(deb12u3, from bookworm: the newest offered, the inventory without the pin) with my-web
serving on two nodes in host mode under a bounded load (bench.load). The tests run in
file order and share the lab: refusal with a manager down, --confirm answered no (nothing
changes) and --confirm --pause-after answered yes, then no (one manager upgraded, then
the run stops), the upgrade of the rest (stopped at a node whose engine does not start
again, then resumed), a second run, maintenance of a
worker and a manager, reset twice (and --purge twice).
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from bench import upgrade as bench_upgrade
from bench.load import Load
from tests.conftest import (
    REPO,
    _lab_down,
    assert_refused,
    changed_counts,
    cluster_id,
    lab_name,
    node_exec,
    node_ls,
    run_dir_from,
    swarmctl,
)

pytestmark = pytest.mark.e2e

LAB = lab_name("upg")
OLD = "1.6.20~ds1-1+deb12u2"
NEW = "1.6.20~ds1-1+deb12u3"
# the service the upgrade benchmark runs under load, the same here
SPEC = bench_upgrade.SPEC
BROKEN = "/etc/systemd/system/docker.service.d/zz-broken-by-test.conf"


class Upg:
    """The file's lab: nodes, inventories (old: containerd pinned; new: no pin)."""

    def __init__(self, lab, old: Path, new: Path) -> None:
        self.lab, self.old, self.new = lab, old, new

    @property
    def m1(self) -> str:
        return self.lab.managers[0].container

    @property
    def addresses(self) -> list[str]:
        return [n.address for n in self.lab.nodes]

    def containerd(self) -> dict[str, str]:
        return {n.name: node_exec(n.container, "dpkg-query", "-W", "-f", "${Version}",
                                  "containerd") for n in self.lab.nodes}


def wait_for(what: str, check, timeout: float = 240, every: float = 2):
    """Poll until check() is truthy; fail naming what did not happen (no timing asserted)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except AssertionError as exc:
            last = str(exc)
        if last is True or (last and not isinstance(last, str)):
            return last
        time.sleep(every)
    raise AssertionError(f"{what} did not happen; last: {last!r}")


def healthy(upg: Upg) -> bool:
    nodes = node_ls(upg.m1)
    return (len(nodes) == len(upg.lab.nodes)
            and all(n["Status"] == "Ready" for n in nodes)
            and all(n["ManagerStatus"] in ("Leader", "Reachable")
                    for n in nodes if n["ManagerStatus"]))


def web_running(upg: Upg) -> int:
    out = node_exec(upg.m1, "docker", "service", "ps", "my-web", "--filter",
                    "desired-state=running", "--format", "{{.CurrentState}}")
    return sum(1 for line in out.splitlines() if line.startswith("Running"))


@pytest.fixture(scope="module")
def upg(tmp_path_factory):
    from swarmctl.lab import lab as labmod

    subprocess.run([str(REPO / "examples" / "my-web" / "build-image.sh")], check=True,
                   capture_output=True, timeout=600)
    labmod.down(LAB)
    the_lab = labmod.up(LAB, 3, 1, "bookworm")
    tmp = tmp_path_factory.mktemp("upg")
    inv = yaml.safe_load(the_lab.inventory_path.read_text())
    inv["all"]["vars"]["docker_engine_package_versions"] = {"containerd": OLD}
    old = tmp / "old.yml"
    old.write_text(yaml.safe_dump(inv))
    del inv["all"]["vars"]["docker_engine_package_versions"]
    new = tmp / "new.yml"
    new.write_text(yaml.safe_dump(inv))
    spec = tmp / "web.yml"
    spec.write_text(yaml.safe_dump(SPEC))
    for argv in (["provision", str(old)], ["images", "load", "-i", str(old), "my-web:v1"],
                 ["deploy", "-i", str(old), str(spec)]):
        done = swarmctl(*argv)
        assert done.rc == 0, f"{argv}:\n{done.output}"
    yield Upg(the_lab, old, new)
    _lab_down(LAB)


def test_provision_installs_the_pinned_older_containerd(upg):
    assert set(upg.containerd().values()) == {OLD}
    assert web_running(upg) == 2


def test_upgrade_and_maintenance_refused_with_a_manager_down(upg):
    m3 = upg.lab.managers[2]
    before = upg.containerd()
    node_exec(m3.container, "systemctl", "stop", "docker.socket", "docker.service")
    try:
        wait_for("m3 unreachable", lambda: any(
            n["Hostname"] == m3.name and n["ManagerStatus"] == "Unreachable"
            for n in node_ls(upg.m1)))
        refused = swarmctl("upgrade", str(upg.new))
        assert_refused(refused, 3, "upgrade refused", m3.name, "nothing was changed")
        # the swarm (2 of 3 reachable) cannot lose another manager
        m2 = upg.lab.managers[1].name
        kept = swarmctl("maintenance", str(upg.new), m2)
        assert_refused(kept, 3, "maintenance refused", f"cannot lose manager {m2}",
                       "nothing was changed")
        assert upg.containerd() == before
        assert all(n["Availability"] == "Active" for n in node_ls(upg.m1))
    finally:
        node_exec(m3.container, "systemctl", "start", "docker.service")
        wait_for("every node Ready and manager Reachable", lambda: healthy(upg))
        wait_for("my-web back to 2 tasks", lambda: web_running(upg) == 2)


def questions(stderr: str) -> list[str]:
    """The questions `upgrade --confirm/--pause-after` asked, in order."""
    return [line.split("?", 1)[1].split("[y/N]")[0].strip()
            for line in stderr.splitlines() if line.startswith("? ")]


def test_confirm_and_pause_after_ask_and_stop_on_no(upg):
    """--confirm, answered no: the run stops before the first node, nothing changed.
    --confirm --pause-after, answered yes then no: the first manager is upgraded and
    back, and the run stops there; the other nodes keep the old version. Under load."""
    before = upg.containerd()
    no = swarmctl("upgrade", str(upg.new), "--confirm", stdin="n\n")
    asked = questions(no.stderr)
    assert len(asked) == 1 and asked[0].startswith("Upgrade ") and \
        asked[0].endswith(" now?"), no.stderr
    first = asked[0].removeprefix("Upgrade ").removesuffix(" now?")
    assert first in {m.name for m in upg.lab.managers}, asked
    # the leader goes last, so the first is another manager
    leader = next(n["Hostname"] for n in node_ls(upg.m1) if n["ManagerStatus"] == "Leader")
    assert first != leader
    assert no.rc == 3 and "Traceback" not in no.output, no.output
    line = no.stderr.strip().splitlines()[-1]
    assert f"the operator stopped the upgrade before {first}" in line, line
    assert "nothing was changed" in line and "run it again" in line, line
    assert upg.containerd() == before
    assert all(n["Availability"] == "Active" for n in node_ls(upg.m1))

    with Load(upg.addresses, port=8080, expect=b"my-web", count=100_000, duration=600,
              interval=0.05, timeout=2) as load:
        paused = swarmctl("upgrade", str(upg.new), "--confirm", "--pause-after",
                          stdin="y\nn\n")
    result = load.result
    print(f"load during the paused upgrade: {result.line()}")
    assert questions(paused.stderr) == [f"Upgrade {first} now?",
                                         f"{first} upgraded. Go on with the next?"], \
        paused.stderr
    assert paused.rc == 1 and "Traceback" not in paused.output, paused.output
    line = paused.stderr.strip().splitlines()[-1]
    assert f"the operator stopped the upgrade after {first}" in line, line
    assert "run it again" in line, line
    after = upg.containerd()
    assert after[first] == NEW, after
    assert all(v == OLD for host, v in after.items() if host != first), after
    assert healthy(upg)
    assert all(n["Availability"] == "Active" for n in node_ls(upg.m1))
    assert result.failed == 0 and result.sent > 0, result.as_dict()
    assert web_running(upg) == 2


def test_upgrade_under_load_stops_at_a_broken_node_and_resumes(upg):
    """The whole upgrade runs under load: the first run stops at the worker, whose engine
    does not start again (a drop-in makes docker.service fail); it is fixed, and the
    second run finishes it. Not one request goes unanswered."""
    w1 = upg.lab.workers[0]
    cluster = cluster_id(upg.m1)
    node_exec(w1.container, "sh", "-c", f"mkdir -p {Path(BROKEN).parent} && printf "
              f"'[Service]\\nExecStartPre=/bin/false\\n' > {BROKEN} && systemctl daemon-reload")
    with Load(upg.addresses, port=8080, expect=b"my-web", count=200_000, duration=1800,
              interval=0.05, timeout=2) as load:
        stopped = swarmctl("upgrade", str(upg.new))
        assert stopped.rc == 1 and "Traceback" not in stopped.output, stopped.output
        line = stopped.stderr.strip().splitlines()[-1]
        assert line.startswith("error: the upgrade stopped at " + w1.name), line
        assert "docker.service" in line and "run the upgrade again" in line, line
        # the managers were upgraded, the swarm kept quorum and my-web kept running
        nodes = {n["Hostname"]: n for n in node_ls(upg.m1)}
        assert [n["ManagerStatus"] for n in nodes.values() if n["ManagerStatus"]].count(
            "Reachable") == 2
        versions = upg.containerd()
        assert all(versions[m.name] == NEW for m in upg.lab.managers), versions
        assert web_running(upg) == 2
        node_exec(w1.container, "sh", "-c", f"rm {BROKEN} && systemctl daemon-reload && "
                  "systemctl start docker.service")
        wait_for("w1 Ready again", lambda: healthy(upg))
        resumed = swarmctl("upgrade", str(upg.new), "--json")
    result = load.result
    print(f"load: {result.line()}; answered by {dict(result.answered_by)}; "
          f"moved on after {dict(result.errors)}")
    assert resumed.rc == 0, resumed.output
    report = json.loads(resumed.stdout)
    assert result.failed == 0, result.as_dict()
    assert result.sent > 100 and result.ok == result.sent
    assert set(upg.containerd().values()) == {NEW}
    assert cluster_id(upg.m1) == cluster
    nodes = node_ls(upg.m1)
    assert all(n["Availability"] == "Active" and n["Status"] == "Ready" for n in nodes)
    # the resumed run restored w1 (the first run drained it and installed its packages)
    assert report["changed"] >= 1 and not any(n["upgraded"] for n in report["nodes"])
    assert report["leader_changes"] <= len(upg.lab.managers)
    assert web_running(upg) == 2


def test_second_upgrade_changes_nothing(upg):
    again = swarmctl("upgrade", str(upg.new), "--json")
    assert again.rc == 0, again.output
    report = json.loads(again.stdout)
    assert report["changed"] == 0
    assert sum(changed_counts(Path(report["run_dir"])).values()) == 0
    assert not any(n["upgraded"] for n in report["nodes"])


def test_maintenance_drains_a_worker_and_a_manager_and_brings_them_back(upg):
    w1, m2 = upg.lab.workers[0].name, upg.lab.managers[1].name
    drained = swarmctl("maintenance", str(upg.new), w1, m2)
    assert drained.rc == 0, drained.output
    nodes = {n["Hostname"]: n for n in node_ls(upg.m1)}
    assert nodes[w1]["Availability"] == nodes[m2]["Availability"] == "Drain"
    on = node_exec(upg.m1, "docker", "node", "ps", w1, m2, "--filter",
                   "desired-state=running", "--format", "{{.Name}}")
    assert on.strip() == ""
    assert web_running(upg) == 2
    again = swarmctl("maintenance", str(upg.new), w1, m2)
    assert again.rc == 0 and sum(changed_counts(run_dir_from(again.output)).values()) == 0
    done = swarmctl("maintenance", str(upg.new), w1, m2, "--done")
    assert done.rc == 0, done.output
    assert all(n["Availability"] == "Active" for n in node_ls(upg.m1))
    labels = node_exec(upg.m1, "docker", "node", "inspect", w1, "--format",
                       "{{json .Spec.Labels}}")
    assert "io.swarmctl.maintenance" not in labels


def test_maintenance_of_an_unknown_host_is_bad_input(upg):
    assert_refused(swarmctl("maintenance", str(upg.new), "no-such-host"), 2, "no-such-host")


def test_reset_twice_then_purge_twice(upg):
    assert_refused(swarmctl("reset", str(upg.new)), 2, "--yes")
    first = swarmctl("reset", str(upg.new), "--yes")
    assert first.rc == 0, first.output
    for n in upg.lab.nodes:
        state = node_exec(n.container, "docker", "info", "--format",
                          "{{.Swarm.LocalNodeState}}").strip()
        assert state == "inactive", (n.name, state)
    second = swarmctl("reset", str(upg.new), "--yes")
    assert second.rc == 0 and sum(changed_counts(run_dir_from(second.output)).values()) == 0
    purged = swarmctl("reset", str(upg.new), "--yes", "--purge")
    assert purged.rc == 0, purged.output
    for n in upg.lab.nodes:
        assert node_exec(n.container, "sh", "-c", "command -v dockerd || echo gone").strip() \
            == "gone"
    again = swarmctl("reset", str(upg.new), "--yes", "--purge")
    assert again.rc == 0 and sum(changed_counts(run_dir_from(again.output)).values()) == 0
