"""The planner: from the inventory (declared) and one observation (live), the actions
that bring the swarm's membership to the inventory, in the order they run, and the
refusals of what is unsafe. Pure logic: no I/O (swarmctl.ops.observe reads the hosts).

Order: Docker installs, starts and daemon.json rewrites → init → joins of managers (one
at a time) → joins of workers → promotions → labels and availability → demotions (one
at a time) → stale entries of re-joined hosts → with --prune, hosts no longer in the
inventory: workers, then managers one at a time (unreachable ones first), each drained,
demoted, made to leave and removed from the node list. Adds always come before removes.

Refusals (one line each, why and what to do; nothing is offered to force them):
- an inventory host cannot be read over SSH (exit 3);
- the managers answer but none is Leader: quorum lost (exit 3, `swarmctl recover`);
- a host is a member of a different swarm (exit 3);
- the hosts are in a swarm but no host of swarm_managers is one of its managers
  (a run would create a second swarm; exit 3, left to the preflight checks' table);
- more managers removed (demoted or pruned) in one run than the largest manager set of
  the run tolerates to lose, e.g. 2 of 3 (exit 2);
- a removal step would leave the managers without a reachable majority (exit 2);
- a host to prune that is Ready but cannot be reached to leave the swarm (exit 3).
An even number of managers after the run is a warning.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from swarmctl.models.inventory import Host, Inventory
from swarmctl.models.yamlfile import Vaulted
from swarmctl.ops.observe import HostObservation, Observation, node_address

MANAGED_LABELS_KEY = "io.swarmctl.managed-labels"

# Order of the kinds in a plan (what runs first).
KINDS = ("install", "start", "configure", "init", "join", "promote", "label", "availability",
         "demote", "remove-entry", "remove")


@dataclass(frozen=True)
class Action:
    kind: str
    target: str
    detail: str
    reason: str
    node_id: str = ""

    def line(self) -> str:
        return f"{self.kind} {self.target}: {self.detail} ({self.reason})"


@dataclass(frozen=True)
class Removal:
    """A node entry to remove with --prune, as the removal playbook takes it."""

    node_id: str
    hostname: str
    role: str
    address: str
    down: bool


@dataclass(frozen=True)
class Refusal:
    message: str
    exit_code: int
    # access: an inventory host cannot be read; foreign: a host of another swarm (both
    # are what the preflight checks report with their table); quorum; unreachable: a
    # host to prune cannot be reached; unsafe: the manager set.
    kind: str = "unsafe"


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    kept: list[Action] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    removals: list[Removal] = field(default_factory=list)
    managers_before: int = 0
    managers_after: int = 0
    swarm_exists: bool = False

    @property
    def changes(self) -> bool:
        return bool(self.actions)

    def by_kind(self, kind: str) -> list[Action]:
        return [a for a in self.actions if a.kind == kind]

    @property
    def quorum_line(self) -> str:
        before = (_managers(self.managers_before) if self.swarm_exists else "no swarm")
        after = _managers(self.managers_after)
        if self.swarm_exists and self.managers_before == self.managers_after:
            return f"{after} (unchanged)"
        return f"{before} → {after}"

    def as_dict(self) -> dict[str, Any]:
        return {"changes": self.changes,
                "actions": [asdict(a) for a in self.actions],
                "kept": [asdict(a) for a in self.kept],
                "refusals": [asdict(r) for r in self.refusals],
                "warnings": self.warnings,
                "removals": [asdict(r) for r in self.removals],
                "quorum": {"before": self.managers_before if self.swarm_exists else 0,
                           "after": self.managers_after,
                           "tolerates_before": _tolerance(self.managers_before)
                           if self.swarm_exists else 0,
                           "tolerates_after": _tolerance(self.managers_after),
                           "line": self.quorum_line}}


def _tolerance(n: int) -> int:
    return max(n - 1, 0) // 2


def _managers(n: int) -> str:
    return f"{n} manager{'s' if n != 1 else ''}, tolerates {_tolerance(n)}"


def _majority(n: int) -> int:
    return n // 2 + 1


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _hostname(node: dict[str, Any]) -> str:
    return str((node.get("Description") or {}).get("Hostname", node.get("ID", "")))


def _is_manager(node: dict[str, Any]) -> bool:
    return bool(node.get("ManagerStatus"))


def _down(node: dict[str, Any]) -> bool:
    return (node.get("Status") or {}).get("State") == "down"


def _reachable_manager(node: dict[str, Any]) -> bool:
    ms = node.get("ManagerStatus") or {}
    return bool(ms.get("Leader")) or ms.get("Reachability") == "reachable"


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "yes", "1")


# --------------------------------------------------------------------------- labels

def label_changes(host: Host, labels_now: dict[str, str]) -> tuple[list[str], bool]:
    """What swarm_node changes in a node's labels (the same rule: only labels swarmctl
    set, recorded in MANAGED_LABELS_KEY): (human-readable changes, any change)."""
    key = str(host.vars.get("swarm_node_managed_labels_key", MANAGED_LABELS_KEY))
    declared = {str(k): str(v) for k, v in host.labels.items()}
    declared_keys = sorted(declared)
    managed_before = [k for k in labels_now.get(key, "").split(",") if k]
    wanted = dict(declared)
    if declared_keys:
        wanted[key] = ",".join(declared_keys)
    stale = [k for k in managed_before if k not in declared]
    if not declared_keys and key in labels_now:
        stale.append(key)
    shown, changed = [], False
    for k, v in wanted.items():
        if k not in labels_now:
            changed = True
            if k != key:
                shown.append(f"+{k}={v}")
        elif labels_now[k] != v:
            changed = True
            if k != key:
                shown.append(f"{k}: {labels_now[k]} → {v}")
    for k in stale:
        if k in labels_now:
            changed = True
            if k != key:
                shown.append(f"-{k}")
    # docker_node reports a change for labels_to_remove even when they are absent.
    if stale and not changed:
        changed = True
    if changed and not shown:
        shown.append(f"record of managed labels ({key})")
    return shown, changed


def wanted_availability(host: Host) -> str:
    if host.availability:
        return host.availability
    if host.role == "manager" and _truthy(host.vars.get("swarm_node_dedicated_managers")):
        return "drain"
    return ""


# --------------------------------------------------------------------------- planning

# daemon.json as docker_engine leaves it: mode 0644, owned by root:root.
DAEMON_JSON_MODE = "0644 0 0"


def _vaulted(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_vaulted(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_vaulted(v) for v in value)
    return isinstance(value, Vaulted)


def daemon_json_digest(options: Any) -> str | None:
    """The SHA-256 of daemon.json as docker_engine writes it from
    `docker_engine_daemon_options` (`to_nice_json` and a newline); "" for an empty
    mapping (the role leaves the file alone); None when it cannot be told here (not a
    mapping, a vaulted value, or a template Ansible would render)."""
    if not isinstance(options, dict) or _vaulted(options):
        return None
    try:
        text = json.dumps(options, indent=4, sort_keys=True, separators=(",", ": "))
    except (TypeError, ValueError):  # a YAML date, say: Ansible's encoder decides
        return None
    if "{{" in text or "{%" in text or "{#" in text:
        return None
    return hashlib.sha256((text + "\n").encode()).hexdigest() if options else ""


def plan(inv: Inventory, obs: Observation, *, prune: bool = False,
         daemon_options: dict[str, Any] | None = None) -> Plan:
    """The plan for `inv` from `obs` (see the module's docstring for order and rules).
    `daemon_options`: docker_engine's default `docker_engine_daemon_options`, for the
    hosts whose inventory does not set it (None: daemon.json is not planned)."""
    p = Plan()
    seen: dict[str, HostObservation] = obs.hosts

    for host in inv.hosts:
        o = seen.get(host.name)
        if o is None or not o.reachable:
            why = o.error if o else "not read"
            p.refusals.append(Refusal(
                f"cannot read {host.name} over SSH ({why}); fix access first "
                f"(`swarmctl check {inv.path}` says what is wrong)", 3, "access"))
    if p.refusals:
        return p

    managers_in_swarm = [h for h in inv.managers if seen[h.name].in_swarm
                         and seen[h.name].is_manager]
    bootstrap = managers_in_swarm[0] if managers_in_swarm else inv.managers[0]
    any_in_swarm = [h for h in inv.hosts if seen[h.name].in_swarm]
    nodes = obs.nodes if obs.nodes is not None else []
    p.swarm_exists = bool(managers_in_swarm) or obs.nodes is not None

    if obs.quorum_lost:
        p.refusals.append(Refusal(
            "quorum lost: the managers answer but none is Leader"
            f"{' (' + obs.nodes_error + ')' if obs.nodes_error else ''}; nothing can change "
            "until the swarm has a leader again: bring the other managers back, or run "
            f"`swarmctl recover {inv.path}`", 3, "quorum"))
        return p
    if managers_in_swarm and obs.nodes is None:
        p.refusals.append(Refusal(
            f"no manager could list the swarm's nodes ({obs.nodes_error or 'no answer'}); "
            f"see `swarmctl status -i {inv.path}`", 3, "quorum"))
        return p

    clusters = sorted({seen[h.name].cluster_id for h in managers_in_swarm})
    if len(clusters) > 1:
        p.refusals.append(Refusal(
            f"the managers belong to different swarms ({', '.join(clusters)}); keep in "
            "swarm_managers only managers of one swarm, or make the others leave theirs "
            "with `docker swarm leave --force`", 3, "foreign"))
        return p
    node_ids = {n.get("ID") for n in nodes}
    for host in inv.hosts if managers_in_swarm else ():
        o = seen[host.name]
        if o.in_swarm and o.node_id not in node_ids:
            p.refusals.append(Refusal(
                f"host {host.name} is already part of a different swarm (node "
                f"{o.node_id}); if it should join this one, run `docker swarm leave "
                "--force` on it first, else remove it from the inventory", 3, "foreign"))
    if p.refusals:
        return p
    if not managers_in_swarm and any_in_swarm:
        held = _names([h.name for h in any_in_swarm])
        p.refusals.append(Refusal(
            f"{held} {'is' if len(any_in_swarm) == 1 else 'are'} in a swarm but no host "
            "of swarm_managers is one of its managers: a run would create a second swarm; "
            "keep at least one current manager in swarm_managers, or run `docker swarm "
            "leave --force` on the hosts that should join a new swarm", 3, "foreign"))
        return p

    by_id = {n["ID"]: n for n in nodes}
    inv_ids = {seen[h.name].node_id for h in inv.hosts
               if seen[h.name].in_swarm and seen[h.name].node_id in by_id}
    p.managers_before = sum(1 for n in nodes if _is_manager(n))

    # Docker itself.
    for host in inv.hosts:
        o = seen[host.name]
        if not o.docker:
            p.actions.append(Action("install", host.name, "install Docker Engine",
                                    "Docker is not installed"))
        elif not o.running:
            p.actions.append(Action("start", host.name, "start Docker",
                                    f"Docker does not answer: {o.error or 'not running'}"))
        elif daemon_options is not None and "daemon_json" in (o.fingerprint or {}):
            want = daemon_json_digest(host.vars.get("docker_engine_daemon_options",
                                                    daemon_options))
            have = o.fingerprint["daemon_json"]
            mode = o.fingerprint.get("daemon_json_mode", DAEMON_JSON_MODE)
            if want and (have != want or mode != DAEMON_JSON_MODE):
                why = ("there is no daemon.json" if not have else
                       "daemon.json differs from docker_engine_daemon_options" if have != want
                       else f"daemon.json's mode and owner are {mode}, not {DAEMON_JSON_MODE}")
                p.actions.append(Action("configure", host.name,
                                        "write daemon.json, restart Docker", why))

    if not managers_in_swarm:
        p.actions.append(Action("init", bootstrap.name, "create the swarm",
                                "no host of the inventory is in a swarm"))

    joins_m, joins_w, promotes, demotes = [], [], [], []
    for host in inv.hosts:
        o = seen[host.name]
        if host.name == bootstrap.name and not managers_in_swarm:
            continue
        member = o.in_swarm and o.node_id in by_id
        if not member:
            why = {"pending": "a half-finished join is cleared first",
                   "error": "a failed join is cleared first"}.get(o.state,
                                                                  "not in the swarm")
            act = Action("join", host.name, f"join as {host.role}", why)
            (joins_m if host.role == "manager" else joins_w).append(act)
            continue
        node = by_id[o.node_id]
        if host.role == "manager" and not _is_manager(node):
            promotes.append(Action("promote", host.name, "worker → manager",
                                   "listed in swarm_managers", o.node_id))
        elif host.role == "worker" and _is_manager(node):
            demotes.append(Action("demote", host.name, "manager → worker",
                                  "listed in swarm_workers", o.node_id))
    p.actions += joins_m + joins_w + promotes

    # Labels and availability, on the nodes as they will be after the joins.
    for host in inv.hosts:
        o = seen[host.name]
        node = by_id.get(o.node_id) if o.in_swarm else None
        spec = (node or {}).get("Spec") or {}
        shown, changed = label_changes(host, dict(spec.get("Labels") or {}))
        if changed:
            p.actions.append(Action("label", host.name, ", ".join(shown),
                                    "swarm_node_labels", o.node_id if node else ""))
        want = wanted_availability(host)
        now = spec.get("Availability", "active" if node is None else "")
        if want and want != now:
            p.actions.append(Action("availability", host.name, f"{now} → {want}",
                                    "swarm_node_availability", o.node_id if node else ""))
    p.actions += demotes

    # Entries left Down by an earlier join of an inventory host (swarm_node removes them).
    # (a host that left and joins in this run: the Down entry carries its hostname)
    inv_hostnames = {_hostname(by_id[i]) for i in inv_ids} | {
        seen[h.name].hostname for h in inv.hosts if seen[h.name].hostname}
    stale = [n for n in nodes if n["ID"] not in inv_ids and _down(n)
             and _hostname(n) in inv_hostnames]
    for n in stale:
        p.actions.append(Action("remove-entry", _hostname(n), f"node rm {n['ID'][:12]}",
                                "a Down entry left by an earlier join of this host",
                                n["ID"]))

    # Nodes the inventory no longer lists.
    stale_ids = {n["ID"] for n in stale}
    outside = [n for n in nodes if n["ID"] not in inv_ids and n["ID"] not in stale_ids]
    # Workers first, then managers, the unreachable ones first.
    outside.sort(key=lambda n: (_is_manager(n), _reachable_manager(n) or not _down(n),
                                _hostname(n)))
    pruned_managers: list[dict[str, Any]] = []
    for n in outside:
        name, role = _hostname(n), "manager" if _is_manager(n) else "worker"
        status = str((n.get("Status") or {}).get("State", "")).capitalize()
        if not prune:
            p.kept.append(Action("keep", name, f"{role}, {status}",
                                 "not in the inventory, kept (--prune removes it)", n["ID"]))
            continue
        if _down(n):
            steps = ("demote → " if role == "manager" else "") + "node rm"
            p.actions.append(Action(
                "remove", name, f"{steps} (node list only)",
                "not in the inventory; Down: its own swarm state cannot be cleaned", n["ID"]))
        else:
            o = obs.outside.get(name)
            if o is not None and not o.reachable:
                p.refusals.append(Refusal(
                    f"{name} is not in the inventory and {status}, but cannot be reached at "
                    f"{node_address(n)} to leave the swarm ({o.error}); restore SSH to it, "
                    "or stop it so that it shows Down (its entry is then removed), and run "
                    "again", 3, "unreachable"))
            steps = ("demote → drain → leave → node rm" if role == "manager"
                     else "drain → wait for its tasks to run elsewhere → leave → node rm")
            p.actions.append(Action("remove", name, steps, "not in the inventory", n["ID"]))
        p.removals.append(Removal(n["ID"], name, role, node_address(n), _down(n)))
        if role == "manager":
            pruned_managers.append(n)

    kept_managers = sum(1 for a in p.kept if a.detail.startswith("manager"))
    p.managers_after = len(inv.managers) + kept_managers
    _quorum_rules(p, nodes, by_id, joins_m, promotes, demotes, pruned_managers)
    return p


def _quorum_rules(p: Plan, nodes: list[dict[str, Any]], by_id: dict[str, dict[str, Any]],
                  joins_m: list[Action], promotes: list[Action], demotes: list[Action],
                  pruned: list[dict[str, Any]]) -> None:
    """Refuse removals the manager set cannot afford; warn about an even set."""
    removed = [a.target for a in demotes] + [_hostname(n) for n in pruned]
    if p.swarm_exists and removed:
        peak = p.managers_before + len(joins_m) + len(promotes)
        if len(removed) > _tolerance(peak):
            left = peak - len(removed)
            added = f" (after adding {len(joins_m) + len(promotes)})" \
                if joins_m or promotes else ""
            p.refusals.append(Refusal(
                f"removing {_names(removed)} at once leaves {left} of {peak} managers"
                f"{added}, and {peak} tolerate losing only {_tolerance(peak)}: remove "
                "one at a time, or add managers first", 2))
            return
        # Step by step: the managers that remain must keep a reachable majority.
        current = [n for n in nodes if _is_manager(n)]
        reach = {n["ID"]: _reachable_manager(n) for n in current}
        members = set(reach) | {f"new:{a.target}" for a in joins_m + promotes}
        for a in joins_m + promotes:
            reach[f"new:{a.target}"] = True
        order = [n["ID"] for n in pruned] + [a.node_id for a in demotes]
        order.sort(key=lambda i: reach.get(i, False))  # unreachable ones first
        for node_id in order:
            members.discard(node_id)
            up = sum(1 for m in members if reach[m])
            if up < _majority(len(members)):
                name = _hostname(by_id[node_id])
                gone = sorted(_hostname(by_id[m]) for m in members
                              if not reach[m] and m in by_id)
                p.refusals.append(Refusal(
                    f"removing {name} leaves {up} reachable of {len(members)} managers, "
                    f"without quorum ({_names(gone)} unreachable): bring "
                    f"{'it' if len(gone) == 1 else 'them'} back or remove "
                    f"{'it' if len(gone) == 1 else 'them'} first", 2))
                return
    if p.managers_after % 2 == 0 and p.managers_after != p.managers_before:
        p.warnings.append(
            f"{p.managers_after} managers tolerate no more failures than "
            f"{p.managers_after - 1}: use an odd number (3, 5 or 7) for quorum")
