"""The disaster-recovery verbs: `backup`, `restore` and `recover`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from swarmctl.cli.options import InventoryArg, LockWaitOpt, VerboseOpt
from swarmctl.console import err, lit, out, warn

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON for scripts.")]
UnlockKeyOpt = Annotated[Path | None, typer.Option(
    "--unlock-key-file", show_default=False,
    help="File holding the swarm's unlock key (autolock only); the key is never printed.")]


def backup(
    inventory: InventoryArg,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", show_default=False,
        help="Folder for the archives [default: the state folder's backups/].")] = None,
    keep: Annotated[int, typer.Option(
        "--keep", help="Keep this many archives of this swarm, remove older ones (0: all).")] = 0,
    host: Annotated[str, typer.Option(
        "--host", help="The manager to back up [default: the last healthy non-leader].")] = "",
    unlock_key_file: UnlockKeyOpt = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = 0,
    lock_wait: LockWaitOpt = 0,
) -> None:
    """Back up the swarm's raft state (/var/lib/docker/swarm) to this
    machine.

    Stops Docker on one healthy non-leader manager (refused, exit 3,
    when that would lose quorum: a 1-manager swarm, or 3 managers with
    one down), archives its swarm state with a metadata file (engine
    version, node, cluster, managers, date), starts Docker and waits
    until the manager is Reachable again. The other managers keep the
    swarm running; that manager's tasks stop meanwhile (live-restore is
    off in swarm mode) and swarm starts them again. The archive (mode
    0600) is checked (size, SHA-256, it opens) and the oldest beyond
    --keep are removed.
    """
    from swarmctl.models import inventory as invmod
    from swarmctl.ops import backup as ops
    from swarmctl.ops import lock

    inv = invmod.load(inventory)
    with lock.held(inv, "backup", wait=lock_wait, warn=warn):
        done = ops.backup(inv, dest=output or ops.default_dir(), keep=keep, host=host,
                          unlock_key_file=unlock_key_file, verbosity=verbose, console=err)
    if as_json:
        print(json.dumps(done.as_dict(), indent=2))
        return
    meta = done.archive.meta
    down = f"Docker was stopped there for {done.docker_down_seconds:.0f}s; " \
        if done.docker_down_seconds is not None else ""
    err.print(f"[dim]{lit(done.host)}: {lit(down)}its tasks stopped meanwhile (live-restore "
              "is off in swarm mode) and swarm started them again[/]", soft_wrap=True)
    for note in done.notes:
        err.print(f"[yellow]note:[/] {lit(note)}", soft_wrap=True)
    for path in done.pruned:
        err.print(f"[dim]removed {lit(path)} (--keep {keep:d})[/]", soft_wrap=True)
    out.print(f"[green]✓[/] backup of swarm {lit(meta['cluster_id'][:12])} from "
              f"{lit(done.host)} (node {lit(meta['node_id'][:12])}, {lit(meta['node_addr'])}, "
              f"{len(meta['managers'])} "
              f"managers, Docker {lit(meta['engine_version'])}): {lit(done.archive.path)} "
              f"({done.archive.size / 1e6:.1f} MB, sha256 {lit(done.archive.sha256[:16])}…). "
              f"Run folder: {lit(done.result.run_dir)}", soft_wrap=True, highlight=False)




def recover(
    inventory: InventoryArg,
    from_host: Annotated[str, typer.Option(
        "--from", show_default=False,
        help="The surviving manager to rebuild from [default: the newest raft state].")] = "",
    as_json: JsonOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Bring back a swarm that lost quorum (most managers gone: nothing can
    change).

    Refused (exit 3, nothing changed) when quorum is not lost: use
    provision then. Forces a new cluster (`swarm init
    --force-new-cluster`) on the surviving manager with the newest raft
    state (or --from), keeping services, networks, secrets and configs;
    makes every other manager that holds old state leave it (demoted
    first, so it can never split the cluster) and joins it again as the
    inventory says; removes the node entries no host uses. Managers that
    do not answer are named: run recover again when they are back or
    replaced.
    """
    from swarmctl.cli import report
    from swarmctl.models import inventory as invmod
    from swarmctl.ops import recovery

    inv = invmod.load(inventory)
    started = time.monotonic()
    done = recovery.recover(inv, from_host=from_host, verbosity=verbose, console=err)
    if as_json:
        print(json.dumps(done.as_dict(), indent=2))
        return
    _print_recovered(done, report)
    plan = done.plan
    what = (f"forced a new cluster on {plan['force_on']} (quorum was lost)"
            if plan.get("quorum_lost") else f"{plan.get('leader')} leads")
    rejoined = f"; {', '.join(plan['stale'])} left their old state and rejoined" \
        if plan.get("stale") and not plan.get("lost") else ""
    out.print(f"[green]✓[/] recovered: {lit(what)}{lit(rejoined)} in "
              f"{time.monotonic() - started:.1f}s. "
              f"Run folder: {lit(done.result.run_dir)}", soft_wrap=True, highlight=False)


def restore(
    inventory: InventoryArg,
    archive: Annotated[Path, typer.Argument(help="A backup archive written by "
                                            "`swarmctl backup`.", show_default=False)],
    on: Annotated[str, typer.Option(
        "--on", show_default=False,
        help="The manager to restore on [default: the one at the backup's address].")] = "",
    unlock_key_file: UnlockKeyOpt = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Rebuild the swarm from a backup archive, on fresh or broken hosts.

    Checks the archive (it opens, its checksum), then on the manager at
    the address the backup was taken on (another address is refused:
    managers joining it would stay pending) installs Docker if needed,
    replaces /var/lib/docker/swarm with the archive's, forces a new
    cluster from it, and converges the rest as provision does: the other
    hosts join, stale node entries are removed. Services, networks,
    secrets and configs of the backup come back. A swarm that has a
    leader is not replaced (exit 3).
    """
    from swarmctl.cli import report
    from swarmctl.models import inventory as invmod
    from swarmctl.ops import recovery

    inv = invmod.load(inventory)
    started = time.monotonic()
    done = recovery.restore(inv, archive, on=on, unlock_key_file=unlock_key_file,
                            verbosity=verbose, console=err)
    if as_json:
        print(json.dumps(done.as_dict(), indent=2))
        return
    _print_recovered(done, report)
    meta = done.archive.meta if done.archive else {}
    out.print(f"[green]✓[/] restored swarm {lit(meta.get('cluster_id', '')[:12])} from the "
              f"backup of {lit(meta.get('date', '?'))} on {lit(done.plan.get('leader'))}; "
              f"{len(done.nodes)} "
              f"nodes in {time.monotonic() - started:.1f}s. Run folder: {lit(done.result.run_dir)}",
              soft_wrap=True, highlight=False)


def _print_recovered(done, report) -> None:
    if done.nodes:
        report.print_nodes(out, done.nodes)
    for entry in done.removed:
        err.print(f"[dim]removed the stale node entry {lit(entry)}[/]", soft_wrap=True)
    for note in done.notes:
        err.print(f"[yellow]note:[/] {lit(note)}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command()(backup)
    app.command()(restore)
    app.command()(recover)
