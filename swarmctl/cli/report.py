"""Readable tables of the cluster's state. Every cell that comes from the cluster (names,
images, addresses, states) goes through `lit()`: it prints as Docker reported it."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.table import Table

from swarmctl.console import lit
from swarmctl.models.cluster import Node

_STATUS_STYLE = {"Ready": "green", "Down": "red", "Unknown": "yellow", "Disconnected": "red"}


def _markup(text: str, style: str) -> str:
    return f"[{style}]{lit(text)}[/]" if style else lit(text)


def nodes_table(nodes: Iterable[Node]) -> Table:
    table = Table(title="Swarm nodes", title_justify="left")
    for col in ("NODE", "ROLE", "STATUS", "AVAILABILITY", "MANAGER STATUS", "ENGINE", "ADDRESS"):
        table.add_column(col, overflow="fold")
    for n in nodes:
        status_markup = _markup(n.status, _STATUS_STYLE.get(n.status, ""))
        table.add_row(lit(n.hostname), lit(n.role), status_markup, lit(n.availability),
                      lit(n.manager_status), lit(n.engine), lit(n.address))
    return table


def print_nodes(console: Console, nodes: Iterable[Node]) -> None:
    console.print(nodes_table(nodes))


_UPDATE_STYLE = {"completed": "green", "updating": "yellow", "rollback_started": "yellow",
                 "rollback_completed": "red", "paused": "red", "rollback_paused": "red"}


def services_table(services: Iterable) -> Table:
    """Services like `docker service ls`, with the update state."""
    table = Table(title="Services", title_justify="left")
    for col in ("SERVICE", "MODE", "REPLICAS", "IMAGE", "PORTS", "UPDATE"):
        table.add_column(col, overflow="fold")
    for s in services:
        ok = s.running >= s.desired or "one-shot" in s.mode
        replicas_markup = _markup(f"{s.running}/{s.desired}", "green" if ok else "yellow")
        state = s.update_state.replace("_", " ")
        table.add_row(lit(s.name), lit(s.mode), replicas_markup, lit(s.image),
                      "\n".join(lit(p) for p in s.ports) or "-",
                      _markup(state or "-", _UPDATE_STYLE.get(s.update_state, "")))
    return table


def print_services(console: Console, services: Iterable) -> None:
    console.print(services_table(services))


def print_plan(console: Console, the_plan, shown: Iterable[str] = ()) -> None:
    """A plan (swarmctl.ops.plan.Plan): its actions in order, what is kept, the quorum
    (warnings in `shown` were printed already)."""
    if the_plan.actions:
        table = Table(title="Plan", title_justify="left")
        for col in ("#", "ACTION", "HOST", "CHANGE", "WHY"):
            table.add_column(col)
        for i, a in enumerate(the_plan.actions, 1):
            table.add_row(lit(str(i)), lit(a.kind), lit(a.target), lit(a.detail), lit(a.reason))
        console.print(table)
    for a in the_plan.kept:
        console.print(f"  {lit(a.target)} ({lit(a.detail)}): {lit(a.reason)}", highlight=False)
    for w in (w for w in the_plan.warnings if w not in set(shown)):
        console.print(f"[yellow]warning:[/] {lit(w)}", highlight=False)
    if not the_plan.refusals:
        console.print(f"quorum: {lit(the_plan.quorum_line)}", highlight=False)
        n = len(the_plan.actions)
        console.print(f"{n:d} change{lit('s' if n != 1 else '')} planned" if n
                      else "[green]✓[/] nothing to do: the swarm matches the inventory",
                      highlight=False)
