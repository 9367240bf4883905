"""Autoscaling on real lab nodes (the shared `cluster`: 3 managers + 2 workers).

One scenario, in order, on one CPU-bound service (examples/autoscale: cpu-web, a busybox
CGI that burns CPU per request), under a bounded load from this process to the nodes'
host-mode ports: it grows from min to at least 2x under load and never above max; the
controller's task is killed right after the first scaling and swarm restarts it, and the
new one does not scale again within the cool-down (no double scaling); with the load
gone it shrinks back to min after the scale-down window; a re-deploy changes nothing
(the autoscaler's count and record are kept); a new min takes effect on the next deploy;
`status` says why. Everything it created is removed at the end.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from bench.load import Load
from tests.conftest import REPO, assert_no_changes, node_exec, swarmctl

pytestmark = pytest.mark.e2e

SERVICE = "cpu-web"
PORT = 8090
MAX = 4
COOLDOWN = 15.0


def _spec(tmp: Path, min_: int = 1) -> Path:
    data = yaml.safe_load((REPO / "examples" / "autoscale" / "cpu-web.yml").read_text())
    auto = data["services"][0]["autoscale"]
    auto.update(min=min_, max=MAX, scale_down={"window": "20s"}, cooldown=f"{COOLDOWN:g}s")
    data["autoscaler"] = {"interval": "3s"}
    path = tmp / f"autoscale-min{min_}.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def _inspect(manager: str, name: str = SERVICE) -> dict:
    return json.loads(node_exec(manager, "docker", "service", "inspect", name))[0]


def _replicas(manager: str) -> tuple[int, dict | None]:
    spec = _inspect(manager)["Spec"]
    last = (spec.get("Labels") or {}).get("io.swarmctl.autoscale.last")
    return spec["Mode"]["Replicated"]["Replicas"], (json.loads(last) if last else None)


def _wait(what: str, predicate, timeout: float, every: float = 2.0):
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f}s waiting for {what}"
        time.sleep(every)


def _controller_task(manager: str) -> dict:
    out = node_exec(manager, "docker", "service", "ps", "swarmctl-autoscaler", "--no-trunc",
                    "--filter", "desired-state=running", "--format", "{{json .}}")
    tasks = [json.loads(line) for line in out.splitlines() if line.strip()]
    return next((t for t in tasks if t["CurrentState"].startswith("Running")), {})


@pytest.fixture(scope="module")
def scaled(cluster, tmp_path_factory):
    subprocess.run([str(REPO / "examples" / "autoscale" / "build-image.sh")], check=True,
                   capture_output=True, timeout=600)
    loaded = swarmctl("images", "load", "-i", str(cluster.inventory), "cpu-web:v1")
    assert loaded.rc == 0, loaded.output
    yield cluster, tmp_path_factory.mktemp("autoscale")
    for name in (SERVICE, "swarmctl-autoscaler", "swarmctl-autoscaler-agent"):
        node_exec(cluster.leader, "docker", "service", "rm", name, check=False)
    time.sleep(3)
    node_exec(cluster.leader, "docker", "network", "rm", "swarmctl-autoscaler", check=False)


def test_a_service_grows_under_load_shrinks_after_and_status_says_why(scaled):
    cluster, tmp = scaled
    manager = cluster.leader
    spec = _spec(tmp)
    first = swarmctl("deploy", "-i", str(cluster.inventory), str(spec), "--timeout", "300")
    assert first.rc == 0, first.output
    assert _replicas(manager)[0] == 1
    agents = _inspect(manager, "swarmctl-autoscaler-agent")["Spec"]["Mode"]
    assert "Global" in agents

    hosts = [n.address for n in cluster.lab.nodes]
    loads = [Load(hosts[i:] + hosts[:i], port=PORT, path="/cgi-bin/work", expect=b"worked",
                  count=3000, duration=75, interval=0, timeout=5).start() for i in range(4)]
    seen: list[int] = []
    try:
        def grew():
            count, last = _replicas(manager)
            seen.append(count)
            return (count, last) if count >= 2 else None
        count, last = _wait("a scale-up under load", grew, timeout=60)
        assert last is not None and last["from"] == 1 and last["to"] == count
        assert "cpu" in last["reason"] and "target 50%" in last["reason"]

        # kill the controller right after its decision: swarm starts another task, which
        # must honour the cool-down recorded on the service (no second scaling at once)
        before = _controller_task(manager)
        node = next(n for n in cluster.lab.nodes if n.name == before["Node"])
        cid = node_exec(node.container, "docker", "ps", "-q", "--filter",
                        f"label=com.docker.swarm.task.id={before['ID']}").strip()
        node_exec(node.container, "docker", "kill", cid)
        after = _wait("swarm to restart the controller",
                      lambda: (t := _controller_task(manager)) and t["ID"] != before["ID"]
                      and t, timeout=60)
        assert after["ID"] != before["ID"]

        def settled():
            c, lst = _replicas(manager)
            seen.append(c)
            return lst if (lst and lst["time"] != last["time"]) or time.time() > \
                last["time"] + COOLDOWN + 10 else None
        nxt = _wait("the cool-down to pass", settled, timeout=COOLDOWN + 40)
        if nxt["time"] != last["time"]:
            assert nxt["time"] - last["time"] >= COOLDOWN, (last, nxt)
    finally:
        results = [load.stop() for load in loads]
    assert max(seen) <= MAX, seen
    assert max(seen) >= 2, seen
    assert sum(r.ok for r in results) > 0

    def back_at_min():
        c, lst = _replicas(manager)
        seen.append(c)
        return lst if c == 1 else None
    down = _wait("the scale-down back to min", back_at_min, timeout=120)
    assert down["to"] == 1 and down["from"] >= 2
    assert max(seen) <= MAX, seen

    status = swarmctl("status", "-i", str(cluster.inventory), "--json")
    assert status.rc == 0, status.output
    view = next(s for s in json.loads(status.stdout)["services"]
                if s["name"] == SERVICE)["autoscale"]
    assert (view["replicas"], view["min"], view["max"]) == (1, 1, MAX)
    assert view["targets"] == {"cpu": 50.0} and "cpu" in view["metrics"]
    assert view["last"]["to"] == 1 and view["last"]["reason"]
    table = swarmctl("status", "-i", str(cluster.inventory), env={"COLUMNS": "200"})
    assert "Autoscaling" in table.stdout and "1..4" in table.stdout

    # a re-deploy keeps the autoscaler's count and its record: nothing changes
    again = swarmctl("deploy", "-i", str(cluster.inventory), str(spec))
    assert again.rc == 0, again.output
    assert_no_changes(again.output)
    assert _replicas(manager) == (1, down)

    # a new min takes effect on the next deploy, and the controller keeps to it
    raised = swarmctl("deploy", "-i", str(cluster.inventory), str(_spec(tmp, min_=2)))
    assert raised.rc == 0, raised.output
    assert _replicas(manager)[0] == 2
    time.sleep(8)  # a few rounds of the controller without load
    assert _replicas(manager)[0] == 2
