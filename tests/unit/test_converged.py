"""Whether a converged re-run can skip the playbook (swarmctl.ops.converged), from the
recorded observation of a converged 3+2 lab with stamps added, and the digest's and
fingerprint's own rules."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from swarmctl.models.yamlfile import Vaulted
from swarmctl.ops import converged, observe
from swarmctl.ops.plan import daemon_json_digest, plan
from tests.conftest import load_file
from tests.unit.test_plan import inv, recorded

ROOT = Path(__file__).resolve().parents[2]
stamp_utils = load_file("swarm_stamp_utils", ROOT / "plugins/module_utils/swarm_stamp.py")

CODE = "c0de"


def fingerprint(name: str, manager: bool) -> dict:
    found = {"daemon_json": "d" * 64, "engine": "20.10.24+dfsg1", "node_id": f"id-{name}",
             "state": "active", "manager": manager}
    if manager:
        found["cluster_spec"] = "s" * 64
    return found


def stamped(the_inv, **edits):
    """The converged recording, each host holding the stamp of this inventory's digest
    and the fingerprint it wrote; `edits` changes a host's read after the fact."""
    obs = recorded("converged")
    wanted = converged.digests(the_inv, CODE)
    for host in the_inv.hosts:
        seen = obs.hosts[host.name]
        seen.fingerprint = fingerprint(host.name, host.role == "manager")
        seen.stamp = {"digest": wanted[host.name], "fingerprint": copy.deepcopy(seen.fingerprint)}
    for short, edit in edits.items():
        edit(obs.hosts[f"plan-rec-{short}"])
    return obs, wanted


def verdict(the_inv, obs, wanted=None):
    wanted = wanted or converged.digests(the_inv, CODE)
    return converged.decide(the_inv, obs, plan(the_inv, obs), wanted)


def test_every_host_as_its_stamp_says_skips_the_playbook():
    the_inv = inv()
    obs, wanted = stamped(the_inv)
    assert verdict(the_inv, obs, wanted) == converged.Verdict(True, "")


@pytest.mark.parametrize(("edit", "says"), [
    (lambda h: setattr(h, "stamp", None), "plan-rec-w1 holds no stamp of a converged run"),
    (lambda h: h.fingerprint.update(daemon_json="e" * 64),
     "plan-rec-w1's daemon.json differs from its last converged run"),
    (lambda h: h.fingerprint.update(engine="26.1.5"), "plan-rec-w1's engine version differs"),
    (lambda h: setattr(h, "fingerprint", {}), "plan-rec-w1's Docker does not answer"),
    (lambda h: setattr(h, "reachable", False), "cannot read plan-rec-w1 over SSH"),
    (lambda h: h.stamp.update(digest="0" * 64), "plan-rec-w1's inventory variables"),
])
def test_a_host_that_differs_from_its_stamp_runs_every_task(edit, says):
    the_inv = inv()
    obs, wanted = stamped(the_inv, w1=edit)
    found = verdict(the_inv, obs, wanted)
    assert not found.skip and says in found.reason, found


def test_swarm_settings_changed_by_hand_are_seen_on_a_manager():
    the_inv = inv()
    obs, wanted = stamped(the_inv, m2=lambda h: h.fingerprint.update(cluster_spec="t" * 64))
    found = verdict(the_inv, obs, wanted)
    assert found == converged.Verdict(False, "plan-rec-m2's swarm settings differ from its "
                                             "last converged run")


def test_a_plan_with_actions_runs_every_task():
    # the inventory now wants a label on w1 that the node does not carry
    the_inv = inv(w1={"labels": {"zone": "b"}})
    obs, wanted = stamped(the_inv)
    assert plan(the_inv, obs).actions
    assert verdict(the_inv, obs, wanted) == converged.Verdict(False, "the plan has changes")


def test_another_runs_lock_and_declared_services_run_every_task():
    the_inv = inv()
    obs, wanted = stamped(the_inv, m1=lambda h: setattr(h, "locked_by_run", True))
    assert "holds the swarm's lock" in verdict(the_inv, obs, wanted).reason
    declared = inv(m1={"vars": {"swarm_services_services": [{"name": "web"}]}})
    obs, wanted = stamped(declared)
    found = verdict(declared, obs, wanted)
    assert not found.skip and "swarm_services_services" in found.reason


def test_the_digest_follows_vars_members_and_code_and_not_their_order():
    base = converged.digests(inv(w1={"vars": {"a": 1, "b": {"x": [1, 2]}}}), CODE)
    same = converged.digests(inv(w1={"vars": {"b": {"x": [1, 2]}, "a": 1}}), CODE)
    assert base == same
    var = converged.digests(inv(w1={"vars": {"a": 2, "b": {"x": [1, 2]}}}), CODE)
    assert var["plan-rec-w1"] != base["plan-rec-w1"]
    assert var["plan-rec-w2"] == base["plan-rec-w2"]  # only the host whose var changed
    members = converged.digests(inv(workers=("w1",), w1={"vars": {"a": 1, "b": {"x": [1, 2]}}}),
                                CODE)
    assert members["plan-rec-w1"] != base["plan-rec-w1"]  # w2 left: every host differs
    assert converged.digests(inv(), "other") != converged.digests(inv(), CODE)
    # a role moved between the groups
    moved = converged.digests(inv(managers=("m1", "m2", "m3", "w1"), workers=("w2",)), CODE)
    assert moved["plan-rec-m1"] != converged.digests(inv(), CODE)["plan-rec-m1"]


def test_the_code_digest_covers_the_collections_files():
    assert len(converged.code_digest()) == 64
    assert converged.code_digest() == converged.code_digest.__wrapped__()


def test_the_fingerprint_reads_what_a_run_sets(tmp_path, monkeypatch):
    daemon = tmp_path / "daemon.json"
    daemon.write_text('{"log-driver": "json-file"}\n')
    monkeypatch.setattr(stamp_utils, "DAEMON_JSON", str(daemon))
    info = {"ServerVersion": "20.10.24+dfsg1",
            "Swarm": {"NodeID": "n1", "LocalNodeState": "active", "ControlAvailable": True,
                      "Cluster": {"ID": "c1", "Spec": {"Name": "default", "Raft": {"a": 1}}}}}
    found = stamp_utils.fingerprint(info)
    assert found["engine"] == "20.10.24+dfsg1" and found["manager"] is True
    assert len(found["daemon_json"]) == 64 and len(found["cluster_spec"]) == 64
    # a worker has no cluster spec in its fingerprint; a stopped engine none at all
    worker = stamp_utils.fingerprint({**info, "Swarm": {**info["Swarm"], "ControlAvailable":
                                                         False}})
    assert "cluster_spec" not in worker
    assert stamp_utils.fingerprint(None) == {}
    daemon.write_text("{}\n")
    assert stamp_utils.fingerprint(info)["daemon_json"] != found["daemon_json"]


def test_the_stamp_is_written_for_root_only_and_read_back(tmp_path):
    path = tmp_path / "lib" / "converged.json"
    stamp_utils.write_stamp({"digest": "x", "fingerprint": {}}, str(path))
    assert path.stat().st_mode & 0o777 == 0o600
    assert stamp_utils.read_stamp(str(path)) == {"digest": "x", "fingerprint": {}}
    path.write_text("not json")
    assert stamp_utils.read_stamp(str(path)) is None
    assert stamp_utils.read_stamp(str(tmp_path / "none")) is None


def test_the_observation_script_runs_the_stamps_code():
    text = observe.script()
    compile(text, "observe", "exec")  # the module_utils file, then the read
    assert "def fingerprint(info)" in text and 'out["stamp"] = read_stamp()' in text
    # an observation round-trips with its stamp
    obs, _ = stamped(inv())
    again = observe.Observation.from_dict(json.loads(json.dumps(obs.as_dict())))
    assert again.hosts["plan-rec-m1"].stamp == obs.hosts["plan-rec-m1"].stamp


# ----------------------------------------------------------------- daemon.json in the plan

DEFAULT_OPTIONS = {"log-driver": "json-file", "log-opts": {"max-size": "10m", "max-file": "3"}}


def test_the_planned_daemon_json_is_the_file_the_role_writes():
    # the SHA-256 read on a lab node that docker_engine configured with its defaults
    assert daemon_json_digest(DEFAULT_OPTIONS) == \
        "f9087d4f9238cfba06f12939ed9e4f73c4cac25181401935d116c161566917ff"
    assert daemon_json_digest({}) == ""  # the role leaves the file alone
    assert daemon_json_digest({"data-root": "{{ my_root }}"}) is None  # Ansible renders it
    assert daemon_json_digest({"proxies": {"http-proxy": Vaulted("$ANSIBLE_VAULT;1.1")}}) \
        is None
    assert daemon_json_digest("not a mapping") is None


def test_a_daemon_json_that_differs_is_planned_as_configure():
    the_inv = inv(w2={"vars": {"docker_engine_daemon_options": {"debug": True}}})
    obs, _ = stamped(the_inv)
    ours = daemon_json_digest(DEFAULT_OPTIONS)
    for host in the_inv.hosts:
        obs.hosts[host.name].fingerprint["daemon_json"] = ours
    obs.hosts["plan-rec-w1"].fingerprint["daemon_json"] = "e" * 64  # edited by hand
    got = plan(the_inv, obs, daemon_options=DEFAULT_OPTIONS)
    assert [(a.kind, a.target) for a in got.actions] == [
        ("configure", "plan-rec-w1"), ("configure", "plan-rec-w2")]
    assert got.actions[0].reason == "daemon.json differs from docker_engine_daemon_options"
    # without the role's default (or a recording without fingerprints) nothing is planned
    assert plan(the_inv, obs).actions == []
    obs.hosts["plan-rec-w1"].fingerprint = {}
    assert ("configure", "plan-rec-w1") not in \
        [(a.kind, a.target) for a in plan(the_inv, obs, daemon_options=DEFAULT_OPTIONS).actions]


def test_the_roles_default_daemon_options_are_read_for_the_plan():
    from swarmctl.ops import membership

    assert membership.daemon_options_default() == DEFAULT_OPTIONS


# ------------------------------------------------ what a full run would do that no stamp shows

def _node_of(obs, short):
    return next(n for n in obs.nodes if n["Description"]["Hostname"] == f"plan-rec-{short}")


def test_a_node_a_full_run_would_wait_for_runs_every_task():
    # swarm_verify fails the full run on a node that is not Ready or a manager that is
    # not Reachable: a re-run that skips it must not print ✓ instead
    the_inv = inv()
    obs, wanted = stamped(the_inv)
    _node_of(obs, "w2")["Status"]["State"] = "down"
    assert verdict(the_inv, obs, wanted) == converged.Verdict(
        False, "plan-rec-w2 is not Ready in the swarm")
    obs, wanted = stamped(the_inv)
    _node_of(obs, "m3")["ManagerStatus"]["Reachability"] = "unreachable"
    assert verdict(the_inv, obs, wanted).reason == "plan-rec-m3 is not a Reachable manager"


def test_a_missing_unlock_key_file_runs_every_task(tmp_path):
    key = tmp_path / "prod.unlock-key"
    the_inv = inv(m1={"vars": {"swarm_autolock": True, "swarm_unlock_key_file": str(key)}})
    obs, wanted = stamped(the_inv)
    assert verdict(the_inv, obs, wanted).reason == \
        f"the unlock key file {key} is not on this machine (a run writes it)"
    key.write_text("SWMKEY-1-x\n")
    assert verdict(the_inv, obs, wanted).skip
    # autolock off: the file is not the run's to keep
    off = inv(m1={"vars": {"swarm_autolock": False, "swarm_unlock_key_file": "nowhere"}})
    obs, wanted = stamped(off)
    assert verdict(off, obs, wanted).skip


def test_a_template_that_reads_outside_the_inventory_runs_every_task():
    looked_up = inv(w1={"vars": {"docker_engine_daemon_options":
                                 "{{ lookup('file', 'daemon.json') | from_json }}"}})
    obs, wanted = stamped(looked_up)
    assert verdict(looked_up, obs, wanted).reason == (
        "docker_engine_daemon_options of plan-rec-w1 is a template that reads outside the "
        "inventory")
    # a template of other variables only changes with the inventory: the digest sees it
    local = inv(w1={"vars": {"swarm_node_labels": {"zone": "{{ my_zone }}"}, "my_zone": "a"}})
    obs, wanted = stamped(local)
    assert verdict(local, obs, wanted).skip


def test_facts_from_a_fact_cache_stay_out_of_the_digest():
    plain = converged.digests(inv(w1={"vars": {"ansible_user": "admin"}}), CODE)
    cached = converged.digests(inv(w1={"vars": {
        "ansible_user": "admin", "ansible_default_ipv4": {"address": "10.0.0.9"},
        "ansible_interfaces": ["eth0", "veth1a2b"]}}), CODE)
    assert cached == plain
    moved = converged.digests(inv(w1={"vars": {"ansible_user": "ops"}}), CODE)
    assert moved["plan-rec-w1"] != plain["plan-rec-w1"]  # a connection variable counts


def test_daemon_json_mode_or_owner_is_planned_as_configure():
    the_inv = inv()
    obs, _ = stamped(the_inv)
    ours = daemon_json_digest(DEFAULT_OPTIONS)
    for host in the_inv.hosts:
        obs.hosts[host.name].fingerprint.update(daemon_json=ours, daemon_json_mode="0644 0 0")
    obs.hosts["plan-rec-w2"].fingerprint["daemon_json_mode"] = "0600 0 0"
    got = plan(the_inv, obs, daemon_options=DEFAULT_OPTIONS)
    assert [(a.kind, a.target, a.reason) for a in got.actions] == [
        ("configure", "plan-rec-w2", "daemon.json's mode and owner are 0600 0 0, not 0644 0 0")]
    assert daemon_json_digest({"a": "{# note #}"}) is None


def test_the_code_digest_follows_ansible_and_the_collections(monkeypatch):
    before = converged.code_digest.__wrapped__()
    monkeypatch.setattr(converged, "_versions", lambda: [b"0.1.0", b"2.19.99"])
    assert converged.code_digest.__wrapped__() != before


def test_the_stamp_writer_runs_the_stamps_code_with_the_digest_as_its_argument():
    text = converged.write_script()
    compile(text, "write", "exec")
    assert text.startswith('"""The converged stamp') and "def write_stamp(" in text
    assert 'write_stamp({"digest": sys.argv[1]' in text and 'out["stamp"]' not in text
