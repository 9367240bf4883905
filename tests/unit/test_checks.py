"""Preflight verdicts from facts (swarmctl.ops.checks): fixtures in, verdicts out, no hosts."""

from __future__ import annotations

import copy
import io
from pathlib import Path

import pytest

from swarmctl.models.inventory import load
from swarmctl.ops import checks
from swarmctl.ops.checks import Observation

T0 = 1_800_000_000.0


def _inv(tmp_path: Path, managers=("m1", "m2", "m3"), workers=("w1",)):
    lines = ["all:", "  children:", "    swarm_managers:", "      hosts:"]
    for i, m in enumerate(managers):
        lines.append(f"        {m}: {{ansible_host: 10.0.0.{11 + i}, ansible_user: admin}}")
    lines += ["    swarm_workers:", "      hosts:" if workers else "      hosts: {}"]
    for i, w in enumerate(workers):
        lines.append(f"        {w}: {{ansible_host: 10.0.0.{101 + i}, ansible_user: admin}}")
    path = tmp_path / "inventory.yml"
    path.write_text("\n".join(lines) + "\n")
    return load(path)


def _facts(name: str, address: str) -> dict:
    return {
        "name": name, "time": T0 + 0.5, "hostname": name,
        "os": {"id": "debian", "version_id": "12", "pretty_name": "Debian GNU/Linux 12 (bookworm)",
               "codename": "bookworm"},
        "kernel": {"release": "6.1.0-18-amd64", "overlay": "loaded", "vxlan": "module",
                   "ip_vs": "module"},
        "advertise": {"address": address, "source": "ansible_host", "configured": True,
                      "interface": "eth0", "mtu": 1500, "host_addresses": [address]},
        "ports": {p: {"state": "free"} for p in checks.PORTS},
        "docker_tcp": [],
        "swarm": {"docker": "absent"},
        "listener": {"pid": 4242, "start_time": "1", "ports": list(checks.PORTS)},
    }


def _healthy(inv) -> dict[str, Observation]:
    obs = {}
    for host in inv.hosts:
        reach = [{"peer": p.name, "address": p.address, "port": port, "proto": proto,
                  "ok": True, "error": ""}
                 for p in inv.hosts if p.name != host.name
                 for port, proto in ([(2377, "tcp")] if p.role == "manager" else [])
                 + [(7946, "tcp"), (7946, "udp"), (4789, "udp")]]
        obs[host.name] = Observation(host.name, facts=_facts(host.name, host.address),
                                     window=(T0, T0 + 1), reach=reach)
    return obs


def _verdicts(report, host=None, check=None, status=None):
    return [v for v in report.verdicts if (host is None or v.host == host)
            and (check is None or v.check == check) and (status is None or v.status == status)]


@pytest.fixture
def inv(tmp_path):
    return _inv(tmp_path)


def test_healthy_hosts_pass_every_check(inv):
    report = checks.evaluate(inv, _healthy(inv))
    assert report.ok, [v.line() for v in report.failures]
    assert not report.warnings, [v.line() for v in report.warnings]
    for host in inv.hosts:
        for check in checks.CHECKS:
            assert report.cell(host.name, check) == "pass", (host.name, check)
    assert report.summary() == "preflight checks passed"


def test_unreachable_host_fails_ssh_and_skips_the_rest(inv):
    obs = _healthy(inv)
    obs["m2"] = Observation("m2", unreachable="Failed to connect to the host via ssh: ssh: "
                            "connect to host 10.0.0.12 port 22: No route to host")
    report = checks.evaluate(inv, obs)
    [v] = _verdicts(report, "m2", "ssh")
    assert v.status == "fail"
    assert "10.0.0.12:22" in v.message and "No route to host" in v.message
    assert "ansible_host" in v.fix
    assert report.cell("m2", "os") == "skip"
    assert report.summary().startswith("preflight failed: m2: ssh: cannot connect")


def test_refused_key_says_which_user_and_how_to_fix(inv):
    obs = _healthy(inv)
    obs["w1"] = Observation("w1", unreachable="Failed to connect to the host via ssh: "
                            "admin@10.0.0.101: Permission denied (publickey).")
    [v] = _verdicts(checks.evaluate(inv, obs), "w1", "ssh")
    assert v.status == "fail"
    assert "admin" in v.message and "refused" in v.message
    assert "ansible_ssh_private_key_file" in v.fix


def test_sudo_asking_for_a_password_fails_sudo(inv):
    obs = _healthy(inv)
    obs["m3"] = Observation("m3", failed="Missing sudo password")
    report = checks.evaluate(inv, obs)
    assert report.cell("m3", "ssh") == "pass"
    [v] = _verdicts(report, "m3", "sudo")
    assert v.status == "fail" and "NOPASSWD" in v.fix and "admin" in v.message


@pytest.mark.parametrize(("os_", "ok"), [
    ({"id": "debian", "version_id": "12", "codename": "bookworm"}, True),
    ({"id": "debian", "version_id": "13", "codename": "trixie"}, True),
    ({"id": "debian", "version_id": "", "codename": "trixie"}, True),
    ({"id": "debian", "version_id": "11", "codename": "bullseye",
      "pretty_name": "Debian GNU/Linux 11 (bullseye)"}, False),
    ({"id": "ubuntu", "version_id": "22.04", "pretty_name": "Ubuntu 22.04.4 LTS"}, False),
    ({}, False),
])
def test_only_debian_12_and_13_are_supported(inv, os_, ok):
    obs = _healthy(inv)
    obs["m1"].facts["os"] = os_
    [v] = _verdicts(checks.evaluate(inv, obs), "m1", "os")
    assert (v.status == "pass") is ok
    if not ok:
        assert "Debian 12 (bookworm) and Debian 13 (trixie)" in v.message


@pytest.mark.parametrize(("feature", "state", "status"), [
    ("vxlan", "missing", "fail"), ("overlay", "missing", "fail"), ("vxlan", "unknown", "warn"),
    ("ip_vs", "missing", "warn"), ("vxlan", "builtin", "pass"), ("ip_vs", "loaded", "pass"),
])
def test_kernel_features(inv, feature, state, status):
    obs = _healthy(inv)
    obs["w1"].facts["kernel"][feature] = state
    report = checks.evaluate(inv, obs)
    assert report.cell("w1", "kernel") == status
    if feature == "ip_vs" and status == "warn":
        [v] = _verdicts(report, "w1", "kernel")
        assert "routing mesh" in v.message and "mode: host" in v.fix


def test_advertise_address_not_on_host_fails(inv):
    obs = _healthy(inv)
    obs["m1"].facts["advertise"] = {"address": "10.9.9.9", "source": "swarm_advertise_addr",
                                    "configured": False, "interface": "", "mtu": 0,
                                    "host_addresses": ["10.0.0.11"]}
    [v] = _verdicts(checks.evaluate(inv, obs), "m1", "address")
    assert v.status == "fail"
    assert "10.9.9.9" in v.message and "10.0.0.11" in v.message
    assert "swarm_advertise_addr" in v.fix


def test_duplicate_hostnames_fail_on_both_hosts(inv):
    obs = _healthy(inv)
    obs["m2"].facts["hostname"] = "debian"
    obs["w1"].facts["hostname"] = "debian"
    report = checks.evaluate(inv, obs)
    assert report.cell("m2", "hostname") == report.cell("w1", "hostname") == "fail"
    assert report.cell("m1", "hostname") == "pass"
    [v] = _verdicts(report, "m2", "hostname")
    assert "w1" in v.message and "hostnamectl" in v.fix


def test_small_mtu_warns_and_says_what_to_set(inv):
    obs = _healthy(inv)
    obs["w1"].facts["advertise"]["mtu"] = 1450
    [v] = _verdicts(checks.evaluate(inv, obs), "w1", "mtu")
    assert v.status == "warn"
    assert "1450" in v.message and "mtu=1400" in v.fix


@pytest.mark.parametrize(("host_time", "status"), [
    (T0 + 0.5, "pass"), (T0 - 3, "pass"), (T0 + 1 + 10, "warn"), (T0 - 20, "warn"),
    (T0 + 1 + 61, "fail"), (T0 - 3600, "fail"),
])
def test_clock_skew_against_the_controller(inv, host_time, status):
    obs = _healthy(inv)
    obs["m2"].facts["time"] = host_time
    report = checks.evaluate(inv, obs)
    assert report.cell("m2", "clock") == status
    if status == "fail":
        assert "TLS" in _verdicts(report, "m2", "clock")[0].message


def test_clock_offset_counts_only_what_the_window_proves():
    assert checks.clock_offset(105, (100, 110)) == 0
    assert checks.clock_offset(90, (100, 110)) == -10
    assert checks.clock_offset(130, (100, 110)) == 20


def test_port_taken_by_another_process_fails(inv):
    obs = _healthy(inv)
    obs["m1"].facts["ports"]["7946/tcp"] = {"state": "used", "process": "nginx", "pid": 812}
    [v] = _verdicts(checks.evaluate(inv, obs), "m1", "ports")
    assert v.status == "fail"
    assert "7946/tcp" in v.message and "nginx (pid 812)" in v.message and "stop nginx" in v.fix


def test_port_2377_taken_on_a_worker_only_warns(inv):
    obs = _healthy(inv)
    obs["w1"].facts["ports"]["2377/tcp"] = {"state": "used", "process": "etcd", "pid": 9}
    assert checks.evaluate(inv, obs).cell("w1", "ports") == "warn"


def _in_swarm(obs, inv, cluster="C1", node_ids=None):
    ids = node_ids or [f"id-{h.name}" for h in inv.hosts]
    for host in inv.hosts:
        facts = obs[host.name].facts
        facts["swarm"] = {"docker": "running", "state": "active", "node_id": f"id-{host.name}",
                          "cluster_id": cluster if host.role == "manager" else "",
                          "is_manager": host.role == "manager", "managers": [],
                          "node_ids": ids if host.role == "manager" else []}
        facts["ports"] = {p: {"state": "used", "process": "dockerd", "pid": 77}
                          for p in checks.PORTS}
        facts["ports"]["4789/udp"] = {"state": "used", "process": "kernel", "pid": 0}
        facts["listener"] = {"pid": 0, "start_time": "", "ports": []}


def test_ports_used_by_this_swarms_dockerd_pass(inv):
    obs = _healthy(inv)
    _in_swarm(obs, inv)
    report = checks.evaluate(inv, obs)
    assert report.ok, [v.line() for v in report.failures]
    assert report.cell("w1", "ports") == "pass"
    assert report.cell("w1", "swarm") == "pass"


def test_worker_of_a_foreign_swarm_fails_with_the_way_out(inv):
    obs = _healthy(inv)
    _in_swarm(obs, inv, node_ids=["id-m1", "id-m2", "id-m3"])
    report = checks.evaluate(inv, obs)
    [v] = _verdicts(report, "w1", "swarm")
    assert v.status == "fail"
    assert "different swarm" in v.message and "docker swarm leave --force" in v.fix
    assert report.cell("w1", "ports") == "pass"  # the swarm check says it, once


def test_manager_of_another_cluster_fails(inv):
    obs = _healthy(inv)
    _in_swarm(obs, inv)
    obs["m3"].facts["swarm"]["cluster_id"] = "OTHER"
    [v] = _verdicts(checks.evaluate(inv, obs), "m3", "swarm")
    assert v.status == "fail" and "m1" in v.message


def test_host_in_a_swarm_when_no_manager_is_fails(inv):
    obs = _healthy(inv)
    obs["w1"].facts["swarm"] = {"docker": "running", "state": "active", "node_id": "x",
                                "cluster_id": "", "is_manager": False}
    [v] = _verdicts(checks.evaluate(inv, obs), "w1", "swarm")
    assert v.status == "fail" and "none of the inventory's managers" in v.message


def test_locked_swarm_fails_and_points_at_swarmctl_unlock(inv):
    obs = _healthy(inv)
    obs["m1"].facts["swarm"] = {"docker": "running", "state": "locked"}
    [v] = _verdicts(checks.evaluate(inv, obs), "m1", "swarm")
    assert v.status == "fail"
    assert f"run `swarmctl unlock {inv.path}`" in v.fix


def test_locked_swarm_with_an_unlock_key_file_is_a_warning(tmp_path):
    key = tmp_path / "unlock.key"
    key.write_text("SWMKEY-1-x\n")
    path = tmp_path / "inventory.yml"
    path.write_text(f"all:\n  vars: {{swarm_unlock_key_file: {key}}}\n  children:\n"
                    "    swarm_managers:\n      hosts:\n        m1: {ansible_host: 10.0.0.11}\n")
    inv = load(path)
    obs = _healthy(inv)
    obs["m1"].facts["swarm"] = {"docker": "running", "state": "locked"}
    [v] = _verdicts(checks.evaluate(inv, obs), "m1", "swarm")
    assert v.status == "warn" and "provision unlocks it from" in v.fix
    key.unlink()  # named but missing: provision could not unlock it
    [v] = _verdicts(checks.evaluate(inv, obs), "m1", "swarm")
    assert v.status == "fail"


def test_docker_api_on_tcp_without_tls_fails(inv):
    obs = _healthy(inv)
    obs["w1"].facts["docker_tcp"] = [
        {"host": "tcp://0.0.0.0:2375", "address": "0.0.0.0", "port": 2375, "tls": False,
         "listening": True, "loopback": False}]
    obs["m2"].facts["docker_tcp"] = [
        {"host": "tcp://127.0.0.1:2375", "address": "127.0.0.1", "port": 2375, "tls": False,
         "listening": True, "loopback": True}]
    obs["m3"].facts["docker_tcp"] = [
        {"host": "tcp://0.0.0.0:2376", "address": "0.0.0.0", "port": 2376, "tls": True,
         "listening": True, "loopback": False}]
    report = checks.evaluate(inv, obs)
    [v] = _verdicts(report, "w1", "docker-api")
    assert v.status == "fail" and "0.0.0.0:2375 without TLS" in v.message
    assert report.cell("m2", "docker-api") == "warn"
    assert report.cell("m3", "docker-api") == "pass"
    assert not report.ok


def test_unreachable_ports_between_hosts(inv):
    obs = _healthy(inv)
    for r in obs["w1"].reach:
        if r["peer"] == "m2" and r["port"] == 2377:
            r.update(ok=False, error="timed out")
        if r["peer"] == "m3" and r["port"] == 4789:
            r.update(ok=False, error="no answer")
    report = checks.evaluate(inv, obs)
    fail = _verdicts(report, "w1", "network", "fail")
    warn = _verdicts(report, "w1", "network", "warn")
    assert len(fail) == 1 and "m2 10.0.0.12:2377/tcp (timed out)" in fail[0].message
    assert len(warn) == 1 and "4789/udp" in warn[0].message  # VXLAN: best effort
    assert "7946/tcp+udp" in fail[0].fix


@pytest.mark.parametrize(("managers", "status"), [
    (("m1",), "pass"), (("m1", "m2"), "warn"), (("m1", "m2", "m3"), "pass"),
    (tuple(f"m{i}" for i in range(1, 10)), "warn"),
])
def test_manager_count(tmp_path, managers, status):
    inv = _inv(tmp_path, managers=managers, workers=())
    report = checks.evaluate(inv, _healthy(inv))
    assert report.cell(checks.CLUSTER, "quorum") == status
    assert report.ok


def test_summary_names_host_check_fix_and_counts_the_rest(inv):
    obs = _healthy(inv)
    obs["m1"].facts["kernel"]["vxlan"] = "missing"
    obs["w1"].facts["os"] = {"id": "ubuntu", "version_id": "24.04"}
    summary = checks.evaluate(inv, obs).summary()
    assert "\n" not in summary
    assert summary.startswith("preflight failed: m1: kernel:")
    assert "(and 1 more failures, see the table)" in summary
    assert "nothing was changed" in summary


def test_identical_findings_are_merged_across_hosts(inv):
    obs = _healthy(inv)
    for ob in obs.values():
        ob.facts["kernel"]["ip_vs"] = "missing"
    merged = checks.findings(checks.evaluate(inv, obs))
    assert len(merged) == 1 and merged[0][0] == ["m1", "m2", "m3", "w1"]


def _event(kind, host, action, res, start=None, end=None):
    data = {"host": host, "task_action": action, "res": res}
    if start:
        data.update(start=start, end=end)
    return {"event": kind, "event_data": data}


def test_collect_reads_facts_windows_and_failures_from_runner_events():
    facts = _facts("m1", "10.0.0.11")
    events = [
        _event("runner_on_ok", "m1", "swarm_preflight_host", {"preflight": facts},
               "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:01+00:00"),
        _event("runner_on_unreachable", "m2", "swarm_preflight_host",
               {"msg": "Failed to connect to the host via ssh: timed out"}),
        _event("runner_on_failed", "w1", "swarm_preflight_host", {"msg": "Missing sudo password"}),
        _event("runner_on_ok", "m1", "swarm_preflight_reach", {"reach": [{"ok": True}]}),
        _event("runner_on_ok", "stranger", "swarm_preflight_host", {"preflight": facts}),
    ]
    obs = checks.collect(events, ["m1", "m2", "w1"])
    assert set(obs) == {"m1", "m2", "w1"}
    assert obs["m1"].facts == facts and obs["m1"].reach == [{"ok": True}]
    assert obs["m1"].window[1] - obs["m1"].window[0] == pytest.approx(1.0)
    assert obs["m2"].unreachable.endswith("timed out")
    assert obs["w1"].failed == "Missing sudo password"


def test_a_reach_probe_that_could_not_run_is_a_warning_even_when_ignored(inv):
    obs = checks.collect([
        _event("runner_on_ok", "m1", "swarm_preflight_host", {"preflight": _facts("m1", "10.0.0.11")},
               "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:01+00:00"),
        {"event": "runner_on_failed", "event_data": {
            "host": "m1", "task_action": "swarm_preflight_reach", "ignore_errors": True,
            "res": {"msg": "MODULE FAILURE"}}},
        {"event": "runner_on_failed", "event_data": {
            "host": "m1", "task_action": "swarm_preflight_listener", "ignore_errors": True,
            "res": {"msg": "no such process"}}},
    ], ["m1"])
    assert obs["m1"].reach_failed == "MODULE FAILURE"
    assert obs["m1"].failed is None


def test_evaluate_does_not_modify_its_input(inv):
    obs = _healthy(inv)
    before = copy.deepcopy({k: v.facts for k, v in obs.items()})
    checks.evaluate(inv, obs)
    assert {k: v.facts for k, v in obs.items()} == before


# --------------------------------------------------------------------------- the gate


def _iso(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _check_events(inv, obs) -> list[dict]:
    events = [{"event": "playbook_on_play_start",
               "event_data": {"play": "Check every host before anything changes"}}]
    for name, ob in obs.items():
        if ob.unreachable:
            events.append(_event("runner_on_unreachable", name, "swarm_preflight_host",
                                 {"msg": ob.unreachable}))
            continue
        events.append(_event("runner_on_ok", name, "swarm_preflight_host",
                             {"preflight": ob.facts}, _iso(T0), _iso(T0 + 1)))
        events.append(_event("runner_on_ok", name, "swarm_preflight_reach", {"reach": ob.reach}))
    return events


def _gate_play() -> list[dict]:
    """The gate play's start, then its set_stats result as provision.yml publishes it."""
    from tests.unit.test_channel import published_event

    return [{"event": "playbook_on_play_start", "event_data": {"play": "any name"}},
            published_event("playbooks/provision.yml", "checks_done", host="m1")]


def _later() -> list[dict]:
    return [{"event": "playbook_on_play_start", "event_data": {"play": "Install"}},
            _event("runner_on_failed", "m1", "apt", {"msg": "boom"})]


def _run_gate(inv, obs, tmp_path):
    from rich.console import Console

    seen: list[dict] = []
    table = Console(file=io.StringIO(), record=True, width=200)
    gate = checks.Gate(inv, tmp_path / "verdict.json", seen.append, table)
    for event in [*_check_events(inv, obs), *_gate_play(), *_later()]:
        gate(event)
    return gate, seen, table


def test_gate_lets_healthy_hosts_through_and_shows_the_table(inv, tmp_path):
    gate, seen, table = _run_gate(inv, _healthy(inv), tmp_path)
    assert (tmp_path / "verdict.json").read_text() == '{"ok": true}'
    shown = table.export_text()
    assert "Preflight checks" in shown and "4 hosts ready" in shown
    # during the checks: the status line only; after the gate: everything
    assert [e["event"] for e in seen] == ["runner_on_ok"] * 8 + ["playbook_on_play_start",
                                                                  "runner_on_failed"]
    assert gate.outcome([]).ok


def test_gate_stops_on_a_failed_check_and_says_why(inv, tmp_path):
    obs = _healthy(inv)
    obs["m2"] = Observation("m2", unreachable="Failed to connect to the host via ssh: "
                                              "ssh: connect to host 10.0.0.12 port 22: timed out")
    gate, seen, table = _run_gate(inv, obs, tmp_path)
    assert (tmp_path / "verdict.json").read_text() == '{"ok": false}'
    assert not any(e["event"] in ("runner_on_unreachable", "runner_on_failed") for e in seen)
    assert table.export_text() == ""  # the table comes with the error, from outcome()
    with pytest.raises(checks.PreflightError, match=r"m2: ssh: cannot connect to 10\.0\.0\.12"):
        gate.outcome([])
    assert "FAIL" in table.export_text()


def test_gate_judges_after_the_run_when_it_ended_before_the_gate(inv, tmp_path):
    from rich.console import Console

    obs = {h.name: Observation(h.name, unreachable="Failed to connect to the host via ssh: "
                                                   "Connection refused") for h in inv.hosts}
    table = Console(file=io.StringIO(), record=True, width=200)
    gate = checks.Gate(inv, tmp_path / "verdict.json", lambda e: None, table)
    events = _check_events(inv, obs)
    for event in events:
        gate(event)
    assert not (tmp_path / "verdict.json").exists()
    with pytest.raises(checks.PreflightError, match="ssh"):
        gate.outcome(events)


def test_gate_leaves_a_run_that_probed_nothing_to_its_own_error(inv, tmp_path):
    from rich.console import Console

    gate = checks.Gate(inv, tmp_path / "verdict.json", lambda e: None,
                       Console(file=io.StringIO()))
    events = [{"event": "playbook_on_start", "event_data": {}}]  # e.g. a syntax error after
    assert gate.outcome(events) is None



def test_limit_without_a_swarm_needs_the_first_manager(inv):
    from swarmctl.ops.checks import _Cluster, _limit

    first, worker = inv.managers[0].name, inv.workers[0].name
    verdicts = _limit(inv, _Cluster(), {worker})
    assert [v.status for v in verdicts] == ["fail"]
    assert first in verdicts[0].message and "no swarm yet" in verdicts[0].message
    assert "without --limit" in verdicts[0].fix
    assert [v.status for v in _limit(inv, _Cluster(), {first})] == ["pass"]
    member = checks._Cluster(inv.managers[1].name, "cid", ())
    assert [v.status for v in _limit(inv, member, {worker})] == ["pass"]
