#!/usr/bin/python
"""Stop the temporary preflight listener that swarm_preflight_host started."""

from __future__ import annotations

DOCUMENTATION = r"""
module: swarm_preflight_listener
short_description: Stop the temporary preflight listener of this host.
description:
  - Sends SIGTERM to the listener process, only if the process with that PID is still
    the one that was started (same start time), and waits until it is gone.
options:
  pid:
    description: PID of the listener.
    type: int
    required: true
  start_time:
    description: Start time of the listener (field 22 of /proc/PID/stat).
    type: str
    required: true
author: swarmctl developers (@swarmctl)
"""

EXAMPLES = r"""
- name: Ensure the temporary listener of this host is stopped.
  swarmctl.swarm.swarm_preflight_listener:
    pid: "{{ swarm_preflight_host.preflight.listener.pid }}"
    start_time: "{{ swarm_preflight_host.preflight.listener.start_time }}"
"""

RETURN = r"""
stopped:
  description: Whether a listener was still running and was stopped.
  returned: always
  type: bool
"""

import os
import signal
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.swarmctl.swarm.plugins.module_utils.swarm_preflight_proc import start_time


def main():
    module = AnsibleModule(
        argument_spec={"pid": {"type": "int", "required": True},
                       "start_time": {"type": "str", "required": True}},
        supports_check_mode=True,
    )
    pid, started = module.params["pid"], module.params["start_time"]
    stopped = False
    if pid > 1 and started and start_time(pid) == started:
        try:
            os.kill(pid, signal.SIGTERM)
            stopped = True
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 5
        while start_time(pid) == started and time.monotonic() < deadline:
            time.sleep(0.02)
        if start_time(pid) == started:
            module.fail_json(msg=f"the preflight listener (pid {pid}) did not stop")
    # A temporary process ended: no state of the host changed.
    module.exit_json(changed=False, stopped=stopped)


if __name__ == "__main__":
    main()
