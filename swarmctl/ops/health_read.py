"""Read what `swarmctl status --check` judges, over plain SSH (no playbook, no run folder).

Every inventory host runs health_probe.py once, all in parallel; the first manager in the
inventory also reads the cluster (nodes, services, tasks, the swarm's spec). Only when
its cluster read fails (locked, Docker down, no leader) does the next manager that is an
active manager read it instead: one round trip per host on a healthy swarm.
"""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

from swarmctl import paths
from swarmctl.errors import InputError
from swarmctl.models.inventory import Host, Inventory, boolean
from swarmctl.ops import remote
from swarmctl.ops.health import HostRead, Snapshot

TIMEOUT = 30
# A host that is off answers nothing: do not wait ssh's usual 10 s for it.
CONNECT_TIMEOUT = 4


@cache
def probe_source() -> str:
    """The Python source each host runs: the TCP-listener reader shared with the
    preflight module, the probe, and the call."""
    tcp = paths.ansible_dir() / "plugins" / "module_utils" / "swarm_preflight_docker_tcp.py"
    probe = Path(__file__).with_name("health_probe.py")
    call = ("\nimport sys as _sys\nprint(json.dumps(probe(_sys.argv[1:] == ['cluster'], "
            "docker_tcp_listeners)))\n")
    return tcp.read_text() + "\n" + probe.read_text() + call


_DURATION = re.compile(r"(\d+)([smhd])")


def duration_seconds(value: object, where: str) -> int:
    """'2160h', '90d', '1h30m' or a number of seconds -> seconds. InputError otherwise."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    text = str(value).strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise InputError(f"{where}: {value!r} is not a duration; write it like 2160h, 90d "
                         "or 1h30m")
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return sum(int(n) * unit[u] for n, u in parts)


def _read(host: Host, cluster: bool) -> HostRead:
    argv = ["python3", "-c", probe_source()] + (["cluster"] if cluster else [])
    proc = remote.run(host, argv, timeout=TIMEOUT, connect_timeout=CONNECT_TIMEOUT)
    if proc.returncode != 0:
        return HostRead(host.name, host.role, None, remote.error_text(proc))
    try:
        return HostRead(host.name, host.role, json.loads(proc.stdout.decode()))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return HostRead(host.name, host.role, None, f"unexpected answer ({exc})")


def _declared(inv: Inventory) -> tuple[bool | None, int | None]:
    """swarm_autolock and swarm_cert_expiry as the inventory declares them (first manager)."""
    if not inv.managers:
        return None, None
    v = inv.managers[0].vars
    autolock = v.get("swarm_autolock")
    expiry = v.get("swarm_cert_expiry")
    return (boolean(autolock) if autolock is not None else None,
            duration_seconds(expiry, f"{inv.path}: swarm_cert_expiry") if expiry else None)


def read(inv: Inventory) -> tuple[Snapshot, float]:
    """The snapshot, and the seconds the read took."""
    started = time.monotonic()
    autolock, expiry = _declared(inv)
    first = inv.managers[0] if inv.managers else None
    hosts = list(inv.hosts)
    with ThreadPoolExecutor(max_workers=min(32, len(hosts) or 1)) as pool:
        reads = list(pool.map(lambda h: _read(h, h is first), hosts))
    snap = Snapshot(str(inv.path), reads, autolock=autolock, cert_expiry_seconds=expiry)
    by_name = {r.name: r for r in reads}
    for manager in inv.managers:
        got = by_name[manager.name]
        if manager is not first:
            swarm = (got.data or {}).get("swarm") or {}
            if not (swarm.get("state") == "active" and swarm.get("control")):
                continue
            got = _read(manager, True)
        data = got.data or {}
        if "cluster" in data:
            snap.cluster, snap.cluster_from = data["cluster"], manager.name
            break
        snap.cluster_errors[manager.name] = (
            data.get("cluster_error") or data.get("docker_error") or got.error
            or f"swarm state {((data.get('swarm') or {}).get('state')) or 'unknown'}")
    return snap, time.monotonic() - started


def read_cluster(inv: Inventory) -> tuple[dict | None, str]:
    """The cluster read (nodes, services, tasks, the swarm) from the first manager that
    gives it, and that manager's name; (None, '') when none does."""
    for manager in inv.managers:
        got = _read(manager, True)
        if got.data and "cluster" in got.data:
            return got.data["cluster"], manager.name
    return None, ""
