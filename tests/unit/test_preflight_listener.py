"""The preflight listener exits once every expected peer probed it, and only marked
probes count (on loopback: the listener's `serve` and the reach module's `probe`)."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
import types
from pathlib import Path

import pytest

from tests.conftest import load_file

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
UTILS = "ansible_collections.swarmctl.swarm.plugins.module_utils."


def _load(name: str, path: Path) -> types.ModuleType:
    return load_file(name, path)


@pytest.fixture(scope="module")
def modules():
    # The modules import their shared helpers by FQCN, as Ansible ships them to the host.
    proc = _load("swarm_preflight_proc", PLUGINS / "module_utils" / "swarm_preflight_proc.py")
    sys.modules[UTILS + "swarm_preflight_proc"] = proc
    sys.modules[UTILS + "advertise"] = _load("advertise",
                                             PLUGINS / "module_utils" / "advertise.py")
    engine = _load("docker_engine_host", PLUGINS / "module_utils" / "docker_engine_host.py")
    sys.modules[UTILS + "docker_engine_host"] = engine
    sys.modules[UTILS + "swarm_preflight_docker_tcp"] = _load(
        "swarm_preflight_docker_tcp", PLUGINS / "module_utils" / "swarm_preflight_docker_tcp.py")
    host = _load("swarm_preflight_host", PLUGINS / "modules" / "swarm_preflight_host.py")
    reach = _load("swarm_preflight_reach", PLUGINS / "modules" / "swarm_preflight_reach.py")
    return host, reach


def _listen() -> tuple[list, int, int]:
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(16)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    socks = [(tcp, socket.SOCK_STREAM, "tcp-port"), (udp, socket.SOCK_DGRAM, "udp-port")]
    return socks, tcp.getsockname()[1], udp.getsockname()[1]


def _serve(host, socks, wanted, seconds=10.0) -> threading.Thread:
    thread = threading.Thread(target=host.serve,
                              args=(socks, time.monotonic() + seconds, wanted), daemon=True)
    thread.start()
    return thread


def _probe(reach, port: int, proto: str, source: str, marked: bool = True) -> dict:
    """A probe as swarm_preflight_reach makes it, from a given loopback source address."""
    real = socket.create_connection

    def from_source(address, timeout=None, source_address=None):
        return real(address, timeout=timeout, source_address=(source, 0))

    socket.create_connection = from_source
    try:
        if proto == "udp":  # the reach module sends from the default address: bind first
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.bind((source, 0))
                sock.settimeout(2)
                nonce = reach.MAGIC + b" probe"
                sock.sendto(nonce, ("127.0.0.1", port))
                return {"ok": sock.recvfrom(512)[0] == nonce}
        return reach.probe({"address": "127.0.0.1", "port": port, "proto": "tcp",
                            "marked": marked}, 2.0)
    finally:
        socket.create_connection = real


def test_the_listener_exits_once_every_peer_probed_every_port(modules):
    host, reach = modules
    socks, tcp, udp = _listen()
    thread = _serve(host, socks, {"tcp-port": 2, "udp-port": 2})
    for source in ("127.0.0.2", "127.0.0.3"):
        assert _probe(reach, tcp, "tcp", source)["ok"]
        assert _probe(reach, udp, "udp", source)["ok"]
    thread.join(timeout=3)
    assert not thread.is_alive()


def test_unmarked_connections_do_not_count(modules):
    """A swarm member whose dockerd is stopped still gets the others' redials."""
    host, reach = modules
    socks, tcp, udp = _listen()
    thread = _serve(host, socks, {"tcp-port": 2, "udp-port": 1}, seconds=4)
    for source in ("127.0.0.2", "127.0.0.3"):
        assert _probe(reach, tcp, "tcp", source, marked=False)["ok"]
    assert _probe(reach, udp, "udp", "127.0.0.2")["ok"]
    time.sleep(1)
    assert thread.is_alive()  # still waiting for marked TCP probes
    # the same peer twice is one peer
    assert _probe(reach, tcp, "tcp", "127.0.0.2")["ok"]
    assert _probe(reach, tcp, "tcp", "127.0.0.2")["ok"]
    time.sleep(0.5)
    assert thread.is_alive()
    assert _probe(reach, tcp, "tcp", "127.0.0.3")["ok"]
    thread.join(timeout=3)
    assert not thread.is_alive()


def test_a_port_nobody_probes_does_not_hold_the_listener(modules):
    host, reach = modules
    socks, tcp, _ = _listen()
    thread = _serve(host, socks, {"tcp-port": 1})  # udp-port: not expected
    assert _probe(reach, tcp, "tcp", "127.0.0.2")["ok"]
    thread.join(timeout=3)
    assert not thread.is_alive()


def test_the_own_listener_is_reported_gone_only_once_it_exited(modules):
    _, reach = modules
    assert reach.listener_gone(None, 0.1)
    assert reach.listener_gone({"pid": 0, "start_time": ""}, 0.1)
    proc = sys.modules[UTILS + "swarm_preflight_proc"]
    me = {"pid": os.getpid(), "start_time": proc.start_time(os.getpid())}
    assert not reach.listener_gone(me, 0.3)  # this process is alive
