"""Facts about the machine a benchmark ran on, recorded next to its figures."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path


def _run(*cmd: str) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _distro() -> str:
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return platform.system()
    found = re.search(r'^PRETTY_NAME="?([^"\n]*)"?', text, re.M)
    return found.group(1) if found else platform.system()


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return 0.0


def _ansible_core() -> str:
    try:
        from ansible.release import __version__
    except ImportError:
        return ""
    return __version__


def _swarmctl() -> str:
    try:
        from swarmctl import __version__
    except ImportError:
        return ""
    return __version__


def _git_commit() -> str:
    return _run("git", "-C", str(Path(__file__).resolve().parents[1]), "rev-parse",
                "--short", "HEAD")


def load_average() -> list[float]:
    return [round(x, 1) for x in os.getloadavg()]


def machine() -> dict[str, object]:
    """Cores, memory, distro, kernel and the versions that matter to the figures."""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "distro": _distro(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "docker_engine": _run("docker", "version", "--format", "{{.Server.Version}}"),
        "ansible_core": _ansible_core(),
        "swarmctl": _swarmctl(),
        "git_commit": _git_commit(),
        "executable": sys.executable,
    }
