"""`swarmctl status` service rows from API objects: running/desired as operators mean them
(tasks on nodes that are down do not count), one-shot services, ports. No hosts."""

from __future__ import annotations

from swarmctl.models.cluster import ServiceStatus
from swarmctl.models.cluster import counts as _counts


def svc(mode: dict, restart: str = "any", ports: list | None = None) -> dict:
    return {"ID": "s1", "Spec": {"Name": "web", "Mode": mode, "TaskTemplate": {
        "ContainerSpec": {"Image": "my-web:v2@sha256:abc"},
        "RestartPolicy": {"Condition": restart}}},
        "Endpoint": {"Spec": {"Ports": ports or []}},
        "UpdateStatus": {"State": "rollback_completed", "Message": "rolled back"}}


def task(node: str, state: str = "running", desired: str = "running",
         service: str = "s1") -> dict:
    return {"service": service, "node": node, "desired": desired, "state": state}


def test_tasks_on_down_nodes_do_not_count():
    raw = svc({"Replicated": {"Replicas": 3}})
    tasks = [task("n1"), task("n2"), task("n3"), task("gone"), task("n1", service="other")]
    assert _counts(raw, tasks, down={"gone"}) == (3, 3)
    assert _counts(raw, [*tasks[:2], task("n3", state="preparing")], down=set()) == (2, 3)


def test_global_desired_is_one_per_live_node():
    raw = svc({"Global": {}})
    assert _counts(raw, [task("n1"), task("n2", state="starting"), task("gone")],
                   down={"gone"}) == (1, 2)


def test_one_shot_counts_completed_tasks():
    raw = svc({"Replicated": {"Replicas": 2}}, restart="none")
    tasks = [task("n1", state="complete", desired="shutdown"),
             task("n2", state="complete", desired="shutdown")]
    assert _counts(raw, tasks, down=set()) == (2, 2)


def test_row_from_api():
    raw = svc({"Replicated": {"Replicas": 3}}, ports=[
        {"PublishedPort": 8080, "TargetPort": 80, "Protocol": "tcp", "PublishMode": "host"}])
    row = ServiceStatus.from_api(raw, (3, 3))
    assert row.mode == "replicated" and row.image == "my-web:v2"
    assert row.ports == ["8080->80/tcp (host)"]
    assert row.update_state == "rollback_completed"
    assert ServiceStatus.from_api(svc({"Replicated": {}}, restart="none"), (0, 1)).mode \
        == "replicated one-shot"


def test_a_converged_row_of_the_wait_becomes_a_table_row():
    row = {"name": "web", "mode": "replicated", "running": 2, "desired": 3,
           "image": "my-web:v2", "update_state": "rollback_completed", "state": "rolled_back"}
    status = ServiceStatus.from_converged(row)
    assert (status.name, status.running, status.desired, status.image, status.update_state) \
        == ("web", 2, 3, "my-web:v2", "rollback_completed")
    assert status.ports == []
