"""Pure parts of unlock and rotate (swarmctl.ops.security), the duration parsers, and the
verbs' bad input through the real CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from swarmctl.errors import InputError
from swarmctl.models.inventory import load
from swarmctl.ops import health_read, security
from tests.conftest import assert_refused, load_file, swarmctl

DATA = Path(__file__).parent / "data" / "health"


def _inv(tmp_path):
    path = tmp_path / "inventory.yml"
    path.write_text("all:\n  children:\n    swarm_managers:\n      hosts:\n"
                    "        m1: {ansible_host: 10.0.0.11}\n        m2: {ansible_host: 10.0.0.12}\n"
                    "        m3: {ansible_host: 10.0.0.13}\n")
    return load(path)


def _ev(kind, host, task, res=None):
    return {"event": kind, "event_data": {"host": host, "task": task, "res": res or {}}}


def _published(host, unlocked):
    data = {"swarmctl": {"kind": "unlock", "unlocked": unlocked}}
    return _ev("runner_on_ok", host, "any name", {"ansible_stats": {"data": data}})


def test_unlock_outcomes_one_per_manager(tmp_path):
    inv = _inv(tmp_path)
    events = [
        _published("m1", False),
        _published("m2", True),
        _ev("runner_on_failed", "m3", "Ensure the key unlocked the manager.",
            {"msg": "host m3: the key in /k does not unlock it (invalid key)"}),
    ]
    lines = [o.line() for o in security.unlock_outcomes(inv, events)]
    assert lines == ["m1: not locked", "m2: unlocked: from the key file",
                     "m3: failed: host m3: the key in /k does not unlock it (invalid key)"]


def test_unlock_outcomes_unreachable_and_missing(tmp_path):
    inv = _inv(tmp_path)
    events = [_ev("runner_on_unreachable", "m1", "Read whether the swarm is locked on this "
                  "manager.", {"msg": "ssh: connect to host 10.0.0.11 port 22: timed out"})]
    outcomes = security.unlock_outcomes(inv, events)
    assert [o.outcome for o in outcomes] == ["unreachable", "failed", "failed"]


def _cluster():
    raw = json.loads((DATA / "healthy.json").read_text())
    return raw["cluster"]


def test_ca_progress_counts_nodes_on_the_new_root():
    cluster = _cluster()
    done, waiting, busy = security.ca_progress(cluster)
    assert len(done) == 4 and not waiting and not busy
    cluster["swarm"]["TLSInfo"]["CertIssuerPublicKey"] = "bmV3"
    cluster["swarm"]["RootRotationInProgress"] = True
    cluster["nodes"][0]["Description"]["TLSInfo"]["CertIssuerPublicKey"] = "bmV3"
    done, waiting, busy = security.ca_progress(cluster)
    assert len(done) == 1 and len(waiting) == 3 and busy


@pytest.mark.parametrize(("text", "seconds"), [("2160h", 2160 * 3600), ("90d", 90 * 86400),
                                               ("1h30m", 5400), (600, 600)])
def test_durations(text, seconds):
    assert health_read.duration_seconds(text, "x") == seconds
    module = load_file("swarm_security_filter", Path(__file__).resolve().parents[2] /
                       "plugins" / "filter" / "swarm_security.py")
    assert module.swarm_security_seconds(text) == seconds


@pytest.mark.parametrize("bad", ["90 days", "h", "-5h", "1.5h", True])
def test_bad_durations(bad):
    with pytest.raises(InputError, match="not a duration"):
        health_read.duration_seconds(bad, "inventory.yml: swarm_cert_expiry")


def test_rotate_refuses_an_unknown_secret(tmp_path):
    inv = _inv(tmp_path)
    cli = swarmctl("rotate", str(inv.path), "passwords")
    assert_refused(cli, 2, "cannot rotate 'passwords'", "tokens, unlock-key, ca")


def test_status_check_refuses_negative_cert_days(tmp_path):
    inv = _inv(tmp_path)
    cli = swarmctl("status", "-i", str(inv.path), "--check", "--cert-days", "-1")
    assert_refused(cli, 2, "--cert-days")


def test_status_check_refuses_a_bad_cert_expiry_in_the_inventory(tmp_path):
    path = tmp_path / "inventory.yml"
    path.write_text("all:\n  vars: {swarm_cert_expiry: ninety days}\n  children:\n"
                    "    swarm_managers:\n      hosts:\n        m1: {ansible_host: 10.0.0.11}\n")
    cli = swarmctl("status", "-i", str(path), "--check")
    assert_refused(cli, 2, "swarm_cert_expiry", "2160h")


CERT = "-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEISECRETKEYBODY\n-----END EC PRIVATE KEY-----\n"


def test_external_ca_gives_the_files_paths_never_their_content(tmp_path):
    cert, key = tmp_path / "ca.crt", tmp_path / "ca.key"
    cert.write_text(CERT)
    key.write_text(KEY)
    assert security.external_ca("ca", None, None) == {}
    got = security.external_ca("ca", cert, key)
    assert got == {"swarm_security_ca_cert_file": str(cert.resolve()),
                   "swarm_security_ca_key_file": str(key.resolve())}
    assert "SECRETKEYBODY" not in json.dumps(got)


@pytest.mark.parametrize(("what", "cert", "key", "says"), [
    ("ca", "ca.crt", None, "both --ca-cert FILE and --ca-key FILE"),
    ("ca", None, "ca.key", "both --ca-cert FILE and --ca-key FILE"),
    ("tokens", "ca.crt", "ca.key", "for `rotate ca`"),
    ("ca", "missing.crt", "ca.key", "--ca-cert"),
    ("ca", "ca.key", "ca.key", "not a PEM certificate"),
    ("ca", "ca.crt", "ca.crt", "not a PEM private key"),
])
def test_external_ca_bad_input(tmp_path, what, cert, key, says):
    (tmp_path / "ca.crt").write_text(CERT)
    (tmp_path / "ca.key").write_text(KEY)
    with pytest.raises(InputError, match=re.escape(says)) as exc:
        security.external_ca(what, cert and tmp_path / cert, key and tmp_path / key)
    assert "SECRETKEYBODY" not in str(exc.value)


def test_rotate_refuses_ca_files_for_tokens_before_reading_the_inventory(tmp_path):
    (tmp_path / "ca.crt").write_text(CERT)
    cli = swarmctl("rotate", str(tmp_path / "no-inventory.yml"), "tokens",
                   "--ca-cert", str(tmp_path / "ca.crt"), "--ca-key", str(tmp_path / "ca.crt"))
    assert_refused(cli, 2, "--ca-cert and --ca-key are for `rotate ca`")


@pytest.mark.parametrize(("value", "declared"), [("'false'", False), ("'no'", False),
                                                 ("true", True), ("'on'", True)])
def test_declared_autolock_reads_strings_as_ansible_does(tmp_path, value, declared):
    # INI inventories give every value as a string: 'false' is off, not a true string
    path = tmp_path / "inventory.yml"
    path.write_text(f"all:\n  vars: {{swarm_autolock: {value}, swarm_unlock_key_file: k}}\n"
                    "  children:\n    swarm_managers:\n      hosts:\n"
                    "        m1: {ansible_host: 10.0.0.11}\n")
    assert health_read._declared(load(path)) == (declared, None)
