"""Options shared by the commands, so that every verb spells them the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

InventoryArg = Annotated[
    Path, typer.Argument(help="Ansible YAML inventory with swarm_managers and swarm_workers.",
                         show_default=False)
]
VerboseOpt = Annotated[
    int, typer.Option("--verbose", "-v", count=True,
                      help="Show Ansible's own output (-vv, -vvv for more).")
]
InventoryOpt = Annotated[
    Path, typer.Option("--inventory", "-i", show_default=False,
                       help="Ansible YAML inventory with swarm_managers and swarm_workers.")
]
LockWaitOpt = Annotated[
    float, typer.Option("--lock-wait", metavar="SECONDS",
                        help="Wait this long for another swarmctl run on this swarm to "
                             "finish (default: refuse at once, exit 5).")
]
