"""The deploy's wait stops at once when every task of a service is rejected for a reason no
retry fixes (an image no node has), from swarm API answers recorded on a lab; it keeps
waiting while swarm may still succeed. No hosts."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from tests.conftest import load_file

ROOT = Path(__file__).resolve().parents[2]
RECORDED = json.loads((Path(__file__).parent / "data" / "swarm_stuck_service.json").read_text())


@pytest.fixture(scope="module")
def converge():
    path = ROOT / "plugins" / "modules" / "swarm_services_converge.py"
    return load_file("swarm_services_converge", path)


class Recorded:
    """Answers the three API calls the observer makes with the recorded objects."""

    def __init__(self, data: dict) -> None:
        self.data = data

    def nodes(self):
        return self.data["nodes"]

    def inspect_service(self, name):
        return next(s for s in self.data["services"] if s["Spec"]["Name"] == name)

    def tasks(self, filters):
        svc = next(s for s in self.data["services"] if s["ID"] == filters["service"])
        return self.data["tasks"][svc["Spec"]["Name"]]


def status(converge, name, data=RECORDED, before=None):
    return converge.Observer(Recorded(data)).status(name, before or {})


@pytest.mark.parametrize(("error", "reason"), [
    ("No such image: my-web:v9", "No such image"),
    ("pull access denied for acme/web, repository does not exist or may require "
     "'docker login': denied: requested access to the resource is denied",
     "pull access denied"),
    ("manifest for nginx:1.99 not found: manifest unknown: manifest unknown",
     "manifest unknown"),
    ('Error parsing reference: "Nginx:1" is not a valid repository/tag: invalid reference '
     "format", "invalid reference format"),
    ("task: non-zero exit (1)", None),
    ("starting container failed: port is already allocated", None),
    ("", None),
])
def test_hopeless_reasons(converge, error, reason):
    assert converge.hopeless_reason(error) == reason


def test_a_new_service_whose_image_no_node_has_is_stuck(converge):
    got = status(converge, "other")
    assert got["state"] == "stuck"
    assert got["reason"] == "No such image"
    assert got["error"] == "No such image: other:nosuch"
    assert got["image"] == "other:nosuch"
    assert sorted(got["nodes"]) == ["badinput-dev-m1", "badinput-dev-w1"]


def test_a_service_whose_current_tasks_run_is_not_stuck(converge):
    # my-web: the update to v9-nosuch was rolled back; v1 runs, the rejections are old.
    assert status(converge, "my-web")["state"] == "rolled_back"  # in this deploy
    started = Recorded(RECORDED).inspect_service("my-web")["UpdateStatus"]["StartedAt"]
    assert status(converge, "my-web", before={"started": started})["state"] == "converged"


def _only(data: dict, name: str, keep) -> dict:
    data = copy.deepcopy(data)
    data["tasks"][name] = [t for t in data["tasks"][name] if keep(t)]
    return data


def test_rejected_on_one_node_of_two_is_not_stuck_yet(converge):
    # swarm may still place the task on the other node, which may have the image.
    w1 = next(n["ID"] for n in RECORDED["nodes"]
              if n["Description"]["Hostname"] == "badinput-dev-w1")
    data = _only(RECORDED, "other", lambda t: t["NodeID"] != w1)
    rejected = len(data["tasks"]["other"])
    assert 0 < rejected < 6  # fewer than HOPELESS_ROUNDS x 2 desired
    assert status(converge, "other", data)["state"] == "waiting"
    # ... but it is after HOPELESS_ROUNDS rejections per desired task on that node.
    data["tasks"]["other"] = (data["tasks"]["other"] * 6)[:converge.HOPELESS_ROUNDS * 2]
    assert status(converge, "other", data)["state"] == "stuck"


def test_mixed_reasons_are_not_stuck(converge):
    data = copy.deepcopy(RECORDED)
    data["tasks"]["other"][0]["Status"]["Err"] = "task: non-zero exit (1)"
    assert status(converge, "other", data)["state"] == "waiting"


def test_a_running_task_of_the_current_spec_is_not_stuck(converge):
    data = copy.deepcopy(RECORDED)
    data["tasks"]["other"][0]["Status"] = {"State": "running", "Timestamp": "2026"}
    data["tasks"]["other"][0]["DesiredState"] = "running"
    assert status(converge, "other", data)["state"] != "stuck"


def test_no_rejection_yet_is_not_stuck(converge):
    data = _only(RECORDED, "other", lambda t: False)
    assert status(converge, "other", data)["state"] == "waiting"
