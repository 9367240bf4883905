"""Turn a declared service (the spec's keys) into docker_swarm_service options.

Only options that are set are returned, so that the module (and old Docker SDKs such as
Debian bookworm's python3-docker 5.0.3) sees no option the user did not ask for.

A service with `autoscale` carries its policy as a label that the autoscaler reads; its
replica count belongs to the autoscaler once the service exists (the spec's `replicas`
is the starting point), so a deploy keeps the live count within min..max and keeps the
autoscaler's record of its last scaling.
"""

import hashlib
import json
import os
import re

AUTOSCALE_LABEL = "io.swarmctl.autoscale"
AUTOSCALE_LAST_LABEL = "io.swarmctl.autoscale.last"
# Every service deployed from a spec carries it: `deploy --prune` removes only services
# with it that the spec no longer declares (never one swarmctl did not create).
MANAGED_LABEL = "io.swarmctl.managed"
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _env_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _refs(refs, key, versions=None):
    """Mounts of secrets or configs; a versioned one (`versions`: declared name → swarm
    name) is mounted under its declared name unless the reference names a target."""
    out = []
    for ref in refs or []:
        if isinstance(ref, str):
            ref = {"name": ref}
        versioned = (versions or {}).get(ref["name"])
        item = {key: versioned or ref["name"]}
        if ref.get("target"):
            item["filename"] = ref["target"]
        elif versioned:
            item["filename"] = ref["name"]
        for opt in ("uid", "gid", "mode"):
            if ref.get(opt) is not None:
                item[opt] = ref[opt]
        out.append(item)
    return out


def _drop_none(mapping):
    return {k: v for k, v in (mapping or {}).items() if v is not None}


def seconds(value):
    """A Go duration (10s, 1m30s) or a number of seconds, as seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value)
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{value!r} is not a duration")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def _percent(value):
    if value is None:
        return None
    return float(str(value).strip().rstrip("%"))


def autoscale_policy(auto):
    """The policy label's value: canonical JSON, so that an unchanged policy is an
    unchanged label."""
    def window(key, default):
        given = auto.get(key) or {}
        return {"window": seconds(given.get("window", default)),
                "step": None if given.get("step") is None else int(given["step"])}
    policy = {"min": int(auto["min"]), "max": int(auto["max"]),
              "cpu": _percent(auto.get("cpu")), "memory": _percent(auto.get("memory")),
              "scale_up": window("scale_up", 0), "scale_down": window("scale_down", "5m"),
              "cooldown": seconds(auto.get("cooldown", "30s"))}
    return json.dumps(policy, sort_keys=True, separators=(",", ":"))


def _replicas(svc, live):
    """The replica count to declare: the spec's, or for an autoscaled service the live
    count (the autoscaler's) kept within min..max; the spec's count or min at creation."""
    replicas = svc.get("replicas")
    auto = svc.get("autoscale")
    if not auto:
        return 1 if replicas is None else int(replicas)
    low, high = int(auto["min"]), int(auto["max"])
    if live and live.get("replicas") is not None:
        replicas = live["replicas"]
    elif replicas is None:
        replicas = low
    return max(low, min(high, int(replicas)))


def swarm_services_module_args(svc, default_failure_action="rollback", live=None,
                               versions=None):
    """The docker_swarm_service options for one declared service; `live` is the
    service's entry in swarm_services_converge's snapshot (None when it does not exist);
    `versions`: {"secret": {name: swarm name}, "config": {...}} of the versioned ones."""
    versions = versions or {}
    mode = svc.get("mode") or "replicated"
    args = {"name": svc["name"], "image": svc["image"], "mode": mode}
    if mode == "replicated":
        args["replicas"] = _replicas(svc, live)
    for key in ("command", "args", "labels", "container_labels", "endpoint_mode", "user",
                "working_dir", "hostname", "stop_grace_period", "stop_signal"):
        if svc.get(key) not in (None, {}, []):
            args[key] = svc[key]
    labels = dict(svc.get("labels") or {})
    labels[MANAGED_LABEL] = "true"
    if svc.get("autoscale"):
        labels[AUTOSCALE_LABEL] = autoscale_policy(svc["autoscale"])
        if live and live.get("autoscale_last"):
            labels[AUTOSCALE_LAST_LABEL] = live["autoscale_last"]
    # (a policy dropped from the spec: its labels go, as labels are set whole)
    args["labels"] = labels
    if svc.get("env"):
        args["env"] = {str(k): _env_value(v) for k, v in svc["env"].items()}
    if svc.get("publish"):
        args["publish"] = [{
            "published_port": int(p["published"]),
            "target_port": int(p["target"]),
            "protocol": p.get("protocol") or "tcp",
            "mode": p.get("mode") or "ingress",
        } for p in svc["publish"]]
    if svc.get("networks"):
        args["networks"] = list(svc["networks"])
    placement = {}
    if svc.get("constraints"):
        placement["constraints"] = list(svc["constraints"])
    if svc.get("preferences"):
        placement["preferences"] = list(svc["preferences"])
    if svc.get("max_replicas_per_node"):
        placement["replicas_max_per_node"] = int(svc["max_replicas_per_node"])
    if placement:
        args["placement"] = placement
    resources = svc.get("resources") or {}
    for key in ("limits", "reservations"):
        if _drop_none(resources.get(key)):
            args[key] = _drop_none(resources[key])
    if svc.get("healthcheck"):
        args["healthcheck"] = _drop_none(svc["healthcheck"])
    if svc.get("secrets"):
        args["secrets"] = _refs(svc["secrets"], "secret_name", versions.get("secret"))
    if svc.get("configs"):
        args["configs"] = _refs(svc["configs"], "config_name", versions.get("config"))
    if svc.get("restart_policy"):
        args["restart_config"] = _drop_none(svc["restart_policy"])
    update = _drop_none(svc.get("update_config"))
    update.setdefault("failure_action", default_failure_action)
    args["update_config"] = update
    if _drop_none(svc.get("rollback_config")):
        args["rollback_config"] = _drop_none(svc["rollback_config"])
    return args


def swarm_services_managed(items):
    """The declared items this role creates: all but those marked external."""
    return [i for i in items or [] if not i.get("external")]


_DIGEST_CHARS = 10


def swarm_services_versions(items, files_dir=""):
    """{declared name: swarm name} of the declared secrets or configs with
    `versioned: true`: the name and a digest of the content (name-0123456789), so that a
    change of the content is a new object that the services roll to. The content is read
    here, on the controller, from `file` (relative to `files_dir`) or `value`; only the
    digest leaves (docker_secret keeps a hash of the content in a label already)."""
    out = {}
    for item in swarm_services_managed(items):
        if not item.get("versioned"):
            continue
        if item.get("file") not in (None, ""):
            path = item["file"] if os.path.isabs(item["file"]) \
                else os.path.join(files_dir or "", item["file"])
            with open(path, "rb") as handle:
                data = handle.read()
        else:
            data = str(item.get("value", "")).encode()
        out[item["name"]] = f"{item['name']}-{hashlib.sha256(data).hexdigest()[:_DIGEST_CHARS]}"
    return out


def swarm_services_old_versions(versions, existing):
    """The swarm names of earlier versions of the versioned items (`existing`: the
    swarm's names before the run), which the deploy removes once unused."""
    out = []
    for name, current in sorted((versions or {}).items()):
        pattern = re.compile(re.escape(name) + "-[0-9a-f]{" + str(_DIGEST_CHARS) + "}$")
        out.extend(n for n in sorted(existing or []) if pattern.match(n) and n != current)
    return out


def swarm_services_object_labels(item, kind, before=None, versions=None):
    """The labels to give a declared network, secret or config: its own, the name it is
    a version of, and the ownership label when this run creates it or it has the label
    already. An object's labels cannot change without re-creating it, which fails for
    one in use, so one that exists without the label stays without it (and is never
    pruned). None when there are none: the module then leaves the labels alone."""
    before = before or {}
    name = ((versions or {}).get(kind) or {}).get(item["name"], item["name"])
    labels = dict(item.get("labels") or {})
    if name != item["name"]:
        labels["io.swarmctl.version-of"] = item["name"]
    existing = (before.get("existing") or {}).get(kind) or []
    owned = (before.get("owned") or {}).get(kind) or []
    if name not in existing or name in owned:
        labels[MANAGED_LABEL] = "true"
    return labels or None


def swarm_services_undeclared_objects(before, networks, secrets, configs, versions=None):
    """{kind: names} of the networks, secrets and configs with the ownership label that
    the spec no longer declares (earlier versions of a versioned one are not listed:
    they go as soon as the services moved on)."""
    before = before or {}
    owned = before.get("owned") or {}
    versions = versions or {}
    out = {}
    for kind, items in (("network", networks), ("secret", secrets), ("config", configs)):
        declared = {((versions.get(kind) or {}).get(i["name"], i["name"])) for i in items or []}
        earlier = set(swarm_services_old_versions(versions.get(kind), owned.get(kind)))
        out[kind] = [n for n in owned.get(kind) or [] if n not in declared and n not in earlier]
    return out


def swarm_services_autoscaled(services):
    """The names of the declared services with an autoscale policy."""
    return [s["name"] for s in services or [] if s.get("autoscale")]


# --------------------------------------------------------------------------- changes

# (kind shown, key of the registered results): the order a deploy makes them in
_REGISTERED = (("network", "networks"), ("secret", "secrets"), ("config", "configs"),
               ("service", "services"), ("service", "autoscaler"), ("service", "prune"),
               ("network", "prune_networks"), ("secret", "prune_secrets"),
               ("config", "prune_configs"), ("secret", "old_secrets"),
               ("config", "old_configs"))
_REMOVALS = ("prune", "prune_networks", "prune_secrets", "prune_configs", "old_secrets",
             "old_configs")
_SERVICE_ACTIONS = {"Service created": "create", "Service updated": "update",
                    "Service forcefully updated": "update", "Service rebuilt": "re-create",
                    "Service removed": "remove"}


def _item_name(result):
    # a versioned secret or config: its swarm name, which the module returns
    for key in ("secret_name", "config_name"):
        if result.get(key):
            return str(result[key])
    item = result.get("item")
    if isinstance(item, dict):
        return str(item.get("name", ""))
    if isinstance(item, str):
        return item
    return str(result.get("swarmctl_name", ""))


def swarm_services_changes(registered, before=None, deferred=None):
    """What a deploy changed, or in check mode would change, by name and never by value:
    a list of {kind, name, action (create, update, re-create, remove), fields}.

    `registered`: the role's registered results per key of _REGISTERED (a loop's result,
    or a list of single results that carry `swarmctl_name`, and `swarmctl_kind` when it
    is not the key's kind); `before`: the snapshot
    phase's result (which networks, secrets and configs existed); `deferred`: names of
    services that a check-mode run could not ask docker_swarm_service about, because they
    use a network, secret or config that this run creates (the module would look it up):
    such a service is created, or updated to use the new object."""
    before = before or {}
    live = before.get("snapshot") or {}
    existing = before.get("existing") or {}
    out = []
    for default_kind, key in _REGISTERED:
        reg = (registered or {}).get(key)
        if not reg:
            continue
        items = reg if isinstance(reg, list) else reg.get("results", [reg])
        for r in items:
            if not isinstance(r, dict) or not r.get("changed") or r.get("skipped"):
                continue
            name = _item_name(r)
            kind = r.get("swarmctl_kind") or default_kind
            if key in _REMOVALS:
                action, fields = "remove", []
            elif kind == "service":
                action = _SERVICE_ACTIONS.get(str(r.get("msg", "")), "update")
                fields = sorted(str(f) for f in r.get("changes") or []) \
                    if action in ("update", "re-create") else []
            elif name in (existing.get(kind) or []):
                action, fields = "update", ["data"] if kind in ("secret", "config") else []
            else:
                action, fields = "create", []
            out.append(dict(kind=kind, name=name, action=action, fields=fields))
    for name in deferred or []:
        out.append(dict(kind="service", name=name,
                        action="update" if name in live else "create",
                        fields=["uses an object this run creates"] if name in live else []))
    return out


def swarm_services_deferred(services, before, check_mode, versions=None):
    """In check mode, the declared services that use a network, secret or config that
    does not exist yet (docker_swarm_service would fail looking it up); else none.
    `versions`: as for swarm_services_module_args (the swarm names are looked up)."""
    if not check_mode:
        return []
    versions = versions or {}
    existing = (before or {}).get("existing") or {}
    out = []
    for svc in services or []:
        needs = {kind: [r if isinstance(r, str) else r.get("name")
                        for r in svc.get(kind + "s") or []]
                 for kind in ("network", "secret", "config")}
        if any((versions.get(kind) or {}).get(n, n) not in (existing.get(kind) or [])
               for kind, names in needs.items() for n in names):
            out.append(svc["name"])
    return out


class FilterModule:
    def filters(self):
        return {
            "swarm_services_module_args": swarm_services_module_args,
            "swarm_services_managed": swarm_services_managed,
            "swarm_services_changes": swarm_services_changes,
            "swarm_services_deferred": swarm_services_deferred,
            "swarm_services_versions": swarm_services_versions,
            "swarm_services_old_versions": swarm_services_old_versions,
            "swarm_services_object_labels": swarm_services_object_labels,
            "swarm_services_undeclared_objects": swarm_services_undeclared_objects,
            "swarm_services_autoscaled": swarm_services_autoscaled,
            "swarm_services_seconds": seconds,
        }
