"""Backups of the swarm's raft state: take one (playbooks/backup.yml), check an archive.

The playbook chooses the manager (a healthy non-leader whose stop keeps quorum), stops
Docker there, archives /var/lib/docker/swarm with `swarmctl-backup.json`, starts Docker,
waits until the manager is Reachable again, fetches the archive (mode 0600), compares
checksums and prunes the oldest archives beyond `keep`. Here the archive is opened and
its contents checked once more on the controller.
"""

from __future__ import annotations

import hashlib
import json
import stat
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from swarmctl import paths
from swarmctl.ansible import events
from swarmctl.ansible.progress import Progress
from swarmctl.ansible.runner import RunResult, raise_for_failures, run_playbook
from swarmctl.errors import InputError, PreflightError, RunError
from swarmctl.models.inventory import Inventory

META = "swarmctl-backup.json"
# Members every archive of a manager's state holds (Docker's layout of /var/lib/docker/swarm).
REQUIRED = ("swarm/state.json", "swarm/raft", "swarm/certificates", META)


def default_dir() -> Path:
    return paths.state_dir() / "backups"


@dataclass
class Archive:
    """An archive checked on the controller: it opens and holds a manager's state."""

    path: Path
    size: int
    sha256: str
    meta: dict[str, Any]
    members: int

    def as_dict(self) -> dict[str, Any]:
        return {"archive": str(self.path), "size": self.size, "sha256": self.sha256,
                "members": self.members, "meta": self.meta}


@dataclass
class Backup:
    archive: Archive
    host: str
    pruned: list[str]
    docker_down_seconds: float | None
    result: RunResult
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**self.archive.as_dict(), "host": self.host, "pruned": self.pruned,
                "docker_down_seconds": self.docker_down_seconds,
                "run_dir": str(self.result.run_dir), "notes": self.notes}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_archive(path: Path) -> Archive:
    """Open an archive and check it holds a manager's swarm state and its metadata.

    InputError (exit 2) naming the file and what is wrong: not a file, not a gzip'd tar,
    members missing, a checksum that differs from the .sha256 file next to it.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such backup archive; `swarmctl backup` writes them to "
                         f"{default_dir()}")
    size = path.stat().st_size
    digest = sha256_of(path)
    sidecar = path.with_name(path.name + ".sha256")
    if sidecar.is_file():
        expected = sidecar.read_text().split()[0] if sidecar.read_text().strip() else ""
        if expected != digest:
            raise InputError(f"{path}: its SHA-256 ({digest[:12]}…) differs from {sidecar.name} "
                             f"({expected[:12]}…): the archive is damaged; use another one")
    try:
        with tarfile.open(path, "r:gz") as tar:
            names = tar.getnames()
            meta_member = tar.extractfile(META) if META in names else None
            meta = json.loads(meta_member.read()) if meta_member else {}
    except (tarfile.TarError, OSError, EOFError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable swarmctl backup archive ({exc}); "
                         "use one written by `swarmctl backup`") from None
    missing = [m for m in REQUIRED if not any(n == m or n.startswith(m + "/") for n in names)]
    if missing:
        raise InputError(f"{path}: not a swarmctl backup archive: it lacks {', '.join(missing)}")
    for key in ("node_id", "node_addr", "cluster_id"):
        if not meta.get(key):
            raise InputError(f"{path}: {META} in the archive has no {key}")
    return Archive(path, size, digest, meta, len(names))


def refusal(result: RunResult, choice_kind: str | None = None) -> str | None:
    """The reason a role refused before changing anything, as it published it."""
    for data in events.published(result.events, "refused"):
        return str(data.get("message", ""))
    if choice_kind:
        for data in events.published(result.events, choice_kind):
            error = data.get("error") or (data.get("plan") or {}).get("error")
            if error and data.get("refused", True):
                return str(error)
    return None


def quiet_refusals(handler):
    """The progress handler without the per-host failure line of a refusal (the
    refusal itself is the error line): failed asserts of swarm_backup and
    swarm_recover are not shown."""
    def on_event(event: dict[str, Any]) -> None:
        data = event.get("event_data", {})
        if event.get("event") == "runner_on_failed" and \
                str(data.get("role", "")).endswith(("swarm_backup", "swarm_recover")) and \
                data.get("resolved_action", data.get("task_action")) in (
                    "ansible.builtin.assert", "assert"):
            return
        handler(event)
    return on_event


def backup(inv: Inventory, *, dest: Path, keep: int, host: str = "",
           unlock_key_file: Path | None = None, verbosity: int = 0,
           console: Console) -> Backup:
    """Take a backup; PreflightError (3) when no manager may be stopped, nothing changed."""
    if keep < 0:
        raise InputError(f"--keep {keep}: give 0 (keep all) or a positive number of archives")
    if host and host not in [h.name for h in inv.managers]:
        raise InputError(f"--host {host}: not in swarm_managers of {inv.path}")
    extravars: dict[str, Any] = {"swarm_backup_dest_dir": str(Path(dest).resolve()),
                                 "swarm_backup_keep": keep, "swarm_backup_host": host}
    if unlock_key_file:
        if not Path(unlock_key_file).is_file():
            raise InputError(f"--unlock-key-file {unlock_key_file}: no such file")
        # The path only, never the key: the play reads it under no_log.
        extravars["swarm_backup_unlock_key_file"] = str(Path(unlock_key_file).resolve())
    with Progress(console, "backing up", active=not verbosity) as progress:
        result = run_playbook("backup.yml", inv.path, verb="backup", extravars=extravars,
                              verbosity=verbosity, forks=len(inv.managers),
                              on_event=quiet_refusals(progress))
    refused = refusal(result, "backup_choice")
    if refused:
        raise PreflightError(f"{refused} (nothing was changed)")
    raise_for_failures(result, "backup")
    recorded = events.published(result.events, "backup")
    if not recorded:
        raise RunError(f"backup ran but published no archive; details in {result.run_dir}")
    done = recorded[-1]["backup"]
    archive = check_archive(Path(done["archive"]))
    if archive.sha256 != done["sha256"] or archive.size != int(done["size"]):
        raise RunError(f"{archive.path}: differs from the archive the manager wrote; "
                       "run the backup again")
    mode = stat.S_IMODE(archive.path.stat().st_mode)
    if mode & 0o077:
        raise RunError(f"{archive.path}: mode {mode:04o}, expected 0600")
    notes = []
    if archive.meta.get("autolock"):
        notes.append("the swarm is autolocked: this archive is useless without the unlock "
                     "key; keep the key (not stored with the archive) to restore it")
    down = done.get("docker_down_seconds")
    return Backup(archive, done["host"], list(done.get("pruned") or []),
                  float(down) if down not in (None, "") else None, result, notes)


def list_archives(directory: Path) -> list[Path]:
    return sorted(Path(directory).glob("swarm-*.tar.gz"))
