"""An existing Ansible project's inventory works unchanged: an INI file in a directory
with group_vars/ (connection variables) and host_vars/ (node labels), `-e` that
overrides a group variable, and a vaulted secret in a services spec that is deployed and
appears in clear in no output and no run folder.

One lab of 1 manager + 1 worker for the module (about 2-3 minutes under load).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

from tests.conftest import (
    RUN_ID,
    _lab_down,
    _lab_up,
    changed_counts,
    node_exec,
    run_dir_from,
    run_events,
    swarmctl,
)

pytestmark = pytest.mark.e2e

PASSWORD = f"vault-pw-{uuid.uuid4().hex[:8]}"


def _labels(container: str, node: str) -> dict[str, str]:
    out = node_exec(container, "docker", "node", "inspect", node, "--format",
                    "{{json .Spec.Labels}}")
    labels = json.loads(out) or {}
    return {k: v for k, v in labels.items() if not k.startswith("io.swarmctl.")}


def _encrypt_string(value: str, name: str, password_file: Path) -> str:
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-vault"), "encrypt_string",
         "--vault-password-file", str(password_file), value, "--name", name],
        capture_output=True, text=True, check=True)
    return proc.stdout


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A lab, described as an Ansible project would: hosts.ini + group_vars + host_vars."""
    name = f"inventory-{RUN_ID}"
    from swarmctl.lab import lab as labmod

    labmod.down(name)
    the_lab = _lab_up(name, 1, 1, "bookworm")
    data = yaml.safe_load(the_lab.inventory_path.read_text())
    conn = data["all"]["vars"]
    manager = next(iter(data["all"]["children"]["swarm_managers"]["hosts"].items()))
    worker = next(iter(data["all"]["children"]["swarm_workers"]["hosts"].items()))
    root = tmp_path_factory.mktemp("project")
    inv = root / "inventory"
    (inv / "group_vars").mkdir(parents=True)
    (inv / "host_vars").mkdir()
    (inv / "hosts.ini").write_text(
        "# an everyday INI inventory\n"
        f"[swarm_managers]\n{manager[0]} ansible_host={manager[1]['ansible_host']}\n\n"
        f"[swarm_workers]\n{worker[0]} ansible_host={worker[1]['ansible_host']}\n")
    (inv / "group_vars" / "all.yml").write_text(yaml.safe_dump(conn))
    (inv / "group_vars" / "swarm_managers.yml").write_text(
        "swarm_node_labels: {tier: control}\n")
    (inv / "host_vars" / f"{worker[0]}.yml").write_text(
        "swarm_node_labels:\n  zone: eu-1a\n  disk: ssd\n")
    password_file = root / "vault-pass"
    password_file.write_text(PASSWORD + "\n")
    yield {"lab": the_lab, "inventory": inv, "root": root, "manager": manager[0],
           "worker": worker[0], "leader": the_lab.managers[0].container,
           "password_file": password_file}
    _lab_down(name)


def test_provision_from_an_ini_directory(project):
    cli = swarmctl("provision", str(project["inventory"]))
    assert cli.rc == 0, cli.output[-3000:]
    leader = project["leader"]
    assert _labels(leader, project["worker"]) == {"zone": "eu-1a", "disk": "ssd"}
    assert _labels(leader, project["manager"]) == {"tier": "control"}


def test_extra_vars_override_a_group_var(project):
    labels = json.dumps({"swarm_node_labels": {"tier": "override"}})
    cli = swarmctl("provision", str(project["inventory"]), "-e", labels)
    assert cli.rc == 0, cli.output[-3000:]
    leader = project["leader"]
    # -e wins over group_vars (the manager) and host_vars (the worker) alike
    assert _labels(leader, project["manager"]) == {"tier": "override"}
    assert _labels(leader, project["worker"]) == {"tier": "override"}
    # what the user wrote is on the command line; nothing more about it in the run folder
    run_dir = run_dir_from(cli.output)
    assert not (run_dir / "env" / "extravars").exists()
    back = swarmctl("provision", str(project["inventory"]))
    assert back.rc == 0, back.output[-3000:]
    assert _labels(leader, project["worker"]) == {"zone": "eu-1a", "disk": "ssd"}


def test_limit_converges_only_the_selected_worker(project):
    cli = swarmctl("provision", str(project["inventory"]), "--limit", project["worker"])
    assert cli.rc == 0, cli.output[-3000:]
    run_dir = run_dir_from(cli.output)
    assert changed_counts(run_dir) == {project["manager"]: 0, project["worker"]: 0}
    changing = {"docker_engine", "swarm_join", "swarm_node"}
    on = {(ev["event_data"].get("role"), ev["event_data"].get("host"))
          for ev in run_events(run_dir)
          if ev.get("event", "").startswith("runner_on_") and ev["event_data"].get("host")}
    assert {host for role, host in on if role in changing} == {project["worker"]}
    # the manager is read (its swarm state, the verification) but not converged
    assert ("swarm_facts", project["manager"]) in on


def test_a_vaulted_secret_is_deployed_and_never_in_clear(project, tmp_path):
    from swarmctl import paths

    started = time.time()
    value = f"vaulted-{uuid.uuid4().hex}"
    name = f"vsecret-{uuid.uuid4().hex[:6]}"
    vaulted = _encrypt_string(value, "value", project["password_file"])
    spec = tmp_path / "services.yml"
    spec.write_text(f"secrets:\n  - name: {name}\n" +
                    "".join(f"    {line}\n" for line in vaulted.splitlines()))
    # without the password: one line, exit 2, nothing run
    refused = swarmctl("deploy", "-i", str(project["inventory"]), str(spec))
    assert refused.rc == 2, refused.output
    assert "no vault password was given" in refused.stderr
    assert len(refused.stderr.splitlines()) == 1
    wrong = tmp_path / "wrong-pass"
    wrong.write_text("not-it\n")
    refused = swarmctl("deploy", "-i", str(project["inventory"]), str(spec),
                       "--vault-password-file", str(wrong))
    assert refused.rc == 2 and "does not decrypt" in refused.stderr, refused.output
    cli = swarmctl("deploy", "-vvv", "-i", str(project["inventory"]), str(spec),
                   "--vault-password-file", str(project["password_file"]))
    assert cli.rc == 0, cli.output[-3000:]
    created = node_exec(project["leader"], "docker", "secret", "ls", "--format",
                        "{{.Name}}")
    assert name in created.split()
    runs = paths.state_dir() / "runs"
    dirs = [d for d in runs.iterdir() if d.is_dir() and d.stat().st_mtime >= started - 1]
    assert run_dir_from(cli.output) in dirs
    searched = 0
    for folder in dirs:
        for file in folder.rglob("*"):
            if file.is_file():
                searched += 1
                text = file.read_text(errors="replace")
                assert value not in text, f"the vaulted secret is in clear in {file}"
                assert PASSWORD not in text, f"the vault password is in {file}"
    assert searched > 10
    assert value not in cli.output and PASSWORD not in cli.output
