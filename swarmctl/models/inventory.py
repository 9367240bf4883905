"""The inventory model: an Ansible YAML inventory with `swarm_managers` and `swarm_workers`.

The file is read and validated here, before any host is touched. Every problem becomes
an `InputError` with one line that names the file, the host or field, and the fix.

Supported layout (the standard Ansible YAML inventory):

    all:
      vars: {ansible_user: admin}
      children:
        swarm_managers:
          hosts:
            m1: {ansible_host: 10.0.0.11}
        swarm_workers:
          hosts:
            w1: {ansible_host: 10.0.0.21}

The groups may also sit at the top level (without `all:`). Variables are merged the
way Ansible merges them for these simple cases: `all.vars` < group vars < host vars.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from swarmctl.errors import InputError
from swarmctl.models import yamlfile

MANAGERS = "swarm_managers"
WORKERS = "swarm_workers"
SWARM_GROUPS = (MANAGERS, WORKERS)

Role = Literal["manager", "worker"]
Availability = Literal["active", "pause", "drain"]


class Host(BaseModel):
    """One host of the inventory, with the variables swarmctl reads itself."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    role: Role
    address: str = Field(description="ansible_host, or the inventory name")
    port: int = Field(22, ge=1, le=65535)
    user: str | None = None
    become: bool = False
    advertise_addr: str | None = None
    advertise_network: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    availability: Availability | None = None
    vars: dict[str, Any] = Field(default_factory=dict, repr=False)

    @field_validator("advertise_addr")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is not None:
            ipaddress.ip_address(value)
        return value

    @field_validator("advertise_network")
    @classmethod
    def _network(cls, value: str | None) -> str | None:
        if value is not None:
            ipaddress.ip_network(value, strict=False)
        return value

    @property
    def is_ip(self) -> bool:
        try:
            ipaddress.ip_address(self.address)
        except ValueError:
            return False
        return True


class Inventory(BaseModel):
    """The validated inventory: managers first, in file order."""

    model_config = ConfigDict(frozen=True)

    path: Path
    managers: tuple[Host, ...]
    workers: tuple[Host, ...]

    @property
    def hosts(self) -> tuple[Host, ...]:
        return self.managers + self.workers

    def host(self, name: str) -> Host:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)

    def warnings(self) -> list[str]:
        """Things that are allowed but put the cluster at risk."""
        out = []
        n = len(self.managers)
        if n % 2 == 0:
            out.append(
                f"{n} managers tolerate no more failures than {n - 1}: "
                f"use an odd number (3, 5 or 7) for quorum"
            )
        if n > 7:
            out.append(f"{n} managers slow down raft consensus: Docker advises at most 7")
        return out

    @property
    def fault_tolerance(self) -> int:
        return (len(self.managers) - 1) // 2


# --------------------------------------------------------------------------- loading

_HOST_FIELDS = {
    "ansible_host": "address",
    "ansible_port": "port",
    "ansible_user": "user",
    "ansible_become": "become",
    "swarm_advertise_addr": "advertise_addr",
    "swarm_advertise_network": "advertise_network",
    "swarm_node_labels": "labels",
    "swarm_node_availability": "availability",
}

_HOWTO = {
    "port": "set ansible_port to a number from 1 to 65535",
    "become": "set ansible_become to true or false",
    "advertise_addr": "set swarm_advertise_addr to an IP address of the host, e.g. 10.0.0.11",
    "advertise_network": "set swarm_advertise_network to a network, e.g. 10.0.0.0/8",
    "labels": "set swarm_node_labels to a mapping of label: value",
    "availability": "set swarm_node_availability to active, pause or drain",
    "address": "set ansible_host to the host's IP address or DNS name",
    "user": "set ansible_user to the SSH user name",
}


def _fail(path: Path, where: str, what: str, fix: str) -> InputError:
    return InputError(f"{path}: {where}: {what}; {fix}")


def _mapping(path: Path, where: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(path, where, f"expected a mapping, got {type(value).__name__}",
                    "see inventories/sample.yml for the layout")
    return value


def _walk_groups(path: Path, groups: dict[str, Any], inherited: dict[str, Any],
                 found: dict[str, list[tuple[str, dict[str, Any]]]], trail: str) -> None:
    """Collect the hosts of the swarm groups, with their merged variables."""
    for gname, gbody in groups.items():
        gbody = _mapping(path, f"{trail}{gname}", gbody)
        unknown = set(gbody) - {"hosts", "vars", "children"}
        if unknown:
            raise _fail(path, f"group {gname}", f"unknown key {sorted(unknown)[0]!r}",
                        "a group holds only hosts, vars and children")
        gvars = {**inherited, **_mapping(path, f"group {gname} vars", gbody.get("vars"))}
        if gname in SWARM_GROUPS:
            for hname, hvars in _mapping(path, f"group {gname} hosts",
                                         gbody.get("hosts")).items():
                hvars = _mapping(path, f"host {hname}", hvars)
                found.setdefault(gname, []).append((str(hname), {**gvars, **hvars}))
        children = _mapping(path, f"group {gname} children", gbody.get("children"))
        _walk_groups(path, children, gvars, found, f"{trail}{gname}.children.")


def _host(path: Path, name: str, role: Role, hvars: dict[str, Any]) -> Host:
    data: dict[str, Any] = {"name": name, "role": role, "vars": hvars}
    for var, field in _HOST_FIELDS.items():
        if var in hvars and hvars[var] is not None:
            data[field] = hvars[var]
    data.setdefault("address", name)
    if isinstance(data.get("become"), str):
        raise _fail(path, f"host {name}", f"ansible_become is the string {data['become']!r}",
                    "write true or false without quotes")
    if "labels" in data and isinstance(data["labels"], dict):
        data["labels"] = {str(k): str(v) for k, v in data["labels"].items()}
    try:
        return Host(**data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "?"
        var = next((v for v, f in _HOST_FIELDS.items() if f == field), field)
        value = data.get(field)
        msg = err["msg"].removeprefix("Value error, ")
        raise _fail(path, f"host {name}", f"{var}={value!r} is invalid ({msg})",
                    _HOWTO.get(field, f"fix {var}")) from None


def load(path: str | Path) -> Inventory:
    """Read and validate an inventory file. Raises InputError with a one-line message."""
    path = Path(path)
    data = yamlfile.read(path, "an inventory YAML file")
    if data is None:
        raise _fail(path, "file", "is empty",
                    f"list your hosts under the groups {MANAGERS} and {WORKERS}")
    if not isinstance(data, dict):
        raise _fail(path, "file", f"top level is a {type(data).__name__}, not a mapping",
                    f"write groups ({MANAGERS}, {WORKERS}) under 'all: children:'")
    found: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    if "all" in data:
        top = _mapping(path, "all", data["all"])
        all_vars = _mapping(path, "all.vars", top.get("vars"))
        _walk_groups(path, _mapping(path, "all.children", top.get("children")), all_vars,
                     found, "all.children.")
        rest = {k: v for k, v in data.items() if k != "all"}
        _walk_groups(path, rest, all_vars, found, "")
    else:
        _walk_groups(path, data, {}, found, "")

    managers = found.get(MANAGERS, [])
    workers = found.get(WORKERS, [])
    if not managers:
        raise _fail(path, f"group {MANAGERS}", "has no hosts",
                    f"add at least one host under {MANAGERS}: hosts:")
    manager_names = {name for name, _ in managers}
    for name, _ in workers:
        if name in manager_names:
            raise _fail(path, f"host {name}", f"is in both {MANAGERS} and {WORKERS}",
                        "keep it in one group only (a manager also runs tasks)")
    for group in (managers, workers):
        seen: set[str] = set()
        for name, _ in group:
            if name in seen:
                raise _fail(path, f"host {name}", "is listed twice", "list each host once")
            seen.add(name)

    hosts_m = tuple(_host(path, n, "manager", v) for n, v in managers)
    hosts_w = tuple(_host(path, n, "worker", v) for n, v in workers)
    _check_unique_addresses(path, hosts_m + hosts_w)
    return Inventory(path=path, managers=hosts_m, workers=hosts_w)


def _check_unique_addresses(path: Path, hosts: tuple[Host, ...]) -> None:
    by_endpoint: dict[tuple[str, int], str] = {}
    by_advertise: dict[str, str] = {}
    for host in hosts:
        endpoint = (host.address, host.port)
        if endpoint in by_endpoint:
            raise _fail(path, f"host {host.name}",
                        f"has the same address {host.address}:{host.port} as "
                        f"{by_endpoint[endpoint]}",
                        "give each host its own ansible_host (or ansible_port)")
        by_endpoint[endpoint] = host.name
        if host.advertise_addr:
            if host.advertise_addr in by_advertise:
                raise _fail(path, f"host {host.name}",
                            f"swarm_advertise_addr {host.advertise_addr} is also used by "
                            f"{by_advertise[host.advertise_addr]}",
                            "give each host its own advertise address")
            by_advertise[host.advertise_addr] = host.name
