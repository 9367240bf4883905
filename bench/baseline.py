"""The practical floor: the same steps as `swarmctl provision` (+ deploy) with plain
parallel SSH and no checks, retries or reports.

    python -m bench.baseline INVENTORY [--image my-web:v1]

Reads the connection settings of a lab-style inventory (ansible_user, ansible_host,
ansible_ssh_private_key_file, ansible_ssh_common_args), then:
1. `apt-get install docker.io python3-docker` on all hosts at once;
2. `docker swarm init` on the first manager;
3. joins the other managers one at a time, then all workers in parallel;
4. waits until `docker node ls` shows every node Ready;
5. with --image: streams `docker save` to every node's `docker load` in parallel and
   creates the my-web service (3 replicas, host-mode port 8080), waiting until it
   converged (the docker CLI waits by default).
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

APT_ENV = "DEBIAN_FRONTEND=noninteractive"


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    user: str
    key: str
    common_args: str

    def ssh(self, command: str, *, stdin: bytes | None = None, timeout: float = 900) -> str:
        """Run `command` on the host with sudo; its stdout. RuntimeError on failure."""
        argv = ["ssh", "-o", "BatchMode=yes", "-i", self.key, *shlex.split(self.common_args),
                f"{self.user}@{self.address}", f"sudo sh -c {shlex.quote(command)}"]
        proc = subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout,
                              check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{self.name}: `{command}` failed (rc {proc.returncode}): "
                               f"{proc.stderr.decode(errors='replace').strip()[-300:]}")
        return proc.stdout.decode(errors="replace")


def hosts_from(inventory: Path) -> tuple[list[Host], list[Host]]:
    """(managers, workers) of a lab inventory, with its connection settings."""
    data = yaml.safe_load(inventory.read_text())["all"]
    common = data.get("vars", {})
    groups = data["children"]

    def group(name: str) -> list[Host]:
        found = []
        for host, hvars in ((groups.get(name) or {}).get("hosts") or {}).items():
            hv = {**common, **(hvars or {})}
            found.append(Host(host, hv.get("ansible_host", host), hv.get("ansible_user", "root"),
                              hv.get("ansible_ssh_private_key_file", ""),
                              hv.get("ansible_ssh_common_args", "")))
        return found

    return group("swarm_managers"), group("swarm_workers")


def _parallel(func, hosts: list[Host]) -> list:
    with ThreadPoolExecutor(max_workers=max(1, min(len(hosts), 50))) as pool:
        return list(pool.map(func, hosts))


def provision(managers: list[Host], workers: list[Host], steps: dict[str, float]) -> None:
    """Install, init, join, wait Ready; record each step's seconds in `steps`."""
    everyone = managers + workers
    t = time.monotonic()
    _parallel(lambda h: h.ssh(f"{APT_ENV} apt-get install -y --no-install-recommends "
                              "docker.io python3-docker"), everyone)
    steps["install"] = time.monotonic() - t

    t = time.monotonic()
    first = managers[0]
    first.ssh(f"docker swarm init --advertise-addr {first.address}")
    tokens = {role: first.ssh(f"docker swarm join-token -q {role}").strip()
              for role in ("manager", "worker")}
    steps["init"] = time.monotonic() - t

    def join(role: str):
        def _join(h: Host) -> str:
            return h.ssh(f"docker swarm join --token {tokens[role]} "
                         f"--advertise-addr {h.address} {first.address}:2377")
        return _join

    t = time.monotonic()
    for manager in managers[1:]:
        join("manager")(manager)
    steps["join_managers"] = time.monotonic() - t
    t = time.monotonic()
    _parallel(join("worker"), workers)
    steps["join_workers"] = time.monotonic() - t

    t = time.monotonic()
    deadline = time.monotonic() + 120
    while True:
        states = first.ssh("docker node ls --format '{{.Status}}'").split()
        if len(states) == len(everyone) and all(s == "Ready" for s in states):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"nodes not Ready after 120 s: {states}")
        time.sleep(0.5)
    steps["ready"] = time.monotonic() - t


def deploy(managers: list[Host], workers: list[Host], image: str,
           steps: dict[str, float]) -> None:
    """Load `image` on every node, then run it as my-web (3 replicas) and wait."""
    t = time.monotonic()
    archive = subprocess.run(["docker", "save", image], capture_output=True, check=True).stdout
    _parallel(lambda h: h.ssh("docker load", stdin=archive), managers + workers)
    steps["image_load"] = time.monotonic() - t
    t = time.monotonic()
    managers[0].ssh("docker service create --quiet --name my-web --replicas 3 "
                    "--replicas-max-per-node 1 "
                    "--publish published=8080,target=80,mode=host "
                    f"--update-parallelism 1 --update-delay 1s {image}")
    steps["service"] = time.monotonic() - t


def run(inventory: Path, image: str | None = None) -> dict[str, float]:
    """Every step's seconds, and `total`."""
    managers, workers = hosts_from(inventory)
    steps: dict[str, float] = {}
    started = time.monotonic()
    provision(managers, workers, steps)
    if image:
        deploy(managers, workers, image, steps)
    steps["total"] = time.monotonic() - started
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inventory", type=Path)
    parser.add_argument("--image", help="also load this image and run it as my-web")
    args = parser.parse_args()
    try:
        steps = run(args.inventory, args.image)
    except RuntimeError as exc:
        sys.exit(f"baseline failed: {exc}")
    print("  ".join(f"{k} {v:.1f}s" for k, v in steps.items()))


if __name__ == "__main__":
    main()
