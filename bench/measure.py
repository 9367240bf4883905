"""Run a command and measure it: wall time, peak memory of its process tree, exit code."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Measured:
    """One command run: its exit code, output, seconds and memory."""

    argv: list[str]
    rc: int
    output: str
    seconds: float
    tree_peak_mib: float  # peak of the summed RSS of the process and its descendants
    largest_mib: float  # ru_maxrss of the largest single process of the tree
    cpu: float  # user + system seconds of the tree: steadier than wall time under load

    def check(self) -> Measured:
        if self.rc != 0:
            raise RuntimeError(f"{' '.join(self.argv)} failed (rc {self.rc}):\n"
                               f"{self.output[-2000:]}")
        return self


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def tree_rss(pid: int) -> int:
    """Bytes of RSS of `pid` and all its descendants, read from /proc."""
    kids = _children()
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * PAGE
        todo.extend(kids.get(p, []))
    return total


def run(argv: list[str], *, timeout: float = 3600, env: dict[str, str] | None = None,
        sample: bool = True) -> Measured:
    """Run argv to completion; sample its tree's memory every 0.25 s."""
    with tempfile.TemporaryFile() as out:
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "COLUMNS": "200", **(env or {})},
                                start_new_session=True)
        peak = 0
        done = threading.Event()

        def sampler() -> None:
            nonlocal peak
            while not done.wait(0.25):
                peak = max(peak, tree_rss(proc.pid))

        thread = threading.Thread(target=sampler, daemon=True)
        if sample:
            thread.start()
        timer = threading.Timer(timeout, lambda: os.killpg(proc.pid, signal.SIGKILL))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
            done.set()
        seconds = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if sample:
            thread.join()
        out.seek(0)
        output = out.read().decode(errors="replace")
    return Measured(argv, proc.returncode, output, seconds, peak / 2**20,
                    usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime)


def run_folder(output: str) -> Path | None:
    """The run folder that swarmctl names in its last line."""
    text = " ".join(output.split())
    marker = "Run folder: "
    if marker not in text:
        return None
    return Path(text.rsplit(marker, 1)[1].split()[0])


def changed_counts(run_dir: Path) -> dict[str, int]:
    """Per-host `changed` from the ansible-runner artifacts of a run (a converged re-run
    that ran no task records the hosts it compared in converged.json)."""
    skipped = run_dir / "converged.json"
    if skipped.is_file():
        return {h: v["changed"] for h, v in json.loads(skipped.read_text())["hosts"].items()}
    stats: dict[str, int] = {}
    for event_file in (run_dir / "artifacts").glob("*/job_events/*.json"):
        ev = json.loads(event_file.read_text())
        if ev.get("event") == "playbook_on_stats":
            stats = ev["event_data"].get("changed", {})
    return stats


def spread(values: list[float]) -> dict[str, float]:
    """median, min, max and n of a list of figures."""
    return {"median": round(statistics.median(values), 2), "min": round(min(values), 2),
            "max": round(max(values), 2), "n": len(values)}
