"""What the user wrote comes back exactly as written in the one error line, however much
it looks like rich markup, emoji codes or terminal control: the real CLI, before any host
is contacted. (The inventory cases assert the names and values, not the wording, which #15 owns;
Ansible reads brackets in host names as host ranges, so the hostile text is in values.) (one line, exit 2, no traceback, no playbook run).
"""

from __future__ import annotations

import os

import pytest

from tests.unit.badinput import GOOD_INVENTORY, refused

SPEC_PATTERN = "'^[a-zA-Z0-9][a-zA-Z0-9_.-]*$'"

# name → (inventory text, strings the error line must contain)
INVENTORIES = {
    "a port written like a closing tag": (
        "swarm_managers:\n  hosts:\n    m1: {ansible_host: 127.0.0.11, ansible_port: '[/x]'}\n",
        ("host m1", "'[/x]'")),
    "an availability like a link and a style": (
        "swarm_managers:\n  hosts:\n    m1: {ansible_host: 127.0.0.11, "
        "swarm_node_availability: '[link=x][bold]y[/link]'}\n",
        ("host m1", "[link=x][bold]y[/link]")),
    "backslashes before brackets": (
        "swarm_managers:\n  hosts:\n    m1: {ansible_host: 127.0.0.11, "
        "ansible_port: 'a\\[b]\\'}\n",
        ("host m1", repr("a\\[b]\\"))),  # the loader quotes values with repr()
    "an emoji code": (
        "swarm_managers:\n  hosts:\n    ':smile:': {ansible_host: 127.0.0.11, ansible_port: 0}\n",
        ("host :smile:",)),
    "an escape sequence and a newline in a value": (
        'swarm_managers:\n  hosts:\n    m1: {ansible_host: 127.0.0.11, '
        'swarm_node_availability: "m\\e[31m1\\nx"}\n',
        ("host m1", "m\\x1b[31m1\\nx")),
}


@pytest.mark.parametrize("case", list(INVENTORIES))
def test_inventory_text_is_printed_as_written(tmp_path, case):
    text, says = INVENTORIES[case]
    inv = tmp_path / "inventory.yml"
    inv.write_text(text, encoding="utf-8")
    line = refused(tmp_path / "home", "check", str(inv), says=(str(inv), *says))
    assert "\x1b" not in line


# name → (spec text, strings the error line must contain)
SPECS = {
    "a service named like a closing tag": (
        "services:\n  - {name: '[/bold]', image: nginx}\n",
        ("service [/bold]: field 'name'", f"String should match pattern {SPEC_PATTERN}")),
    "the name pattern is shown whole": (
        "services:\n  - {name: 'my web', image: nginx}\n",
        ("service my web", f"pattern {SPEC_PATTERN}", "letters, digits")),
    "a secret file named like markup": (
        "secrets:\n  - {name: s1, file: '[red]x[/red].txt'}\n",
        ("secret s1: file [red]x[/red].txt not found",)),
    "a stack compose file with brackets": (
        "stacks:\n  - {name: st, compose: '[b]c.yml'}\n",
        ("stack st: compose file [b]c.yml not found",)),
    "a huge replica count": (
        "services:\n  - {name: web, image: nginx, replicas: 100000000000000000000000000}\n",
        ("service web", "replicas", "from 0 to 1000000")),
    "infinite cpus": (
        "services:\n  - {name: web, image: nginx, resources: {limits: {cpus: .inf}}}\n",
        ("service web", "resources.limits.cpus", "finite number")),
}


@pytest.mark.parametrize("case", list(SPECS))
def test_spec_text_is_printed_as_written(tmp_path, case):
    text, says = SPECS[case]
    inv = tmp_path / "inventory.yml"
    inv.write_text(GOOD_INVENTORY)
    spec = tmp_path / "services.yml"
    spec.write_text(text, encoding="utf-8")
    refused(tmp_path / "home", "deploy", "-i", str(inv), str(spec), says=(str(spec), *says))


# name → (argv, strings the error line must contain)
ARGUMENTS = {
    "an option named like a tag": (("check", "--[/x]", "inv.yml"),
                                   ("No such option: --[/x]",)),
    "a path with brackets and a backslash": (("check", "a\\[b]/[/x].yml"),
                                             ("a\\[b]/[/x].yml: file not found",)),
    "a lab name like a tag": (("lab", "up", "--name", "[/x]"),
                              ("lab name '[/x]' is invalid",)),
    "a path that is not UTF-8": (("check", os.fsdecode(b"inv\xff.yml")),
                                 ("inv\\udcff.yml: file not found",)),
    "a command with a control character": (("prov\x1bision", "inv.yml"),
                                           ("No such command 'prov\\x1bision'",)),
}


@pytest.mark.parametrize("case", list(ARGUMENTS))
def test_arguments_are_printed_as_written(tmp_path, case):
    argv, says = ARGUMENTS[case]
    line = refused(tmp_path / "home", *argv, says=says)
    assert "\x1b" not in line
