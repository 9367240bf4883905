#!/usr/bin/python
"""Probe the swarm ports of the other inventory hosts from this host.

TCP: a connect (the peer's temporary listener or its dockerd accepts it). UDP: a datagram
that the peer's temporary listener echoes back. Only the given peers are probed.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: swarm_preflight_reach
short_description: Probe the swarm ports of the other inventory hosts from this host.
description:
  - Connects to TCP ports and sends a marked UDP datagram that the peer's temporary
    preflight listener echoes. Probes run in parallel, each with O(timeout).
options:
  peers:
    description:
      - The other hosts, as the C(preflight) result swarm_preflight_host returned there.
        Managers are probed on 2377/tcp, every host on 7946/tcp, 7946/udp and 4789/udp.
    type: list
    elements: dict
    required: true
  managers:
    description: Inventory names of the managers.
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds to wait for each probe.
    type: float
    default: 2.0
  listener:
    description: >-
      This host's own temporary listener (C(pid), C(start_time)) as swarm_preflight_host
      returned it. After its probes, the module waits up to O(settle) seconds for that
      listener to exit by itself (it does once every peer probed it) and reports whether
      it did, so that a separate stop is only needed when it did not.
    type: dict
  settle:
    description: Seconds to wait for the own listener to exit.
    type: float
    default: 3.0
author: swarmctl developers (@swarmctl)
"""

EXAMPLES = r"""
- name: Probe the swarm ports of every other host from this one.
  swarmctl.swarm.swarm_preflight_reach:
    peers: "{{ groups['all'] | difference([inventory_hostname])
               | map('extract', hostvars, ['swarm_preflight_host', 'preflight']) | list }}"
    managers: "{{ groups['swarm_managers'] }}"
    timeout: 3
"""

RETURN = r"""
reach:
  description: One result per probe, C({peer, address, port, proto, ok, error}).
  returned: always
  type: list
listener_gone:
  description: Whether this host's own listener is gone (true when there was none).
  returned: always
  type: bool
"""

import contextlib
import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.swarmctl.swarm.plugins.module_utils.swarm_preflight_proc import (
    MAGIC,
    probed_ports,
    start_time,
)


def probe(item, timeout):
    address, port, proto = item["address"], int(item["port"]), item["proto"]
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    result = dict(item, ok=False, error="")
    try:
        if proto == "tcp":
            with socket.create_connection((address, port), timeout=timeout) as conn:
                result["ok"] = True
                if item.get("marked"):  # the peer's listener counts marked probes only
                    with contextlib.suppress(OSError):
                        conn.sendall(MAGIC)
        else:
            nonce = MAGIC + b" " + os.urandom(8).hex().encode()
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.settimeout(timeout)
                sock.sendto(nonce, (address, port))
                while True:
                    data, _addr = sock.recvfrom(512)
                    if data == nonce:
                        result["ok"] = True
                        break
    except TimeoutError:
        result["error"] = "no answer" if proto == "udp" else "timed out"
    except ConnectionRefusedError:
        result["error"] = "refused"
    except OSError as exc:
        result["error"] = exc.strerror or str(exc)
    return result


def plan(peers, managers):
    """The probes to make: a port is probed when the peer's listener or dockerd serves it."""
    probes = []
    for peer in peers:
        if not isinstance(peer, dict):
            continue
        address = (peer.get("advertise") or {}).get("address")
        if not address:
            continue
        wanted = probed_ports(peer.get("name") in managers)
        listening = (peer.get("listener") or {}).get("ports") or []
        for spec in wanted:
            port, proto = spec.split("/")
            use = (peer.get("ports") or {}).get(spec, {})
            served = spec in listening or (proto == "tcp" and use.get("process") == "dockerd")
            if served:
                # Marked (MAGIC sent) only towards the temporary listener, never dockerd.
                probes.append({"peer": peer.get("name"), "address": address,
                               "port": int(port), "proto": proto,
                               "marked": spec in listening})
    return probes


def listener_gone(listener, settle):
    """Wait up to `settle` seconds for the listener to exit; whether it is gone."""
    pid = int((listener or {}).get("pid") or 0)
    started = str((listener or {}).get("start_time") or "")
    if pid <= 1 or not started:
        return True
    deadline = time.monotonic() + settle
    while start_time(pid) == started:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def run_probes(probes, timeout):
    if not probes:
        return []
    with ThreadPoolExecutor(max_workers=min(64, len(probes))) as pool:
        return list(pool.map(lambda p: probe(p, timeout), probes))


def main():
    module = AnsibleModule(
        argument_spec={
            "peers": {"type": "list", "elements": "dict", "required": True},
            "managers": {"type": "list", "elements": "str", "default": []},
            "timeout": {"type": "float", "default": 2.0},
            "listener": {"type": "dict"},
            "settle": {"type": "float", "default": 3.0},
        },
        supports_check_mode=True,
    )
    probes = plan(module.params["peers"], module.params["managers"])
    results = run_probes(probes, module.params["timeout"])
    gone = listener_gone(module.params["listener"], module.params["settle"])
    module.exit_json(changed=False, reach=results, listener_gone=gone)


if __name__ == "__main__":
    main()
