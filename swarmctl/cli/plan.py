"""The `plan` verb: what `provision` would change in the swarm's membership."""

from __future__ import annotations

import json
import sys
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
from swarmctl.console import out, warn

# Exit code of a plan with changes (like `terraform plan -detailed-exitcode`).
EXIT_CHANGES = 4


def plan(
    inventory: InventoryArg,
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
    reason.

    Exit 0: nothing to do; 4: there are changes; 2: bad input or a plan
    refused as unsafe; 3: a host cannot be read, or quorum is lost.
    """
    from swarmctl.cli import report
    from swarmctl.ops import membership

    inv = load_inventory([inventory, *(more or [])], extra_vars, vault_password_file,
                         ask_vault_pass, vault_id)
    for warning in inv.warnings():
        warn(warning)
    the_plan = membership.compute(inv, prune=prune)
    if as_json:
        print(json.dumps(membership.as_json(the_plan), indent=2, ensure_ascii=False))
    else:
        report.print_plan(out, the_plan, shown=inv.warnings())
    membership.refuse(the_plan)
    # sys.exit, not typer.Exit: the app runs with standalone_mode=False, where click
    # returns an Exit's code instead of exiting with it.
    sys.exit(EXIT_CHANGES if the_plan.changes else 0)


def register(app: typer.Typer) -> None:
    app.command()(plan)
