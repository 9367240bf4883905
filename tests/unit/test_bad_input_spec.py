"""Bad service specs, refused by the real `swarmctl deploy` before any host is contacted.

Each case: exactly one line on stderr naming the spec file, the service and the field,
and the fix; exit 2; no traceback; no playbook run. (The inventory is valid and points
at loopback only.)
"""

from __future__ import annotations

import pytest

from tests.unit.badinput import GOOD_INVENTORY, refused

WEB = "services:\n  - name: web\n    image: nginx:1.27\n"

# name → (spec text, strings the error line must contain)
CASES = {
    "empty spec": ("", ("is empty",)),
    "broken YAML": ("services:\n  - name: web\n    image: [nginx\n", ("fix the YAML syntax",)),
    "top level is a list": ("- web\n", ("top level is a list",)),
    "unknown field": (WEB + "    replica: 3\n", ("service web", "replica")),
    "unknown top-level kind": ("servcies:\n  - {name: web, image: nginx}\n", ("servcies",)),
    "negative replicas": (WEB + "    replicas: -1\n", ("service web", "replicas")),
    "replicas not a number": (WEB + "    replicas: three\n", ("service web", "replicas")),
    "published port out of range": (
        WEB + "    publish: [{published: 70000, target: 80}]\n",
        ("service web", "published")),
    "non-integer port": (WEB + "    publish: [{published: http, target: 80}]\n",
                         ("service web", "published")),
    "two services on one host port": (
        "services:\n"
        "  - {name: web, image: nginx, publish: [{published: 8080, target: 80}]}\n"
        "  - {name: api, image: nginx, publish: [{published: 8080, target: 80}]}\n",
        ("service api", "8080/tcp", "also published by service web")),
    "undeclared network": (WEB + "    networks: [backend]\n",
                           ("service web", "network 'backend' is not declared")),
    "undeclared secret": (WEB + "    secrets: [db_password]\n",
                          ("service web", "'db_password' is not declared")),
    "service without image": ("services:\n  - name: web\n", ("service web", "image")),
    "invalid service name": ("services:\n  - {name: 'my web', image: nginx}\n", ("name",)),
    "service declared twice": (
        "services:\n  - {name: web, image: nginx}\n  - {name: web, image: nginx}\n",
        ("service web", "declared twice")),
}


@pytest.fixture
def inventory(tmp_path):
    path = tmp_path / "inventory.yml"
    path.write_text(GOOD_INVENTORY)
    return path


@pytest.mark.parametrize("case", list(CASES))
def test_bad_spec_is_refused(tmp_path, inventory, case):
    text, says = CASES[case]
    spec = tmp_path / "services.yml"
    spec.write_text(text, encoding="utf-8")
    refused(tmp_path / "home", "deploy", "-i", str(inventory), str(spec),
            says=(str(spec), *says))


def test_missing_spec_file(tmp_path, inventory):
    spec = tmp_path / "nope.yml"
    refused(tmp_path / "home", "deploy", "-i", str(inventory), str(spec),
            says=(str(spec), "file not found"))


def test_spec_is_a_directory(tmp_path, inventory):
    refused(tmp_path / "home", "deploy", "-i", str(inventory), str(tmp_path),
            says=(str(tmp_path), "is a directory"))
