"""Pure lab logic, no Docker: names, addresses, subnet choice, the inventory file."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from swarmctl.errors import InputError

DEFAULT_NAME = "swarmctl"
LAB_USER = "swarm"
SSH_COMMON_ARGS = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
MAX_MANAGERS = 89   # addresses .11 to .99 of the lab's /24
MAX_WORKERS = 150   # addresses .101 to .250
_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")

Network = ipaddress.IPv4Network


@dataclass(frozen=True)
class NodeSpec:
    """A node the lab should have."""

    lab: str
    role: str  # "manager" or "worker"
    index: int

    @property
    def name(self) -> str:
        return f"{self.lab}-{self.role[0]}{self.index}"

    @property
    def volume(self) -> str:
        return f"{self.name}-docker"

    def address(self, subnet: Network) -> str:
        offset = (10 if self.role == "manager" else 100) + self.index
        return str(subnet.network_address + offset)


def check_name(name: str) -> str:
    """A lab name is a DNS label: it prefixes node hostnames."""
    if not _NAME.match(name):
        raise InputError(f"lab name {name!r} is invalid; use 1 to 40 lowercase letters, "
                         "digits and dashes, e.g. swarmctl or dev-1")
    return name


def check_counts(managers: int, workers: int) -> None:
    if not 1 <= managers <= MAX_MANAGERS:
        raise InputError(f"--managers {managers} is out of range; use 1 to {MAX_MANAGERS} "
                         "(an odd number: 1, 3 or 5)")
    if not 0 <= workers <= MAX_WORKERS:
        raise InputError(f"--workers {workers} is out of range; use 0 to {MAX_WORKERS}")


def node_specs(lab: str, managers: int, workers: int) -> list[NodeSpec]:
    """Managers m1..mN then workers w1..wN."""
    return ([NodeSpec(lab, "manager", i) for i in range(1, managers + 1)]
            + [NodeSpec(lab, "worker", i) for i in range(1, workers + 1)])


def network_name(lab: str) -> str:
    return f"{lab}-net"


def candidate_subnets() -> Iterator[Network]:
    """/24 networks far from Docker's default pools (172.17+ and 192.168)."""
    for third in range(256):
        yield ipaddress.IPv4Network(f"10.213.{third}.0/24")
    for second in range(28, 32):
        for third in range(256):
            yield ipaddress.IPv4Network(f"172.{second}.{third}.0/24")


def pick_subnet(used: Iterable[str], candidates: Iterable[Network] | None = None) -> Network:
    """The first candidate that overlaps none of `used` (subnets and routes, as text)."""
    taken: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for text in used:
        try:
            taken.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            continue
    taken = [net for net in taken if net.version == 4 and net.prefixlen > 0]
    for cand in candidates if candidates is not None else candidate_subnets():
        if not any(cand.overlaps(net) for net in taken):
            return cand
    raise InputError("no free /24 subnet left in 10.213.0.0/16 or 172.28.0.0/14 "
                     "for the lab network; remove unused Docker networks")


def render_inventory(lab: str, key_path: Path, hosts: Iterable[tuple[str, str, str]]) -> str:
    """The Ansible inventory of a lab; `hosts` are (name, role, address)."""
    # Imported here: pydantic (via inventory) is too slow for `swarmctl --help`.
    from swarmctl.models.inventory import MANAGERS, WORKERS

    groups: dict[str, dict[str, dict[str, str]]] = {MANAGERS: {}, WORKERS: {}}
    for name, role, address in hosts:
        group = MANAGERS if role == "manager" else WORKERS
        groups[group][name] = {"ansible_host": address}
    data = {
        "all": {
            "vars": {
                "ansible_user": LAB_USER,
                "ansible_become": True,
                "ansible_ssh_private_key_file": str(key_path),
                "ansible_ssh_common_args": SSH_COMMON_ARGS,
                "ansible_python_interpreter": "/usr/bin/python3",
            },
            "children": {group: {"hosts": hosts_} for group, hosts_ in groups.items()},
        }
    }
    header = (f"# The lab {lab!r}, written by `swarmctl lab up`.\n"
              f"# Its nodes are containers on this machine; `swarmctl lab down --name {lab}`"
              " removes them.\n")
    return header + yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
