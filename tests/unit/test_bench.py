"""The benchmark's pure logic: figures, inventory reading, report rendering (no hosts)."""

from __future__ import annotations

import json
from pathlib import Path

from bench import baseline, measure, report, tasks


def test_spread_is_median_min_max_and_count():
    assert measure.spread([3.0, 1.0, 2.0, 10.0]) == {"median": 2.5, "min": 1.0, "max": 10.0,
                                                       "n": 4}


def test_run_measures_a_real_command_and_its_exit_code():
    ok = measure.run(["sh", "-c", "echo hello; exit 0"], sample=False)
    assert (ok.rc, ok.output.strip()) == (0, "hello")
    assert ok.seconds > 0 and ok.cpu >= 0
    failed = measure.run(["sh", "-c", "exit 3"], sample=False)
    assert failed.rc == 3


def test_run_folder_is_read_from_the_last_line_even_when_wrapped():
    out = "✓ swarm of 5 nodes converged in 9.1s (0 changes). Run folder:\n/x/runs/2026-provision\n"
    assert measure.run_folder(out) == Path("/x/runs/2026-provision")
    assert measure.run_folder("no folder here") is None


def test_baseline_reads_the_lab_inventory_connection_settings(tmp_path):
    inv = tmp_path / "inventory.yml"
    inv.write_text("""
all:
  vars:
    ansible_user: swarm
    ansible_ssh_private_key_file: /k/id
    ansible_ssh_common_args: -o StrictHostKeyChecking=no
  children:
    swarm_managers:
      hosts:
        m1: {ansible_host: 10.0.0.11}
    swarm_workers:
      hosts:
        w1: {ansible_host: 10.0.0.101, ansible_user: other}
""")
    managers, workers = baseline.hosts_from(inv)
    assert managers == [baseline.Host("m1", "10.0.0.11", "swarm", "/k/id",
                                      "-o StrictHostKeyChecking=no")]
    assert workers[0].user == "other" and workers[0].address == "10.0.0.101"


def test_changed_counts_and_timeline_come_from_the_run_artifacts(tmp_path):
    events = tmp_path / "artifacts" / "run" / "job_events"
    events.mkdir(parents=True)
    stream = [
        ("playbook_on_play_start", {"play": "Install"}, "2026-01-01T00:00:00+00:00"),
        ("playbook_on_task_start", {"task": "apt"}, "2026-01-01T00:00:01+00:00"),
        ("playbook_on_task_start", {"task": "service"}, "2026-01-01T00:00:31+00:00"),
        ("playbook_on_stats", {"changed": {"m1": 2, "w1": 1}}, "2026-01-01T00:00:33+00:00"),
    ]
    for i, (kind, data, created) in enumerate(stream):
        (events / f"{i}.json").write_text(json.dumps(
            {"counter": i, "event": kind, "event_data": data, "created": created}))
    assert measure.changed_counts(tmp_path) == {"m1": 2, "w1": 1}
    steps, plays = tasks.timeline(tmp_path)
    assert steps == [("Install", "apt", 30.0), ("Install", "service", 2.0)]
    assert plays == [("Install", 33.0)]


def test_report_renders_every_section_it_has():
    s = {"median": 10.0, "min": 9.0, "max": 12.0, "n": 3}
    doc = {
        "machine": {"cores": 2, "memory_gib": 23.5, "distro": "Debian", "kernel": "6.1",
                    "docker_engine": "20.10", "ansible_core": "2.19", "swarmctl": "0.1",
                    "git_commit": "abc"},
        "provision": {"date": "d", "nodes": "3 managers + 2 workers", "with_deploy": False,
                      "swarmctl_total": s, "swarmctl_provision": s, "baseline_total": s,
                      "ratio": {"median": 1.2, "min": 1.1, "max": 1.3, "n": 3},
                      "rerun_seconds": s, "rerun_changed": [0], "load_average": s},
        "startup": {"date": "d", "swarmctl --help": {"median": 300, "min": 250, "max": 400,
                                                     "n": 10}},
    }
    text = report.render(doc)
    assert "| 2 | 23.5 GiB | Debian |" in text
    assert "**1.20x (1.10-1.30, n=3)**" in text
    assert "changed = 0" in text
    assert "| `swarmctl --help`, wall | 300 ms (250-400, n=10) |" in text
    assert "Scale" not in text


def test_upgrade_rows_of_other_lab_shapes_are_kept_with_their_date(tmp_path):
    from bench import upgrade

    row = {"nodes": "3+1", "load_before": 4.6, "upgrade_seconds": 59.5, "sent": 1026,
           "failed": 0, "longest_gap": 0.32, "leader_changes": 1,
           "per_node": {"lab-m2": 10.7, "lab-w1": 7.4}, "second_run_seconds": 10.0,
           "second_run_changed": 0, "load_after": 10.0}
    (tmp_path / "latest.json").write_text(json.dumps(
        {"upgrade": {"date": "2026-12-01 23:42 UTC", "rounds": [row]}}))
    assert upgrade.earlier_rounds(tmp_path, "3+2") == [{"date": "2026-12-01 23:42 UTC", **row}]
    assert upgrade.earlier_rounds(tmp_path, "3+1") == []
    assert upgrade.earlier_rounds(tmp_path / "none", "3+2") == []
    new = {**row, "nodes": "3+2", "date": "2026-12-03 09:00 UTC", "commit": "abc1234"}
    text = report.render({"machine": {}, "upgrade": {
        "date": "2026-12-03 09:00 UTC",
        "rounds": [*upgrade.earlier_rounds(tmp_path, "3+2"), new]}})
    assert "| 3+1 | 2026-12-01 23:42 UTC | 1026 | 0 | 0.32 s | 60 s | m2 11 s, w1 7 s |" in text
    assert "| 3+2 | 2026-12-03 09:00 UTC, abc1234 | 1026 |" in text


def test_the_rerun_section_shows_each_kind_side_by_side(tmp_path):
    s = {"median": 1.5, "min": 1.2, "max": 1.9, "n": 3}
    full = {"median": 20.0, "min": 19.0, "max": 22.0, "n": 3}
    kind = {"seconds": s, "cpu": s, "changed": [0], "skipped": [True]}
    walked = {"seconds": full, "cpu": full, "changed": [0], "skipped": [False]}
    doc = {"machine": {}, "rerun": {
        "date": "d", "baseline_src": "/tmp/base",
        "first": {"nodes": 5, "ours": {"seconds": full, "cpu": full},
                  "baseline": {"seconds": full, "cpu": full},
                  "ratio": {"median": 1.01, "min": 0.98, "max": 1.04, "n": 3}},
        "points": [{"nodes": 5, "first": {"seconds": 70.0}, "load": [3.0, 2.0, 1.0],
                    "rerun": kind, "full": walked, "baseline": walked}]}}
    text = report.render(doc)
    assert "| 5 | 70.0 s | 1.5 s (1.2-1.9, n=3) | 1.5 s (1.2-1.9, n=3) | " \
        "20.0 s (19.0-22.0, n=3) |" in text
    assert "ratio 1.01x (0.98-1.04, n=3)" in text
    # a converged re-run's run folder holds converged.json instead of ansible artifacts
    (tmp_path / "converged.json").write_text(json.dumps(
        {"skipped": True, "changed": 0, "hosts": {"m1": {"changed": 0}}}))
    assert measure.changed_counts(tmp_path) == {"m1": 0}
