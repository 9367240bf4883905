"""Copy images from the local Docker engine to every node, for sites without a registry.

`docker save` runs once, into a temporary file; the archive is then streamed to the
nodes in parallel over SSH into `docker load`. Nodes that already hold every image
with the same image ID are skipped.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from swarmctl.errors import InputError, RunError
from swarmctl.models.inventory import Host, Inventory
from swarmctl.ops import remote

PARALLEL = 8
_MISSING = "-"


@dataclass
class HostLoad:
    host: str
    loaded: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    error: str = ""


def local_ids(images: Sequence[str]) -> dict[str, str]:
    """Image ID of each image in the local engine; InputError for the missing ones."""
    ids = {}
    for image in images:
        proc = subprocess.run(["docker", "image", "inspect", "-f", "{{.Id}}", image],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise InputError(f"image {image} is not in the local Docker engine; build or pull "
                             f"it first (docker images lists what is there)")
        ids[image] = proc.stdout.strip()
    return ids


def remote_ids(host: Host, images: Sequence[str]) -> dict[str, str]:
    script = "for i in \"$@\"; do docker image inspect -f '{{.Id}}' \"$i\" 2>/dev/null " \
             f"|| echo {_MISSING}; done"
    proc = remote.run(host, ["sh", "-c", script, "sh", *images], timeout=60)
    if proc.returncode != 0:
        raise RunError(f"{host.name}: cannot list its images: {remote.error_text(proc)}")
    found = proc.stdout.decode().split()
    if len(found) != len(images):
        raise RunError(f"{host.name}: unexpected answer listing images: {found!r}")
    return dict(zip(images, found, strict=True))


def load(inv: Inventory, images: Sequence[str],
         on_host: Callable[[HostLoad], None] | None = None) -> list[HostLoad]:
    """Copy the images to every host of the inventory that lacks one of them."""
    wanted = local_ids(images)
    hosts = list(inv.hosts)

    def probe(host: Host) -> HostLoad:
        result = HostLoad(host.name)
        try:
            have = remote_ids(host, list(wanted))
        except RunError as exc:
            result.error = exc.message
            return result
        for image, image_id in wanted.items():
            (result.present if have[image] == image_id else result.loaded).append(image)
        return result

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        results = list(pool.map(probe, hosts))
    needed = sorted({img for r in results if not r.error for img in r.loaded})
    if needed:
        with tempfile.TemporaryFile() as archive:
            proc = subprocess.run(["docker", "save", *needed], stdout=archive,
                                  stderr=subprocess.PIPE, check=False)
            if proc.returncode != 0:
                raise RunError(f"docker save {' '.join(needed)} failed: "
                               f"{proc.stderr.decode().strip()}")

            def push(pair: tuple[Host, HostLoad]) -> HostLoad:
                host, result = pair
                if result.error or not result.loaded:
                    return result
                with open(f"/proc/self/fd/{archive.fileno()}", "rb") as stream:
                    done = remote.run(host, ["docker", "load", "-q"], stdin=stream,
                                      timeout=1800)
                if done.returncode != 0:
                    result.error = f"docker load failed: {remote.error_text(done)}"
                return result

            with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
                results = list(pool.map(push, zip(hosts, results, strict=True)))
    for r in results:
        if on_host:
            on_host(r)
    return results
