"""Membership: compute the plan from one observation, and apply its removals.

`compute` reads every inventory host once (swarmctl.ops.observe) and plans
(swarmctl.ops.plan). With `prune`, the hosts behind node entries that the inventory no
longer lists and that are not Down are read too (they must leave the swarm themselves).
`remove` runs `playbooks/remove-node.yml` for the plan's removals (role swarm_membership).
"""

from __future__ import annotations

from dataclasses import asdict
from functools import cache

from rich.console import Console

from swarmctl import paths
from swarmctl.ansible.progress import Progress
from swarmctl.ansible.runner import RunResult, raise_for_failures, run_playbook
from swarmctl.errors import InputError, PreflightError
from swarmctl.models.inventory import Inventory
from swarmctl.ops import observe as observing
from swarmctl.ops import plan as planning


def compute(inv: Inventory, *, prune: bool = False) -> planning.Plan:
    return observe_and_plan(inv, prune=prune)[1]


def observe_and_plan(inv: Inventory, *, prune: bool = False
                     ) -> tuple[observing.Observation, planning.Plan]:
    """The observation of every host, and the plan computed from it."""
    obs = observing.observe(inv)
    daemon = daemon_options_default()
    the_plan = planning.plan(inv, obs, prune=prune, daemon_options=daemon)
    if prune and the_plan.removals and not the_plan.refusals:
        ready = [n for n in obs.nodes or []
                 if n["ID"] in {r.node_id for r in the_plan.removals if not r.down}]
        if ready:
            observing.observe_outside(inv, obs, ready)
            the_plan = planning.plan(inv, obs, prune=prune, daemon_options=daemon)
    return obs, the_plan


@cache
def daemon_options_default() -> dict | None:
    """docker_engine's default `docker_engine_daemon_options` (None: not a mapping)."""
    import yaml

    path = paths.roles_dir() / "docker_engine" / "defaults" / "main.yml"
    value = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get(
        "docker_engine_daemon_options")
    return value if isinstance(value, dict) else None


def refuse(the_plan: planning.Plan) -> None:
    """Raise the plan's first refusal (InputError exit 2 or PreflightError exit 3)."""
    if the_plan.refusals:
        first = the_plan.refusals[0]
        kind = InputError if first.exit_code == 2 else PreflightError
        raise kind(f"{first.message}; nothing was changed")


def remove(inv: Inventory, the_plan: planning.Plan, *, verbosity: int = 0,
           console: Console, drain_timeout: int = 120) -> RunResult:
    """Remove the plan's nodes (workers first, managers one at a time)."""
    extravars = {"swarm_membership_remove": [r.node_id for r in the_plan.removals],
                 "swarm_membership_drain_timeout": drain_timeout}
    with Progress(console, "removing nodes", active=not verbosity) as progress:
        result = run_playbook("remove-node.yml", inv.path, verb="remove", extravars=extravars,
                              verbosity=verbosity, forks=max(len(inv.hosts), 5),
                              on_event=progress)
    raise_for_failures(result, "removing nodes")
    return result


def as_json(the_plan: planning.Plan) -> dict:
    data = the_plan.as_dict()
    data["removals"] = [asdict(r) for r in the_plan.removals]
    return data
