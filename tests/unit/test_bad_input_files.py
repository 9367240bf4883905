"""Files no loader should read as meant, refused by the real CLI before any host is
contacted, the same way for an inventory (`swarmctl check`) and a spec (`swarmctl deploy`):
the rules of swarmctl.models.yamlfile, which both loaders use.

Each case: one line on stderr naming the file (and the line where there is one) and the
fix; exit 2; no traceback; no playbook run.
"""

from __future__ import annotations

import pytest

from swarmctl.models import yamlfile
from tests.unit.badinput import GOOD_INVENTORY, refused


def _laughs(top: str) -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 7):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines) + f"\n{top}: *a6\n"


# name → (inventory text, spec text, strings the error line must contain)
CASES = {
    "key twice in a mapping": (
        "swarm_managers:\n  hosts:\n    m1: {ansible_host: 127.0.0.11}\n"
        "    m1: {ansible_host: 127.0.0.12}\n",
        "services:\n  - name: web\n    image: nginx:1.27\n    image: nginx:1.28\n",
        ("line 4", "is also at line 3 of the same mapping", "keep one of them")),
    "top-level key twice": (
        "swarm_managers:\n  hosts: {m1: {ansible_host: 127.0.0.11}}\n"
        "swarm_managers:\n  hosts: {m2: {ansible_host: 127.0.0.12}}\n",
        "services:\n  - {name: web, image: nginx}\nservices: []\n",
        ("line 3", "is also at line 1 of the same mapping")),
    "a control character": (
        "swarm_managers:\n  hosts:\n    m\x071: {ansible_host: 127.0.0.11}\n",
        "services:\n  - {name: web, image: \x1bnginx}\n",
        ("is not allowed in YAML", "inside double quotes")),
    "aliases that expand to millions of values": (
        _laughs("swarm_managers"), _laughs("services"),
        ("aliases expand to more than 1,000,000 values", "fewer aliases")),
    "an alias inside itself": (
        "swarm_managers: &g\n  children: {x: *g}\n",
        "services: &s\n  - *s\n",
        ("an alias refers to a value that contains it", "copy the value instead")),
    "nesting 200 levels deep": (
        "swarm_managers: " + "[" * 200 + "]" * 200 + "\n",
        "services: " + "[" * 200 + "]" * 200 + "\n",
        ("nested more than 64 levels deep",)),
}


def _run(tmp_path, kind: str, body: bytes | str, says: tuple[str, ...]):
    path = tmp_path / ("inventory.yml" if kind == "inventory" else "services.yml")
    if isinstance(body, str):
        body = body.encode("utf-8")
    path.write_bytes(body)
    if kind == "inventory":
        return refused(tmp_path / "home", "check", str(path), says=(str(path), *says))
    inv = tmp_path / "good.yml"
    inv.write_text(GOOD_INVENTORY)
    return refused(tmp_path / "home", "deploy", "-i", str(inv), str(path),
                   says=(str(path), *says))


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("kind", ["inventory", "spec"])
def test_bad_file_is_refused(tmp_path, kind, case):
    inventory_text, spec_text, says = CASES[case]
    _run(tmp_path, kind, inventory_text if kind == "inventory" else spec_text, says)


@pytest.mark.parametrize("kind", ["inventory", "spec"])
def test_not_utf8_names_the_line_and_the_fix(tmp_path, kind):
    body = "# café\nswarm_managers: {}\n".encode("latin-1")
    line = _run(tmp_path, kind, body, ("line 1, column 6", "byte 0xe9 is not UTF-8",
                                       "save the file as UTF-8"))
    assert "permissions" not in line


def test_utf16_is_named(tmp_path):
    _run(tmp_path, "spec", "services: []\n".encode("utf-16"),
         ("is not UTF-8 (it looks like UTF-16)", "save the file as UTF-8"))


@pytest.mark.parametrize("kind", ["inventory", "spec"])
def test_a_huge_file_is_refused_by_its_size(tmp_path, kind):
    body = b"# padding\n" * (yamlfile.MAX_BYTES // 10 + 1)
    _run(tmp_path, kind, body, ("MB, more than the 5 MB swarmctl reads",
                                "is this the right file?"))


def test_an_endless_file_is_refused_by_its_size(tmp_path):
    inv = tmp_path / "good.yml"
    inv.write_text(GOOD_INVENTORY)
    refused(tmp_path / "home", "deploy", "-i", str(inv), "/dev/zero",
            says=("/dev/zero", "is more than the 5 MB swarmctl reads"))


def test_a_spec_path_too_long(tmp_path):
    inv = tmp_path / "good.yml"
    inv.write_text(GOOD_INVENTORY)
    path = tmp_path / ("x" * 300 + ".yml")
    refused(tmp_path / "home", "deploy", "-i", str(inv), str(path),
            says=("is not a usable path", "File name too long", "services spec"))


def test_an_inventory_path_too_long(tmp_path):
    path = tmp_path / ("x" * 300 + ".yml")
    refused(tmp_path / "home", "check", str(path), says=("File name too long",))
