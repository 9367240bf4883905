"""The security verbs: `unlock` and `rotate`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from swarmctl.cli.options import InventoryArg, LockWaitOpt, VerboseOpt
from swarmctl.console import err, lit, out, warn


def unlock(inventory: InventoryArg, verbose: VerboseOpt = 0) -> None:
    """Unlock every locked manager from the unlock key file (swarm_unlock_key_file).

    Under autolock, a manager whose Docker restarted stays out of the swarm until it is
    unlocked. This feeds the key from the file on this machine to `docker swarm unlock`
    on each locked manager (never printing or logging it) and waits until it is an
    active manager again; managers that are not locked are left alone. One line per
    manager; exit 1 when one could not be unlocked. `provision` does the same first.
    """
    from swarmctl.errors import RunError
    from swarmctl.models import inventory as invmod
    from swarmctl.ops import security

    inv = invmod.load(inventory)
    started = time.monotonic()
    outcomes, result = security.unlock(inv, console=err, verbosity=verbose)
    marks = {"unlocked": "[green]✓[/]", "not locked": "[dim]=[/]"}
    for o in outcomes:
        mark_markup = marks.get(o.outcome, "[red]✗[/]")
        out.print(f"{mark_markup} {lit(o.line())}", soft_wrap=True, highlight=False)
    bad = [o for o in outcomes if o.outcome not in marks]
    if bad:
        raise RunError(f"{len(bad)} of {len(outcomes)} managers could not be unlocked "
                       f"({', '.join(o.host for o in bad)}); details in {result.run_dir}")
    n = sum(1 for o in outcomes if o.outcome == "unlocked")
    out.print(f"[green]✓[/] {n:d} manager(s) unlocked, {len(outcomes) - n:d} were not locked, "
              f"in {time.monotonic() - started:.1f}s", highlight=False)


def rotate(
    inventory: InventoryArg,
    what: Annotated[str, typer.Argument(
        help="tokens | unlock-key | ca", show_default=False, metavar="tokens|unlock-key|ca")],
    timeout: Annotated[int, typer.Option(
        "--timeout", help="Seconds to wait for every node's new certificate (ca).")] = 600,
    ca_cert: Annotated[Path | None, typer.Option(
        "--ca-cert", metavar="FILE", show_default=False,
        help="ca: the PEM root CA certificate of an external CA to rotate to (with "
             "--ca-key).")] = None,
    ca_key: Annotated[Path | None, typer.Option(
        "--ca-key", metavar="FILE", show_default=False,
        help="ca: the PEM private key of that root CA (never printed; removed from the "
             "manager once the rotation started).")] = None,
    verbose: VerboseOpt = 0,
    lock_wait: LockWaitOpt = 0,
) -> None:
    """Rotate the join tokens, the unlock key or the root CA, and confirm it.

    tokens: both join tokens; confirmed when the swarm hands out new ones (a join with
    an old token is refused from then on). unlock-key: the key file is replaced
    atomically with the new key, the old one kept as FILE.previous until every manager
    re-encrypted its keys with the new one. ca: a new root CA; waits until every Ready
    node's certificate is issued by it, one line per node (this also changes the join
    tokens); with --ca-cert and --ca-key, the new root is that external CA's. No
    secret is printed. Holds the swarm's lock, as provision does: a
    rotation never runs alongside another swarmctl run that changes the swarm.
    """
    from swarmctl.models import inventory as invmod
    from swarmctl.ops import lock, security

    if what not in security.ROTATIONS:
        from swarmctl.errors import InputError

        raise InputError(f"swarmctl rotate: cannot rotate {what!r}; choose one of "
                         f"{', '.join(security.ROTATIONS)}")
    external = security.external_ca(what, ca_cert, ca_key)
    inv = invmod.load(inventory)
    started = time.monotonic()
    with lock.held(inv, f"rotate {what}", wait=lock_wait, warn=warn):
        result = security.rotate(
            inv, what, console=err, verbosity=verbose, timeout=timeout, external=external,
            on_node=lambda line: err.print(f"  {lit(line)}", highlight=False))
    done = {"tokens": "join tokens rotated (the old ones no longer join)",
            "unlock-key": "unlock key rotated; every manager confirmed it",
            "ca": "root CA rotated; every node holds a certificate from the new root"}[what]
    out.print(f"[green]✓[/] {lit(done)}, in {time.monotonic() - started:.1f}s. "
              f"Run folder: {lit(str(result.run_dir))}", soft_wrap=True, highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(unlock)
    app.command()(rotate)
