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
    services = list(services)
    console.print(services_table(services))
    scaled = [s for s in services if getattr(s, "autoscale", None)]
    if scaled:
        console.print(autoscale_table(scaled))


def _ago(when: float | None, now: float) -> str:
    if not when:
        return "-"
    seconds = max(0, now - when)
    return f"{seconds:.0f}s ago" if seconds < 120 else f"{seconds / 60:.0f}m ago"


def autoscale_table(services: Iterable, now: float | None = None) -> Table:
    """Per autoscaled service: replicas within min..max, the metric now against its
    target (the controller's latest round), and the last scaling with its reason."""
    import time

    now = time.time() if now is None else now
    table = Table(title="Autoscaling", title_justify="left")
    for col in ("SERVICE", "REPLICAS", "MIN..MAX", "NOW / TARGET", "LAST SCALING"):
        table.add_column(col, overflow="fold")
    for s in services:
        view = s.autoscale
        if view.get("error"):
            table.add_row(lit(s.name), "-", "-", _markup(view["error"], "red"), "-")
            continue
        metrics = view.get("metrics") or {}
        lines = [f"{m} {metrics[m]:.0f}% / {t:.0f}%" if m in metrics else f"{m} ? / {t:.0f}%"
                 for m, t in view["targets"].items()]
        lines.append(f"({_ago(view['observed_at'], now)})" if view.get("observed_at")
                     else "(no round of the controller seen yet)")
        last = view.get("last")
        last_text = (f"{last['from']} → {last['to']}, {_ago(last['time'], now)}: "
                     f"{last.get('reason', '')}" if last else "none yet")
        table.add_row(lit(s.name), lit(str(view.get("replicas"))),
                      lit(f"{view['min']}..{view['max']}"), "\n".join(lit(x) for x in lines),
                      lit(last_text))
    return table


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


_SIGNS = {"create": "[green]+[/]", "update": "[yellow]~[/]", "re-create": "[yellow]±[/]",
          "remove": "[red]-[/]"}


def change_markup(change: dict) -> str:
    """One service-side change (swarm_services_changes' shape) as a markup line."""
    fields = [str(f) for f in change.get("fields") or []]
    sign = _SIGNS.get(str(change.get("action")), "[yellow]~[/]")
    what = f": {lit(', '.join(fields))}" if fields else ""
    return (f"{sign} {lit(str(change.get('action', '')))} {lit(str(change.get('kind', '')))} "
            f"{lit(str(change.get('name', '')))}{what}")


def print_services_plan(console: Console, splan) -> None:
    """A ServicesPlan (swarmctl.ops.services): what `deploy` would change."""
    if splan.unavailable:
        console.print(f"services: not planned: {lit(splan.unavailable)}", highlight=False,
                      soft_wrap=True)
        return
    if splan.changes:
        table = Table(title="Services plan", title_justify="left")
        for col in ("#", "ACTION", "KIND", "NAME", "WHAT DIFFERS"):
            table.add_column(col)
        for i, c in enumerate(splan.changes, 1):
            table.add_row(lit(str(i)), lit(str(c.get("action", ""))), lit(str(c.get("kind", ""))),
                          lit(str(c.get("name", ""))),
                          lit(", ".join(str(f) for f in c.get("fields") or [])))
        console.print(table)
    for what in splan.kept():
        console.print(f"  {lit(what)}: deployed from a spec, not in this one: kept "
                      "(--prune removes it)", highlight=False, soft_wrap=True)
    for name in splan.stacks:
        console.print(f"  stack {lit(name)}: not planned (`docker stack deploy` has no dry run; "
                      "deploy re-applies it and restarts no unchanged task)", highlight=False,
                      soft_wrap=True)
    n = len(splan.changes)
    console.print(f"{n:d} service change{lit('s' if n != 1 else '')} planned" if n
                  else "[green]✓[/] nothing to do: the services match the spec", highlight=False)
