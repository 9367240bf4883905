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
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
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
    sources: tuple[Path, ...] = ()  # every -i source, `path` first

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


def _fail(path: Path | str, where: str, what: str, fix: str) -> InputError:
    return InputError(f"{path}: {where}: {what}; {fix}")


def _mapping(path: Path, where: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(path, where, f"expected a mapping, got {type(value).__name__}",
                    "see inventories/sample.yml for the layout")
    return value


# --------------------------------------------------------------------------- YAML files
#
# Every YAML inventory file swarmctl can see (a `-i` file, or one inside a `-i`
# directory) is checked here first, without Ansible: its structure is stricter than
# Ansible's (which skips an unknown key or a misplaced list with a warning), and a
# mistake is refused in a few milliseconds. The same walk records the groups, hosts and
# variables the way Ansible's YAML plugin does, for the fast path.


class _Group:
    __slots__ = ("children", "depth", "hosts", "name", "parents", "priority", "vars")

    def __init__(self, name: str) -> None:
        self.name, self.vars, self.priority, self.depth = name, {}, 1, 0
        self.children: list[_Group] = []
        self.parents: list[_Group] = []
        self.hosts: list[str] = []


class _YamlInventory:
    """One YAML inventory file, as Ansible's YAML inventory plugin reads it."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.groups: dict[str, _Group] = {"all": _Group("all"), "ungrouped": _Group("ungrouped")}
        self.host_vars: dict[str, dict[str, Any]] = {}
        self.host_groups: dict[str, list[_Group]] = {}
        self.patterns = False  # a host name Ansible would expand (web[01:10]): not ours
        for name, body in data.items():
            self._group(str(name), body, str(name))
        for group in self.groups.values():
            if group.name != "all" and not group.parents:
                self._child(self.groups["all"], group)

    def _get(self, name: str) -> _Group:
        if name not in self.groups:
            self.groups[name] = _Group(name)
        return self.groups[name]

    def _child(self, parent: _Group, child: _Group) -> None:
        if child in parent.children:
            return
        if child is parent or self._is_ancestor(child, parent):
            raise _fail(self.path, f"group {child.name}", f"is a child of itself (through "
                        f"{parent.name})", "remove the loop from the children")
        parent.children.append(child)
        if parent not in child.parents:
            child.parents.append(parent)
        self._deepen(child, parent.depth + 1)

    def _is_ancestor(self, group: _Group, of: _Group) -> bool:
        todo, seen = list(of.parents), set()
        while todo:
            g = todo.pop()
            if g is group:
                return True
            if id(g) not in seen:
                seen.add(id(g))
                todo += g.parents
        return False

    def _deepen(self, group: _Group, depth: int) -> None:
        if depth > group.depth:
            group.depth = depth
            for child in group.children:
                self._deepen(child, depth + 1)

    def _group(self, gname: str, gbody: Any, trail: str) -> _Group:
        gbody = _mapping(self.path, f"group {trail}", gbody)
        unknown = set(gbody) - {"hosts", "vars", "children"}
        if unknown:
            raise _fail(self.path, f"group {gname}", f"unknown key {sorted(unknown, key=str)[0]!r}",
                        "a group holds only hosts, vars and children")
        group = self._get(gname)
        for var, value in _mapping(self.path, f"group {gname} vars", gbody.get("vars")).items():
            if var == "ansible_group_priority":
                try:
                    group.priority = int(value)
                except (TypeError, ValueError):
                    raise _fail(self.path, f"group {gname}", f"ansible_group_priority="
                                f"{value!r} is not a number", "write an integer") from None
                continue  # Ansible keeps it as the group's priority, not as a variable
            group.vars[str(var)] = value
        for hname, hvars in _mapping(self.path, f"group {gname} hosts",
                                     gbody.get("hosts")).items():
            hname = str(hname)
            hvars = _mapping(self.path, f"host {hname}", hvars)
            if hname in group.hosts and gname in SWARM_GROUPS:
                raise _fail(self.path, f"host {hname}", "is listed twice",
                            "list each host once")
            if "[" in hname:
                self.patterns = True
            if hname not in group.hosts:
                group.hosts.append(hname)
            self.host_vars.setdefault(hname, {}).update(hvars)
            groups = self.host_groups.setdefault(hname, [])
            if group not in groups:
                groups.append(group)
        for cname, cbody in _mapping(self.path, f"group {gname} children",
                                     gbody.get("children")).items():
            child = self._group(str(cname), cbody, f"{trail}.children.{cname}")
            self._child(group, child)
        return group

    # -- what Ansible's InventoryManager and VariableManager would answer

    def members(self, gname: str) -> list[str]:
        """Hosts of a group and of its descendants, in Ansible's order."""
        if gname not in self.groups:
            return []
        ordered = [self.groups[gname]]
        level, seen = [self.groups[gname]], {gname}
        while level:
            nxt = []
            for g in level:
                for c in g.children:
                    if c.name not in seen:
                        seen.add(c.name)
                        nxt.append(c)
            ordered += nxt
            level = nxt
        out: list[str] = []
        for g in ordered:
            out += [h for h in g.hosts if h not in out]
        return out

    def variables(self, host: str) -> dict[str, Any]:
        """all's vars < groups by (depth, priority, name) < the host's own."""
        ancestors: dict[str, _Group] = {}
        todo = list(self.host_groups.get(host, []))
        while todo:
            g = todo.pop()
            if g.name not in ancestors:
                ancestors[g.name] = g
                todo += g.parents
        merged = dict(self.groups["all"].vars)
        for g in sorted((g for g in ancestors.values() if g.name != "all"),
                        key=lambda g: (g.depth, g.priority, g.name)):
            merged.update(g.vars)
        merged.update(self.host_vars.get(host, {}))
        return merged


def _yaml_inventory(path: Path, text: str) -> _YamlInventory | None:
    """Check a YAML inventory file; None when it is a plugin config (Ansible's job)."""
    data = yamlfile.parse(text, path)
    if data is None:
        raise _fail(path, "file", "is empty",
                    f"list your hosts under the groups {MANAGERS} and {WORKERS}")
    if not isinstance(data, dict):
        raise _fail(path, "file", f"top level is a {type(data).__name__}, not a mapping",
                    f"write groups ({MANAGERS}, {WORKERS}) under 'all: children:'")
    if "plugin" in data:
        return None
    return _YamlInventory(path, data)


# --------------------------------------------------------------------------- sources

_YAML_SUFFIXES = (".yml", ".yaml")
# What Ansible skips in an inventory directory (INVENTORY_IGNORE_EXTS, _PATTERNS).
_IGNORED_SUFFIXES = (".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst",
                     ".orig", ".cfg", ".retry")
_IGNORED_NAMES = ("group_vars", "host_vars", "vars_plugins")
# Settings that change how Ansible reads an inventory: with one of them, the fast
# path would not give Ansible's answer.
_ANSIBLE_ENV = ("ANSIBLE_INVENTORY", "ANSIBLE_VARS_", "ANSIBLE_HOST_PATTERN",
                "ANSIBLE_HASH_BEHAVIOUR", "ANSIBLE_PRECEDENCE", "ANSIBLE_ENABLE_TASK_DEBUGGER")
_ANSIBLE_CFG_KEYS = ("[inventory]", "vars_plugins", "hash_behaviour", "precedence",
                     "host_pattern_mismatch")


@dataclass
class _Source:
    path: Path
    yaml: _YamlInventory | None = None  # a plain YAML inventory file, checked
    text: str = ""


def _sources(given: str | Path | Sequence[str | Path]) -> list[Path]:
    if isinstance(given, str | Path):
        return [Path(given)]
    return [Path(p) for p in given]


def _check_file(path: Path, what: str) -> _Source:
    """A file source: bounded, UTF-8; a YAML inventory file: checked (see above)."""
    if os.access(path, os.X_OK) and path.is_file():
        return _Source(path)  # an inventory script: Ansible runs it
    data = yamlfile.read_bytes(path, what)
    if data.startswith(yamlfile.VAULT_HEADER):
        return _Source(path)  # a vaulted file: Ansible decrypts it
    text = yamlfile.decode(path, data)
    if path.suffix in _YAML_SUFFIXES:
        return _Source(path, _yaml_inventory(path, text), text)
    return _Source(path, None, text)


def _check_vars_files(folder: Path) -> None:
    """group_vars/ and host_vars/ files: bounded, UTF-8, no key twice."""
    for sub in ("group_vars", "host_vars"):
        base = folder / sub
        if not base.is_dir():
            continue
        for file in sorted(base.rglob("*")):
            if not file.is_file() or file.name.startswith(".") or \
                    file.suffix not in ("", *_YAML_SUFFIXES, ".json"):
                continue
            data = yamlfile.read_bytes(file, "a variables file")
            if not data.startswith(yamlfile.VAULT_HEADER):
                yamlfile.parse(yamlfile.decode(file, data), file)


def _check_source(path: Path) -> list[_Source]:
    """Refuse what is unreadable before Ansible is imported; the sources as checked."""
    what = "an inventory: a YAML or INI file, a directory of them, or a plugin config"
    try:
        path.stat()
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputError(f"{str(path)[:200]}: is not a usable path ({reason}); pass the path "
                         f"of {what}") from None
    if not path.exists():
        raise InputError(f"{path}: file not found; pass the path of {what}")
    if path.is_file():
        _check_vars_files(path.parent)
        return [_check_file(path, what)]
    if not path.is_dir():
        raise InputError(f"{path}: is not a file or a directory; pass the path of {what}")
    _check_vars_files(path)
    found: list[_Source] = []
    for entry in sorted(path.iterdir()):
        if entry.name.startswith(".") or entry.name in _IGNORED_NAMES or \
                entry.name.endswith(_IGNORED_SUFFIXES):
            continue
        found += _check_source(entry) if entry.is_dir() else [_check_file(entry, what)]
    if not found:
        raise InputError(f"{path}: is a directory with no inventory file in it; pass the "
                         f"path of {what}")
    return found


def _fast_path(sources: list[Path], checked: list[_Source], extra_vars: Sequence[str]
               ) -> _YamlInventory | None:
    """The checked YAML file when reading it alone gives Ansible's answer, else None.

    That is: one plain YAML inventory file (no plugin, no vault, no template, no host
    pattern), no group_vars/ or host_vars/ next to it, no -e, and no setting of the
    user's that changes how Ansible reads inventories. Everything else goes through
    Ansible's InventoryManager (swarmctl.ansible.inventory).
    """
    if os.environ.get("SWARMCTL_INVENTORY_LOADER") == "ansible" or extra_vars:
        return None
    if len(sources) != 1 or len(checked) != 1 or not sources[0].is_file():
        return None
    src = checked[0]
    if src.yaml is None or src.yaml.patterns:
        return None
    if any(mark in src.text for mark in ("!vault", "!unsafe", "{{", "{%", "$ANSIBLE_VAULT")):
        return None
    folder = src.path.parent
    if (folder / "group_vars").exists() or (folder / "host_vars").exists():
        return None
    if any(k.startswith(_ANSIBLE_ENV) for k in os.environ):
        return None
    cfg = _user_ansible_cfg()
    if cfg is not None:
        try:
            text = cfg.read_text(errors="replace")
        except OSError:
            return None
        if any(key in text for key in _ANSIBLE_CFG_KEYS):
            return None
    return src.yaml


def _user_ansible_cfg() -> Path | None:
    """The ansible.cfg Ansible would read in this process (ANSIBLE_CONFIG, ./ansible.cfg,
    ~/.ansible.cfg, /etc/ansible/ansible.cfg), or None."""
    env = os.environ.get("ANSIBLE_CONFIG")
    candidates = [Path(env).expanduser()] if env else []
    candidates += [Path("ansible.cfg"), Path.home() / ".ansible.cfg",
                   Path("/etc/ansible/ansible.cfg")]
    return next((c for c in candidates if c.is_file()), None)


# --------------------------------------------------------------------------- the model


def _host(where: str, name: str, role: Role, hvars: dict[str, Any],
          origins: dict[str, str] | None = None) -> Host:
    """Validate one host's variables. `where` names the source in errors; a variable
    with a known origin (file:line) is named by it instead."""
    origins = origins or {}

    def fail(var: str | None, what: str, fix: str) -> InputError:
        return _fail(origins.get(var or "", where), f"host {name}", what, fix)

    data: dict[str, Any] = {"name": name, "role": role, "vars": hvars}
    for var, field in _HOST_FIELDS.items():
        if var in hvars and hvars[var] is not None:
            data[field] = hvars[var]
    data.setdefault("address", name)
    become = data.get("become")
    if isinstance(become, str):
        if (origins.get("ansible_become") or "").split(":")[0].endswith(_YAML_SUFFIXES) \
                or not origins.get("ansible_become") \
                or become.lower() not in _BOOLEANS:
            raise fail("ansible_become", f"ansible_become is the string {become!r}",
                       "write true or false without quotes")
        data["become"] = _BOOLEANS[become.lower()]  # INI: every value is a string
    labels = data.get("labels")
    if isinstance(labels, dict):
        for key, value in labels.items():
            if isinstance(value, dict | list | tuple) or value is None:
                kind = "empty" if value is None else f"a {type(value).__name__}"
                raise fail("swarm_node_labels", f"swarm_node_labels.{key} is {kind}",
                           "label values are strings: write key: value (quote numbers "
                           "and booleans if you like)")
        data["labels"] = {str(k): str(v) for k, v in labels.items()}
    _security(hvars, fail)
    address = data["address"]
    if not isinstance(address, str) or not _valid_address(address):
        var = "ansible_host" if "ansible_host" in hvars else None
        shown = f"ansible_host={address!r}" if var else f"the host name {address!r}"
        raise fail(var, f"{shown} is neither an IP address nor a valid host name",
                   "set ansible_host to the host's IP address or DNS name (letters, "
                   "digits, '-' and '.')")
    try:
        return Host(**data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "?"
        var = next((v for v, f in _HOST_FIELDS.items() if f == field), field)
        value = data.get(field)
        msg = err["msg"].removeprefix("Value error, ")
        raise fail(var, f"{var}={value!r} is invalid ({msg})",
                   _HOWTO.get(field, f"fix {var}")) from None


ROTATE_POLICIES = ("never", "after_join")
CERT_EXPIRY_MIN = 3600  # Docker refuses node certificates shorter-lived than 1h


def boolean(value: Any) -> bool | None:
    """A boolean as Ansible's `| bool` reads one (INI values are strings), or None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _BOOLEANS:
        return _BOOLEANS[value.strip().lower()]
    return None


def _security(hvars: dict[str, Any], fail: Any) -> None:
    """The swarm_security role's variables, refused here before any host changes (the
    role reads them only once the swarm is built)."""
    autolock = hvars.get("swarm_autolock")
    if autolock is not None and boolean(autolock) is None:
        raise fail("swarm_autolock", f"swarm_autolock={autolock!r} is not true or false",
                   "set swarm_autolock to true or false")
    key = hvars.get("swarm_unlock_key_file")
    if key is not None and not isinstance(key, str):
        raise fail("swarm_unlock_key_file", f"swarm_unlock_key_file is a "
                   f"{type(key).__name__}", "set it to the path of a file on this machine")
    if boolean(autolock) and not (key or "").strip():
        raise fail("swarm_autolock", "swarm_autolock is true but swarm_unlock_key_file is "
                   "not set", "set swarm_unlock_key_file to a file on this machine where "
                   "swarmctl keeps the unlock key (it writes it, mode 0600)")
    expiry = hvars.get("swarm_cert_expiry")
    if expiry not in (None, ""):
        from swarmctl.ops.health_read import duration_seconds

        try:
            seconds = duration_seconds(expiry, "swarm_cert_expiry")
        except InputError:
            seconds = None
        if seconds is None or seconds < CERT_EXPIRY_MIN:
            if seconds is None:
                raise fail("swarm_cert_expiry", f"swarm_cert_expiry={expiry!r} is not a "
                           "duration", "write it like 2160h (90 days), 90d or 1h30m")
            raise fail("swarm_cert_expiry", f"swarm_cert_expiry={expiry!r} is shorter than "
                       "1h, Docker's minimum", "set it to 1h or more, e.g. 2160h (90 days)")
    policy = hvars.get("swarm_rotate_join_tokens")
    if policy is not None and policy not in ROTATE_POLICIES:
        raise fail("swarm_rotate_join_tokens", f"swarm_rotate_join_tokens={policy!r} is "
                   "not a policy", "set it to after_join (rotate both tokens after a run "
                   "in which a node joined) or never")


_BOOLEANS = {"yes": True, "on": True, "true": True, "1": True, "y": True, "t": True,
             "no": False, "off": False, "false": False, "0": False, "n": False, "f": False}
_HOSTNAME_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")


def _valid_address(address: str) -> bool:
    """An IP address, or a DNS name (RFC 1123 labels; '_' allowed as resolvers do)."""
    try:
        ipaddress.ip_address(address)
        return True
    except ValueError:
        pass
    if not address or len(address) > 253:
        return False
    return all(_HOSTNAME_LABEL.match(label) for label in address.rstrip(".").split("."))


def load(source: str | Path | Sequence[str | Path], *, extra_vars: Sequence[str] = ()
         ) -> Inventory:
    """Read and validate an inventory: one or more sources, as `ansible-playbook -i`
    takes them, and the `-e` extra vars. Raises InputError with a one-line message."""
    sources = _sources(source)
    checked = [s for path in sources for s in _check_source(path)]
    fast = _fast_path(sources, checked, extra_vars)
    where = str(sources[0]) if len(sources) == 1 else \
        "the inventory (" + ", ".join(map(str, sources)) + ")"
    if fast is not None:
        managers = [(n, fast.variables(n), {}) for n in fast.members(MANAGERS)]
        workers = [(n, fast.variables(n), {}) for n in fast.members(WORKERS)]
        manager_names = {n for n, _, _ in managers}
        both = [n for n, _, _ in workers if n in manager_names]
    else:
        from swarmctl.ansible import inventory as ansible_inventory

        resolved = ansible_inventory.resolve(sources, extra_vars, [s.path for s in checked])
        managers = [(h.name, h.vars, h.origins) for h in resolved.managers]
        workers = [(h.name, h.vars, h.origins) for h in resolved.workers]
        both = resolved.both
    if not managers:
        raise _fail(where, f"group {MANAGERS}", "has no hosts",
                    f"add at least one host under {MANAGERS}: hosts:")
    if both:
        raise _fail(where, f"host {both[0]}", f"is in both {MANAGERS} and {WORKERS}",
                    "keep it in one group only (a manager also runs tasks)")
    hosts_m = tuple(_host(where, n, "manager", v, o) for n, v, o in managers)
    hosts_w = tuple(_host(where, n, "worker", v, o) for n, v, o in workers)
    _check_unique_addresses(where, hosts_m + hosts_w)
    return Inventory(path=sources[0], sources=tuple(sources), managers=hosts_m,
                     workers=hosts_w)


def _check_unique_addresses(path: Path | str, hosts: tuple[Host, ...]) -> None:
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
