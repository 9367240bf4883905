"""The disaster-recovery drill on one lab (3 managers + 1 worker), in order:

1. my-web (3 tasks, host-mode publish) and a secret it mounts are deployed; a backup is
   taken while the service keeps answering; the archive is checked; --keep prunes;
2. recover is refused while quorum holds;
3. 2 of 3 managers are stopped (quorum lost): backup is refused, recover forces a new
   cluster on the survivor (the swarm accepts a service update again); the 2 managers
   come back with their old state and a second recover makes them rejoin: 3 managers,
   one leader seen by all, no host listed twice, my-web running;
4. the whole lab is destroyed and recreated bare (same addresses): restore of the
   backup on the manager at the backup's address (another one is refused) brings back
   the swarm (same cluster ID), my-web and the secret, readable by its tasks; a
   provision afterwards changes nothing.

The tests depend on each other (module-scoped lab, run in file order). The drill takes
longer than the e2e budget allows (about 12 min on an idle 2-core machine), so it is
behind the `drill` marker:

    pytest -m drill tests/e2e/test_recovery.py -x
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import tarfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

import pytest
import yaml

from tests.conftest import (
    REPO,
    RUN_ID,
    _lab_down,
    assert_refused,
    changed_counts,
    cluster_id,
    node_exec,
    node_ls,
    provisioned_lab,
    run_dir_from,
    swarmctl,
)

pytestmark = [pytest.mark.e2e, pytest.mark.drill]

LAB = f"backup-t{RUN_ID}"
SECRET_VALUE = f"drill-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def state(tmp_path_factory):
    subprocess.run([str(REPO / "examples" / "my-web" / "build-image.sh")], check=True,
                   capture_output=True, timeout=600)
    home = tmp_path_factory.mktemp("home")
    os.environ["SWARMCTL_HOME"] = str(home)  # run folders and backups of this drill
    prov = provisioned_lab(LAB, 3, 1, "bookworm")
    loaded = swarmctl("images", "load", "-i", str(prov.inventory), "my-web:v1")
    assert loaded.rc == 0, loaded.output
    spec = home / "drill.yml"
    spec.write_text(yaml.safe_dump({
        "secrets": [{"name": "drill_secret", "value": SECRET_VALUE}],
        "services": [{"name": "my-web", "image": "my-web:v1", "replicas": 3,
                      "publish": [{"published": 8080, "target": 80, "mode": "host"}],
                      "max_replicas_per_node": 1, "secrets": ["drill_secret"]}],
    }))
    deployed = swarmctl("deploy", "-i", str(prov.inventory), str(spec), "--timeout", "600")
    assert deployed.rc == 0, deployed.output
    data = {"prov": prov, "home": home, "backups": home / "backups", "spec": spec}
    yield data
    os.environ.pop("SWARMCTL_HOME", None)
    _lab_down(LAB)


# --------------------------------------------------------------------------- helpers

def container(prov, name: str) -> str:
    return f"{LAB}-{name}"


def addresses(prov) -> list[str]:
    return [n.address for n in prov.lab.nodes]


class Poller:
    """Asks every node for my-web's page, round after round, until stopped (at most
    400 rounds, 0.5 s apart): a round counts as answered when one node answered."""

    def __init__(self, addrs: list[str]):
        self.addrs, self.rounds, self.answered = addrs, 0, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop.is_set() and self.rounds < 400:
            self.rounds += 1
            for addr in self.addrs:
                try:
                    with urllib.request.urlopen(f"http://{addr}:8080/", timeout=2) as r:
                        if b"my-web" in r.read():
                            self.answered += 1
                            break
                except OSError:
                    continue
            self.stop.wait(0.5)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def wait_for(what, check, tries: int = 90, delay: float = 2.0):
    """Poll until check() is truthy (bounded); the last value, or AssertionError."""
    value = None
    for _ in range(tries):
        value = check()
        if value:
            return value
        time.sleep(delay)
    raise AssertionError(f"{what}: not reached; last: {value!r}")


def running(manager: str) -> int:
    out = node_exec(manager, "docker", "service", "ps", "my-web", "--filter",
                    "desired-state=running", "--format", "{{.CurrentState}}", check=False)
    return sum(1 for line in out.splitlines() if line.startswith("Running"))


def no_leader(manager: str) -> bool:
    return subprocess_rc(manager, "docker", "node", "ls") != 0


def subprocess_rc(manager: str, *cmd: str) -> int:
    return subprocess.run(["docker", "exec", manager, *cmd], capture_output=True,
                          timeout=120, check=False).returncode


def assert_refused_after_reading(cli, *says: str) -> None:
    """Refused with exit 3 after the hosts were read: progress lines on stderr (plays,
    hosts that did not answer), then one error line with the reason; no traceback."""
    assert cli.rc == 3, f"exit {cli.rc}, expected 3:\n{cli.output}"
    assert "Traceback" not in cli.output, cli.output
    errors = [ln for ln in cli.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and cli.stderr.rstrip().splitlines()[-1] == errors[0], cli.stderr
    for text in says:
        assert text in errors[0], f"{text!r} not in {errors[0]!r}"
    assert "nothing was changed" in errors[0]


def assert_one_swarm(prov, managers: list[str], expect_nodes: int) -> list[dict]:
    """Every manager sees the same cluster, the same leader and the same nodes, each
    host once, all Ready, every manager Reachable."""
    views = {m: node_ls(m) for m in managers}
    ids = {m: sorted(n["ID"] for n in v) for m, v in views.items()}
    assert len(set(map(tuple, ids.values()))) == 1, f"managers disagree: {ids}"
    assert len({cluster_id(m) for m in managers}) == 1
    nodes = next(iter(views.values()))
    names = Counter(n["Hostname"] for n in nodes)
    assert all(c == 1 for c in names.values()), f"a host is listed twice: {names}"
    assert len(nodes) == expect_nodes, nodes
    assert {n["Status"] for n in nodes} == {"Ready"}, nodes
    statuses = sorted(n["ManagerStatus"] for n in nodes if n["ManagerStatus"])
    assert statuses == ["Leader", "Reachable", "Reachable"], statuses
    return nodes


# --------------------------------------------------------------------------- 1. backup

def test_backup_while_the_service_answers(state):
    prov = state["prov"]
    with Poller(addresses(prov)) as poll:
        done = swarmctl("backup", str(prov.inventory), "--keep", "2", "--json")
    assert done.rc == 0, done.output
    assert poll.rounds > 0 and poll.answered == poll.rounds, \
        f"my-web did not answer in {poll.rounds - poll.answered} of {poll.rounds} rounds"
    result = json.loads(done.stdout)
    archive = Path(result["archive"])
    assert archive.parent == state["backups"]
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert stat.S_IMODE(archive.parent.stat().st_mode) == 0o700
    sidecar = archive.with_name(archive.name + ".sha256").read_text().split()
    assert sidecar == [result["sha256"], archive.name]
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        meta = json.loads(tar.extractfile("swarmctl-backup.json").read())
    assert "swarm/state.json" in names and "swarm/raft/wal-v3-encrypted" in names
    leader = next(n for n in node_ls(prov.leader) if n["ManagerStatus"] == "Leader")
    assert meta["hostname"] != leader["Hostname"], "the leader was stopped for the backup"
    assert meta["cluster_id"] == cluster_id(prov.leader)
    assert len(meta["managers"]) == 3 and meta["engine_version"].startswith("20.10")
    # The backed-up manager is back as a Reachable manager, my-web runs 3 tasks again.
    assert_one_swarm(prov, [container(prov, m) for m in ("m1", "m2", "m3")], 4)
    wait_for("my-web 3/3", lambda: running(prov.leader) == 3)
    state["archive"] = archive
    state["cluster"] = meta["cluster_id"]


def test_keep_prunes_the_oldest(state):
    prov = state["prov"]
    first = state["archive"]
    time.sleep(1)  # archive names are per second
    again = swarmctl("backup", str(prov.inventory), "--keep", "1")
    assert again.rc == 0, again.output
    left = sorted(state["backups"].glob("swarm-*.tar.gz"))
    assert len(left) == 1 and left[0] != first, left
    assert not first.exists() and not first.with_name(first.name + ".sha256").exists()
    assert f"removed {first}" in " ".join(again.stderr.split())
    state["archive"] = left[0]
    for path in [*state["backups"].iterdir(), *state["home"].joinpath("runs").rglob("*")]:
        if path.is_file() and path.suffix != ".gz":
            assert SECRET_VALUE not in path.read_text(errors="replace"), path


# --------------------------------------------------------------------------- 2.-3. recover

def test_recover_is_refused_while_quorum_holds(state):
    refused = swarmctl("recover", str(state["prov"].inventory))
    assert_refused_after_reading(refused, "quorum is not lost", "run swarmctl provision instead")


def test_recover_after_losing_two_managers(state):
    prov = state["prov"]
    m1, m2, m3 = (container(prov, m) for m in ("m1", "m2", "m3"))
    # The nodes are containers this suite started: stop two of them.
    subprocess.run(["docker", "stop", m2, m3], check=True, capture_output=True, timeout=120)
    wait_for("quorum lost on m1", lambda: no_leader(m1))

    refused = swarmctl("backup", str(prov.inventory))
    assert_refused_after_reading(refused, "quorum lost: run swarmctl recover")

    first = swarmctl("recover", str(prov.inventory))
    assert first.rc == 0, first.output
    text = " ".join(first.output.split())
    assert f"forced a new cluster on {LAB}-m1" in text
    assert f"{LAB}-m2, {LAB}-m3 did not answer" in text
    # The swarm accepts changes again, and my-web is still declared and running.
    assert subprocess_rc(m1, "docker", "service", "update", "--detach", "--label-add",
                         "drill=recovered", "my-web") == 0
    assert running(m1) >= 1

    # The lost managers come back with their old raft state.
    subprocess.run(["docker", "start", m2, m3], check=True, capture_output=True, timeout=120)
    wait_for("m2 and m3 answer", lambda: all(
        subprocess_rc(m, "docker", "info") == 0 for m in (m2, m3)))
    second = swarmctl("recover", str(prov.inventory))
    assert second.rc == 0, second.output
    nodes = assert_one_swarm(prov, [m1, m2, m3], 4)
    assert {n["Hostname"] for n in nodes} == {f"{LAB}-{h}" for h in ("m1", "m2", "m3", "w1")}
    assert cluster_id(m1) == state["cluster"]
    wait_for("my-web 3/3 after the recovery", lambda: running(m1) == 3)
    # Run again: quorum holds and nobody holds old state.
    assert_refused_after_reading(swarmctl("recover", str(prov.inventory)), "quorum is not lost")


# --------------------------------------------------------------------------- 4. restore

def test_restore_on_bare_nodes(state):
    from swarmctl.lab import lab as labmod

    prov = state["prov"]
    before = {n.name: n.address for n in prov.lab.nodes}
    labmod.down(LAB)
    fresh = labmod.up(LAB, 3, 1, "bookworm")
    assert {n.name: n.address for n in fresh.nodes} == before
    inv = str(fresh.inventory_path)

    with tarfile.open(state["archive"]) as tar:
        meta_host = json.loads(tar.extractfile("swarmctl-backup.json").read())["host"]
    other = next(h for h in (f"{LAB}-m1", f"{LAB}-m2", f"{LAB}-m3") if h != meta_host)
    wrong = swarmctl("restore", inv, str(state["archive"]), "--on", other)
    assert_refused(wrong, 2, "restore on the manager with address")

    done = swarmctl("restore", inv, str(state["archive"]))
    assert done.rc == 0, done.output
    managers = [f"{LAB}-{m}" for m in ("m1", "m2", "m3")]
    assert_one_swarm(prov, managers, 4)
    m = f"{LAB}-m1"
    assert cluster_id(m) == state["cluster"]
    assert node_exec(m, "docker", "secret", "ls", "--format", "{{.Name}}").split() == \
        ["drill_secret"]
    assert node_exec(m, "docker", "service", "ls", "--format", "{{.Name}}").split() == ["my-web"]
    # The nodes are new (no registry here): give them the image, swarm starts the tasks.
    loaded = swarmctl("images", "load", "-i", inv, "my-web:v1")
    assert loaded.rc == 0, loaded.output
    wait_for("my-web 3/3 after the restore", lambda: running(m) == 3)
    # The secret is readable by its service's tasks, on every node that runs one.
    read = 0
    for node in (*managers, f"{LAB}-w1"):
        for task in node_exec(node, "docker", "ps", "--filter",
                              "label=com.docker.swarm.service.name=my-web",
                              "--format", "{{.Names}}").split():
            assert node_exec(node, "docker", "exec", task, "/bin/busybox", "cat",
                             "/run/secrets/drill_secret").strip() == SECRET_VALUE
            read += 1
    assert read == 3

    again = swarmctl("provision", "--full", inv)
    assert again.rc == 0, again.output
    assert sum(changed_counts(run_dir_from(again.output)).values()) == 0
