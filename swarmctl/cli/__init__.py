"""The `swarmctl` command line: a thin layer over the library.

Errors are SwarmctlError subclasses, rendered here once as a single line on stderr
with the exit code they carry (see swarmctl.errors). No traceback reaches the user.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from swarmctl import __version__
from swarmctl.console import err, lit, one_line, out
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

def _version(value: bool) -> None:
    if value:
        out.print(f"swarmctl {lit(__version__)}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Build and keep a Docker Swarm cluster from an Ansible inventory."""


_registered: list[bool] = []


def _register_subcommands() -> None:
    """One module per group of verbs; each adds its commands to the app (once: main()
    may run several times in one process, e.g. in tests)."""
    if _registered:
        return
    _registered.append(True)
    from swarmctl.cli import cluster, images, nodes, plan, recovery, security, workloads
    from swarmctl.cli.lab import app as lab_app

    cluster.register(app)
    plan.register(app)
    workloads.register(app)
    images.register(app)
    nodes.register(app)
    recovery.register(app)
    security.register(app)
    app.add_typer(lab_app, name="lab")


def main() -> None:
    _register_subcommands()
    try:
        # Without standalone mode, click returns the code of a typer.Exit instead of
        # exiting (status --check exits 10 or 11 that way).
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except SwarmctlError as exc:
        err.print(f"[red]error:[/] {lit(exc.message)}", highlight=False, soft_wrap=True)
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
            err.print(f"[red]error:[/] {lit(_usage_line(exc))}", highlight=False, soft_wrap=True)
            sys.exit(InputError.exit_code)
        if os.environ.get("SWARMCTL_DEBUG"):
            raise
        err.print(f"[red]internal error:[/] {lit(type(exc).__name__)}: {lit(one_line(exc))}"
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
