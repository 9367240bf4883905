"""Health findings for `swarmctl status --check`: pure functions over what the hosts read.

    snapshot = health_read.read(inv)            # plain SSH, one round trip per host
    findings = evaluate(snapshot, cert_days=14)  # data in, findings out (no I/O)

Each finding has a severity (`warning` or `critical`); the command exits with the code
of the worst one: 0 healthy, EXIT_WARNING, EXIT_CRITICAL (documented in the README,
chosen not to collide with 1-4, which mean a failed run, bad input, a refused
preflight and a plan with changes).
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from swarmctl.models.cluster import ServiceStatus, counts

Severity = Literal["warning", "critical"]
EXIT_OK = 0
EXIT_WARNING = 10
EXIT_CRITICAL = 11
CLUSTER = "(cluster)"
DAY = 86400.0
DEFAULT_CERT_DAYS = 14
QUORUM_LOST = "quorum lost: the swarm cannot accept changes; run swarmctl recover"
_NO_LEADER = ("does not have a leader", "no leader", "quorum")


@dataclass(frozen=True)
class Finding:
    severity: Severity
    subject: str  # an inventory host, a node's hostname, a service, or CLUSTER
    check: str
    message: str
    fix: str = ""

    def line(self) -> str:
        fix = f"; {self.fix}" if self.fix else ""
        return f"{self.severity.upper()} {self.subject}: {self.check}: {self.message}{fix}"


@dataclass
class HostRead:
    """What one inventory host reported (health_probe.py), or why it could not."""

    name: str
    role: str  # the inventory's: manager | worker
    data: dict[str, Any] | None = None
    error: str = ""


@dataclass
class Snapshot:
    """Everything the findings are computed from."""

    inventory: str
    hosts: list[HostRead]
    cluster: dict[str, Any] | None = None  # the `cluster` part of a manager's read
    cluster_from: str = ""  # the host that read it
    cluster_errors: dict[str, str] = field(default_factory=dict)  # manager -> error
    now: float = field(default_factory=time.time)
    # The inventory's declared settings (None: not declared, not compared).
    autolock: bool | None = None
    cert_expiry_seconds: int | None = None


@dataclass
class Health:
    findings: list[Finding]
    nodes: int = 0
    services: int = 0
    read_from: str = ""
    elapsed: float = 0.0

    @property
    def exit_code(self) -> int:
        if any(f.severity == "critical" for f in self.findings):
            return EXIT_CRITICAL
        return EXIT_WARNING if self.findings else EXIT_OK

    @property
    def status(self) -> str:
        return {EXIT_OK: "ok", EXIT_WARNING: "warning", EXIT_CRITICAL: "critical"}[
            self.exit_code]

    def summary(self) -> str:
        counts_ = {s: sum(1 for f in self.findings if f.severity == s)
                   for s in ("critical", "warning")}
        if not self.findings:
            return (f"OK: {self.nodes} nodes and {self.services} services healthy "
                    f"(read from {self.read_from} in {self.elapsed:.1f}s)")
        parts = [f"{n} {s}{'s' if n > 1 and s == 'warning' else ''}"
                 for s, n in counts_.items() if n]
        return f"{self.status.upper()}: {', '.join(parts)} (read in {self.elapsed:.1f}s)"

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "exit_code": self.exit_code,
                "nodes": self.nodes, "services": self.services, "read_from": self.read_from,
                "elapsed": round(self.elapsed, 3),
                "findings": [asdict(f) for f in self.findings]}


# --------------------------------------------------------------------------- helpers


def version_key(version: str) -> tuple[int, ...]:
    """'20.10.24+dfsg1' -> (20, 10, 24): compares engine versions."""
    parts = re.findall(r"\d+", version.split("+", 1)[0].split("~", 1)[0])
    return tuple(int(p) for p in parts[:3])


def _date(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def cert_threshold(cert_days: float, expiry_seconds: int | None) -> float:
    """Seconds before expiry from which a certificate is reported: `cert_days`, or a fifth
    of the swarm's certificate lifetime when that is shorter (a swarm that issues
    7-day certificates renews them well inside 14 days)."""
    limit = cert_days * DAY
    if expiry_seconds:
        limit = min(limit, expiry_seconds / 5)
    return limit


# --------------------------------------------------------------------------- evaluate


def evaluate(snap: Snapshot, *, cert_days: float = DEFAULT_CERT_DAYS) -> Health:
    """The findings, critical first, then by subject."""
    findings: list[Finding] = []
    inv_unlock = f"run `swarmctl unlock {snap.inventory}`"
    by_node_id: dict[str, HostRead] = {}
    locked: set[str] = set()
    spec = ((snap.cluster or {}).get("swarm") or {}).get("Spec") or {}
    expiry_ns = (spec.get("CAConfig") or {}).get("NodeCertExpiry")
    expiry_s = int(expiry_ns / 1e9) if expiry_ns else snap.cert_expiry_seconds
    threshold = cert_threshold(cert_days, expiry_s)

    for h in snap.hosts:
        findings += _host(h, snap, threshold, inv_unlock)
        swarm = (h.data or {}).get("swarm") or {}
        if swarm.get("node_id"):
            by_node_id[swarm["node_id"]] = h
        if swarm.get("state") == "locked":
            locked.add(h.name)

    nodes, services = 0, 0
    if snap.cluster is None:
        findings += _no_cluster(snap, locked)
    else:
        raw_nodes = snap.cluster.get("nodes") or []
        nodes, services = len(raw_nodes), len(snap.cluster.get("services") or [])
        _match_unread(raw_nodes, snap.hosts, by_node_id)
        findings += _quorum(raw_nodes, by_node_id, locked)
        findings += _nodes(raw_nodes, by_node_id, locked)
        findings += _engines(raw_nodes)
        findings += _ca(snap.cluster.get("swarm") or {}, raw_nodes)
        findings += _services(snap.cluster)
        findings += _settings(snap, spec)
    reported = {f.subject for f in findings if f.check in ("node", "manager")}
    for h in snap.hosts:
        if h.data is None and h.name not in reported:
            findings.append(Finding("warning", h.name, "ssh", f"cannot read the host: {h.error}",
                                    "check that it is up and reachable over SSH"))
    order = {"critical": 0, "warning": 1}
    findings.sort(key=lambda f: order[f.severity])
    return Health(findings, nodes, services, snap.cluster_from)


def _host(h: HostRead, snap: Snapshot, threshold: float, unlock: str) -> list[Finding]:
    out: list[Finding] = []
    if h.data is None:
        return []  # evaluate() reports it, with its node's state when the swarm knows it
    data = h.data
    for tcp in data.get("docker_tcp") or []:
        if tcp.get("tls") or not tcp.get("listening"):
            continue
        where = f"{tcp.get('address')}:{tcp.get('port')}"
        if tcp.get("loopback"):
            out.append(Finding("warning", h.name, "docker-api",
                               f"the Docker API listens on {where} without TLS (loopback only)",
                               "any local user can control the swarm through it; remove "
                               f"{tcp.get('host')} from dockerd's hosts or enable tlsverify"))
        else:
            out.append(Finding("critical", h.name, "docker-api",
                               f"the Docker API listens on {where} without TLS: anyone who "
                               "reaches that port controls the swarm",
                               f"remove {tcp.get('host')} from dockerd's hosts (-H or "
                               "daemon.json), or enable tlsverify with client certificates"))
    if "docker_error" in data:
        sev: Severity = "critical" if h.role == "manager" else "warning"
        out.append(Finding(sev, h.name, "docker", f"Docker does not answer: "
                           f"{data['docker_error']}",
                           "start it (systemctl start docker) or run swarmctl provision"))
        return out
    swarm = data.get("swarm") or {}
    state = swarm.get("state", "")
    if state == "locked":
        out.append(Finding("critical", h.name, "locked",
                           "the swarm is locked on this manager (autolock): it takes no part "
                           "in the swarm until unlocked", unlock))
    elif state != "active":
        out.append(Finding("warning", h.name, "member",
                           f"not an active member of the swarm (state {state or 'unknown'!r}"
                           f"{': ' + swarm['error'] if swarm.get('error') else ''})",
                           "run swarmctl provision"))
    elif h.role == "manager" and not swarm.get("control"):
        out.append(Finding("warning", h.name, "role",
                           "the inventory lists it as a manager, but it is a worker",
                           "run swarmctl provision"))
    cert = data.get("cert")
    if cert and state in ("active", "locked"):
        left = float(cert["not_after"]) - snap.now
        if left <= 0:
            out.append(Finding("critical", h.name, "cert",
                               f"its node certificate expired on {_date(cert['not_after'])}",
                               "the node cannot rejoin with it: make it leave and join again "
                               "(docker swarm leave --force, then swarmctl provision)"))
        elif left <= threshold:
            out.append(Finding("warning", h.name, "cert",
                               f"its node certificate expires in {left / DAY:.1f} days "
                               f"({_date(cert['not_after'])})",
                               "nodes renew it while they reach a manager: check its link "
                               "to the managers, or rotate with `swarmctl rotate INVENTORY ca`"))
    return out


def _no_cluster(snap: Snapshot, locked: set[str]) -> list[Finding]:
    errors = snap.cluster_errors
    if any(any(m in err.lower() for m in _NO_LEADER) for err in errors.values()):
        return [Finding("critical", CLUSTER, "quorum", QUORUM_LOST)]
    managers = [h for h in snap.hosts if h.role == "manager"]
    if managers and all(h.name in locked for h in managers):
        return [Finding("critical", CLUSTER, "quorum",
                        "every manager is locked: the swarm cannot accept changes",
                        f"run `swarmctl unlock {snap.inventory}`")]
    detail = "; ".join(f"{name}: {err}" for name, err in errors.items()) or \
        "no manager answered"
    return [Finding("critical", CLUSTER, "read",
                    f"no manager could read the swarm ({detail})",
                    "check the managers (swarmctl check), or run swarmctl provision")]


def _match_unread(nodes: list[dict[str, Any]], hosts: list[HostRead],
                  by_node_id: dict[str, HostRead]) -> None:
    """Find the nodes of hosts that could not be read (no node ID from them) by hostname."""
    known = set(by_node_id)
    unread = {h.name: h for h in hosts if h.data is None}
    for n in nodes:
        name = (n.get("Description") or {}).get("Hostname", "")
        if n.get("ID") not in known and name in unread:
            by_node_id[n["ID"]] = unread[name]


def _manager_name(raw: dict[str, Any], by_node_id: dict[str, HostRead]) -> str:
    host = by_node_id.get(raw.get("ID", ""))
    return host.name if host else (raw.get("Description") or {}).get("Hostname", raw.get("ID"))


def _quorum(nodes: list[dict[str, Any]], by_node_id: dict[str, HostRead],
            locked: set[str]) -> list[Finding]:
    managers = [n for n in nodes if (n.get("Spec") or {}).get("Role") == "manager"]
    total = len(managers)
    if not total:
        return []
    up = [n for n in managers
          if (n.get("ManagerStatus") or {}).get("Reachability") == "reachable"]
    need = total // 2 + 1
    out: list[Finding] = []
    down = sorted(_manager_name(n, by_node_id) for n in managers if n not in up)
    if len(up) < need:
        out.append(Finding("critical", CLUSTER, "quorum", QUORUM_LOST))
    elif down and len(up) == need:
        out.append(Finding("critical", CLUSTER, "quorum",
                           f"quorum at risk: {len(up)} of {total} managers reachable "
                           f"({', '.join(down)} not): one more failure stops every change",
                           "bring the unreachable managers back"
                           + (" (swarmctl unlock)" if set(down) & locked else "")))
    elif down:
        out.append(Finding("warning", CLUSTER, "quorum",
                           f"{len(up)} of {total} managers reachable ({', '.join(down)} not):"
                           f" {len(up) - need} more failures tolerated",
                           "bring the unreachable managers back"))
    if total % 2 == 0:
        out.append(Finding("warning", CLUSTER, "managers",
                           f"{total} managers tolerate {(total - 1) // 2} failures, no more "
                           f"than {total - 1} would", "use an odd number of managers (3, 5, 7)"))
    return out


def _nodes(nodes: list[dict[str, Any]], by_node_id: dict[str, HostRead],
           locked: set[str]) -> list[Finding]:
    out: list[Finding] = []
    for n in nodes:
        name = _manager_name(n, by_node_id)
        if name in locked:
            continue  # the host's own finding says it is locked
        state = (n.get("Status") or {}).get("State", "")
        role = (n.get("Spec") or {}).get("Role", "")
        reach = (n.get("ManagerStatus") or {}).get("Reachability", "")
        host = by_node_id.get(n.get("ID", ""))
        ssh = f", and SSH fails: {host.error}" if host and host.data is None else ""
        if state != "ready":
            why = (n.get("Status") or {}).get("Message", "")
            out.append(Finding("warning", name, "node",
                               f"{role} node is {state or 'in an unknown state'}"
                               f"{' (' + why + ')' if why else ''}{ssh}",
                               "bring it back, or remove it from the swarm if it is gone"))
        elif role == "manager" and reach != "reachable":
            out.append(Finding("warning", name, "manager",
                               f"manager is {reach or 'not reachable'}",
                               "check its network to the other managers on 2377/tcp"))
    return out


def _engines(nodes: list[dict[str, Any]]) -> list[Finding]:
    by_version: dict[str, list[str]] = {}
    roles: dict[str, set[str]] = {"manager": set(), "worker": set()}
    for n in nodes:
        if (n.get("Status") or {}).get("State") != "ready":
            continue
        version = ((n.get("Description") or {}).get("Engine") or {}).get("EngineVersion", "")
        if not version:
            continue
        by_version.setdefault(version, []).append(
            (n.get("Description") or {}).get("Hostname", ""))
        roles.setdefault((n.get("Spec") or {}).get("Role", ""), set()).add(version)
    out: list[Finding] = []
    if len(by_version) > 1:
        parts = [f"{v} on {len(hosts)} node{'s' if len(hosts) > 1 else ''}"
                 for v, hosts in sorted(by_version.items(), key=lambda kv: version_key(kv[0]))]
        out.append(Finding("warning", CLUSTER, "engine",
                           f"engine versions differ: {', '.join(parts)}",
                           "finish the upgrade so that every node runs one version"))
    if roles["manager"] and roles["worker"]:
        oldest_manager = min(roles["manager"], key=version_key)
        newest_worker = max(roles["worker"], key=version_key)
        if version_key(oldest_manager) < version_key(newest_worker):
            out.append(Finding("warning", CLUSTER, "engine",
                               f"a manager runs an older engine ({oldest_manager}) than a "
                               f"worker ({newest_worker})",
                               "upgrade the managers first, then the workers"))
    return out


def _ca(swarm: dict[str, Any], nodes: list[dict[str, Any]]) -> list[Finding]:
    root = (swarm.get("TLSInfo") or {}).get("CertIssuerPublicKey")
    if not root:
        return []
    stale = [(n.get("Description") or {}).get("Hostname", "") for n in nodes
             if (n.get("Status") or {}).get("State") == "ready"
             and ((n.get("Description") or {}).get("TLSInfo") or {}).get("CertIssuerPublicKey")
             not in (None, root)]
    if not stale and not swarm.get("RootRotationInProgress"):
        return []
    what = f" ({', '.join(sorted(stale))} still on the old one)" if stale else ""
    return [Finding("warning", CLUSTER, "ca",
                    f"a root CA rotation is in progress{what}",
                    "wait for it (swarmctl rotate INVENTORY ca reports each node); a node "
                    "that stays on the old root cannot reach the managers")]


def _services(cluster: dict[str, Any]) -> list[Finding]:
    tasks = cluster.get("tasks") or []
    nodes = cluster.get("nodes") or []
    down = {n["ID"] for n in nodes if (n.get("Status") or {}).get("State") == "down"}
    out: list[Finding] = []
    for raw in cluster.get("services") or []:
        svc = ServiceStatus.from_api(raw, counts(raw, tasks, down))
        one_shot = "one-shot" in svc.mode or svc.mode.endswith("-job")
        if svc.running < svc.desired and not one_shot:
            why = _task_error(raw.get("ID"), tasks)
            sev: Severity = "critical" if svc.running == 0 else "warning"
            out.append(Finding(sev, svc.name, "service",
                               f"{svc.running}/{svc.desired} tasks running"
                               f"{': ' + why if why else ''}",
                               "see `docker service ps --no-trunc " + svc.name + "`"))
        state = svc.update_state
        if state in ("paused", "rollback_paused"):
            out.append(Finding("warning", svc.name, "update",
                               f"its update is {state.replace('_', ' ')}"
                               f"{': ' + svc.update_message if svc.update_message else ''}",
                               "fix the cause and deploy again (or docker service update "
                               f"--rollback {svc.name})"))
        elif state == "rollback_completed":
            out.append(Finding("warning", svc.name, "update",
                               "its last update was rolled back"
                               f"{': ' + svc.update_message if svc.update_message else ''}",
                               "fix the new version and deploy again"))
    return out


def _task_error(service_id: str | None, tasks: list[dict[str, Any]]) -> str:
    """Why the service's tasks do not run: the error of a task that should run and does
    not, else the error of a task that failed or was rejected."""
    mine = [t for t in tasks if t.get("service") == service_id]
    waiting = [t for t in mine if t.get("desired") == "running" and t.get("state") != "running"]
    failed = [t for t in mine if t.get("state") in ("failed", "rejected") and t.get("err")]
    for t in waiting + failed:
        text = t.get("err") or (t.get("message") if t.get("state") == "pending" else "")
        if text:
            return " ".join(f"{t.get('state')}: {text}".split())[:200]
    return ""


def _settings(snap: Snapshot, spec: dict[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    live = bool((spec.get("EncryptionConfig") or {}).get("AutoLockManagers"))
    if snap.autolock is not None and live != snap.autolock:
        out.append(Finding("warning", CLUSTER, "autolock",
                           f"autolock is {'on' if live else 'off'}, the inventory says "
                           f"{'on' if snap.autolock else 'off'} (swarm_autolock)",
                           "run swarmctl provision"))
    expiry_ns = (spec.get("CAConfig") or {}).get("NodeCertExpiry")
    if snap.cert_expiry_seconds and expiry_ns and \
            int(expiry_ns / 1e9) != snap.cert_expiry_seconds:
        out.append(Finding("warning", CLUSTER, "cert-expiry",
                           f"node certificates last {int(expiry_ns / 1e9 / 3600)}h, the "
                           f"inventory says {snap.cert_expiry_seconds // 3600}h "
                           "(swarm_cert_expiry)", "run swarmctl provision"))
    return out
