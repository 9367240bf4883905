"""Image build inputs: the cache tag and the build context (no Docker)."""

from __future__ import annotations

import pytest

from swarmctl.errors import InputError
from swarmctl.lab import image


def test_tag_is_stable_and_per_distro() -> None:
    bookworm = image.node_tag("bookworm")
    assert bookworm == image.node_tag("bookworm")
    assert bookworm.startswith("swarmctl-node:bookworm-")
    assert image.node_tag("trixie").startswith("swarmctl-node:trixie-")
    assert image.base_tag("bookworm") != image.base_tag("trixie")


def test_unknown_distro() -> None:
    with pytest.raises(InputError, match="unknown distro 'jessie'"):
        image.node_tag("jessie")


@pytest.mark.parametrize("distro", image.DISTROS)
def test_sources_list_has_security(distro: str) -> None:
    text = image.sources_list(distro)
    assert f"debian {distro} main" in text
    assert f"debian-security {distro}-security main" in text


def test_dockerfile_installs_every_package_and_no_docker() -> None:
    dockerfile = image.context_files("bookworm")["Dockerfile"].decode()
    for package in image.PACKAGES:
        assert f" {package} " in dockerfile.replace("\\\n", " ") + " "
    assert "docker.io" not in dockerfile
    assert "FROM ${BASE}" in dockerfile
