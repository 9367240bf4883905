"""`swarmctl lab`: a local sandbox of VM-like container nodes.

Python API (used by the CLI, the tests and the benchmarks):

    from swarmctl import lab
    sandbox = lab.up("dev-1", managers=1, workers=1, distro="bookworm")
    sandbox.inventory_path, sandbox.nodes, sandbox.key_path
    lab.status("dev-1"); lab.ssh_argv("m1", "dev-1"); lab.down("dev-1")
"""

from swarmctl.lab.image import DISTROS, ensure_image
from swarmctl.lab.lab import Lab, Node, Removed, down, ssh_argv, status, up
from swarmctl.lab.plan import DEFAULT_NAME, LAB_USER

__all__ = ["DEFAULT_NAME", "DISTROS", "LAB_USER", "Lab", "Node", "Removed", "down",
           "ensure_image", "ssh_argv", "status", "up"]
