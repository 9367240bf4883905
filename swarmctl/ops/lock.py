"""One operator at a time: a lock held in the swarm itself while a run changes it.

The lock is a swarm config named `swarmctl-lock`: creating a config of a name that
exists fails on every manager alike (the raft store decides), so two controllers, with
the same inventory or not, cannot both hold it. Its data says who holds it (user@host,
process, command, since when). A run releases it at the end; a run that was killed
leaves it behind, and then:

- on the controller that holds it, a holder process that is gone is a dead lock, broken
  at once (with a warning);
- from anywhere, a lock older than `SWARMCTL_LOCK_TTL` seconds (default 7200) is taken
  as abandoned and broken (with a warning);
- otherwise the run waits up to `--lock-wait` seconds, then refuses with one line that
  names the holder and since when (exit 5).

A host that has no swarm yet has nothing to lock (the first build); a manager that cannot
be reached or used (SSH, sudo) is left to the run, which reports it in one line; a swarm
that cannot store the config (no quorum) is not locked either, with a warning.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from swarmctl.errors import LockedError
from swarmctl.models.inventory import Inventory

NAME = "swarmctl-lock"
DEFAULT_TTL = 7200.0
POLL = 2.0

# Runs on the manager with its Python and Docker SDK: take, inspect or drop the lock.
_SCRIPT = r"""
import base64, json, sys
try:
    import docker
    from docker.errors import APIError, NotFound
except ImportError:
    print(json.dumps({"state": "noswarm", "why": "no Docker SDK"})); sys.exit(0)
action, name, data = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    api = docker.APIClient(base_url="unix://var/run/docker.sock", version="auto")
    swarm = api.info().get("Swarm", {})
except Exception as exc:
    print(json.dumps({"state": "noswarm", "why": str(exc)})); sys.exit(0)
if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
    print(json.dumps({"state": "noswarm", "why": swarm.get("LocalNodeState", "")})); sys.exit(0)
def held():
    found = [c for c in api.configs(filters={"name": name}) if c["Spec"]["Name"] == name]
    if not found:
        return None
    c = found[0]
    raw = base64.b64decode(c["Spec"].get("Data") or b"").decode(errors="replace")
    return {"id": c["ID"], "created": c.get("CreatedAt", ""), "data": raw}
try:
    if action == "take":
        try:
            api.create_config(name, data.encode(), labels={"io.swarmctl.lock": "1"})
            print(json.dumps({"state": "taken"}))
        except APIError as exc:
            if exc.status_code != 409:
                raise
            print(json.dumps({"state": "held", "holder": held()}))
    elif action == "drop":  # only the lock whose data is ours (data holds our token)
        h = held()
        if h and (data == "*" or data in h["data"]):
            api.remove_config(h["id"])
        print(json.dumps({"state": "dropped"}))
except Exception as exc:
    print(json.dumps({"state": "error", "why": " ".join(str(exc).split())[:300]}))
"""


@dataclass(frozen=True)
class Holder:
    """Who holds the lock, from the config's data."""

    by: str  # user@host
    pid: int
    command: str
    since: float  # epoch seconds
    token: str = ""

    @classmethod
    def parse(cls, data: str, created: str) -> Holder:
        try:
            raw: dict[str, Any] = json.loads(data)
        except ValueError:
            raw = {}
        since = raw.get("since")
        if not isinstance(since, int | float):
            since = _epoch(created) or 0.0
        return cls(by=str(raw.get("by", "someone")), pid=int(raw.get("pid") or 0),
                   command=str(raw.get("command", "a run")), since=float(since),
                   token=str(raw.get("token", "")))

    def line(self, now: float) -> str:
        when = datetime.fromtimestamp(self.since, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return (f"{self.by} (process {self.pid}, `swarmctl {self.command}`) since {when}, "
                f"{_ago(now - self.since)} ago")


def _epoch(value: str) -> float | None:
    """Docker's CreatedAt (e.g. 2026-12-01T23:10:11.123456789Z), to the second."""
    try:
        return datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S").replace(
            tzinfo=UTC).timestamp()
    except ValueError:
        return None


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


def me() -> str:
    user = os.environ.get("USER") or os.environ.get("LOGNAME") or str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid > 0


def verdict(holder: Holder, *, now: float, here: str, ttl: float,
            alive: Callable[[int], bool] = _alive) -> str:
    """What to do about a lock someone holds: "break" (dead or abandoned) or "wait"."""
    if holder.by == here and holder.pid and not alive(holder.pid):
        return "break"
    if now - holder.since > ttl:
        return "break"
    return "wait"


def _ttl() -> float:
    try:
        return float(os.environ.get("SWARMCTL_LOCK_TTL", DEFAULT_TTL))
    except ValueError:
        return DEFAULT_TTL


def _call(host, action: str, data: str) -> dict[str, Any]:
    from swarmctl.ops import remote

    proc = remote.run(host, ["python3", "-c", _SCRIPT, action, NAME, data], timeout=60)
    if proc.returncode != 0:  # SSH, sudo or Python: the run itself says what is wrong
        return {"state": "unreachable", "why": remote.error_text(proc)}
    try:
        return json.loads(proc.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"state": "error", "why": "unexpected answer"}


@contextmanager
def held(inv: Inventory, command: str, *, wait: float = 0, warn: Callable[[str], None]
         ) -> Iterator[None]:
    """Hold the swarm's lock around a run that changes it (see the module's docstring)."""
    from swarmctl.ops import remote

    try:
        manager = remote.first_reachable_manager(inv)
    except Exception:  # the run itself reports unreachable managers
        yield
        return
    token = uuid.uuid4().hex
    data = json.dumps({"by": me(), "pid": os.getpid(), "command": command,
                       "since": time.time(), "token": token})
    deadline = time.monotonic() + max(0.0, wait)
    taken = False
    while True:
        answer = _call(manager, "take", data)
        state = answer.get("state")
        if state == "taken":
            taken = True
            break
        if state in ("noswarm", "unreachable"):
            break  # nothing to lock yet (the first build), or the run reports the host
        if state != "held" or not answer.get("holder"):
            warn(f"could not take the swarm's lock on {manager.name} "
                 f"({answer.get('why', 'no answer')}); running without it")
            break
        holder = Holder.parse(answer["holder"]["data"], answer["holder"]["created"])
        now = time.time()
        if verdict(holder, now=now, here=me(), ttl=_ttl()) == "break":
            warn(f"breaking a stale swarmctl lock held by {holder.line(now)}")
            _call(manager, "drop", holder.token or "*")
            continue
        if time.monotonic() >= deadline:
            raise LockedError(
                f"another swarmctl run holds this swarm's lock: {holder.line(now)}; wait "
                "for it to finish (or pass --lock-wait SECONDS), or, if that run is gone, "
                f"remove the lock with `docker config rm {NAME}` on a manager")
        time.sleep(min(POLL, max(0.1, deadline - time.monotonic())))
    try:
        yield
    finally:
        if taken:
            _call(manager, "drop", token)
