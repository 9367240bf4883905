#!/usr/bin/python
"""Drain a swarm node and wait until its tasks run elsewhere, or bring it back; and the
quorum arithmetic that says whether the swarm can afford it. Runs on a manager."""

DOCUMENTATION = r"""
module: swarm_maintenance_node
short_description: Drain a swarm node and wait until its tasks moved, or bring it back.
description:
  - Runs on a manager of the swarm and needs the Docker SDK for Python there.
  - O(state=check) changes nothing. It reports the nodes, the managers, the quorum and
    the problems that make maintenance unsafe (a manager that is not Reachable, a node
    that is not Ready, and for each node of O(nodes) that is a manager, whether the swarm
    tolerates its loss).
  - O(state=drained) refuses a manager whose loss the swarm cannot tolerate, records the
    node's availability in a node label (once; a second drain keeps the first record),
    sets it to drain in the same node update, then waits until none of its tasks runs
    and every replicated service that had a task on it runs as many tasks on other nodes
    as before (at most its replicas). When that does not happen within O(timeout), it
    puts the availability back and fails, naming the services and why their tasks
    cannot run elsewhere.
  - O(state=active) waits until the node is Ready (a manager also Reachable, and the
    swarm has a leader), then sets the availability recorded by O(state=drained) back
    and removes the record. A node without a record keeps its availability.
options:
  nodes:
    description: Node IDs (or hostnames). O(state=drained) and O(state=active) take one.
    type: list
    elements: str
    default: []
  state:
    description: check, drained or active.
    type: str
    choices: [check, drained, active]
    default: check
  owner:
    description: >-
      Who drains (recorded with the availability). O(state=active) restores only a
      record of the same owner, or any with O(owner=any).
    type: str
    default: maintenance
  timeout:
    description: Seconds to wait for the tasks to move, or for the node to come back.
    type: int
    default: 300
  allow_quorum_loss:
    description: Drain a manager even when the swarm cannot tolerate its loss.
    type: bool
    default: false
  refuse:
    description: >-
      O(state=check) fails (with RV(refused)) when it finds problems, so that a run
      stops before anything changes.
    type: bool
    default: false
author: swarmctl developers (@swarmctl)
"""

EXAMPLES = r"""
- name: Drain a node and wait until its tasks run elsewhere.
  swarmctl.swarm.swarm_maintenance_node:
    nodes: [w1]
    state: drained
  delegate_to: m1

- name: Bring it back with the availability it had.
  swarmctl.swarm.swarm_maintenance_node:
    nodes: [w1]
    state: active
  delegate_to: m1
"""

RETURN = r"""
state:
  description: O(state), so that a reader of the results can tell them apart.
  returned: always
  type: str
refused:
  description: Set when the module refused before changing anything; C(msg) says why.
  returned: when refused
  type: bool
nodes:
  description: >-
    Per node of O(nodes): id, hostname, role, status, availability, reachability,
    leader, and the availability recorded before a drain (C(before)) and its C(owner).
  returned: always
  type: list
cluster:
  description: managers, reachable, quorum, fault_tolerance, leader (hostname).
  returned: always
  type: dict
problems:
  description: Why maintenance is unsafe now, one line each (state=check).
  returned: always
  type: list
moved:
  description: >-
    state=drained: per service that had a task on the node, its tasks running on other
    nodes and the number waited for.
  returned: state=drained
  type: list
waited:
  description: Seconds spent waiting.
  returned: state=drained or state=active
  type: float
"""

import time

from ansible.module_utils.basic import AnsibleModule

try:
    import docker

    HAS_DOCKER = True
except ImportError:  # reported by main()
    HAS_DOCKER = False

AVAILABILITY_LABEL = "io.swarmctl.maintenance.availability"
OWNER_LABEL = "io.swarmctl.maintenance.owner"
# Task states in which a container may still run on its node.
LIVE = {"new", "pending", "assigned", "accepted", "preparing", "ready", "starting", "running"}


# --------------------------------------------------------------------------- pure logic


def summary(node):
    """The fields of an Engine API node object that maintenance decides from."""
    spec = node.get("Spec") or {}
    labels = spec.get("Labels") or {}
    manager = node.get("ManagerStatus") or {}
    return {
        "id": node.get("ID", ""),
        "hostname": (node.get("Description") or {}).get("Hostname", ""),
        "role": spec.get("Role", ""),
        "status": (node.get("Status") or {}).get("State", ""),
        "availability": spec.get("Availability", ""),
        "reachability": manager.get("Reachability", "") if manager else "",
        "leader": bool(manager.get("Leader")),
        "before": labels.get(AVAILABILITY_LABEL, ""),
        "owner": labels.get(OWNER_LABEL, ""),
        "engine": ((node.get("Description") or {}).get("Engine") or {}).get(
            "EngineVersion", ""),
    }


def find(nodes, wanted):
    """The node whose ID or hostname is `wanted` (a unique ID prefix also matches)."""
    exact = [n for n in nodes if wanted in (n["ID"], (n.get("Description") or {})
                                            .get("Hostname"))]
    if len(exact) == 1:
        return exact[0]
    prefixed = [n for n in nodes if n["ID"].startswith(wanted)]
    return prefixed[0] if len(prefixed) == 1 and not exact else None


def quorum(nodes, without=()):
    """Managers, reachable managers, quorum size and fault tolerance, and whether the
    swarm keeps quorum without the managers of `without` (IDs)."""
    managers = [summary(n) for n in nodes if (n.get("Spec") or {}).get("Role") == "manager"]
    reachable = [m for m in managers if m["reachability"] == "reachable"]
    size = len(managers) // 2 + 1
    left = [m for m in reachable if m["id"] not in without]
    leader = next((m["hostname"] for m in managers if m["leader"]), "")
    return {"managers": len(managers), "reachable": len(reachable), "quorum": size,
            "fault_tolerance": max(0, len(reachable) - size), "leader": leader,
            "keeps_quorum": len(left) >= size}


def loss_refusal(nodes, node):
    """Why the swarm cannot afford to lose this manager now (one line), or None."""
    info = summary(node)
    if info["role"] != "manager":
        return None
    q = quorum(nodes, without={info["id"]})
    if q["keeps_quorum"]:
        return None
    return (f"the swarm cannot lose manager {info['hostname']}: {q['reachable']} of "
            f"{q['managers']} managers are reachable and {q['quorum']} are needed for "
            f"quorum, so it would lose quorum while {info['hostname']} is away; "
            + ("bring the unreachable managers back first" if q["reachable"] < q["managers"]
               else "add managers first (an odd number: 3 tolerate 1 away, 5 tolerate 2)"))


def problems(nodes, targets):
    """What makes maintenance unsafe now: managers not Reachable, nodes not Ready, and
    target managers the swarm cannot lose."""
    found = []
    for node in nodes:
        info = summary(node)
        if info["role"] == "manager" and info["reachability"] != "reachable":
            found.append(f"manager {info['hostname']} is {info['reachability'] or 'unknown'}"
                         f" (status {info['status']})")
        elif info["status"] != "ready" and info["id"] in targets:
            found.append(f"node {info['hostname']} is {info['status']}")
    if not found:
        for node in nodes:
            if node["ID"] in targets:
                refusal = loss_refusal(nodes, node)
                if refusal:
                    found.append(refusal)
    return found


def running_elsewhere(tasks, node_id):
    """Per service ID, its tasks running (and meant to) on nodes other than `node_id`."""
    counts = {}
    for t in tasks:
        if (t.get("NodeID") != node_id and t.get("DesiredState") == "running"
                and (t.get("Status") or {}).get("State") == "running"):
            counts[t["ServiceID"]] = counts.get(t["ServiceID"], 0) + 1
    return counts


def moves_wanted(services, tasks, node_id):
    """Per replicated service with a live task on the node: how many tasks must run on
    other nodes once it is drained (as many as ran in all before, at most its replicas).
    Global services are left out: they run one task per node and stop on a drained one."""
    running = {}
    on_node = set()
    for t in tasks:
        if t.get("DesiredState") == "running" and (t.get("Status") or {}).get("State") \
                == "running":
            running[t["ServiceID"]] = running.get(t["ServiceID"], 0) + 1
        if t.get("NodeID") == node_id and t.get("DesiredState") == "running":
            on_node.add(t["ServiceID"])
    wanted = {}
    for svc in services:
        mode = (svc.get("Spec") or {}).get("Mode") or {}
        if svc["ID"] not in on_node or "Replicated" not in mode:
            continue
        replicas = int(mode["Replicated"].get("Replicas", 1))
        wanted[svc["ID"]] = min(replicas, running.get(svc["ID"], 0))
    return wanted


def drained(tasks, node_id, wanted):
    """Whether no task runs on the node any more and each service in `wanted` runs as
    many tasks elsewhere."""
    if any(t.get("NodeID") == node_id and (t.get("Status") or {}).get("State") in LIVE
           and t.get("DesiredState") == "running" for t in tasks):
        return False
    if any(t.get("NodeID") == node_id and (t.get("Status") or {}).get("State") == "running"
           for t in tasks):
        return False
    elsewhere = running_elsewhere(tasks, node_id)
    return all(elsewhere.get(sid, 0) >= n for sid, n in wanted.items())


def stuck(services, tasks, node_id, wanted):
    """One line per service whose tasks did not move, with the scheduler's reason."""
    names = {s["ID"]: (s.get("Spec") or {}).get("Name", s["ID"]) for s in services}
    elsewhere = running_elsewhere(tasks, node_id)
    lines = []
    for sid, n in wanted.items():
        if elsewhere.get(sid, 0) >= n:
            continue
        reasons = sorted({(t.get("Status") or {}).get("Err") or (t.get("Status") or {})
                         .get("Message", "") for t in tasks
                          if t.get("ServiceID") == sid and t.get("DesiredState") == "running"
                          and (t.get("Status") or {}).get("State") != "running"} - {""})
        lines.append(f"{names.get(sid, sid)} runs {elsewhere.get(sid, 0)} of {n} tasks on "
                     f"other nodes" + (f" ({'; '.join(reasons)})" if reasons else ""))
    if any(t.get("NodeID") == node_id and (t.get("Status") or {}).get("State") == "running"
           for t in tasks):
        lines.append("tasks still run on the node")
    return lines


def back(nodes, node_id):
    """Whether the node is Ready again (a manager also Reachable, with a leader)."""
    node = next((n for n in nodes if n["ID"] == node_id), None)
    if node is None:
        return False
    info = summary(node)
    if info["status"] != "ready":
        return False
    if info["role"] != "manager":
        return True
    return info["reachability"] == "reachable" and bool(quorum(nodes)["leader"])


# --------------------------------------------------------------------------- the swarm


class Swarm:
    def __init__(self, module):
        self.module = module
        self.api = docker.APIClient(base_url="unix://var/run/docker.sock", version="auto")

    def nodes(self):
        return self.api.nodes()

    def node(self, wanted):
        node = find(self.nodes(), wanted)
        if node is None:
            self.module.fail_json(msg=f"no node {wanted!r} in the swarm")
        return node

    def update(self, node, availability=None, labels=None, drop=()):
        spec = dict(node["Spec"])
        spec["Labels"] = {k: v for k, v in (spec.get("Labels") or {}).items() if k not in drop}
        spec["Labels"].update(labels or {})
        if availability:
            spec["Availability"] = availability
        self.api.update_node(node["ID"], node["Version"]["Index"], spec)

    def tasks(self):
        return self.api.tasks()


def _drain(module, swarm, p):
    node = swarm.node(p["nodes"][0])
    nodes = swarm.nodes()
    info = summary(node)
    refusal = loss_refusal(nodes, node)
    if refusal and not p["allow_quorum_loss"] and info["availability"] != "drain":
        module.fail_json(msg=refusal + "; nothing was changed", refused=True, nodes=[info],
                         cluster=quorum(nodes), state="drained")
    services, tasks = swarm.api.services(), swarm.tasks()
    wanted = moves_wanted(services, tasks, node["ID"])
    changed = False
    if not info["before"] or info["availability"] != "drain":
        labels = {} if info["before"] else {AVAILABILITY_LABEL: info["availability"],
                                            OWNER_LABEL: p["owner"]}
        if not module.check_mode:
            swarm.update(node, availability="drain", labels=labels)
        changed = True
    if module.check_mode:
        module.exit_json(changed=changed, nodes=[info], cluster=quorum(nodes), moved=[],
                         state="drained")
    started = time.monotonic()
    while True:
        tasks = swarm.tasks()
        if drained(tasks, node["ID"], wanted):
            break
        if time.monotonic() - started >= p["timeout"]:
            lines = stuck(services, tasks, node["ID"], wanted)
            undone = ""
            if changed and not info["before"]:
                swarm.update(swarm.node(node["ID"]), availability=info["availability"],
                             drop=(AVAILABILITY_LABEL, OWNER_LABEL))
                undone = f"; its availability is {info['availability']} again"
            module.fail_json(msg=f"{info['hostname']}: its tasks did not move to other nodes "
                                 f"within {p['timeout']}s: {'; '.join(lines)}{undone}",
                             nodes=[info], stuck=lines, state="drained")
        time.sleep(1)
    elsewhere = running_elsewhere(tasks, node["ID"])
    names = {s["ID"]: s["Spec"]["Name"] for s in services}
    moved = [{"service": names.get(sid, sid), "running_elsewhere": elsewhere.get(sid, 0),
              "wanted": n} for sid, n in wanted.items()]
    after = summary(swarm.node(node["ID"]))
    module.exit_json(changed=changed, nodes=[after], cluster=quorum(swarm.nodes()),
                     moved=moved, waited=round(time.monotonic() - started, 1), state="drained")


def _activate(module, swarm, p):
    node = swarm.node(p["nodes"][0])
    started = time.monotonic()
    while True:
        nodes = swarm.nodes()
        if back(nodes, node["ID"]):
            break
        if time.monotonic() - started >= p["timeout"]:
            info = summary(next((n for n in nodes if n["ID"] == node["ID"]), node))
            q = quorum(nodes)
            kept = "quorum kept" if q["reachable"] >= q["quorum"] else "NO quorum"
            module.fail_json(
                msg=f"{info['hostname']} did not come back within {p['timeout']}s (status "
                    f"{info['status']}" + (f", {info['reachability'] or 'not reachable'}"
                                           if info["role"] == "manager" else "")
                    + f"); the swarm has {q['reachable']} of {q['managers']} managers "
                    f"reachable ({kept})",
                nodes=[info], cluster=q, came_back=False, state="active")
        time.sleep(1)
    node = swarm.node(node["ID"])
    info = summary(node)
    changed = False
    if info["before"] and p["owner"] in ("any", info["owner"]):
        if not module.check_mode:
            swarm.update(node, availability=info["before"],
                         drop=(AVAILABILITY_LABEL, OWNER_LABEL))
        changed = True
        info = summary(swarm.node(node["ID"])) if not module.check_mode else info
    module.exit_json(changed=changed, nodes=[info], cluster=quorum(swarm.nodes()),
                     waited=round(time.monotonic() - started, 1), state="active")


def main():
    module = AnsibleModule(
        argument_spec={
            "nodes": {"type": "list", "elements": "str", "default": []},
            "state": {"type": "str", "default": "check",
                      "choices": ["check", "drained", "active"]},
            "owner": {"type": "str", "default": "maintenance"},
            "timeout": {"type": "int", "default": 300},
            "allow_quorum_loss": {"type": "bool", "default": False},
            "refuse": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    p = module.params
    if not HAS_DOCKER:
        module.fail_json(msg="the Docker SDK for Python (python3-docker) is missing on this "
                             "manager; run `swarmctl provision` first")
    try:
        swarm = Swarm(module)
        if p["state"] == "check":
            nodes = swarm.nodes()
            targets = []
            for wanted in p["nodes"]:
                node = find(nodes, wanted)
                if node is None:
                    module.fail_json(msg=f"no node {wanted!r} in the swarm")
                targets.append(node["ID"])
            found = problems(nodes, set(targets))
            report = {"nodes": [summary(n) for n in nodes if n["ID"] in targets],
                      "all_nodes": [summary(n) for n in nodes], "cluster": quorum(nodes),
                      "problems": found, "state": "check"}
            if found and p["refuse"]:
                module.fail_json(msg="the swarm cannot afford maintenance now: "
                                     + "; ".join(found) + "; nothing was changed",
                                 refused=True, **report)
            module.exit_json(changed=False, **report)
        if len(p["nodes"]) != 1:
            module.fail_json(msg="state=drained and state=active take exactly one node")
        if p["state"] == "drained":
            _drain(module, swarm, p)
        _activate(module, swarm, p)
    except docker.errors.APIError as exc:
        module.fail_json(msg="the swarm refused: " + " ".join(str(exc).split())[:300])
    except docker.errors.DockerException as exc:
        module.fail_json(msg="Docker does not answer on this manager: "
                             + " ".join(str(exc).split())[:300])


if __name__ == "__main__":
    main()
