"""How long `swarmctl status --check` takes, against the floor of one parallel SSH round.

    python -m bench.health                       # a fresh 3+2 lab, provisioned, then removed
    python -m bench.health --inventory INV.yml   # an existing swarm (changes nothing)
    python -m bench.health --rounds 10

Prints, per figure, the median with min and max over the rounds:
- `status --check` end to end (the CLI as a user runs it: Python start-up included);
- its read alone (health_read.read, in this process);
- the floor: `ssh HOST true` to every host in parallel (the connection cost it cannot
  avoid), and the start-up of `swarmctl --help`.
Writes bench/results/health.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench import facts
from bench.measure import spread

REPO = Path(__file__).resolve().parents[1]
LAB = "security-bench"


def _cli(*args: str) -> tuple[float, int]:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "swarmctl", *args], capture_output=True,
                          cwd=REPO, check=False)
    return time.monotonic() - started, proc.returncode


def _ssh_floor(inv) -> float:
    from swarmctl.ops import remote

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(inv.hosts)) as pool:
        list(pool.map(lambda h: remote.run(h, ["true"], timeout=30), inv.hosts))
    return time.monotonic() - started


def fmt(s: dict[str, float]) -> str:
    return f"{s['median']:.2f}s (min {s['min']:.2f}, max {s['max']:.2f}, n={s['n']})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", type=Path)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    from swarmctl.models import inventory
    from swarmctl.ops import health_read

    own_lab = args.inventory is None
    if own_lab:
        from swarmctl.lab import lab

        lab.down(LAB)
        the_lab = lab.up(LAB, 3, 2, "bookworm")
        args.inventory = the_lab.inventory_path
        elapsed, rc = _cli("provision", str(args.inventory))
        if rc:
            sys.exit(f"provision failed (exit {rc})")
    try:
        inv = inventory.load(args.inventory)
        cli, read, floor, startup, codes = [], [], [], [], set()
        for _ in range(args.rounds):
            elapsed, rc = _cli("status", "-i", str(args.inventory), "--check")
            cli.append(elapsed)
            codes.add(rc)
            read.append(health_read.read(inv)[1])
            floor.append(_ssh_floor(inv))
            startup.append(_cli("--help")[0])
        load = facts.load_average()[0]
        lines = [
            f"# status --check on {len(inv.hosts)} nodes ({time.strftime('%Y-%m-%d %H:%M')} UTC,"
            f" load {load:.1f} on {os.cpu_count()} cores)",
            "",
            f"- `swarmctl status --check` end to end: {fmt(spread(cli))}; "
            f"exit codes {sorted(codes)}",
            f"- its read (one SSH round trip per host, in parallel): {fmt(spread(read))}",
            f"- floor, `ssh HOST true` to every host in parallel: {fmt(spread(floor))}",
            f"- `swarmctl --help` start-up: {fmt(spread(startup))}",
        ]
        text = "\n".join(lines) + "\n"
        print(text)
        (REPO / "bench" / "results" / "health.md").write_text(text)
    finally:
        if own_lab:
            from swarmctl.lab import lab

            lab.down(LAB)


if __name__ == "__main__":
    main()
