"""Command-line misuse: one line on stderr (not click's usage box), exit 2, no traceback."""

from __future__ import annotations

import pytest

from tests.unit.badinput import GOOD_INVENTORY, refused

CASES = {
    "unknown option": (("provision", "--bogus", "{inv}"),
                       ("swarmctl provision", "No such option: --bogus", "--help")),
    "unknown option of check": (("check", "--fast", "{inv}"),
                                ("swarmctl check", "No such option: --fast", "--help")),
    "missing inventory argument": (("provision",),
                                   ("swarmctl provision", "Missing argument", "--help")),
    "missing argument of check": (("check",), ("swarmctl check", "Missing argument")),
    "unknown command": (("provison", "{inv}"), ("No such command 'provison'", "--help")),
    "extra argument": (("check", "{inv}", "{inv}"), ("swarmctl check", "unexpected extra")),
    "not an integer option": (("lab", "up", "--managers", "three"),
                              ("swarmctl lab up", "--managers", "--help")),
    "option without its value": (("lab", "up", "--managers"),
                                 ("--managers", "requires an argument", "--help")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_usage_error_is_one_line(tmp_path, case):
    args, says = CASES[case]
    inv = tmp_path / "inventory.yml"
    inv.write_text(GOOD_INVENTORY)
    refused(tmp_path / "home", *(a.format(inv=inv) for a in args), says=says)


def test_deploy_without_inventory_option(tmp_path):
    spec = tmp_path / "services.yml"
    spec.write_text("services: []\n")
    refused(tmp_path / "home", "deploy", str(spec), says=("swarmctl deploy", "--inventory"))
