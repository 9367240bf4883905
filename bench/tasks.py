"""Where a run's time went: seconds per play and per task, from its run folder.

    python -m bench.tasks RUN_FOLDER [--top 15]

Reads the ansible-runner events of a swarmctl run (`Run folder: ...` in its output) and
prints the slowest tasks (from a task's start to the next task's start, i.e. including
waiting for the slowest host) and each play's total.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path


def _events(run_dir: Path) -> list[dict]:
    events = []
    for path in (run_dir / "artifacts").glob("*/job_events/*.json"):
        events.append(json.loads(path.read_text()))
    return sorted(events, key=lambda e: e.get("counter", 0))


def _ts(ev: dict) -> float:
    return datetime.fromisoformat(ev["created"]).timestamp()


def timeline(run_dir: Path) -> tuple[list[tuple[str, str, float]], list[tuple[str, float]]]:
    """([(play, task, seconds)], [(play, seconds)]) in run order."""
    events = _events(run_dir)
    marks = [(e["event"], e.get("event_data", {}), _ts(e)) for e in events
             if e.get("event") in ("playbook_on_play_start", "playbook_on_task_start",
                                   "playbook_on_stats")]
    tasks, plays = [], []
    play, play_start = "", None
    for i, (kind, data, ts) in enumerate(marks):
        nxt = marks[i + 1][2] if i + 1 < len(marks) else ts
        if kind == "playbook_on_play_start":
            if play_start is not None:
                plays.append((play, ts - play_start))
            play, play_start = data.get("play", ""), ts
        elif kind == "playbook_on_task_start":
            tasks.append((play, data.get("task", ""), nxt - ts))
        elif play_start is not None:
            plays.append((play, ts - play_start))
    return tasks, plays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    tasks, plays = timeline(args.run_dir)
    print("plays:")
    for play, secs in plays:
        print(f"  {secs:6.1f}s  {play}")
    print(f"  {sum(s for _, s in plays):6.1f}s  total")
    print(f"slowest {args.top} tasks:")
    for play, task, secs in sorted(tasks, key=lambda t: -t[2])[:args.top]:
        print(f"  {secs:6.1f}s  {task}  [{play}]")


if __name__ == "__main__":
    main()
