"""Health findings (`swarmctl status --check`) from snapshots recorded on a lab of 3
managers + 1 worker (tests/unit/data/health/*.json, recorded with record.py there).
Findings the lab could not produce at recording time are made by changing one field of a
recorded snapshot, the way Docker would report it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from swarmctl.ops import health
from swarmctl.ops.health import EXIT_CRITICAL, EXIT_OK, EXIT_WARNING, HostRead, Snapshot
from tests.conftest import load_file

DATA = Path(__file__).parent / "data" / "health"
DAY = 86400


def snapshot(name: str) -> Snapshot:
    raw = json.loads((DATA / f"{name}.json").read_text())
    raw["hosts"] = [HostRead(**h) for h in raw["hosts"]]
    return Snapshot(**raw)


def lines(result: health.Health) -> list[str]:
    return [f.line() for f in result.findings]


def host(snap: Snapshot, suffix: str) -> HostRead:
    return next(h for h in snap.hosts if h.name.endswith(suffix))


def node(snap: Snapshot, suffix: str) -> dict:
    return next(n for n in snap.cluster["nodes"]
                if n["Description"]["Hostname"].endswith(suffix))


def test_healthy_lab_has_no_finding_and_exits_0():
    result = health.evaluate(snapshot("healthy"))
    assert result.findings == []
    assert result.exit_code == EXIT_OK == 0
    assert result.nodes == 4
    assert result.summary().startswith("OK: 4 nodes")


def test_exit_codes_do_not_collide_with_the_other_codes():
    assert {EXIT_WARNING, EXIT_CRITICAL}.isdisjoint({0, 1, 2, 3, 4})
    assert EXIT_WARNING < EXIT_CRITICAL


def test_a_stopped_worker_is_one_warning_line_with_its_ssh_error():
    result = health.evaluate(snapshot("worker_down"))
    assert result.exit_code == EXIT_WARNING
    assert len(result.findings) == 1, lines(result)
    line = result.findings[0].line()
    assert line.startswith("WARNING security-dev-w1: node: worker node is down")
    assert "SSH fails" in line


def test_a_manager_whose_docker_stopped_puts_quorum_at_risk():
    result = health.evaluate(snapshot("manager_down"))
    assert result.exit_code == EXIT_CRITICAL
    text = "\n".join(lines(result))
    assert "CRITICAL (cluster): quorum: quorum at risk: 2 of 3 managers reachable " \
        "(security-dev-m3 not)" in text
    assert "CRITICAL security-dev-m3: docker: Docker does not answer" in text


def test_two_managers_lost_is_quorum_lost_and_points_at_recover():
    result = health.evaluate(snapshot("quorum_lost"))
    assert result.exit_code == EXIT_CRITICAL
    assert any(f.message == health.QUORUM_LOST for f in result.findings), lines(result)
    assert "run swarmctl recover" in health.QUORUM_LOST


def test_quorum_lost_seen_in_the_node_list_too():
    snap = snapshot("healthy")
    for suffix in ("m2", "m3"):
        node(snap, suffix)["ManagerStatus"]["Reachability"] = "unreachable"
    result = health.evaluate(snap)
    assert health.QUORUM_LOST in [f.message for f in result.findings]


def test_a_manager_unreachable_in_five_is_a_warning_with_the_tolerance_left():
    snap = snapshot("healthy")
    extra = []
    for i in (4, 5):
        n = copy.deepcopy(node(snap, "m2"))
        n["ID"], n["Description"]["Hostname"] = f"id{i}", f"security-dev-m{i}"
        extra.append(n)
    snap.cluster["nodes"] += extra
    node(snap, "m3")["ManagerStatus"]["Reachability"] = "unreachable"
    result = health.evaluate(snap)
    quorum = [f for f in result.findings if f.check == "quorum"]
    assert [f.severity for f in quorum] == ["warning"]
    assert "4 of 5 managers reachable" in quorum[0].message
    assert "1 more failures tolerated" in quorum[0].message
    assert any(f.check == "manager" and f.subject == "security-dev-m3"
               for f in result.findings)


def test_an_even_manager_count_is_a_warning():
    snap = snapshot("healthy")
    w = node(snap, "w1")
    w["Spec"]["Role"] = "manager"
    w["ManagerStatus"] = {"Reachability": "reachable", "Addr": "x:2377"}
    result = health.evaluate(snap)
    assert [f.check for f in result.findings] == ["managers"]
    assert "4 managers tolerate 1 failures" in result.findings[0].message
    assert result.exit_code == EXIT_WARNING


def test_services_that_cannot_run_are_critical_with_the_tasks_error():
    result = health.evaluate(snapshot("services_cannot_run"))
    assert result.exit_code == EXIT_CRITICAL
    text = "\n".join(lines(result))
    assert "CRITICAL noimage: service: 0/1 tasks running: rejected: No such image: " \
        "no-such-image:v9" in text
    assert "CRITICAL nowhere: service: 0/2 tasks running: pending: no suitable node" in text


def test_a_service_partly_running_is_a_warning():
    snap = snapshot("services_cannot_run")
    svc = next(s for s in snap.cluster["services"] if s["Spec"]["Name"] == "nowhere")
    task = next(t for t in snap.cluster["tasks"] if t["service"] == svc["ID"]
                and t["desired"] == "running")
    task["state"] = "running"
    findings = [f for f in health.evaluate(snap).findings if f.subject == "nowhere"]
    assert [(f.severity, f.message.split(":")[0]) for f in findings] == \
        [("warning", "1/2 tasks running")]


@pytest.mark.parametrize(("state", "says"), [
    ("paused", "its update is paused"),
    ("rollback_paused", "its update is rollback paused"),
    ("rollback_completed", "its last update was rolled back"),
])
def test_paused_or_rolled_back_updates_are_warnings(state, says):
    snap = snapshot("services_cannot_run")
    svc = next(s for s in snap.cluster["services"] if s["Spec"]["Name"] == "nowhere")
    snap.cluster["services"] = [svc]
    snap.cluster["tasks"] = [dict(t, state="running") for t in snap.cluster["tasks"]
                             if t["service"] == svc["ID"] and t["desired"] == "running"]
    svc["UpdateStatus"] = {"State": state, "Message": "update paused due to failure"}
    result = health.evaluate(snap)
    assert [f.check for f in result.findings] == ["update"], lines(result)
    assert says in result.findings[0].message
    assert result.exit_code == EXIT_WARNING


def test_a_locked_manager_is_critical_and_points_at_unlock():
    snap = snapshot("manager_down")
    m3 = host(snap, "m3")
    m3.data = dict(host(snap, "m2").data, swarm={"state": "locked", "node_id": "",
                                                  "control": False, "error": ""})
    result = health.evaluate(snap)
    locked = [f for f in result.findings if f.check == "locked"]
    assert len(locked) == 1
    assert locked[0].line().startswith("CRITICAL security-dev-m3: locked: the swarm is locked")
    assert "swarmctl unlock inventory.yml" in locked[0].fix
    assert not any(f.check == "docker" for f in result.findings)


def test_every_manager_locked_says_unlock():
    snap = snapshot("quorum_lost")
    for h in snap.hosts:
        if h.role == "manager":
            h.data = {"engine": "20.10.24", "docker_tcp": [], "cert": None,
                      "swarm": {"state": "locked", "node_id": "", "control": False}}
    snap.cluster_errors = {h.name: "swarm state locked" for h in snap.hosts
                           if h.role == "manager"}
    result = health.evaluate(snap)
    assert "every manager is locked" in "\n".join(lines(result))


def test_certificates_expiring_within_the_days_given():
    snap = snapshot("healthy")
    not_after = host(snap, "w1").data["cert"]["not_after"]
    snap.now = not_after - 10 * DAY
    result = health.evaluate(snap, cert_days=14)
    certs = [f for f in result.findings if f.check == "cert"]
    assert len(certs) == 4 and all(f.severity == "warning" for f in certs)
    assert "expires in 10.0 days" in certs[0].message
    assert health.evaluate(snap, cert_days=7).findings == []
    snap.now = not_after + 60
    assert {f.severity for f in health.evaluate(snap).findings} == {"critical"}


def test_short_certificate_lifetimes_are_judged_by_a_fifth_of_it():
    assert health.cert_threshold(14, 7 * DAY) == pytest.approx(7 * DAY / 5)
    assert health.cert_threshold(14, 90 * DAY) == 14 * DAY


def test_engine_version_skew_and_managers_older_than_workers():
    snap = snapshot("healthy")
    node(snap, "w1")["Description"]["Engine"]["EngineVersion"] = "26.1.5+dfsg1"
    result = health.evaluate(snap)
    engine = [f.message for f in result.findings if f.check == "engine"]
    assert engine == [
        "engine versions differ: 20.10.24+dfsg1 on 3 nodes, 26.1.5+dfsg1 on 1 node",
        "a manager runs an older engine (20.10.24+dfsg1) than a worker (26.1.5+dfsg1)",
    ]
    node(snap, "w1")["Description"]["Engine"]["EngineVersion"] = "20.10.5"
    assert [f.message for f in health.evaluate(snap).findings] == [
        "engine versions differ: 20.10.5 on 1 node, 20.10.24+dfsg1 on 3 nodes"]


def test_docker_api_on_tcp_without_tls():
    snap = snapshot("healthy")
    host(snap, "w1").data["docker_tcp"] = [
        {"host": "tcp://0.0.0.0:2375", "address": "0.0.0.0", "port": 2375, "tls": False,
         "listening": True, "loopback": False}]
    host(snap, "m2").data["docker_tcp"] = [
        {"host": "tcp://127.0.0.1:2375", "address": "127.0.0.1", "port": 2375, "tls": False,
         "listening": True, "loopback": True}]
    host(snap, "m3").data["docker_tcp"] = [
        {"host": "tcp://0.0.0.0:2376", "address": "0.0.0.0", "port": 2376, "tls": True,
         "listening": True, "loopback": False}]
    result = health.evaluate(snap)
    assert [(f.severity, f.subject) for f in result.findings] == [
        ("critical", "security-dev-w1"), ("warning", "security-dev-m2")]
    assert "listens on 0.0.0.0:2375 without TLS" in result.findings[0].message


def test_ca_rotation_in_progress_names_the_nodes_on_the_old_root():
    snap = snapshot("healthy")
    node(snap, "w1")["Description"]["TLSInfo"]["CertIssuerPublicKey"] = "b2xk"
    snap.cluster["swarm"]["RootRotationInProgress"] = True
    result = health.evaluate(snap)
    assert [f.check for f in result.findings] == ["ca"]
    assert "security-dev-w1 still on the old one" in result.findings[0].message


def test_the_inventorys_autolock_and_cert_expiry_are_compared():
    snap = snapshot("healthy")
    snap.autolock, snap.cert_expiry_seconds = True, 30 * DAY
    checks = [f.check for f in health.evaluate(snap).findings]
    assert checks == ["autolock", "cert-expiry"]
    snap.autolock, snap.cert_expiry_seconds = False, 90 * DAY
    assert health.evaluate(snap).findings == []


def test_no_manager_read_is_critical():
    snap = snapshot("healthy")
    snap.cluster, snap.cluster_errors = None, {"security-dev-m1": "timed out"}
    result = health.evaluate(snap)
    assert result.exit_code == EXIT_CRITICAL
    assert "no manager could read the swarm (security-dev-m1: timed out)" in lines(result)[0]


def test_recorded_snapshots_hold_no_join_token():
    for path in DATA.glob("*.json"):
        text = path.read_text()
        assert "SWMTKN" not in text and "JoinTokens" not in text, path


def test_json_form():
    result = health.evaluate(snapshot("worker_down"))
    data = result.as_dict()
    assert data["status"] == "warning" and data["exit_code"] == 10
    assert data["findings"][0]["check"] == "node"


# --------------------------------------------------------------------------- TCP reader

def _tcp_module():
    path = Path(__file__).resolve().parents[2] / "plugins" / "module_utils" / \
        "swarm_preflight_docker_tcp.py"
    return load_file("swarm_preflight_docker_tcp", path)


tcp = _tcp_module()


@pytest.mark.parametrize(("argv", "config", "hosts", "tls"), [
    (["dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock"], {},
     ["fd://"], False),
    (["dockerd", "-H", "tcp://0.0.0.0:2375", "-H", "unix:///var/run/docker.sock"], {},
     ["tcp://0.0.0.0:2375", "unix:///var/run/docker.sock"], False),
    (["dockerd", "--host=tcp://0.0.0.0:2376", "--tlsverify"], {}, ["tcp://0.0.0.0:2376"],
     True),
    (["dockerd"], {"hosts": ["tcp://10.0.0.1:2375"], "tlsverify": False},
     ["tcp://10.0.0.1:2375"], False),
    (["dockerd", "-Htcp://:2375"], {"tlsverify": True}, ["tcp://:2375"], True),
])
def test_dockerd_hosts_and_tls_from_its_flags_and_daemon_json(argv, config, hosts, tls):
    assert tcp._hosts_and_tls(argv, config) == (hosts, tls)


def test_proc_net_addresses():
    assert tcp._address("00000000") == "0.0.0.0"
    assert tcp._address("0100007F") == "127.0.0.1"
