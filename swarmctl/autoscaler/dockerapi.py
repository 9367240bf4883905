"""A few calls of the Docker Engine API over its unix socket, with the standard library.

The controller's image carries no Docker SDK (it would need pip and an index at build
time, which sites without a registry often lack too); the handful of JSON calls below is
all the autoscaler needs.
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any
from urllib.parse import quote, urlencode

SOCKET = "/var/run/docker.sock"


class DockerError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(f"{status}: {message}")
        self.status = status


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class Docker:
    def __init__(self, path: str = SOCKET, timeout: float = 30.0):
        self.path, self.timeout = path, timeout

    def call(self, method: str, url: str, body: Any = None, query: dict | None = None
             ) -> Any:
        if query:
            url += "?" + urlencode(query)
        conn = _UnixConnection(self.path, self.timeout)
        try:
            data = None if body is None else json.dumps(body).encode()
            headers = {"Content-Type": "application/json"} if data is not None else {}
            conn.request(method, url, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        if resp.status >= 400:
            try:
                message = json.loads(raw).get("message", "")
            except ValueError:
                message = raw.decode(errors="replace")
            raise DockerError(resp.status, message)
        return json.loads(raw) if raw else None

    def services(self, label: str | None = None) -> list[dict]:
        query = {"filters": json.dumps({"label": [label]})} if label else None
        return self.call("GET", "/services", query=query)

    def service(self, name: str) -> dict:
        return self.call("GET", f"/services/{quote(name)}")

    def tasks(self, service: str) -> list[dict]:
        filters = {"service": [service], "desired-state": ["running"]}
        return self.call("GET", "/tasks", query={"filters": json.dumps(filters)})

    def update_service(self, service: dict, spec: dict) -> None:
        """Update with the version read (409/500 "update out of sequence" when another
        writer came first: the caller reads again next round)."""
        self.call("POST", f"/services/{service['ID']}/update", body=spec,
                  query={"version": service["Version"]["Index"]})

    def containers(self, label: str) -> list[dict]:
        filters = {"label": [label], "status": ["running"]}
        return self.call("GET", "/containers/json", query={"filters": json.dumps(filters)})

    def stats(self, container_id: str) -> dict:
        """One sample with the previous one (Docker waits for it, about a second)."""
        return self.call("GET", f"/containers/{container_id}/stats", query={"stream": "false"})

    def info(self) -> dict:
        return self.call("GET", "/info")
