"""The agent: one task per node (a global service) that tells what its tasks use.

`GET /usage?service=NAME&service=...` answers, for the running containers of those
services on this node, the CPU cores each used over the last second and its memory
(without the reclaimable page cache, as `docker stats` shows it), read from the local
engine's API. The controller asks every agent (`tasks.<agent service>` in DNS) each round.
"""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from .dockerapi import Docker, DockerError

PORT = 9901
SERVICE_LABEL = "com.docker.swarm.service.name"
TASK_LABEL = "com.docker.swarm.task.id"


def cpu_cores(stats: dict) -> float | None:
    """Cores used between the sample and the previous one (None without a previous)."""
    cpu, pre = stats.get("cpu_stats") or {}, stats.get("precpu_stats") or {}
    try:
        used = cpu["cpu_usage"]["total_usage"] - pre["cpu_usage"]["total_usage"]
        system = cpu["system_cpu_usage"] - pre["system_cpu_usage"]
    except (KeyError, TypeError):
        return None
    online = cpu.get("online_cpus") or len(cpu["cpu_usage"].get("percpu_usage") or []) or 1
    if system <= 0 or used < 0:
        return None
    return used / system * online


def memory_bytes(stats: dict) -> float | None:
    """Memory in use, less the inactive page cache (cgroup v2 and v1)."""
    mem = stats.get("memory_stats") or {}
    if "usage" not in mem:
        return None
    detail = mem.get("stats") or {}
    cache = detail.get("inactive_file", detail.get("total_inactive_file", 0))
    return float(max(0, mem["usage"] - cache))


def usage(docker: Docker, services: list[str]) -> dict:
    wanted = set(services)
    found = [c for c in docker.containers(SERVICE_LABEL)
             if c.get("Labels", {}).get(SERVICE_LABEL) in wanted]

    def one(container: dict) -> dict:
        labels = container.get("Labels", {})
        entry = {"service": labels.get(SERVICE_LABEL), "task": labels.get(TASK_LABEL),
                 "cpu": None, "memory": None}
        try:
            stats = docker.stats(container["Id"])
        except (DockerError, OSError):
            return entry  # gone meanwhile
        entry["cpu"], entry["memory"] = cpu_cores(stats), memory_bytes(stats)
        return entry

    with ThreadPoolExecutor(max_workers=max(1, min(16, len(found)))) as pool:
        tasks = list(pool.map(one, found))
    return {"node": node_name(docker), "tasks": tasks}


def node_name(docker: Docker, _cache: dict[str, str] = {}) -> str:  # noqa: B006
    """The node's hostname as the engine knows it (the container's is its ID)."""
    if "name" not in _cache:
        try:
            _cache["name"] = docker.info().get("Name") or socket.gethostname()
        except (DockerError, OSError):
            return socket.gethostname()
    return _cache["name"]


def serve(port: int = PORT) -> None:
    docker = Docker()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path == "/health":
                body, status = b"ok\n", 200
            elif url.path == "/usage":
                try:
                    body = json.dumps(usage(docker, parse_qs(url.query).get("service", [])))
                    body, status = body.encode(), 200
                except (DockerError, OSError) as exc:
                    body, status = json.dumps({"error": str(exc)}).encode(), 502
            else:
                body, status = b"not found\n", 404
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # one line per request every round would bury the controller's lines

    print(f"swarmctl autoscaler agent on :{port}", flush=True)
    ThreadingHTTPServer(("", port), Handler).serve_forever()
