"""The workload verbs: `deploy` and `status`.

Registered on the main app by `swarmctl.cli`; errors are SwarmctlError types that the
main entry point renders as one line.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from swarmctl.cli.options import (
    AskVaultPassOpt,
    ExtraVarsOpt,
    InventoryOpt,
    LockWaitOpt,
    VaultIdOpt,
    VaultPasswordFileOpt,
    VerboseOpt,
    load_inventory,
)
from swarmctl.console import err, lit, out, warn


def deploy(
    spec_file: Annotated[Path, typer.Argument(
        help="Services spec: networks, secrets, configs, services, stacks (YAML).",
        show_default=False)],
    inventory: InventoryOpt,
    timeout: Annotated[int, typer.Option(
        "--timeout", help="Seconds to wait for the services to converge.")] = 300,
    prune: Annotated[bool, typer.Option(
        "--prune", help="Also remove the services, networks, secrets and configs deployed "
        "from a spec that this spec no longer declares (after the declared ones "
        "converged). What was created by other means is never touched.")] = False,
    verbose: VerboseOpt = 0,
    lock_wait: LockWaitOpt = 0,
    extra_vars: ExtraVarsOpt = None,
    vault_password_file: VaultPasswordFileOpt = None,
    ask_vault_pass: AskVaultPassOpt = False,
    vault_id: VaultIdOpt = None,
) -> None:
    """Converge the swarm's networks, secrets, configs, services and stacks.

    Validates the spec first (nothing is applied when it is wrong), then
    applies it from the first manager that answers, once that manager proved
    it can (Docker answers, it manages an active, unlocked swarm: exit 3
    otherwise, nothing changed), and waits until every service has converged.
    An update that fails is rolled back by swarm: the old version keeps
    serving and deploy exits 1 naming the service. A re-run without changes
    changes nothing and restarts no task. What a deploy creates carries the
    label io.swarmctl.managed: what the spec no longer declares is listed and
    kept, or removed with --prune. `swarmctl plan INVENTORY SPEC` shows the
    changes first. One run at a time per swarm: another
    run's lock makes it wait (--lock-wait) or refuse (exit 5).
    """
    from swarmctl.cli import report
    from swarmctl.models import spec as specmod
    from swarmctl.ops import lock, services

    inv = load_inventory(inventory, extra_vars, vault_password_file, ask_vault_pass, vault_id)
    spec = specmod.load(spec_file)
    started = time.monotonic()
    with lock.held(inv, "deploy", wait=lock_wait, warn=warn):
        done = services.deploy(inv, spec_file, verbosity=verbose, console=err,
                               timeout=timeout, prune=prune)
    for warning in done.warnings:
        err.print(f"[yellow]warning:[/] {lit(warning)}", soft_wrap=True)
    for change in done.changes:
        out.print(report.change_markup(change), highlight=False, soft_wrap=True)
    for what in done.kept():
        err.print(f"[yellow]warning:[/] {lit(what)} was deployed from a spec "
                  "and this one does not declare it: kept (deploy --prune removes it)",
                  soft_wrap=True)
    if done.services:
        report.print_services(out, done.statuses())
    kinds = ", ".join(f"{len(getattr(spec, k))} {k}" for k in specmod.KINDS
                      if getattr(spec, k))
    out.print(f"[green]✓[/] deployed {lit(kinds or 'nothing')}: converged in "
              f"{time.monotonic() - started:.1f}s ({done.changed:d} changes). "
              f"Run folder: {lit(done.result.run_dir)}", soft_wrap=True)


def status(
    inventory: InventoryOpt,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    extra_vars: ExtraVarsOpt = None,
    vault_password_file: VaultPasswordFileOpt = None,
    ask_vault_pass: AskVaultPassOpt = False,
    vault_id: VaultIdOpt = None,
    check: Annotated[bool, typer.Option(
        "--check", help="Judge the swarm's health for monitoring: one line per finding, "
        "exit 0 healthy, 10 warning, 11 critical.")] = False,
    cert_days: Annotated[float, typer.Option(
        "--cert-days", min=0, help="With --check: report node certificates that expire "
        "within this many days.")] = 14,
) -> None:
    """Show the swarm's nodes (like `docker node ls`) and services, read from a manager.

    With --check, judge its health instead (for cron and monitoring): quorum lost or at
    risk, an even manager count, nodes down, managers unreachable or locked, node
    certificates expiring, engine version skew, services below their replicas or with
    a paused or rolled-back update, a Docker API on TCP without TLS. One line per
    finding, exit 0 when healthy, 10 for warnings, 11 for anything critical. It reads
    each host once over SSH, in parallel, and writes no run folder.
    """
    inv = load_inventory(inventory, extra_vars, vault_password_file, ask_vault_pass, vault_id)
    if check:
        from swarmctl.cli import health

        raise typer.Exit(health.check(inv, as_json=as_json, cert_days=cert_days))
    from swarmctl.cli import report
    from swarmctl.ops import services

    state = services.status(inv)
    if as_json:
        print(json.dumps(state.as_dict(), indent=2))
        return
    report.print_nodes(out, state.nodes)
    report.print_services(out, state.services)


def register(app: typer.Typer) -> None:
    app.command()(deploy)
    app.command()(status)
