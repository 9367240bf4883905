"""swarmctl.ops.remote: what its ssh commands get on their standard input."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

# remote.run with ssh replaced by a command that prints what it reads, in a process whose
# standard input holds the answers a user piped in for swarmctl's questions.
_PROBE = """
from swarmctl.ops import remote
from swarmctl.models.inventory import Host
remote.ssh_argv = lambda host, command, **kw: ["sh", "-c", "cat; echo end"]
done = remote.run(Host(name="h", role="manager", address="h"), ["true"])
print(repr(done.stdout.decode()))
"""


def test_ssh_reads_nothing_of_swarmctls_own_input():
    proc = subprocess.run([sys.executable, "-c", _PROBE], input="y\nn\n", cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=True)
    assert proc.stdout.strip() == repr("end\n"), proc.stdout


def test_an_explicit_stdin_is_still_passed(tmp_path):
    data = tmp_path / "data"
    data.write_bytes(b"image bytes")
    from swarmctl.models.inventory import Host
    from swarmctl.ops import remote

    orig = remote.ssh_argv
    remote.ssh_argv = lambda host, command, **kw: ["cat"]
    try:
        with data.open("rb") as fh:
            done = remote.run(Host(name="h", role="manager", address="h"), ["true"], stdin=fh)
    finally:
        remote.ssh_argv = orig
    assert done.stdout == b"image bytes"
