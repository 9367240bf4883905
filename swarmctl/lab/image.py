"""The lab's node image: built once per distro and build inputs, then cached by tag.

With a registry, the image is built from `Dockerfile` on top of `debian:<distro>`. When
that cannot be pulled (no registry), the Debian base is made locally with debootstrap and
`docker import`, and the same Dockerfile is built on top of it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from swarmctl import paths
from swarmctl.console import one_line
from swarmctl.errors import InputError, LabError
from swarmctl.lab import docker

Progress = Callable[[str], None]

DISTROS = ("bookworm", "trixie")
MIRROR = "http://deb.debian.org/debian"
SECURITY_MIRROR = "http://deb.debian.org/debian-security"
# Installed in the image (the Dockerfile lists them too; a unit test keeps both in step).
PACKAGES = ("systemd", "systemd-sysv", "dbus", "openssh-server", "python3", "sudo",
            "iproute2", "ca-certificates", "curl", "gnupg")
NODE_REPO = "swarmctl-node"
BASE_REPO = "swarmctl-base"
_HERE = Path(__file__).resolve().parent
_CONTEXT_FILES = ("Dockerfile", "sshd.conf", "ssh-hostkeys.conf")


def _quiet(_: str) -> None:
    """A progress callback that shows nothing."""


def check_distro(distro: str) -> str:
    if distro not in DISTROS:
        raise InputError(f"unknown distro {distro!r}; use one of: {', '.join(DISTROS)}")
    return distro


def sources_list(distro: str) -> str:
    """The main mirror, updates and security, as on a Debian cloud VM."""
    return (f"deb {MIRROR} {distro} main\n"
            f"deb {MIRROR} {distro}-updates main\n"
            f"deb {SECURITY_MIRROR} {distro}-security main\n")


def context_files(distro: str) -> dict[str, bytes]:
    """The files of the build context, by name."""
    files = {name: (_HERE / name).read_bytes() for name in _CONTEXT_FILES}
    files["sources.list"] = sources_list(distro).encode()
    return files


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()[:12]


def node_tag(distro: str) -> str:
    """The cache tag: changes whenever a build input changes."""
    files = context_files(check_distro(distro))
    parts = [p for name in sorted(files) for p in (name.encode(), files[name])]
    return f"{NODE_REPO}:{distro}-{_digest(distro.encode(), *parts)}"


def base_tag(distro: str) -> str:
    """The tag of a locally debootstrapped Debian base."""
    inputs = (distro, MIRROR, ",".join(PACKAGES), "minbase")
    return f"{BASE_REPO}:{distro}-{_digest(*(s.encode() for s in inputs))}"


def image_exists(tag: str) -> bool:
    return docker.run(["image", "inspect", "--format", "{{.Id}}", tag], check=False
                      ).returncode == 0


def ensure_image(distro: str, progress: Progress = _quiet) -> str:
    """The node image tag for `distro`, built first if it is not cached."""
    tag = node_tag(distro)
    if image_exists(tag):
        return tag
    with _lock(f"image-{distro}"):
        if image_exists(tag):  # built by a concurrent `lab up` meanwhile
            return tag
        base = base_image(distro, progress)
        _build(tag, base, distro, progress)
        _remove_stale(distro, keep=tag)
    return tag


def _remove_stale(distro: str, keep: str) -> None:
    """Untag older node images of `distro` (found by label); ones still in use stay."""
    listed = docker.run(["image", "ls", "--filter", f"label={docker.LABEL}.image={distro}",
                         "--format", "{{.Repository}}:{{.Tag}}"], check=False).stdout.split()
    stale = [t for t in listed if t != keep and t.startswith(f"{NODE_REPO}:{distro}-")]
    if stale:
        docker.run(["image", "rm", *stale], check=False)


@contextmanager
def _lock(name: str) -> Iterator[None]:
    """An exclusive file lock, so that concurrent `lab up`s build an image once."""
    lock_dir = paths.state_dir() / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def base_image(distro: str, progress: Progress) -> str:
    """`debian:<distro>` if present or pullable, else a debootstrapped local base."""
    official = f"debian:{distro}"
    if image_exists(official):
        return official
    progress(f"pulling {official}")
    if docker.run(["pull", "-q", official], check=False, timeout=600).returncode == 0:
        return official
    local = base_tag(distro)
    if not image_exists(local):
        debootstrap_base(distro, local, progress)
    return local


def debootstrap_base(distro: str, tag: str, progress: Progress = _quiet) -> None:
    """Build a Debian base image with debootstrap and import it as `tag`."""
    if shutil.which("debootstrap") is None:
        raise LabError(f"debian:{distro} cannot be pulled and debootstrap is not installed; "
                       "install it (`sudo apt-get install debootstrap`) or make the "
                       "registry reachable")
    if os.geteuid() != 0:
        raise LabError(f"debian:{distro} cannot be pulled, and building it with debootstrap "
                       "needs root; run `sudo swarmctl lab up` once (the image is cached)")
    with tempfile.TemporaryDirectory(prefix="swarmctl-rootfs-", dir="/var/tmp",
                                     ignore_cleanup_errors=True) as tmp:
        root = Path(tmp) / "rootfs"
        try:
            _debootstrap(distro, root, progress)
            progress(f"importing the {distro} root file system as {tag}")
            _import(root, tag)
        finally:
            _unmount_under(root)


def _debootstrap(distro: str, root: Path, progress: Progress) -> None:
    cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
           distro, str(root), MIRROR]
    _stream(cmd, f"debootstrap {distro}", progress)


def _import(root: Path, tag: str) -> None:
    tar = subprocess.Popen(["tar", "-C", str(root), "--numeric-owner", "-c", "."],
                           stdout=subprocess.PIPE)
    imp = subprocess.run(["docker", "import", "-", tag], stdin=tar.stdout,
                         capture_output=True, text=True, check=False)
    assert tar.stdout is not None
    tar.stdout.close()
    if tar.wait() != 0 or imp.returncode != 0:
        raise LabError(f"importing the base image {tag} failed: {docker.last_line(imp.stderr)}")


def _unmount_under(root: Path) -> None:
    """Unmount anything a failed debootstrap left mounted inside `root`."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return
    prefix = str(root) + "/"
    targets = [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]
    for target in sorted(targets, reverse=True):
        subprocess.run(["umount", "-l", target], check=False, capture_output=True)


def _build(tag: str, base: str, distro: str, progress: Progress) -> None:
    with tempfile.TemporaryDirectory(prefix="swarmctl-image-") as ctx:
        for name, data in context_files(distro).items():
            (Path(ctx) / name).write_bytes(data)
        cmd = ["docker", "build", "--build-arg", f"BASE={base}",
               "--label", f"{docker.LABEL}.image={distro}", "-t", tag, ctx]
        _stream(cmd, f"building {tag}", progress)


def _stream(cmd: list[str], what: str, progress: Progress) -> None:
    """Run `cmd`, passing its output lines to `progress`; LabError with the tail on failure."""
    tail: deque[str] = deque(maxlen=5)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.strip()
        if line and not line.startswith(("DEPRECATED", "BuildKit is", "environment-var",
                                         "Install the buildx")):
            tail.append(line)
            progress(f"{what}: {one_line(line, 100)}")
    if proc.wait() != 0:
        raise LabError(f"{what} failed: {tail[-1] if tail else 'no output'}")
