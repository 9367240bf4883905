"""A converged re-run, by node count: the one-read re-run next to every task walked.

    python -m bench.rerun --nodes 5,10,20,40 [--rounds 3] [--baseline-src DIR [--first N]]

For each node count (3 managers, the rest workers): a fresh lab, one `provision`
(measured: the first build), then rounds that alternate, on the same converged swarm,
`provision` (the converged re-run: one read, no playbook), `provision --full` (every
task, as every re-run did before the stamp) and, with --baseline-src, the `provision` of
another checkout (e.g. `git worktree add /tmp/base <commit>`: the code before the
change, run from its own folder with this Python). Wall time and the controller's CPU
(user+sys of swarmctl and its children), medians (min-max), and whether each re-run
changed nothing. With --first N, N first builds of fresh labs first, ours and the
baseline's alternating. Writes the `rerun` section of bench/results/latest.json and latest.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench import facts, measure
from bench.__main__ import RESULTS, lab_down, lab_up, log, save
from bench.measure import spread

REPO = Path(__file__).resolve().parent.parent


def _cli(src: Path) -> list[str]:
    """swarmctl from a checkout: `python -m swarmctl` run in that folder."""
    return [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(src)!r}); "
            "from swarmctl.cli import main; sys.argv[0] = 'swarmctl'; main()"]


def _run(argv: list[str]) -> dict[str, Any]:
    got = measure.run(argv).check()
    run_dir = measure.run_folder(got.output)
    changed = sum(measure.changed_counts(run_dir).values()) if run_dir else None
    fast = "no task ran" in " ".join(got.output.split())
    return {"seconds": round(got.seconds, 2), "cpu": round(got.cpu, 2), "changed": changed,
            "skipped": fast}


def point(n: int, rounds: int, baseline: Path | None, prefix: str, distro: str
          ) -> dict[str, Any]:
    managers = min(3, n)
    name = f"{prefix}-r{n}"
    the_lab = lab_up(name, managers, n - managers, distro)
    inv = str(the_lab.inventory_path)
    ours = _cli(REPO)
    kinds: dict[str, list[dict[str, Any]]] = {"rerun": [], "full": []}
    if baseline:
        kinds["baseline"] = []
    try:
        first = _run([*ours, "provision", inv])
        log(f"{n} nodes: first provision {first['seconds']:.1f}s (CPU {first['cpu']:.1f}s)")
        for i in range(rounds):
            for kind in kinds:
                argv = {"rerun": [*ours, "provision", inv],
                        "full": [*ours, "provision", "--full", inv],
                        "baseline": [*_cli(baseline), "provision", inv] if baseline else []}[kind]
                got = _run(argv)
                kinds[kind].append(got)
                log(f"{n} nodes, round {i + 1}: {kind} {got['seconds']:.1f}s "
                    f"(CPU {got['cpu']:.1f}s), changed={got['changed']}, "
                    f"skipped={got['skipped']}")
            # `--full` leaves a new stamp and the baseline none: the next plain re-run
            # of the round after a baseline run walks every task once more. Re-stamp.
            if baseline:
                _run([*ours, "provision", "--full", inv])
    finally:
        lab_down(name)
    result: dict[str, Any] = {"nodes": n, "first": first, "load": facts.load_average()}
    for kind, runs in kinds.items():
        result[kind] = {"seconds": spread([r["seconds"] for r in runs]),
                        "cpu": spread([r["cpu"] for r in runs]),
                        "changed": sorted({r["changed"] for r in runs}, key=str),
                        "skipped": sorted({r["skipped"] for r in runs})}
    return result


def first_builds(n: int, rounds: int, baseline: Path, prefix: str, distro: str
                 ) -> dict[str, Any]:
    """First provisioning of fresh labs of n nodes, ours and the baseline's alternating
    (the stamp's play must not make the first build slower)."""
    managers = min(3, n)
    found: dict[str, list[dict[str, Any]]] = {"ours": [], "baseline": []}
    for i in range(rounds):
        for kind, src in (("ours", REPO), ("baseline", baseline)):
            name = f"{prefix}-f{n}"
            the_lab = lab_up(name, managers, n - managers, distro)
            try:
                got = _run([*_cli(src), "provision", str(the_lab.inventory_path)])
            finally:
                lab_down(name)
            found[kind].append(got)
            log(f"{n} nodes, first build {i + 1}: {kind} {got['seconds']:.1f}s "
                f"(CPU {got['cpu']:.1f}s)")
    ratios = [o["seconds"] / b["seconds"] for o, b in zip(found["ours"], found["baseline"],
                                                          strict=True)]
    return {"nodes": n, "ratio": spread(ratios), "load": facts.load_average(),
            **{k: {"seconds": spread([r["seconds"] for r in v]),
                   "cpu": spread([r["cpu"] for r in v])} for k, v in found.items()}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.rerun",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="5,10,20,40")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline-src", type=Path, default=None,
                        help="a checkout of the code to compare with (run from there)")
    parser.add_argument("--first", type=int, default=0,
                        help="with --baseline-src: also N first builds of each, "
                        "alternating, at the smallest node count")
    parser.add_argument("--prefix", default="bench")
    parser.add_argument("--distro", default="bookworm")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    counts = [int(x) for x in args.nodes.split(",")]
    # Node counts measured before and not now are kept (a long curve in several runs).
    latest = args.results / "latest.json"
    earlier = json.loads(latest.read_text()).get("rerun", {}) if latest.exists() else {}
    points: list[dict[str, Any]] = [p for p in earlier.get("points", [])
                                    if p["nodes"] not in counts]
    data: dict[str, Any] = {"points": points, "baseline_src": str(args.baseline_src or "")}
    if earlier.get("first"):
        data["first"] = earlier["first"]
    if args.first and args.baseline_src:
        data["first"] = first_builds(min(counts), args.first, args.baseline_src,
                                     args.prefix, args.distro)
        save("rerun", data, args.results)
    for n in counts:
        points.append(point(n, args.rounds, args.baseline_src, args.prefix, args.distro))
        points.sort(key=lambda p: p["nodes"])
        save("rerun", data, args.results)
    for p in points:
        if p["nodes"] not in counts:
            continue
        line = (f"{p['nodes']:>3} nodes: re-run {p['rerun']['seconds']['median']:.1f}s "
                f"(CPU {p['rerun']['cpu']['median']:.1f}s), --full "
                f"{p['full']['seconds']['median']:.1f}s")
        if "baseline" in p:
            line += f", baseline {p['baseline']['seconds']['median']:.1f}s"
        print(line)


if __name__ == "__main__":
    main()
