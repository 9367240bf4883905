"""The decisions of backup, recover and restore, from node lists and host states as the
lab's managers reported them (3 managers + 1 worker, Docker 20.10), and the archive
checks on real tar files. No hosts."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from swarmctl.errors import InputError
from swarmctl.models.inventory import load
from swarmctl.ops.backup import META, check_archive
from swarmctl.ops.recovery import restore_target
from tests.conftest import load_file

REPO = Path(__file__).resolve().parents[2]


def _filters(name: str):
    path = REPO / "plugins" / "filter" / f"{name}.py"
    return load_file(f"_{name}_filters", path)


backup_f = _filters("swarm_backup")
recover_f = _filters("swarm_recover")

IDS = {"m1": "bv879fo455i6r07c58pfyx1ew", "m2": "znk2opdellg57hmc15oumeo84",
       "m3": "kllv9e3occ68102r2iocinmmq", "w1": "19jspde92oiyeo0pfw8c16cqs",
       "m4": "m4id", "m5": "m5id"}
ADDR = {"m1": "10.213.2.11", "m2": "10.213.2.12", "m3": "10.213.2.13", "w1": "10.213.2.101",
        "m4": "10.213.2.14", "m5": "10.213.2.15"}
CLUSTER = "sfcf1dv4fe6kubr37qp8lontd"


def node(name, *, manager=True, leader=False, reach="reachable", state="ready", node_id=None):
    n = {"ID": node_id or IDS[name], "Description": {"Hostname": f"backup-dev-{name}"},
         "Spec": {"Role": "manager" if manager else "worker", "Availability": "active"},
         "Status": {"State": state, "Addr": ADDR[name]}}
    if manager and reach is not None:
        n["ManagerStatus"] = {"Reachability": reach, "Addr": f"{ADDR[name]}:2377"}
        if leader:
            n["ManagerStatus"]["Leader"] = True
    return n


def healthy():
    return [node("m1", leader=True), node("m2"), node("m3"), node("w1", manager=False)]


def mgr(name, state="active", control=True, error=""):
    return {"host": f"backup-dev-{name}", "node_id": IDS[name] if state else "",
            "state": state, "control": control, "error": error}


# --------------------------------------------------------------------------- backup

def test_backup_takes_the_last_healthy_non_leader():
    choice = backup_f.swarm_backup_choice(healthy(), [mgr("m1"), mgr("m2"), mgr("m3")])
    assert choice == {"host": "backup-dev-m3", "error": "", "managers": 3, "reachable": 3}


def test_backup_refuses_one_manager():
    choice = backup_f.swarm_backup_choice([node("m1", leader=True), node("w1", manager=False)],
                                          [mgr("m1")])
    assert choice["host"] == ""
    assert "one manager" in choice["error"] and "add two managers" in choice["error"]


def test_backup_refuses_when_one_of_three_is_down_already():
    nodes = [node("m1", leader=True), node("m2"), node("m3", reach="unreachable", state="down")]
    choice = backup_f.swarm_backup_choice(nodes, [mgr("m1"), mgr("m2"), mgr("m3", state="")])
    assert choice["host"] == ""
    assert "2 of 3 managers are reachable and the swarm needs 2" in choice["error"]
    assert "lose quorum" in choice["error"]


def test_backup_five_managers_one_down_still_has_a_candidate():
    nodes = [node("m1", leader=True), node("m2"), node("m3"), node("m4"),
             node("m5", reach="unreachable", state="down")]
    choice = backup_f.swarm_backup_choice(
        nodes, [mgr("m1"), mgr("m2"), mgr("m3"), mgr("m4"), mgr("m5", state="")])
    assert choice["host"] == "backup-dev-m4"


def test_backup_refuses_the_leader_when_asked_for_it():
    choice = backup_f.swarm_backup_choice(healthy(), [mgr("m1"), mgr("m2"), mgr("m3")],
                                          "backup-dev-m1")
    assert choice["host"] == "" and "it is the leader" in choice["error"]


def test_backup_without_a_leader_says_recover():
    managers = [mgr("m1", error="rpc error: code = Unknown desc = The swarm does not have a "
                                "leader. It's possible that too few managers are online."),
                mgr("m2", state=""), mgr("m3", state="")]
    choice = backup_f.swarm_backup_choice(None, managers)
    assert "quorum lost: run swarmctl recover" in choice["error"]


# --------------------------------------------------------------------------- recover

def survivor(name, *, files=(), sees_leader=False, nodes=None, state="active", control=True,
             cluster=CLUSTER, node_id=None):
    return {"host": f"backup-dev-{name}", "answered": True, "state": state, "control": control,
            "node_id": IDS[name] if node_id is None else node_id, "cluster_id": cluster,
            "node_addr": ADDR[name], "addr": ADDR[name], "hostname": f"backup-dev-{name}",
            "sees_leader": sees_leader, "nodes": nodes or [], "error": "",
            "raft_files": [{"path": f"/var/lib/docker/swarm/raft/{p}", "mtime": m}
                           for p, m in files]}


def lost(name):
    return {"host": f"backup-dev-{name}", "answered": False}


WAL0 = ("wal-v3-encrypted/0000000000000000-0000000000000000.wal", 100.0)


def test_recover_refuses_when_quorum_holds():
    managers = [survivor(n, files=[WAL0], sees_leader=True, nodes=healthy())
                for n in ("m1", "m2", "m3")]
    plan = recover_f.swarm_recover_plan(managers)
    assert "quorum is not lost: backup-dev-m1 leads and 3 of 3 managers are reachable" \
        in plan["error"]
    assert "run swarmctl provision instead" in plan["error"]


def test_recover_forces_on_the_only_survivor():
    plan = recover_f.swarm_recover_plan([survivor("m1", files=[WAL0]), lost("m2"), lost("m3")])
    assert plan["error"] == ""
    assert plan["quorum_lost"] and plan["force_on"] == "backup-dev-m1"
    assert plan["addr"] == "10.213.2.11"
    assert plan["lost"] == ["backup-dev-m2", "backup-dev-m3"]


def test_recover_picks_the_newest_raft_state():
    older = [("snap-v3-encrypted/0000000000000002-0000000000002710.snap", 50.0), WAL0]
    newer = [("snap-v3-encrypted/0000000000000002-0000000000004e20.snap", 40.0), WAL0]
    plan = recover_f.swarm_recover_plan([survivor("m1", files=older),
                                         survivor("m2", files=newer), lost("m3")])
    assert plan["force_on"] == "backup-dev-m2"
    assert plan["stale"] == ["backup-dev-m1"]  # the other survivor leaves and rejoins


def test_recover_equal_names_then_the_last_write_then_inventory_order():
    a = [("wal-v3-encrypted/0000000000000000-0000000000000000.wal", 100.0)]
    b = [("wal-v3-encrypted/0000000000000000-0000000000000000.wal", 200.0)]
    assert recover_f.swarm_recover_plan(
        [survivor("m1", files=a), survivor("m2", files=b), lost("m3")])["force_on"] == \
        "backup-dev-m2"
    assert recover_f.swarm_recover_plan(
        [survivor("m1", files=a), survivor("m2", files=a), lost("m3")])["force_on"] == \
        "backup-dev-m1"


def test_recover_from_names_the_survivor():
    managers = [survivor("m1", files=[WAL0]), survivor("m2", files=[WAL0]), lost("m3")]
    assert recover_f.swarm_recover_plan(managers, "backup-dev-m2")["force_on"] == \
        "backup-dev-m2"
    assert "it does not answer" in recover_f.swarm_recover_plan(managers, "backup-dev-m3")[
        "error"]


def test_recover_with_no_state_left_says_restore():
    plan = recover_f.swarm_recover_plan([survivor("m1", state="inactive", control=False),
                                         lost("m2"), lost("m3")])
    assert "restore a backup with swarmctl restore" in plan["error"]
    assert "restore" in recover_f.swarm_recover_plan([lost("m1")])["error"]


def test_recover_again_makes_returning_managers_with_old_state_rejoin():
    # After a first recover on m1, m2 came back as a worker-like node of the new
    # cluster (active, no control plane) and m3 stayed pending, as seen on the lab.
    after = [node("m1", leader=True), node("m2", reach=None), node("m3", reach=None,
                                                                    state="down"),
             node("w1", manager=False)]
    managers = [survivor("m1", files=[WAL0], sees_leader=True, nodes=after),
                survivor("m2", files=[WAL0], control=False),
                survivor("m3", files=[WAL0], state="pending", cluster="")]
    plan = recover_f.swarm_recover_plan(managers)
    assert plan["error"] == "" and not plan["quorum_lost"]
    assert plan["leader"] == "backup-dev-m1"
    assert plan["stale"] == ["backup-dev-m2", "backup-dev-m3"]


def test_recover_leaves_a_foreign_swarm_alone():
    managers = [survivor("m1", files=[WAL0], sees_leader=True, nodes=healthy()),
                survivor("m2", files=[WAL0], sees_leader=True, nodes=healthy()),
                survivor("m3", control=False, cluster="someotherclusterid", node_id="x")]
    assert "quorum is not lost" in recover_f.swarm_recover_plan(managers)["error"]


def test_recover_replacement_host_at_a_lost_address():
    nodes = [node("m1", leader=True), node("m2"), node("m3", reach="unreachable", state="down")]
    managers = [survivor("m1", files=[WAL0], sees_leader=True, nodes=nodes),
                survivor("m2", files=[WAL0], sees_leader=True, nodes=nodes),
                survivor("m3", state="inactive", control=False, node_id="")]
    plan = recover_f.swarm_recover_plan(managers)
    assert plan["error"] == "" and plan["replaced"] == ["backup-dev-m3"]


def test_raft_key_reads_the_hex_names():
    key = recover_f.swarm_recover_raft_key([
        {"path": "/x/snap-v3-encrypted/0000000000000003-00000000000000ff.snap", "mtime": 5},
        {"path": "/x/wal-v3-encrypted/0000000000000001-0000000000000010.wal", "mtime": 9},
        {"path": "/x/wal-v3-encrypted/0.tmp", "mtime": 12},
    ])
    assert key == [3, 255, 1, 16, 12.0]


# --------------------------------------------------------------------------- cleanup

def test_duplicates_are_the_old_entries_of_rejoined_hosts():
    nodes = [node("m1", leader=True),
             node("m2", node_id="rdp4gqoulunddf6hr2r85lbs6"),  # m2 rejoined: new ID
             node("m2", reach=None, state="down"),              # its old entry
             node("w1", manager=False)]
    out = recover_f.swarm_recover_duplicates(nodes, [IDS["m1"], "rdp4gqoulunddf6hr2r85lbs6",
                                                     IDS["w1"]])
    assert out == [{"id": IDS["m2"], "hostname": "backup-dev-m2", "manager": True}]


def test_duplicates_keep_down_entries_of_hosts_that_are_not_back():
    nodes = [node("m1", leader=True), node("m2", reach=None, state="down"),
             node("w1", manager=False)]
    assert recover_f.swarm_recover_duplicates(nodes, [IDS["m1"], IDS["w1"]]) == []


# --------------------------------------------------------------------------- archives

def _archive(tmp_path: Path, meta: dict | None, members=("swarm/state.json",
                                                        "swarm/raft/x", "swarm/certificates/c")):
    path = tmp_path / "swarm-sfcf1dv4fe6k-20261201T222634Z.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name in members:
            data = b"x"
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if meta is not None:
            data = json.dumps(meta).encode()
            info = tarfile.TarInfo(META)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


META_OK = {"node_id": IDS["m3"], "node_addr": "10.213.2.13", "cluster_id": CLUSTER,
           "hostname": "backup-dev-m3", "host": "backup-dev-m3"}


def test_archive_check_accepts_a_good_archive(tmp_path):
    archive = check_archive(_archive(tmp_path, META_OK))
    assert archive.meta["node_addr"] == "10.213.2.13" and len(archive.sha256) == 64


@pytest.mark.parametrize("case", ["no-meta", "no-raft", "not-tar", "bad-sum", "missing"])
def test_archive_check_refuses(tmp_path, case):
    if case == "no-meta":
        path = _archive(tmp_path, None)
    elif case == "no-raft":
        path = _archive(tmp_path, META_OK, members=("swarm/state.json",))
    elif case == "not-tar":
        path = tmp_path / "x.tar.gz"
        path.write_bytes(b"not a tar")
    elif case == "bad-sum":
        path = _archive(tmp_path, META_OK)
        path.with_name(path.name + ".sha256").write_text("0" * 64 + "  x\n")
    else:
        path = tmp_path / "nothing.tar.gz"
    with pytest.raises(InputError) as exc:
        check_archive(path)
    assert str(path) in exc.value.message


def _inventory(tmp_path):
    inv = tmp_path / "inv.yml"
    inv.write_text("""all:
  children:
    swarm_managers:
      hosts:
        backup-dev-m1: {ansible_host: 10.213.2.11}
        backup-dev-m2: {ansible_host: 10.213.2.12}
        backup-dev-m3: {ansible_host: 10.213.2.13}
    swarm_workers:
      hosts:
        backup-dev-w1: {ansible_host: 10.213.2.101}
""")
    return load(inv)


def test_restore_target_is_the_manager_at_the_backups_address(tmp_path):
    assert restore_target(_inventory(tmp_path), META_OK).name == "backup-dev-m3"


def test_restore_refuses_another_address_naming_the_right_one(tmp_path):
    with pytest.raises(InputError) as exc:
        restore_target(_inventory(tmp_path), META_OK, on="backup-dev-m1")
    assert "restore on the manager with address 10.213.2.13" in exc.value.message


def test_restore_refuses_when_no_manager_has_the_address(tmp_path):
    meta = {**META_OK, "node_addr": "10.9.9.9", "host": "gone"}
    with pytest.raises(InputError) as exc:
        restore_target(_inventory(tmp_path), meta)
    assert "restore on a manager with address 10.9.9.9" in exc.value.message
