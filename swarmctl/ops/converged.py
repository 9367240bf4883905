"""A converged re-run is one read: whether `provision` can skip the playbook.

Each host's digest (`digests`) sums up what the inventory declares for it: its
variables as resolved (facts of a fact cache left out), every member of the inventory
with its group and address, and the code a run executes (the collection's files,
ansible-core's and the collections' versions). After a run that converged every host,
`write_stamps` writes each host's stamp over SSH: the digest and the host's fingerprint
at that moment (module_utils/swarm_stamp.py: daemon.json, engine version, swarm node
and state, and on a manager the swarm's cluster spec). Any other run of site.yml (plain
`ansible-playbook`, `--limit`) removes the stamps in its last play. A run that stops
midway leaves the stamp of the last run that finished: with the inventory changed
since, the digest differs; what a half-done run changed in the fingerprint is seen too.

The observation pass (swarmctl.ops.observe) reads each stamp and the fingerprint again.
`decide` (pure logic) then says whether the playbook can be skipped: every host's stamp
holds the digest of this run and its fingerprint is the one read now, the membership
plan has nothing to do, every node is Ready and every manager Reachable with one
Leader, the unlock key file is on this machine, no variable is a template that reads
outside the inventory, the inventory declares no services (their live state is not in
the fingerprint) and no other run holds the lock. Otherwise it says, in one line, why
every task runs. What the fingerprint does not cover (a package removed by hand, a
sysctl edited) is what `provision --full` is for.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from swarmctl import __version__, paths
from swarmctl.models.inventory import Inventory
from swarmctl.ops.observe import Observation
from swarmctl.ops.plan import Plan

# The collection's folders whose files make the digest (what a run would execute).
_CODE = ("playbooks", "roles", "plugins", "meta")

# Inventory variables that declare services (roles/swarm_services): with any of them
# set, a re-run converges services whose live state no stamp records.
SERVICE_VARS = (
    "swarm_services_networks",
    "swarm_services_secrets",
    "swarm_services_configs",
    "swarm_services_services",
    "swarm_services_stacks",
    "swarm_services_spec_file",
)


# Ansible variables a host's inventory may set that start with `ansible_`; other
# `ansible_*` names are facts (a fact cache puts them among the host's variables, and
# they change from run to run) and stay out of the digest.
_ANSIBLE_SET = re.compile(r"ansible_(host|port|user|connection|password|become\w*|ssh\w*|"
                          r"private_key_file|python_interpreter|shell\w*|timeout|"
                          r"pipelining|remote_tmp|sftp\w*|scp\w*)$")
# A template that reads what lies outside the inventory (a file, a command, the time):
# its value can change while the text of the inventory does not.
_READS_OUTSIDE = re.compile(r"(\{\{|\{%)[^}]*\b(lookup|query|q|now)\s*\(")


def _declared(name: str) -> bool:
    return not name.startswith("ansible_") or bool(_ANSIBLE_SET.match(name))


def _canon(value: Any) -> Any:
    """Plain, order-free JSON data of a variable (keys as strings, sorted)."""
    if isinstance(value, dict):
        return [[str(k), _canon(v)] for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))]
    if isinstance(value, list | tuple):
        return [_canon(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


def _versions() -> list[bytes]:
    """swarmctl's and ansible-core's versions, and the manifests of the collections the
    roles use."""
    from importlib.util import find_spec

    found = [__version__.encode()]
    try:
        from ansible.release import __version__ as core
    except ImportError:
        core = ""
    found.append(core.encode())
    spec = find_spec("ansible_collections")
    for where in (spec.submodule_search_locations or []) if spec else []:
        for name in ("community/docker", "ansible/utils", "community/general"):
            manifest = Path(where) / name / "MANIFEST.json"
            if manifest.is_file():
                found.append(manifest.read_bytes())
    return found


@cache
def code_digest() -> str:
    """SHA-256 of swarmctl's, ansible-core's and the used collections' versions, and of
    every file a run executes or reads (path and bytes)."""
    root = paths.ansible_dir()
    h = hashlib.sha256()
    parts = _versions()
    for single in ("ansible.cfg", "galaxy.yml"):
        if (root / single).is_file():
            parts += [single.encode(), (root / single).read_bytes()]
    for top in _CODE:
        for path in sorted((root / top).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                parts += [str(path.relative_to(root)).encode(), path.read_bytes()]
    for part in parts:
        h.update(part)
        h.update(b"\0")
    return h.hexdigest()


def digests(inv: Inventory, code: str | None = None) -> dict[str, str]:
    """Each host's digest of what the inventory declares for it, with `code`."""
    members = [[h.name, h.role, h.address] for h in inv.hosts]
    shared = {"code": code if code is not None else code_digest(), "members": members}
    found = {}
    for host in inv.hosts:
        mine = {k: v for k, v in host.vars.items() if _declared(str(k))}
        data = {"shared": shared, "name": host.name, "role": host.role,
                "vars": _canon(mine)}
        found[host.name] = hashlib.sha256(
            json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return found


@dataclass(frozen=True)
class Verdict:
    skip: bool  # the playbook would change nothing: skip it
    reason: str  # why every task runs ("" when skipped)


_FIELDS = {"daemon_json": "daemon.json differs", "engine": "engine version differs",
           "node_id": "swarm node differs", "state": "swarm state differs",
           "manager": "swarm role differs", "cluster_spec": "swarm settings differ"}


def decide(inv: Inventory, obs: Observation, the_plan: Plan,
           wanted: dict[str, str]) -> Verdict:
    """Whether a run with the digests `wanted` can be skipped, from one observation."""
    if the_plan.refusals:
        return Verdict(False, the_plan.refusals[0].message)
    if the_plan.actions or the_plan.removals:
        return Verdict(False, "the plan has changes")
    declared = [v for h in inv.hosts for v in SERVICE_VARS if h.vars.get(v)]
    if declared:
        return Verdict(False, f"the inventory declares services ({declared[0]}): a re-run "
                              "converges them")
    outside = [(h.name, k) for h in inv.hosts for k, v in h.vars.items()
               if _declared(str(k)) and _READS_OUTSIDE.search(json.dumps(_canon(v)))]
    if outside:
        return Verdict(False, f"{outside[0][1]} of {outside[0][0]} is a template that reads "
                              "outside the inventory")
    missing = _missing_key_file(inv)
    if missing:
        return Verdict(False, f"the unlock key file {missing} is not on this machine "
                              "(a run writes it)")
    unhealthy = _unhealthy(inv, obs)
    if unhealthy:
        return Verdict(False, unhealthy)
    for host in inv.hosts:
        seen = obs.hosts.get(host.name)
        if seen is None or not seen.reachable:
            return Verdict(False, f"{host.name} could not be read")
        if seen.locked_by_run:
            return Verdict(False, "another swarmctl run holds the swarm's lock")
        stamp = seen.stamp
        if not isinstance(stamp, dict):
            return Verdict(False, f"{host.name} holds no stamp of a converged run")
        if stamp.get("digest") != wanted.get(host.name):
            return Verdict(False, f"{host.name}'s inventory variables, the inventory's "
                                  "members or swarmctl's roles differ from its last "
                                  "converged run")
        before = stamp.get("fingerprint") or {}
        now = seen.fingerprint or {}
        if not now:
            return Verdict(False, f"{host.name}'s Docker does not answer")
        for key in sorted(set(before) | set(now), key=lambda k: (k not in _FIELDS, k)):
            if before.get(key) != now.get(key):
                what = _FIELDS.get(key, f"{key} differs")
                return Verdict(False, f"{host.name}'s {what} from its last converged run")
    return Verdict(True, "")


def _missing_key_file(inv: Inventory) -> str:
    """The unlock key file swarm_security keeps on the controller under autolock, when
    it is not there (a full run writes it; found as the role finds it)."""
    for host in inv.managers:
        autolock = host.vars.get("swarm_autolock")
        if str(autolock).lower() not in ("true", "yes", "1", "on"):
            continue
        name = str(host.vars.get("swarm_unlock_key_file") or "")
        if not name:
            continue
        path = Path(name).expanduser()
        if not path.is_absolute():
            base = inv.path if inv.path.is_dir() else inv.path.parent
            path = base / name
        if not path.is_file():
            return str(path)
    return ""


def _unhealthy(inv: Inventory, obs: Observation) -> str:
    """What swarm_verify would fail on, from the node list read: an inventory host whose
    node is not Ready, a manager not Reachable, not exactly one Leader."""
    nodes = {n.get("ID"): n for n in obs.nodes or []}
    leaders = 0
    for host in inv.hosts:
        seen = obs.hosts.get(host.name)
        node = nodes.get(seen.node_id if seen else "")
        if node is None:
            return f"{host.name} is not in the node list read"
        if (node.get("Status") or {}).get("State") != "ready":
            return f"{host.name} is not Ready in the swarm"
        manager = node.get("ManagerStatus") or {}
        if host.role == "manager" and manager.get("Reachability") != "reachable":
            return f"{host.name} is not a Reachable manager"
        leaders += bool(manager.get("Leader"))
    return "" if leaders == 1 else f"{leaders} of the inventory's managers are Leader"


# Runs on each host after swarm_stamp.py's functions: write the stamp with the digest
# given as its argument and the fingerprint read now (none when the engine does not
# answer: the stamp is removed then).
_WRITE = r"""
import os, sys
found = fingerprint(docker_info())
if found:
    write_stamp({"digest": sys.argv[1], "fingerprint": found})
elif os.path.exists(STAMP_PATH):
    os.remove(STAMP_PATH)
print("written" if found else "engine does not answer")
"""


def write_script() -> str:
    """swarm_stamp.py's functions, then _WRITE (the digest is its one argument)."""
    from swarmctl.ops import observe

    return observe.script().split(observe.BODY_MARK, 1)[0] + _WRITE


def write_stamps(inv: Inventory, wanted: dict[str, str]) -> list[str]:
    """After a run that converged every host: each host's stamp, written over SSH in
    parallel (one round trip per host, no Ansible task). The hosts it could not stamp,
    each with why (they run every task next time)."""
    from concurrent.futures import ThreadPoolExecutor

    from swarmctl.ops import remote

    script = write_script()

    def one(host) -> str:
        proc = remote.run(host, ["python3", "-c", script, wanted[host.name]], timeout=60)
        said = proc.stdout.decode(errors="replace").strip().splitlines()
        if proc.returncode != 0 or not said or said[-1] != "written":
            why = said[-1] if proc.returncode == 0 and said else remote.error_text(proc)
            return f"{host.name}: {why}"
        return ""

    hosts = [h for h in inv.hosts if h.name in wanted]
    if not hosts:
        return []
    with ThreadPoolExecutor(max_workers=min(len(hosts), 50)) as pool:
        return [why for why in pool.map(one, hosts) if why]
