"""The commands for workloads: `deploy`, `status` and `images load`.

Registered on the main app by `swarmctl.cli`; errors are SwarmctlError types that the
main entry point renders as one line.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from swarmctl.console import err, out

InventoryOpt = Annotated[
    Path, typer.Option("--inventory", "-i", show_default=False,
                       help="Ansible YAML inventory with swarm_managers and swarm_workers.")
]
VerboseOpt = Annotated[
    int, typer.Option("--verbose", "-v", count=True,
                      help="Show Ansible's own output (-vv, -vvv for more).")
]

images_app = typer.Typer(help="Images on the nodes, for sites without a registry.",
                         no_args_is_help=True)


def deploy(
    spec_file: Annotated[Path, typer.Argument(
        help="Services spec: networks, secrets, configs, services, stacks (YAML).",
        show_default=False)],
    inventory: InventoryOpt,
    timeout: Annotated[int, typer.Option(
        "--timeout", help="Seconds to wait for the services to converge.")] = 300,
    verbose: VerboseOpt = 0,
) -> None:
    """Converge the swarm's networks, secrets, configs, services and stacks.

    Validates the spec first (nothing is applied when it is wrong), then
    applies it from the first manager that answers, once that manager proved
    it can (Docker answers, it manages an active, unlocked swarm: exit 3
    otherwise, nothing changed), and waits until every service has converged.
    An update that fails is rolled back by swarm: the old version keeps
    serving and deploy exits 1 naming the service. A re-run without changes
    changes nothing and restarts no task.
    """
    from swarmctl import inventory as invmod
    from swarmctl import report, services
    from swarmctl import spec as specmod

    inv = invmod.load(inventory)
    spec = specmod.load(spec_file)
    started = time.monotonic()
    done = services.deploy(inv, spec_file, verbosity=verbose, console=err, timeout=timeout)
    for warning in done.warnings:
        err.print(f"[yellow]warning:[/] {warning}", soft_wrap=True)
    if done.services:
        from swarmctl.services import ServiceStatus

        rows = [ServiceStatus(name=s["name"], mode=s.get("mode", ""),
                              running=s["running"], desired=s["desired"], image=s["image"],
                              update_state=s.get("update_state", ""))
                for s in done.services]
        report.print_services(out, rows)
    kinds = ", ".join(f"{len(getattr(spec, k))} {k}" for k in specmod.KINDS
                      if getattr(spec, k))
    out.print(f"[green]✓[/] deployed {kinds or 'nothing'}: converged in "
              f"{time.monotonic() - started:.1f}s ({done.changed} changes). "
              f"Run folder: {done.result.run_dir}", soft_wrap=True)


def status(
    inventory: InventoryOpt,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Show the swarm's nodes (like `docker node ls`) and services, read from a manager."""
    from swarmctl import inventory as invmod
    from swarmctl import report, services

    state = services.status(invmod.load(inventory))
    if as_json:
        print(json.dumps(state.as_dict(), indent=2))
        return
    report.print_nodes(out, state.nodes)
    report.print_services(out, state.services)


@images_app.command("load")
def images_load(
    images: Annotated[list[str], typer.Argument(help="Images of the local engine, e.g. "
                                                     "my-web:v1.", show_default=False)],
    inventory: InventoryOpt,
) -> None:
    """Copy images from the local Docker engine to every node (skips nodes that have them).

    `docker save` runs once; the archive is streamed to the nodes in parallel over SSH
    into `docker load`, with the inventory's connection settings.
    """
    from swarmctl import images as imagesmod
    from swarmctl import inventory as invmod
    from swarmctl.errors import RunError

    inv = invmod.load(inventory)
    started = time.monotonic()
    results = imagesmod.load(inv, images)
    failed = [r for r in results if r.error]
    for r in results:
        if r.error:
            err.print(f"[red]✗[/] {r.host}: {r.error}", soft_wrap=True)
        elif r.loaded:
            err.print(f"[green]✓[/] {r.host}: loaded {', '.join(r.loaded)}")
        else:
            err.print(f"[dim]= {r.host}: has {', '.join(r.present)} already[/]")
    if failed:
        raise RunError(f"images could not be loaded on {len(failed)} of {len(results)} hosts "
                       f"({', '.join(r.host for r in failed)}); see the lines above")
    loaded = sum(1 for r in results if r.loaded)
    out.print(f"[green]✓[/] {len(images)} image(s) on all {len(results)} nodes "
              f"(loaded on {loaded}, {len(results) - loaded} had them) in "
              f"{time.monotonic() - started:.1f}s")


def register(app: typer.Typer) -> None:
    app.command()(deploy)
    app.command()(status)
    app.add_typer(images_app, name="images")
