#!/usr/bin/python
"""Write or remove the converged stamp of a host (see module_utils/swarm_stamp.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: swarm_stamp
short_description: Write or remove the stamp that says a run of site.yml converged a host.
description:
  - The stamp (C(/var/lib/swarmctl/converged.json), mode 0600) holds the digest that
    swarmctl computed of the host's declared state and the host's fingerprint at the
    end of the run (the SHA-256, mode and owner of daemon.json, the engine's version,
    its swarm node and state, and on a manager the SHA-256 of the swarm's cluster spec).
  - With C(present) and an engine that does not answer, the stamp is removed.
  - C(swarmctl provision) skips the playbook when every host's stamp matches its digest
    and its fingerprint read again, and the membership plan is empty. It writes the
    stamps itself after a run (the same code, over SSH); site.yml runs this module
    with C(absent) in any other run.
  - The stamp is swarmctl's bookkeeping, not the host's configuration, so the module
    never reports a change; in check mode it writes and removes nothing.
options:
  state:
    description: C(present) writes the stamp with I(digest), C(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  digest:
    description: The digest swarmctl computed for this host; required with C(present).
    type: str
author: swarmctl developers (@swarmctl)
"""

EXAMPLES = r"""
- name: Forget that this host was converged (a run without a digest).
  swarmctl.swarm.swarm_stamp:
    state: absent

- name: Record that this host is converged.
  swarmctl.swarm.swarm_stamp:
    digest: "{{ swarmctl_converged_digest[inventory_hostname] }}"
"""

RETURN = r"""
fingerprint:
  description: The fingerprint written (with C(present)); empty when the engine does not answer.
  returned: always
  type: dict
written:
  description: Whether a stamp was written (C(present) and the engine answered).
  returned: always
  type: bool
"""

import contextlib
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.swarmctl.swarm.plugins.module_utils.swarm_stamp import (
    STAMP_PATH,
    docker_info,
    fingerprint,
    write_stamp,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "digest": {"type": "str", "no_log": False},
        },
        required_if=[("state", "present", ["digest"])],
        supports_check_mode=True,
    )
    found = {} if module.params["state"] == "absent" else fingerprint(docker_info())
    written = False
    if not module.check_mode:
        try:
            if found:
                write_stamp({"digest": module.params["digest"], "fingerprint": found})
                written = True
            else:  # absent, or the engine does not answer: no stamp says "converged"
                with contextlib.suppress(FileNotFoundError):
                    os.remove(STAMP_PATH)
        except OSError as exc:  # bookkeeping: the next provision runs every task
            module.warn(f"the converged stamp {STAMP_PATH}: {exc}")
    module.exit_json(changed=False, fingerprint=found, written=written)


if __name__ == "__main__":
    main()
