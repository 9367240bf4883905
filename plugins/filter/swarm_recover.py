"""What `swarm_recover` does, decided from what the play read on the managers.

Pure logic, unit-tested in tests/unit/test_recovery_decisions.py:
- swarm_recover_plan: is quorum lost, on which survivor to force a new cluster (the one
  with the newest raft state, or the one the user named), which managers hold old
  state and must leave and rejoin, which hosts are lost (do not answer);
- swarm_recover_raft_key: how new a manager's raft state is, from its file names;
- swarm_recover_duplicates: the node entries left over by a recovery or a restore
  (a host that rejoined, or a replacement at a lost host's address) that no host uses.
"""

import os
import re

_RAFT_NAME = re.compile(r"^([0-9a-f]{16})-([0-9a-f]{16})\.(snap|wal)$")


def swarm_recover_raft_key(files):
    """(snapshot term, snapshot index, WAL seq, WAL index, newest write) of a raft folder.

    `files` are ansible.builtin.find's results for /var/lib/docker/swarm/raft: swarmkit
    names snapshots TERM-INDEX.snap and WAL segments SEQ-INDEX.wal (hex). Encrypted
    contents cannot be read without the node's key; the names and the time of the
    last write order the survivors well enough (they share one history). Empty: no state.
    """
    snap, wal, mtime = (0, 0), (0, 0), 0.0
    for f in files or []:
        m = _RAFT_NAME.match(os.path.basename(f.get("path", "")))
        mtime = max(mtime, float(f.get("mtime") or 0))
        if not m:
            continue
        pair = (int(m.group(1), 16), int(m.group(2), 16))
        if m.group(3) == "snap":
            snap = max(snap, pair)
        else:
            wal = max(wal, pair)
    return [snap[0], snap[1], wal[0], wal[1], mtime]


def _has_raft(m):
    return any(_RAFT_NAME.match(os.path.basename(f.get("path", "")))
               for f in m.get("raft_files") or [])


def _reachable_ids(nodes):
    return {n["ID"] for n in nodes or []
            if (n.get("ManagerStatus") or {}).get("Reachability") == "reachable"}


def _leader_id(nodes):
    for n in nodes or []:
        if (n.get("ManagerStatus") or {}).get("Leader"):
            return n["ID"]
    return ""


def _replacements(answered, nodes):
    """Inactive hosts at the address or hostname of a node entry that is not Ready."""
    out = []
    for m in answered:
        if m.get("state") != "inactive":
            continue
        for n in nodes or []:
            status = n.get("Status") or {}
            if status.get("State") == "ready":
                continue
            if (m.get("addr") and status.get("Addr") == m["addr"]) or \
                    (m.get("hostname") and (n.get("Description") or {}).get("Hostname")
                     == m["hostname"]):
                out.append(m["host"])
                break
    return out


def swarm_recover_plan(managers, requested=""):
    """Decide the recovery. `managers`: the inventory's managers in order, each
    {host, answered, state, control, node_id, cluster_id, node_addr, addr, hostname,
    sees_leader, nodes, error, raft_files}.

    Returns {quorum_lost, force_on, leader, addr, stale, replaced, lost, error}; error
    is set (and nothing is to be done) when recovering is refused.
    """
    plan = {"quorum_lost": False, "force_on": "", "leader": "", "addr": "", "stale": [],
            "replaced": [], "lost": [], "error": ""}
    hosts = [m["host"] for m in managers]
    if requested and requested not in hosts:
        return {**plan, "error": f"--from {requested}: not in swarm_managers"}
    answered = [m for m in managers if m.get("answered")]
    plan["lost"] = [m["host"] for m in managers if not m.get("answered")]
    leading = [m for m in answered if m.get("sees_leader")]
    if leading:
        view = leading[0]
        nodes = view.get("nodes") or []
        cluster = view.get("cluster_id", "")
        reachable = _reachable_ids(nodes)
        leader_id = _leader_id(nodes)
        leader = next((m["host"] for m in answered if m.get("node_id") == leader_id),
                      view["host"])
        stale = [m["host"] for m in answered
                 if m.get("state") not in ("inactive", "")
                 and not (m.get("state") == "active" and m.get("control")
                          and m.get("node_id") in reachable)
                 and m.get("cluster_id", "") in ("", cluster)]
        replaced = _replacements(answered, nodes)
        plan.update(leader=leader, stale=stale, replaced=replaced)
        if requested:
            return {**plan, "error": f"--from {requested}: quorum is not lost ({leader} "
                                     "leads), there is no new cluster to force"}
        if not stale and not replaced:
            return {**plan, "error": (
                f"quorum is not lost: {leader} leads and {len(reachable)} of "
                f"{sum(1 for n in nodes if n.get('ManagerStatus'))} managers are reachable; "
                "nothing to recover: run swarmctl provision instead")}
        return plan
    if not answered:
        return {**plan, "error": "no manager of the inventory answers (SSH and Docker): "
                                 "bring one back, or restore a backup with swarmctl restore"}
    locked = [m["host"] for m in answered if m.get("state") == "locked"]
    candidates = [m for m in answered
                  if m.get("state") == "active" and m.get("control") and _has_raft(m)]
    if not candidates:
        why = (f"{', '.join(locked)} locked (autolock): unlock with `docker swarm unlock` "
               "and run again" if locked else
               "none of the managers that answer holds a manager's swarm state")
        return {**plan, "error": f"cannot recover: {why}; or restore a backup with "
                                 "swarmctl restore"}
    if requested:
        match = [m for m in candidates if m["host"] == requested]
        if not match:
            return {**plan, "error": f"--from {requested}: it does not answer or holds no "
                                     "manager state of the swarm; choose one of "
                                     f"{', '.join(m['host'] for m in candidates)}"}
        chosen = match[0]
    else:
        # Newest raft state first; equal ones in inventory order.
        chosen = max(candidates,
                     key=lambda m: swarm_recover_raft_key(m.get("raft_files")))
    stale = [m["host"] for m in answered
             if m["host"] != chosen["host"] and m.get("state") not in ("inactive", "")]
    return {**plan, "quorum_lost": True, "force_on": chosen["host"], "leader": chosen["host"],
            "addr": chosen.get("node_addr") or chosen.get("addr", ""), "stale": stale}


def swarm_recover_duplicates(nodes, current_ids):
    """Node entries to remove: not Ready, not the current node of any host, and at the
    hostname or address of a current node (so that no host is listed twice).

    `current_ids`: the node IDs of the inventory's hosts as they are now.
    """
    ids = {i for i in current_ids or [] if i}
    mine = [n for n in nodes or [] if n["ID"] in ids]
    names = {(n.get("Description") or {}).get("Hostname") for n in mine} - {None, ""}
    addrs = {(n.get("Status") or {}).get("Addr") for n in mine} - {None, "", "0.0.0.0"}
    out = []
    for n in nodes or []:
        status = n.get("Status") or {}
        if n["ID"] in ids or status.get("State") == "ready":
            continue
        hostname = (n.get("Description") or {}).get("Hostname", "")
        if hostname in names or status.get("Addr") in addrs:
            out.append({"id": n["ID"], "hostname": hostname,
                        "manager": (n.get("Spec") or {}).get("Role") == "manager"})
    return out


class FilterModule:
    def filters(self):
        return {
            "swarm_recover_plan": swarm_recover_plan,
            "swarm_recover_raft_key": swarm_recover_raft_key,
            "swarm_recover_duplicates": swarm_recover_duplicates,
        }
