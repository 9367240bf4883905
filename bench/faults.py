"""Fault tolerance, measured: faults injected into one lab under load, each undone after.

    python -m bench faults [--workers 2] [--only leader-stop,worker-stop,...] [--seed N]

One bookworm lab (3 managers + 2 workers by default) is provisioned once, a secret and
my-web (one replica fewer than there are nodes, at most one per node, published in host
mode on 8080: this kernel has no IPVS for the routing mesh) are deployed, and then each
scenario runs in turn while bench.load sends requests to every node's 8080 (a fixed
count and time limit, a timeout per request, the next node on a refused connection):

- leader-stop      the leader's container stopped: time to elect a new leader, replicas
                   back; then started again: back as Reachable;
- leader-kill      the leader's dockerd killed with SIGKILL (systemd starts it again);
- worker-stop      a worker running a task stopped hard: time to Down, then until the
                   desired replicas run again; started again: Ready;
- worker-partition a worker cut off with iptables inside the node (2377/tcp, 7946/tcp+udp,
                   4789/udp to and from every other node): Down, rescheduled; healed:
                   Ready, one node entry per host;
- quorum-loss      two managers of three stopped: `docker node ls` on the survivor fails,
                   requests are still answered; started again: quorum back by itself;
- ssh-loss         SSH to a worker cut (a TCP reset for port 22) in the middle of a
                   `swarmctl provision` run: the run fails naming the host, the swarm is
                   unchanged, the next run after SSH is back converges.

Each scenario prints requests sent and failed, the longest gap without an answer, the
time until the swarm is healthy again, and anything lost (services, desired replicas,
secrets, the cluster ID, node entries); then the lab is restored (containers started,
firewall rules removed, every node Ready, the service at its replicas) for the next one.
A table closes the run; the figures go to bench/results/latest.json (section faults).
The tests in tests/e2e/test_faults_swarm.py run the same scenarios and assert their
correctness claims. BENCH_KEEP_LABS=1 keeps the lab.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/faults.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml

from bench import facts
from bench.load import Load

SERVICE = "my-web"
SECRET = "faults_secret"
PORT = 8080
CHAIN = "SWARMCTL-FAULT"  # the iptables chain this suite adds inside a node (and removes)
SWARM_PORTS = (("tcp", 2377), ("tcp", 7946), ("udp", 7946), ("udp", 4789))
SCENARIOS = ("leader-stop", "leader-kill", "worker-stop", "worker-partition", "quorum-loss",
             "ssh-loss")


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} load {facts.load_average()[0]:.1f}] {text}",
          flush=True)


# --------------------------------------------------------------------------- the lab


@dataclass
class FaultLab:
    """A provisioned lab with my-web and a secret deployed: what the scenarios act on."""

    lab: Any  # swarmctl.lab.lab.Lab
    cli: list[str]
    spec: Path
    replicas: int
    baseline: dict[str, Any] = field(default_factory=dict)  # snapshot() after the deploy

    @property
    def inventory(self) -> Path:
        return self.lab.inventory_path

    @property
    def addresses(self) -> list[str]:
        return [n.address for n in self.lab.nodes]

    def container(self, hostname: str) -> str:
        return self.lab.node(hostname).container


def checkout_cli() -> list[str]:
    """This checkout's swarmctl when run from it, else the one installed next to Python."""
    from bench.__main__ import REPO, swarmctl_argv

    if (REPO / "swarmctl").is_dir() and Path.cwd() == REPO:
        return [sys.executable, "-m", "swarmctl"]
    return swarmctl_argv()


def spec_for(replicas: int) -> dict[str, Any]:
    return {
        "secrets": [{"name": SECRET, "value": f"faults-{os.urandom(8).hex()}"}],
        "services": [{
            "name": SERVICE, "image": "my-web:v1", "replicas": replicas,
            "publish": [{"published": PORT, "target": 80, "mode": "host"}],
            "max_replicas_per_node": 1, "secrets": [SECRET],
        }],
    }


def cli_run(cli: list[str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([*cli, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200"}, check=False)


def setup(name: str, managers: int = 3, workers: int = 2, distro: str = "bookworm",
          cli: list[str] | None = None, folder: Path | None = None) -> FaultLab:
    """A fresh lab, provisioned, with my-web (nodes - 1 replicas) and a secret."""
    from bench.__main__ import deploy_available
    from swarmctl.lab import lab as labmod

    deploy_available()  # builds my-web:v1 when missing
    cli = cli or checkout_cli()
    labmod.down(name)
    started = time.monotonic()
    the_lab = labmod.up(name, managers, workers, distro)
    inv = str(the_lab.inventory_path)
    for step in (("provision", inv), ("images", "load", "-i", inv, "my-web:v1")):
        proc = cli_run(cli, *step)
        if proc.returncode:
            raise RuntimeError(f"swarmctl {step[0]} failed (exit {proc.returncode}):\n"
                               f"{(proc.stdout + proc.stderr)[-3000:]}")
    replicas = managers + workers - 1
    folder = folder or Path(tempfile.mkdtemp(prefix=f"{name}-"))
    spec = folder / "faults-web.yml"
    spec.write_text(yaml.safe_dump(spec_for(replicas)))
    spec.chmod(0o600)  # it holds the secret's value
    proc = cli_run(cli, "deploy", "-i", inv, str(spec), "--timeout", "600")
    if proc.returncode:
        raise RuntimeError(f"swarmctl deploy failed (exit {proc.returncode}):\n"
                           f"{(proc.stdout + proc.stderr)[-3000:]}")
    fl = FaultLab(the_lab, cli, spec, replicas)
    check_iptables(fl)
    fl.baseline = snapshot(fl)
    log(f"lab {name}: {managers}+{workers} provisioned, {SERVICE} x{replicas} and a secret "
        f"deployed in {time.monotonic() - started:.0f}s (cluster {fl.baseline['cluster_id']})")
    return fl


def teardown(name: str) -> None:
    from swarmctl.lab import lab as labmod

    if not os.environ.get("BENCH_KEEP_LABS") and not os.environ.get("SWARMCTL_KEEP_LABS"):
        labmod.down(name)


# --------------------------------------------------------------------------- reading a node


def dexec(container: str, *cmd: str, timeout: float = 20) -> subprocess.CompletedProcess:
    """A command inside a lab node (a container this suite started)."""
    try:
        return subprocess.run(["docker", "exec", container, *cmd], capture_output=True,
                              text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, 124, "", "timed out")


def docker_host(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                          check=False)


def running(container: str) -> bool:
    proc = docker_host("inspect", "-f", "{{.State.Running}}", container, timeout=30)
    return proc.stdout.strip() == "true"


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def node_ls(container: str) -> list[dict[str, Any]] | None:
    """`docker node ls` on one manager, or None when it cannot answer (no quorum, down)."""
    proc = dexec(container, "docker", "node", "ls", "--format", "{{json .}}", timeout=15)
    return _json_lines(proc.stdout) if proc.returncode == 0 else None


def node_ls_error(container: str) -> str:
    proc = dexec(container, "docker", "node", "ls", timeout=40)
    return "" if proc.returncode == 0 else (proc.stderr.strip() or f"exit {proc.returncode}")


def any_manager(fl: FaultLab, skip: tuple[str, ...] = ()) -> tuple[str, list[dict]] | None:
    """(hostname, node list) from the first manager that answers, skipping `skip`."""
    for m in fl.lab.managers:
        if m.name in skip:
            continue
        nodes = node_ls(m.container)
        if nodes is not None:
            return m.name, nodes
    return None


def leader(nodes: list[dict[str, Any]]) -> str | None:
    found = [n["Hostname"] for n in nodes if n.get("ManagerStatus") == "Leader"]
    return found[0] if len(found) == 1 else None


def tasks_running(container: str, nodes: list[dict[str, Any]]) -> list[str] | None:
    """The Ready nodes that run a task of the service, per `docker service ps`."""
    proc = dexec(container, "docker", "service", "ps", SERVICE, "--filter",
                 "desired-state=running", "--format", "{{json .}}", timeout=15)
    if proc.returncode:
        return None
    ready = {n["Hostname"] for n in nodes if n["Status"] == "Ready"}
    return [t["Node"] for t in _json_lines(proc.stdout)
            if t["CurrentState"].startswith("Running") and t["Node"] in ready]


def snapshot(fl: FaultLab, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """What must survive a fault: cluster ID, services and their replicas, secrets, nodes."""
    got = any_manager(fl, skip)
    if got is None:
        return {"error": "no manager answers"}
    name, nodes = got
    c = fl.container(name)
    services = {}
    for line in dexec(c, "docker", "service", "ls", "--format", "{{.Name}}").stdout.split():
        spec = dexec(c, "docker", "service", "inspect", line, "--format",
                     "{{json .Spec.Mode}}").stdout
        services[line] = (json.loads(spec).get("Replicated") or {}).get("Replicas")
    return {
        "cluster_id": dexec(c, "docker", "info", "--format",
                            "{{.Swarm.Cluster.ID}}").stdout.strip(),
        "services": services,
        "secrets": sorted(dexec(c, "docker", "secret", "ls", "--format",
                                "{{.Name}}").stdout.split()),
        "nodes": sorted(n["Hostname"] for n in nodes),
    }


def lost(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What `after` lacks of `before` (empty lists and None when nothing was lost)."""
    if "error" in after:
        return {"read": after["error"]}
    nodes = after["nodes"]
    return {
        "services": sorted(set(before["services"]) - set(after["services"])),
        "replicas": {s: [r, after["services"].get(s)] for s, r in before["services"].items()
                     if s in after["services"] and after["services"][s] != r},
        "secrets": sorted(set(before["secrets"]) - set(after["secrets"])),
        "cluster_id": None if after["cluster_id"] == before["cluster_id"]
        else [before["cluster_id"], after["cluster_id"]],
        "nodes_missing": sorted(set(before["nodes"]) - set(nodes)),
        "nodes_duplicate": sorted({n for n in nodes if nodes.count(n) > 1}),
        "nodes_extra": sorted(set(nodes) - set(before["nodes"])),
    }


def nothing_lost(found: dict[str, Any]) -> bool:
    return not any(found.values())


def health(fl: FaultLab) -> dict[str, Any]:
    """The swarm as a whole: every node once and Ready, one leader, every other manager
    Reachable, the service at its replicas."""
    got = any_manager(fl)
    if got is None:
        return {"healthy": False, "why": "no manager answers"}
    name, nodes = got
    names = [n["Hostname"] for n in nodes]
    managers = [n for n in nodes if n.get("ManagerStatus")]
    statuses = sorted(n["ManagerStatus"] for n in managers)
    tasks = tasks_running(fl.container(name), nodes) or []
    why = []
    if sorted(names) != sorted(n.name for n in fl.lab.nodes):
        why.append(f"nodes {names}")
    if any(n["Status"] != "Ready" for n in nodes):
        why.append("not all Ready: " + ", ".join(f"{n['Hostname']} {n['Status']}"
                                                 for n in nodes if n["Status"] != "Ready"))
    if statuses != sorted(["Leader"] + ["Reachable"] * (len(fl.lab.managers) - 1)):
        why.append(f"managers {statuses}")
    if len(tasks) != fl.replicas:
        why.append(f"{len(tasks)}/{fl.replicas} tasks running")
    return {"healthy": not why, "why": "; ".join(why), "leader": leader(nodes),
            "tasks": tasks}


def wait_until(what: Callable[[], Any], timeout: float, every: float = 0.5) -> Any:
    """`what()` once it is truthy, polled; None after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        got = what()
        if got:
            return got
        if time.monotonic() >= deadline:
            return None
        time.sleep(every)


def check_iptables(fl: FaultLab) -> None:
    """iptables must work inside every node (the partition and SSH scenarios need it)."""
    for node in fl.lab.nodes:
        proc = dexec(node.container, "iptables", "-w", "-S", "INPUT")
        if proc.returncode:
            raise RuntimeError(f"iptables does not work in {node.name}: {proc.stderr.strip()}")


def firewall(container: str, rules: list[list[str]]) -> None:
    """Add `rules` (iptables arguments after `-A CHAIN`) in a chain of this suite, hooked
    first into INPUT and OUTPUT."""
    script = [f"iptables -w -N {CHAIN}", f"iptables -w -I INPUT 1 -j {CHAIN}",
              f"iptables -w -I OUTPUT 1 -j {CHAIN}"]
    script += [f"iptables -w -A {CHAIN} " + " ".join(r) for r in rules]
    proc = dexec(container, "sh", "-ec", "; ".join(script))
    if proc.returncode:
        raise RuntimeError(f"iptables in {container[:12]}: {proc.stderr.strip()}")


def heal(container: str) -> None:
    """Remove this suite's chain from a node (nothing when it has none)."""
    dexec(container, "sh", "-c", f"while iptables -w -D INPUT -j {CHAIN} 2>/dev/null; do :; "
          f"done; while iptables -w -D OUTPUT -j {CHAIN} 2>/dev/null; do :; done; "
          f"iptables -w -F {CHAIN} 2>/dev/null; iptables -w -X {CHAIN} 2>/dev/null; true")


def restore(fl: FaultLab, timeout: float = 240) -> float:
    """Undo every fault (containers started, chains removed, dockerd started) and wait until
    the swarm is healthy; returns the seconds it took. Raises when it does not heal."""
    started = time.monotonic()
    for node in fl.lab.nodes:
        if not running(node.container):
            docker_host("start", node.container)
    for node in fl.lab.nodes:
        heal(node.container)
        if dexec(node.container, "systemctl", "is-active", "docker").stdout.strip() != "active":
            dexec(node.container, "sh", "-c", "systemctl reset-failed docker docker.socket; "
                  "systemctl start docker", timeout=120)
    state = wait_until(lambda: health(fl)["healthy"] or None, timeout, every=1)
    if state is None:
        raise RuntimeError(f"the lab did not heal in {timeout:.0f}s: {health(fl)['why']}")
    return time.monotonic() - started


# --------------------------------------------------------------------------- scenarios


class Clock:
    """Seconds since the fault, for the figures."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def __call__(self) -> float:
        return round(time.monotonic() - self.t0, 1)


def _load(fl: FaultLab, args: argparse.Namespace, first: tuple[str, ...] = ()) -> Load:
    """The load on every node, the nodes in `first` (hostnames) tried first: the client
    stays with the node that answered last, so the fault's node is the one it uses."""
    nodes = sorted(fl.lab.nodes, key=lambda n: n.name not in first)
    return Load([n.address for n in nodes], port=PORT, expect=b"my-web", count=args.requests,
                duration=args.time_limit, interval=args.interval, timeout=args.timeout)


def _result(name: str, fault: str, load: Load, figures: dict[str, Any],
            checks: dict[str, bool], found: dict[str, Any], healthy: float | None
            ) -> dict[str, Any]:
    r = load.result
    return {
        "scenario": name, "fault": fault,
        "sent": r.sent, "failed": r.failed, "failed_share": round(r.failed / r.sent, 4)
        if r.sent else None, "longest_gap": round(r.longest_gap, 2),
        "retries": r.attempts - r.sent, "errors": dict(r.errors),
        "load_seconds": round(r.duration, 1),
        "time_to_healthy": round(healthy, 1) if healthy is not None else None,
        "figures": figures, "checks": checks, "lost": found,
        "ok": all(checks.values()) and nothing_lost(found),
    }


def _stop_leader(fl: FaultLab, args: argparse.Namespace, how: str) -> dict[str, Any]:
    """The leader's container stopped (`stop`) or its dockerd SIGKILLed (`kill`)."""
    got = any_manager(fl)
    assert got is not None
    old = leader(got[1])
    others = tuple(m.name for m in fl.lab.managers if m.name != old)
    figures: dict[str, Any] = {"old_leader": old}
    with _load(fl, args, (old,)) as load:
        time.sleep(args.settle)
        clock = Clock()
        if how == "stop":
            docker_host("stop", "-t", "0", fl.container(old))
            fault = f"container of the leader {old} stopped"
        else:
            dexec(fl.container(old), "systemctl", "kill", "--kill-who=main", "--signal=SIGKILL",
                  "docker.service")
            fault = f"dockerd of the leader {old} killed with SIGKILL"

        def new_leader():
            for m in others:
                nodes = node_ls(fl.container(m))
                if nodes and leader(nodes):
                    return leader(nodes)
            if how == "kill":  # the old leader's engine is back: it may have won again
                nodes = node_ls(fl.container(old))
                now = leader(nodes) if nodes else None
                return now if now and (now != old or clock() > 5) else None
            return None
        elected = wait_until(new_leader, args.wait)
        figures["elected_after"] = clock() if elected else None
        figures["new_leader"] = elected
        healthy_at = None
        if how == "stop":
            back = wait_until(lambda: (lambda h: h if h and len(
                tasks_running(fl.container(h[0]), h[1]) or []) == fl.replicas else None)(
                any_manager(fl, (old,))), args.wait)
            figures["replicas_back_after"] = clock() if back else None
            healthy_at = figures["replicas_back_after"]
            docker_host("start", fl.container(old))
            restart = Clock()
        else:
            restart = clock

        def old_reachable():
            got = any_manager(fl, (old,))
            return got and any(n["Hostname"] == old and n["Status"] == "Ready"
                               and n.get("ManagerStatus") in ("Reachable", "Leader")
                               for n in got[1])
        back = wait_until(old_reachable, args.wait)
        figures["old_leader_reachable_after"] = restart() if back else None
        whole = wait_until(lambda: health(fl)["healthy"], args.wait, every=1)
        if how == "kill":
            healthy_at = clock() if whole else None
        time.sleep(args.settle)
    after = snapshot(fl)
    checks = {"a leader elected": elected is not None,
              "old leader back Reachable": back is not None, "swarm whole": bool(whole)}
    if how == "stop":
        checks["a different node leads"] = elected is not None and elected != old
        checks["replicas back while it was down"] = figures["replicas_back_after"] is not None
    return _result(f"leader-{how}", fault, load, figures, checks, lost(fl.baseline, after),
                   healthy_at)


def leader_stop(fl: FaultLab, args: argparse.Namespace) -> dict[str, Any]:
    return _stop_leader(fl, args, "stop")


def leader_kill(fl: FaultLab, args: argparse.Namespace) -> dict[str, Any]:
    return _stop_leader(fl, args, "kill")


def _worker_with_task(fl: FaultLab) -> str:
    got = any_manager(fl)
    assert got is not None
    tasks = tasks_running(fl.container(got[0]), got[1]) or []
    workers = [w.name for w in fl.lab.workers if w.name in tasks]
    if not workers:
        raise RuntimeError(f"no worker runs a task of {SERVICE}: {tasks}")
    return workers[-1]


def _lose_worker(fl: FaultLab, args: argparse.Namespace, how: str) -> dict[str, Any]:
    victim = _worker_with_task(fl)
    c = fl.container(victim)
    figures: dict[str, Any] = {"worker": victim}
    with _load(fl, args, (victim,)) as load:
        time.sleep(args.settle)
        clock = Clock()
        if how == "stop":
            docker_host("kill", c)  # hard: SIGKILL to the node's init, no clean shutdown
            fault = f"worker {victim} stopped hard (docker kill)"
        else:
            others = [n.address for n in fl.lab.nodes if n.name != victim]
            rules = [[*(("-s", ip) if chain_dir == "in" else ("-d", ip)), "-p", proto,
                      f"--{port_dir}", str(port), "-j", "DROP"]
                     for ip in others for proto, port in SWARM_PORTS
                     for chain_dir in ("in", "out") for port_dir in ("dport", "sport")]
            firewall(c, rules)
            fault = (f"worker {victim} partitioned: iptables drops 2377/tcp, 7946/tcp+udp, "
                     "4789/udp to and from the other nodes")

        def status_of():
            got = any_manager(fl)
            return got and next((n["Status"] for n in got[1] if n["Hostname"] == victim), None)
        down = wait_until(lambda: status_of() == "Down", args.wait)
        figures["down_after"] = clock() if down else None
        down_clock = Clock()

        def replicas_back():
            got = any_manager(fl)
            if not got:
                return None
            tasks = tasks_running(fl.container(got[0]), got[1]) or []
            return len(tasks) == fl.replicas and victim not in tasks
        back = wait_until(replicas_back, args.wait)
        figures["replicas_back_after_down"] = down_clock() if back else None
        figures["replicas_back_after"] = clock() if back else None
        healthy_at = figures["replicas_back_after"]
        # The node returns.
        returned = Clock()
        if how == "stop":
            docker_host("start", c)
        else:
            heal(c)
        ready = wait_until(lambda: status_of() == "Ready", args.wait)
        figures["ready_after_return"] = returned() if ready else None
        whole = wait_until(lambda: health(fl)["healthy"], args.wait, every=1)
        time.sleep(args.settle)
    after = snapshot(fl)
    found = lost(fl.baseline, after)
    checks = {"marked Down": down is not None, "replicas back": bool(back),
              "Ready again": ready is not None, "swarm whole": bool(whole),
              "one entry per node": not found.get("nodes_duplicate") and not
              found.get("nodes_extra")}
    return _result(f"worker-{how}", fault, load, figures, checks, found, healthy_at)


def worker_stop(fl: FaultLab, args: argparse.Namespace) -> dict[str, Any]:
    return _lose_worker(fl, args, "stop")


def worker_partition(fl: FaultLab, args: argparse.Namespace) -> dict[str, Any]:
    return _lose_worker(fl, args, "partition")


def quorum_loss(fl: FaultLab, args: argparse.Namespace) -> dict[str, Any]:
    """Two managers of three stopped (the leader and one other), then started again."""
    got = any_manager(fl)
    assert got is not None
    old = leader(got[1])
    stopped = [old, next(m.name for m in fl.lab.managers if m.name != old)]
    survivor = next(m.name for m in fl.lab.managers if m.name not in stopped)
    figures: dict[str, Any] = {"stopped": stopped, "survivor": survivor}
    with _load(fl, args, tuple(stopped)) as load:
        time.sleep(args.settle)
        clock = Clock()
        for m in stopped:
            docker_host("stop", "-t", "0", fl.container(m))
        fault = f"managers {' and '.join(stopped)} stopped (2 of 3)"
        # The survivor answers at first (it still leads until its election timeout), then
        # `docker node ls` times out once, then fails at once: "does not have a leader".
        error = wait_until(lambda: node_ls_error(fl.container(survivor)), args.wait)
        figures["node_ls_fails_after"] = clock() if error else None
        says = wait_until(lambda: (lambda e: e if "leader" in e else None)(
            node_ls_error(fl.container(survivor))), args.wait)
        figures["no_leader_reported_after"] = clock() if says else None
        figures["survivor_says"] = (says or error or "").splitlines()[-1][-160:] or None
        check = cli_run(fl.cli, "status", "-i", str(fl.inventory), "--check", timeout=300)
        figures["status_check_exit"] = check.returncode
        figures["status_check_says"] = next(
            (" ".join(ln.split()) for ln in (check.stdout + check.stderr).splitlines()
             if "quorum" in ln.lower()), None)
        # While quorum is lost: the tasks that still run keep answering.
        during = load.result.ok
        time.sleep(args.hold)
        figures["answered_without_quorum"] = load.result.ok - during
        figures["quorum_lost_for"] = clock()
        restart = Clock()
        for m in stopped:
            docker_host("start", fl.container(m))
        back = wait_until(lambda: (lambda n: n and leader(n))(node_ls(fl.container(survivor))),
                          args.wait)
        figures["quorum_back_after_start"] = restart() if back else None
        whole = wait_until(lambda: health(fl)["healthy"], args.wait, every=1)
        figures["healthy_after_start"] = restart() if whole else None
        time.sleep(args.settle)
    after = snapshot(fl)
    checks = {"quorum loss reported": says is not None,
              "status --check reports it": check.returncode != 0
              and bool(figures["status_check_says"]),
              "requests answered without quorum": figures["answered_without_quorum"] > 0,
              "quorum back without intervention": back is not None,
              "swarm whole": bool(whole)}
    return _result("quorum-loss", fault, load, figures, checks, lost(fl.baseline, after),
                   figures["healthy_after_start"])


def ssh_loss(fl: FaultLab, args: argparse.Namespace) -> dict[str, Any]:
    """SSH to a host cut in the middle of a `swarmctl provision` run: a scale-out by one
    bare worker, cut a seeded moment after the run starts installing Docker (the new
    host is the one the run needs: a converged host is not contacted after its read)."""
    from swarmctl.lab import lab as labmod

    rng = random.Random(args.seed)
    delay = round(rng.uniform(1.0, 8.0), 2)
    before = {n.name for n in fl.lab.nodes}
    fl.lab = labmod.up(fl.lab.name, len(fl.lab.managers), len(fl.lab.workers) + 1,
                       fl.lab.distro)
    victim = next(n.name for n in fl.lab.nodes if n.name not in before)
    c = fl.container(victim)
    # The cut is a firewall rule inside the host: a bare lab node has no iptables yet
    # (Docker's package brings it), most VMs do.
    proc = dexec(c, "sh", "-c", "DEBIAN_FRONTEND=noninteractive apt-get install -y -q "
                 "--no-install-recommends iptables", timeout=300)
    if proc.returncode:
        raise RuntimeError(f"installing iptables on {victim} failed: {proc.stderr[-500:]}")
    figures: dict[str, Any] = {"host": victim, "seed": args.seed,
                               "cut_after_install_start": delay}
    with _load(fl, args) as load:
        clock = Clock()
        proc = subprocess.Popen([*fl.cli, "provision", str(fl.inventory)], text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env={**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"})
        lines: list[str] = []
        cut = threading.Event()

        def cut_ssh():
            try:  # a TCP reset for port 22: the run's open connection breaks at once
                firewall(c, [["-p", "tcp", "--dport", "22", "-j", "REJECT", "--reject-with",
                              "tcp-reset"]])
            except RuntimeError as exc:
                figures["cut_error"] = str(exc)
                return
            figures["cut_at"] = clock()
            cut.set()

        assert proc.stdout is not None
        timer = None
        for line in proc.stdout:
            lines.append(line)
            if timer is None and line.startswith("▶ Install and configure Docker"):
                timer = threading.Timer(delay, cut_ssh)
                timer.start()
        rc = proc.wait()
        if timer is not None:
            timer.cancel()
        figures["cut"] = cut.is_set()
        figures["run_exit"] = rc
        figures["run_seconds"] = clock()
        output = "".join(lines)
        failure = [" ".join(ln.split()) for ln in output.splitlines()
                   if victim in ln and ("fail" in ln.lower() or "unreachable" in ln.lower())]
        figures["failure_line"] = failure[0][:300] if failure else None
        # The rest of the swarm: the nodes it had, Ready, nothing lost, no half-joined host.
        got = any_manager(fl)
        nodes = got[1] if got else []
        figures["new_host_after_failed_run"] = next(
            (n["Status"] for n in nodes if n["Hostname"] == victim), "not a member")
        rest_ok = bool(got) and sorted(n["Hostname"] for n in nodes if n["Hostname"] != victim
                                       ) == sorted(before) and all(
            n["Status"] == "Ready" for n in nodes if n["Hostname"] != victim)
        tasks = tasks_running(fl.container(got[0]), nodes) if got else None
        mid = lost(fl.baseline, snapshot(fl))
        mid["nodes_extra"] = [n for n in mid["nodes_extra"] if n != victim]
        consistent = rest_ok and len(tasks or []) == fl.replicas and nothing_lost(mid) and \
            figures["new_host_after_failed_run"] in ("not a member", "Ready")
        figures["swarm_after_failed_run"] = "consistent" if consistent else \
            f"nodes {[(n['Hostname'], n['Status']) for n in nodes]}, tasks {tasks}, lost {mid}"
        heal(c)
        recovered = Clock()
        again = cli_run(fl.cli, "provision", str(fl.inventory))
        figures["next_run_exit"] = again.returncode
        figures["next_run_seconds"] = recovered()
        m = re.search(r"swarm of (\d+) nodes converged", again.stdout)
        figures["next_run_nodes"] = int(m.group(1)) if m else None
        whole = wait_until(lambda: health(fl)["healthy"], args.wait, every=1)
    fl.baseline["nodes"] = sorted(n.name for n in fl.lab.nodes)
    found = lost(fl.baseline, snapshot(fl))
    checks = {"the run failed": rc != 0 and cut.is_set(),
              "a line names the host": figures["failure_line"] is not None,
              "swarm consistent after the failed run": consistent,
              "next run converges": again.returncode == 0, "swarm whole": bool(whole)}
    if rc != 0 and not figures["failure_line"]:
        figures["run_output_tail"] = output[-1500:]
    if again.returncode:
        figures["next_run_output_tail"] = (again.stdout + again.stderr)[-1500:]
    return _result("ssh-loss", f"SSH to {victim} (a new worker) cut {delay}s after the run "
                   "began installing Docker", load, figures, checks, found,
                   recovered() if whole else None)


RUNNERS: dict[str, Callable[[FaultLab, argparse.Namespace], dict[str, Any]]] = {
    "leader-stop": leader_stop, "leader-kill": leader_kill, "worker-stop": worker_stop,
    "worker-partition": worker_partition, "quorum-loss": quorum_loss, "ssh-loss": ssh_loss,
}


def run_scenario(fl: FaultLab, name: str, args: argparse.Namespace) -> dict[str, Any]:
    """One scenario, then the lab restored (also when the scenario raised)."""
    log(f"scenario {name}")
    restore(fl)  # from a healthy swarm (a no-op when it is)
    try:
        result = RUNNERS[name](fl, args)
    finally:
        result_restore = restore(fl)
    result["restore_seconds"] = round(result_restore, 1)
    print_result(result)
    return result


# --------------------------------------------------------------------------- output


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def lost_text(found: dict[str, Any]) -> str:
    return "nothing" if nothing_lost(found) else ", ".join(
        f"{k} {v}" for k, v in found.items() if v)


def print_result(r: dict[str, Any]) -> None:
    print(f"\n{r['scenario']}: {r['fault']}")
    print(f"  requests sent {r['sent']}, failed {r['failed']}, longest gap without an answer "
          f"{r['longest_gap']:.2f}s, retries on another node {r['retries']}")
    print(f"  time to healthy {_s(r['time_to_healthy'])}; lost: {lost_text(r['lost'])}")
    for k, v in r["figures"].items():
        if not k.endswith("_tail"):
            print(f"  {k}: {v}")
    for k, v in r["checks"].items():
        print(f"  [{'ok' if v else 'FAILED'}] {k}")
    for k in ("run_output_tail", "next_run_output_tail"):
        if k in r["figures"]:
            print(f"  {k}:\n{r['figures'][k]}")


def key_figure(r: dict[str, Any]) -> str:
    f = r["figures"]
    if r["scenario"].startswith("leader"):
        return (f"new leader {f.get('new_leader')} after {_s(f.get('elected_after'))}; "
                f"old back Reachable {_s(f.get('old_leader_reachable_after'))} after start")
    if r["scenario"].startswith("worker"):
        return (f"Down after {_s(f.get('down_after'))}, replicas back "
                f"{_s(f.get('replicas_back_after_down'))} after Down; Ready "
                f"{_s(f.get('ready_after_return'))} after return")
    if r["scenario"] == "quorum-loss":
        return (f"no leader reported after {_s(f.get('no_leader_reported_after'))}, "
                f"{f.get('answered_without_quorum')} answers without quorum, quorum back "
                f"{_s(f.get('quorum_back_after_start'))} after start")
    return (f"run exit {f.get('run_exit')}, swarm {f.get('swarm_after_failed_run')}; next "
            f"run exit {f.get('next_run_exit')}, {f.get('next_run_nodes')} nodes")


def table(results: list[dict[str, Any]]) -> str:
    rows = [("scenario", "sent", "failed", "longest gap", "healthy after", "lost", "checks",
             "figures")]
    for r in results:
        rows.append((r["scenario"], str(r["sent"]), str(r["failed"]), f"{r['longest_gap']:.1f} s",
                     _s(r["time_to_healthy"]), lost_text(r["lost"]),
                     "ok" if r["ok"] else "FAILED", key_figure(r)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True))
                     + "  " + row[-1] for row in rows)


# --------------------------------------------------------------------------- bench command


def bench_faults(args: argparse.Namespace) -> dict[str, Any]:
    only = [s.strip() for s in args.only.split(",")] if args.only else list(SCENARIOS)
    unknown = sorted(set(only) - set(SCENARIOS))
    if unknown:
        sys.exit(f"unknown scenario {', '.join(unknown)}: choose from {', '.join(SCENARIOS)}")
    if args.seed is None:
        args.seed = int(time.time())
    log(f"faults: seed {args.seed}, scenarios {', '.join(only)}")
    name = f"{args.prefix}-faults"
    started = time.monotonic()
    results: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp:
            fl = setup(name, 3, args.workers, "bookworm", folder=Path(tmp))
            for scenario in only:
                results.append(run_scenario(fl, scenario, args))
    finally:
        teardown(name)
    print("\n" + table(results))
    return {"nodes": f"3+{args.workers}", "seed": args.seed, "requests": args.requests,
            "time_limit": args.time_limit, "interval": args.interval,
            "timeout": args.timeout, "seconds": round(time.monotonic() - started),
            "load_average": facts.load_average(), "scenarios": results}


def add_parser(sub) -> None:
    f = sub.add_parser("faults", help="faults injected into one lab under load")
    f.add_argument("--workers", type=int, default=2, choices=(1, 2))
    f.add_argument("--only", help=f"comma-separated scenarios (default all: {','.join(SCENARIOS)})")
    f.add_argument("--seed", type=int, help="seed of the SSH cut's moment (default: the time)")
    f.add_argument("--requests", type=int, default=20_000,
                   help="at most this many requests per scenario (default 20000)")
    f.add_argument("--time-limit", type=float, default=300,
                   help="load stops after this many seconds per scenario (default 300)")
    f.add_argument("--interval", type=float, default=0.05,
                   help="seconds between two requests (default 0.05)")
    f.add_argument("--timeout", type=float, default=1.0,
                   help="connect/read timeout per request and node (default 1)")
    f.add_argument("--wait", type=float, default=120,
                   help="longest wait for any one state (default 120 s)")
    f.add_argument("--hold", type=float, default=10,
                   help="seconds the swarm stays without quorum (default 10)")
    f.add_argument("--settle", type=float, default=2,
                   help="seconds of load before a fault and after the heal (default 2)")


def defaults(**over: Any) -> argparse.Namespace:
    """The bench command's options with their defaults (for the tests)."""
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["faults"])
    for k, v in over.items():
        setattr(args, k, v)
    return args


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench/faults.py", description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", default="bench")
    parser.add_argument("--results", type=Path,
                        default=Path(__file__).resolve().parent / "results")
    add_parser(parser.add_subparsers(dest="command", required=False))
    args = parser.parse_args(["faults", *(argv if argv is not None else sys.argv[1:])])
    from bench.__main__ import save

    save("faults", bench_faults(args), args.results)


if __name__ == "__main__":
    main()
