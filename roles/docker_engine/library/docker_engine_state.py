#!/usr/bin/python
"""Read, in one round trip, what the docker_engine role needs to decide what to change."""

from __future__ import annotations

DOCUMENTATION = r"""
module: docker_engine_state
short_description: Read a host's Docker packages, service, daemon.json and apt lists age.
description:
  - Read-only. Reports which of the given packages dpkg has installed, whether the
    docker service is active and enabled, the state of /etc/docker and of daemon.json,
    and the age of apt's package lists, so that the role runs apt, copy and service
    only when something differs (each of those is a round trip per host).
options:
  packages:
    description: Package names to look up.
    type: list
    elements: str
    required: true
  service:
    description: The systemd unit of the engine.
    type: str
    default: docker
  config_dir:
    description: Docker's configuration directory.
    type: path
    default: /etc/docker
  gather_subset:
    description: >-
      Ansible fact subsets to collect in the same round trip, with Ansible's own fact
      collectors (as the setup module does); an empty list collects none.
    type: list
    elements: str
    default: []
  swarm:
    description: >-
      Also read the Swarm section of C(docker info) when the service is active, so that
      a converged host needs no second read of its swarm state.
    type: bool
    default: true
author: swarmctl
"""

RETURN = r"""
ansible_facts:
  description: The facts of I(gather_subset), named as the setup module names them.
  returned: when gather_subset is not empty
  type: dict
installed:
  description: The packages of I(packages) that dpkg reports installed.
  returned: always
  type: list
  elements: str
lists_age:
  description: Seconds since apt's package lists were refreshed; null when unknown.
  returned: always
  type: int
service:
  description: C(active) and C(enabled) of the unit (false when systemctl is missing).
  returned: always
  type: dict
config_dir:
  description: C(exists), and when it exists its C(mode) (octal string), C(uid) and C(gid).
  returned: always
  type: dict
swarm:
  description: >-
    The Swarm section of C(docker info) (NodeID, LocalNodeState, ControlAvailable,
    Cluster, ...) when the service is active and the docker CLI answered; null otherwise.
  returned: always
  type: dict
daemon_json:
  description: >-
    C(exists), and when it exists the SHA-1 of its content (C(checksum), null when it
    is not a regular file), C(mode) (octal string), C(uid) and C(gid). The content is
    not returned: it may hold proxy credentials.
  returned: always
  type: dict
"""

import hashlib
import json
import os
import shutil
import stat
import subprocess
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.facts import ansible_collector, default_collectors
from ansible.module_utils.facts.namespace import PrefixFactNamespace

LISTS = "/var/lib/apt/lists"
MAX_DAEMON_JSON = 1 << 20


def installed_packages(module, names):
    """The names dpkg reports as installed (the others are absent or half-installed)."""
    if not names or not shutil.which("dpkg-query"):  # not Debian: the OS check says so
        return []
    _, out, _ = module.run_command(
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


def swarm_info():
    """`docker info`'s Swarm section, or None when the CLI or daemon does not answer."""
    docker = shutil.which("docker")
    if not docker:
        return None
    try:
        proc = subprocess.run([docker, "info", "--format", "{{json .Swarm}}"],
                              capture_output=True, text=True, timeout=20, check=False)
        info = json.loads(proc.stdout) if proc.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    return info if isinstance(info, dict) and "LocalNodeState" in info else None


def gather_facts(module, subset):
    """What `setup: gather_subset=...` would return, collected the way setup does."""
    collector = ansible_collector.get_ansible_collector(
        all_collector_classes=default_collectors.collectors,
        namespace=PrefixFactNamespace(namespace_name="ansible", prefix="ansible_"),
        gather_subset=["!all", "!min", *subset], gather_timeout=10,
        minimal_gather_subset=frozenset())
    return collector.collect(module=module)


def main():
    module = AnsibleModule(
        argument_spec={
            "packages": {"type": "list", "elements": "str", "required": True},
            "service": {"type": "str", "default": "docker"},
            "config_dir": {"type": "path", "default": "/etc/docker"},
            "gather_subset": {"type": "list", "elements": "str", "default": []},
            "swarm": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    params = module.params
    try:
        lists_age = max(0, int(time.time() - os.stat(LISTS).st_mtime))
    except OSError:
        lists_age = None
    service = unit_state(module, params["service"])
    facts = gather_facts(module, params["gather_subset"]) if params["gather_subset"] else {}
    module.exit_json(
        ansible_facts=facts,
        changed=False,
        installed=installed_packages(module, params["packages"]),
        lists_age=lists_age,
        service=service,
        swarm=swarm_info() if params["swarm"] and service["active"] else None,
        config_dir=directory(params["config_dir"]),
        daemon_json=daemon_json(os.path.join(params["config_dir"], "daemon.json")),
    )


if __name__ == "__main__":
    main()
