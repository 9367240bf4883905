"""The `plan` verb: what `provision` would change in the swarm's membership and, given a
services spec, what `deploy` would change in its services."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from swarmctl.cli.options import (
    AskVaultPassOpt,
    ExtraVarsOpt,
    InventoryArg,
    MoreInventoriesOpt,
    PruneOpt,
    VaultIdOpt,
    VaultPasswordFileOpt,
    load_inventory,
)
from swarmctl.console import err, lit, out, warn

# Exit code of a plan with changes (like `terraform plan -detailed-exitcode`).
EXIT_CHANGES = 4


def plan(
    inventory: InventoryArg,
    spec_file: Annotated[Path | None, typer.Argument(
        help="A services spec: also show what `deploy` would change (networks, secrets, "
        "configs, services; with --prune the services it would remove).",
        show_default=False)] = None,
    prune: PruneOpt = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
    more: MoreInventoriesOpt = None,
    extra_vars: ExtraVarsOpt = None,
    vault_password_file: VaultPasswordFileOpt = None,
    ask_vault_pass: AskVaultPassOpt = False,
    vault_id: VaultIdOpt = None,
) -> None:
    """Show what `swarmctl provision` would change; changes nothing.

    Reads every host and the swarm's node list in one parallel pass over
    SSH, then lists the actions in the order they would run, each with its
    reason: install or start Docker, create the swarm, join a host as
    manager or worker, promote or demote a host that moved between
    swarm_managers and swarm_workers, node labels and availability, remove
    a stale Down entry of a re-joined host and, with --prune, remove a host
    the inventory no longer lists (drain, wait for its tasks to run
    elsewhere, demote, leave, node rm). Then the managers and the failures
    they tolerate, before → after. An unsafe plan (e.g. removing 2 of 3
    managers at once, or a swarm that lost quorum) is refused with the
    reason. When nothing is to change, it also says whether `provision`
    would run no task (every host as its last converged run left it) or
    every task, and why.

    With SPEC, the services too: `deploy`'s own playbook runs in Ansible's
    check mode from a manager (the same modules decide what differs; nothing
    is changed): each network, secret, config and service to create, update
    (with the fields that differ) or, with --prune, remove; services deployed
    from a spec that SPEC no longer declares are listed as kept without it.
    Stacks are not planned (`docker stack deploy` has no dry run).

    Exit 0: nothing to do; 4: there are changes; 2: bad input or a plan
    refused as unsafe; 3: a host cannot be read, or quorum is lost.
    """
    from swarmctl.cli import report
    from swarmctl.ops import converged, membership

    inv = load_inventory([inventory, *(more or [])], extra_vars, vault_password_file,
                         ask_vault_pass, vault_id)
    if spec_file is not None:
        from swarmctl.models import spec as specmod

        specmod.load(spec_file)  # a bad spec: one line, before any host is read
    for warning in inv.warnings():
        warn(warning)
    obs, the_plan = membership.observe_and_plan(inv, prune=prune)
    verdict = converged.decide(inv, obs, the_plan, converged.digests(inv))
    if not as_json:
        report.print_plan(out, the_plan, shown=inv.warnings())
        if not the_plan.refusals and not the_plan.changes:
            out.print("provision: " + ("runs no task (every host is as its last converged "
                                       "run left it)" if verdict.skip else
                                       f"runs every task ({lit(verdict.reason)})"),
                      highlight=False, soft_wrap=True)
    as_data = {**membership.as_json(the_plan), "provision_runs_tasks": not verdict.skip,
               "provision_reason": verdict.reason}
    if as_json and (the_plan.refusals or spec_file is None):
        print(json.dumps(as_data, indent=2, ensure_ascii=False))
    membership.refuse(the_plan)
    services_changes = 0
    if spec_file is not None:
        from swarmctl.ops import services

        splan = services.plan(inv, spec_file, console=err, prune=prune)
        services_changes = len(splan.changes)
        if as_json:
            print(json.dumps({**as_data, "services": splan.as_json()},
                             indent=2, ensure_ascii=False))
        else:
            report.print_services_plan(out, splan)
    # sys.exit, not typer.Exit: the app runs with standalone_mode=False, where click
    # returns an Exit's code instead of exiting with it.
    sys.exit(EXIT_CHANGES if the_plan.changes or services_changes else 0)


def register(app: typer.Typer) -> None:
    app.command()(plan)
