#!/usr/bin/python
"""Observe swarm services on a manager: snapshot before a deploy, wait for convergence after."""

DOCUMENTATION = r"""
module: swarm_services_converge
short_description: Snapshot swarm services before a deploy, wait until they converge after.
description:
  - With O(phase=snapshot), first checks that the host can deploy (Docker answers, the
    host is a manager of an active, unlocked swarm) and fails with what to do when it
    cannot; then records each service's update status, so that a later wait can tell an
    update of this run from an old one; also reports whether the kernel has IPVS (needed
    by the ingress routing mesh) and IPsec ESP with AES-GCM.
  - With O(phase=wait), polls the services until each has converged (its update
    completed and as many tasks of the current spec running as desired; one-shot
    services, restart condition none, when their tasks completed), rolled back, paused,
    or until the timeout. Fails naming each service that did not converge and why.
  - A service whose tasks of the current spec all fail for one reason no retry fixes
    (No such image, pull access denied, manifest unknown, invalid reference format,
    repository does not exist), none running, rejected on every ready node or 3 times
    per desired task, is stuck; the wait ends at once instead of at the timeout. An
    update in progress is left to swarm's update_config (it rolls back by default).
  - Runs on a swarm manager and needs the Docker SDK for Python.
options:
  phase:
    description: snapshot or wait.
    type: str
    choices: [snapshot, wait]
    required: true
  services:
    description: Names of the services to observe.
    type: list
    elements: str
    default: []
  stacks:
    description: Names of stacks whose services are observed too.
    type: list
    elements: str
    default: []
  before:
    description: The RV(snapshot) of the snapshot phase.
    type: dict
    default: {}
  timeout:
    description: Seconds to wait for convergence.
    type: int
    default: 300
  ingress_ports:
    description: Ports the declared services publish in ingress mode (snapshot phase),
      to warn about when the kernel has no IPVS.
    type: list
    elements: str
    default: []
  encrypted_networks:
    description: Declared encrypted overlay networks (snapshot phase), to warn about when
      the kernel lacks IPsec ESP with AES-GCM.
    type: list
    elements: str
    default: []
author: swarmctl developers (@swarmctl)
"""

EXAMPLES = r"""
- name: Record the services' update state before changing them.
  swarmctl.swarm.swarm_services_converge:
    phase: snapshot
    services: [my-web]
  register: before

- name: Wait until my-web has converged (or rolled back).
  swarmctl.swarm.swarm_services_converge:
    phase: wait
    services: [my-web]
    before: "{{ before.snapshot }}"
    timeout: 300
"""

RETURN = r"""
snapshot:
  description: Per live service, the update status start time (or empty), its replica
    count (null for a global service), whether it carries an autoscale policy label and
    the autoscaler's record of its last scaling (or null).
  returned: always
  type: dict
ipvs:
  description: Whether the kernel has IPVS, which the ingress routing mesh needs.
  returned: phase=snapshot
  type: bool
ipsec:
  description: Whether the kernel has ESP and AES-GCM, which encrypted overlay networks need.
  returned: phase=snapshot
  type: bool
existing:
  description: The names of the swarm's networks, secrets and configs (keys network,
    secret, config), to tell an object a deploy creates from one it updates (snapshot
    phase); names only, no secret's content is read.
  returned: phase=snapshot
  type: dict
owned:
  description: The names of the networks, secrets and configs that carry the label
    C(io.swarmctl.managed) (keys network, secret, config), set when this collection
    created them (snapshot phase).
  returned: phase=snapshot
  type: dict
undeclared:
  description: Names of the services this collection deployed (they carry the label
    C(io.swarmctl.managed)) that are neither in O(services) nor in a stack of O(stacks),
    sorted (snapshot phase). A service created by other means never carries the label.
  returned: phase=snapshot
  type: list
kernel_warnings:
  description: What the declared services and networks need that this kernel lacks
    (IPVS for ingress ports, IPsec for encrypted networks), one sentence each with the
    fix; also issued as Ansible warnings.
  returned: phase=snapshot
  type: list
manager_problem:
  description: Set when the host cannot deploy (no Docker SDK, Docker not answering, not
    a manager of an active, unlocked swarm); the message says why and what to do.
  returned: failure
  type: bool
services:
  description: Per service its state (converged, rolled_back, paused, stuck, failed, timeout),
    running and desired task counts, image, and a message.
  returned: phase=wait
  type: list
"""

import glob
import json
import os
import platform
import re
import time

from ansible.module_utils.basic import AnsibleModule

try:
    import docker
    from docker.errors import NotFound
    HAS_DOCKER = True
except ImportError:
    HAS_DOCKER = False

TERMINAL_BAD = ("failed", "rejected", "orphaned")
# Task errors that no retry can fix: the image is not on the node and cannot be pulled.
# When every task of a service's current spec ends with one of these, the wait stops
# at once instead of running into its timeout (swarm would retry forever).
HOPELESS = (
    ("No such image", re.compile(r"no such image", re.I)),
    ("pull access denied", re.compile(r"pull access denied", re.I)),
    ("manifest unknown", re.compile(r"manifest unknown|manifest for \S+ not found", re.I)),
    ("invalid reference format", re.compile(r"invalid reference format", re.I)),
    ("repository does not exist", re.compile(r"repository \S* ?does not exist", re.I)),
)
# Rejections of the current spec it takes, per desired task, to call a service stuck when
# its tasks were not yet rejected on every ready node (constraints may exclude some):
# swarm's scheduler moves a task away from a node after repeated failures there.
HOPELESS_ROUNDS = 3


def _ipvs():
    if os.path.exists("/proc/net/ip_vs") or os.path.isdir("/sys/module/ip_vs"):
        return True
    release = platform.release()
    return bool(glob.glob(f"/lib/modules/{release}/kernel/net/netfilter/ipvs/ip_vs.ko*"))


def _kernel_has(module, builtin_dir, crypto=None):
    """Whether a kernel feature is loaded, built in, or loadable as a module."""
    release = platform.release()
    if os.path.isdir(f"/sys/module/{module}"):
        return True
    if crypto is not None:
        try:
            with open("/proc/crypto") as handle:
                if crypto in handle.read():
                    return True
        except OSError:
            pass
    base = f"/lib/modules/{release}"
    if glob.glob(f"{base}/kernel/{builtin_dir}/{module}.ko*"):
        return True
    try:
        with open(f"{base}/modules.builtin") as handle:
            return f"/{module}.ko" in handle.read()
    except OSError:
        return False


def _ipsec():
    """Encrypted overlay networks need ESP and AES-GCM (rfc4106) in the kernel."""
    return _kernel_has("esp4", "net/ipv4") and _kernel_has("gcm", "crypto", "gcm(aes)")


def _image(spec):
    return spec.get("TaskTemplate", {}).get("ContainerSpec", {}).get("Image", "")


def _same_spec(task, service):
    tpl = service["Spec"].get("TaskTemplate", {})
    spec = task.get("Spec", {})
    return (json.dumps(spec.get("ContainerSpec", {}), sort_keys=True)
            == json.dumps(tpl.get("ContainerSpec", {}), sort_keys=True)
            and spec.get("ForceUpdate", 0) == tpl.get("ForceUpdate", 0))


def _short(image):
    return image.split("@", 1)[0]


def hopeless_reason(error):
    """The name of the reason a task failed if no retry can fix it, else None."""
    for name, pattern in HOPELESS:
        if pattern.search(error or ""):
            return name
    return None


def stuck(current, ready_nodes, desired):
    """Why every task of the current spec fails for one reason no retry can fix, as
    (reason, the latest error, nodes), or None. `current`: the tasks of the current spec."""
    if any(t.get("Status", {}).get("State") in ("running", "complete") for t in current):
        return None
    ended = [t for t in current if t.get("Status", {}).get("State") in TERMINAL_BAD]
    if not ended:
        return None
    reasons = {hopeless_reason(t.get("Status", {}).get("Err")) for t in ended}
    if len(reasons) != 1 or None in reasons:
        return None
    nodes = {t.get("NodeID") for t in ended if t.get("NodeID")}
    if not (ready_nodes and set(ready_nodes) <= nodes) \
            and len(ended) < HOPELESS_ROUNDS * max(desired, 1):
        return None  # swarm may still place a task on a node that has the image
    latest = max(ended, key=lambda t: t.get("Status", {}).get("Timestamp", ""))
    return reasons.pop(), latest.get("Status", {}).get("Err", ""), sorted(nodes)


class Observer:
    def __init__(self, api):
        self.api = api
        self._nodes = None

    def node_names(self):
        if self._nodes is None:
            self._nodes = {}
            for n in self.api.nodes():
                self._nodes[n["ID"]] = (n.get("Description", {}).get("Hostname", n["ID"][:12]),
                                        n.get("Status", {}).get("State", ""))
        return self._nodes

    def service(self, name):
        try:
            return self.api.inspect_service(name)
        except NotFound:
            return None

    def stack_services(self, stack):
        found = self.api.services(filters={"label": f"com.docker.stack.namespace={stack}"})
        return [s["Spec"]["Name"] for s in found]

    def status(self, name, before):
        svc = self.service(name)
        if svc is None:
            return dict(name=name, state="failed", running=0, desired=0, image="",
                        message=f"service {name} does not exist", errors=[])
        spec = svc["Spec"]
        mode = spec.get("Mode", {})
        update = svc.get("UpdateStatus") or {}
        ustate = update.get("State", "")
        fresh = update.get("StartedAt", "") != before.get("started", "")
        tasks = self.api.tasks(filters={"service": svc["ID"]})
        nodes = self.node_names()
        one_shot = (spec.get("TaskTemplate", {}).get("RestartPolicy", {}).get("Condition")
                    == "none") or "ReplicatedJob" in mode or "GlobalJob" in mode
        current = [t for t in tasks if _same_spec(t, svc)]
        live = [t for t in current if t.get("DesiredState") == "running"
                and nodes.get(t.get("NodeID"), ("", "ready"))[1] != "down"]
        running = [t for t in live if t.get("Status", {}).get("State") == "running"]
        stale = [t for t in tasks if not _same_spec(t, svc)
                 and t.get("DesiredState") == "running"
                 and t.get("Status", {}).get("State") == "running"]
        if "Replicated" in mode:
            desired = int(mode["Replicated"].get("Replicas", 1))
        elif "ReplicatedJob" in mode:
            desired = int(mode["ReplicatedJob"].get("TotalCompletions") or 1)
        else:
            desired = len(live) if live else len([n for n, s in nodes.values() if s == "ready"])
        errors, counts = [], {}
        bad = sorted((t for t in tasks if t.get("Status", {}).get("State") in TERMINAL_BAD
                      and t.get("Status", {}).get("Err")),
                     key=lambda t: t.get("Status", {}).get("Timestamp", ""), reverse=True)
        for t in bad:
            st = t.get("Status", {})
            line = "{}.{} on {} ({}): {}: {}".format(
                spec["Name"], t.get("Slot") or t.get("NodeID", "")[:12],
                nodes.get(t.get("NodeID"), ("?", ""))[0],
                _short(_image({"TaskTemplate": t.get("Spec", {})})), st.get("State"),
                st.get("Err"))
            if line not in counts:
                errors.append(line)
            counts[line] = counts.get(line, 0) + 1
        errors = [e + (f" ({counts[e]} times)" if counts[e] > 1 else "") for e in errors[:5]]
        kind = {"Replicated": "replicated", "Global": "global", "ReplicatedJob": "replicated-job",
                "GlobalJob": "global-job"}.get(next(iter(mode), ""), "")
        if one_shot and "Job" not in next(iter(mode), ""):
            kind += " one-shot"
        out = dict(name=name, mode=kind, running=len(running), desired=desired,
                   image=_short(_image(spec)),
                   update_state=ustate, message=update.get("Message", ""), errors=errors,
                   one_shot=one_shot)
        settled = len(running) >= desired and len(live) == len(running) and not stale
        if fresh and ustate == "rollback_completed":
            failed = [_short(_image({"TaskTemplate": t.get("Spec", {})})) for t in bad
                      if not _same_spec(t, svc)]
            prev = failed[0] if failed else _short(_image(svc.get("PreviousSpec", {}) or {}))
            # Rolled back: final once the previous version runs everywhere again.
            out.update(state="rolled_back" if settled or one_shot else "rolling_back",
                       failed_image=prev if prev != out["image"] else "")
            return out
        if ustate in ("paused", "rollback_paused") and (fresh or ustate == "paused"):
            out.update(state="paused")
            return out
        if ustate in ("updating", "rollback_started"):
            out.update(state="updating")  # swarm's update_config decides (rollback)
            return out
        ready = [i for i, (_name, state) in nodes.items() if state == "ready"]
        hopeless = None if settled else stuck(current, ready, desired)
        if hopeless:
            reason, error, on = hopeless
            out.update(state="stuck", reason=reason, error=error, stale=len(stale),
                       nodes=[nodes.get(i, (i[:12], ""))[0] for i in on])
            return out
        if one_shot:
            done = [t for t in current if t.get("Status", {}).get("State") == "complete"]
            failed = [t for t in current if t.get("Status", {}).get("State") in TERMINAL_BAD]
            out["running"] = len(done)
            if failed and not live:
                out.update(state="failed")
            elif len(done) >= desired or (not live and done):
                out.update(state="converged")
            else:
                out.update(state="waiting")
            return out
        if settled:
            out.update(state="converged")
        else:
            out.update(state="waiting")
        return out


def _no_answer(exc):
    detail = " ".join(str(exc).split())[:160]
    return (f"Docker does not answer on this host ({detail}); start it "
            "(systemctl start docker) or run `swarmctl provision` first")


AUTOSCALE_LABEL = "io.swarmctl.autoscale"
AUTOSCALE_LAST_LABEL = "io.swarmctl.autoscale.last"
MANAGED_LABEL = "io.swarmctl.managed"
STACK_LABEL = "com.docker.stack.namespace"


def undeclared(services, declared):
    """The names of the live services that carry the ownership label and are not in
    `declared`, sorted; a stack's services belong to the stack (never listed)."""
    out = []
    for svc in services:
        spec = svc.get("Spec") or {}
        labels = spec.get("Labels") or {}
        name = spec.get("Name", "")
        if labels.get(MANAGED_LABEL) == "true" and STACK_LABEL not in labels \
                and name not in declared:
            out.append(name)
    return sorted(out)


def snapshot_entry(svc):
    """What a deploy needs to know of a live service: its update's start (to tell this
    run's update from an old one), and for autoscaling its replica count, whether it
    carries a policy and the controller's record of its last scaling (kept by deploy)."""
    spec = svc.get("Spec") or {}
    labels = spec.get("Labels") or {}
    replicated = (spec.get("Mode") or {}).get("Replicated")
    return dict(started=(svc.get("UpdateStatus") or {}).get("StartedAt", ""),
                replicas=replicated.get("Replicas", 0) if replicated is not None else None,
                autoscaled=AUTOSCALE_LABEL in labels,
                autoscale_last=labels.get(AUTOSCALE_LAST_LABEL))


def manager_problem(api):
    """Why this host cannot deploy (one line with the fix), or None."""
    try:
        swarm = api.info().get("Swarm") or {}
    except Exception as exc:  # the daemon is down or its socket is missing
        return _no_answer(exc)
    state = swarm.get("LocalNodeState") or "inactive"
    if state == "locked":
        return ("the swarm is locked on this manager (autolock, after a restart of Docker); "
                "unlock it with `docker swarm unlock` and the unlock key, then deploy again")
    if state != "active":
        return (f"this host is not in a swarm (its swarm state is {state}); build the swarm "
                "with `swarmctl provision` first")
    if not swarm.get("ControlAvailable"):
        return ("this host is a swarm worker, not a manager; services are deployed from a "
                "manager: list this host under swarm_managers only if it is one")
    return None


def kernel_warnings(host, ipvs, ipsec, ingress_ports, encrypted_networks):
    """What the declared services need that this kernel lacks, with the fix."""
    out = []
    if not ipvs and ingress_ports:
        out.append(f"the kernel of {host} has no IPVS (no /proc/net/ip_vs, no ip_vs module), "
                   f"so ports published in ingress mode ({', '.join(ingress_ports)}) will not "
                   "answer; publish them with mode: host, or enable IPVS in the kernel "
                   "(CONFIG_IP_VS, modprobe ip_vs)")
    if not ipsec and encrypted_networks:
        out.append(f"the kernel of {host} lacks IPsec ESP with AES-GCM (esp4, gcm), so the "
                   f"encrypted networks {', '.join(encrypted_networks)} will drop traffic "
                   "between nodes (tasks on the same node still talk); set encrypted: false, "
                   "or use a kernel with CONFIG_INET_ESP and CONFIG_CRYPTO_GCM")
    return out


def main():
    module = AnsibleModule(
        argument_spec=dict(
            phase=dict(type="str", required=True, choices=["snapshot", "wait"]),
            services=dict(type="list", elements="str", default=[]),
            stacks=dict(type="list", elements="str", default=[]),
            before=dict(type="dict", default={}),
            timeout=dict(type="int", default=300),
            ingress_ports=dict(type="list", elements="str", default=[]),
            encrypted_networks=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    if not HAS_DOCKER:
        module.fail_json(msg="the Docker SDK for Python (python3-docker) is missing on this "
                             "host; run `swarmctl provision` first, it installs Docker and "
                             "the SDK", manager_problem=True)
    try:  # version="auto" asks the daemon already
        api = docker.APIClient(base_url="unix://var/run/docker.sock", version="auto")
    except Exception as exc:
        module.fail_json(msg=_no_answer(exc), manager_problem=True)
    obs = Observer(api)
    p = module.params
    names = list(p["services"])

    def all_names():
        out = list(names)
        for stack in p["stacks"]:
            out.extend(n for n in obs.stack_services(stack) if n not in out)
        return out

    if p["phase"] == "snapshot":
        problem = manager_problem(api)
        if problem:
            module.fail_json(msg=problem, manager_problem=True)
        snap = {}
        declared = all_names()
        for name in declared:
            svc = obs.service(name)
            if svc is not None:
                snap[name] = snapshot_entry(svc)
        owned = undeclared(api.services(filters={"label": MANAGED_LABEL}), set(declared))
        objects = dict(network=[(n.get("Name", ""), n.get("Labels") or {})
                                for n in api.networks()],
                       secret=[(x["Spec"]["Name"], x["Spec"].get("Labels") or {})
                               for x in api.secrets()],
                       config=[(x["Spec"]["Name"], x["Spec"].get("Labels") or {})
                               for x in api.configs()])
        existing = {kind: sorted(pair[0] for pair in found) for kind, found in objects.items()}
        owned_objects = {kind: sorted(n for n, labels in found
                                      if labels.get(MANAGED_LABEL) == "true")
                         for kind, found in objects.items()}
        ipvs, ipsec = _ipvs(), _ipsec()
        warnings = kernel_warnings(platform.node(), ipvs, ipsec, p["ingress_ports"],
                                   p["encrypted_networks"])
        for warning in warnings:
            module.warn(warning)
        module.exit_json(changed=False, snapshot=snap, ipvs=ipvs, ipsec=ipsec,
                         kernel_warnings=warnings, undeclared=owned, existing=existing,
                         owned=owned_objects)
    if module.check_mode:
        module.exit_json(changed=False, services=[], skipped=True)

    deadline = time.time() + p["timeout"]
    final = ("converged", "rolled_back", "paused", "stuck")
    while True:
        obs._nodes = None
        results = [obs.status(n, p["before"].get(n, {})) for n in all_names()]
        if all(r["state"] in final for r in results) or time.time() >= deadline:
            break
        if any(r["state"] == "failed" and r.get("one_shot") for r in results) and all(
                r["state"] in (*final, "failed") for r in results):
            break
        time.sleep(2)
    problems = []
    for r in results:
        if r["state"] == "converged":
            continue
        if r["state"] == "rolled_back":
            problems.append("service {}: the update{} failed and swarm rolled it back to "
                            "the previous version ({}), which keeps serving ({})".format(
                                r["name"],
                                " to {}".format(r["failed_image"]) if r.get("failed_image") else "",
                                r["image"], r["message"] or "no message"))
        elif r["state"] == "paused":
            problems.append("service {}: the update is paused ({})".format(r["name"], r["message"]))
        elif r["state"] == "stuck":
            problems.append("service {}: every task of image {} was rejected on {} with "
                            "'{}', which retrying cannot fix{}".format(
                                r["name"], r["image"], ", ".join(r["nodes"]),
                                " ".join(str(r["error"]).split()),
                                "; the previous version keeps its {} running task(s)".format(
                                    r["stale"]) if r.get("stale") else ""))
            continue  # the failed tasks all say the same
        else:
            if r["state"] in ("waiting", "updating", "rolling_back"):
                r["state"] = "timeout"
            problems.append("service {}: {}/{} tasks {} after {}s".format(
                r["name"], r["running"], r["desired"],
                "complete" if r.get("one_shot") else "running", p["timeout"]))
        if r["errors"]:
            problems[-1] += "; failed tasks: " + "; ".join(r["errors"][:3])
    if problems:
        module.fail_json(msg=" | ".join(problems), services=results)
    module.exit_json(changed=False, services=results)


if __name__ == "__main__":
    main()
