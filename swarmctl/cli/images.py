"""`swarmctl images load`: images on the nodes, for sites without a registry."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from swarmctl.cli.options import (
    AskVaultPassOpt,
    ExtraVarsOpt,
    InventoryOpt,
    VaultIdOpt,
    VaultPasswordFileOpt,
    load_inventory,
)
from swarmctl.console import err, lit, one_line, out

images_app = typer.Typer(help="Images on the nodes, for sites without a registry.",
                         no_args_is_help=True)


@images_app.command("load")
def images_load(
    images: Annotated[list[str], typer.Argument(help="Images of the local engine, e.g. "
                                                     "my-web:v1.", show_default=False)],
    inventory: InventoryOpt,
    extra_vars: ExtraVarsOpt = None,
    vault_password_file: VaultPasswordFileOpt = None,
    ask_vault_pass: AskVaultPassOpt = False,
    vault_id: VaultIdOpt = None,
) -> None:
    """Copy images from the local Docker engine to every node (skips nodes that have them).

    `docker save` runs once; the archive is streamed to the nodes in parallel over SSH
    into `docker load`, with the inventory's connection settings.
    """
    from swarmctl.errors import RunError
    from swarmctl.ops import images as imagesmod

    inv = load_inventory(inventory, extra_vars, vault_password_file, ask_vault_pass, vault_id)
    started = time.monotonic()
    results = imagesmod.load(inv, images)
    failed = [r for r in results if r.error]
    for r in results:
        if r.error:
            err.print(f"[red]✗[/] {lit(r.host)}: {lit(one_line(r.error))}", soft_wrap=True)
        elif r.loaded:
            err.print(f"[green]✓[/] {lit(r.host)}: loaded {lit(', '.join(r.loaded))}",
                      soft_wrap=True)
        else:
            err.print(f"[dim]= {lit(r.host)}: has {lit(', '.join(r.present))} already[/]",
                      soft_wrap=True)
    if failed:
        raise RunError(f"images could not be loaded on {len(failed)} of {len(results)} hosts "
                       f"({', '.join(r.host for r in failed)}); see the lines above")
    loaded = sum(1 for r in results if r.loaded)
    out.print(f"[green]✓[/] {len(images)} image(s) on all {len(results)} nodes "
              f"(loaded on {loaded:d}, {len(results) - loaded:d} had them) in "
              f"{time.monotonic() - started:.1f}s")


def register(app: typer.Typer) -> None:
    app.add_typer(images_app, name="images")
