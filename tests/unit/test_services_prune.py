"""Ownership of deployed services and what `deploy --prune` may remove: the label every
deployed service carries (the filter) and the snapshot's choice of undeclared services
(the module's pure helper). No hosts."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load(kind: str, name: str):
    path = ROOT / "plugins" / kind / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def converge():
    return _load("modules", "swarm_services_converge")


def _svc(name: str, **labels: str) -> dict:
    return {"ID": name.upper(), "Spec": {"Name": name, "Labels": labels}}


def test_every_deployed_service_carries_the_ownership_label_with_its_own():
    args = _load("filter", "swarm_services").swarm_services_module_args
    plain = args({"name": "web", "image": "my-web:v1"})
    assert plain["labels"] == {"io.swarmctl.managed": "true"}
    own = args({"name": "web", "image": "my-web:v1", "labels": {"team": "a"}})
    assert own["labels"] == {"team": "a", "io.swarmctl.managed": "true"}


def test_only_labelled_undeclared_services_outside_stacks_are_candidates(converge):
    live = [
        _svc("web", **{"io.swarmctl.managed": "true"}),            # declared: kept
        _svc("old-api", **{"io.swarmctl.managed": "true"}),        # dropped: candidate
        _svc("a-worker", **{"io.swarmctl.managed": "true"}),       # dropped: candidate
        _svc("foreign"),                                           # not ours: never
        _svc("other", **{"io.swarmctl.managed": "false"}),         # not ours: never
        _svc("st_web", **{"io.swarmctl.managed": "true",
                          "com.docker.stack.namespace": "st"}),    # a stack's: never
    ]
    assert converge.undeclared(live, {"web"}) == ["a-worker", "old-api"]
    assert converge.undeclared(live, {"web", "old-api", "a-worker"}) == []
    assert converge.undeclared([], set()) == []
