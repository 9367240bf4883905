"""The `swarmctl` command line: a thin layer over the library.

Errors are SwarmctlError subclasses, rendered here once as a single line on stderr
with the exit code they carry (see swarmctl.errors). No traceback reaches the user.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from swarmctl import __version__
from swarmctl.errors import InputError, SwarmctlError

app = typer.Typer(
    name="swarmctl",
    help=(
        "Build and keep a Docker Swarm cluster from an Ansible inventory.\n\n"
        "Hosts go in two groups, swarm_managers and swarm_workers. Start with "
        "`swarmctl lab up` for a local sandbox, then `swarmctl provision INVENTORY`."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

out = Console()
err = Console(stderr=True)

InventoryArg = Annotated[
    Path, typer.Argument(help="Ansible YAML inventory with swarm_managers and swarm_workers.",
                         show_default=False)
]
VerboseOpt = Annotated[
    int, typer.Option("--verbose", "-v", count=True,
                      help="Show Ansible's own output (-vv, -vvv for more).")
]


def _version(value: bool) -> None:
    if value:
        out.print(f"swarmctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Build and keep a Docker Swarm cluster from an Ansible inventory."""


@app.command()
def provision(
    inventory: InventoryArg,
    verbose: VerboseOpt = 0,
    skip_checks: Annotated[bool, typer.Option(
        "--skip-checks", help="Do not run the preflight checks first.")] = False,
) -> None:
    """Install Docker on every host and make them one swarm (idempotent).

    Initialises the swarm on the first manager, joins the other managers one at a
    time and the workers in parallel, applies node labels and availability, then
    verifies the cluster and prints it. A second run changes nothing.
    """
    from swarmctl import cluster, report

    inv = _load_inventory(inventory)
    for warning in inv.warnings():
        err.print(f"[yellow]warning:[/] {warning}")
    started = time.monotonic()
    if not skip_checks:
        _preflight(inv, verbose)
    result = cluster.provision(inv, verbosity=verbose, console=err)
    nodes = cluster.nodes_from(result)
    report.print_nodes(out, nodes)
    out.print(
        f"[green]✓[/] swarm of {len(nodes)} nodes converged in {time.monotonic() - started:.1f}s "
        f"({result.total_changed} changes). Run folder: {result.run_dir}"
    )


def _preflight(inv, verbose: int) -> None:
    """Run the preflight checks before anything changes (see `swarmctl check`)."""
    try:
        from swarmctl import checks
    except ImportError:
        return
    checks.require(inv, console=err, verbosity=verbose)


def _load_inventory(path: Path):
    from swarmctl import inventory

    return inventory.load(path)


def _register_subcommands() -> None:
    from swarmctl.lab.cli import app as lab_app

    app.add_typer(lab_app, name="lab")


def main() -> None:
    _register_subcommands()
    try:
        app(standalone_mode=False)
    except SwarmctlError as exc:
        err.print(f"[red]error:[/] {exc.message}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors and friends
        import click

        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, click.ClickException):
            err.print(f"[red]error:[/] {exc.format_message()}", highlight=False)
            sys.exit(InputError.exit_code)
        raise
