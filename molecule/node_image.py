"""Make sure the Molecule node image exists: `python molecule/node_image.py [DISTRO]`.

Molecule's docker driver starts nodes from a pre-built image (`pre_build_image: true`).
This builds the swarmctl lab node image for DISTRO (bookworm by default, or
$MOLECULE_DISTRO) if it is not cached yet, and tags it `swarmctl-molecule:DISTRO`, the
image the scenarios use. Run it once before `molecule test` (`make molecule` does).

Each systemd node holds several inotify instances, and the kernel's default per-user limit
(fs.inotify.max_user_instances = 128) is shared by every container on the machine: past
about 20 nodes, a new node's systemd dies at boot ("Too many open files", exit 255).
As root, this raises the limit when it is below INOTIFY_INSTANCES; otherwise it warns.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from swarmctl.errors import SwarmctlError
from swarmctl.lab.image import ensure_image

MOLECULE_REPO = "swarmctl-molecule"
INOTIFY_INSTANCES = 8192
INOTIFY_SYSCTL = Path("/proc/sys/fs/inotify/max_user_instances")


def check_inotify() -> None:
    try:
        current = int(INOTIFY_SYSCTL.read_text())
    except (OSError, ValueError):
        return
    if current >= INOTIFY_INSTANCES:
        return
    fix = f"sysctl -w fs.inotify.max_user_instances={INOTIFY_INSTANCES}"
    if os.geteuid() == 0:
        try:
            INOTIFY_SYSCTL.write_text(str(INOTIFY_INSTANCES))
            print(f"raised fs.inotify.max_user_instances from {current} to "
                  f"{INOTIFY_INSTANCES} (systemd nodes need it)", file=sys.stderr)
            return
        except OSError:
            pass
    print(f"warning: fs.inotify.max_user_instances is {current}: nodes may fail to boot "
          f"when many containers run; raise it with `sudo {fix}`", file=sys.stderr)


def main(argv: list[str]) -> int:
    distro = argv[1] if len(argv) > 1 else os.environ.get("MOLECULE_DISTRO", "bookworm")
    check_inotify()
    try:
        tag = ensure_image(distro, progress=lambda line: print(line, file=sys.stderr))
    except SwarmctlError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    alias = f"{MOLECULE_REPO}:{distro}"
    subprocess.run(["docker", "tag", tag, alias], check=True)
    print(alias)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
