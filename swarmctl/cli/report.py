"""Readable tables of the cluster's state."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.table import Table

from swarmctl.models.cluster import Node

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


_UPDATE_STYLE = {"completed": "green", "updating": "yellow", "rollback_started": "yellow",
                 "rollback_completed": "red", "paused": "red", "rollback_paused": "red"}


def print_services(console: Console, services: Iterable) -> None:
    """Services like `docker service ls`, with the update state."""
    table = Table(title="Services", title_justify="left")
    for col in ("SERVICE", "MODE", "REPLICAS", "IMAGE", "PORTS", "UPDATE"):
        table.add_column(col)
    for s in services:
        ok = s.running >= s.desired or "one-shot" in s.mode
        replicas = f"[{'green' if ok else 'yellow'}]{s.running}/{s.desired}[/]"
        state = s.update_state.replace("_", " ")
        style = _UPDATE_STYLE.get(s.update_state, "")
        table.add_row(s.name, s.mode, replicas, s.image, "\n".join(s.ports) or "-",
                      f"[{style}]{state}[/]" if style else (state or "-"))
    console.print(table)


def print_plan(console: Console, the_plan, shown: Iterable[str] = ()) -> None:
    """A plan (swarmctl.ops.plan.Plan): its actions in order, what is kept, the quorum
    (warnings in `shown` were printed already)."""
    if the_plan.actions:
        table = Table(title="Plan", title_justify="left")
        for col in ("#", "ACTION", "HOST", "CHANGE", "WHY"):
            table.add_column(col)
        for i, a in enumerate(the_plan.actions, 1):
            table.add_row(str(i), a.kind, a.target, a.detail, a.reason)
        console.print(table)
    for a in the_plan.kept:
        console.print(f"  {a.target} ({a.detail}): {a.reason}", highlight=False)
    for w in (w for w in the_plan.warnings if w not in set(shown)):
        console.print(f"[yellow]warning:[/] {w}", highlight=False)
    if not the_plan.refusals:
        console.print(f"quorum: {the_plan.quorum_line}", highlight=False)
        n = len(the_plan.actions)
        console.print(f"{n} change{'s' if n != 1 else ''} planned" if n
                      else "[green]✓[/] nothing to do: the swarm matches the inventory",
                      highlight=False)
