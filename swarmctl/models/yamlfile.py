"""Reading a user's YAML file (inventory, spec) with one-line errors.

Stricter than a plain `yaml.safe_load`, and cheap (no Ansible import):
- a file larger than MAX_BYTES is refused before it is read (its own message);
- a file that is not UTF-8 says so, with the place of the first bad byte;
- a mapping with the same key twice is refused with the line numbers of both
  (YAML keeps the last one silently, Ansible only warns);
- Ansible's `!vault` values are kept as `Vaulted` strings (the ciphertext, never
  decrypted here) and `!unsafe` values as plain strings, so that a file Ansible reads
  is read here too;
- a whole file encrypted with `ansible-vault` is decrypted with the vault secrets the
  command was given (swarmctl.ansible.vault), or refused with how to give them;
- characters YAML does not allow are refused with their line (the reader has none), and
  so are aliases that expand to more than MAX_VALUES values (a "billion laughs" file),
  that refer to themselves, and nesting deeper than MAX_DEPTH, before anything walks the
  data; an unusable path (a NUL byte, a name too long) is bad input like a missing file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from swarmctl.errors import InputError

MAX_BYTES = 5 * 1024 * 1024  # no inventory or spec is anywhere near this
VAULT_HEADER = b"$ANSIBLE_VAULT;"
# Values of the document once aliases are expanded, and levels of nesting.
MAX_VALUES = 1_000_000
MAX_DEPTH = 64
# What YAML 1.1 accepts in a stream (the rest, control characters and lone surrogates,
# makes the reader fail without a line number).
_NOT_YAML = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Vaulted(str):
    """A `!vault` value as written in the file: the ciphertext, not the secret."""


class _DuplicateKey(Exception):
    def __init__(self, key: Any, first: int, second: int) -> None:
        super().__init__(key)
        self.key, self.first, self.second = key, first, second


class _Loader(_Base):  # type: ignore[misc, valid-type]
    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                try:
                    key = self.construct_object(key_node, deep=True)
                    hash(key)
                except (TypeError, yaml.YAMLError):
                    continue
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise _DuplicateKey(key, seen[key], line)
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


_Loader.add_constructor("!vault", lambda loader, node: Vaulted(loader.construct_scalar(node)))
_Loader.add_constructor("!unsafe", lambda loader, node: str(loader.construct_scalar(node)))


def read_bytes(path: Path, what: str) -> bytes:
    """The file's bytes, after the checks every user file gets (exists, size)."""
    try:
        if not path.exists():
            raise InputError(f"{path}: file not found; pass the path of {what}")
        if path.is_dir():
            raise InputError(f"{path}: is a directory; pass the path of {what}")
    except (OSError, ValueError) as exc:  # a NUL byte, a name too long
        raise InputError(f"{path}: is not a usable path ({_reason(exc)}); pass the path of "
                         f"{what}") from None
    try:
        size = path.stat().st_size
        if size <= MAX_BYTES:  # read at most one byte more: a pipe, /dev/zero
            with path.open("rb") as handle:
                data = handle.read(MAX_BYTES + 1)
            size = len(data) if len(data) > MAX_BYTES else size
        if size > MAX_BYTES:
            shown = f"{size / 1e6:.1f} MB, more" if size > MAX_BYTES + 1 else "more"
            raise InputError(f"{path}: is {shown} than the "
                             f"{MAX_BYTES // (1024 * 1024)} MB swarmctl reads; pass the path "
                             f"of {what} (is this the right file?)")
        return data
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc}); check its "
                         "permissions") from None


def decode(path: Path, data: bytes) -> str:
    """UTF-8 text, or a one-line refusal naming the first byte that is not."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[:exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        utf16 = " (it looks like UTF-16)" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise InputError(f"{path}: line {line}, column {column}: byte "
                         f"0x{data[exc.start]:02x} is not UTF-8{utf16}; save the file as UTF-8 "
                         "text") from None


def parse(text: str, path: Path) -> Any:
    """Parse YAML text read from `path` (named in errors)."""
    bad = _NOT_YAML.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        char = bad.group()
        escape = f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
        raise InputError(f"{path}: line {line}: the character {escape} is not allowed in "
                         f'YAML; remove it, or write it as "{escape}" inside double quotes')
    try:
        data = yaml.load(text, Loader=_Loader)
    except _DuplicateKey as dup:
        raise InputError(f"{path}: line {dup.second}: key {dup.key!r} is also at line "
                         f"{dup.first} of the same mapping; keep one of them (YAML would "
                         "silently keep the last)") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "YAML"
        problem = " ".join(str(getattr(exc, "problem", None) or "invalid YAML").split())
        raise InputError(f"{path}: {where}: {problem}; fix the YAML syntax "
                         "(indentation, colons, quotes)") from None
    except RecursionError:
        raise InputError(f"{path}: is nested too deeply to read; a spec or an inventory "
                         f"needs a few levels, at most {MAX_DEPTH}") from None
    _check_shape(data, path)
    return data


def _check_shape(data: Any, path: Path) -> None:
    """Refuse self-referring aliases, too deep nesting and alias bombs, in time linear in
    the size of the file (each shared value is counted once, with its expanded size)."""
    sizes: dict[int, tuple[int, int]] = {}  # id → (values, depth) once expanded
    open_ids: set[int] = set()

    def walk(obj: Any, depth: int) -> tuple[int, int]:
        if not isinstance(obj, dict | list):
            return 1, 0
        key = id(obj)
        if key in sizes:
            return sizes[key]
        if key in open_ids:
            raise InputError(f"{path}: an alias refers to a value that contains it (&anchor "
                             "inside itself): the data would be infinite; copy the value "
                             "instead")
        if depth > MAX_DEPTH:
            raise InputError(f"{path}: is nested more than {MAX_DEPTH} levels deep; a spec "
                             "or an inventory needs a few")
        open_ids.add(key)
        items = [x for pair in obj.items() for x in pair] if isinstance(obj, dict) else obj
        total, deepest = 1, 0
        for item in items:
            values, below = walk(item, depth + 1)
            total += values
            deepest = max(deepest, below + 1)
            if total > MAX_VALUES:
                raise InputError(f"{path}: its aliases expand to more than {MAX_VALUES:,} "
                                 "values (anchors used inside anchors); write the values "
                                 "out, or use fewer aliases")
            if depth + deepest > MAX_DEPTH:
                raise InputError(f"{path}: is nested more than {MAX_DEPTH} levels deep "
                                 "(with its aliases expanded); a spec or an inventory "
                                 "needs a few")
        open_ids.discard(key)
        sizes[key] = (total, deepest)
        return sizes[key]

    walk(data, 0)


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def read(path: Path, what: str) -> Any:
    """Parse the YAML file at `path`; `what` names it in errors ("an inventory file")."""
    data = read_bytes(path, what)
    if data.startswith(VAULT_HEADER):
        from swarmctl.ansible import vault

        data = vault.decrypt_file(path, data)
    return parse(decode(path, data), path)


def prove_vaulted(data: Any, path: Path, where: str = "") -> None:
    """Decrypt every `!vault` value in memory (the plaintext is dropped), so that a
    missing or wrong vault password is refused now, naming the value, not mid-run."""
    if isinstance(data, Vaulted):
        from swarmctl.ansible import vault

        vault.decrypt_text(str(data), f"{path}: {where or 'value'}")
    elif isinstance(data, dict):
        for key, value in data.items():
            prove_vaulted(value, path, f"{where}.{key}" if where else str(key))
    elif isinstance(data, list):
        for n, value in enumerate(data):
            name = value.get("name") if isinstance(value, dict) else None
            prove_vaulted(value, path, f"{where}[{name or n}]")
