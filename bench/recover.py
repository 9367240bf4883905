"""Time to recover a swarm that lost quorum: from `swarmctl recover` to a swarm that
accepts a service update again.

    python -m bench.recover [--rounds N]      # or: python bench/recover.py

Each round: a fresh lab of 3 managers + 1 worker, provisioned, my-web deployed (3 tasks,
host-mode publish); 2 of the 3 managers are stopped (their containers: the hosts are
gone) and the survivor is polled until it reports that the swarm has no leader. Then
the clock starts, `swarmctl recover` runs, and `docker service update --label-add` is
tried on the survivor every 0.5 s until it is accepted. Figures: the recover command's
wall time, and command start → first accepted update. The lab is removed afterwards.
Results go to bench/results/recover.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import facts  # noqa: E402
from bench.measure import spread  # noqa: E402

RESULTS = REPO / "bench" / "results"
SPEC = REPO / "examples" / "my-web" / "lab-v1-x3.yml"
LAB = "backup-bench"


def swarmctl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "swarmctl", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=1800, check=False)


def must(proc: subprocess.CompletedProcess, what: str) -> None:
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")


def docker_rc(container: str, *cmd: str) -> int:
    return subprocess.run(["docker", "exec", container, *cmd], capture_output=True,
                          timeout=120, check=False).returncode


def one_round(n: int) -> dict[str, float]:
    from swarmctl.lab import lab

    lab.down(LAB)
    the_lab = lab.up(LAB, 3, 1, "bookworm")
    inv = str(the_lab.inventory_path)
    try:
        must(swarmctl("provision", inv), "provision")
        subprocess.run([str(REPO / "examples" / "my-web" / "build-image.sh")], check=True,
                       capture_output=True, timeout=600)
        must(swarmctl("images", "load", "-i", inv, "my-web:v1"), "images load")
        must(swarmctl("deploy", "-i", inv, str(SPEC)), "deploy")
        m1, m2, m3 = (f"{LAB}-m{i}" for i in (1, 2, 3))
        subprocess.run(["docker", "stop", m2, m3], check=True, capture_output=True)
        for _ in range(120):  # until the survivor says there is no leader
            if docker_rc(m1, "docker", "node", "ls") != 0:
                break
            time.sleep(1)
        started = time.monotonic()
        recovered = swarmctl("recover", inv)
        command = time.monotonic() - started
        must(recovered, "recover")
        for i in range(600):
            if docker_rc(m1, "docker", "service", "update", "--detach", "--label-add",
                         f"bench={n}-{i}", "my-web") == 0:
                break
            time.sleep(0.5)
        accepted = time.monotonic() - started
        return {"recover_command_s": round(command, 1), "to_update_accepted_s": round(accepted, 1),
                "load": facts.load_average()[0]}
    finally:
        lab.down(LAB)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    rounds = []
    for n in range(args.rounds):
        r = one_round(n)
        print(f"round {n + 1}: recover {r['recover_command_s']:.1f}s, update accepted after "
              f"{r['to_update_accepted_s']:.1f}s (load {r['load']:.1f})", flush=True)
        rounds.append(r)
    cmd = spread([r["recover_command_s"] for r in rounds])
    acc = spread([r["to_update_accepted_s"] for r in rounds])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=REPO, check=False).stdout.strip()
    summary = {"commit": commit, "rounds": rounds, "recover_command": cmd,
               "to_update_accepted": acc, "date": time.strftime("%Y-%m-%d %H:%M UTC",
                                                               time.gmtime())}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "recover.json").write_text(json.dumps(summary, indent=2) + "\n")
    (RESULTS / "recover.md").write_text(
        f"# Time to recover (3 managers + 1 worker, 2 managers lost)\n\n"
        f"{summary['date']}, commit {commit}, n={cmd['n']}\n\n"
        f"| figure | median (min to max) |\n|---|---|\n"
        f"| `swarmctl recover` wall time | {cmd['median']:.1f} s "
        f"({cmd['min']:.1f} to {cmd['max']:.1f}) |\n"
        f"| command start → service update accepted | {acc['median']:.1f} s "
        f"({acc['min']:.1f} to {acc['max']:.1f}) |\n")
    print(f"recover: {cmd['median']:.1f}s; update accepted after {acc['median']:.1f}s "
          f"(median of {cmd['n']})")


if __name__ == "__main__":
    main()
