"""The converged stamp: what a host looked like when a run of site.yml last converged it.

`/var/lib/swarmctl/converged.json` (root only) holds the digest that swarmctl computed
of the host's declared state for that run (its inventory variables, the inventory's
members, the collection's files) and the host's fingerprint at the end of the run. The
module swarm_stamp writes and removes it; swarmctl's observation pass runs this file's
code on the host (the same source, prepended to its read), so both sides compute the
fingerprint alike. Standard library only: it also runs outside Ansible.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess

STAMP_PATH = "/var/lib/swarmctl/converged.json"
DAEMON_JSON = "/etc/docker/daemon.json"


def file_sha256(path):
    """The SHA-256 of a file's bytes, "" when it does not exist, or why it cannot be
    read (a directory, no permission)."""
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except FileNotFoundError:
        return ""
    except OSError as exc:
        return "unreadable: " + type(exc).__name__


def file_owner_mode(path):
    """A file's mode (octal), owner and group IDs, e.g. "0644 0 0"; "" when absent."""
    try:
        st = os.stat(path)
    except OSError:
        return ""
    return f"{st.st_mode & 0o7777:04o} {st.st_uid} {st.st_gid}"


def docker_info():
    """`docker info` as data, or None when the engine does not answer."""
    try:
        proc = subprocess.run(
            ["docker", "info", "--format", "{{json .}}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    try:
        return json.loads(proc.stdout)
    except ValueError:
        return None


def fingerprint(info):
    """What a run of site.yml sets on a host and a later hand could change: daemon.json
    (content, mode and owner), the engine's version, the swarm membership of the host,
    and on a manager the swarm's settings (its cluster spec). `info` is docker_info()'s
    answer (None: the engine does not answer, and no stamp can match)."""
    if info is None:
        return {}
    swarm = info.get("Swarm") or {}
    found = {
        "daemon_json": file_sha256(DAEMON_JSON),
        "daemon_json_mode": file_owner_mode(DAEMON_JSON),
        "engine": info.get("ServerVersion") or "",
        "node_id": swarm.get("NodeID") or "",
        "state": swarm.get("LocalNodeState") or "",
        "manager": bool(swarm.get("ControlAvailable")),
    }
    spec = (swarm.get("Cluster") or {}).get("Spec")
    if found["manager"] and spec is not None:
        found["cluster_spec"] = hashlib.sha256(
            json.dumps(spec, sort_keys=True).encode()
        ).hexdigest()
    return found


def read_stamp(path=STAMP_PATH):
    """The stamp's content, or None when there is none or it cannot be read."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_stamp(data, path=STAMP_PATH):
    """Write the stamp atomically, readable by root only."""
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, sort_keys=True)
    os.replace(tmp, path)
