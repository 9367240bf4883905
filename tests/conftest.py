"""Shared fixtures. End-to-end tests (marker `e2e`) run on real lab nodes: container
nodes with systemd and sshd, provisioned over SSH by the real `swarmctl` CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def load_file(name: str, path: Path):
    """Import a Python file by path as module `name` (the collection's plugins are not
    a package the tests can import), without registering it in sys.modules."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
# `make test` runs the CLI installed from the wheel (as users get it: its collection, not
# the checkout's files); `pytest` alone runs the checkout's (`python -m swarmctl`).
_INSTALLED = Path(sys.executable).parent / "swarmctl"
SWARMCTL = ([str(_INSTALLED)] if os.environ.get("SWARMCTL_TEST_INSTALLED") == "1"
            else [sys.executable, "-m", "swarmctl"])
# Test labs are named per test session, so that two sessions on one Docker engine
# (two developers, or a developer and CI) never tear down each other's nodes.
RUN_ID = os.environ.get("SWARMCTL_TEST_ID") or str(os.getpid() % 100000)


def lab_name(kind: str) -> str:
    """A lab name unique to this test session, e.g. `t4242-bw`."""
    return f"t{RUN_ID}-{kind}"


@dataclass
class Cli:
    """The result of one `swarmctl` invocation."""

    rc: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def swarmctl(*args: str, timeout: float = 900, env: dict[str, str] | None = None,
             stdin: str | None = None) -> Cli:
    """Run the real CLI in a subprocess, as a user would; `stdin`: what the user types
    (the answers to its questions), then end of input."""
    proc = subprocess.run(
        [*SWARMCTL, *args], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "COLUMNS": "200", **(env or {})}, check=False,
        **({} if stdin is None else {"input": stdin}),
    )
    return Cli(proc.returncode, proc.stdout, proc.stderr)


def assert_refused(cli: Cli, code: int, *says: str, prefix: str = "error: ") -> str:
    """The CLI refused cleanly: exit `code`, exactly one line on stderr that starts with
    `prefix` and contains every text in `says`, no traceback. Returns the line."""
    assert cli.rc == code, f"exit {cli.rc}, expected {code}:\n{cli.output}"
    lines = cli.stderr.splitlines()
    assert len(lines) == 1, f"expected exactly one line on stderr:\n{cli.stderr}"
    line = lines[0]
    assert line.startswith(prefix), line
    assert "Traceback" not in cli.output
    for text in says:
        assert text in line, f"{text!r} not in {line!r}"
    return line


def node_exec(container: str, *cmd: str, check: bool = True) -> str:
    """Run a command inside a lab node (a container this test suite started)."""
    proc = subprocess.run(["docker", "exec", container, *cmd], capture_output=True,
                          text=True, timeout=120, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} on {container} failed: {proc.stderr.strip()}")
    return proc.stdout


def node_ls(container: str) -> list[dict]:
    """`docker node ls` on a manager, as JSON objects."""
    out = node_exec(container, "docker", "node", "ls", "--format", "{{json .}}")
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def cluster_id(container: str) -> str:
    return node_exec(container, "docker", "info", "--format", "{{.Swarm.Cluster.ID}}").strip()


def run_events(run_dir: Path) -> list[dict]:
    """The ansible-runner events of a run, from its artifacts."""
    return [json.loads(p.read_text())
            for p in (run_dir / "artifacts").glob("*/job_events/*.json")]


def changed_counts(run_dir: Path) -> dict[str, int]:
    """Per-host `changed` from the ansible-runner artifacts of a run, for every host
    the run processed (Ansible's stats list only the hosts with changes). A converged
    re-run that ran no task (swarmctl.ops.converged) records the hosts it read and
    compared in `converged.json` instead."""
    skipped = run_dir / "converged.json"
    if skipped.is_file():
        data = json.loads(skipped.read_text())
        assert data["skipped"] and data["changed"] == 0, data
        return {host: seen["changed"] for host, seen in data["hosts"].items()}
    for ev in run_events(run_dir):
        if ev.get("event") == "playbook_on_stats":
            data = ev["event_data"]
            changed = data.get("changed", {})
            return {host: changed.get(host, 0) for host in data.get("processed", {})}
    raise AssertionError(f"no playbook_on_stats event in {run_dir}")


def assert_no_changes(output: str, *hosts: str) -> dict[str, int]:
    """The run named in `output` processed `hosts` (at least one) and changed nothing:
    an empty count would pass a plain sum() check without proving anything."""
    counts = changed_counts(run_dir_from(output))
    assert counts, f"the run processed no host: {counts}"
    assert set(hosts) <= set(counts), f"{hosts} not all processed: {counts}"
    assert sum(counts.values()) == 0, counts
    return counts


def run_dir_from(output: str) -> Path:
    """The run folder that `swarmctl provision` names in its summary."""
    text = " ".join(output.split())
    marker = "Run folder: "
    assert marker in text, f"no run folder in output:\n{output}"
    return Path(text.split(marker, 1)[1].split()[0])


@dataclass
class Provisioned:
    """A lab that `swarmctl provision` turned into a swarm (the first run)."""

    lab: object  # swarmctl.lab.lab.Lab
    inventory: Path
    first: Cli

    @property
    def leader(self) -> str:
        return self.lab.managers[0].container


def _lab_up(name: str, managers: int, workers: int, distro: str):
    from swarmctl.lab import lab

    return lab.up(name, managers, workers, distro)


def _lab_down(name: str) -> None:
    from swarmctl.lab import lab

    if not os.environ.get("SWARMCTL_KEEP_LABS"):
        lab.down(name)


def provisioned_lab(name: str, managers: int, workers: int, distro: str) -> Provisioned:
    from swarmctl.lab import lab as labmod

    labmod.down(name)  # start from bare nodes
    the_lab = _lab_up(name, managers, workers, distro)
    first = swarmctl("provision", str(the_lab.inventory_path))
    assert first.rc == 0, f"provision failed:\n{first.output}"
    return Provisioned(the_lab, the_lab.inventory_path, first)


@pytest.fixture(scope="session")
def cluster():
    """A bookworm lab of 3 managers + 2 workers, provisioned once for the session.

    Tests that use it may add services, labels or networks but must leave the nodes
    members of the swarm (tests that break nodes build their own lab).
    """
    name = lab_name("bw")
    prov = provisioned_lab(name, 3, 2, "bookworm")
    yield prov
    _lab_down(name)
