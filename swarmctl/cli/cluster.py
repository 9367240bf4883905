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
    PruneOpt,
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
    prune: PruneOpt = False,
    full: Annotated[bool, typer.Option(
        "--full", help="Run every task even when every host is as its last converged "
        "run left it (finds drift the read does not see).")] = False,
) -> None:
    """Install Docker on every host and make them one swarm (idempotent).

    Prints the plan first (see `swarmctl plan`) and stops when it is unsafe.
    Initialises the swarm on the first manager, joins the other managers one
    at a time and the workers in parallel, promotes or demotes hosts that
    moved between the groups (one at a time), applies node labels and
    availability, then verifies the cluster and prints it. With --prune,
    then removes the hosts the inventory no longer lists. A second run
    changes nothing. One run at a time per swarm: another run's lock makes
    it wait (--lock-wait) or refuse (exit 5).

    A re-run on a converged cluster is one read: when the plan is empty and
    every host still matches the stamp its last converged run left (same
    inventory variables and roles; same daemon.json, engine version, swarm
    node and swarm settings), no task runs. --full runs them all anyway.
    """
    from swarmctl.cli import report
    from swarmctl.errors import InputError
    from swarmctl.ops import converged, lock, membership
    from swarmctl.ops import provision as cluster

    inv = load_inventory([inventory, *(more or [])], extra_vars, vault_password_file,
                         ask_vault_pass, vault_id)
    selected = limit_hosts(inv, limit, extra_vars)
    for warning in inv.warnings():
        err.print(f"[yellow]warning:[/] {lit(warning)}", soft_wrap=True)
    started = time.monotonic()
    limited = cluster.Limited.of(inv, selected) if selected is not None and \
        len(selected) < len(inv.hosts) else None
    if limited is not None and prune:
        raise InputError("--prune works on the whole inventory: run it without --limit")
    the_plan = obs = wanted = None
    if limited is None:  # the plan covers every host: not shown for a part of them
        obs, the_plan = membership.observe_and_plan(inv, prune=prune)
        # A host that cannot be read, or is in another swarm, is what the preflight
        # checks report, with their table: leave it to them.
        to_checks = not skip_checks and the_plan.refusals and \
            the_plan.refusals[0].kind in ("access", "foreign")
        if not to_checks:
            report.print_plan(out, the_plan, shown=inv.warnings())
            membership.refuse(the_plan)
        wanted = converged.digests(inv)
        verdict = converged.decide(inv, obs, the_plan, wanted)
        if verdict.skip and not full:
            _converged(inv, obs, the_plan, started)
            return
        if not the_plan.changes and not the_plan.refusals:
            why = "--full given" if verdict.skip else verdict.reason
            out.print(f"[dim]running every task: {lit(why)}[/]", soft_wrap=True,
                      highlight=False)
    removed = None
    with lock.held(inv, "provision", wait=lock_wait, warn=warn):
        result = cluster.provision(inv, verbosity=verbose, console=err,
                                   checks=not skip_checks, report_console=out,
                                   limit=limited, converged=wanted)
        if wanted:
            for why in converged.write_stamps(inv, wanted):
                warn(f"no converged stamp on {why}: the next provision runs every task")
        if prune and the_plan is not None and the_plan.removals:
            removed = membership.remove(inv, the_plan, verbosity=verbose, console=err)
    changed = result.total_changed + (removed.total_changed if removed else 0)
    nodes = cluster.nodes_from(result)
    if removed is not None:
        gone = {r.node_id for r in the_plan.removals}
        nodes = [n for n in nodes if n.id not in gone]
    report.print_nodes(out, nodes)
    out.print(
        f"[green]✓[/] swarm of {len(nodes)} nodes converged in {time.monotonic() - started:.1f}s "
        f"({changed:d} changes). Run folder: {lit(str(result.run_dir))}", soft_wrap=True
    )
    if removed is not None:
        names = ", ".join(r.hostname for r in the_plan.removals)
        out.print(f"Nodes removed: {lit(names)}; removal run folder: "
                  f"{lit(str(removed.run_dir))}", highlight=False)


def _converged(inv, obs, the_plan, started: float) -> None:
    """The summary of a re-run that ran no task (see swarmctl.ops.converged)."""
    from swarmctl.cli import report
    from swarmctl.ops import provision as cluster

    run_dir = cluster.record_converged(inv, obs, the_plan)
    nodes = cluster.nodes_from_api(obs.nodes or [])
    report.print_nodes(out, nodes)
    out.print(
        f"[green]✓[/] swarm of {len(nodes)} nodes converged in {time.monotonic() - started:.1f}s "
        f"(0 changes: every host is as its last converged run left it, no task ran; "
        f"--full runs them). Run folder: {lit(str(run_dir))}", soft_wrap=True, highlight=False
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
