"""Run-folder retention (swarmctl.ansible.runner): the newest N, at most D days old."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from swarmctl.ansible import runner
from swarmctl.errors import InputError

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _runs(tmp_path, ages_hours):
    runs = tmp_path / "runs"
    made = []
    for h in ages_hours:
        stamp = (NOW - timedelta(hours=h)).strftime("%Y%m%dT%H%M%S.%fZ")
        d = runs / f"{stamp}-provision"
        (d / "artifacts").mkdir(parents=True)
        made.append(d)
    return runs, made


def test_keeps_the_newest_n(tmp_path):
    runs, made = _runs(tmp_path, [1, 2, 3, 4, 5])
    removed = runner.prune_runs(runs, keep=3, days=0, now=NOW)
    assert sorted(removed) == sorted(made[3:])
    assert sorted(runs.iterdir()) == sorted(made[:3])


def test_removes_folders_older_than_d_days(tmp_path):
    runs, made = _runs(tmp_path, [1, 47, 49, 24 * 40])
    runner.prune_runs(runs, keep=None, days=2, now=NOW)
    assert sorted(runs.iterdir()) == sorted(made[:2])


def test_both_limits_apply_and_zero_switches_off(tmp_path):
    runs, made = _runs(tmp_path, [1, 2, 3, 24 * 40])
    runner.prune_runs(runs, keep=None, days=0, now=NOW)
    assert len(list(runs.iterdir())) == 4
    runner.prune_runs(runs, keep=2, days=30, now=NOW)
    assert sorted(runs.iterdir()) == sorted(made[:2])


def test_foreign_entries_stay(tmp_path):
    runs, _ = _runs(tmp_path, [1, 2])
    (runs / "notes").mkdir()
    (runs / "README").write_text("mine")
    runner.prune_runs(runs, keep=0, days=0, now=NOW)
    assert sorted(p.name for p in runs.iterdir()) == ["README", "notes"]


def test_new_run_dir_prunes_first_and_counts_itself(tmp_path, monkeypatch):
    monkeypatch.setenv("SWARMCTL_HOME", str(tmp_path))
    monkeypatch.setenv("SWARMCTL_KEEP_RUNS", "3")
    monkeypatch.delenv("SWARMCTL_KEEP_DAYS", raising=False)
    runs, made = _runs(tmp_path, [1, 2, 3, 4])
    new = runner.new_run_dir("check")
    assert sorted(runs.iterdir()) == sorted([new, *made[:2]])


def test_missing_runs_folder_is_fine(tmp_path):
    assert runner.prune_runs(tmp_path / "nothing", keep=1, days=1) == []


def test_defaults_and_bad_values(monkeypatch):
    monkeypatch.delenv("SWARMCTL_KEEP_RUNS", raising=False)
    monkeypatch.delenv("SWARMCTL_KEEP_DAYS", raising=False)
    assert runner.retention() == (runner.KEEP_RUNS, runner.KEEP_DAYS) == (50, 30)
    monkeypatch.setenv("SWARMCTL_KEEP_DAYS", "0.5")
    assert runner.retention() == (50, 0.5)
    for var, value in (("SWARMCTL_KEEP_RUNS", "-1"), ("SWARMCTL_KEEP_RUNS", "2.5"),
                       ("SWARMCTL_KEEP_DAYS", "week")):
        monkeypatch.setenv(var, value)
        with pytest.raises(InputError, match=var):
            runner.retention()
        monkeypatch.delenv(var)
