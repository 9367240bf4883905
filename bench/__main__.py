"""Benchmark swarmctl on local lab nodes and write the figures to bench/results/.

    python -m bench provision [--rounds 3]     # 3+2 bare → swarm (+ my-web) vs the SSH floor
    python -m bench scale --nodes 5,10,20,40   # provision time by node count
    python -m bench startup                    # `swarmctl --help` start-up time
    python -m bench upgrade [--workers 1]      # rolling engine upgrade under load
    python -m bench faults [--only a,b]        # faults injected into one lab under load
    python -m bench all                        # the three above (scale stops at 20)
    python -m bench                            # same as `all` (what `make bench` runs)

Each figure is the median of its rounds, printed with min and max. Every round starts a
fresh lab and removes it afterwards. Results: bench/results/latest.{json,md}; each
subcommand replaces its own section and keeps the others.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import baseline, facts, measure
from bench.measure import spread

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
IMAGE = "my-web:v1"
SPEC = REPO / "examples" / "my-web" / "lab-v1-x3.yml"


def swarmctl_argv() -> list[str]:
    """The swarmctl a user of this Python runs (the entry point script when installed)."""
    script = Path(sys.executable).parent / "swarmctl"
    return [str(script)] if script.exists() else [sys.executable, "-m", "swarmctl"]


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} load {facts.load_average()[0]:.1f}] {text}",
          flush=True)


def fmt(s: dict[str, float], unit: str = "s") -> str:
    if s["n"] == 1:
        return f"{s['median']:.1f}{unit}"
    return f"{s['median']:.1f}{unit} (min {s['min']:.1f}, max {s['max']:.1f}, n={s['n']})"


# --------------------------------------------------------------------------- labs


def lab_up(name: str, managers: int, workers: int, distro: str):
    from swarmctl.lab import lab

    lab.down(name)
    started = time.monotonic()
    the_lab = lab.up(name, managers, workers, distro)
    log(f"lab {name}: {managers}+{workers} nodes up in {time.monotonic() - started:.1f}s")
    return the_lab


def lab_down(name: str) -> None:
    from swarmctl.lab import lab

    if os.environ.get("BENCH_KEEP_LABS"):
        return
    lab.down(name)


def deploy_available() -> bool:
    if not SPEC.exists():
        return False
    try:
        import swarmctl.cli.workloads  # noqa: F401
    except ImportError:
        return False
    have = subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True,
                          check=False).returncode == 0
    if not have:
        subprocess.run([str(REPO / "examples" / "my-web" / "build-image.sh")], check=True)
    return True


# --------------------------------------------------------------------------- rounds


def swarmctl_round(name: str, distro: str, managers: int, workers: int, *, deploy: bool,
                   reruns: int) -> dict[str, Any]:
    """Bare lab → `swarmctl provision` (→ images load + deploy), then re-runs."""
    the_lab = lab_up(name, managers, workers, distro)
    inv = str(the_lab.inventory_path)
    cli = swarmctl_argv()
    fig: dict[str, Any] = {"load_before": facts.load_average()[0]}
    try:
        first = measure.run([*cli, "provision", inv]).check()
        run_dir = measure.run_folder(first.output)
        fig.update(provision=first.seconds, cpu=first.cpu, tree_peak_mib=first.tree_peak_mib,
                   largest_mib=first.largest_mib, run_dir=str(run_dir),
                   changed=sum(measure.changed_counts(run_dir).values()) if run_dir else None)
        fig["reruns"] = []
        # Re-runs first: the converged swarm, before any workload is deployed.
        for _ in range(reruns):
            again = measure.run([*cli, "provision", inv]).check()
            again_dir = measure.run_folder(again.output)
            changed = sum(measure.changed_counts(again_dir).values()) if again_dir else None
            fig["reruns"].append({"seconds": again.seconds, "cpu": again.cpu,
                                  "changed": changed,
                                  "run_dir": str(again_dir)})
            log(f"swarmctl {name}: re-run {again.seconds:.1f}s (controller CPU "
                f"{again.cpu:.1f}s), changed={changed}")
        total = first.seconds
        if deploy:
            load = measure.run([*cli, "images", "load", "-i", inv, IMAGE]).check()
            dep = measure.run([*cli, "deploy", "-i", inv, str(SPEC)]).check()
            fig.update(image_load=load.seconds, deploy=dep.seconds)
            total += load.seconds + dep.seconds
        fig["total"] = total
        log(f"swarmctl {name}: provision {first.seconds:.1f}s"
            + (f" + images load {fig['image_load']:.1f}s + deploy {fig['deploy']:.1f}s"
               if deploy else "") + f", controller CPU {first.cpu:.1f}s, peak tree RSS "
            f"{first.tree_peak_mib:.0f} MiB")
    finally:
        lab_down(name)
    fig["load_after"] = facts.load_average()[0]
    return fig


def baseline_round(name: str, distro: str, managers: int, workers: int, *,
                   deploy: bool) -> dict[str, Any]:
    the_lab = lab_up(name, managers, workers, distro)
    fig: dict[str, Any] = {"load_before": facts.load_average()[0]}
    try:
        steps = baseline.run(the_lab.inventory_path, IMAGE if deploy else None)
    finally:
        lab_down(name)
    fig.update(steps)
    fig["load_after"] = facts.load_average()[0]
    log(f"baseline {name}: " + "  ".join(f"{k} {v:.1f}s" for k, v in steps.items()))
    return fig


# --------------------------------------------------------------------------- benchmarks


def bench_provision(args: argparse.Namespace) -> dict[str, Any]:
    """3 managers + 2 workers: swarmctl vs the parallel-SSH floor, interleaved."""
    deploy = not args.no_deploy and deploy_available()
    ours, floor = [], []
    for i in range(args.rounds):
        # Alternate the order so that load drifting over the run hits both sides alike.
        order = ("base", "ctl") if i % 2 == 0 else ("ctl", "base")
        for side in order:
            if side == "base":
                floor.append(baseline_round(f"{args.prefix}-base", args.distro, 3, 2,
                                            deploy=deploy))
            else:
                ours.append(swarmctl_round(f"{args.prefix}-ctl", args.distro, 3, 2,
                                           deploy=deploy, reruns=args.reruns))
    ratios = [o["total"] / f["total"] for o, f in zip(ours, floor, strict=True)]
    reruns = [r for o in ours for r in o["reruns"]]
    result = {
        "nodes": "3 managers + 2 workers",
        "with_deploy": deploy,
        "swarmctl_total": spread([o["total"] for o in ours]),
        "swarmctl_provision": spread([o["provision"] for o in ours]),
        "swarmctl_provision_cpu": spread([o["cpu"] for o in ours]),
        "baseline_total": spread([f["total"] for f in floor]),
        "ratio": spread(ratios),
        "rerun_seconds": spread([r["seconds"] for r in reruns]) if reruns else None,
        "rerun_cpu": spread([r["cpu"] for r in reruns]) if reruns else None,
        "rerun_changed": sorted({r["changed"] for r in reruns}, key=str) if reruns else None,
        "first_run_changed": [o["changed"] for o in ours],
        "controller_tree_peak_mib": spread([o["tree_peak_mib"] for o in ours]),
        "load_average": spread([x for r in ours + floor
                                for x in (r["load_before"], r["load_after"])]),
        "rounds": {"swarmctl": ours, "baseline": floor},
    }
    if deploy:
        result["swarmctl_deploy"] = spread([o["image_load"] + o["deploy"] for o in ours])
        result["baseline_deploy"] = spread([f["image_load"] + f["service"] for f in floor])
    print(f"\nprovision 3+2{' + my-web' if deploy else ''}, {args.rounds} round(s):")
    print(f"  swarmctl {fmt(result['swarmctl_total'])}")
    print(f"  baseline {fmt(result['baseline_total'])}")
    print(f"  ratio    {fmt(result['ratio'], 'x')}")
    if reruns:
        print(f"  re-run   {fmt(result['rerun_seconds'])}, changed {result['rerun_changed']}")
    return result


def bench_scale(args: argparse.Namespace) -> dict[str, Any]:
    """Provision time by node count (3 managers, the rest workers).

    The section is saved after each node count, so that a long run that fails at 40
    nodes keeps the figures of the smaller counts (and says what failed).
    """
    points: list[dict[str, Any]] = []
    for n in (int(x) for x in args.nodes.split(",")):
        try:
            points.append(scale_point(args, n))
        except RuntimeError as exc:
            log(f"{n} nodes failed: {exc}")
            points.append({"nodes": n, "error": str(exc).splitlines()[0][:300]})
        save("scale", {"points": points}, args.results)
    return {"points": points}


def scale_point(args: argparse.Namespace, n: int) -> dict[str, Any]:
    """One node count of the scale curve: its rounds, and the floor's when asked."""
    managers = min(3, n)
    runs, bases = [], []
    for _ in range(args.rounds):
        if args.with_baseline:
            bases.append(baseline_round(f"{args.prefix}-s{n}b", args.distro, managers,
                                        n - managers, deploy=False))
        runs.append(swarmctl_round(f"{args.prefix}-s{n}", args.distro, managers,
                                   n - managers, deploy=False, reruns=args.reruns))
    forks = min(n, 50)
    point = {
        "nodes": n, "forks": forks,
        "provision": spread([r["provision"] for r in runs]),
        "per_node": spread([r["provision"] / n for r in runs]),
        "cpu": spread([r["cpu"] for r in runs]),
        "controller_tree_peak_mib": spread([r["tree_peak_mib"] for r in runs]),
        "largest_process_mib": spread([r["largest_mib"] for r in runs]),
        "rerun": spread([x["seconds"] for r in runs for x in r["reruns"]])
        if args.reruns else None,
        "rerun_changed": sorted({x["changed"] for r in runs for x in r["reruns"]}, key=str),
        "baseline": spread([b["total"] for b in bases]) if bases else None,
        "load_average": spread([x for r in runs for x in (r["load_before"],
                                                           r["load_after"])]),
        "rounds": runs, "baseline_rounds": bases,
    }
    print(f"\n{n} nodes: provision {fmt(point['provision'])}, "
          f"{point['per_node']['median']:.1f}s/node, controller peak "
          f"{point['controller_tree_peak_mib']['median']:.0f} MiB"
          + (f", baseline {fmt(point['baseline'])}" if bases else ""))
    return point


def bench_startup(args: argparse.Namespace) -> dict[str, Any]:
    """`swarmctl --help` start-up time, next to a bare `python -c pass`."""
    cli = swarmctl_argv()
    result = {}
    for label, argv in (("python -c pass", [sys.executable, "-c", "pass"]),
                        ("swarmctl --version", [*cli, "--version"]),
                        ("swarmctl --help", [*cli, "--help"])):
        runs = [measure.run(argv, sample=False).check() for _ in range(args.runs)]
        result[label] = spread([r.seconds * 1000 for r in runs])
        result[f"{label} (CPU)"] = spread([r.cpu * 1000 for r in runs])
        print(f"  {label:<20} {fmt(result[label], ' ms')}, CPU "
              f"{fmt(result[f'{label} (CPU)'], ' ms')}")
    result["load_average"] = facts.load_average()
    return result


# --------------------------------------------------------------------------- results


def save(section: str, data: dict[str, Any], results: Path) -> None:
    results.mkdir(parents=True, exist_ok=True)
    path = results / "latest.json"
    doc = json.loads(path.read_text()) if path.exists() else {}
    doc["machine"] = facts.machine()
    doc[section] = {"date": doc["machine"]["date"], **data}
    path.write_text(json.dumps(doc, indent=2) + "\n")
    (results / "latest.md").write_text(markdown(doc))
    print(f"\nwrote {path} and latest.md")


def markdown(doc: dict[str, Any]) -> str:
    """The results as Markdown tables (what the README shows)."""
    from bench.report import render

    return render(doc)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", default="bench",
                        help="lab name prefix (default bench)")
    parser.add_argument("--distro", default="bookworm")
    parser.add_argument("--results", type=Path, default=RESULTS)
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("provision", help="3+2 bare → swarm (+ my-web) vs the parallel-SSH floor")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--reruns", type=int, default=3, help="idempotent re-runs per round")
    p.add_argument("--no-deploy", action="store_true", help="provision only, no my-web")
    s = sub.add_parser("scale", help="provision time for several node counts")
    s.add_argument("--nodes", default="5,10,20")
    s.add_argument("--rounds", type=int, default=1)
    s.add_argument("--reruns", type=int, default=1)
    s.add_argument("--with-baseline", action="store_true")
    t = sub.add_parser("startup", help="`swarmctl --help` start-up time")
    t.add_argument("--runs", type=int, default=10)
    a = sub.add_parser("all", help="provision, scale (5,10,20) and startup")
    a.add_argument("--rounds", type=int, default=3)
    a.add_argument("--reruns", type=int, default=3)
    a.add_argument("--no-deploy", action="store_true")
    a.add_argument("--nodes", default="5,10,20")
    a.add_argument("--runs", type=int, default=10)
    from bench import autoscale, faults, upgrade

    upgrade.add_parser(sub)
    autoscale.add_parser(sub)
    faults.add_parser(sub)
    args = parser.parse_args(argv)
    if args.command is None:  # `python -m bench` (`make bench`): everything, defaults
        args = parser.parse_args([*(argv if argv is not None else sys.argv[1:]), "all"])
    if shutil.which("ssh") is None:
        sys.exit("bench needs the ssh client")
    log(f"machine: {json.dumps(facts.machine())}")
    if args.command in ("startup", "all"):
        save("startup", bench_startup(args), args.results)
    if args.command in ("provision", "all"):
        save("provision", bench_provision(args), args.results)
    if args.command == "upgrade":
        save("upgrade", upgrade.bench_upgrade(args), args.results)
    if args.command == "autoscale":
        save("autoscale", autoscale.bench_autoscale(args), args.results)
    if args.command == "faults":
        save("faults", faults.bench_faults(args), args.results)
    if args.command in ("scale", "all"):
        if args.command == "all":
            args.rounds, args.reruns, args.with_baseline = 1, 1, False
        bench_scale(args)  # saves after each node count


if __name__ == "__main__":
    main()
