"""A thin wrapper over the `docker` CLI (the Docker SDK is not a runtime dependency).

Only flags that engine 20.10 understands are used: the client on PATH may be newer.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from typing import Any

from swarmctl.errors import LabError

LABEL = "io.swarmctl.lab"
START_HINT = "start one with `sudo systemctl start docker` (or `sudo dockerd &`)"


class DockerError(LabError):
    """A docker command failed; the message holds its last stderr line."""


def _binary() -> str:
    path = shutil.which("docker")
    if path is None:
        raise LabError("the docker command was not found; install Docker (e.g. "
                       "`sudo apt-get install docker.io`) and " + START_HINT)
    return path


def run(args: Sequence[str], *, timeout: float | None = 300,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `docker ARGS`; raise DockerError with its stderr on failure when `check`."""
    cmd = [_binary(), *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise DockerError(f"`docker {' '.join(args[:3])}` timed out after {timeout:.0f}s"
                          ) from None
    if check and proc.returncode != 0:
        raise DockerError(f"`docker {' '.join(args[:3])}` failed: {last_line(proc.stderr)}")
    return proc


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no error output"


def engine_version() -> str:
    """The engine's version; a one-line LabError saying how to start one if none runs."""
    proc = run(["version", "--format", "{{.Server.Version}}"], timeout=30, check=False)
    version = proc.stdout.strip()
    if proc.returncode != 0 or not version:
        raise LabError(f"no Docker engine is reachable ({last_line(proc.stderr)}); "
                       + START_HINT)
    return version


def inspect(kind: str, names: Sequence[str]) -> list[dict[str, Any]]:
    """`docker KIND inspect` of the objects that exist (missing ones are skipped)."""
    if not names:
        return []
    proc = run([kind, "inspect", *names], check=False)
    try:
        found = json.loads(proc.stdout or "[]")
    except json.JSONDecodeError:
        found = []
    return found if isinstance(found, list) else []


def ids_by_label(kind: str, lab: str) -> list[str]:
    """IDs (volumes: names) of containers, volumes or networks labelled for `lab`."""
    flt = f"label={LABEL}={lab}"
    if kind == "container":
        args = ["container", "ls", "-a", "-q", "--no-trunc", "--filter", flt]
    else:
        args = [kind, "ls", "-q", "--filter", flt]
    return run(args).stdout.split()


def labels_of(obj: dict[str, Any]) -> dict[str, str]:
    """Labels of an inspected container, volume or network."""
    labels = obj.get("Labels")
    if labels is None:
        labels = (obj.get("Config") or {}).get("Labels")
    return dict(labels or {})
