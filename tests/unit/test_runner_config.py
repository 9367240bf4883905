"""The environment ansible-playbook gets: the user's ansible.cfg is the one it reads,
their settings win over swarmctl's speed defaults, and swarmctl keeps what it needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarmctl import paths
from swarmctl.ansible import runner
from swarmctl.ansible.vault import VaultOptions

OWN = paths.ansible_dir() / "ansible.cfg"


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """A working directory without ansible.cfg, a HOME without ~/.ansible.cfg."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ANSIBLE_CONFIG", raising=False)
    if Path("/etc/ansible/ansible.cfg").exists():
        pytest.skip("this machine has /etc/ansible/ansible.cfg")
    return tmp_path


def _env(**environ: str) -> tuple[dict[str, str], bool]:
    base = {"PATH": "/usr/bin", **environ}
    return runner.ansible_env(base)


def test_without_a_user_config_swarmctl_uses_its_own(elsewhere):
    env, user_forks = _env()
    assert env["ANSIBLE_CONFIG"] == str(OWN)
    assert env["ANSIBLE_PIPELINING"] == "True"
    assert "ControlPersist" in env["ANSIBLE_SSH_ARGS"]
    assert env["ANSIBLE_ROLES_PATH"] == str(paths.roles_dir())
    assert env["ANSIBLE_COLLECTIONS_PATH"].split(":")[0] == str(paths.collections_root())
    assert not user_forks


def test_the_users_ansible_cfg_in_the_working_directory_wins(elsewhere):
    (elsewhere / "ansible.cfg").write_text(
        "[defaults]\nforks = 7\ncallbacks_enabled = ansible.posix.profile_tasks\n"
        "roles_path = ./myroles\ncollections_path = /opt/collections\n"
        "[ssh_connection]\nssh_args = -o ControlMaster=no\n"
        "[privilege_escalation]\nbecome_method = su\n")
    env, user_forks = _env()
    assert env["ANSIBLE_CONFIG"] == str(elsewhere / "ansible.cfg")
    assert "ANSIBLE_SSH_ARGS" not in env  # theirs, from the file
    assert user_forks  # their forks: swarmctl passes none
    assert env["ANSIBLE_PIPELINING"] == "True"  # they did not set it
    assert env["ANSIBLE_ROLES_PATH"].split(":") == [str(paths.roles_dir()),
                                                    str(elsewhere / "myroles")]
    assert env["ANSIBLE_COLLECTIONS_PATH"].split(":") == [str(paths.collections_root()),
                                                          "/opt/collections"]
    assert env["ANSIBLE_RETRY_FILES_ENABLED"] == "False"


def test_ansible_config_variable_and_environment_win(elsewhere, tmp_path):
    cfg = tmp_path / "site.cfg"
    cfg.write_text("[defaults]\ngather_subset = all\n")
    env, _ = _env(ANSIBLE_CONFIG=str(cfg), ANSIBLE_PIPELINING="False",
                  ANSIBLE_ROLES_PATH="/their/roles", ANSIBLE_FORKS="3")
    assert env["ANSIBLE_CONFIG"] == str(cfg)
    assert env["ANSIBLE_PIPELINING"] == "False"
    assert "ANSIBLE_GATHER_SUBSET" not in env
    assert env["ANSIBLE_ROLES_PATH"] == f"{paths.roles_dir()}:/their/roles"


def test_swarmctls_own_config_is_not_taken_for_the_users(monkeypatch):
    monkeypatch.chdir(paths.ansible_dir())
    monkeypatch.delenv("ANSIBLE_CONFIG", raising=False)
    assert runner.user_ansible_cfg() is None or runner.user_ansible_cfg() != OWN.resolve()


def test_vault_options_go_on_the_command_line_as_paths(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("x\n")
    opts = VaultOptions(password_files=(str(pw),), ids=("prod@prompt", f"dev@{pw}"))
    assert opts.cmdline() == ["--vault-password-file", str(pw), "--vault-id", "prod@prompt",
                              "--vault-id", f"dev@{pw}"]
