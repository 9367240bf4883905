"""Preflight checks: probe every host (playbooks/check.yml), then judge what was found.

The probing is Ansible's job (role swarm_preflight: it reads, and changes nothing); the
judging is here, as pure functions over plain data, so that it can be tested with
fixtures (facts in → verdicts out):

    observations = collect(result.events)          # runner events → per-host facts
    report = evaluate(inv, observations)           # facts → verdicts
    print_report(console, report)

`require(inv, console=...)` does all of it and raises PreflightError (exit 3) when a
check fails (`swarmctl check`); `provision` runs the same probes and judgement inside
its own playbook run, through `Gate`, and changes nothing unless they pass.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rich import box
from rich.console import Console
from rich.table import Table

from swarmctl.ansible import events as events_
from swarmctl.ansible.progress import status_only
from swarmctl.console import lit, one_line
from swarmctl.console import out as console_out
from swarmctl.errors import PreflightError
from swarmctl.models.inventory import Inventory

Status = Literal["pass", "warn", "fail", "skip"]

# The columns of the table, in order.
CHECKS = ("ssh", "sudo", "os", "kernel", "address", "hostname", "mtu", "clock", "ports",
          "docker-api", "network", "swarm")
CLUSTER = "(cluster)"

SUPPORTED_OS = {"12": "bookworm", "13": "trixie"}
CLOCK_WARN = 5.0  # seconds: Raft and certificate rotation tolerate this
CLOCK_FAIL = 60.0  # seconds: TLS certificates issued by one node are not yet valid elsewhere
OVERLAY_OVERHEAD = 50  # bytes of VXLAN encapsulation
MIN_MTU = 1500

PORTS = ("2377/tcp", "7946/tcp", "7946/udp", "4789/udp")
PORT_USE = {
    "2377/tcp": "cluster management",
    "7946/tcp": "node gossip",
    "7946/udp": "node gossip",
    "4789/udp": "overlay network traffic (VXLAN)",
}
FIREWALL_FIX = ("allow 2377/tcp (to managers), 7946/tcp+udp and 4789/udp between all swarm "
                "hosts in their firewalls and security groups")

# The collection's modules whose results are the observations.
_TASK_HOST = "swarm_preflight_host"
_TASK_REACH = "swarm_preflight_reach"


# --------------------------------------------------------------------------- data


@dataclass
class Observation:
    """What the probe playbook found out about one host."""

    name: str
    unreachable: str | None = None  # SSH failed: Ansible's message
    failed: str | None = None  # the host probe failed (sudo, python): its message
    facts: dict[str, Any] | None = None  # swarm_preflight_host's `preflight`
    window: tuple[float, float] | None = None  # controller time (epoch) around the probe
    reach: list[dict[str, Any]] | None = None  # swarm_preflight_reach's `reach`
    reach_failed: str | None = None


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check on one host (or on the whole cluster)."""

    host: str
    check: str
    status: Status
    message: str
    fix: str = ""

    def line(self) -> str:
        fix = f"; {self.fix}" if self.fix else ""
        return f"{self.host}: {self.check}: {self.message}{fix}"


@dataclass
class Report:
    """All verdicts of a preflight run, hosts in inventory order."""

    hosts: list[str]
    verdicts: list[Verdict]
    elapsed: float = 0.0
    run_dir: Path | None = None
    roles: dict[str, str] = field(default_factory=dict)

    def of(self, status: Status) -> list[Verdict]:
        return [v for v in self.verdicts if v.status == status]

    @property
    def failures(self) -> list[Verdict]:
        return self.of("fail")

    @property
    def warnings(self) -> list[Verdict]:
        return self.of("warn")

    @property
    def ok(self) -> bool:
        return not self.failures

    def cell(self, host: str, check: str) -> Status | None:
        """The worst status of a check on a host; None when it was not judged."""
        found = [v.status for v in self.verdicts if v.host == host and v.check == check]
        for status in ("fail", "warn", "pass", "skip"):
            if status in found:
                return status  # type: ignore[return-value]
        return None

    def summary(self) -> str:
        """One line for the error message: the first failure and how many more."""
        fails = self.failures
        if not fails:
            return "preflight checks passed"
        more = f" (and {len(fails) - 1} more failures, see the table)" if len(fails) > 1 \
            else ""
        return f"preflight failed: {fails[0].line()}{more}; nothing was changed"


# --------------------------------------------------------------------------- events → facts


def collect(events: Iterable[dict[str, Any]], hosts: Iterable[str]) -> dict[str, Observation]:
    """Per-host observations from the ansible-runner events of playbooks/check.yml: the
    results of the collection's preflight modules, and any host that failed or was
    unreachable before them."""
    obs = {name: Observation(name) for name in hosts}
    for r in events_.results(events):
        if r.host not in obs:
            continue
        ob = obs[r.host]
        if r.outcome == "unreachable":
            ob.unreachable = ansible_message(r.res)
        elif r.outcome == "failed":
            if r.module == _TASK_REACH:  # its errors are ignored in the play: a warning here
                ob.reach_failed = ansible_message(r.res)
            elif r.ignored:
                continue
            elif r.module == _TASK_HOST or ob.facts is None:
                ob.failed = ob.failed or ansible_message(r.res)
        elif r.outcome == "ok":
            if r.module == _TASK_HOST and isinstance(r.res.get("preflight"), dict):
                ob.facts = r.res["preflight"]
                if r.start is not None and r.end is not None:
                    ob.window = (r.start, r.end)
            elif r.module == _TASK_REACH:
                ob.reach = list(r.res.get("reach") or [])
    return obs


def ansible_message(res: dict[str, Any]) -> str:
    return events_.message(res, limit=300)


# --------------------------------------------------------------------------- judging


def evaluate(inv: Inventory, observations: dict[str, Observation],
             converge: Iterable[str] | None = None) -> Report:
    """Judge the observations. Pure: no I/O. `converge`: the hosts a `--limit` run
    changes (None: all), judged against the swarm the managers hold."""
    verdicts: list[Verdict] = []
    reachable = {}
    for host in inv.hosts:
        ob = observations.get(host.name) or Observation(host.name)
        verdicts += _access(host, ob)
        if ob.facts is not None:
            reachable[host.name] = ob.facts
    cluster = _cluster(inv, reachable)
    hostnames = _hostnames(reachable)
    for host in inv.hosts:
        facts = reachable.get(host.name)
        if facts is None:
            verdicts += [Verdict(host.name, c, "skip", "not checked (no access)")
                         for c in CHECKS[2:]]
            continue
        ob = observations[host.name]
        verdicts += _os(host.name, facts)
        verdicts += _kernel(host.name, facts)
        verdicts += _address(host.name, facts)
        verdicts += hostnames.get(host.name, [Verdict(host.name, "hostname", "pass",
                                                      str(facts.get("hostname", "")))])
        verdicts += _mtu(host.name, facts)
        verdicts += _clock(host.name, facts, ob.window)
        membership = cluster.membership(host.name, host.role, facts,
                                        unlock_key=unlock_key_file(host, inv.path),
                                        inventory=inv.path)
        verdicts += _ports(host.name, host.role, facts, membership.status != "fail")
        verdicts += _docker_api(host.name, facts)
        verdicts += _network(host.name, ob)
        verdicts.append(membership)
    verdicts += _quorum(inv)
    if converge is not None:
        verdicts += _limit(inv, cluster, set(converge))
    return Report(hosts=[h.name for h in inv.hosts], verdicts=verdicts,
                  roles={h.name: h.role for h in inv.hosts})


def _access(host, ob: Observation) -> list[Verdict]:
    name = host.name
    if ob.unreachable is not None:
        msg = ob.unreachable
        detail = _ssh_detail(msg)
        if re.search(r"permission denied|authentication|publickey|host key", msg, re.I):
            return [Verdict(name, "ssh", "fail",
                            f"SSH login as {host.user or 'the default user'} at "
                            f"{host.address}:{host.port} refused ({detail})",
                            "check ansible_user and ansible_ssh_private_key_file, or install "
                            f"the key with `ssh-copy-id {host.user or 'USER'}@{host.address}`")]
        return [Verdict(name, "ssh", "fail",
                        f"cannot connect to {host.address}:{host.port} over SSH ({detail})",
                        "check ansible_host and ansible_port, that the host is up and sshd "
                        "runs, and that no firewall blocks port "
                        f"{host.port} from this machine")]
    verdicts = [Verdict(name, "ssh", "pass", f"{host.user or ''}@{host.address}".lstrip("@"))]
    if ob.failed is not None:
        if re.search(r"sudo|password|become|privilege", ob.failed, re.I):
            user = host.user or "the SSH user"
            return [*verdicts, Verdict(
                name, "sudo", "fail", f"sudo does not work without a password for {user} "
                f"({one_line(ob.failed, 120)})",
                f"give {user} passwordless sudo (`{host.user or 'USER'} ALL=(ALL) NOPASSWD: ALL` "
                f"in /etc/sudoers.d/) or set ansible_become_password")]
        return [*verdicts, Verdict(name, "sudo", "pass", "ok"),
                Verdict(name, "probe", "fail", f"the host probe failed: {ob.failed}",
                        "make sure python3 is installed on the host; rerun with -vvv")]
    if ob.facts is None:
        return [*verdicts, Verdict(name, "probe", "fail", "the host was not probed",
                                   "rerun with -vvv and look at the run folder")]
    return [*verdicts, Verdict(name, "sudo", "pass", "passwordless sudo works")]


def access_failure(host, *, unreachable: str | None = None,
                   failed: str | None = None) -> Verdict | None:
    """The failed ssh or sudo verdict, with its fix, for a host whose first task failed
    with this message (Ansible's); None when the failure is about something else."""
    verdicts = _access(host, Observation(host.name, unreachable=unreachable, failed=failed,
                                         facts={}))
    return next((v for v in verdicts if v.status == "fail" and v.check in ("ssh", "sudo")),
                None)


def _ssh_detail(msg: str) -> str:
    found = re.search(r"ssh: (?:connect to host \S+ port \d+: )?(.+?)(?:\r|$)", msg)
    text = found.group(1) if found else msg
    return one_line(text.strip().rstrip("."), 160)


def _os(name: str, facts: dict[str, Any]) -> list[Verdict]:
    os_ = facts.get("os") or {}
    ident, version = os_.get("id", ""), str(os_.get("version_id", ""))
    pretty = os_.get("pretty_name") or f"{ident} {version}".strip() or "unknown OS"
    codename = os_.get("codename", "")
    if ident == "debian" and (version in SUPPORTED_OS or codename in SUPPORTED_OS.values()):
        return [Verdict(name, "os", "pass", pretty)]
    supported = " and ".join(f"Debian {v} ({c})" for v, c in SUPPORTED_OS.items())
    return [Verdict(name, "os", "fail", f"{pretty} is not supported (supported: {supported})",
                    "use a Debian 12 or 13 host for this node")]


_KERNEL = {
    "overlay": ("overlay filesystem (CONFIG_OVERLAY_FS)", "Docker's overlay2 storage driver "
                "needs it"),
    "vxlan": ("VXLAN (CONFIG_VXLAN)", "overlay networks between nodes need it"),
}


def _kernel(name: str, facts: dict[str, Any]) -> list[Verdict]:
    kernel = facts.get("kernel") or {}
    release = kernel.get("release", "?")
    out = []
    for feature, (what, why) in _KERNEL.items():
        state = kernel.get(feature, "unknown")
        if state == "missing":
            out.append(Verdict(name, "kernel", "fail", f"kernel {release} has no {what}: {why}",
                               f"use a kernel with {feature} (Debian's stock kernel has it)"))
        elif state == "unknown":
            out.append(Verdict(name, "kernel", "warn",
                               f"cannot tell whether kernel {release} has {what}",
                               f"make sure `modprobe {feature}` works on the host"))
    ipvs = kernel.get("ip_vs", "unknown")
    if ipvs in ("missing", "unknown"):
        has = "has no" if ipvs == "missing" else "may lack"
        out.append(Verdict(name, "kernel", "warn",
                           f"kernel {release} {has} IPVS (CONFIG_IP_VS): the ingress routing "
                           "mesh and VIP load balancing will not work",
                           "publish ports with mode: host and use endpoint_mode: dnsrr, or "
                           "use a kernel with IPVS"))
    if not out:
        out.append(Verdict(name, "kernel", "pass", f"{release}: overlay, vxlan, ip_vs"))
    return out


def _address(name: str, facts: dict[str, Any]) -> list[Verdict]:
    adv = facts.get("advertise") or {}
    address, source = adv.get("address", ""), adv.get("source", "")
    has = ", ".join(adv.get("host_addresses") or []) or "none"
    if address and adv.get("configured"):
        return [Verdict(name, "address", "pass", f"{address} ({source})")]
    if source == "swarm_advertise_addr":
        return [Verdict(name, "address", "fail",
                        f"swarm_advertise_addr {address} is not an address of the host "
                        f"(it has {has})", "set swarm_advertise_addr to one of the host's "
                        "addresses")]
    if source == "swarm_advertise_network":
        return [Verdict(name, "address", "fail",
                        f"the host has no address in swarm_advertise_network (it has {has})",
                        "set swarm_advertise_network to the network of the address the "
                        "other nodes reach it on")]
    return [Verdict(name, "address", "fail",
                    f"no advertise address: ansible_host is not an address of the host and "
                    f"it has no default route (it has {has})",
                    "set swarm_advertise_addr (or swarm_advertise_network) for this host")]


def _hostnames(reachable: dict[str, dict[str, Any]]) -> dict[str, list[Verdict]]:
    by_name: dict[str, list[str]] = {}
    for host, facts in reachable.items():
        by_name.setdefault(str(facts.get("hostname", "")), []).append(host)
    out: dict[str, list[Verdict]] = {}
    for hostname, hosts in by_name.items():
        if len(hosts) < 2:
            continue
        for host in hosts:
            others = ", ".join(h for h in hosts if h != host)
            out[host] = [Verdict(host, "hostname", "fail",
                                 f"hostname {hostname!r} is also the hostname of {others}",
                                 "give each host its own hostname "
                                 "(`hostnamectl set-hostname NAME`)")]
    return out


def _mtu(name: str, facts: dict[str, Any]) -> list[Verdict]:
    adv = facts.get("advertise") or {}
    mtu, iface = int(adv.get("mtu") or 0), adv.get("interface") or "?"
    if not mtu:
        return [Verdict(name, "mtu", "skip", "no interface for the advertise address")]
    if mtu < MIN_MTU:
        inner = mtu - OVERLAY_OVERHEAD
        return [Verdict(name, "mtu", "warn",
                        f"MTU of {iface} is {mtu}: overlay (VXLAN) packets need "
                        f"{OVERLAY_OVERHEAD} bytes more, so overlay networks here need MTU "
                        f"{inner} or large packets are dropped",
                        f"set the MTU of {iface} to {MIN_MTU} or more, or create overlay "
                        f"networks with --opt com.docker.network.driver.mtu={inner}")]
    return [Verdict(name, "mtu", "pass", f"{iface} {mtu}")]


def clock_offset(host_time: float, window: tuple[float, float]) -> float:
    """The smallest offset of the host's clock that the measurement proves (0 if none).

    The host read its clock at some moment between the controller times `window`.
    """
    start, end = window
    if host_time < start:
        return host_time - start
    if host_time > end:
        return host_time - end
    return 0.0


def _clock(name: str, facts: dict[str, Any], window: tuple[float, float] | None) -> list[Verdict]:
    host_time = facts.get("time")
    if window is None or not isinstance(host_time, int | float):
        return [Verdict(name, "clock", "skip", "not measured")]
    offset = clock_offset(float(host_time), window)
    where = "ahead of" if offset > 0 else "behind"
    text = f"clock is {abs(offset):.0f}s {where} this machine's"
    fix = "enable time synchronisation on the host (systemd-timesyncd or chrony)"
    if abs(offset) > CLOCK_FAIL:
        return [Verdict(name, "clock", "fail",
                        f"{text}: TLS certificates between nodes will not validate", fix)]
    if abs(offset) > CLOCK_WARN:
        return [Verdict(name, "clock", "warn", f"{text}: keep swarm hosts within seconds", fix)]
    return [Verdict(name, "clock", "pass", f"within {CLOCK_WARN:.0f}s")]


def _ports(name: str, role: str, facts: dict[str, Any], in_this_swarm: bool) -> list[Verdict]:
    usage = facts.get("ports") or {}
    swarm = facts.get("swarm") or {}
    active = swarm.get("state") == "active"
    out = []
    notes = []
    for spec in PORTS:
        use = usage.get(spec) or {}
        if use.get("state") == "free" or not use:
            if use.get("listen_error"):
                out.append(Verdict(name, "ports", "warn",
                                   f"{spec} looked free but could not be opened "
                                   f"({use['listen_error']})",
                                   f"make sure nothing else takes {spec}"))
            continue
        process = use.get("process", "unknown")
        if process in ("dockerd", "kernel") and active and in_this_swarm:
            notes.append(spec)
            continue
        if process in ("dockerd", "kernel") and active:
            continue  # used by a foreign swarm: the swarm check says what to do
        pid = f" (pid {use['pid']})" if use.get("pid") else ""
        owner = "the kernel (a VXLAN device)" if process == "kernel" else f"{process}{pid}"
        purpose = PORT_USE.get(spec, "the swarm")
        if spec == "2377/tcp" and role == "worker":
            out.append(Verdict(name, "ports", "warn",
                               f"{spec} is in use by {owner}: this worker cannot become a "
                               "manager", f"free {spec} before promoting this host"))
            continue
        out.append(Verdict(name, "ports", "fail",
                           f"{spec}, needed for {purpose}, is in use by {owner}",
                           f"stop {owner.split(' (')[0]} or move it to another port: the "
                           f"swarm needs {spec}"))
    if not out:
        detail = f"{', '.join(notes)} used by this swarm" if notes else "all free"
        out.append(Verdict(name, "ports", "pass", detail))
    return out


def _docker_api(name: str, facts: dict[str, Any]) -> list[Verdict]:
    """The Docker API served on TCP without TLS client verification: whoever reaches the
    port controls the host and, on a manager, the swarm."""
    if "docker_tcp" not in facts:
        return []  # an older probe
    out = []
    for tcp in facts.get("docker_tcp") or []:
        if tcp.get("tls") or not tcp.get("listening"):
            continue
        where = f"{tcp.get('address')}:{tcp.get('port')}"
        fix = (f"remove {tcp.get('host')} from dockerd's hosts (-H or daemon.json), or enable "
               "tlsverify with client certificates")
        if tcp.get("loopback"):
            out.append(Verdict(name, "docker-api", "warn",
                               f"the Docker API listens on {where} without TLS (any local user "
                               "controls Docker through it)", fix))
        else:
            out.append(Verdict(name, "docker-api", "fail",
                               f"the Docker API listens on {where} without TLS: anyone who "
                               "reaches that port controls the swarm", fix))
    if not out:
        tls = [t for t in facts.get("docker_tcp") or [] if t.get("tls") and t.get("listening")]
        out.append(Verdict(name, "docker-api", "pass",
                           f"TLS on {', '.join(str(t.get('port')) for t in tls)}" if tls
                           else "no TCP socket"))
    return out


def unlock_key_file(host, inventory: Path) -> Path | None:
    """The controller's unlock key file the inventory names for a host (swarm_unlock_key_file,
    relative to the inventory's folder, as the swarm_security role reads it), when it exists."""
    value = host.vars.get("swarm_unlock_key_file")
    if not value:
        return None
    path = Path(str(value)).expanduser()
    if not path.is_absolute():
        path = Path(inventory).resolve().parent / path
    return path if path.is_file() else None


def _network(name: str, ob: Observation) -> list[Verdict]:
    if ob.reach_failed is not None:
        return [Verdict(name, "network", "warn", f"the port probes failed: {ob.reach_failed}",
                        "rerun with -vvv")]
    if ob.reach is None:
        return [Verdict(name, "network", "skip", "not probed")]
    bad = [r for r in ob.reach if not r.get("ok")]
    hard = [r for r in bad if not (r.get("port") == 4789 and r.get("proto") == "udp")]
    soft = [r for r in bad if r not in hard]
    out = []
    for items, status, why in ((hard, "fail", ""),
                               (soft, "warn", " (overlay traffic between these nodes will fail)")):
        if not items:
            continue
        parts = [f"{r.get('peer')} {r.get('address')}:{r.get('port')}/{r.get('proto')} "
                 f"({r.get('error') or 'failed'})" for r in items[:3]]
        more = f" and {len(items) - 3} more" if len(items) > 3 else ""
        out.append(Verdict(name, "network", status,  # type: ignore[arg-type]
                           f"cannot reach {', '.join(parts)}{more}{why}", FIREWALL_FIX))
    if not out:
        peers = len({r.get("peer") for r in ob.reach})
        out.append(Verdict(name, "network", "pass",
                           f"{len(ob.reach)} port probes to {peers} hosts answered"))
    return out


@dataclass
class _Cluster:
    """The swarm the inventory's managers hold, if any (as the swarm_facts role sees it)."""

    bootstrap: str | None = None
    cluster_id: str = ""
    node_ids: tuple[str, ...] = ()

    def membership(self, name: str, role: str, facts: dict[str, Any], *,
                   unlock_key: Path | None = None, inventory: Path | str = "INVENTORY"
                   ) -> Verdict:
        swarm = facts.get("swarm") or {}
        docker = swarm.get("docker")
        if docker == "absent":
            return Verdict(name, "swarm", "pass", "Docker not installed yet")
        if docker == "not running":
            return Verdict(name, "swarm", "pass", "Docker installed, not running")
        state = swarm.get("state", "")
        leave = (f"if it should join this swarm, run `docker swarm leave --force` on {name} "
                 "first; otherwise remove it from the inventory")
        if state in ("", "inactive"):
            return Verdict(name, "swarm", "pass", "not in a swarm")
        if state == "locked":
            if unlock_key is not None:
                return Verdict(name, "swarm", "warn", "its swarm is locked (autolock)",
                               f"provision unlocks it from {unlock_key} "
                               "(swarm_unlock_key_file)")
            return Verdict(name, "swarm", "fail", "its swarm is locked (autolock)",
                           f"run `swarmctl unlock {inventory}` (set swarm_unlock_key_file "
                           "to the file that holds the unlock key)")
        if state != "active":
            return Verdict(name, "swarm", "warn", f"swarm state is {state!r} "
                           f"({swarm.get('error') or 'half-joined?'})",
                           f"run `docker swarm leave --force` on {name} and provision again")
        node_id = swarm.get("node_id", "")
        if self.bootstrap is None:
            return Verdict(name, "swarm", "fail",
                           "is in a swarm that none of the inventory's managers belongs to",
                           leave)
        if role == "manager" and swarm.get("is_manager") and \
                swarm.get("cluster_id") != self.cluster_id:
            return Verdict(name, "swarm", "fail",
                           f"is a manager of a different swarm ({swarm.get('cluster_id', '')[:12]})"
                           f" than {self.bootstrap} ({self.cluster_id[:12]})", leave)
        if self.node_ids and node_id not in self.node_ids:
            return Verdict(name, "swarm", "fail",
                           f"is in a different swarm than {self.bootstrap} "
                           f"(node {node_id[:12]} is not one of its nodes)", leave)
        return Verdict(name, "swarm", "pass", f"member of swarm {self.cluster_id[:12]}")


def _cluster(inv: Inventory, reachable: dict[str, dict[str, Any]]) -> _Cluster:
    for host in inv.managers:
        swarm = (reachable.get(host.name) or {}).get("swarm") or {}
        if swarm.get("state") == "active" and swarm.get("is_manager"):
            return _Cluster(host.name, swarm.get("cluster_id", ""),
                            tuple(swarm.get("node_ids") or ()))
    return _Cluster()


def _quorum(inv: Inventory) -> list[Verdict]:
    n = len(inv.managers)
    if n % 2 == 0:
        return [Verdict(CLUSTER, "quorum", "warn",
                        f"{n} managers tolerate {(n - 1) // 2} failures, no more than "
                        f"{n - 1} would", "use an odd number of managers (3, 5 or 7)")]
    if n > 7:
        return [Verdict(CLUSTER, "quorum", "warn",
                        f"{n} managers slow down raft consensus",
                        "Docker advises at most 7 managers; make the others workers")]
    return [Verdict(CLUSTER, "quorum", "pass",
                    f"{n} managers tolerate {(n - 1) // 2} failures")]


def _limit(inv: Inventory, cluster: _Cluster, converge: set[str]) -> list[Verdict]:
    """A limited run can join hosts to a swarm; it cannot create one without the
    manager that creates it."""
    first = inv.managers[0].name
    if cluster.bootstrap is None and first not in converge:
        return [Verdict(CLUSTER, "limit", "fail",
                        f"there is no swarm yet, and the limit leaves out {first}, the "
                        "manager that creates it",
                        "provision without --limit first (or include " + first + ")")]
    where = cluster.bootstrap or first
    return [Verdict(CLUSTER, "limit", "pass",
                    f"converging {len(converge)} of {len(inv.hosts)} hosts; the swarm is "
                    f"read from {where}")]


def offsets(observations: dict[str, Observation]) -> dict[str, float]:
    """Measured clock offsets per host (for reports and benchmarks)."""
    out = {}
    for name, ob in observations.items():
        if ob.facts and ob.window and isinstance(ob.facts.get("time"), int | float):
            out[name] = clock_offset(float(ob.facts["time"]), ob.window)
    return out


# --------------------------------------------------------------------------- running


def check(inv: Inventory, *, console: Console, verbosity: int = 0,
          limit: str | None = None) -> Report:
    """Run playbooks/check.yml against the inventory and judge the results (`limit`:
    an Ansible --limit of the hosts to probe; `inv` holds exactly those)."""
    from swarmctl.ansible.progress import Progress
    from swarmctl.ansible.runner import run_playbook

    started = time.monotonic()
    with Progress(console, "preflight checks", active=not verbosity) as progress:
        result = run_playbook("check.yml", inv.path, verb="check", verbosity=verbosity,
                              forks=len(inv.hosts), limit=limit, on_event=status_only(progress))
    observations = collect(result.events, [h.name for h in inv.hosts])
    report = evaluate(inv, observations)
    report.elapsed = time.monotonic() - started
    report.run_dir = result.run_dir
    return report


_STYLE = {"pass": "[green]ok[/]", "warn": "[yellow]warn[/]", "fail": "[bold red]FAIL[/]",
          "skip": "[dim]-[/]", None: "[dim]-[/]"}
_MARK = {"warn": "[yellow]![/]", "fail": "[bold red]✗[/]"}
_HEADERS = {"hostname": "NAME", "address": "ADDR", "network": "NET"}


def findings(report: Report) -> list[tuple[list[str], Verdict]]:
    """The warnings and failures, failures first; identical ones on several hosts merged."""
    merged: dict[tuple[str, str, str, str], list[str]] = {}
    for v in report.verdicts:
        if v.status in ("warn", "fail"):
            merged.setdefault((v.status, v.check, v.message, v.fix), []).append(v.host)
    items = [(hosts, Verdict(hosts[0], check, status, message, fix))  # type: ignore[arg-type]
             for (status, check, message, fix), hosts in merged.items()]
    items.sort(key=lambda item: item[1].status != "fail")
    return items


def print_report(console: Console, report: Report) -> None:
    """The host-by-check table, then one line per finding with its fix."""
    table = Table(title="Preflight checks", title_justify="left", box=box.SIMPLE_HEAD,
                  show_edge=False, pad_edge=False, padding=(0, 1), collapse_padding=True)
    table.add_column("HOST", no_wrap=True, overflow="fold")
    for check_name in CHECKS:
        table.add_column(_HEADERS.get(check_name, check_name.upper()), no_wrap=True)
    for host in report.hosts:
        table.add_row(lit(host), *(_STYLE[report.cell(host, c)] for c in CHECKS))
    console.print(table)
    for line_markup in finding_lines(report):
        console.print(line_markup, highlight=False, soft_wrap=True)
    fails, warns = len(report.failures), len(report.warnings)
    tail = f" in {report.elapsed:.1f}s" if report.elapsed else ""
    if fails:
        console.print(f"[bold red]✗[/] preflight: {fails:d} failed, {warns:d} warnings on "
                      f"{len(report.hosts)} hosts{lit(tail)}")
    else:
        console.print(f"[green]✓[/] preflight: {len(report.hosts)} hosts ready "
                      f"({warns:d} warnings){lit(tail)}")


def finding_lines(report: Report) -> list[str]:
    """One line of rich markup per finding: hosts, check, message, fix (all escaped)."""
    return [f"{_MARK[v.status]} {lit(', '.join(hosts))} [bold]{lit(v.check)}[/]: "
            f"{lit(v.message)}" + (f" → {lit(v.fix)}" if v.fix else "")
            for hosts, v in findings(report)]


def require(inv: Inventory, *, console: Console, verbosity: int = 0,
            report_console: Console | None = None, limit: str | None = None) -> Report:
    """Run the checks and print the table; raise PreflightError (exit 3) when one fails.

    Progress goes to `console` (stderr in the CLI), the table to `report_console`
    (default: stdout), so that on failure stderr holds only the one-line error.
    """
    report = check(inv, console=console, verbosity=verbosity, limit=limit)
    print_report(report_console or console_out, report)
    if not report.ok:
        raise PreflightError(report.summary())
    return report


# --------------------------------------------------------------------------- the gate

class Gate:
    """Judges the checks inside a `playbooks/provision.yml` run, as its events arrive.

    provision.yml runs check.yml, then a gate play that waits for a verdict file, then
    site.yml. When the gate play starts, every check event has arrived: the gate judges
    them, prints the table and writes `{"ok": ...}` to the file, which lets the run go
    on or stops it there, before anything changed. Until then it passes only the status
    line to `progress` (the table reports failures); after a failed verdict, nothing.
    """

    def __init__(self, inv: Inventory, verdict: Path, progress, report_console: Console,
                 pause=contextlib.nullcontext, converge: Iterable[str] | None = None) -> None:
        self.inv = inv
        self.converge = None if converge is None else list(converge)
        self.verdict = verdict
        self.progress = progress
        self._checking = status_only(progress)  # while the checks run: the status line only
        self.report_console = report_console
        self.pause = pause  # a context manager that hides the live status line
        self.report: Report | None = None
        self._events: list[dict[str, Any]] = []
        self._started = time.monotonic()

    def judge(self, events: Iterable[dict[str, Any]]) -> Report:
        report = evaluate(self.inv, collect(events, [h.name for h in self.inv.hosts]),
                          self.converge)
        report.elapsed = time.monotonic() - self._started
        return report

    def __call__(self, event: dict[str, Any]) -> None:
        if self.report is None:
            if events_.publishes(event, "checks_done"):
                self.report = self.judge(self._events)
                partial = self.verdict.with_suffix(".partial")
                partial.write_text(f'{{"ok": {str(self.report.ok).lower()}}}')
                partial.replace(self.verdict)  # the gate never reads half a file
                if self.report.ok:  # after the verdict: a slow terminal cannot hold the run
                    self.show()
                return
            self._events.append(event)
            self._checking(event)
        elif self.report.ok:
            self.progress(event)

    def show(self) -> None:
        with self.pause():
            print_report(self.report_console, self.report)

    def outcome(self, events: list[dict[str, Any]]) -> Report | None:
        """The report after the run (also when it ended before the gate: every host
        failed a check); PreflightError, with the table printed, when a check failed.
        None when no host was probed at all (the playbook did not start: a syntax error,
        a missing collection): the run's own error says why."""
        if self.report is None:
            if not events_.touched_hosts(events):
                return None
            self.report = self.judge(events)
            if self.report.ok:
                self.show()
        if not self.report.ok:
            print_report(self.report_console, self.report)
            raise PreflightError(self.report.summary())
        return self.report
