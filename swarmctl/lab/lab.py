"""Lab lifecycle: up, status, down, ssh. The CLI and the tests are thin layers over these.

Every Docker object of a lab carries the label `io.swarmctl.lab=<name>`; the lab is found
and removed by that label only, never by name patterns. Its key and inventory live in
`state_dir()/labs/<name>/`.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from swarmctl import paths
from swarmctl.errors import InputError, LabError
from swarmctl.lab import docker, plan
from swarmctl.lab.docker import LABEL
from swarmctl.lab.image import Progress, check_distro, ensure_image

ROLE_LABEL = f"{LABEL}.role"
INDEX_LABEL = f"{LABEL}.index"
DISTRO_LABEL = f"{LABEL}.distro"
AUTHORIZED_KEYS = "/etc/ssh/swarmctl_authorized_keys"
# The flags of ../shared/docs/environment.md: systemd and a nested dockerd, no --privileged.
NODE_FLAGS = (
    "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
    "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
    "--security-opt", "systempaths=unconfined", "--device-cgroup-rule", "a *:* rwm",
    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--tmpfs", "/run", "--tmpfs", "/run/lock",
    "--stop-signal", "SIGRTMIN+3",
)
PARALLEL = 8
T = TypeVar("T")


@dataclass(frozen=True)
class Node:
    """One node (container) of a lab."""

    name: str
    role: str  # "manager" or "worker"
    index: int
    address: str
    state: str  # Docker's container state: running, exited, ...
    container: str  # container ID


@dataclass(frozen=True)
class Lab:
    """A lab as it is now: its nodes, network, key and inventory."""

    name: str
    distro: str
    network: str
    subnet: str
    user: str
    key_path: Path
    inventory_path: Path
    nodes: tuple[Node, ...]

    @property
    def managers(self) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if n.role == "manager")

    @property
    def workers(self) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if n.role == "worker")

    def node(self, name: str) -> Node:
        """A node by full name (`lab-m1`) or short name (`m1`)."""
        for node in self.nodes:
            if name in (node.name, node.name.removeprefix(f"{self.name}-")):
                return node
        raise InputError(f"lab {self.name!r} has no node {name!r}; its nodes: "
                         f"{', '.join(n.name for n in self.nodes) or 'none'}")


def _quiet(_: str) -> None:
    """Show nothing."""


def lab_dir(name: str) -> Path:
    return paths.state_dir() / "labs" / name


# --------------------------------------------------------------------------- up


def up(name: str = plan.DEFAULT_NAME, managers: int = 3, workers: int = 2,
       distro: str = "bookworm", progress: Progress = _quiet,
       boot_timeout: float = 180.0) -> Lab:
    """Start (or complete, or restart) a lab and write its inventory. Idempotent."""
    plan.check_name(name)
    plan.check_counts(managers, workers)
    check_distro(distro)
    docker.engine_version()
    existing = _containers(name)
    _check_same_distro(name, existing, distro)
    specs = plan.node_specs(name, managers, workers)
    _check_names_free(name, specs)
    missing = [s for s in specs if s.name not in existing]
    image = ensure_image(distro, progress) if missing else ""
    if missing:
        _ensure_kernel_budgets()
    key = ensure_key(name)
    network, subnet = _ensure_network(name, progress)
    stopped = [c for c in existing.values() if c["State"]["Status"] != "running"]
    if missing or stopped:
        progress(f"starting {len(missing) + len(stopped)} nodes of lab {name}")
    _parallel(lambda s: _create(s, distro, image, network, subnet, key), missing)
    _parallel(lambda c: docker.run(["start", c["Id"]]), stopped)
    lab = status(name)
    progress(f"waiting for {len(lab.nodes)} nodes to boot")
    _parallel(lambda n: _wait_ready(n, boot_timeout), lab.nodes)
    _write_inventory(lab)
    return lab


# Kernel-wide budgets that a lab of systemd containers, all talking to each other,
# runs out of at its default: raised (never lowered) when swarmctl runs as root.
KERNEL_BUDGETS = {
    # every systemd node takes inotify instances from one budget; at 128, nodes stop
    # booting after about 20
    Path("/proc/sys/fs/inotify/max_user_instances"): 8192,
    # the ARP table is shared by all network namespaces: at 1024 entries, 40 nodes that
    # each reach the 39 others overflow it ("neighbor table overflow!") and probes and
    # swarm traffic between some pairs are dropped
    Path("/proc/sys/net/ipv4/neigh/default/gc_thresh1"): 4096,
    Path("/proc/sys/net/ipv4/neigh/default/gc_thresh2"): 8192,
    Path("/proc/sys/net/ipv4/neigh/default/gc_thresh3"): 16384,
}


def _ensure_kernel_budgets() -> None:
    """Raise the kernel-wide budgets a big lab needs (root only; else left alone)."""
    if os.geteuid() != 0:
        return
    for path, wanted in KERNEL_BUDGETS.items():
        try:
            if int(path.read_text()) < wanted:
                path.write_text(str(wanted))
        except (OSError, ValueError):
            continue


def _parallel(func: Callable[[T], Any], items: Sequence[T]) -> None:
    """Run `func` over `items` on a few threads; the first error is raised."""
    if not items:
        return
    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(items))) as pool:
        for _ in pool.map(func, items):
            pass


def _containers(name: str) -> dict[str, dict[str, Any]]:
    """The lab's containers, inspected, by name."""
    found = docker.inspect("container", docker.ids_by_label("container", name))
    return {c["Name"].lstrip("/"): c for c in found}


def _check_same_distro(name: str, existing: dict[str, dict[str, Any]], distro: str) -> None:
    for cname, cont in existing.items():
        has = docker.labels_of(cont).get(DISTRO_LABEL)
        if has and has != distro:
            raise InputError(f"lab {name!r} runs {has} (node {cname}), not {distro}; use "
                             f"--distro {has}, or `swarmctl lab down --name {name}` first")


def _check_names_free(name: str, specs: Iterable[plan.NodeSpec]) -> None:
    """Names the lab needs must be free or already the lab's own."""
    specs = list(specs)
    wanted = [("container", [s.name for s in specs]), ("volume", [s.volume for s in specs]),
              ("network", [plan.network_name(name)])]
    for kind, names in wanted:
        for obj in docker.inspect(kind, names):
            if docker.labels_of(obj).get(LABEL) != name:
                oname = obj.get("Name", "?").lstrip("/")
                raise LabError(f"a Docker {kind} named {oname!r} exists and is not part of "
                               f"lab {name!r}; choose another --name or remove that {kind}")


def ensure_key(name: str) -> Path:
    """The lab's ed25519 key pair (created once); returns the private key's path."""
    folder = lab_dir(name)
    folder.mkdir(parents=True, exist_ok=True)
    private, public = folder / "id_ed25519", folder / "id_ed25519.pub"
    if private.is_file() and public.is_file():
        return private
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                            serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                        serialization.PublicFormat.OpenSSH)
    private.touch(mode=0o600)
    private.write_bytes(pem)
    public.write_bytes(pub + f" swarmctl-lab-{name}\n".encode())
    return private


def _ensure_network(name: str, progress: Progress) -> tuple[str, str]:
    """The lab's bridge network and subnet, created on a free /24 if missing."""
    net = plan.network_name(name)
    for obj in docker.inspect("network", docker.ids_by_label("network", name)):
        return obj["Name"], obj["IPAM"]["Config"][0]["Subnet"]
    used = _used_subnets()
    for _ in range(10):
        subnet = plan.pick_subnet(used)
        progress(f"creating network {net} on {subnet}")
        proc = docker.run(["network", "create", "--driver", "bridge", "--subnet", str(subnet),
                           "--gateway", str(subnet.network_address + 1),
                           "--label", f"{LABEL}={name}", net], check=False)
        if proc.returncode == 0:
            return net, str(subnet)
        if "overlap" not in proc.stderr:  # not a race with another new network
            raise LabError(f"creating network {net} failed: {docker.last_line(proc.stderr)}")
        used.append(str(subnet))
    raise LabError(f"creating network {net} failed: every subnet tried was taken meanwhile")


def _used_subnets() -> list[str]:
    """Subnets of all Docker networks and the host's routes."""
    used: list[str] = []
    ids = docker.run(["network", "ls", "-q"]).stdout.split()
    for net in docker.inspect("network", ids):
        used += [c.get("Subnet", "") for c in (net.get("IPAM") or {}).get("Config") or []]
    if shutil.which("ip"):
        routes = subprocess.run(["ip", "-4", "route", "show", "table", "all"],
                                capture_output=True, text=True, check=False).stdout
        used += [line.split()[0] for line in routes.splitlines()
                 if line and line.split()[0] not in ("default", "broadcast", "local")]
    return used


def _create(spec: plan.NodeSpec, distro: str, image: str, network: str, subnet: str,
            key: Path) -> None:
    labels = {LABEL: spec.lab, ROLE_LABEL: spec.role, INDEX_LABEL: str(spec.index),
              DISTRO_LABEL: distro}
    docker.run(["volume", "create", "--label", f"{LABEL}={spec.lab}", spec.volume])
    label_args = [a for k, v in labels.items() for a in ("--label", f"{k}={v}")]
    docker.run(["run", "-d", "--name", spec.name, "--hostname", spec.name,
                "--network", network, "--ip", spec.address(ipaddress.IPv4Network(subnet)),
                *label_args, *NODE_FLAGS,
                "-v", f"{spec.volume}:/var/lib/docker",
                "-v", f"{key.with_suffix('.pub')}:{AUTHORIZED_KEYS}:ro",
                image])


def _wait_ready(node: Node, timeout: float) -> None:
    """Wait until systemd finished booting and sshd accepts connections."""
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        state = _system_state(node, min(20.0, max(1.0, deadline - time.monotonic())))
        if state in ("running", "degraded"):
            break
        time.sleep(0.3)
    else:
        raise LabError(f"node {node.name} did not finish booting in {timeout:.0f}s "
                       f"(systemd: {state or 'unknown'}; waiting for: {_pending_job(node)}); "
                       f"see `docker logs {node.name}`")
    _wait_port(node, 22, deadline)


def _system_state(node: Node, timeout: float) -> str:
    """`systemctl is-system-running --wait`, bounded: a retry is cheap, a hang is not."""
    try:
        proc = docker.run(["exec", node.container, "systemctl", "is-system-running", "--wait"],
                          check=False, timeout=timeout)
    except docker.DockerError:
        return "starting"
    if "is not running" in proc.stderr:
        raise LabError(f"node {node.name} stopped while booting; see `docker logs {node.name}`")
    return proc.stdout.strip()


def _pending_job(node: Node) -> str:
    proc = docker.run(["exec", node.container, "systemctl", "list-jobs", "--no-legend"],
                      check=False, timeout=20)
    jobs = proc.stdout.strip().splitlines()
    return " ".join(jobs[0].split()[1:3]) if jobs else "nothing"


def _wait_port(node: Node, port: int, deadline: float) -> None:
    while True:
        try:
            with socket.create_connection((node.address, port), timeout=2):
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise LabError(f"node {node.name}: SSH at {node.address}:{port} does not "
                               f"answer ({exc})") from None
            time.sleep(0.2)


def _write_inventory(lab: Lab) -> None:
    text = plan.render_inventory(lab.name, lab.key_path,
                                 ((n.name, n.role, n.address) for n in lab.nodes))
    tmp = lab.inventory_path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(lab.inventory_path)


# --------------------------------------------------------------------------- status


def status(name: str = plan.DEFAULT_NAME) -> Lab:
    """The lab as Docker sees it now. InputError if it does not exist."""
    plan.check_name(name)
    docker.engine_version()
    containers = _containers(name)
    networks = docker.inspect("network", docker.ids_by_label("network", name))
    if not containers and not networks:
        raise InputError(f"there is no lab named {name!r}; start one with "
                         f"`swarmctl lab up --name {name}`")
    net = networks[0] if networks else {}
    net_name = net.get("Name", "")
    subnet = ((net.get("IPAM") or {}).get("Config") or [{}])[0].get("Subnet", "")
    nodes = sorted((_node(c, net_name) for c in containers.values()),
                   key=lambda n: (n.role != "manager", n.index))
    distros = {docker.labels_of(c).get(DISTRO_LABEL, "") for c in containers.values()}
    folder = lab_dir(name)
    return Lab(name=name, distro=",".join(sorted(distros)), network=net_name, subnet=subnet,
               user=plan.LAB_USER, key_path=folder / "id_ed25519",
               inventory_path=folder / "inventory.yml", nodes=tuple(nodes))


def _node(cont: dict[str, Any], network: str) -> Node:
    labels = docker.labels_of(cont)
    settings = (cont.get("NetworkSettings") or {}).get("Networks") or {}
    endpoint = settings.get(network) or {}
    address = endpoint.get("IPAddress") or (endpoint.get("IPAMConfig") or {}).get(
        "IPv4Address", "")
    return Node(name=cont["Name"].lstrip("/"), role=labels.get(ROLE_LABEL, "?"),
                index=int(labels.get(INDEX_LABEL, "0")), address=address,
                state=cont["State"]["Status"], container=cont["Id"])


# --------------------------------------------------------------------------- down


@dataclass(frozen=True)
class Removed:
    """What `down` removed."""

    containers: int
    volumes: int
    networks: int
    state_dir: bool


def down(name: str = plan.DEFAULT_NAME) -> Removed:
    """Remove the lab's containers, volumes, network and key folder, found by label."""
    plan.check_name(name)
    docker.engine_version()
    containers = docker.ids_by_label("container", name)
    if containers:
        docker.run(["rm", "-f", "-v", *containers])
    volumes = docker.ids_by_label("volume", name)
    if volumes:
        docker.run(["volume", "rm", *volumes])
    networks = docker.ids_by_label("network", name)
    if networks:
        docker.run(["network", "rm", *networks])
    folder = lab_dir(name)
    had_dir = folder.is_dir()
    if had_dir:
        shutil.rmtree(folder)
    return Removed(len(containers), len(volumes), len(networks), had_dir)


# --------------------------------------------------------------------------- ssh


def ssh_argv(node: str, name: str | None = None, command: Sequence[str] = ()) -> list[str]:
    """The `ssh` command line that logs into `node` as the lab user."""
    lab = status(name or _lab_of(node) or _lab_from_node_name(node))
    target = lab.node(node)
    if target.state != "running":
        raise LabError(f"node {target.name} is {target.state}; run `swarmctl lab up "
                       f"--name {lab.name}` to start it")
    return ["ssh", "-i", str(lab.key_path), *plan.SSH_COMMON_ARGS.split(),
            "-o", "LogLevel=ERROR", f"{lab.user}@{target.address}", *command]


def _lab_from_node_name(node: str) -> str:
    """`dev-m2` -> `dev`; a short name (`m2`) belongs to the default lab."""
    match = re.fullmatch(r"(.+)-[mw][0-9]+", node)
    return match.group(1) if match else plan.DEFAULT_NAME


def _lab_of(node: str) -> str | None:
    """The lab a container named `node` belongs to, if any."""
    for cont in docker.inspect("container", [node]):
        return docker.labels_of(cont).get(LABEL)
    return None
