"""`swarmctl deploy` of an image that no node has, on a lab of 1 manager + 1 worker: it
fails naming the image and the reason, without waiting out its timeout, and the version
that served before keeps serving.

The image is a tag of the example's my-web that was never built, so no node has it and no
registry can supply it (none is reachable here; with one, the same tasks fail with "pull
access denied" or "manifest unknown", which count the same).
"""

from __future__ import annotations

import subprocess
import urllib.request

import pytest
import yaml

from tests.conftest import (
    REPO,
    _lab_down,
    assert_refused,
    lab_name,
    node_exec,
    provisioned_lab,
    swarmctl,
)

pytestmark = pytest.mark.e2e

LAB = lab_name("badimg")
MISSING = "my-web:v9-never-built"
# Longer than any natural run: were the fast failure broken, the deploys below would
# end with the timeout's message ("0/2 tasks running after 900s"), which they refuse.
TIMEOUT = "900"


def web(image: str, name: str = "my-web", port: int = 8080) -> dict:
    return {"name": name, "image": image, "replicas": 2, "max_replicas_per_node": 1,
            "publish": [{"published": port, "target": 80, "mode": "host"}],
            "update_config": {"parallelism": 1, "delay": "1s", "monitor": "5s"}}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    subprocess.run([str(REPO / "examples" / "my-web" / "build-image.sh")], check=True,
                   capture_output=True, timeout=600)
    prov = provisioned_lab(LAB, 1, 1, "bookworm")
    loaded = swarmctl("images", "load", "-i", str(prov.inventory), "my-web:v1")
    assert loaded.rc == 0, loaded.output
    specs = tmp_path_factory.mktemp("specs")
    yield prov, specs
    _lab_down(LAB)


def deploy(prov, specs, name: str, services: list[dict]):
    path = specs / f"{name}.yml"
    path.write_text(yaml.safe_dump({"services": services}))
    return swarmctl("deploy", "-i", str(prov.inventory), str(path), "--timeout", TIMEOUT)


def pages(prov) -> dict[str, str]:
    got = {}
    for node in prov.lab.nodes:
        with urllib.request.urlopen(f"http://{node.address}:8080/", timeout=5) as resp:
            got[node.name] = resp.read().decode().strip()
    return got


def test_an_image_no_node_has_fails_fast_and_v1_keeps_serving(lab):
    prov, specs = lab
    first = deploy(prov, specs, "v1", [web("my-web:v1")])
    assert first.rc == 0, first.output
    assert set(pages(prov).values()) == {"my-web v1"}

    # An update to the missing image: swarm rolls it back; deploy says so and why.
    update = deploy(prov, specs, "update", [web(MISSING)])
    line = assert_refused(update, 1, "service my-web", MISSING, "No such image",
                          "rolled it back", "swarmctl images load")
    assert "after 900s" not in line
    assert set(pages(prov).values()) == {"my-web v1"}

    # A new service of the missing image next to v1: no version to roll back to, swarm
    # would retry forever; deploy stops as soon as every task was rejected.
    added = deploy(prov, specs, "added", [web("my-web:v1"),
                                          web(MISSING, name="my-web-next", port=8081)])
    line = assert_refused(added, 1, "service my-web-next", f"image {MISSING}",
                          f"No such image: {MISSING}", "retrying cannot fix",
                          "swarmctl images load")
    assert "after 900s" not in line
    for node in prov.lab.nodes:
        assert node.name in line  # rejected on every node
    assert set(pages(prov).values()) == {"my-web v1"}
    image = node_exec(prov.leader, "docker", "service", "inspect", "my-web", "--format",
                      "{{.Spec.TaskTemplate.ContainerSpec.Image}}")
    assert image.strip().startswith("my-web:v1")
