"""Run swarmctl's playbooks with ansible-runner and read the results from its events.

Every run gets its own folder under `state_dir()/runs/` (ansible-runner's private data
dir) holding the inputs and artifacts, so that a run can be inspected afterwards.
Secrets are never passed as extra vars (ansible-runner writes those to disk): roles
fetch join tokens on the hosts themselves, under `no_log`.

The user's own options (`use(RunOptions)`, set once per command by
swarmctl.cli.options.load_inventory) go on ansible-playbook's command line exactly as
typed: `-e` as given (a path for `-e @file`, never its decrypted content), the vault
options (file paths; a typed password answers ansible-playbook's prompt through
ansible-runner's pexpect, never written), every `-i` source.

The user's ansible.cfg (ANSIBLE_CONFIG, else ./ansible.cfg, ~/.ansible.cfg,
/etc/ansible/ansible.cfg) is the one ansible-playbook reads: their forks, SSH
arguments, become method, callbacks and so on apply. swarmctl sets only what it needs
(its roles path, the event callback ansible-runner adds), and its speed defaults
(pipelining, SSH multiplexing, the fact subset) only where neither their ansible.cfg
nor their environment sets them. Without a user ansible.cfg, swarmctl's own is used.
"""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from swarmctl import paths
from swarmctl.ansible import events as events_
from swarmctl.errors import InputError, RunError

EventHandler = Callable[[dict[str, Any]], None]

FORKS_CAP = 50

# Speed: pipelining, one SSH master per host kept for the run, only the facts we need.
# Each is a default: the user's environment or ansible.cfg (the sections and keys
# given) wins.
_DEFAULTS = {
    "ANSIBLE_PIPELINING": ("True", (("ssh_connection", "pipelining"),
                                    ("connection", "pipelining"), ("defaults", "pipelining"))),
    "ANSIBLE_SSH_ARGS": ("-C -o ControlMaster=auto -o ControlPersist=60s",
                         (("ssh_connection", "ssh_args"),)),
    "ANSIBLE_GATHER_SUBSET": ("!all,!min,network,distribution,kernel",
                              (("defaults", "gather_subset"),)),
    "ANSIBLE_DEPRECATION_WARNINGS": ("False", (("defaults", "deprecation_warnings"),)),
    "ANSIBLE_PYTHON_INTERPRETER": ("auto_silent", (("defaults", "interpreter_python"),)),
    "ANSIBLE_CONTROL_PATH_DIR": (str(Path.home() / ".ansible" / "cp"),
                                 (("ssh_connection", "control_path_dir"),)),
}
# What swarmctl needs whatever the user set: plain output (it reads events, not text)
# and no retry files next to its playbooks.
_FORCED = {
    "ANSIBLE_FORCE_COLOR": "False",
    "ANSIBLE_NOCOLOR": "True",
    "ANSIBLE_RETRY_FILES_ENABLED": "False",
}


@dataclass(frozen=True)
class RunOptions:
    """The user's Ansible options of this command, for every playbook it runs."""

    extra_vars: tuple[str, ...] = ()
    inventory: tuple[Path, ...] = ()


_options = RunOptions()


def use(options: RunOptions) -> None:
    """The options every later run_playbook() of this process passes on."""
    global _options
    _options = options


def user_ansible_cfg(environ: dict[str, str] | None = None) -> Path | None:
    """The user's ansible.cfg, found the way ansible-playbook looks for it (None when
    there is none, or it is swarmctl's own)."""
    env = (os.environ if environ is None else environ).get("ANSIBLE_CONFIG")
    candidates = [Path(env).expanduser()] if env else []
    candidates += [Path.cwd() / "ansible.cfg", Path.home() / ".ansible.cfg",
                   Path("/etc/ansible/ansible.cfg")]
    own = (paths.ansible_dir() / "ansible.cfg").resolve()
    for cfg in candidates:
        if cfg.is_dir():
            cfg = cfg / "ansible.cfg"
        if cfg.is_file():
            return None if cfg.resolve() == own else cfg.resolve()
    return None


def _cfg_read(cfg: Path | None) -> dict[tuple[str, str], str]:
    """(section, key) → value of an ansible.cfg (empty when there is none)."""
    if cfg is None:
        return {}
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read(cfg, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return {}
    return {(section, key): parser[section][key] for section in parser.sections()
            for key in parser[section]}


def _their_paths(env: dict[str, str], var: str, cfg: Path | None,
                 values: dict[tuple[str, str], str], keys: tuple[str, ...]) -> list[str]:
    """A search path of the user's (environment, else ansible.cfg, relative to it)."""
    if env.get(var):
        return [p for p in env[var].split(os.pathsep) if p]
    for key in keys:
        if ("defaults", key) in values and cfg is not None:
            return [str((cfg.parent / Path(p).expanduser()).resolve())
                    if not p.startswith(("/", "~")) else p
                    for p in values[("defaults", key)].split(os.pathsep) if p.strip()]
    return []


def ansible_env(base: dict[str, str] | None = None) -> tuple[dict[str, str], bool]:
    """The environment of ansible-playbook, and whether the user's forks setting holds."""
    env = dict(os.environ if base is None else base)
    cfg = user_ansible_cfg(env)
    values = _cfg_read(cfg)
    user_sets = set(values)
    for var, (value, keys) in _DEFAULTS.items():
        if var not in env and not any(k in user_sets for k in keys):
            env[var] = value
    env.update(_FORCED)
    env["ANSIBLE_CONFIG"] = str(cfg or paths.ansible_dir() / "ansible.cfg")
    # swarmctl's roles and collection first; the user's paths (if any) after them.
    roles = _their_paths(env, "ANSIBLE_ROLES_PATH", cfg, values, ("roles_path",))
    env["ANSIBLE_ROLES_PATH"] = os.pathsep.join(dict.fromkeys([str(paths.roles_dir()),
                                                               *roles]))
    collections = _their_paths(env, "ANSIBLE_COLLECTIONS_PATH", cfg, values,
                               ("collections_path", "collections_paths")) \
        or ["~/.ansible/collections", "/usr/share/ansible/collections"]
    # The roles' modules and filters are the collection's, called by FQCN.
    env["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join(
        dict.fromkeys([str(paths.collections_root()), *collections]))
    user_forks = "ANSIBLE_FORKS" in env or ("defaults", "forks") in user_sets
    return env, user_forks


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


def _scrub_command_artifact(run_dir: Path) -> None:
    """ansible-runner records the whole environment of the run in artifacts/*/command;
    the user's environment may hold credentials. Keep only what configures Ansible."""
    import json

    for path in (run_dir / "artifacts").glob("*/command"):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        env = data.get("env") or {}
        data["env"] = {k: v for k, v in env.items() if k.startswith("ANSIBLE_")}
        path.write_text(json.dumps(data))


# Run-folder retention: the newest KEEP_RUNS folders that are at most KEEP_DAYS old stay,
# older ones are removed when a run starts. 0 switches a limit off.
KEEP_RUNS = 50
KEEP_DAYS = 30
_STAMP = re.compile(r"^(\d{8}T\d{6}\.\d{6}Z)-")


def retention() -> tuple[int, float]:
    """(runs, days) from SWARMCTL_KEEP_RUNS / SWARMCTL_KEEP_DAYS, else the defaults.
    InputError for a value that is not a number >= 0."""
    out = []
    for var, default in (("SWARMCTL_KEEP_RUNS", KEEP_RUNS), ("SWARMCTL_KEEP_DAYS", KEEP_DAYS)):
        raw = os.environ.get(var, "").strip()
        try:
            value = float(raw) if raw else float(default)
        except ValueError:
            value = -1
        if value < 0 or (var == "SWARMCTL_KEEP_RUNS" and value != int(value)):
            raise InputError(f"{var}={raw!r}: expected a whole number of "
                             f"{'runs' if var.endswith('RUNS') else 'days'} >= 0 (0: no limit)")
        out.append(value)
    return int(out[0]), out[1]


def prune_runs(runs_dir: Path, *, keep: int | None, days: float,
               now: datetime | None = None) -> list[Path]:
    """Remove run folders beyond the newest `keep` (None: no count limit) or older than
    `days` (0: no age limit), by the time in their names; the removed paths. Anything
    not named like a run folder stays."""
    now = now or datetime.now(UTC)
    runs = []
    for entry in runs_dir.iterdir() if runs_dir.is_dir() else ():
        match = _STAMP.match(entry.name)
        if not match or not entry.is_dir():
            continue
        stamp = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)
        runs.append((stamp, entry))
    runs.sort(reverse=True)
    removed = []
    for i, (stamp, entry) in enumerate(runs):
        too_many = keep is not None and i >= keep
        too_old = days > 0 and (now - stamp).total_seconds() > days * 86400
        if too_many or too_old:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def new_run_dir(verb: str) -> Path:
    """A fresh run folder; older ones beyond the retention are removed first (the new
    one counts: KEEP_RUNS folders remain, this one included)."""
    keep, days = retention()
    runs_dir = paths.state_dir() / "runs"
    prune_runs(runs_dir, keep=keep - 1 if keep else None, days=days)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    run_dir = runs_dir / f"{stamp}-{verb}"
    run_dir.mkdir(parents=True, exist_ok=True)
    runs_dir.chmod(0o700)  # the runs are as private as the inventory they ran from
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
    check: bool = False,
) -> RunResult:
    """Run one of swarmctl's playbooks against an inventory and collect its events
    (`check`: in Ansible's check mode, which changes nothing)."""
    import ansible_runner  # heavy import: keep it off the CLI's start-up path

    from swarmctl.ansible import vault

    run_dir = new_run_dir(verb or Path(playbook).stem)
    env, user_forks = ansible_env()
    # ansible-runner calls `ansible-playbook` by name: find the one installed with us.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    sources: list[str] = [str(Path(inventory).resolve())]
    if _options.inventory and Path(inventory).resolve() == _options.inventory[0].resolve():
        sources = [str(p.resolve()) for p in _options.inventory]
    cmdline = [arg for ev in _options.extra_vars for arg in ("-e", ev)]
    cmdline += vault.options().cmdline()
    if check:
        cmdline.append("--check")
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
        inventory=sources if len(sources) > 1 else sources[0],
        extravars=extravars or {},
        cmdline=shlex.join(cmdline) if cmdline else None,
        passwords=vault.pexpect_passwords() or None,
        envvars=env,
        forks=None if user_forks else max(1, min(forks, FORKS_CAP)),
        limit=limit,
        verbosity=verbosity or None,
        quiet=verbosity == 0,
        event_handler=handler,
        suppress_env_files=True,
        ident="run",
    )
    elapsed = time.monotonic() - started
    _scrub_command_artifact(run_dir)
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
