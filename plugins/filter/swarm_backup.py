"""Which manager `swarm_backup` stops for a cold backup, or why none may be stopped.

Pure logic on what the play read (docker_node_info from a manager that sees a leader,
docker_host_info of every manager of the inventory), unit-tested in
tests/unit/test_recovery_decisions.py.
"""


def _quorum(managers):
    return managers // 2 + 1


def swarm_backup_choice(nodes, managers, requested=""):
    """Choose the manager to stop for the backup.

    nodes: the node list as docker_node_info returns it (read from a manager that sees a
      leader), or None when no manager could read it.
    managers: the inventory's managers in order, each {host, node_id, state, control,
      error} from the host's `docker info` (state '' when Docker did not answer).
    requested: an inventory host the user asked for, or ''.

    Returns {host, error, managers, reachable}: host is '' and error says why when no
    manager can be stopped without losing quorum.
    """
    answered = [m for m in managers if m.get("state")]
    if nodes is None:
        if not answered:
            why = "no manager of the inventory answers (SSH or Docker)"
        else:
            errors = {m.get("error") for m in answered if m.get("error")}
            why = ("no manager sees a leader (quorum lost: run swarmctl recover first)"
                   if any("leader" in e for e in errors)
                   else "no manager of the inventory manages an active swarm "
                        "(run swarmctl provision first)")
        return {"host": "", "error": f"cannot back up: {why}", "managers": 0, "reachable": 0}
    raft = [n for n in nodes if n.get("ManagerStatus")]
    reachable = [n for n in raft if n["ManagerStatus"].get("Reachability") == "reachable"]
    total, up = len(raft), len(reachable)
    base = {"host": "", "managers": total, "reachable": up}
    if total == 1:
        return {**base, "error": (
            "cannot back up: the swarm has one manager, and stopping it for the backup stops "
            "the control plane; add two managers to swarm_managers (3 tolerate one down) "
            "and run swarmctl provision")}
    if up - 1 < _quorum(total):
        return {**base, "error": (
            f"cannot back up: {up} of {total} managers are reachable and the swarm needs "
            f"{_quorum(total)}: stopping one for the backup would lose quorum; bring the "
            "unreachable managers back, or add a manager, first")}
    by_id = {n["ID"]: n for n in raft}

    def why_not(m):
        node = by_id.get(m.get("node_id"))
        if not m.get("state"):
            return "its Docker does not answer"
        if node is None or m.get("state") != "active" or not m.get("control"):
            return "it is not a manager of this swarm"
        status = node["ManagerStatus"]
        if status.get("Leader"):
            return "it is the leader (stopping it forces an election)"
        if status.get("Reachability") != "reachable" or \
                node.get("Status", {}).get("State") != "ready":
            return "it is not a healthy manager"
        return ""

    if requested:
        match = [m for m in managers if m["host"] == requested]
        if not match:
            return {**base, "error": f"cannot back up on {requested}: it is not in "
                                     "swarm_managers"}
        reason = why_not(match[0])
        if reason:
            return {**base, "error": f"cannot back up on {requested}: {reason}"}
        return {**base, "host": requested, "error": ""}
    fit = [m["host"] for m in managers if not why_not(m)]
    if not fit:
        return {**base, "error": "cannot back up: no manager of the inventory is a healthy "
                                 "non-leader manager"}
    # The last one in inventory order: the first manager usually leads and serves the
    # other roles' reads.
    return {**base, "host": fit[-1], "error": ""}


class FilterModule:
    def filters(self):
        return {"swarm_backup_choice": swarm_backup_choice}
