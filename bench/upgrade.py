"""Availability during a rolling engine upgrade, measured.

    python -m bench upgrade [--managers 3] [--workers 2] [--rounds 1]
    python bench/upgrade.py  ...                      # the same

Each round: a bookworm lab provisioned with the older containerd of Debian's archive
pinned (1.6.20~ds1-1+deb12u2, bookworm-security), my-web (2 replicas, host-mode
port 8080, at most one per node) deployed, then `swarmctl upgrade` to the newest
containerd (deb12u3, bookworm) while bench.load sends requests to every node's 8080,
moving to the next node when one does not answer. Prints requests sent and failed,
the longest gap without an answer, the upgrade's wall time, each node's time from
drain to restore, and how often the leader changed; then a second run (changes
expected: 0). The lab is removed afterwards (BENCH_KEEP_LABS=1 keeps it).

The results keep one row per lab shape: a run replaces the rows of its shape (3+2, say)
and keeps the others (3+1), each with the date and commit it was measured at.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/upgrade.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml

from bench import facts, measure
from bench.load import Load

OLD = "1.6.20~ds1-1+deb12u2"
SPEC = {"services": [{
    "name": "my-web", "image": "my-web:v1", "replicas": 2,
    "publish": [{"published": 8080, "target": 80, "mode": "host"}],
    "max_replicas_per_node": 1,
    "update_config": {"parallelism": 1, "delay": "1s", "monitor": "5s",
                      "failure_action": "rollback"},
}]}


def _inventories(the_lab, folder: Path) -> tuple[Path, Path]:
    inv = yaml.safe_load(the_lab.inventory_path.read_text())
    inv["all"]["vars"]["docker_engine_package_versions"] = {"containerd": OLD}
    old = folder / "old.yml"
    old.write_text(yaml.safe_dump(inv))
    del inv["all"]["vars"]["docker_engine_package_versions"]
    new = folder / "new.yml"
    new.write_text(yaml.safe_dump(inv))
    return old, new


def _report(output: str) -> dict[str, Any]:
    """The JSON report of `swarmctl upgrade --json` in a run's output (stderr mixed in)."""
    start = output.index('{\n  "changed"')
    return json.JSONDecoder().raw_decode(output[start:])[0]


def upgrade_round(name: str, managers: int, workers: int, interval: float) -> dict[str, Any]:
    from bench.__main__ import REPO, deploy_available, lab_down, lab_up, log, swarmctl_argv

    deploy_available()  # builds my-web:v1 when missing
    # this checkout's swarmctl when run from one (the installed one may be older)
    cli = [sys.executable, "-m", "swarmctl"] if (REPO / "swarmctl").is_dir() and \
        Path.cwd() == REPO else swarmctl_argv()
    the_lab = lab_up(name, managers, workers, "bookworm")
    fig: dict[str, Any] = {"nodes": f"{managers}+{workers}",
                           "load_before": facts.load_average()[0]}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-upgrade-") as tmp:
            old, new = _inventories(the_lab, Path(tmp))
            spec = Path(tmp) / "web.yml"
            spec.write_text(yaml.safe_dump(SPEC))
            measure.run([*cli, "provision", str(old)]).check()
            measure.run([*cli, "images", "load", "-i", str(old), "my-web:v1"]).check()
            measure.run([*cli, "deploy", "-i", str(old), str(spec)]).check()
            log(f"{name}: lab provisioned at containerd {OLD}, my-web deployed")
            addresses = [n.address for n in the_lab.nodes]
            with Load(addresses, port=8080, expect=b"my-web", count=500_000, duration=3600,
                      interval=interval, timeout=2) as load:
                started = time.monotonic()
                up = measure.run([*cli, "upgrade", str(new), "--json"]).check()
                fig["upgrade_seconds"] = round(time.monotonic() - started, 1)
            report = _report(up.output)
            again = measure.run([*cli, "upgrade", str(new), "--json"]).check()
            second = _report(again.output)
    finally:
        lab_down(name)
    r = load.result
    fig.update(sent=r.sent, failed=r.failed, longest_gap=round(r.longest_gap, 2),
               retries=r.attempts - r.sent, errors=dict(r.errors),
               answered_by=dict(r.answered_by), leader_changes=report["leader_changes"],
               per_node={n["host"]: n["seconds"] for n in report["nodes"]},
               changes={n["host"]: n["changes"] for n in report["nodes"]},
               second_run_seconds=round(again.seconds, 1), second_run_changed=second["changed"],
               load_after=facts.load_average()[0])
    return fig


def print_round(fig: dict[str, Any]) -> None:
    print(f"\nupgrade of a {fig['nodes']} lab under load "
          f"(load average {fig['load_before']:.1f} → {fig['load_after']:.1f}):")
    print(f"  requests sent {fig['sent']}, failed {fig['failed']}, longest gap without an "
          f"answer {fig['longest_gap']:.2f}s, retries on another node {fig['retries']}")
    print(f"  upgrade {fig['upgrade_seconds']:.1f}s, leader changed {fig['leader_changes']}x")
    for host, seconds in fig["per_node"].items():
        print(f"    {host:<24} {seconds if seconds is not None else '-':>6}s  "
              f"{fig['changes'][host]}")
    print(f"  second run {fig['second_run_seconds']:.1f}s, changed {fig['second_run_changed']}")


def earlier_rounds(results: Path, nodes: str) -> list[dict[str, Any]]:
    """The saved rounds of other lab shapes than `nodes`, each with its date."""
    try:
        saved = json.loads((results / "latest.json").read_text()).get("upgrade") or {}
    except (OSError, ValueError):
        return []
    return [{"date": saved.get("date"), **r} for r in saved.get("rounds", [])
            if r.get("nodes") != nodes]


def bench_upgrade(args: argparse.Namespace) -> dict[str, Any]:
    rounds = earlier_rounds(args.results, f"{args.managers}+{args.workers}")
    machine = facts.machine()
    for i in range(args.rounds):
        fig = upgrade_round(f"{args.prefix}-upg{i}", args.managers, args.workers,
                            args.interval)
        print_round(fig)
        rounds.append({"date": machine["date"], "commit": machine["git_commit"], **fig})
    return {"rounds": rounds}


def add_parser(sub) -> None:
    u = sub.add_parser("upgrade", help="rolling engine upgrade of a lab under load")
    u.add_argument("--managers", type=int, default=3)
    u.add_argument("--workers", type=int, default=2)
    u.add_argument("--rounds", type=int, default=1)
    u.add_argument("--interval", type=float, default=0.05,
                   help="seconds between two requests (default 0.05)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench/upgrade.py", description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", default="bench")
    parser.add_argument("--results", type=Path,
                        default=Path(__file__).resolve().parent / "results")
    add_parser(parser.add_subparsers(dest="command", required=False))
    args = parser.parse_args(["upgrade", *(argv if argv is not None else sys.argv[1:])])
    from bench.__main__ import save

    save("upgrade", bench_upgrade(args), args.results)


if __name__ == "__main__":
    main()
