"""The disaster-recovery verbs: `backup`, `restore` and `recover`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from swarmctl.cli.options import InventoryArg, VerboseOpt
from swarmctl.console import err, out

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
) -> None:
    """Back up the swarm's raft state (/var/lib/docker/swarm) to this machine.

    Stops Docker on one healthy non-leader manager (refused, exit 3, when that would
    lose quorum: a 1-manager swarm, or 3 managers with one down), archives its swarm
    state with a metadata file (engine version, node, cluster, managers, date),
    starts Docker and waits until the manager is Reachable again. The other managers
    keep the swarm running; that manager's tasks stop meanwhile (live-restore is off
    in swarm mode) and swarm starts them again. The archive (mode 0600) is checked
    (size, SHA-256, it opens) and the oldest beyond --keep are removed.
    """
    from swarmctl.models import inventory as invmod
    from swarmctl.ops import backup as ops

    inv = invmod.load(inventory)
    done = ops.backup(inv, dest=output or ops.default_dir(), keep=keep, host=host,
                      unlock_key_file=unlock_key_file, verbosity=verbose, console=err)
    if as_json:
        print(json.dumps(done.as_dict(), indent=2))
        return
    meta = done.archive.meta
    down = f"Docker was stopped there for {done.docker_down_seconds:.0f}s; " \
        if done.docker_down_seconds is not None else ""
    err.print(f"[dim]{done.host}: {down}its tasks stopped meanwhile (live-restore is off in "
              "swarm mode) and swarm started them again[/]", soft_wrap=True)
    for note in done.notes:
        err.print(f"[yellow]note:[/] {note}", soft_wrap=True)
    for path in done.pruned:
        err.print(f"[dim]removed {path} (--keep {keep})[/]", soft_wrap=True)
    out.print(f"[green]✓[/] backup of swarm {meta['cluster_id'][:12]} from {done.host} "
              f"(node {meta['node_id'][:12]}, {meta['node_addr']}, {len(meta['managers'])} "
              f"managers, Docker {meta['engine_version']}): {done.archive.path} "
              f"({done.archive.size / 1e6:.1f} MB, sha256 {done.archive.sha256[:16]}…). "
              f"Run folder: {done.result.run_dir}", soft_wrap=True, highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(backup)
