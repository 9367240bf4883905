"""The `swarmctl` command line: a thin layer over the library.

Errors are SwarmctlError subclasses, rendered here once as a single line on stderr
with the exit code they carry (see swarmctl.errors). No traceback reaches the user.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from swarmctl import __version__
from swarmctl.console import err, out
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
    result = cluster.provision(inv, verbosity=verbose, console=err, checks=not skip_checks,
                               report_console=out)
    nodes = cluster.nodes_from(result)
    report.print_nodes(out, nodes)
    out.print(
        f"[green]✓[/] swarm of {len(nodes)} nodes converged in {time.monotonic() - started:.1f}s "
        f"({result.total_changed} changes). Run folder: {result.run_dir}"
    )


@app.command()
def check(inventory: InventoryArg, verbose: VerboseOpt = 0) -> None:
    """Check every host before anything changes; changes nothing.

    Probes all hosts in parallel (SSH, sudo, OS, kernel features, swarm ports and their
    reachability between hosts, MTU, clock, advertise address, hostnames, swarm
    membership, manager count) and prints a table host-by-check with a fix for each
    problem. Exit 0 when nothing fails (warnings allowed), 3 when a check fails.
    """
    inv = _load_inventory(inventory)
    _preflight(inv, verbose)


def _preflight(inv, verbose: int) -> None:
    """Run the preflight checks before anything changes (see `swarmctl check`)."""
    from swarmctl import checks

    checks.require(inv, console=err, verbosity=verbose, report_console=out)


def _load_inventory(path: Path):
    from swarmctl import inventory

    return inventory.load(path)


def _register_subcommands() -> None:
    from swarmctl.lab.cli import app as lab_app

    app.add_typer(lab_app, name="lab")
    from swarmctl import services_cli

    services_cli.register(app)


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
        click = _click_exceptions()
        if isinstance(exc, typer.Exit | click.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, click.NoArgsIsHelpError):  # the help is already printed
            sys.exit(InputError.exit_code)
        if isinstance(exc, click.ClickException):
            err.print(f"[red]error:[/] {_usage_line(exc)}", highlight=False, soft_wrap=True)
            sys.exit(InputError.exit_code)
        if os.environ.get("SWARMCTL_DEBUG"):
            raise
        err.print(f"[red]internal error:[/] {type(exc).__name__}: {' '.join(str(exc).split())}"
                  "; rerun with SWARMCTL_DEBUG=1 for the traceback and report it",
                  highlight=False, soft_wrap=True)
        sys.exit(1)


def _click_exceptions():
    """click's exceptions module: typer vendors its own copy of click (typer >= 0.20)."""
    from types import SimpleNamespace

    try:
        from typer._click import exceptions
    except ImportError:  # older typer uses click itself
        from click import exceptions
    return SimpleNamespace(
        Exit=getattr(exceptions, "Exit", typer.Exit),
        NoArgsIsHelpError=getattr(exceptions, "NoArgsIsHelpError", ()),
        ClickException=exceptions.ClickException,
    )


def _usage_line(exc) -> str:
    """A click usage error as one line: what is wrong, where, and where to read more."""
    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx is not None else "swarmctl"
    message = " ".join(exc.format_message().split()).rstrip(".")
    return f"{path}: {message}; see `{path} --help`"
