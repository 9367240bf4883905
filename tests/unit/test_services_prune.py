"""Ownership of deployed services and what `deploy --prune` may remove: the label every
deployed service carries (the filter) and the snapshot's choice of undeclared services
(the module's pure helper). No hosts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import load_file

ROOT = Path(__file__).resolve().parents[2]


def _load(kind: str, name: str):
    return load_file(name, ROOT / "plugins" / kind / f"{name}.py")


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


# --------------------------------------------------------------------------- changes

@pytest.fixture(scope="module")
def filters():
    return _load("filter", "swarm_services")


def _loop(*results: dict) -> dict:
    return {"changed": any(r.get("changed") for r in results), "results": list(results)}


def test_changes_name_each_object_with_its_action_and_fields_never_a_value(filters):
    before = {"snapshot": {"web": {"replicas": 2}},
              "existing": {"network": ["ingress", "backend"], "secret": ["db_password"],
                           "config": []}}
    registered = {
        "networks": _loop({"item": {"name": "backend"}, "changed": False},
                          {"item": {"name": "front"}, "changed": True}),
        "secrets": _loop({"item": {"name": "db_password", "value": "s3cret"}, "changed": True}),
        "configs": _loop({"item": {"name": "motd", "value": "hi"}, "changed": True}),
        "services": _loop(
            {"item": {"name": "web"}, "changed": True, "msg": "Service updated",
             "changes": ["replicas", "image"]},
            {"item": {"name": "api"}, "changed": True, "msg": "Service created", "changes": []},
            {"item": {"name": "db"}, "changed": True, "msg": "Service rebuilt",
             "changes": ["mode"]},
            {"item": {"name": "cache"}, "changed": False, "msg": "Service unchanged"}),
        "autoscaler": [{"changed": True, "swarmctl_name": "as", "swarmctl_kind": "network"},
                       {"skipped": True, "changed": False, "swarmctl_name": "as-agent"}],
        "prune": _loop({"item": "old", "changed": True, "msg": "Service removed"}),
    }
    got = filters.swarm_services_changes(registered, before, ["worker"])
    assert got == [
        {"kind": "network", "name": "front", "action": "create", "fields": []},
        {"kind": "secret", "name": "db_password", "action": "update", "fields": ["data"]},
        {"kind": "config", "name": "motd", "action": "create", "fields": []},
        {"kind": "service", "name": "web", "action": "update", "fields": ["image", "replicas"]},
        {"kind": "service", "name": "api", "action": "create", "fields": []},
        {"kind": "service", "name": "db", "action": "re-create", "fields": ["mode"]},
        {"kind": "network", "name": "as", "action": "create", "fields": []},
        {"kind": "service", "name": "old", "action": "remove", "fields": []},
        {"kind": "service", "name": "worker", "action": "create", "fields": []},
    ]
    assert "s3cret" not in repr(got) and "hi" not in {f for c in got for f in c["fields"]}


def test_nothing_registered_or_nothing_changed_is_no_change(filters):
    assert filters.swarm_services_changes({}, None, None) == []
    unchanged = {"services": _loop({"item": {"name": "web"}, "changed": False})}
    assert filters.swarm_services_changes(unchanged, {}, []) == []


def test_a_live_service_that_uses_a_new_object_is_an_update(filters):
    before = {"snapshot": {"web": {}}}
    got = filters.swarm_services_changes({}, before, ["web"])
    assert got == [{"kind": "service", "name": "web", "action": "update",
                    "fields": ["uses an object this run creates"]}]


def test_check_mode_defers_only_services_that_use_an_object_not_there_yet(filters):
    before = {"existing": {"network": ["backend"], "secret": ["db_password"], "config": []}}
    services = [
        {"name": "web", "networks": ["backend"], "secrets": ["db_password"]},
        {"name": "api", "networks": ["front"]},
        {"name": "app", "secrets": [{"name": "db_password", "target": "pw"}],
         "configs": [{"name": "motd"}]},
        {"name": "plain"},
    ]
    deferred = filters.swarm_services_deferred
    assert deferred(services, before, True) == ["api", "app"]
    assert deferred(services, before, False) == []


# --------------------------------------------------------------------------- versions

def test_a_versioned_secret_is_named_after_its_content_from_a_file_or_a_value(filters, tmp_path):
    (tmp_path / "pw.txt").write_bytes(b"hunter2\n")
    items = [{"name": "db_password", "file": "pw.txt", "versioned": True},
             {"name": "token", "value": "abc", "versioned": True},
             {"name": "plain", "value": "x"},
             {"name": "theirs", "external": True, "versioned": True}]
    got = filters.swarm_services_versions(items, str(tmp_path))
    assert set(got) == {"db_password", "token"}
    assert got["db_password"].startswith("db_password-") and len(got["db_password"]) == 22
    assert "hunter2" not in repr(got)
    (tmp_path / "pw.txt").write_bytes(b"hunter3\n")
    changed = filters.swarm_services_versions(items, str(tmp_path))
    assert changed["db_password"] != got["db_password"] and changed["token"] == got["token"]


def test_earlier_versions_are_only_the_items_own_digest_names(filters):
    versions = {"db": "db-0123456789", "api-key": "api-key-aaaaaaaaaa"}
    existing = ["db-0123456789", "db-fedcba9876", "db-extra-0123456789", "db-XYZ",
                "db", "api-key-bbbbbbbbbb", "other-0123456789"]
    assert filters.swarm_services_old_versions(versions, existing) == [
        "api-key-bbbbbbbbbb", "db-fedcba9876"]
    assert filters.swarm_services_old_versions({}, existing) == []


def test_a_service_mounts_a_versioned_secret_under_its_declared_name(filters):
    args = filters.swarm_services_module_args(
        {"name": "web", "image": "x", "secrets": ["db", {"name": "tls", "target": "cert.pem"},
                                                 "plain"],
         "configs": ["motd"]},
        versions={"secret": {"db": "db-0123456789", "tls": "tls-aaaaaaaaaa"},
                  "config": {"motd": "motd-bbbbbbbbbb"}})
    assert args["secrets"] == [{"secret_name": "db-0123456789", "filename": "db"},
                               {"secret_name": "tls-aaaaaaaaaa", "filename": "cert.pem"},
                               {"secret_name": "plain"}]
    assert args["configs"] == [{"config_name": "motd-bbbbbbbbbb", "filename": "motd"}]


def test_check_mode_looks_up_a_versioned_secret_by_its_swarm_name(filters):
    before = {"existing": {"secret": ["db-0123456789"]}}
    services = [{"name": "web", "secrets": ["db"]}]
    same = {"secret": {"db": "db-0123456789"}}
    new = {"secret": {"db": "db-fedcba9876"}}
    assert filters.swarm_services_deferred(services, before, True, same) == []
    assert filters.swarm_services_deferred(services, before, True, new) == ["web"]


# --------------------------------------------------------------------------- objects

def test_the_ownership_label_goes_only_on_objects_this_run_creates_or_that_have_it(filters):
    labels = filters.swarm_services_object_labels
    before = {"existing": {"network": ["theirs", "ours"], "secret": ["db-0123456789"]},
              "owned": {"network": ["ours"], "secret": ["db-0123456789"]}}
    assert labels({"name": "new"}, "network", before) == {"io.swarmctl.managed": "true"}
    assert labels({"name": "ours", "labels": {"a": "b"}}, "network", before) == {
        "a": "b", "io.swarmctl.managed": "true"}
    # an existing network without the label: adding it would re-create the network
    assert labels({"name": "theirs"}, "network", before) is None
    assert labels({"name": "theirs", "labels": {"a": "b"}}, "network", before) == {"a": "b"}
    versions = {"secret": {"db": "db-0123456789"}}
    assert labels({"name": "db"}, "secret", before, versions) == {
        "io.swarmctl.version-of": "db", "io.swarmctl.managed": "true"}


def test_undeclared_objects_are_owned_ones_the_spec_dropped_but_not_earlier_versions(filters):
    before = {"owned": {"network": ["backend", "old-net"],
                        "secret": ["db-0123456789", "db-fedcba9876", "gone"],
                        "config": []}}
    got = filters.swarm_services_undeclared_objects(
        before, [{"name": "backend"}], [{"name": "db"}], [],
        {"secret": {"db": "db-0123456789"}})
    assert got == {"network": ["old-net"], "secret": ["gone"], "config": []}
    assert filters.swarm_services_undeclared_objects({}, [], [], []) == {
        "network": [], "secret": [], "config": []}


def test_what_is_kept_is_named_by_kind_and_nothing_is_kept_with_prune():
    from swarmctl.ops.services import ServicesPlan

    splan = ServicesPlan(undeclared=["old-api"], prune=False,
                         undeclared_objects={"network": ["old-net"], "secret": [],
                                             "config": ["motd"]})
    assert splan.kept() == ["service old-api", "network old-net", "config motd"]
    assert splan.as_json()["kept"] == splan.kept()
    splan.prune = True
    assert splan.kept() == [] and splan.as_json()["kept"] == []
