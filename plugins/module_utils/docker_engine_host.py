"""Read what the docker_engine role decides from: Docker's packages, service, /etc/docker,
daemon.json, the age of apt's lists, the swarm section of `docker info`, and Ansible's
own facts. Read-only.

Shared by docker_engine_state (docker_engine's own read) and swarm_preflight_host, which
reads the same in the preflight's round trip when asked (swarm_preflight_engine_packages),
so that provision reads each host once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import time

from ansible.module_utils.facts import ansible_collector, default_collectors
from ansible.module_utils.facts.namespace import PrefixFactNamespace

LISTS = "/var/lib/apt/lists"
MAX_DAEMON_JSON = 1 << 20


def installed_packages(module, names):
    """The names dpkg reports as installed (the others are absent or half-installed)."""
    if not names or not shutil.which("dpkg-query"):  # not Debian: the OS check says so
        return []
    _rc, out, _err = module.run_command(
        ["dpkg-query", "--show", "--showformat=${Package} ${db:Status-Status}\n", "--", *names])
    # rc 1 only means that some names are unknown to dpkg: the known ones are listed.
    found = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1] == "installed":
            found.append(parts[0].split(":")[0])
    return [n for n in names if n in found]


def unit_state(module, unit):
    systemctl = shutil.which("systemctl")
    if not systemctl:
        return {"active": False, "enabled": False}
    active = module.run_command([systemctl, "is-active", "--quiet", unit])[0] == 0
    enabled = module.run_command([systemctl, "is-enabled", "--quiet", unit])[0] == 0
    return {"active": active, "enabled": enabled}


def ownership(st):
    """Mode (octal string), uid and gid of a stat result, as the role compares them."""
    return {"mode": f"{stat.S_IMODE(st.st_mode):04o}", "uid": st.st_uid, "gid": st.st_gid}


def directory(path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return {"exists": False}
    return {"exists": stat.S_ISDIR(st.st_mode), **ownership(st)}


def daemon_json(path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return {"exists": False}
    checksum = None
    if stat.S_ISREG(st.st_mode) and st.st_size <= MAX_DAEMON_JSON:
        with open(path, "rb") as fh:
            checksum = hashlib.sha1(fh.read()).hexdigest()  # a checksum, as copy computes it
    return {"exists": True, "checksum": checksum, **ownership(st)}


def lists_age():
    """Seconds since apt's package lists were refreshed; None when unknown."""
    try:
        return max(0, int(time.time() - os.stat(LISTS).st_mtime))
    except OSError:
        return None


def docker_swarm_info(timeout=20):
    """(rc, stdout, stderr) of `docker info --format '{{json .Swarm}}'`; rc 127 when the
    CLI is missing or does not answer within `timeout` seconds."""
    docker = shutil.which("docker")
    if not docker:
        return 127, "", "docker: command not found"
    try:
        proc = subprocess.run([docker, "info", "--format", "{{json .Swarm}}"],
                              capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, "", str(exc)
    return proc.returncode, proc.stdout, proc.stderr


def swarm_section(info):
    """The Swarm section from docker_swarm_info()'s result, or None when it is not one."""
    rc, out, _err = info
    if rc != 0:
        return None
    try:
        swarm = json.loads(out)
    except ValueError:
        return None
    return swarm if isinstance(swarm, dict) and "LocalNodeState" in swarm else None


def engine_state(module, packages, service="docker", config_dir="/etc/docker",
                 swarm_info=docker_swarm_info):
    """What the docker_engine role decides from (see docker_engine_state's RETURN).

    `swarm_info`: called for docker_swarm_info()'s result when the service is active
    (a caller that read it already passes it back); None leaves the swarm section out.
    """
    unit = unit_state(module, service)
    section = swarm_section(swarm_info()) if swarm_info and unit["active"] else None
    return {
        "packages": list(packages),
        "installed": installed_packages(module, packages),
        "lists_age": lists_age(),
        "service": unit,
        "swarm": section,
        "config_dir": directory(config_dir),
        "daemon_json": daemon_json(os.path.join(config_dir, "daemon.json")),
    }


def _apt_policy(module, names):
    """{name: {"candidate": VERSION or None, "available": [VERSION, ...]}} from `apt-cache
    policy` (what the host's package sources offer; names it does not know are left out)."""
    if not names or not shutil.which("apt-cache"):
        return {}
    out = module.run_command(["apt-cache", "policy", "--", *names],
                             environ_update={"LC_ALL": "C", "LANG": "C"})[1]
    found, current, in_table = {}, None, False
    for line in out.splitlines():
        if line and not line[0].isspace() and line.endswith(":"):
            current = found.setdefault(line[:-1].split(":")[0], {"candidate": None,
                                                                 "available": []})
            in_table = False
        elif current is None:
            continue
        elif line.strip().startswith("Candidate:"):
            value = line.split(":", 1)[1].strip()
            current["candidate"] = None if value == "(none)" else value
        elif line.strip() == "Version table:":
            in_table = True
        elif in_table:
            # "     1.6.20~ds1-1+deb12u3 500" or " *** 1.6.20~ds1-1+deb12u2 100" (a version
            # line); "        500 http://... Packages" (a source of the line before)
            parts = line.replace("***", " ").split()
            if len(parts) == 2 and parts[1].lstrip("-").isdigit() and not parts[0].isdigit():
                current["available"].append(parts[0])
    return found


def version_lt(module, left, right):
    """dpkg's own ordering of two Debian version strings."""
    return module.run_command(["dpkg", "--compare-versions", left, "lt", right])[0] == 0


def package_versions(module, wanted):
    """Per package of `wanted` (name → apt version, "" for the newest its sources offer):
    `installed` (version or None), `target` (version or None), `available` (bool), and
    `action`: ok, upgrade, downgrade, absent (not installed), unavailable (the version is
    not offered)."""
    names = list(wanted)
    installed = {}
    if names and shutil.which("dpkg-query"):
        out = module.run_command(
            ["dpkg-query", "--show",
             "--showformat=${Package} ${db:Status-Status} ${Version}\n", "--", *names])[1]
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] == "installed":
                installed[parts[0].split(":")[0]] = parts[2]
    policy = _apt_policy(module, names)
    result = {}
    for name in names:
        have = installed.get(name)
        offered = policy.get(name, {"candidate": None, "available": []})
        target = wanted[name] or offered["candidate"]
        available = bool(target) and (target in offered["available"] or target == have)
        if have is None:
            action = "absent"
        elif not available:
            action = "unavailable"
        elif have == target:
            action = "ok"
        else:
            action = "upgrade" if version_lt(module, have, target) else "downgrade"
        result[name] = {"installed": have, "target": target, "available": available,
                        "action": action}
    return result


def gather_facts(module, subset):
    """What `setup: gather_subset=...` would return, collected the way setup does."""
    if not subset:
        return {}
    collector = ansible_collector.get_ansible_collector(
        all_collector_classes=default_collectors.collectors,
        namespace=PrefixFactNamespace(namespace_name="ansible", prefix="ansible_"),
        gather_subset=["!all", "!min", *subset], gather_timeout=10,
        minimal_gather_subset=frozenset())
    return collector.collect(module=module)
