"""The autoscaler's image, made where swarmctl runs, and its rounds as `status` reads them.

With no `autoscaler: {image: ...}` in the spec, `deploy` builds the image from
swarmctl/autoscaler/ on the local Docker engine (on `debian:bookworm`, or on the lab's
debootstrapped base when no registry answers: the same way the lab builds its nodes),
tagged by a digest of its files, and copies it to the nodes that lack it
(`swarmctl images load`). With a registry you may push it and name it in the spec.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from swarmctl.errors import LabError, RunError
from swarmctl.lab import docker
from swarmctl.lab import image as labimage
from swarmctl.models.inventory import Inventory
from swarmctl.ops import images

REPO = "swarmctl-autoscaler"
NAME = "swarmctl-autoscaler"  # the controller's service (the role's default)
AGENT = f"{NAME}-agent"
DISTRO = "bookworm"
_SOURCE = Path(__file__).resolve().parent.parent / "autoscaler"


def _files() -> dict[str, bytes]:
    files = {f"swarmctl_autoscaler/{p.name}": p.read_bytes()
             for p in sorted(_SOURCE.glob("*.py"))}
    files["Dockerfile"] = (_SOURCE / "Dockerfile").read_bytes()
    return files


def tag() -> str:
    """The image tag: changes whenever a file of the image changes."""
    h = hashlib.sha256()
    for name, data in sorted(_files().items()):
        h.update(b"\0".join((name.encode(), data, b"")))
    return f"{REPO}:{h.hexdigest()[:12]}"


def ensure_image(progress: Callable[[str], None] = lambda _: None) -> str:
    """The local image's tag, built first when it is not there."""
    wanted = tag()
    if shutil.which("docker") is None:
        raise RunError("a service declares autoscale and the autoscaler's image is built "
                       "locally, but there is no docker command here; install Docker, or "
                       "build and push swarmctl/autoscaler/Dockerfile and set "
                       "autoscaler: {image: ...} in the spec")
    if labimage.image_exists(wanted):
        return wanted
    try:
        base = labimage.base_image(DISTRO, progress)
    except LabError as exc:
        raise RunError(f"cannot build the autoscaler's image: {exc}") from None
    with tempfile.TemporaryDirectory(prefix="swarmctl-autoscaler-") as ctx:
        for name, data in _files().items():
            path = Path(ctx) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        proc = docker.run(["build", "-q", "--build-arg", f"BASE={base}",
                           "--label", f"{docker.LABEL}.image=autoscaler", "-t", wanted, ctx],
                          check=False, timeout=900)
    if proc.returncode != 0:
        raise RunError(f"building the autoscaler's image failed: "
                       f"{docker.last_line(proc.stderr)}")
    return wanted


def ship(inv: Inventory, progress: Callable[[str], None] = lambda _: None) -> str:
    """Build the image if needed and copy it to every node that lacks it."""
    wanted = ensure_image(progress)
    failed = [h for h in images.load(inv, [wanted]) if h.error]
    if failed:
        raise RunError(f"copying the autoscaler's image {wanted} to {failed[0].host} "
                       f"failed: {failed[0].error}")
    return wanted


# --------------------------------------------------------------------------- status

def latest_rounds(log_lines: list[str]) -> dict[str, dict[str, Any]]:
    """Per service the controller's latest observation, from its log lines (JSON)."""
    import json

    out: dict[str, dict[str, Any]] = {}
    for line in log_lines:
        line = line.strip()
        start = line.find("{")
        if start < 0:
            continue
        try:
            data = json.loads(line[start:])
        except ValueError:
            continue
        when = data.get("time") or 0
        for name, seen in (data.get("services") or {}).items():
            # `docker service logs` interleaves the lines of old and new controller tasks
            if isinstance(seen, dict) and when >= (out.get(name) or {}).get("time", 0):
                out[name] = {**seen, "time": when}
    return out
