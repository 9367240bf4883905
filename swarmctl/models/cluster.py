"""The swarm as Docker reports it: nodes, services and their counts, mapped from the
Engine API's objects (pure data, no I/O)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from swarmctl.autoscaler import policy as autoscale_policy


@dataclass(frozen=True)
class Node:
    """One swarm node as `docker node ls` shows it."""

    id: str
    hostname: str
    role: str
    status: str
    availability: str
    manager_status: str
    engine: str
    address: str
    labels: dict[str, str]

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> Node:
        spec = raw.get("Spec", {})
        manager = raw.get("ManagerStatus") or {}
        if manager.get("Leader"):
            mstatus = "Leader"
        else:
            mstatus = str(manager.get("Reachability", "")).capitalize()
        desc = raw.get("Description", {})
        return cls(
            id=raw.get("ID", ""),
            hostname=desc.get("Hostname", ""),
            role=spec.get("Role", ""),
            status=str(raw.get("Status", {}).get("State", "")).capitalize(),
            availability=str(spec.get("Availability", "")).capitalize(),
            manager_status=mstatus,
            engine=desc.get("Engine", {}).get("EngineVersion", ""),
            address=raw.get("Status", {}).get("Addr", ""),
            labels=dict(spec.get("Labels") or {}),
        )


def counts(raw: dict[str, Any], tasks: list[dict[str, Any]], down: set[str]) -> tuple[int, int]:
    """(running, desired) as `docker service ls` means them, ignoring nodes that are down."""
    mine = [t for t in tasks if t["service"] == raw.get("ID")]
    mode = raw.get("Spec", {}).get("Mode", {}) or {}
    one_shot = raw.get("Spec", {}).get("TaskTemplate", {}).get("RestartPolicy", {}) \
        .get("Condition") == "none"
    live = [t for t in mine if t["desired"] == "running" and t["node"] not in down]
    running = sum(1 for t in live if t["state"] == "running")
    if one_shot:
        running += sum(1 for t in mine if t["state"] == "complete")
    if "Replicated" in mode:
        desired = int(mode["Replicated"].get("Replicas", 1))
    elif "ReplicatedJob" in mode:
        desired = int(mode["ReplicatedJob"].get("TotalCompletions") or 1)
        running = sum(1 for t in mine if t["state"] == "complete")
    else:
        desired = len(live)
    return running, desired


@dataclass
class ServiceStatus:
    name: str
    mode: str
    running: int
    desired: int
    image: str
    ports: list[str] = field(default_factory=list)
    update_state: str = ""
    update_message: str = ""
    autoscale: dict[str, Any] | None = None  # swarmctl.ops.autoscale.service_view

    @classmethod
    def from_api(cls, raw: dict[str, Any], counts: tuple[int, int],
                 observed: dict[str, dict[str, Any]] | None = None) -> ServiceStatus:
        spec = raw.get("Spec", {})
        mode = next(iter(spec.get("Mode", {}) or {"Replicated": {}}), "Replicated")
        mode = {"Replicated": "replicated", "Global": "global",
                "ReplicatedJob": "replicated-job", "GlobalJob": "global-job"}.get(mode, mode)
        image = spec.get("TaskTemplate", {}).get("ContainerSpec", {}).get("Image", "")
        ports = []
        for p in (raw.get("Endpoint", {}).get("Spec", {}) or spec.get("EndpointSpec", {})
                  or {}).get("Ports", []) or []:
            ports.append(f"{p.get('PublishedPort', '')}->{p.get('TargetPort')}/"
                         f"{p.get('Protocol', 'tcp')} ({p.get('PublishMode', 'ingress')})")
        if spec.get("TaskTemplate", {}).get("RestartPolicy", {}).get("Condition") == "none":
            mode = f"{mode} one-shot"
        update = raw.get("UpdateStatus") or {}
        return cls(
            name=spec.get("Name", ""), mode=mode,
            running=counts[0], desired=counts[1],
            image=image.split("@", 1)[0], ports=ports,
            update_state=update.get("State", ""), update_message=update.get("Message", ""),
            autoscale=service_view(spec.get("Labels") or {},
                                   (spec.get("Mode", {}).get("Replicated") or {}).get("Replicas"),
                                   (observed or {}).get(spec.get("Name", ""))),
        )


    @classmethod
    def from_converged(cls, row: dict[str, Any]) -> ServiceStatus:
        """A service as swarm_services_converge's wait reports it."""
        return cls(name=row["name"], mode=row.get("mode", ""), running=row["running"],
                   desired=row["desired"], image=row["image"],
                   update_state=row.get("update_state", ""))


def service_view(spec_labels: dict[str, str], replicas: int | None,
                 observed: dict[str, Any] | None) -> dict[str, Any] | None:
    """What `status` shows of an autoscaled service: current/min/max, the metric now
    against its target (from the controller's latest round), the last scaling."""
    text = spec_labels.get(autoscale_policy.POLICY_LABEL)
    if not text:
        return None
    try:
        pol = autoscale_policy.Policy.from_label(text)
    except (ValueError, KeyError):
        return {"error": "unreadable policy label"}
    view: dict[str, Any] = {"replicas": replicas, "min": pol.min, "max": pol.max,
                            "targets": pol.targets(), "metrics": {}, "observed_at": None,
                            "reason": None, "last": autoscale_policy.parse_last(
                                spec_labels.get(autoscale_policy.LAST_LABEL))}
    if observed:
        view["metrics"] = observed.get("metrics") or {}
        view["reason"] = observed.get("reason")
        view["observed_at"] = observed.get("time")
    return view


@dataclass
class ClusterStatus:
    manager: str
    nodes: list[Node]
    services: list[ServiceStatus]

    def as_dict(self) -> dict[str, Any]:
        return {"manager": self.manager, "nodes": [asdict(n) for n in self.nodes],
                "services": [asdict(s) for s in self.services]}
