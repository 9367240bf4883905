"""Interrupted runs (fault scenario 4 of the faults issue): `swarmctl provision` killed with
SIGKILL at seeded random moments, on fresh nodes; the next provision must converge with
one swarm, every node Ready, no half-joined host and no duplicate node entry.

Marker `faults` (and `e2e`). The seed is printed; set SWARMCTL_FAULTS_SEED to replay a
run and SWARMCTL_FAULTS_ROUNDS for more rounds (default 2)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time

import pytest

from tests.conftest import SWARMCTL, _lab_down, _lab_up, lab_name, node_exec, node_ls, swarmctl

pytestmark = [pytest.mark.e2e, pytest.mark.faults]


def _kill_after(inventory, seconds: float) -> str:
    """Start a provision, SIGKILL it (and its ansible-playbook) after `seconds`."""
    proc = subprocess.Popen([*SWARMCTL, "provision", str(inventory)], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "COLUMNS": "200"})
    try:
        proc.wait(timeout=seconds)
        return "finished before the kill"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole run, as a lost controller would
        proc.wait()
        return f"killed after {seconds:.1f} s"


def test_a_provision_killed_at_any_moment_converges_on_the_next_run():
    seed = int(os.environ.get("SWARMCTL_FAULTS_SEED") or time.time())
    rounds = int(os.environ.get("SWARMCTL_FAULTS_ROUNDS") or 2)
    rng = random.Random(seed)
    print(f"faults seed {seed}, {rounds} rounds")
    name = lab_name("kill")
    try:
        for round_no in range(rounds):
            from swarmctl.lab import lab as labmod

            labmod.down(name)
            the_lab = _lab_up(name, 1, 2, "bookworm")
            at = rng.uniform(3.0, 60.0)
            what = _kill_after(the_lab.inventory_path, at)
            print(f"round {round_no + 1}: {what}")
            again = swarmctl("provision", str(the_lab.inventory_path))
            assert again.rc == 0, f"seed {seed}, round {round_no + 1} ({what}):\n{again.output}"
            manager = the_lab.managers[0].container
            nodes = node_ls(manager)
            names = [n["Hostname"] for n in nodes]
            assert sorted(names) == sorted(n.name for n in the_lab.nodes), (seed, nodes)
            assert all(n["Status"] == "Ready" for n in nodes), (seed, nodes)
            for node in the_lab.nodes:
                state = node_exec(node.container, "docker", "info", "--format",
                                  "{{.Swarm.LocalNodeState}}").strip()
                assert state == "active", (seed, node.name, state)
    finally:
        _lab_down(name)
