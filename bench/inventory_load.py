"""How long swarmctl takes to read an inventory, and to refuse a bad one.

    python bench/inventory_load.py [--rounds 7] [--before REF]

For each kind of bad inventory: the wall time of `swarmctl check BAD` (the whole
command, Python start-up included, until the one-line refusal, exit 2); then the time
of `inventory.load()` alone on a good 40-host inventory, on the fast path (a plain YAML
file, no Ansible import) and through Ansible's InventoryManager, in a fresh process
each (so Ansible's import is counted). `--before REF` also times the same commands on
a `git archive` of REF (e.g. 6acfb0a, before Ansible's machinery), where that version
can read them at all. Medians of --rounds, with min and max. No hosts are contacted:
every inventory points at 127.0.0.x and is refused before any connection.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

BAD = {
    "YAML, bad port (fast path)": {
        "inventory.yml": "swarm_managers:\n  hosts:\n    m1: {ansible_host: 127.0.0.11, "
                         "ansible_port: 70000}\n"},
    "YAML, broken syntax": {"inventory.yml": "all:\n  children: [\n"},
    "INI, bad port": {
        "hosts.ini": "[swarm_managers]\nm1 ansible_host=127.0.0.11 ansible_port=70000\n"},
    "INI, syntax error": {"hosts.ini": "[swarm_managers\nm1\n"},
    "directory, bad port in group_vars": {
        "inv/hosts": "[swarm_managers]\nm1 ansible_host=127.0.0.11\n",
        "inv/group_vars/all.yml": "ansible_port: 70000\n"},
}


def _good(hosts: int) -> str:
    lines = ["all:", "  vars: {ansible_user: admin, ansible_become: true}", "  children:",
             "    swarm_managers:", "      hosts:"]
    lines += [f"        m{i}: {{ansible_host: 127.0.1.{i}}}" for i in range(1, 4)]
    lines += ["    swarm_workers:", "      hosts:"]
    lines += [f"        w{i}: {{ansible_host: 127.0.2.{i}, swarm_node_labels: {{n: '{i}'}}}}"
              for i in range(1, hosts - 2)]
    return "\n".join(lines) + "\n"


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    first = next(iter(files))
    return root / first.split("/")[0]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time(argv: list[str], cwd: Path, env: dict[str, str]
          ) -> tuple[float, float, int, str]:
    """Wall time, CPU time (user+sys: steady when the machine is busy), rc, stderr."""
    started, cpu = time.perf_counter(), _cpu()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    return (time.perf_counter() - started, _cpu() - cpu, proc.returncode,
            proc.stderr.strip())


def _fmt(samples: list[float]) -> str:
    return (f"{statistics.median(samples):.3f} s (min {min(samples):.3f}, "
            f"max {max(samples):.3f}, n={len(samples)})")


def _export(ref: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref], capture_output=True,
                             check=True).stdout
    with tempfile.TemporaryFile() as fh:
        fh.write(archive)
        fh.seek(0)
        with tarfile.open(fileobj=fh) as tar:
            tar.extractall(into, filter="data")
    return into


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--before", help="git ref to compare with (e.g. 6acfb0a)")
    ap.add_argument("--hosts", type=int, default=40)
    args = ap.parse_args()
    load = os.getloadavg()[0]
    print(f"inventory load benchmark: {args.rounds} rounds, load average {load:.1f}, "
          f"{os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="swarmctl-bench-") as tmp:
        tmp_path = Path(tmp)
        trees = {"now": REPO}
        if args.before:
            trees[args.before] = _export(args.before, tmp_path / "before")
        home = tmp_path / "home"
        env = {**os.environ, "SWARMCTL_HOME": str(home)}
        print("\n`swarmctl check BAD` until the refusal (exit 2):")
        for case, files in BAD.items():
            source = _write(tmp_path / "cases" / case.replace(" ", "_").replace(",", ""),
                            files)
            walls: dict[str, list[float]] = {t: [] for t in trees}
            cpus: dict[str, list[float]] = {t: [] for t in trees}
            last: dict[str, tuple[int, str]] = {}
            for _ in range(args.rounds):  # interleaved, so that load changes hit both
                for label, tree in trees.items():
                    wall, cpu, rc, line = _time([sys.executable, "-m", "swarmctl", "check",
                                                 str(source)], tree, env)
                    walls[label].append(wall)
                    cpus[label].append(cpu)
                    last[label] = (rc, line)
            print(f"  {case}")
            for label in trees:
                rc, line = last[label]
                shown = line.split(": ", 2)[-1] if ": " in line else line
                print(f"    {label:8} wall {_fmt(walls[label])}, CPU "
                      f"{statistics.median(cpus[label]):.3f} s; exit {rc}: {shown[:60]}")
        good = tmp_path / "good" / "inventory.yml"
        good.parent.mkdir()
        good.write_text(_good(args.hosts))
        code = ("import time; t = time.perf_counter(); c = time.process_time(); "
                "from swarmctl.models import inventory; "
                f"inv = inventory.load({str(good)!r}); "
                "print(time.perf_counter() - t, time.process_time() - c, len(inv.hosts))")
        print(f"\n`inventory.load()` of a good {args.hosts}-host YAML inventory, in a fresh "
              "process (imports included):")
        paths = {"fast path": {}, "Ansible's InventoryManager": {"SWARMCTL_INVENTORY_LOADER":
                                                                 "ansible"}}
        timed: dict[str, list[float]] = {label: [] for label in paths}
        cpu: dict[str, list[float]] = {label: [] for label in paths}
        for _ in range(args.rounds):
            for label, extra in paths.items():
                proc = subprocess.run([sys.executable, "-c", code], cwd=REPO,
                                      env={**env, **extra}, capture_output=True, text=True,
                                      check=True)
                wall, used, _ = proc.stdout.split()
                timed[label].append(float(wall))
                cpu[label].append(float(used))
        for label, samples in timed.items():
            print(f"  {label:28} wall {_fmt(samples)}, CPU "
                  f"{statistics.median(cpu[label]):.3f} s")


if __name__ == "__main__":
    main()
