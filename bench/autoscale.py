"""Benchmark autoscaling: reaction times of the in-swarm autoscaler and its own cost.

    python -m bench autoscale [--managers 1] [--workers 2] [--rounds 1]

On a fresh lab, examples/autoscale's cpu-web (1..4 tasks, cpu 50 % of a 0.05 CPU
reservation, scale-down window 30 s, cool-down 10 s, a round every 5 s) is put under a
bounded load (4 loops from this process to the nodes' host-mode ports, at most 75 s).
Printed: seconds from the load's start to the first scale-up and to the peak count, from
the load's end back to min (the window is part of it, by design), the requests sent and
failed, and the controller's and agents' CPU and memory (docker stats on their nodes).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import facts, measure
from bench.load import Load

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "autoscale"


def _replicas(container: str) -> int:
    out = subprocess.run(["docker", "exec", container, "docker", "service", "inspect",
                          "cpu-web", "--format", "{{.Spec.Mode.Replicated.Replicas}}"],
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip())


def _cost(the_lab) -> dict[str, Any]:
    """CPU % and memory of the autoscaler's containers, per node (one docker stats)."""
    out: dict[str, Any] = {}
    for node in the_lab.nodes:
        proc = subprocess.run(
            ["docker", "exec", node.container, "docker", "stats", "--no-stream", "--format",
             "{{json .}}"], capture_output=True, text=True, check=False)
        for line in proc.stdout.splitlines():
            row = json.loads(line)
            if "swarmctl-autoscaler" in row.get("Name", ""):
                kind = "agent" if "agent" in row["Name"] else "controller"
                out.setdefault(kind, []).append({"node": node.name, "cpu": row["CPUPerc"],
                                                 "memory": row["MemUsage"].split(" /")[0]})
    return out


def autoscale_round(name: str, managers: int, workers: int) -> dict[str, Any]:
    from bench.__main__ import REPO, lab_down, lab_up, log, swarmctl_argv

    cli = [sys.executable, "-m", "swarmctl"] if (REPO / "swarmctl").is_dir() and \
        Path.cwd() == REPO else swarmctl_argv()
    subprocess.run([str(EXAMPLE / "build-image.sh")], check=True, capture_output=True)
    the_lab = lab_up(name, managers, workers, "bookworm")
    manager = the_lab.managers[0].container
    fig: dict[str, Any] = {"nodes": f"{managers}+{workers}",
                           "load_before": facts.load_average()[0]}
    try:
        inv = str(the_lab.inventory_path)
        measure.run([*cli, "provision", inv]).check()
        measure.run([*cli, "images", "load", "-i", inv, "cpu-web:v1"]).check()
        first = measure.run([*cli, "deploy", "-i", inv, str(EXAMPLE / "cpu-web.yml")])
        first.check()
        fig["first_deploy_seconds"] = round(first.seconds, 1)
        log(f"{name}: provisioned, cpu-web deployed with its autoscaler")
        time.sleep(10)  # a few idle rounds
        fig["cost_idle"] = _cost(the_lab)
        hosts = [n.address for n in the_lab.nodes]
        loads = [Load(hosts[i:] + hosts[:i], port=8090, path="/cgi-bin/work",
                      expect=b"worked", count=3000, duration=75, interval=0,
                      timeout=5).start() for i in range(4)]
        started, first_up, peak, peak_at = time.monotonic(), None, 1, None
        while time.monotonic() - started < 75:
            count = _replicas(manager)
            if count > 1 and first_up is None:
                first_up = time.monotonic() - started
            if count > peak:
                peak, peak_at = count, time.monotonic() - started
            time.sleep(1)
            if time.monotonic() - started > 50 and "cost_loaded" not in fig:
                fig["cost_loaded"] = _cost(the_lab)
        results = [load.stop() for load in loads]
        # the loads stop by themselves (duration): count from their actual end
        ended, back = started + max(r.duration for r in results), None
        while time.monotonic() - ended < 180:
            if _replicas(manager) == 1:
                back = time.monotonic() - ended
                break
            time.sleep(1)
        again = measure.run([*cli, "deploy", "-i", inv, str(EXAMPLE / "cpu-web.yml")]).check()
        fig.update(first_scale_up_seconds=first_up and round(first_up, 1), peak=peak,
                   peak_seconds=peak_at and round(peak_at, 1),
                   back_at_min_seconds=back and round(back, 1),
                   sent=sum(r.sent for r in results), failed=sum(r.failed for r in results),
                   redeploy_changed=sum(measure.changed_counts(measure.run_folder(
                       again.output)).values()) if measure.run_folder(again.output) else None,
                   load_after=facts.load_average()[0])
    finally:
        lab_down(name)
    return fig


def print_round(fig: dict[str, Any]) -> None:
    print(f"\nautoscaling cpu-web on a {fig['nodes']} lab "
          f"(load average {fig['load_before']:.1f} → {fig['load_after']:.1f}):")
    print(f"  load start → first scale-up {fig['first_scale_up_seconds']}s, → peak "
          f"{fig['peak']} tasks {fig['peak_seconds']}s; load end → back at min "
          f"{fig['back_at_min_seconds']}s (scale-down window 30s)")
    print(f"  requests sent {fig['sent']}, failed {fig['failed']}; re-deploy changed "
          f"{fig['redeploy_changed']}; first deploy {fig['first_deploy_seconds']}s")
    for phase in ("cost_idle", "cost_loaded"):
        for kind, rows in fig[phase].items():
            print(f"  {phase[5:]:<6} {kind:<10} " + ", ".join(
                f"{r['node']}: {r['cpu']} {r['memory']}" for r in rows))


def bench_autoscale(args: argparse.Namespace) -> dict[str, Any]:
    rounds = []
    for i in range(args.rounds):
        fig = autoscale_round(f"{args.prefix}-as{i}", args.managers, args.workers)
        print_round(fig)
        rounds.append(fig)
    return {"rounds": rounds}


def add_parser(sub) -> None:
    a = sub.add_parser("autoscale", help="autoscaler reaction times under a bounded load")
    a.add_argument("--managers", type=int, default=1)
    a.add_argument("--workers", type=int, default=2)
    a.add_argument("--rounds", type=int, default=1)
