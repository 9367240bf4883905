"""Run swarmctl's playbooks with ansible-runner and read the results from its events.

Every run gets its own folder under `state_dir()/runs/` (ansible-runner's private data
dir) holding the inputs and artifacts, so that a run can be inspected afterwards.
Secrets are never passed as extra vars (ansible-runner writes those to disk): roles
fetch join tokens on the hosts themselves, under `no_log`.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from swarmctl import paths
from swarmctl.ansible import events as events_
from swarmctl.errors import RunError

EventHandler = Callable[[dict[str, Any]], None]

FORKS_CAP = 50

# Speed: pipelining, one SSH master per host kept for the run, only the facts we need.
_ENV = {
    "ANSIBLE_PIPELINING": "True",
    "ANSIBLE_SSH_ARGS": "-C -o ControlMaster=auto -o ControlPersist=60s",
    "ANSIBLE_GATHER_SUBSET": "!all,!min,network,distribution,kernel",
    "ANSIBLE_FORCE_COLOR": "False",
    "ANSIBLE_NOCOLOR": "True",
    "ANSIBLE_RETRY_FILES_ENABLED": "False",
    "ANSIBLE_DEPRECATION_WARNINGS": "False",
    "ANSIBLE_PYTHON_INTERPRETER": "auto_silent",
}


@dataclass
class RunResult:
    """What a playbook run did: status, rc, per-host stats and the events."""

    status: str
    rc: int
    stats: dict[str, dict[str, int]]
    events: list[dict[str, Any]]
    run_dir: Path
    elapsed: float
    failures: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "successful" and self.rc == 0

    def changed(self) -> dict[str, int]:
        return dict(self.stats.get("changed", {}))

    @property
    def total_changed(self) -> int:
        return sum(self.changed().values())


def new_run_dir(verb: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    run_dir = paths.state_dir() / "runs" / f"{stamp}-{verb}"
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def run_playbook(
    playbook: str,
    inventory: Path,
    *,
    verb: str | None = None,
    extravars: dict[str, Any] | None = None,
    verbosity: int = 0,
    limit: str | None = None,
    forks: int = 5,
    on_event: EventHandler | None = None,
) -> RunResult:
    """Run one of swarmctl's playbooks against an inventory and collect its events."""
    import ansible_runner  # heavy import: keep it off the CLI's start-up path

    run_dir = new_run_dir(verb or Path(playbook).stem)
    env = dict(os.environ)
    env.update(_ENV)
    # ansible-runner calls `ansible-playbook` by name: find the one installed with us.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["ANSIBLE_CONFIG"] = str(paths.ansible_dir() / "ansible.cfg")
    env["ANSIBLE_ROLES_PATH"] = str(paths.roles_dir())
    # The roles' modules and filters are the collection's, called by FQCN.
    env["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join(
        [str(paths.collections_root()), "~/.ansible/collections", "/usr/share/ansible/collections"])
    env["ANSIBLE_CONTROL_PATH_DIR"] = str(Path.home() / ".ansible" / "cp")
    events: list[dict[str, Any]] = []

    def handler(event: dict[str, Any]) -> bool:
        events.append(event)
        if on_event:
            on_event(event)
        return True

    started = time.monotonic()
    runner = ansible_runner.run(
        private_data_dir=str(run_dir),
        project_dir=str(paths.ansible_dir() / "playbooks"),
        playbook=playbook,
        inventory=str(Path(inventory).resolve()),
        extravars=extravars or {},
        envvars=env,
        forks=max(1, min(forks, FORKS_CAP)),
        limit=limit,
        verbosity=verbosity or None,
        quiet=verbosity == 0,
        event_handler=handler,
        suppress_env_files=True,
        ident="run",
    )
    elapsed = time.monotonic() - started
    failures = events_.failures(events)
    stats = runner.stats or {}
    return RunResult(
        status=runner.status,
        rc=runner.rc if runner.rc is not None else 1,
        stats={k: v for k, v in stats.items() if isinstance(v, dict)},
        events=events,
        run_dir=run_dir,
        elapsed=elapsed,
        failures=failures,
    )


def raise_for_failures(result: RunResult, what: str) -> None:
    if result.ok:
        return
    if result.failures:
        host, task, msg = result.failures[0]
        more = f" (and {len(result.failures) - 1} more failures)" if len(result.failures) > 1 \
            else ""
        raise RunError(f"{what} failed on {host} at '{task}': {msg}{more}; "
                       f"details in {result.run_dir}")
    raise RunError(f"{what} failed ({result.status}, rc={result.rc}); "
                   f"details in {result.run_dir}")
