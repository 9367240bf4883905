#!/usr/bin/python
"""Read what the preflight checks need from one host, and listen on its free swarm ports.

Changes nothing on the host: it reads /etc/os-release, /proc, /sys and `docker info`,
and starts a temporary listener process on the swarm ports that are free, so that the
other hosts can probe them before Docker runs. The listener exits once every expected
peer has probed every port it listens on (`expect_peers`), else when swarm_preflight_listener
stops it, and in any case after `listen_seconds`.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: swarm_preflight_host
short_description: Read a host's OS, kernel, ports, clock and swarm state for the preflight.
description:
  - Reads facts without changing anything, and starts a temporary listener on the free
    swarm ports (TCP accept, UDP echo) that exits after O(listen_seconds) at the latest.
options:
  name:
    description: The host's inventory name, returned as is.
    type: str
    required: true
  advertise_addr:
    description: Explicit advertise address (swarm_advertise_addr).
    type: str
  advertise_network:
    description: Network (CIDR) to pick the advertise address from.
    type: str
  ansible_host:
    description: The address Ansible connects to.
    type: str
  ports:
    description: Swarm ports as C(PORT/PROTO).
    type: list
    elements: str
    default: [2377/tcp, 7946/tcp, 7946/udp, 4789/udp]
  listen:
    description: Start the temporary listener on the free ports.
    type: bool
    default: true
  listen_seconds:
    description: The listener exits after this many seconds at the latest.
    type: int
    default: 60
  list_nodes:
    description: On an active manager, list the swarm's node IDs.
    type: bool
    default: false
  expect_peers:
    description: >-
      How many other hosts will probe this one. The listener then listens only on the
      ports they probe (2377/tcp on a manager only, see O(list_nodes)) and exits as soon
      as that many distinct addresses probed each of them. 0: it listens on every free
      swarm port and waits to be stopped.
    type: int
    default: 0
  engine_packages:
    description: >-
      Also read, in this round trip, what the docker_engine role decides from (see
      docker_engine_state): these packages' dpkg state, the docker service, /etc/docker,
      daemon.json, the age of the apt lists. Returned as RV(engine). Empty: not read.
    type: list
    elements: str
    default: []
  gather_subset:
    description: >-
      Ansible fact subsets to collect too, with Ansible's own collectors (as the setup
      module does); an empty list collects none.
    type: list
    elements: str
    default: []
author: swarmctl developers (@swarmctl)
"""

EXAMPLES = r"""
- name: Read the host and start a temporary listener on its free swarm ports.
  swarmctl.swarm.swarm_preflight_host:
    name: "{{ inventory_hostname }}"
    ansible_host: "{{ ansible_host }}"
    ports: [2377/tcp, 7946/tcp, 7946/udp, 4789/udp]
    listen_seconds: 60
    expect_peers: 4
  register: swarm_preflight_host
"""

RETURN = r"""
preflight:
  description: Everything the preflight checks read from the host.
  returned: always
  type: dict
engine:
  description: What docker_engine_state returns (without facts), for O(engine_packages).
  returned: when engine_packages is not empty
  type: dict
ansible_facts:
  description: The facts of O(gather_subset), named as the setup module names them.
  returned: when gather_subset is not empty
  type: dict
"""

import glob
import gzip
import json
import os
import signal
import socket
import subprocess
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.swarmctl.swarm.plugins.module_utils.advertise import choose
from ansible_collections.swarmctl.swarm.plugins.module_utils.docker_engine_host import (
    docker_swarm_info,
    engine_state,
    gather_facts,
)
from ansible_collections.swarmctl.swarm.plugins.module_utils.swarm_preflight_docker_tcp import (
    docker_tcp_listeners,
)
from ansible_collections.swarmctl.swarm.plugins.module_utils.swarm_preflight_proc import (
    MAGIC,
    probed_ports,
    start_time,
)


def os_release():
    data = {}
    try:
        with open("/etc/os-release", encoding="utf-8") as fh:
            for line in fh:
                key, sep, value = line.strip().partition("=")
                if sep:
                    data[key] = value.strip().strip('"')
    except OSError:
        pass
    return {"id": data.get("ID", ""), "version_id": data.get("VERSION_ID", ""),
            "pretty_name": data.get("PRETTY_NAME", ""),
            "codename": data.get("VERSION_CODENAME", "")}


def kernel_config():
    release = os.uname().release
    for path in ("/proc/config.gz", f"/boot/config-{release}"):
        try:
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
                return fh.read()
        except OSError:
            continue
    return None


def kernel_feature(module, config_key, config, extra_present=()):
    """loaded, builtin, module, missing or unknown."""
    release = os.uname().release
    if os.path.isdir(f"/sys/module/{module}") or any(os.path.exists(p) for p in extra_present):
        return "loaded"
    if config is not None:
        for line in config.splitlines():
            if line.startswith(f"{config_key}="):
                return "builtin" if line.endswith("=y") else "module"
        return "missing"
    moddir = f"/lib/modules/{release}"
    if os.path.isdir(moddir):
        try:
            with open(f"{moddir}/modules.builtin", encoding="utf-8") as fh:
                if any(line.rstrip().endswith(f"/{module}.ko") for line in fh):
                    return "builtin"
        except OSError:
            pass
        if glob.glob(f"{moddir}/**/{module}.ko*", recursive=True):
            return "module"
        return "missing"
    return "unknown"


def socket_owners():
    """inode -> (pid, command) for every socket of every process."""
    owners = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        comm = None
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                if comm is None:
                    try:
                        with open(f"/proc/{pid}/comm", encoding="utf-8") as fh:
                            comm = fh.read().strip()
                    except OSError:
                        comm = "?"
                owners[target[8:-1]] = (int(pid), comm)
    return owners


def bound_ports():
    """{(port, proto): [inode, ...]} for TCP listeners and bound UDP sockets."""
    found = {}
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        try:
            with open(f"/proc/net/{proto}", encoding="utf-8") as fh:
                lines = fh.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) < 10:
                continue
            port = int(cols[1].rsplit(":", 1)[1], 16)
            state = cols[3]
            if proto.startswith("tcp") and state != "0A":  # LISTEN
                continue
            found.setdefault((port, proto[:3]), []).append(cols[9])
    return found


def port_usage(ports):
    bound = bound_ports()
    owners = socket_owners() if bound else {}
    usage = {}
    for spec in ports:
        port, proto = spec.split("/")
        inodes = bound.get((int(port), proto), [])
        if not inodes:
            usage[spec] = {"state": "free"}
            continue
        procs = [owners.get(i) for i in inodes]
        named = [p for p in procs if p]
        if named:
            pid, comm = named[0]
            usage[spec] = {"state": "used", "process": comm, "pid": pid}
        elif proto == "udp" or all(i == "0" for i in inodes):
            # A UDP socket no process holds is the kernel's: a VXLAN device's, on 4789.
            usage[spec] = {"state": "used", "process": "kernel", "pid": 0}
        else:
            usage[spec] = {"state": "used", "process": "unknown", "pid": 0}
    return usage


def run(cmd, timeout=10):
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, "", str(exc)
    return proc.returncode, proc.stdout, proc.stderr


def interfaces():
    """[{name, mtu, addresses: [...]}] from `ip -j addr`."""
    rc, out, _err = run(["ip", "-j", "addr", "show"])
    if rc != 0:
        return []
    try:
        data = json.loads(out)
    except ValueError:
        return []
    return [{"name": i.get("ifname", ""), "mtu": i.get("mtu", 0),
             "addresses": [a.get("local", "") for a in i.get("addr_info", [])]}
            for i in data]


def default_address():
    rc, out, _err = run(["ip", "-j", "-4", "route", "show", "default"])
    if rc != 0:
        return ""
    try:
        routes = json.loads(out)
    except ValueError:
        return ""
    for route in routes:
        if route.get("prefsrc"):
            return route["prefsrc"]
        dev = route.get("dev")
        for iface in interfaces():
            if iface["name"] == dev:
                for addr in iface["addresses"]:
                    if ":" not in addr:
                        return addr
    return ""


def advertise(params, ifaces):
    addresses = [a for i in ifaces for a in i["addresses"]]
    explicit, network = params["advertise_addr"] or "", params["advertise_network"] or ""
    # the default route is read only where nothing else chooses
    default = "" if explicit or network or (params["ansible_host"] in addresses) \
        else default_address()
    return choose(addresses, explicit, network, params["ansible_host"] or "", default)


def swarm_state(info, list_nodes):
    """The checks' view of a docker_swarm_info() result."""
    rc, out, err = info
    if rc == 127:
        return {"docker": "absent"}
    if rc != 0:
        return {"docker": "not running", "error": (err or out).strip()[-300:]}
    try:
        swarm = json.loads(out)
    except ValueError:
        return {"docker": "running", "error": out.strip()[-300:]}
    cluster = swarm.get("Cluster") or {}
    state = {"docker": "running", "state": swarm.get("LocalNodeState", ""),
             "node_id": swarm.get("NodeID", ""), "cluster_id": cluster.get("ID", ""),
             "is_manager": bool(swarm.get("ControlAvailable")),
             "managers": [m.get("Addr", "") for m in swarm.get("RemoteManagers") or []],
             "error": swarm.get("Error", "")}
    if list_nodes and state["is_manager"] and state["state"] == "active":
        rc, out, _err = run(["docker", "node", "ls", "--format", "{{.ID}}"])
        state["node_ids"] = out.split() if rc == 0 else []
    return state


def start_listener(usage, seconds, expect):
    """Bind the free ports, then fork a detached process serving them until a deadline.

    `expect`: {port: number of peers that will probe it}; when given, only those ports
    are listened on (not 2377 on a worker), and the listener exits once all probed.
    """
    socks, listening = [], []
    for spec, use in usage.items():
        if use["state"] != "free" or (expect and spec not in expect):
            continue
        port, proto = spec.split("/")
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        sock = socket.socket(socket.AF_INET, kind)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("0.0.0.0", int(port)))
            if kind == socket.SOCK_STREAM:
                sock.listen(64)
        except OSError as exc:
            sock.close()
            use["listen_error"] = str(exc)
            continue
        socks.append((sock, kind, spec))
        listening.append(spec)
    if not socks:
        return None, listening
    pid = os.fork()
    if pid == 0:  # the listener: detached, silent, gone at the deadline or on SIGTERM
        try:
            os.setsid()
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
            wanted = {spec: int(n) for spec, n in expect.items() if spec in listening}
            serve(socks, time.monotonic() + seconds, wanted)
        finally:
            os._exit(0)
    for sock, _kind, _spec in socks:
        sock.close()
    return pid, listening


def serve(socks, deadline, wanted):
    """Answer probes until the deadline, or until every port in `wanted` was probed by
    that many distinct addresses (then no peer is left to probe it).

    Only marked probes count: a TCP connection must send MAGIC first (a swarm member
    whose dockerd is stopped still gets redials from the others' engines on its free
    ports), a UDP datagram must start with it (and is echoed).
    """
    import select

    by_fd = {s.fileno(): (s, k, spec) for s, k, spec in socks}
    seen = {spec: set() for spec in wanted}
    pending = {}  # accepted TCP connection fd -> (conn, spec, peer address, given up at)
    while True:
        now = time.monotonic()
        for fd, (conn, _spec, _peer, until) in list(pending.items()):
            if now >= until:
                conn.close()
                del pending[fd]
        if deadline - now <= 0:
            return
        if wanted and all(len(seen[spec]) >= n for spec, n in wanted.items()):
            return
        ready, _writable, _failed = select.select(list(by_fd) + list(pending), [], [],
                                                  min(deadline - now, 0.5))
        for fd in ready:
            if fd in pending:
                conn, spec, peer, _until = pending.pop(fd)
                try:
                    marked = conn.recv(64).startswith(MAGIC)
                except OSError:
                    marked = False
                conn.close()
                if marked and spec in seen:
                    seen[spec].add(peer)
                continue
            sock, kind, spec = by_fd[fd]
            try:
                if kind == socket.SOCK_STREAM:
                    conn, addr = sock.accept()
                    pending[conn.fileno()] = (conn, spec, addr[0], time.monotonic() + 5)
                    continue
                data, addr = sock.recvfrom(512)
                if not data.startswith(MAGIC):
                    continue
                sock.sendto(data, addr)
            except OSError:
                continue
            if spec in seen:
                seen[spec].add(addr[0])


def main():
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "advertise_addr": {"type": "str"},
            "advertise_network": {"type": "str"},
            "ansible_host": {"type": "str"},
            "ports": {"type": "list", "elements": "str",
                      "default": ["2377/tcp", "7946/tcp", "7946/udp", "4789/udp"]},
            "listen": {"type": "bool", "default": True},
            "listen_seconds": {"type": "int", "default": 60},
            "list_nodes": {"type": "bool", "default": False},
            "expect_peers": {"type": "int", "default": 0},
            "engine_packages": {"type": "list", "elements": "str", "default": []},
            "gather_subset": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    now = time.time()
    ifaces = interfaces()
    address, source = advertise(module.params, ifaces)
    iface = next((i for i in ifaces if address and address in i["addresses"]), None)
    config = kernel_config()
    usage = port_usage(module.params["ports"])
    docker_info = docker_swarm_info(timeout=10)
    facts = {
        "name": module.params["name"],
        "time": now,
        "hostname": socket.gethostname(),
        "os": os_release(),
        "kernel": {
            "release": os.uname().release,
            "overlay": kernel_feature("overlay", "CONFIG_OVERLAY_FS", config),
            "vxlan": kernel_feature("vxlan", "CONFIG_VXLAN", config),
            "ip_vs": kernel_feature("ip_vs", "CONFIG_IP_VS", config, ("/proc/net/ip_vs",)),
        },
        "advertise": {"address": address, "source": source,
                      "configured": iface is not None,
                      "interface": iface["name"] if iface else "",
                      "mtu": iface["mtu"] if iface else 0,
                      "host_addresses": [a for i in ifaces for a in i["addresses"]
                                         if i["name"] != "lo"]},
        "ports": usage,
        "docker_tcp": docker_tcp_listeners(),
        "swarm": swarm_state(docker_info, module.params["list_nodes"]),
        "listener": {"pid": 0, "start_time": "", "ports": []},
    }
    if module.params["listen"]:
        peers = module.params["expect_peers"]
        expect = {spec: peers for spec in probed_ports(module.params["list_nodes"])} \
            if peers > 0 else {}
        pid, listening = start_listener(usage, module.params["listen_seconds"], expect)
        if pid:
            facts["listener"] = {"pid": pid, "start_time": start_time(pid), "ports": listening}
    extra = {}
    if module.params["engine_packages"]:
        extra["engine"] = engine_state(module, module.params["engine_packages"],
                                       swarm_info=lambda: docker_info)
    module.exit_json(changed=False, preflight=facts,
                     ansible_facts=gather_facts(module, module.params["gather_subset"]),
                     **extra)


if __name__ == "__main__":
    main()
