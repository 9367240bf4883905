"""The membership planner (swarmctl.ops.plan) from recorded observations.

`bare.json` and `converged.json` were read by swarmctl.ops.observe from a lab of 3
managers + 2 workers (plan-rec-m1..m3, plan-rec-w1..w2), before and after `swarmctl
provision`. The other cases are those recordings with the changes a real swarm would
show (a node Down, a half-finished join, a swarm without a leader...).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from swarmctl.models.inventory import Host, Inventory
from swarmctl.ops.observe import HostObservation, Observation
from swarmctl.ops.plan import KINDS, MANAGED_LABELS_KEY, label_changes, plan

FIXTURES = Path(__file__).parent / "fixtures" / "observations"
ADDR = {"m1": "10.213.3.11", "m2": "10.213.3.12", "m3": "10.213.3.13",
        "w1": "10.213.3.101", "w2": "10.213.3.102"}


def recorded(name: str) -> Observation:
    return Observation.from_dict(json.loads((FIXTURES / f"{name}.json").read_text()))


def inv(managers=("m1", "m2", "m3"), workers=("w1", "w2"), **per_host) -> Inventory:
    def host(short: str, role: str) -> Host:
        extra = per_host.get(short, {})
        return Host(name=f"plan-rec-{short}", role=role, address=ADDR[short],
                    labels=extra.get("labels", {}), availability=extra.get("availability"),
                    vars=extra.get("vars", {}))

    return Inventory(path=Path("inventory.yml"),
                     managers=tuple(host(m, "manager") for m in managers),
                     workers=tuple(host(w, "worker") for w in workers))


def node(obs: Observation, short: str) -> dict:
    return next(n for n in obs.nodes if n["Description"]["Hostname"] == f"plan-rec-{short}")


def kinds(p) -> list[tuple[str, str]]:
    return [(a.kind, a.target.removeprefix("plan-rec-")) for a in p.actions]


def refused(p, code: int, *says: str) -> str:
    assert p.refusals, f"not refused: {kinds(p)}"
    first = p.refusals[0]
    assert first.exit_code == code, first
    for text in says:
        assert text in first.message, first.message
    return first.message


# --------------------------------------------------------------------------- adds


def test_bare_hosts_install_init_then_managers_then_workers_join():
    p = plan(inv(), recorded("bare"))
    assert kinds(p) == [("install", h) for h in ("m1", "m2", "m3", "w1", "w2")] + [
        ("init", "m1"), ("join", "m2"), ("join", "m3"), ("join", "w1"), ("join", "w2")]
    assert [a.detail for a in p.by_kind("join")] == ["join as manager"] * 2 + \
        ["join as worker"] * 2
    assert p.quorum_line == "no swarm → 3 managers, tolerates 1"
    assert p.changes and not p.refusals and not p.warnings


def test_converged_cluster_has_nothing_to_do():
    p = plan(inv(), recorded("converged"))
    assert p.actions == [] and p.kept == [] and not p.changes
    assert p.quorum_line == "3 managers, tolerates 1 (unchanged)"


def test_docker_installed_but_stopped_is_started_and_a_half_join_is_cleared():
    obs = recorded("converged")
    w2 = obs.hosts["plan-rec-w2"]
    obs.hosts["plan-rec-w2"] = HostObservation(w2.name, hostname=w2.hostname, docker=True,
                                               running=False, error="Cannot connect")
    w1 = obs.hosts["plan-rec-w1"]
    w1.state, w1.node_id = "pending", "newid"
    p = plan(inv(), obs)
    assert kinds(p) == [("start", "w2"), ("join", "w1"), ("join", "w2")]
    assert "half-finished join" in p.by_kind("join")[0].reason


def test_a_new_host_joins_and_the_quorum_line_counts_it():
    obs = recorded("converged")
    # w2 becomes a new manager: pretend it never joined (its entry is gone, Docker bare).
    obs.nodes = [n for n in obs.nodes if n["Description"]["Hostname"] != "plan-rec-w2"]
    obs.hosts["plan-rec-w2"] = HostObservation("plan-rec-w2", hostname="plan-rec-w2")
    p = plan(inv(managers=("m1", "m2", "m3", "w2"), workers=("w1",)), obs)
    assert kinds(p) == [("install", "w2"), ("join", "w2")]
    assert p.by_kind("join")[0].detail == "join as manager"
    assert p.quorum_line == "3 managers, tolerates 1 → 4 managers, tolerates 1"
    assert p.warnings and "4 managers" in p.warnings[0]


# --------------------------------------------------------------------------- roles


def test_worker_moved_to_managers_is_promoted():
    p = plan(inv(managers=("m1", "m2", "m3", "w1"), workers=("w2",)), recorded("converged"))
    assert kinds(p) == [("promote", "w1")]
    assert p.actions[0].node_id == node(recorded("converged"), "w1")["ID"]
    assert p.quorum_line == "3 managers, tolerates 1 → 4 managers, tolerates 1"


def test_manager_moved_to_workers_is_demoted():
    p = plan(inv(managers=("m1", "m2"), workers=("m3", "w1", "w2")), recorded("converged"))
    assert kinds(p) == [("demote", "m3")]
    assert p.quorum_line == "3 managers, tolerates 1 → 2 managers, tolerates 0"
    assert p.warnings  # an even set


def test_two_of_three_managers_demoted_at_once_is_refused():
    p = plan(inv(managers=("m1",), workers=("m2", "m3", "w1", "w2")), recorded("converged"))
    msg = refused(p, 2, "removing plan-rec-m2 and plan-rec-m3 at once leaves 1 of 3 managers",
                  "remove one at a time, or add managers first")
    assert "force" not in msg


# --------------------------------------------------------------------------- labels


def test_labels_added_changed_and_removed_only_when_swarmctl_manages_them():
    obs = recorded("converged")
    node(obs, "w1")["Spec"]["Labels"] = {"zone": "a", "disk": "hdd", "owner": "ops",
                                         MANAGED_LABELS_KEY: "disk,zone"}
    p = plan(inv(w1={"labels": {"zone": "b", "rack": "r1"}}), obs)
    assert kinds(p) == [("label", "w1")]
    detail = p.actions[0].detail
    assert "zone: a → b" in detail and "+rack=r1" in detail and "-disk" in detail
    assert "owner" not in detail  # set by someone else: never touched


def test_label_rule_matches_swarm_node_for_the_record_of_managed_keys():
    host = inv(w1={"labels": {}}).host("plan-rec-w1")
    assert label_changes(host, {}) == ([], False)
    assert label_changes(host, {"x": "1"}) == ([], False)
    # Only the record is left: swarm_node removes it.
    assert label_changes(host, {MANAGED_LABELS_KEY: ""})[1] is True
    declared = inv(w1={"labels": {"a": "1"}}).host("plan-rec-w1")
    assert label_changes(declared, {"a": "1", MANAGED_LABELS_KEY: "a"}) == ([], False)
    assert label_changes(declared, {"a": "1"}) == (
        [f"record of managed labels ({MANAGED_LABELS_KEY})"], True)


def test_availability_and_dedicated_managers():
    p = plan(inv(w2={"availability": "drain"}), recorded("converged"))
    assert kinds(p) == [("availability", "w2")]
    assert p.actions[0].detail == "active → drain"
    dedicated = {"vars": {"swarm_node_dedicated_managers": True}}
    p = plan(inv(m1=dedicated, m2=dedicated, m3=dedicated), recorded("converged"))
    assert kinds(p) == [("availability", "m1"), ("availability", "m2"), ("availability", "m3")]


# --------------------------------------------------------------------------- removals


def test_host_dropped_from_the_inventory_is_kept_without_prune():
    p = plan(inv(workers=("w1",)), recorded("converged"))
    assert p.actions == [] and not p.changes
    assert [(a.target, a.reason) for a in p.kept] == [
        ("plan-rec-w2", "not in the inventory, kept (--prune removes it)")]


def test_dropped_worker_is_drained_then_leaves_with_prune():
    obs = recorded("converged")
    p = plan(inv(workers=("w1",)), obs, prune=True)
    assert kinds(p) == [("remove", "w2")]
    assert p.actions[0].detail.startswith("drain → wait for its tasks")
    [r] = p.removals
    assert (r.hostname, r.role, r.address, r.down) == ("plan-rec-w2", "worker",
                                                       "10.213.3.102", False)
    assert r.node_id == node(obs, "w2")["ID"]


def test_dropped_manager_is_demoted_first_and_an_even_set_is_warned():
    p = plan(inv(managers=("m1", "m2")), recorded("converged"), prune=True)
    assert kinds(p) == [("remove", "m3")]
    assert p.actions[0].detail == "demote → drain → leave → node rm"
    assert p.removals[0].address == "10.213.3.13"
    assert p.quorum_line == "3 managers, tolerates 1 → 2 managers, tolerates 0"
    assert p.warnings and not p.refusals


def test_dropping_two_of_three_managers_is_refused():
    p = plan(inv(managers=("m1",)), recorded("converged"), prune=True)
    refused(p, 2, "removing plan-rec-m2 and plan-rec-m3 at once leaves 1 of 3 managers")


def test_replacing_a_manager_adds_before_it_removes():
    p = plan(inv(managers=("m1", "m2", "w1"), workers=("w2",)), recorded("converged"),
             prune=True)
    assert kinds(p) == [("promote", "w1"), ("remove", "m3")]
    assert p.quorum_line == "3 managers, tolerates 1 (unchanged)"
    assert not p.refusals and not p.warnings


def test_two_managers_replaced_at_once_by_two_new_ones_is_allowed():
    # 3 + 2 promoted = 5, which tolerates losing 2.
    p = plan(inv(managers=("m1", "w1", "w2"), workers=()), recorded("converged"),
             prune=True)
    assert kinds(p) == [("promote", "w1"), ("promote", "w2"), ("remove", "m2"),
                        ("remove", "m3")]
    assert not p.refusals


def test_removal_that_leaves_no_reachable_majority_is_refused():
    obs = recorded("converged")
    node(obs, "m3")["ManagerStatus"]["Reachability"] = "unreachable"
    node(obs, "m3")["Status"]["State"] = "down"
    p = plan(inv(managers=("m1", "m3")), obs, prune=True)  # drop m2 while m3 is down
    refused(p, 2, "removing plan-rec-m2 leaves 1 reachable of 2 managers, without quorum",
            "plan-rec-m3 unreachable", "bring it back or remove it first")


def test_unreachable_manager_removed_first_keeps_quorum():
    obs = recorded("converged")
    node(obs, "m3")["ManagerStatus"]["Reachability"] = "unreachable"
    node(obs, "m3")["Status"]["State"] = "down"
    p = plan(inv(managers=("m1", "m2", "w1"), workers=("w2",)), obs, prune=True)
    assert kinds(p) == [("promote", "w1"), ("remove", "m3")]
    assert p.actions[1].detail == "demote → node rm (node list only)"
    assert "its own swarm state cannot be cleaned" in p.actions[1].reason
    assert p.removals[0].down and not p.refusals


def test_down_worker_not_in_the_inventory_is_removed_from_the_node_list_only():
    obs = recorded("converged")
    node(obs, "w2")["Status"]["State"] = "down"
    p = plan(inv(workers=("w1",)), obs, prune=True)
    assert kinds(p) == [("remove", "w2")]
    assert p.actions[0].detail == "node rm (node list only)"


def test_ready_host_to_prune_that_cannot_be_reached_is_refused():
    obs = recorded("converged")
    obs.outside["plan-rec-w2"] = HostObservation("plan-rec-w2", reachable=False,
                                                 error="Connection timed out")
    p = plan(inv(workers=("w1",)), obs, prune=True)
    refused(p, 3, "plan-rec-w2 is not in the inventory and Ready, but cannot be reached at "
            "10.213.3.102", "stop it so that it shows Down")
    # not one for the preflight checks, which do not see hosts outside the inventory
    assert p.refusals[0].kind == "unreachable"


def test_stale_down_entry_of_a_rejoined_host_is_removed_without_prune():
    obs = recorded("converged")
    old = copy.deepcopy(node(obs, "w1"))
    old["ID"] = "oldw1entry000000000000000"
    old["Status"]["State"] = "down"
    obs.nodes.append(old)
    p = plan(inv(), obs)
    assert kinds(p) == [("remove-entry", "w1")]
    assert p.actions[0].node_id == old["ID"] and not p.kept


# --------------------------------------------------------------------------- refusals


def test_quorum_lost_when_the_managers_cannot_list_nodes():
    obs = recorded("converged")
    obs.nodes, obs.nodes_from = None, ""
    obs.nodes_error = ("Error response from daemon: rpc error: code = Unknown desc = The "
                       "swarm does not have a leader. It's possible that too few managers "
                       "are online.")
    p = plan(inv(), obs)
    refused(p, 3, "quorum lost", "run `swarmctl recover inventory.yml`")
    assert p.actions == []


def test_quorum_lost_when_no_manager_is_leader():
    obs = recorded("converged")
    for n in obs.nodes:
        if n.get("ManagerStatus"):
            n["ManagerStatus"].pop("Leader", None)
    assert obs.quorum_lost
    refused(plan(inv(), obs), 3, "quorum lost", "swarmctl recover")


def test_unreachable_inventory_host_is_refused():
    obs = recorded("converged")
    obs.hosts["plan-rec-w1"] = HostObservation("plan-rec-w1", reachable=False,
                                               error="Permission denied (publickey)")
    refused(plan(inv(), obs), 3, "cannot read plan-rec-w1 over SSH (Permission denied",
            "swarmctl check")


def test_host_of_a_different_swarm_is_refused():
    obs = recorded("converged")
    obs.hosts["plan-rec-w1"].node_id = "someothernode"
    refused(plan(inv(), obs), 3, "host plan-rec-w1 is already part of a different swarm",
            "docker swarm leave --force")


def test_inventory_without_any_current_manager_is_refused():
    # All three managers dropped, the workers listed as the managers: a run would init
    # a second swarm on w1.
    p = plan(inv(managers=("w1",), workers=("w2",)), recorded("converged"), prune=True)
    refused(p, 3, "no host of swarm_managers is one of its managers",
            "keep at least one current manager")


def test_every_action_kind_is_covered_and_ordered():
    """The kinds above appear in the documented order: adds before removes."""
    assert KINDS.index("join") < KINDS.index("promote") < KINDS.index("demote") \
        < KINDS.index("remove")
    obs = recorded("converged")
    old = copy.deepcopy(node(obs, "w1"))
    old["ID"] = "oldw1entry000000000000000"
    old["Status"]["State"] = "down"
    obs.nodes.append(old)
    obs.hosts["plan-rec-w2"].state = "inactive"  # w2 left: its entry is Down
    node(obs, "w2")["Status"]["State"] = "down"
    # m1 m2 w1 managers (w1 promoted), m3 dropped, w2 rejoins, labels on m1.
    p = plan(inv(managers=("m1", "m2", "w1"), workers=("w2",),
                 m1={"labels": {"a": "1"}}, w2={"availability": "pause"}), obs, prune=True)
    order = [KINDS.index(a.kind) for a in p.actions]
    assert order == sorted(order), kinds(p)
    assert {a.kind for a in p.actions} == {"join", "promote", "label", "availability",
                                           "remove-entry", "remove"}
    assert sorted(a.target for a in p.by_kind("remove-entry")) == ["plan-rec-w1", "plan-rec-w2"]
    assert [r.hostname for r in p.removals] == ["plan-rec-m3"]


@pytest.mark.parametrize("fixture", ["bare", "converged"])
def test_observation_round_trips_through_json(fixture):
    obs = recorded(fixture)
    assert Observation.from_dict(json.loads(json.dumps(obs.as_dict()))) == obs


# --------------------------------------------------------------------------- the CLI


def test_plan_of_a_missing_inventory_is_bad_input(tmp_path):
    from tests.unit.badinput import refused as cli_refused

    cli_refused(tmp_path / "home", "plan", str(tmp_path / "nope.yml"), says=("nope.yml",))
    cli_refused(tmp_path / "home", "plan", "--bogus", str(tmp_path / "nope.yml"),
                says=("swarmctl plan", "No such option: --bogus"))


def test_a_host_to_prune_is_reached_with_the_connection_vars_all_hosts_share():
    from swarmctl.ops.observe import outside_host

    shared = {"ansible_user": "swarm", "ansible_become": True,
              "ansible_ssh_private_key_file": "/k", "ansible_ssh_common_args": "-o X=1"}
    the_inv = inv(m1={"vars": {**shared, "ansible_host": ADDR["m1"]}},
                  m2={"vars": {**shared, "ansible_port": 2222}},
                  m3={"vars": shared}, w1={"vars": shared},
                  w2={"vars": {**shared, "ansible_user": "other"}})
    host = outside_host(the_inv, "old-w3", "10.213.3.103")
    assert (host.address, host.port, host.become) == ("10.213.3.103", 22, True)
    assert host.user is None  # not the same on every host: not guessed
    assert host.vars == {k: v for k, v in shared.items() if k != "ansible_user"}
