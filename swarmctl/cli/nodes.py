"""The node lifecycle verbs: `upgrade`, `maintenance` and `reset`."""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated

import typer
from rich.table import Table

from swarmctl.cli.options import InventoryArg, LockWaitOpt, VerboseOpt
from swarmctl.console import err, lit, out, warn

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _ask(question: str) -> bool:
    """A yes/no question on stderr; the answer from stdin (EOF: no). An answer that
    does not come from a terminal (piped in) is echoed, so that the transcript shows it
    and what follows starts on a line of its own."""
    err.print(f"[bold]?[/] {lit(question)} {lit('[y/N]')} ", end="")
    line = sys.stdin.readline()
    if not line or not sys.stdin.isatty():
        err.print(lit(line.strip()) if line else "(end of input: no)", highlight=False)
    return line.strip().lower() in ("y", "yes")


def _print_steps(outcome, title: str, *, versions: bool) -> None:
    table = Table(title=lit(title), title_justify="left")
    cols = ["NODE", "ROLE", "DONE", "AVAILABILITY", "TASKS MOVED", "TIME"]
    if versions:
        cols.insert(3, "VERSIONS")
    for col in cols:
        table.add_column(col)
    for s in outcome.steps:
        if versions:
            done = "upgraded" if s.upgraded else "at target"
        else:
            done = "drained" if s.drained else "back" if s.seconds is not None or \
                s.availability else "-"
        moved = ", ".join(f"{m['service']} {m['running_elsewhere']}/{m['wanted']}"
                          for m in s.moved) or "-"
        row = [s.host, s.role, done, (s.availability or "-").capitalize(), moved,
               f"{s.seconds:.0f}s" if s.seconds is not None else "-"]
        if versions:
            row.insert(3, s.changes.replace(", ", "\n") or "\n".join(
                f"{n} {v.get('installed')}" for n, v in s.versions.items()))
        table.add_row(*(lit(c) for c in row))
    out.print(table)


def upgrade(
    inventory: InventoryArg,
    batch: Annotated[str, typer.Option(
        "--batch", help="Workers upgraded at a time: a number or a percentage (25%).")] = "1",
    confirm: Annotated[bool, typer.Option(
        "--confirm", help="Ask before each node (batch of workers) is upgraded.")] = False,
    pause_after: Annotated[bool, typer.Option(
        "--pause-after", help="Ask after each node (batch) is back, before the next.")] = False,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = 0,
    lock_wait: LockWaitOpt = 0,
) -> None:
    """Upgrade Docker on every host, one node at a time, keeping quorum and
    services up.

    Brings Docker's packages to their declared versions
    (docker_engine_version, docker_engine_package_versions; the newest the
    hosts' sources offer when none is declared). Managers go first, one at a
    time and the leader last, each drained until its tasks run elsewhere,
    upgraded, back Reachable with a leader seen, and set to its availability
    again; then the workers, --batch at a time, the same way.

    Refused before anything changes (exit 3) when a manager is not
    Reachable, a node not Ready, or the swarm cannot lose a manager (1 or 2
    managers). A node that does not come back stops the run (exit 1) naming
    it: fix it and run upgrade again. Nodes at their target are skipped: a
    second run changes nothing.
    """
    from swarmctl.models import inventory as invmod
    from swarmctl.ops import lock
    from swarmctl.ops import upgrade as ops

    size = ops.parse_batch(batch)
    inv = invmod.load(inventory)
    started = time.monotonic()
    with lock.held(inv, "upgrade", wait=lock_wait, warn=warn):
        outcome = ops.upgrade(inv, batch=size, confirm=confirm, pause_after=pause_after,
                              ask=_ask, verbosity=verbose, console=err)
    if as_json:
        print(json.dumps(outcome.as_dict(), indent=2))
        return
    _print_steps(outcome, "Engine upgrade", versions=True)
    upgraded = sum(1 for s in outcome.steps if s.upgraded)
    out.print(f"[green]✓[/] {upgraded:d} of {len(outcome.steps)} nodes upgraded, "
              f"{len(outcome.steps) - upgraded:d} at their target, in "
              f"{time.monotonic() - started:.1f}s ({outcome.changed:d} changes; leader changed "
              f"{outcome.leader_changes:d}x). Run folder: {lit(str(outcome.result.run_dir))}",
              soft_wrap=True)


def maintenance(
    inventory: InventoryArg,
    hosts: Annotated[list[str], typer.Argument(help="Inventory hosts to drain or bring back.",
                                               show_default=False)],
    done: Annotated[bool, typer.Option(
        "--done", help="Bring the hosts back: wait until Ready, restore their availability.")]
    = False,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = 0,
    lock_wait: LockWaitOpt = 0,
) -> None:
    """Drain hosts for maintenance (patching, a reboot) and wait until their
    tasks moved.

    One host at a time: its node is drained and the run waits until its
    tasks run on other nodes (when they cannot, the drain is undone and the
    reason named). A manager is refused (exit 3, nothing changed) when the
    swarm cannot tolerate its loss. --done waits until each node is Ready
    again (a manager Reachable, with a leader) and restores the availability
    it had before. Both are idempotent.
    """
    from swarmctl.models import inventory as invmod
    from swarmctl.ops import lock
    from swarmctl.ops import upgrade as ops

    inv = invmod.load(inventory)
    started = time.monotonic()
    with lock.held(inv, "maintenance", wait=lock_wait, warn=warn):
        outcome = ops.maintenance(inv, hosts, done=done, verbosity=verbose, console=err)
    if as_json:
        print(json.dumps(outcome.as_dict(), indent=2))
        return
    _print_steps(outcome, "Maintenance", versions=False)
    what = "back in service" if done else "drained, their tasks running elsewhere"
    out.print(f"[green]✓[/] {lit(', '.join(hosts))} {lit(what)} in "
              f"{time.monotonic() - started:.1f}s ({outcome.changed:d} changes). "
              f"Run folder: {lit(str(outcome.result.run_dir))}",
              soft_wrap=True)


def reset(
    inventory: InventoryArg,
    purge: Annotated[bool, typer.Option(
        "--purge", help="Also remove Docker's packages, data (containers, images, volumes) "
                        "and configuration.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
    = False,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = 0,
    lock_wait: LockWaitOpt = 0,
) -> None:
    """Take the swarm apart: the workers leave, the managers are demoted one by
    one, the last one leaves.

    There is no undo: services, networks, secrets and configs are gone with
    the swarm, so reset asks first unless --yes. --purge also removes Docker
    from the hosts, with every container, image and volume. Idempotent: a
    host in no swarm (or without Docker) is left alone, and a second run
    changes nothing.
    """
    from swarmctl.errors import InputError
    from swarmctl.models import inventory as invmod
    from swarmctl.ops import lock
    from swarmctl.ops import reset as ops

    inv = invmod.load(inventory)
    if not yes:
        what = "and remove Docker and all its data from" if purge else "on"
        question = (f"Take apart the swarm {what} {len(inv.hosts)} hosts of {inventory} "
                    f"({', '.join(h.name for h in inv.hosts)})?")
        if not sys.stdin.isatty():
            raise InputError("reset takes the swarm apart and cannot be undone; pass --yes "
                             "to confirm (no terminal to ask on)")
        if not _ask(question):
            raise typer.Exit(1)
    started = time.monotonic()
    with lock.held(inv, "reset", wait=lock_wait, warn=warn):
        done = ops.reset(inv, purge=purge, verbosity=verbose, console=err)
    if as_json:
        print(json.dumps(done.as_dict(), indent=2))
        return
    table = Table(title="Reset", title_justify="left")
    for col in ("HOST", "SWARM BEFORE", "LEFT NOW", *(("PURGED",) if purge else ())):
        table.add_column(col)
    for h in inv.hosts:
        row = [h.name, done.before.get(h.name, "?"), "yes" if h.name in done.left else "-"]
        if purge:
            row.append("yes" if h.name in done.purged else "-")
        table.add_row(*(lit(c) for c in row))
    out.print(table)
    without = " and without Docker" if purge else ""
    out.print(f"[green]✓[/] {len(inv.hosts)} hosts in no swarm{lit(without)}, in "
              f"{time.monotonic() - started:.1f}s ({done.changed:d} changes). "
              f"Run folder: {lit(str(done.result.run_dir))}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command()(upgrade)
    app.command()(maintenance)
    app.command()(reset)
