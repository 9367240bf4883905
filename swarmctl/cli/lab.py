"""`swarmctl lab ...`: a thin command layer over swarmctl.lab. Errors are raised as
SwarmctlError and rendered by the main CLI."""

from __future__ import annotations

import os
import shutil
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from swarmctl.console import err, lit, out
from swarmctl.errors import LabError
from swarmctl.lab import image, lab, plan

app = typer.Typer(
    help=("A local sandbox: container nodes that behave like small Debian VMs "
          "(systemd, sshd, sudo, no Docker yet), with an inventory for swarmctl."),
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

NameOpt = Annotated[str, typer.Option("--name", "-n", help="Lab name; prefixes node names.")]


UP_HELP = (
    "Start the lab's nodes and write their inventory; print the inventory's path.\n\n"
    "Progress and the node table go to stderr: stdout holds only the inventory path, so "
    "`inv=$(swarmctl lab up)` works; --quiet also hides the progress.\n\n"
    "Re-running keeps running nodes, restarts stopped ones and adds missing ones. The first "
    "run builds the node image (about a minute without a registry); later runs reuse it."
)


@app.command(help=UP_HELP)
def up(
    managers: Annotated[int, typer.Option("--managers", "-m", help="Manager nodes.")] = 3,
    workers: Annotated[int, typer.Option("--workers", "-w", help="Worker nodes.")] = 2,
    distro: Annotated[str, typer.Option(help=f"One of: {', '.join(image.DISTROS)}.")
                      ] = "bookworm",
    name: NameOpt = plan.DEFAULT_NAME,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the path.")
                     ] = False,
) -> None:
    if quiet:
        result = lab.up(name, managers, workers, distro)
    else:
        with err.status(f"lab {lit(name)}: starting") as spinner:
            def progress(text: str) -> None:
                spinner.update(f"lab {lit(name)}: {lit(text)}")
            result = lab.up(name, managers, workers, distro, progress=progress)
        _print_table(result)
        extra = len(result.nodes) - managers - workers
        if extra > 0:
            err.print(f"[yellow]note:[/] the lab keeps {extra:d} more node(s) than asked; "
                      f"`swarmctl lab down --name {lit(name)}` then `up` to shrink it",
                      soft_wrap=True)
    print(result.inventory_path)


@app.command()
def status(name: NameOpt = plan.DEFAULT_NAME) -> None:
    """Show the lab's nodes: role, address and state."""
    _print_table(lab.status(name), out)


@app.command()
def ssh(
    node: Annotated[str, typer.Argument(help="Node name, e.g. swarmctl-m1 or m1.")],
    command: Annotated[list[str] | None, typer.Argument(help="Command to run instead of "
                                                        "a shell.")] = None,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Lab name (default: the "
                                             "node's own lab, else swarmctl).")] = None,
) -> None:
    """Open a shell on a node as the lab user (sudo needs no password).

    A command goes after `--`, e.g. `swarmctl lab ssh m1 -- sudo docker info`.
    """
    argv = lab.ssh_argv(node, name, command or ())
    if shutil.which(argv[0]) is None:
        raise LabError("the ssh command was not found; install openssh-client")
    os.execvp(argv[0], argv)


@app.command()
def down(name: NameOpt = plan.DEFAULT_NAME) -> None:
    """Remove the lab's containers, volumes, network and key, and nothing else."""
    removed = lab.down(name)
    if not (removed.containers or removed.volumes or removed.networks or removed.state_dir):
        err.print(f"lab {lit(name)}: nothing to remove")
        return
    key = " and its key folder" if removed.state_dir else ""
    err.print(f"lab {lit(name)}: removed {removed.containers:d} containers, "
              f"{removed.volumes:d} volumes, {removed.networks:d} network(s){lit(key)}")


def lab_table(result: lab.Lab) -> Table:
    table = Table(title=f"lab {lit(result.name)} ({lit(result.distro or '?')}, "
                        f"{lit(result.subnet or '-')})", title_justify="left")
    for column in ("node", "role", "address", "state"):
        table.add_column(column, overflow="fold")
    for node in result.nodes:
        style = "green" if node.state == "running" else "yellow"
        table.add_row(lit(node.name), lit(node.role), lit(node.address),
                      f"[{style}]{lit(node.state)}[/]")
    return table


def _print_table(result: lab.Lab, console: Console = err) -> None:
    console.print(lab_table(result))
