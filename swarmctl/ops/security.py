"""Unlock and rotations: `swarmctl unlock` and `swarmctl rotate` (role swarm_security).

The key never passes through this process: the playbooks read the key file on the
controller inside the play under no_log, and write new keys the same way. What comes
back here are task outcomes (changed, skipped, failed) and non-secret messages.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from swarmctl.ansible.progress import Progress
from swarmctl.ansible.runner import RunResult, raise_for_failures, run_playbook
from swarmctl.errors import InputError, RunError
from swarmctl.models.inventory import Inventory

ROTATIONS = {"tokens": "tokens", "unlock-key": "unlock_key", "ca": "ca"}


@dataclass
class HostOutcome:
    host: str
    outcome: str  # unlocked | not locked | failed | unreachable
    message: str = ""

    def line(self) -> str:
        return f"{self.host}: {self.outcome}{': ' + self.message if self.message else ''}"


def unlock_outcomes(inv: Inventory, events: list[dict[str, Any]]) -> list[HostOutcome]:
    """One outcome per manager from the unlock play's events (pure): what the role
    published (kind `unlock`, per host), else the host's failure."""
    from swarmctl.ansible import events as events_

    found: dict[str, HostOutcome] = {}
    for r in events_.results(events):
        if r.host in found and found[r.host].outcome in ("failed", "unreachable"):
            continue
        if r.outcome == "unreachable":
            found[r.host] = HostOutcome(r.host, "unreachable", r.message)
        elif r.outcome == "failed" and not r.ignored:
            found[r.host] = HostOutcome(r.host, "failed", r.message)
        elif r.outcome == "ok" and (r.published or {}).get("kind") == "unlock":
            unlocked = r.published.get("unlocked") in (True, "True", "true")
            found[r.host] = HostOutcome(r.host, "unlocked" if unlocked else "not locked",
                                        "from the key file" if unlocked else "")
    return [found.get(h.name, HostOutcome(h.name, "failed", "no result"))
            for h in inv.managers]


def unlock(inv: Inventory, *, console: Console, verbosity: int = 0
           ) -> tuple[list[HostOutcome], RunResult]:
    with Progress(console, "unlocking", active=not verbosity) as progress:
        result = run_playbook("unlock.yml", inv.path, verb="unlock", verbosity=verbosity,
                              forks=len(inv.managers), on_event=progress)
    return unlock_outcomes(inv, result.events), result


def _pem(path: Path, option: str, kinds: tuple[str, ...], what: str) -> Path:
    """A readable PEM file holding one of `kinds`; the error names the file, never its
    content (a key's)."""
    try:
        text = path.expanduser().read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        raise InputError(f"{option} {path}: cannot read it ({exc.strerror or exc})") from None
    if not any(f"-----BEGIN {k}-----" in text for k in kinds):
        raise InputError(f"{option} {path}: not a PEM {what} (no '-----BEGIN "
                         f"{kinds[0]}-----' line)")
    return path.expanduser().resolve()


def external_ca(what: str, cert: Path | None, key: Path | None) -> dict[str, str]:
    """The extra vars of an external root CA for `rotate ca` (the files' paths on this
    machine, never their content), or {} when none is given. Bad input: InputError."""
    if cert is None and key is None:
        return {}
    if what != "ca":
        raise InputError(f"--ca-cert and --ca-key are for `rotate ca`, not {what!r}")
    if cert is None or key is None:
        raise InputError("an external CA needs both --ca-cert FILE and --ca-key FILE")
    return {"swarm_security_ca_cert_file": str(_pem(cert, "--ca-cert", ("CERTIFICATE",),
                                                    "certificate")),
            "swarm_security_ca_key_file": str(_pem(
                key, "--ca-key", ("PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"),
                "private key"))}


def rotate(inv: Inventory, what: str, *, console: Console, verbosity: int = 0,
           timeout: float = 600, external: dict[str, str] | None = None,
           on_node: Callable[[str], None] | None = None) -> RunResult:
    """Rotate `what` (tokens, unlock-key, ca). For the CA, follow the rotation until
    every node's certificate comes from the new root, calling `on_node` per node;
    `external`: external_ca()'s extra vars (the new root is that CA)."""
    if what not in ROTATIONS:
        raise InputError(f"cannot rotate {what!r}: choose one of {', '.join(ROTATIONS)}")
    before = _node_issuers(inv) if what == "ca" else None
    with Progress(console, f"rotating {what}", active=not verbosity) as progress:
        result = run_playbook("rotate.yml", inv.path, verb=f"rotate-{what}",
                              extravars={"swarm_security_rotate": ROTATIONS[what],
                                         **(external or {})},
                              verbosity=verbosity, forks=len(inv.managers), on_event=progress)
    raise_for_failures(result, f"rotating {what}")
    if what == "ca":
        follow_ca(inv, before or {}, timeout=timeout, on_node=on_node or (lambda _: None))
    return result


def _node_issuers(inv: Inventory) -> dict[str, str]:
    cluster = _cluster(inv)
    return {_hostname(n): _issuer(n) for n in cluster.get("nodes") or []}


def _cluster(inv: Inventory) -> dict[str, Any]:
    from swarmctl.ops import health_read

    cluster, _ = health_read.read_cluster(inv)
    if cluster is None:
        raise RunError("no manager could read the swarm; check the managers "
                       "(swarmctl status -i INVENTORY --check)")
    return cluster


def _hostname(node: dict[str, Any]) -> str:
    return (node.get("Description") or {}).get("Hostname", node.get("ID", ""))


def _issuer(node: dict[str, Any]) -> str:
    return ((node.get("Description") or {}).get("TLSInfo") or {}).get("CertIssuerPublicKey", "")


def ca_progress(cluster: dict[str, Any]) -> tuple[set[str], set[str], bool]:
    """(nodes on the new root, nodes not yet, rotation still in progress) from a cluster
    read (pure). Only Ready nodes count as waiting: a Down node renews when it is back."""
    swarm = cluster.get("swarm") or {}
    root = (swarm.get("TLSInfo") or {}).get("CertIssuerPublicKey", "")
    done, waiting = set(), set()
    for n in cluster.get("nodes") or []:
        if _issuer(n) == root:
            done.add(_hostname(n))
        elif (n.get("Status") or {}).get("State") == "ready":
            waiting.add(_hostname(n))
    return done, waiting, bool(swarm.get("RootRotationInProgress"))


def follow_ca(inv: Inventory, before: dict[str, str], *, timeout: float,
              on_node: Callable[[str], None]) -> None:
    """Wait until every Ready node's certificate is issued by the new root and the
    swarm says the rotation finished; report each node once as it switches."""
    deadline = time.monotonic() + timeout
    reported: set[str] = set()
    while True:
        cluster = _cluster(inv)
        done, waiting, in_progress = ca_progress(cluster)
        new = {h for h in done if before.get(h) != _issuer_of(cluster, h)}
        for host in sorted(new - reported):
            reported.add(host)
            on_node(f"{host}: certificate issued by the new root CA "
                    f"({len(reported)}/{len(done) + len(waiting)})")
        if not waiting and not in_progress:
            return
        if time.monotonic() > deadline:
            raise RunError(f"the CA rotation did not finish in {timeout:.0f}s: "
                           f"{', '.join(sorted(waiting)) or 'the swarm'} still on the old "
                           "root; it goes on in the background (swarmctl status --check)")
        time.sleep(2)


def _issuer_of(cluster: dict[str, Any], host: str) -> str:
    for n in cluster.get("nodes") or []:
        if _hostname(n) == host:
            return _issuer(n)
    return ""
