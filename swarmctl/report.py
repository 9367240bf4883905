"""Readable tables of the cluster's state."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.table import Table

from swarmctl.cluster import Node

_STATUS_STYLE = {"Ready": "green", "Down": "red", "Unknown": "yellow", "Disconnected": "red"}


def print_nodes(console: Console, nodes: Iterable[Node]) -> None:
    table = Table(title="Swarm nodes", title_justify="left")
    for col in ("NODE", "ROLE", "STATUS", "AVAILABILITY", "MANAGER STATUS", "ENGINE", "ADDRESS"):
        table.add_column(col)
    for n in nodes:
        style = _STATUS_STYLE.get(n.status, "")
        table.add_row(n.hostname, n.role, f"[{style}]{n.status}[/]" if style else n.status,
                      n.availability, n.manager_status, n.engine, n.address)
    console.print(table)
