"""`pip install .` must give a swarmctl that finds its playbooks and roles."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_wheel_carries_playbooks_roles_and_ansible_cfg(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        check=True, capture_output=True, timeout=300,
    )
    wheel = next(tmp_path.glob("swarmctl-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "swarmctl/_ansible/playbooks/site.yml" in names
    assert "swarmctl/_ansible/ansible.cfg" in names
    for role in ("docker_engine", "swarm_init", "swarm_join", "swarm_verify"):
        assert f"swarmctl/_ansible/roles/{role}/tasks/main.yml" in names
        assert f"swarmctl/_ansible/roles/{role}/meta/argument_specs.yml" in names
    assert "swarmctl/lab/Dockerfile" in names
    # a symbolic link in the tree: the wheel holds the file it points to
    shared = "roles/{}/module_utils/docker_engine_host.py"
    wheel_zip = zipfile.ZipFile(wheel)
    assert wheel_zip.read("swarmctl/_ansible/" + shared.format("swarm_preflight")) \
        == (REPO / shared.format("docker_engine")).read_bytes()


def test_installed_cli_finds_its_playbooks_from_any_folder(tmp_path):
    """The CLI of this environment resolves playbooks wherever it runs from."""
    code = "from swarmctl import paths; print(paths.playbook('site.yml'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True,
                         capture_output=True, text=True).stdout.strip()
    assert Path(out).is_file()
