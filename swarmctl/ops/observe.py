"""The observation pass: one parallel read of every inventory host, changes nothing.

Each host runs one small python3 script over plain SSH (swarmctl.ops.remote) that needs
nothing but the docker CLI, so it also reads a bare host: whether Docker is installed
and answers, the host's swarm state (`docker info`: LocalNodeState, NodeID, whether it
is a manager, the cluster's ID) and, on a manager, the node list (`docker node inspect`
of every node, the Engine API's objects). A manager that is in the swarm but cannot
list the nodes because the swarm has no leader reports that error: quorum is lost.

The result is plain data (`Observation`), recorded as JSON by `as_dict()` and read back
by `from_dict()`, so that the planner (swarmctl.ops.plan) is pure logic tested from
recorded observations.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

from swarmctl import paths
from swarmctl.models.inventory import Host, Inventory
from swarmctl.ops import remote

# Runs on the host with its own python3 (every supported host has it: Ansible needs it),
# after the collection's module_utils/swarm_stamp.py (fingerprint, read_stamp): the
# converged stamp is read and the fingerprint computed by the code that wrote it.
_BODY = r"""
import json, shutil, socket, subprocess
out = {"hostname": socket.gethostname(), "docker": bool(shutil.which("docker"))}
def run(*argv):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return 124, "", "timed out: " + " ".join(argv)
    return p.returncode, p.stdout, p.stderr.strip()
if out["docker"]:
    rc, o, e = run("docker", "info", "--format", "{{json .}}")
    sw = info = None
    if rc == 0:
        try:
            info = json.loads(o)
            sw = info.get("Swarm") or {}
        except (ValueError, AttributeError):
            e = o.strip()
    out["running"] = sw is not None
    if sw is None:
        out["error"] = e[-300:]
    else:
        out["state"] = sw.get("LocalNodeState") or ""
        out["node_id"] = sw.get("NodeID") or ""
        out["is_manager"] = bool(sw.get("ControlAvailable"))
        out["cluster_id"] = (sw.get("Cluster") or {}).get("ID") or ""
        out["swarm_error"] = sw.get("Error") or ""
        if out["is_manager"] and out["state"] == "active":
            rc, o, e = run("docker", "node", "ls", "-q")
            if rc == 0:
                rc, o, e = run("docker", "node", "inspect", *o.split())
            if rc == 0:
                out["nodes"] = json.loads(o)
            else:
                out["nodes_error"] = e[-300:]
            rc, o, e = run("docker", "config", "ls", "--filter", "name=swarmctl-lock",
                           "--format", "{{.Name}}")
            out["locked_by_run"] = rc == 0 and "swarmctl-lock" in o.split()
        out["fingerprint"] = fingerprint(info)
out["stamp"] = read_stamp()
print(json.dumps(out))
"""

# What `docker node ls` says when the managers cannot form a quorum.
QUORUM_MARKS = ("does not have a leader", "too few managers are online",
                "context deadline exceeded")


@dataclass
class HostObservation:
    """What one host said about itself (all False/empty when it could not be read)."""

    name: str
    reachable: bool = True
    error: str = ""
    hostname: str = ""
    docker: bool = False
    running: bool = False
    state: str = ""  # LocalNodeState: inactive, pending, active, error, locked
    node_id: str = ""
    is_manager: bool = False
    cluster_id: str = ""
    swarm_error: str = ""
    nodes: list[dict[str, Any]] | None = None
    nodes_error: str = ""
    # The converged stamp (module_utils/swarm_stamp.py) and the fingerprint read now.
    stamp: dict[str, Any] | None = None
    fingerprint: dict[str, Any] = field(default_factory=dict)
    locked_by_run: bool = False  # a manager sees another run's lock (swarmctl.ops.lock)

    @property
    def in_swarm(self) -> bool:
        return self.running and self.state == "active"


@dataclass
class Observation:
    """Every inventory host's read, and the node list of one manager that could list it.

    `outside` holds reads of hosts the node list names but the inventory does not (made
    only when they are to be removed: they must leave the swarm themselves).
    """

    hosts: dict[str, HostObservation]
    nodes: list[dict[str, Any]] | None = None
    nodes_from: str = ""
    nodes_error: str = ""
    outside: dict[str, HostObservation] = field(default_factory=dict)

    @property
    def quorum_lost(self) -> bool:
        """Managers answer but the swarm has no leader (reads refused, or none Leader)."""
        if self.nodes is not None:
            managers = [n for n in self.nodes if n.get("ManagerStatus")]
            return bool(managers) and not any(n["ManagerStatus"].get("Leader")
                                              for n in managers)
        return any(m in self.nodes_error for m in QUORUM_MARKS)

    def as_dict(self) -> dict[str, Any]:
        return {"hosts": {k: asdict(v) for k, v in self.hosts.items()},
                "nodes": self.nodes, "nodes_from": self.nodes_from,
                "nodes_error": self.nodes_error,
                "outside": {k: asdict(v) for k, v in self.outside.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Observation:
        return cls(hosts={k: HostObservation(**v) for k, v in data["hosts"].items()},
                   nodes=data.get("nodes"), nodes_from=data.get("nodes_from", ""),
                   nodes_error=data.get("nodes_error", ""),
                   outside={k: HostObservation(**v)
                            for k, v in (data.get("outside") or {}).items()})


BODY_MARK = "\n# -- the read\n"


@cache
def script() -> str:
    """The read that runs on each host: swarm_stamp.py's functions, then _BODY."""
    shared = paths.ansible_dir() / "plugins" / "module_utils" / "swarm_stamp.py"
    return shared.read_text(encoding="utf-8") + BODY_MARK + _BODY


def read_host(host: Host) -> HostObservation:
    """One host's read over SSH (never raises: an unreachable host says why)."""
    proc = remote.run(host, ["python3", "-c", script()], timeout=60)
    if proc.returncode != 0:
        return HostObservation(host.name, reachable=False, error=remote.error_text(proc))
    try:
        data = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError) as exc:
        return HostObservation(host.name, reachable=False,
                               error=f"unexpected answer ({exc})")
    known = set(HostObservation.__dataclass_fields__)
    return HostObservation(host.name, **{k: v for k, v in data.items() if k in known})


def _read_all(hosts: list[Host]) -> dict[str, HostObservation]:
    if not hosts:
        return {}
    with ThreadPoolExecutor(max_workers=min(len(hosts), 50)) as pool:
        return dict(zip((h.name for h in hosts), pool.map(read_host, hosts), strict=True))


def observe(inv: Inventory) -> Observation:
    """Read every inventory host in parallel; the node list from the first manager (in
    inventory order) that could list it."""
    hosts = _read_all(list(inv.hosts))
    obs = Observation(hosts)
    errors = []
    for host in inv.hosts:
        seen = hosts[host.name]
        if seen.nodes is not None and obs.nodes is None:
            obs.nodes, obs.nodes_from = seen.nodes, host.name
        elif seen.nodes_error:
            errors.append(seen.nodes_error)
    if obs.nodes is None and errors:
        obs.nodes_error = errors[0]
    return obs


def outside_host(inv: Inventory, name: str, address: str) -> Host:
    """A host the inventory does not list, reached at its swarm address with the
    connection variables the inventory's hosts share (user, key, SSH arguments)."""
    shared = {k: v for k, v in inv.hosts[0].vars.items()
              if k in ("ansible_user", "ansible_become", "ansible_ssh_private_key_file",
                       "ansible_private_key_file", "ansible_ssh_common_args",
                       "ansible_ssh_extra_args", "ansible_python_interpreter")
              and all(h.vars.get(k) == v for h in inv.hosts)}
    return Host(name=name, role="worker", address=address, user=shared.get("ansible_user"),
                become=bool(shared.get("ansible_become")), vars=shared)


def observe_outside(inv: Inventory, obs: Observation, nodes: list[dict[str, Any]]) -> None:
    """Read, in parallel, the hosts behind the given node entries (hosts to be removed)."""
    hosts = [outside_host(inv, n["Description"]["Hostname"], node_address(n)) for n in nodes]
    obs.outside.update(_read_all(hosts))


def node_address(node: dict[str, Any]) -> str:
    """A node's address: a manager's raft address without its port, else Status.Addr."""
    manager = node.get("ManagerStatus") or {}
    if manager.get("Addr"):
        return manager["Addr"].rsplit(":", 1)[0].strip("[]")
    return str((node.get("Status") or {}).get("Addr", ""))
