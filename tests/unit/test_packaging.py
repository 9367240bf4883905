"""`pip install .` must give a swarmctl that finds its playbooks and roles, and
`ansible-galaxy collection build` a collection that works on its own."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
COLL = "swarmctl/_ansible/ansible_collections/swarmctl/swarm/"


def _wheel(tmp_path: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        check=True, capture_output=True, timeout=300,
    )
    return next(tmp_path.glob("swarmctl-*.whl"))


def test_wheel_carries_the_collection(tmp_path):
    names = set(zipfile.ZipFile(_wheel(tmp_path)).namelist())
    for path in ("playbooks/site.yml", "ansible.cfg", "galaxy.yml", "meta/runtime.yml",
                 "plugins/modules/docker_engine_state.py",
                 "plugins/module_utils/docker_engine_host.py",
                 "plugins/filter/swarm_services.py"):
        assert COLL + path in names, path
    for role in ("docker_engine", "swarm_init", "swarm_join", "swarm_verify"):
        assert f"{COLL}roles/{role}/tasks/main.yml" in names
        assert f"{COLL}roles/{role}/meta/argument_specs.yml" in names
    assert "swarmctl/lab/Dockerfile" in names
    assert not [n for n in names if "/library/" in n or n.endswith("/module_utils/")]


def test_installed_wheel_resolves_the_collection_outside_a_checkout(tmp_path):
    """The wheel alone (no checkout): swarmctl finds its collection, and Ansible resolves
    the FQCN modules and filters of the playbooks it runs from there."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(_wheel(tmp_path))], check=True, capture_output=True,
                   timeout=300)
    code = ("from swarmctl import paths; print(paths.playbook('site.yml')); "
            "print(paths.collections_root())")
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    playbook, root = Path(out[0]), Path(out[1])
    assert playbook.is_relative_to(target) and root.is_relative_to(target)
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[swarm_managers]\nm1 ansible_host=127.0.0.2\n[swarm_workers]\n")
    for name in ("site.yml", "provision.yml", "services.yml", "check.yml", "remove-node.yml"):
        proc = subprocess.run(
            [str(BIN / "ansible-playbook"), "-i", str(inventory), "--syntax-check",
             str(playbook.parent / name)], cwd=tmp_path, capture_output=True, text=True,
            env={**env, "ANSIBLE_COLLECTIONS_PATH": str(root)}, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_built_collection_installs_and_its_playbooks_resolve(tmp_path):
    """`ansible-galaxy collection build`, installed into an empty collections path: the
    site playbook resolves by FQCN (its roles, modules and filters inside it)."""
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path",
                    str(tmp_path), str(REPO)], check=True, capture_output=True, timeout=120)
    tarball = next(tmp_path.glob("swarmctl-swarm-*.tar.gz"))
    coll = tmp_path / "collections"
    # from an empty folder: the checkout's ansible.cfg would show its own copy as installed
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "--no-deps", "-p",
                    str(coll), str(tarball)], check=True, capture_output=True, timeout=120,
                   cwd=tmp_path)
    installed = coll / "ansible_collections" / "swarmctl" / "swarm"
    assert (installed / "plugins" / "modules" / "swarm_services_converge.py").is_file()
    assert not (installed / "swarmctl").exists() and not (installed / "tests" / "e2e").exists()
    assert (installed / "tests" / "sanity" / "ignore-2.19.txt").is_file()
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[swarm_managers]\nm1 ansible_host=127.0.0.2\n[swarm_workers]\n")
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(inventory), "--syntax-check",
         "swarmctl.swarm.site"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(coll)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
