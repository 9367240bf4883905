"""A bounded HTTP load generator: a loop of requests over the nodes that publish a service,
moving to the next node when one does not answer (as a load balancer in front of
host-mode published ports would).

    from bench.load import Load
    with Load(["10.213.5.11", "10.213.5.12"], port=8080, expect=b"my-web") as load:
        ...                      # upgrade, fail a node, ...
    print(load.result)           # sent, failed, longest gap without a success

A request fails only when no node answered it: each node is tried once, in turn,
starting with the one that answered last; a refused or reset connection, a timeout, a
non-200 status or a body without `expect` moves on to the next node. The loop stops by
itself after `count` requests or `duration` seconds, whichever comes first (or when
stopped), and waits `interval` seconds between requests. Targets must be loopback or
private addresses (the project's own lab nodes): this never sends traffic elsewhere.
"""

from __future__ import annotations

import http.client
import ipaddress
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class LoadResult:
    """What a load run saw."""

    sent: int = 0
    ok: int = 0
    failed: int = 0
    attempts: int = 0
    longest_gap: float = 0.0  # seconds between two successful answers (or start/end)
    duration: float = 0.0
    answered_by: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)  # per kind, of attempts that moved on

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["answered_by"] = dict(self.answered_by)
        data["errors"] = dict(self.errors)
        return data

    def line(self) -> str:
        return (f"{self.sent} requests, {self.failed} failed, longest gap without an answer "
                f"{self.longest_gap:.2f}s over {self.duration:.0f}s "
                f"({self.attempts - self.sent} retries on another node)")


def check_targets(hosts: list[str]) -> list[str]:
    """Refuse any target that is not a loopback or private address."""
    if not hosts:
        raise ValueError("no targets")
    for host in hosts:
        addr = ipaddress.ip_address(host)
        if not (addr.is_loopback or addr.is_private):
            raise ValueError(f"{host} is not a loopback or private address: load goes only "
                             "to the project's own lab nodes")
    return list(hosts)


def _one(host: str, port: int, path: str, timeout: float, expect: bytes | None) -> str | None:
    """None when the node answered well, else the kind of error."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        resp = conn.getresponse()
        body = resp.read()
    except ConnectionRefusedError:
        return "refused"
    except ConnectionResetError:
        return "reset"
    except TimeoutError:
        return "timeout"
    except (OSError, http.client.HTTPException) as exc:
        return type(exc).__name__
    finally:
        conn.close()
    if resp.status != 200:
        return f"http {resp.status}"
    if expect is not None and not body.startswith(expect):
        return "unexpected body"
    return None


class Load:
    """The load loop on a thread of its own; a context manager (start, stop)."""

    def __init__(self, hosts: list[str], *, port: int = 80, path: str = "/",
                 expect: bytes | None = None, count: int = 100_000, duration: float = 900.0,
                 interval: float = 0.05, timeout: float = 2.0) -> None:
        if count < 1 or duration <= 0 or timeout <= 0 or interval < 0:
            raise ValueError("count, duration and timeout must be positive")
        self.hosts = check_targets(hosts)
        self.port, self.path, self.expect = port, path, expect
        self.count, self.duration, self.interval, self.timeout = count, duration, interval, \
            timeout
        self.result = LoadResult()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self) -> LoadResult:
        """Send the requests on this thread; returns when done (count, duration, stop)."""
        r = self.result
        start = last_ok = time.monotonic()
        current = 0
        while r.sent < self.count and not self._stop.is_set():
            now = time.monotonic()
            if now - start >= self.duration:
                break
            r.sent += 1
            answered = False
            for i in range(len(self.hosts)):
                host = self.hosts[(current + i) % len(self.hosts)]
                r.attempts += 1
                error = _one(host, self.port, self.path, self.timeout, self.expect)
                if error is None:
                    answered = True
                    current = (current + i) % len(self.hosts)
                    r.answered_by[host] += 1
                    break
                r.errors[error] += 1
            now = time.monotonic()
            if answered:
                r.ok += 1
                r.longest_gap = max(r.longest_gap, now - last_ok)
                last_ok = now
            else:
                r.failed += 1
            if self.interval:
                self._stop.wait(self.interval)
        end = time.monotonic()
        r.longest_gap = max(r.longest_gap, end - last_ok)
        r.duration = end - start
        return r

    def start(self) -> Load:
        self._thread = threading.Thread(target=self.run, name="bench-load", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> LoadResult:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.result

    def __enter__(self) -> Load:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run(hosts: list[str], **kwargs: Any) -> LoadResult:
    """Send the requests and return what they saw (blocks; see Load for the options)."""
    return Load(hosts, **kwargs).run()
