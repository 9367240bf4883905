"""The services spec model (swarmctl.models.spec) and the role's mapping of a declared service to
docker_swarm_service options: pure logic, no hosts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from swarmctl.errors import InputError
from swarmctl.models import spec
from tests.conftest import load_file

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "my-web"


def _filter():
    path = REPO / "plugins" / "filter" / "swarm_services.py"
    return load_file("swarm_services_filters", path).swarm_services_module_args


def parse(text: str, tmp_path: Path) -> spec.Spec:
    path = tmp_path / "spec.yml"
    path.write_text(text)
    return spec.load(path)


def refused(text: str, tmp_path: Path) -> str:
    with pytest.raises(InputError) as info:
        parse(text, tmp_path)
    line = info.value.message
    assert "\n" not in line
    assert str(tmp_path / "spec.yml") in line
    return line


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yml")), ids=lambda p: p.name)
def test_examples_are_valid(path):
    parsed = spec.load(path)
    assert [s.name for s in parsed.services] == ["my-web"]


def test_defaults(tmp_path):
    parsed = parse("services:\n  - {name: web, image: nginx}\n", tmp_path)
    svc = parsed.services[0]
    assert svc.mode == "replicated" and svc.replicas is None
    assert svc.update_config.failure_action == "rollback"
    assert parsed.ingress_ports() == []


def test_ingress_is_the_default_publish_mode(tmp_path):
    parsed = parse("services:\n  - name: web\n    image: nginx\n"
                   "    publish: [{published: 8080, target: 80}]\n", tmp_path)
    assert parsed.ingress_ports() == [("web", 8080)]


def test_full_spec(tmp_path):
    (tmp_path / "pw.txt").write_text("s3cret")
    (tmp_path / "compose.yml").write_text("services: {}\n")
    parsed = parse("""
networks:
  - {name: backend, encrypted: true, attachable: true, subnet: 10.20.0.0/24}
secrets:
  - {name: db_password, file: pw.txt}
  - {name: api_key, value: abc}
configs:
  - {name: site, value: "hello"}
  - {name: shared, external: true}
services:
  - name: api
    image: api:1
    mode: global
    networks: [backend]
    endpoint_mode: dnsrr
    secrets: [db_password, {name: api_key, target: key, mode: 0400}]
    configs: [{name: site, target: /etc/site}, shared]
    env: {DEBUG: true, PORT: 8000}
    constraints: ["node.role == worker"]
    preferences: [{spread: node.labels.zone}]
    resources: {limits: {cpus: 0.5, memory: 64M}}
    healthcheck: {test: [CMD, /bin/true], interval: 5s, retries: 3}
    restart_policy: {condition: on-failure, max_attempts: 3}
    update_config: {parallelism: 2, order: start-first}
    rollback_config: {parallelism: 1}
stacks:
  - {name: mon, compose: compose.yml}
""", tmp_path)
    assert parsed.services[0].data_names("secrets") == ["db_password", "api_key"]
    assert not parsed.empty


@pytest.mark.parametrize(("text", "says"), [
    ("services:\n  - {name: web, image: nginx, replica: 3}\n",
     ("service web", "unknown field 'replica'", "replicas")),
    ("services:\n  - {name: web, image: nginx, replicas: -1}\n",
     ("service web", "replicas", "from 0 to 1000000")),
    ("services:\n  - {name: web, image: nginx, publish: [{published: 0, target: 80}]}\n",
     ("service web", "publish[0].published", "1 to 65535")),
    ("services:\n  - {name: web, image: nginx, publish: [{published: 80, target: 80, "
     "mode: routing}]}\n", ("service web", "publish[0].mode")),
    ("services:\n  - {name: web}\n", ("service web", "'image' is missing")),
    ("services:\n  - {name: web, image: nginx, mode: global, replicas: 2}\n",
     ("service web", "global")),
    ("services:\n  - {name: web, image: nginx, endpoint_mode: dnsrr, "
     "publish: [{published: 80, target: 80}]}\n", ("service web", "mode: host")),
    ("services:\n  - {name: web, image: nginx, healthcheck: {test: [CMD], interval: 5}}\n",
     ("service web", "healthcheck.interval", "10s")),
    ("services:\n  - {name: web, image: nginx, update_config: {failure_action: explode}}\n",
     ("service web", "update_config.failure_action")),
    ("services:\n  - {name: web, image: nginx, secrets: [{name: pw, bad: 1}]}\n",
     ("service web", "unknown field 'secrets[0].bad'", "target")),
    ("secrets:\n  - {name: pw}\n", ("secret pw", "exactly one of file or value")),
    ("secrets:\n  - {name: pw, file: nope.txt}\n", ("secret pw", "nope.txt", "not found")),
    ("secrets:\n  - {name: pw, value: x, external: true}\n", ("secret pw", "external")),
    ("networks:\n  - {name: n, subnet: 10.0.0.1/24}\n", ("network n", "subnet")),
    ("networks:\n  - {name: n, driver: bridge}\n", ("network n", "driver")),
    ("stacks:\n  - {name: s, compose: missing.yml}\n", ("stack s", "missing.yml")),
    ("services:\n  - {name: a, image: x, publish: [{published: 53, target: 53, "
     "protocol: udp}]}\n  - {name: b, image: x, publish: [{published: 53, target: 53, "
     "protocol: udp, mode: host}]}\n", ("service b", "53/udp", "service a")),
    ("services:\n  - {name: a, image: x, publish: [{published: 80, target: 80}, "
     "{published: 80, target: 81}]}\n", ("service a", "listed twice")),
    ("services: {web: {image: nginx}}\n", ("services", "list")),
    ("volumes: []\n", ("volumes",)),
])
def test_refused(tmp_path, text, says):
    line = refused(text, tmp_path)
    for part in says:
        assert part in line, f"{part!r} not in {line!r}"


def test_same_port_on_other_protocol_is_fine(tmp_path):
    parse("services:\n  - {name: a, image: x, publish: [{published: 53, target: 53}]}\n"
          "  - {name: b, image: x, publish: [{published: 53, target: 53, protocol: udp}]}\n",
          tmp_path)


# --------------------------------------------------------------------------- role mapping

def test_module_args_minimal():
    args = _filter()({"name": "web", "image": "nginx"})
    assert args == {"name": "web", "image": "nginx", "mode": "replicated", "replicas": 1,
                    "labels": {"io.swarmctl.managed": "true"},
                    "update_config": {"failure_action": "rollback"}}


def test_module_args_only_what_is_set():
    svc = yaml.safe_load("""
name: api
image: api:1
mode: global
publish: [{published: 8080, target: 80, mode: host}]
secrets: [pw, {name: key, target: k, mode: 256}]
env: {DEBUG: true, N: 3}
constraints: [node.role == worker]
max_replicas_per_node: 2
resources: {limits: {cpus: 0.5}}
update_config: {parallelism: 2, failure_action: pause}
""")
    args = _filter()(svc)
    assert "replicas" not in args
    assert args["publish"] == [{"published_port": 8080, "target_port": 80,
                                "protocol": "tcp", "mode": "host"}]
    assert args["secrets"] == [{"secret_name": "pw"},
                               {"secret_name": "key", "filename": "k", "mode": 256}]
    assert args["env"] == {"DEBUG": "true", "N": "3"}
    assert args["placement"] == {"constraints": ["node.role == worker"],
                                 "replicas_max_per_node": 2}
    assert args["limits"] == {"cpus": 0.5}
    assert "reservations" not in args and "healthcheck" not in args
    assert args["update_config"] == {"parallelism": 2, "failure_action": "pause"}
