"""Inventory sources resolved by Ansible's own machinery, in swarmctl's process.

`resolve(sources, extra_vars)` does what ansible-playbook does before its first play:
InventoryManager parses every `-i` source with the enabled inventory plugins (INI,
YAML, directories, scripts, `plugin:` configs such as `constructed` or a cloud's),
VariableManager merges the variables (group_vars/ and host_vars/ next to a source or
inside a directory, group depth and priority, `-e` last), and vaulted values are
decrypted in memory to prove the password works. It returns plain data for
swarmctl.models.inventory to validate; nothing here prints (Ansible's warnings are
collected) and every failure is an InputError of one line.

Ansible is imported here only, lazily: about 0.3 s that commands pay only when an
inventory needs it (see swarmctl.models.inventory for the fast path).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swarmctl.ansible.display import one_line, quiet
from swarmctl.errors import InputError
from swarmctl.models.yamlfile import Vaulted

MANAGERS, WORKERS = "swarm_managers", "swarm_workers"

# Variables VariableManager adds that are not the inventory's (magic and play vars).
_MAGIC = frozenset({
    "ansible_check_mode", "ansible_config_file", "ansible_diff_mode", "ansible_facts",
    "ansible_forks", "ansible_inventory_sources", "ansible_limit", "ansible_playbook_python",
    "ansible_run_tags", "ansible_skip_tags", "ansible_verbosity", "ansible_version",
    "group_names", "groups", "inventory_dir", "inventory_file", "inventory_hostname",
    "inventory_hostname_short", "omit", "playbook_dir", "ansible_search_path",
    "ansible_play_hosts", "ansible_play_hosts_all", "ansible_play_batch", "play_hosts",
    "ansible_local", "hostvars", "role_names", "ansible_role_names",
    "ansible_dependent_role_names", "environment", "vars",
})

# The variables swarmctl reads itself: templated (when they hold a template) and
# decrypted (when vaulted) here, so that the model validates what Ansible will use.
READ = ("ansible_host", "ansible_port", "ansible_user", "ansible_become",
        "swarm_advertise_addr", "swarm_advertise_network", "swarm_node_labels",
        "swarm_node_availability", "ansible_ssh_private_key_file",
        "ansible_private_key_file", "ansible_ssh_common_args", "ansible_ssh_extra_args")


@dataclass
class ResolvedHost:
    name: str
    vars: dict[str, Any]
    origins: dict[str, str] = field(default_factory=dict)  # variable → "path:line"


@dataclass
class Resolved:
    managers: list[ResolvedHost]
    workers: list[ResolvedHost]
    both: list[str]


def _kind(path: Path) -> str:
    """The inventory plugin Ansible would use for a file, for naming its error."""
    if path.is_file() and os.access(path, os.X_OK):
        return "script"
    if path.suffix in (".yml", ".yaml", ".json"):
        try:
            head = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "yaml"
        return "auto" if any(line.startswith("plugin:") for line in head.splitlines()) \
            else "yaml"
    if path.suffix == ".toml":
        return "toml"
    return "ini"


_HOWTO = {
    "ini": "fix the INI syntax: [group] and [group:vars] sections, one `host key=value` "
           "per line",
    "yaml": "fix the YAML inventory (see inventories/sample.yml)",
    "auto": "check the plugin's name and options (ansible-doc -t inventory NAME)",
    "script": "make the script print the inventory as JSON for --list",
    "toml": "fix the TOML inventory",
}


def _parse_failure(source: str, failures: list[tuple[str, BaseException | None]]) -> str:
    """One line for a source no plugin could parse: the error of the plugin meant."""
    path = Path(source)
    kind = _kind(path)
    chosen = None
    for msg, exc in failures:
        if exc is not None and f"'{kind}'" in msg:
            chosen = exc
    if chosen is None:
        chosen = next((exc for _, exc in failures if exc is not None), None)
    detail = _detail(chosen) if chosen is not None else "no inventory plugin could read it"
    if kind == "ini":
        line = _ini_line(path, detail)
        if line:
            return f"{source}: line {line}: {detail}; {_HOWTO[kind]}"
    word = {"ini": "INI", "yaml": "YAML", "auto": "inventory plugin config",
            "script": "inventory script", "toml": "TOML"}[kind]
    return f"{source}: not a valid {word} inventory ({detail}); {_HOWTO[kind]}"


def _detail(exc: BaseException) -> str:
    """The innermost useful message of a plugin's failure ("Failed to parse inventory."
    wraps the reason)."""
    texts = []
    while exc is not None:
        texts.append(one_line(exc).removeprefix("Failed to parse inventory:").strip())
        exc = exc.__cause__
    texts = [t for t in texts if t and t.rstrip(".") != "Failed to parse inventory"]
    text = texts[-1] if texts else "unreadable"
    if "not enough values to unpack" in text:  # ansible-core's INI parser on '[group'
        text = "a section header is not closed with ']'"
    return text


def _ini_line(path: Path, detail: str) -> int | None:
    """The line an INI parse error is about: ansible-core 2.19 drops the number it had."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    if "not closed with" in detail:
        return next((n for n, line in enumerate(lines, 1)
                     if line.strip().startswith("[") and "]" not in line), None)
    found = re.search(r"got: (.+)$", detail) or re.search(r"'([^']+)'", detail) \
        or re.search(r"^Section (\[[^\]]+\])", detail)
    if not found:
        return None
    needle = found.group(1).strip()
    return next((n for n, line in enumerate(lines, 1) if needle in line), None)


def _origin(value: Any) -> str | None:
    try:
        from ansible._internal._datatag._tags import Origin
    except ImportError:  # a newer ansible-core moved it: messages name the source only
        return None
    tag = Origin.get_tag(value)
    if tag is None or not tag.path:
        return None
    return f"{tag.path}:{tag.line_num}" if tag.line_num else str(tag.path)


def _plain(value: Any, where: str) -> Any:
    """Inventory data as plain Python: tags dropped, vaulted values kept encrypted (as
    Vaulted ciphertext) once proven to decrypt with the secrets given."""
    from ansible.errors import AnsibleError
    from ansible.parsing.vault import EncryptedString, VaultHelper

    from swarmctl.ansible import vault

    if isinstance(value, EncryptedString):
        try:
            str(value)  # decrypts in memory, or raises
        except AnsibleError as exc:
            raise vault.refusal(where, exc) from None
        return Vaulted(str(VaultHelper.get_ciphertext(value, with_tags=False)))
    if isinstance(value, dict):
        return {str(k): _plain(v, where) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, where) for v in value]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


def _read_value(loader, hvars: dict[str, Any], var: str, where: str) -> Any:
    """A variable swarmctl reads, as Ansible will use it: decrypted and templated."""
    from ansible.errors import AnsibleError
    from ansible.parsing.vault import EncryptedString

    from swarmctl.ansible import vault

    value = hvars[var]
    if isinstance(value, EncryptedString):
        try:
            value = str(value)
        except AnsibleError as exc:
            raise vault.refusal(where, exc) from None
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        from ansible.template import Templar

        try:
            value = Templar(loader=loader, variables=hvars).template(value)
        except AnsibleError as exc:
            raise InputError(f"{where}: {var} = {str(hvars[var])!r} cannot be templated "
                             f"({one_line(exc)}); fix the expression") from None
    return _plain(value, where)


def resolve(sources: Sequence[Path], extra_vars: Sequence[str] = (),
            files: Sequence[Path] = ()) -> Resolved:
    """The swarm groups' hosts with their variables, as ansible-playbook will see them.

    `files`: the inventory files the sources hold (swarmctl.models.inventory lists
    them); unless the user's configuration enables inventory plugins itself, only the
    plugins these files need are loaded (each costs a parse of its documentation: about
    0.15 s, six by default)."""
    from ansible import context
    from ansible.errors import AnsibleError
    from ansible.inventory.manager import InventoryManager
    from ansible.module_utils.common.collections import ImmutableDict
    from ansible.parsing.dataloader import DataLoader
    from ansible.utils import vars as ansible_vars
    from ansible.vars.manager import VariableManager

    from swarmctl.ansible import vault

    names = [str(s) for s in sources]
    kinds = {_kind(f) for f in files}
    with quiet() as q:
        if "auto" in kinds or not files:  # a plugin config: names resolve through collections
            _init_plugins()
        loader = DataLoader()
        loader.set_vault_secrets(vault.secrets())
        context.CLIARGS = ImmutableDict(extra_vars=tuple(extra_vars))
        ansible_vars.load_extra_vars.extra_vars = None  # Ansible caches it per process
        try:
            extra = ansible_vars.load_extra_vars(loader)
        except AnsibleError as exc:
            raise _extra_vars_error(exc, extra_vars) from None
        try:
            manager = InventoryManager(loader=loader, sources=names, parse=False)
            with _only_plugins(kinds):
                manager.parse_sources(cache=False)
        except AnsibleError as exc:
            text = one_line(exc)
            marker = "Completely failed to parse inventory source "
            if marker in text:  # the user's ansible.cfg: any_unparsed_is_failed
                q.warnings.append((f"Unable to parse {text.split(marker, 1)[1]} as an "
                                   "inventory source", None))
                _refuse_unparsed(q.warnings, names)
            raise _source_error(exc, names) from None
        _refuse_unparsed(q.warnings, names)
        variables = VariableManager(loader=loader, inventory=manager)
        groups = manager.groups
        managers = groups[MANAGERS].get_hosts() if MANAGERS in groups else []
        workers = groups[WORKERS].get_hosts() if WORKERS in groups else []
        both = [h.name for h in workers if h in set(managers)]

        def one(host) -> ResolvedHost:
            try:
                raw = variables.get_vars(host=host, include_hostvars=False)
            except AnsibleError as exc:
                raise _source_error(exc, names, host.name) from None
            hvars = {k: v for k, v in raw.items() if k not in _MAGIC or k in extra}
            origins = {k: o for k in hvars if (o := _origin(hvars[k]))}
            for key in extra:  # a -e value: named as such unless it came from @FILE
                origins.setdefault(key, "-e/--extra-vars")
            out: dict[str, Any] = {}
            for key, value in hvars.items():
                where = f"{origins.get(key) or _sources(names)}: host {host.name}: {key}"
                out[key] = _read_value(loader, hvars, key, where) if key in READ \
                    else _plain(value, where)
            return ResolvedHost(str(host.name), out, origins)

        resolved = Resolved([one(h) for h in managers],
                            [one(h) for h in workers if h.name not in both], both)
    for msg, _ in q.warnings:
        if "duplicate" in msg.lower():
            raise InputError(f"{_sources(names)}: {one_line(msg)}; keep one of the two")
    return resolved


_plugins_ready = False


class _only_plugins:
    """Narrow the enabled inventory plugins to `kinds` (in Ansible's order) while parsing,
    unless the user enabled plugins themselves (ansible.cfg or ANSIBLE_INVENTORY_ENABLED)."""

    def __init__(self, kinds: set[str]) -> None:
        self.kinds = kinds

    def __enter__(self) -> None:
        from ansible import constants as C

        self.saved = C.INVENTORY_ENABLED
        _, origin = C.config.get_config_value_and_origin("INVENTORY_ENABLED")
        if origin == "default" and self.kinds:
            wanted = [p for p in self.saved if p in self.kinds]
            if wanted:
                C.INVENTORY_ENABLED = wanted

    def __exit__(self, *exc) -> None:
        from ansible import constants as C

        C.INVENTORY_ENABLED = self.saved


def _init_plugins() -> None:
    """What ansible-playbook's CLI does first: the collection loader (so that a
    `plugin: amazon.aws.aws_ec2` or `ansible.builtin.constructed` config resolves).
    It parses ansible.builtin's routing table (about 0.3 s): only plugin configs need
    it, the ini/yaml/script/toml plugins load without it."""
    global _plugins_ready
    if not _plugins_ready:
        from ansible.plugins.loader import init_plugin_loader

        init_plugin_loader()
        _plugins_ready = True


def _sources(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else "the inventory (" + ", ".join(names) + ")"


def _refuse_unparsed(warnings: list[tuple[str, BaseException | None]],
                     names: Sequence[str]) -> None:
    failures: list[tuple[str, BaseException | None]] = []
    for msg, exc in warnings:
        if msg.startswith("Failed to parse inventory with"):
            failures.append((msg, exc))
        elif msg.startswith("Unable to parse ") and msg.endswith(" as an inventory source"):
            source = msg.removeprefix("Unable to parse ").removesuffix(
                " as an inventory source")
            raise InputError(_parse_failure(source, failures))


def _source_error(exc: BaseException, names: Sequence[str], host: str | None = None
                  ) -> InputError:
    text = one_line(exc)
    if "vault" in text.lower():
        from swarmctl.ansible import vault

        where = _origin(getattr(exc, "obj", None)) or _vaulted_file(names) or _sources(names)
        return vault.refusal(f"{where}" + (f": host {host}" if host else ""), exc)
    where = f"{_sources(names)}" + (f": host {host}" if host else "")
    return InputError(f"{where}: {text}; fix the inventory")


def _vaulted_file(names: Sequence[str]) -> str | None:
    """The first group_vars/host_vars file encrypted as a whole, to name it."""
    for name in names:
        path = Path(name)
        folder = path if path.is_dir() else path.parent
        for sub in ("group_vars", "host_vars"):
            for file in sorted((folder / sub).rglob("*")) if (folder / sub).is_dir() else []:
                try:
                    with file.open("rb") as fh:
                        if fh.read(15) == b"$ANSIBLE_VAULT;":
                            return str(file)
                except OSError:
                    continue
    return None


def _extra_vars_error(exc: BaseException, given: Sequence[str]) -> InputError:
    text = one_line(exc)
    if "vault" in text.lower():
        from swarmctl.ansible import vault

        return vault.refusal("-e " + " ".join(given), exc)
    return InputError(f"-e/--extra-vars: {text}; write key=value, a YAML/JSON mapping, or "
                      "@FILE")


def select(sources: Sequence[Path], pattern: str, extra_vars: Sequence[str] = ()) -> list[str]:
    """The hosts an Ansible `--limit` pattern selects (names, groups, globs, `~regex`,
    `!` and `&`, `@file`), as ansible-playbook would."""
    from ansible.errors import AnsibleError
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader

    from swarmctl.ansible import vault

    with quiet():
        _init_plugins()
        loader = DataLoader()
        loader.set_vault_secrets(vault.secrets())
        try:
            manager = InventoryManager(loader=loader, sources=[str(s) for s in sources])
            manager.subset(pattern)
            return [h.name for h in manager.get_hosts("all")]
        except AnsibleError as exc:
            raise InputError(f"--limit {pattern}: {one_line(exc)}; give host or group names "
                             "(e.g. w7 or 'swarm_workers:!w8')") from None
