"""The read `swarmctl status --check` runs on each host (standard library only).

Sent as the source of `python3 -c` over plain SSH, after the source of
roles/swarm_preflight/module_utils/swarm_preflight_docker_tcp.py (docker_tcp_listeners).
It talks to the local Docker socket with http.client (no Docker SDK import: about 0.3 s
less per host) and prints one JSON object:

- always: the local swarm state (`/info`), the engine version, this node's certificate
  expiry and issuer, the key's KEK version (never the key), the daemon's TCP listeners;
- with the argument `cluster` on a manager: nodes, services, a slim list of tasks and
  the swarm's spec and TLS info (the join tokens are dropped before printing).

health.probe_source() appends the line that calls probe() and prints its result.
"""

import http.client
import json
import socket
import ssl
import time

SOCKET = "/var/run/docker.sock"
CERT = "/var/lib/docker/swarm/certificates/swarm-node.crt"
KEY = "/var/lib/docker/swarm/certificates/swarm-node.key"


class _UnixHTTP(http.client.HTTPConnection):
    def __init__(self):
        super().__init__("localhost", timeout=20)

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(20)
        sock.connect(SOCKET)
        self.sock = sock


def _get(conn, path):
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200:
        try:
            msg = json.loads(body).get("message", "")
        except ValueError:
            msg = body.decode(errors="replace")
        raise RuntimeError(msg.strip() or f"HTTP {resp.status}")
    return json.loads(body)


def _cert():
    try:
        raw = ssl._ssl._test_decode_cert(CERT)
    except (OSError, ssl.SSLError, AttributeError):
        return None
    issuer = dict(x[0] for x in raw.get("issuer", ()))
    return {"not_after": ssl.cert_time_to_seconds(raw["notAfter"]),
            "issuer": issuer.get("commonName", "")}


def _kek_version():
    try:
        with open(KEY) as fh:
            for line in fh:
                if line.startswith("kek-version:"):
                    return int(line.split(":", 1)[1])
                if not line.strip():
                    break
    except (OSError, ValueError):
        return None
    return None


def _slim_task(t):
    status = t.get("Status") or {}
    return {"service": t.get("ServiceID"), "node": t.get("NodeID"),
            "desired": t.get("DesiredState"), "state": status.get("State"),
            "err": status.get("Err", ""), "message": status.get("Message", "")}


def probe(cluster, tcp_listeners):
    """What this host reports; `tcp_listeners` reads the daemon's TCP sockets."""
    out = {"time": time.time(), "cert": _cert(), "kek_version": _kek_version()}
    try:
        out["docker_tcp"] = tcp_listeners()
    except Exception as exc:  # a read that fails must not hide the rest
        out["docker_tcp_error"] = str(exc)
    conn = _UnixHTTP()
    try:
        out["engine"] = _get(conn, "/version").get("Version", "")
    except Exception as exc:
        out["docker_error"] = str(exc) or type(exc).__name__
        return out
    # /swarm answers at once, also where /info would wait 20 s (a manager without a
    # leader); its error says which: no leader, not a manager, locked, no swarm.
    spec, spec_error = None, ""
    try:
        spec = _get(conn, "/swarm")
        spec.pop("JoinTokens", None)  # never printed
    except Exception as exc:
        spec_error = str(exc)
    if "does not have a leader" in spec_error:
        out["swarm"] = {"state": "active", "node_id": "", "control": True, "error": spec_error}
        out["cluster_error"] = spec_error
        return out
    try:
        info = _get(conn, "/info")
    except Exception as exc:
        out["docker_error"] = str(exc) or type(exc).__name__
        return out
    swarm = info.get("Swarm") or {}
    out["swarm"] = {"state": swarm.get("LocalNodeState", ""), "node_id": swarm.get("NodeID", ""),
                    "control": bool(swarm.get("ControlAvailable")),
                    "error": swarm.get("Error", "")}
    if not cluster or spec is None:
        if cluster and spec_error:
            out["cluster_error"] = spec_error
        return out
    try:
        out["cluster"] = {
            "swarm": spec,
            "nodes": _get(conn, "/nodes"),
            "services": _get(conn, "/services?status=true"),
            "tasks": [_slim_task(t) for t in _get(conn, "/tasks")],
        }
    except Exception as exc:
        out["cluster_error"] = str(exc) or type(exc).__name__
    return out
