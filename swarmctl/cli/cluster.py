"""The cluster verbs: `provision` and `check`."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from swarmctl.cli.options import (
    AskVaultPassOpt,
    ExtraVarsOpt,
    InventoryArg,
    LimitOpt,
    LockWaitOpt,
    MoreInventoriesOpt,
    VaultIdOpt,
    VaultPasswordFileOpt,
    VerboseOpt,
    limit_hosts,
    load_inventory,
)
from swarmctl.console import err, lit, out, warn


def provision(
    inventory: InventoryArg,
    verbose: VerboseOpt = 0,
    skip_checks: Annotated[bool, typer.Option(
        "--skip-checks", help="Do not run the preflight checks first.")] = False,
    more: MoreInventoriesOpt = None,
    extra_vars: ExtraVarsOpt = None,
    vault_password_file: VaultPasswordFileOpt = None,
    ask_vault_pass: AskVaultPassOpt = False,
    vault_id: VaultIdOpt = None,
    limit: LimitOpt = None,
    lock_wait: LockWaitOpt = 0,
) -> None:
    """Install Docker on every host and make them one swarm (idempotent).

    Initialises the swarm on the first manager, joins the other managers one at a
    time and the workers in parallel, applies node labels and availability, then
    verifies the cluster and prints it. A second run changes nothing. One run at a
    time per swarm: another run's lock makes it wait (--lock-wait) or refuse (exit 5).
    """
    from swarmctl.cli import report
    from swarmctl.ops import lock
    from swarmctl.ops import provision as cluster

    inv = load_inventory([inventory, *(more or [])], extra_vars, vault_password_file,
                         ask_vault_pass, vault_id)
    selected = limit_hosts(inv, limit, extra_vars)
    for warning in inv.warnings():
        err.print(f"[yellow]warning:[/] {lit(warning)}", soft_wrap=True)
    started = time.monotonic()
    limited = cluster.Limited.of(inv, selected) if selected is not None and \
        len(selected) < len(inv.hosts) else None
    with lock.held(inv, "provision", wait=lock_wait, warn=warn):
        result = cluster.provision(inv, verbosity=verbose, console=err,
                                   checks=not skip_checks, report_console=out,
                                   limit=limited)
    nodes = cluster.nodes_from(result)
    report.print_nodes(out, nodes)
    out.print(
        f"[green]✓[/] swarm of {len(nodes)} nodes converged in {time.monotonic() - started:.1f}s "
        f"({result.total_changed:d} changes). Run folder: {lit(result.run_dir)}", soft_wrap=True
    )


def check(
    inventory: InventoryArg,
    verbose: VerboseOpt = 0,
    more: MoreInventoriesOpt = None,
    extra_vars: ExtraVarsOpt = None,
    vault_password_file: VaultPasswordFileOpt = None,
    ask_vault_pass: AskVaultPassOpt = False,
    vault_id: VaultIdOpt = None,
    limit: LimitOpt = None,
) -> None:
    """Check every host before anything changes; changes nothing.

    Probes all hosts in parallel (SSH, sudo, OS, kernel features, swarm ports and their
    reachability between hosts, MTU, clock, advertise address, hostnames, swarm
    membership, manager count) and prints a table host-by-check with a fix for each
    problem. Exit 0 when nothing fails (warnings allowed), 3 when a check fails.
    """
    inv = load_inventory([inventory, *(more or [])], extra_vars, vault_password_file,
                         ask_vault_pass, vault_id)
    selected = limit_hosts(inv, limit, extra_vars)
    if selected is not None and len(selected) < len(inv.hosts):
        from swarmctl.ops.provision import Limited

        limited = Limited.of(inv, selected)
        _preflight(limited.inventory, verbose, limited.pattern)
    else:
        _preflight(inv, verbose)


def _preflight(inv, verbose: int, limit: str | None = None) -> None:
    """Run the preflight checks before anything changes (see `swarmctl check`)."""
    from swarmctl.ops import checks

    checks.require(inv, console=err, verbosity=verbose, report_console=out, limit=limit)


def register(app: typer.Typer) -> None:
    app.command()(provision)
    app.command()(check)
