"""Security lifecycle and health on one lab of 3 managers + 1 worker (module-scoped):
`status --check` findings and exit codes, autolock on / locked manager / unlocked by
provision and by `swarmctl unlock` / off, and the rotations (tokens, unlock key, CA).
The tests run in file order and each leaves the swarm healthy for the next."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import (
    REPO,
    assert_refused,
    changed_counts,
    cluster_id,
    lab_name,
    node_exec,
    node_ls,
    provisioned_lab,
    run_dir_from,
    swarmctl,
)

pytestmark = pytest.mark.e2e

NAME = f"security-{lab_name('sec')}"
KEY_FILE = "keys/unlock.key"  # relative to the inventory's folder


@pytest.fixture(scope="module")
def lab():
    prov = provisioned_lab(NAME, 3, 1, "bookworm")
    yield prov
    if not os.environ.get("SWARMCTL_KEEP_LABS"):
        from swarmctl.lab import lab as labmod

        labmod.down(NAME)


@pytest.fixture(scope="module")
def secure(lab, tmp_path_factory):
    """The lab's inventory with autolock on and a key file in a folder next to it (neither
    there yet: provision creates both)."""
    folder = tmp_path_factory.mktemp("secure")
    data = yaml.safe_load(lab.inventory.read_text())
    data["all"]["vars"].update({"swarm_autolock": True, "swarm_unlock_key_file": KEY_FILE,
                                "swarm_cert_expiry": "720h"})
    path = folder / "inventory.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def _c(lab, suffix: str) -> str:
    """The container of the lab node whose name ends with `suffix` (its name is its
    hostname and inventory name too)."""
    return next(n.container for n in lab.lab.nodes if n.name.endswith(suffix))


def _n(lab, suffix: str) -> str:
    return next(n.name for n in lab.lab.nodes if n.name.endswith(suffix))


def _wait(predicate, what: str, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


def _state(container: str) -> str:
    return node_exec(container, "docker", "info", "--format",
                     "{{.Swarm.LocalNodeState}}", check=False).strip()


def _node_status(lab, hostname: str) -> str:
    return next((n["Status"] for n in node_ls(_c(lab, "m1")) if n["Hostname"] == hostname), "")


def _restart_docker(container: str) -> None:
    node_exec(container, "systemctl", "restart", "docker")
    _wait(lambda: _state(container) in ("locked", "active"), f"{container}'s Docker")


def _files_with(text: str, *roots: Path) -> list[Path]:
    found = []
    for root in roots:
        for p in root.rglob("*"):
            if p.is_file() and text.encode() in p.read_bytes():
                found.append(p)
    return found


def _check(inventory: Path, *extra: str):
    return swarmctl("status", "-i", str(inventory), "--check", *extra, timeout=120)


# --------------------------------------------------------------------------- status --check


def test_status_check_is_0_on_a_healthy_lab_and_writes_no_run_folder(lab, tmp_path):
    home = {"SWARMCTL_HOME": str(tmp_path / "home")}  # its own: other runs share the default
    cli = swarmctl("status", "-i", str(lab.inventory), "--check", env=home, timeout=120)
    assert cli.rc == 0, cli.output
    assert cli.stdout.startswith("OK: 4 nodes"), cli.stdout
    js = swarmctl("status", "-i", str(lab.inventory), "--check", "--json", env=home,
                  timeout=120)
    assert js.rc == 0 and json.loads(js.stdout)["status"] == "ok"
    assert not (tmp_path / "home" / "runs").exists()


def test_a_service_that_cannot_run_is_critical(lab):
    m1 = _c(lab, "m1")
    node_exec(m1, "docker", "service", "create", "--detach", "--name", "nowhere",
              "--replicas", "2", "--constraint", "node.labels.none==x", "busybox:latest")
    try:
        cli = _check(lab.inventory)
        assert cli.rc == 11, cli.output
        assert "CRITICAL nowhere: service: 0/2 tasks running: pending: no suitable node" \
            in cli.stdout
    finally:
        node_exec(m1, "docker", "service", "rm", "nowhere")


def test_a_stopped_worker_is_a_warning(lab):
    w1, name = _c(lab, "w1"), _n(lab, "w1")
    subprocess.run(["docker", "stop", w1], check=True, capture_output=True, timeout=120)
    try:
        _wait(lambda: _node_status(lab, name) == "Down", "the worker to be Down")
        cli = _check(lab.inventory)
        assert cli.rc == 10, cli.output
        assert f"WARNING {name}: node: worker node is down" in cli.stdout
    finally:
        subprocess.run(["docker", "start", w1], check=True, capture_output=True, timeout=120)
    _wait(lambda: _node_status(lab, name) == "Ready", "the worker to be Ready again", 180)


def test_a_stopped_manager_puts_quorum_at_risk(lab):
    m3, name = _c(lab, "m3"), _n(lab, "m3")
    node_exec(m3, "systemctl", "stop", "docker.socket", "docker.service")
    try:
        _wait(lambda: any(n["Hostname"] == name and n["ManagerStatus"] == "Unreachable"
                          for n in node_ls(_c(lab, "m1"))), "m3 to be Unreachable")
        cli = _check(lab.inventory)
        assert cli.rc == 11, cli.output
        assert f"CRITICAL (cluster): quorum: quorum at risk: 2 of 3 managers reachable " \
            f"({name} not)" in cli.stdout, cli.stdout
        assert f"CRITICAL {name}: docker: Docker does not answer" in cli.stdout, cli.stdout
    finally:
        node_exec(m3, "systemctl", "start", "docker.service")
    _wait(lambda: any(n["Hostname"] == name and n["ManagerStatus"] == "Reachable"
                      for n in node_ls(_c(lab, "m1"))), "m3 Reachable again", 180)
    _wait(lambda: _check(lab.inventory).rc == 0, "a healthy check again", 120)


def test_docker_api_on_tcp_without_tls_is_critical_and_fails_the_preflight(lab):
    """dockerd also listening on tcp://0.0.0.0:2375 (Debian's DOCKER_OPTS, on the lab's
    own network only): status --check says critical, the preflight's docker-api fails."""
    from swarmctl.ops.checks import CHECKS

    w1, name = _c(lab, "w1"), _n(lab, "w1")
    saved = "/etc/default/docker.test-saved"
    node_exec(w1, "sh", "-c", f"if [ -e /etc/default/docker ]; then cp -p /etc/default/docker "
              f"{saved}; fi; echo 'DOCKER_OPTS=\"-H tcp://0.0.0.0:2375\"' >> "
              "/etc/default/docker && systemctl restart docker")
    try:
        _wait(lambda: ":2375 " in node_exec(w1, "ss", "-Hltn"), "dockerd on 2375")
        _wait(lambda: _node_status(lab, name) == "Ready", "w1 Ready")
        cli = _check(lab.inventory)
        assert cli.rc == 11, cli.output
        assert f"CRITICAL {name}: docker-api: the Docker API listens on 0.0.0.0:2375 " \
            "without TLS" in cli.stdout, cli.stdout
        pre = swarmctl("check", str(lab.inventory), env={"COLUMNS": "250"})
        assert pre.rc == 3 and "Traceback" not in pre.output, pre.output
        row = next(line.split() for line in pre.stdout.splitlines()
                   if line.split() and line.split()[0] == name)
        assert row[1 + CHECKS.index("docker-api")] == "FAIL", row
    finally:
        node_exec(w1, "sh", "-c", f"if [ -e {saved} ]; then mv {saved} /etc/default/docker; "
                  "else rm -f /etc/default/docker; fi; systemctl restart docker")
    _wait(lambda: ":2375 " not in node_exec(w1, "ss", "-Hltn"), "dockerd off 2375")
    _wait(lambda: _node_status(lab, name) == "Ready", "w1 Ready again", 180)
    _wait(lambda: _check(lab.inventory).rc == 0, "a healthy check again", 120)


# --------------------------------------------------------------------------- autolock


def test_autolock_on_locked_manager_unlocked_by_provision(lab, secure):
    key_file = secure.parent / KEY_FILE
    assert not key_file.parent.exists()
    cluster = cluster_id(_c(lab, "m1"))
    first = swarmctl("provision", str(secure))
    assert first.rc == 0, first.output
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    key = key_file.read_text().strip()
    assert key.startswith("SWMKEY-")
    assert node_exec(_c(lab, "m1"), "docker", "swarm", "unlock-key", "-q").strip() == key
    # swarm_cert_expiry: 720h, in nanoseconds
    assert node_exec(_c(lab, "m1"), "docker", "info", "--format",
                     "{{json .Swarm.Cluster.Spec.CAConfig.NodeCertExpiry}}").strip() \
        == str(720 * 3600 * 10**9)
    again = swarmctl("provision", str(secure))
    assert again.rc == 0, again.output
    assert sum(changed_counts(run_dir_from(again.output)).values()) == 0

    m2 = _c(lab, "m2")
    _restart_docker(m2)
    assert _state(m2) == "locked"
    check = _check(secure)
    assert check.rc == 11, check.output
    assert f"CRITICAL {_n(lab, 'm2')}: locked: the swarm is locked on this manager" \
        in check.stdout
    assert "swarmctl unlock" in check.stdout

    unlocked = swarmctl("provision", str(secure), "-vvv")
    assert unlocked.rc == 0, unlocked.output
    assert _state(m2) == "active"
    assert _check(secure).rc == 0
    assert cluster_id(_c(lab, "m1")) == cluster  # a swarm update, not a new swarm
    outputs = first.output + again.output + check.output + unlocked.output
    leaked = key in outputs  # a bool: a failure never prints the key
    assert not leaked, "the unlock key is in the output"
    runs = [run_dir_from(c.output) for c in (first, again, unlocked)]
    assert _files_with(key, *runs) == []


def test_unlock_alone(lab, secure):
    m3 = _c(lab, "m3")
    _restart_docker(m3)
    assert _state(m3) == "locked"
    cli = swarmctl("unlock", str(secure))
    assert cli.rc == 0, cli.output
    assert f"{_n(lab, 'm3')}: unlocked" in cli.stdout
    assert f"{_n(lab, 'm1')}: not locked" in cli.stdout
    assert _state(m3) == "active"
    key = (secure.parent / KEY_FILE).read_text().strip()
    leaked = key in cli.output
    assert not leaked, "the unlock key is in the output"


def test_rotate_unlock_key(lab, secure):
    key_file = secure.parent / KEY_FILE
    old = key_file.read_text().strip()
    cli = swarmctl("rotate", str(secure), "unlock-key")
    assert cli.rc == 0, cli.output
    new = key_file.read_text().strip()
    assert new != old and new.startswith("SWMKEY-")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not Path(f"{key_file}.previous").exists()
    leaked = old in cli.output or new in cli.output
    assert not leaked, "an unlock key is in the output"
    m2 = _c(lab, "m2")
    _restart_docker(m2)
    refused = subprocess.run(["docker", "exec", "-i", m2, "docker", "swarm", "unlock"],
                             input=old + "\n", capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and _state(m2) == "locked"
    ok = swarmctl("unlock", str(secure))
    assert ok.rc == 0 and f"{_n(lab, 'm2')}: unlocked" in ok.stdout, ok.output


def _token(lab, role: str = "worker") -> str:
    return node_exec(_c(lab, "m1"), "docker", "swarm", "join-token", "-q", role).strip()


def _with(inventory: Path, name: str, **variables) -> Path:
    data = yaml.safe_load(inventory.read_text())
    data["all"]["vars"].update(variables)
    path = inventory.with_name(name)
    path.write_text(yaml.safe_dump(data))
    return path


def test_rotate_waits_for_the_swarms_lock_and_changes_nothing(lab, secure):
    m1 = _c(lab, "m1")
    before = _token(lab)
    holder = json.dumps({"by": "alice@elsewhere", "pid": 77, "command": "provision",
                         "since": time.time()})
    node_exec(m1, "sh", "-c", f"printf '%s' '{holder}' | docker config create "
              "swarmctl-lock -")
    try:
        cli = swarmctl("rotate", str(secure), "tokens", "--lock-wait", "1")
        assert_refused(cli, 5, "alice@elsewhere", "swarmctl provision")
    finally:
        node_exec(m1, "docker", "config", "rm", "swarmctl-lock", check=False)
    unchanged = _token(lab) == before  # a bool: a failure never prints a token
    assert unchanged, "the worker token changed"


def test_rotate_tokens_old_token_refused_new_host_joins(lab, secure):
    m1, w1 = _c(lab, "m1"), _c(lab, "w1")
    old = _token(lab)
    settings = _settings(lab)
    cli = swarmctl("rotate", str(secure), "tokens")
    assert cli.rc == 0, cli.output
    assert _settings(lab) == settings, "rotating the tokens changed the swarm's settings"
    leaked = old in cli.output
    assert not leaked, "the old token is in the output"
    rotated = node_exec(m1, "docker", "swarm", "join-token", "-q", "worker").strip() != old
    assert rotated, "the worker token did not change"
    # The worker leaves; a join with the old token is refused; provision joins it again.
    node_id = node_exec(w1, "docker", "info", "--format", "{{.Swarm.NodeID}}").strip()
    node_exec(w1, "docker", "swarm", "leave", "--force")
    _wait(lambda: _node_status(lab, _n(lab, "w1")) == "Down", "the worker to be Down")
    node_exec(m1, "docker", "node", "rm", "--force", node_id)
    addr = lab.lab.managers[0].address
    refused = subprocess.run(["docker", "exec", w1, "docker", "swarm", "join", "--token", old,
                              f"{addr}:2377"], capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0, refused.stdout
    assert _state(w1) == "inactive"
    # swarm_rotate_join_tokens: after_join rotates both tokens in a run where a host joined
    rotating = _with(secure, "after-join.yml", swarm_rotate_join_tokens="after_join")
    tokens = _token(lab), _token(lab, "manager")
    again = swarmctl("provision", str(rotating))
    assert again.rc == 0, again.output
    assert _node_status(lab, _n(lab, "w1")) == "Ready"
    after = _token(lab), _token(lab, "manager")
    rotated = after[0] != tokens[0] and after[1] != tokens[1]
    assert rotated, "after_join did not rotate both tokens"
    leaked = any(t in again.output for t in (*tokens, *after))
    assert not leaked, "a join token is in the output"


def _issuers(lab) -> dict[str, str]:
    out = node_exec(_c(lab, "m1"), "docker", "node", "inspect", "--format",
                    "{{.Description.Hostname}} {{json .Description.TLSInfo.CertIssuerPublicKey}}",
                    *[n["ID"] for n in node_ls(_c(lab, "m1"))])
    # []byte: json prints it as one base64 string (plain {{}} as a list of numbers)
    return dict(line.split(" ", 1) for line in out.splitlines() if line.strip())


def _web_tasks(lab) -> set[str]:
    """The IDs of the running tasks of the service `web` (a restart would change them)."""
    out = node_exec(_c(lab, "m1"), "docker", "service", "ps", "web", "--filter",
                    "desired-state=running", "--format", "{{.ID}} {{.CurrentState}}")
    return {line.split()[0] for line in out.splitlines() if " Running" in line}


@pytest.fixture(scope="module")
def web(lab):
    """A service of 2 tasks that the CA rotations must leave running."""
    subprocess.run([str(REPO / "examples" / "my-web" / "build-image.sh")], check=True,
                   capture_output=True, timeout=600)
    loaded = swarmctl("images", "load", "-i", str(lab.inventory), "my-web:v1")
    assert loaded.rc == 0, loaded.output
    node_exec(_c(lab, "m1"), "docker", "service", "create", "--detach", "--name", "web",
              "--replicas", "2", "--replicas-max-per-node", "1", "my-web:v1")
    _wait(lambda: len(_web_tasks(lab)) == 2, "web's 2 tasks running")
    yield _web_tasks(lab)
    node_exec(_c(lab, "m1"), "docker", "service", "rm", "web", check=False)


def test_rotate_ca(lab, secure, web):
    before = _issuers(lab)
    cli = swarmctl("rotate", str(secure), "ca")
    assert cli.rc == 0, cli.output
    after = _issuers(lab)
    assert set(after) == set(before)
    assert all(after[h] != before[h] for h in after), (before, after)
    assert len({*after.values()}) == 1
    assert cli.stderr.count("certificate issued by the new root CA") == len(after)
    assert all(n["Status"] == "Ready" for n in node_ls(_c(lab, "m1")))
    assert _web_tasks(lab) == web  # the same tasks: none restarted
    assert _check(secure).rc == 0


def test_rotate_ca_to_an_external_ca(lab, secure, web, tmp_path):
    key, cert = tmp_path / "ca.key", tmp_path / "ca.crt"
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout",
                    "-out", str(key)], check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-x509", "-new", "-key", str(key), "-out", str(cert),
                    "-days", "3650", "-subj", "/CN=external-swarm-ca",
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
                   check=True, capture_output=True)
    # bad input first: nothing is rotated
    before = _issuers(lab)
    assert_refused(swarmctl("rotate", str(secure), "ca", "--ca-cert", str(cert)), 2,
                   "--ca-key")
    assert_refused(swarmctl("rotate", str(secure), "ca", "--ca-cert", str(key),
                            "--ca-key", str(key)), 2, "--ca-cert", "not a PEM certificate")
    assert _issuers(lab) == before

    cli = swarmctl("rotate", str(secure), "ca", "--ca-cert", str(cert), "--ca-key", str(key))
    assert cli.rc == 0, cli.output
    root = node_exec(_c(lab, "m1"), "docker", "info", "--format",
                     "{{.Swarm.Cluster.TLSInfo.TrustRoot}}")
    assert root.split() == cert.read_text().split()
    after = _issuers(lab)
    assert set(after) == set(before) and all(after[h] != before[h] for h in after)
    assert len({*after.values()}) == 1
    assert all(n["Status"] == "Ready" for n in node_ls(_c(lab, "m1")))
    assert _web_tasks(lab) == web
    # the key: in no output or run folder, and gone from the manager
    body = "".join(line for line in key.read_text().splitlines() if "-----" not in line)
    leaked = body[:40] in cli.output  # a bool: a failure never prints the key
    assert body and not leaked, "the CA key is in the output"
    assert _files_with(body[:40], run_dir_from(cli.output)) == []
    left = node_exec(_c(lab, "m1"), "sh", "-c", "ls -d /tmp/swarmctl-ca-* 2>/dev/null || true")
    assert left.strip() == ""
    assert _check(secure).rc == 0


def _settings(lab) -> tuple[str, str]:
    """The swarm's spec but for autolock, and its trust root (no secret in either)."""
    spec = json.loads(node_exec(_c(lab, "m1"), "docker", "info", "--format",
                                "{{json .Swarm.Cluster.Spec}}"))
    spec.pop("EncryptionConfig", None)
    root = node_exec(_c(lab, "m1"), "docker", "info", "--format",
                     "{{.Swarm.Cluster.TLSInfo.TrustRoot}}")
    return json.dumps(spec, sort_keys=True), root


def _token_secrets(lab) -> tuple[str, ...]:
    """Digests of both join tokens (a failure never prints a live token)."""
    return tuple(hashlib.sha256(_token(lab, r).encode()).hexdigest()
                 for r in ("worker", "manager"))


def test_autolock_off(lab, secure):
    # after_join as well: no host joins in this run, so the tokens stay. The swarm runs on
    # the external CA of the test before, with its ForceRotate counter past 0: an update
    # that sent the counter back as 0 (docker_swarm does, unless told) would start a
    # rotation to a new CA the swarm generates, with new join tokens.
    off = _with(secure, "off.yml", swarm_autolock=False, swarm_rotate_join_tokens="after_join")
    cluster = cluster_id(_c(lab, "m1"))
    settings, tokens = _settings(lab), _token_secrets(lab)
    assert '"ForceRotate":' in settings[0], settings[0]
    cli = swarmctl("provision", str(off))
    assert cli.rc == 0, cli.output
    assert cluster_id(_c(lab, "m1")) == cluster
    m1 = _c(lab, "m1")
    assert node_exec(m1, "docker", "info", "--format",
                     "{{.Swarm.Cluster.Spec.EncryptionConfig.AutoLockManagers}}").strip() == "false"
    after = _settings(lab)
    assert after[0] == settings[0], "the swarm's other settings changed"
    assert after[1] == settings[1], "the root CA changed"
    assert _token_secrets(lab) == tokens, "the join tokens changed in a run where nobody joined"
    m2 = _c(lab, "m2")
    _restart_docker(m2)
    _wait(lambda: _state(m2) == "active", "m2 active after a restart without autolock")
