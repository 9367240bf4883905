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
  versions:
    description: >-
      Packages whose versions to compare, each with the apt version wanted (an empty
      string: the newest the host's package sources offer); returned as RV(versions).
      Used by the role's upgrade tasks.
    type: dict
    default: {}
  update_lists_age:
    description: >-
      Refresh apt's package lists first (C(apt-get update)) when they are older than
      this many seconds, or their age is unknown; 0 never refreshes. The lists are a
      cache of what the sources offer, so a refresh is not reported as a change.
    type: int
    default: 0
  lock_timeout:
    description: Seconds C(apt-get update) waits for the dpkg lock.
    type: int
    default: 300
  swarm:
    description: >-
      Also read the Swarm section of C(docker info) when the service is active, so that
      a converged host needs no second read of its swarm state.
    type: bool
    default: true
author: swarmctl developers (@swarmctl)
"""

EXAMPLES = r"""
- name: Read Docker's packages, service and swarm state, and the OS facts.
  swarmctl.swarm.docker_engine_state:
    packages: [docker.io, python3-docker]
    gather_subset: [distribution, network]
  register: engine
"""

RETURN = r"""
ansible_facts:
  description: The facts of I(gather_subset), named as the setup module names them.
  returned: when gather_subset is not empty
  type: dict
packages:
  description: I(packages), the names looked up.
  returned: always
  type: list
  elements: str
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
lists_refreshed:
  description: Whether apt's lists were refreshed first (I(update_lists_age)).
  returned: always
  type: bool
versions:
  description: >-
    Per package of I(versions): C(installed) (its version, null when not installed),
    C(target) (the version wanted, or the newest offered), C(available) (whether the
    target is offered or installed) and C(action): ok, upgrade, downgrade, absent or
    unavailable.
  returned: when versions is not empty
  type: dict
daemon_json:
  description: >-
    C(exists), and when it exists the SHA-1 of its content (C(checksum), null when it
    is not a regular file), C(mode) (octal string), C(uid) and C(gid). The content is
    not returned: it may hold proxy credentials.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.swarmctl.swarm.plugins.module_utils.docker_engine_host import (
    docker_swarm_info,
    engine_state,
    gather_facts,
    lists_age,
    package_versions,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "packages": {"type": "list", "elements": "str", "required": True},
            "service": {"type": "str", "default": "docker"},
            "config_dir": {"type": "path", "default": "/etc/docker"},
            "gather_subset": {"type": "list", "elements": "str", "default": []},
            "versions": {"type": "dict", "default": {}},
            "update_lists_age": {"type": "int", "default": 0},
            "lock_timeout": {"type": "int", "default": 300},
            "swarm": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    params = module.params
    refreshed = False
    if params["update_lists_age"] > 0 and not module.check_mode:
        age = lists_age()
        if age is None or age > params["update_lists_age"]:
            rc, _out, err = module.run_command(
                ["apt-get", "update", "-q", "-o",
                 f"DPkg::Lock::Timeout={params['lock_timeout']}"],
                environ_update={"DEBIAN_FRONTEND": "noninteractive"})
            if rc != 0:
                module.fail_json(msg="apt-get update failed: " + " ".join(err.split())[-300:])
            refreshed = True
    state = engine_state(module, params["packages"], params["service"], params["config_dir"],
                         docker_swarm_info if params["swarm"] else None)
    if params["versions"]:
        state["versions"] = package_versions(
            module, {k: str(v or "") for k, v in params["versions"].items()})
    module.exit_json(ansible_facts=gather_facts(module, params["gather_subset"]),
                     changed=False, lists_refreshed=refreshed, **state)


if __name__ == "__main__":
    main()
