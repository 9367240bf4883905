"""Commands on inventory hosts over plain SSH, with the inventory's connection variables.

For quick reads (status) and bulk transfers (image loads) where a playbook run would
cost more than the work. Uses ansible_host, ansible_port, ansible_user,
ansible_ssh_private_key_file, ansible_ssh_common_args / ansible_ssh_extra_args and
ansible_become (sudo without a password) the way Ansible's ssh connection does.
"""

from __future__ import annotations

import shlex
import socket
import subprocess
from collections.abc import Sequence
from typing import IO

from swarmctl.console import one_line
from swarmctl.errors import RunError
from swarmctl.models.inventory import Host, Inventory

CONNECT_TIMEOUT = 10


def ssh_argv(host: Host, command: Sequence[str], *, sudo: bool | None = None,
             connect_timeout: int = CONNECT_TIMEOUT) -> list[str]:
    """The `ssh` command line that runs `command` on the host (with sudo when needed)."""
    v = host.vars
    argv = ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={connect_timeout}",
            "-p", str(host.port)]
    key = v.get("ansible_ssh_private_key_file") or v.get("ansible_private_key_file")
    if key:
        argv += ["-i", str(key)]
    for var in ("ansible_ssh_common_args", "ansible_ssh_extra_args"):
        if v.get(var):
            argv += shlex.split(str(v[var]))
    user = host.user
    if user:
        argv += ["-l", user]
    argv.append(host.address)
    if sudo is None:
        sudo = bool(host.become) or (user not in (None, "root"))
    cmd = shlex.join(command)
    argv.append(f"sudo -n {cmd}" if sudo and user != "root" else cmd)
    return argv


def run(host: Host, command: Sequence[str], *, stdin: IO[bytes] | None = None,
        timeout: float = 120, connect_timeout: int = CONNECT_TIMEOUT
        ) -> subprocess.CompletedProcess:
    """Run a command on a host; the CompletedProcess (text output), never raises on rc.
    Without `stdin`, ssh reads nothing: it would otherwise take what the user types or
    pipes in for swarmctl's own questions (upgrade --confirm)."""
    try:
        return subprocess.run(ssh_argv(host, command, connect_timeout=connect_timeout),
                              stdin=subprocess.DEVNULL if stdin is None else stdin,
                              capture_output=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess([], 255, b"", f"timed out after {timeout:.0f}s"
                                           .encode())


def reachable(host: Host, timeout: float = 3.0) -> bool:
    """Whether the host's SSH port accepts TCP connections."""
    try:
        with socket.create_connection((host.address, host.port), timeout=timeout):
            return True
    except OSError:
        return False


def first_reachable_manager(inv: Inventory) -> Host:
    for host in inv.managers:
        if reachable(host):
            return host
    names = ", ".join(h.name for h in inv.managers)
    raise RunError(f"no manager answers on its SSH port ({names}); check that they are up "
                   "and reachable from here")


def error_text(proc: subprocess.CompletedProcess) -> str:
    text = proc.stderr.decode(errors="replace") if isinstance(proc.stderr, bytes) \
        else str(proc.stderr)
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("Warning:")]
    return one_line(" ".join(lines[-2:]), 300) or f"exit code {proc.returncode}"
