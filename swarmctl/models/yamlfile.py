"""Reading a user's YAML file (inventory, spec) with one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from swarmctl.errors import InputError


def read(path: Path, what: str) -> Any:
    """Parse the YAML file at `path`; `what` names it in errors ("an inventory file")."""
    if not path.exists():
        raise InputError(f"{path}: file not found; pass the path of {what}")
    if path.is_dir():
        raise InputError(f"{path}: is a directory; pass the path of {what}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read ({exc}); check its permissions") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "YAML"
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise InputError(f"{path}: {where}: {problem}; fix the YAML syntax "
                         "(indentation, colons, quotes)") from None
