"""Turn a declared service (the spec's keys) into docker_swarm_service options.

Only options that are set are returned, so that the module (and old Docker SDKs such as
Debian bookworm's python3-docker 5.0.3) sees no option the user did not ask for.
"""


def _env_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _refs(refs, key):
    out = []
    for ref in refs or []:
        if isinstance(ref, str):
            ref = {"name": ref}
        item = {key: ref["name"]}
        if ref.get("target"):
            item["filename"] = ref["target"]
        for opt in ("uid", "gid", "mode"):
            if ref.get(opt) is not None:
                item[opt] = ref[opt]
        out.append(item)
    return out


def _drop_none(mapping):
    return {k: v for k, v in (mapping or {}).items() if v is not None}


def swarm_services_module_args(svc, default_failure_action="rollback"):
    """The docker_swarm_service options for one declared service."""
    mode = svc.get("mode") or "replicated"
    args = {"name": svc["name"], "image": svc["image"], "mode": mode}
    if mode == "replicated":
        replicas = svc.get("replicas")
        args["replicas"] = 1 if replicas is None else int(replicas)
    for key in ("command", "args", "labels", "container_labels", "endpoint_mode", "user",
                "working_dir", "hostname", "stop_grace_period", "stop_signal"):
        if svc.get(key) not in (None, {}, []):
            args[key] = svc[key]
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
        args["secrets"] = _refs(svc["secrets"], "secret_name")
    if svc.get("configs"):
        args["configs"] = _refs(svc["configs"], "config_name")
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


class FilterModule:
    def filters(self):
        return {
            "swarm_services_module_args": swarm_services_module_args,
            "swarm_services_managed": swarm_services_managed,
        }
