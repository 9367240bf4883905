# Copyright: swarmctl contributors
# Which TCP addresses the Docker daemon serves its API on, and whether TLS client
# verification protects them. Standard library only: the preflight module imports it,
# and `swarmctl status --check` sends this file's source to each host with its probe.
"""The Docker daemon's API sockets on TCP, read from /proc (changes nothing)."""

from __future__ import annotations

import json
import os

DAEMON_JSON = "/etc/docker/daemon.json"


def _dockerd_pids():
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/comm") as fh:
                if fh.read().strip() == "dockerd":
                    pids.append(pid)
        except OSError:
            continue
    return pids


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return [a.decode("utf-8", "replace") for a in fh.read().split(b"\0") if a]
    except OSError:
        return []


def _hosts_and_tls(argv, config):
    """The -H/--host values and whether --tlsverify is on (flags win over daemon.json)."""
    hosts, tlsverify = [], bool(config.get("tlsverify"))
    it = iter(argv[1:])
    for arg in it:
        if arg in ("-H", "--host"):
            hosts.append(next(it, ""))
        elif arg.startswith("--host="):
            hosts.append(arg.split("=", 1)[1])
        elif arg.startswith("-H") and len(arg) > 2:
            hosts.append(arg[2:].lstrip("="))
        elif arg in ("--tlsverify", "--tlsverify=true"):
            tlsverify = True
        elif arg == "--tlsverify=false":
            tlsverify = False
    hosts += [h for h in config.get("hosts") or [] if isinstance(h, str)]
    return hosts, tlsverify


def _listening_ports():
    """{port: [local address, ...]} of TCP sockets in LISTEN state."""
    found = {}
    for name in ("tcp", "tcp6"):
        try:
            with open("/proc/net/" + name) as fh:
                lines = fh.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) < 4 or cols[3] != "0A":
                continue
            addr, port = cols[1].rsplit(":", 1)
            found.setdefault(int(port, 16), []).append(_address(addr))
    return found


def _address(hexaddr):
    if len(hexaddr) == 8:
        raw = bytes.fromhex(hexaddr)[::-1]
        return ".".join(str(b) for b in raw)
    if hexaddr == "0" * 32:
        return "::"
    if hexaddr.upper() == "00000000000000000000000001000000":
        return "::1"
    return "ipv6"


def docker_tcp_listeners():
    """[{"host": "tcp://...", "address", "port", "tls", "listening", "loopback"}] for every
    TCP address dockerd is configured to serve its API on (command line or daemon.json)."""
    config = {}
    try:
        with open(DAEMON_JSON) as fh:
            config = json.load(fh) or {}
    except (OSError, ValueError):
        config = {}
    listening = _listening_ports()
    out = []
    for pid in _dockerd_pids():
        hosts, tlsverify = _hosts_and_tls(_cmdline(pid), config)
        for host in hosts:
            if not host.startswith("tcp://"):
                continue
            hostport = host[len("tcp://"):].split("/", 1)[0]
            addr, _sep, port = hostport.rpartition(":")
            if not addr:
                addr, port = hostport, ""
            port = int(port) if port.isdigit() else (2376 if tlsverify else 2375)
            addr = addr.strip("[]") or "0.0.0.0"
            out.append({"host": host, "address": addr, "port": port, "tls": tlsverify,
                        "listening": port in listening,
                        "loopback": addr.startswith("127.") or addr in ("localhost", "::1")})
    return out
