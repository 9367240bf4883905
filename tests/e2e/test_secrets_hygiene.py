"""Secrets hygiene: after a provision and a deploy at the highest verbosity (-vvv), neither
the join tokens nor secret values appear in any output, in any ansible-runner artifact
(run folders) or in the nodes' journals (where Ansible logs module arguments)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import node_exec, run_dir_from, swarmctl

pytestmark = pytest.mark.e2e


def _tokens(leader: str) -> list[str]:
    tokens = [node_exec(leader, "docker", "swarm", "join-token", "-q", role).strip()
              for role in ("worker", "manager")]
    assert all(t.startswith("SWMTKN-1-") for t in tokens), tokens
    # the whole token, and its secret part alone (SWMTKN-1-<ca digest>-<secret>)
    return tokens + [t.rsplit("-", 1)[1] for t in tokens]


def _run_dirs_since(started: float) -> list[Path]:
    from swarmctl import paths

    runs = paths.state_dir() / "runs"
    return [d for d in runs.iterdir() if d.is_dir() and d.stat().st_mtime >= started - 1] \
        if runs.is_dir() else []


def _files(folder: Path) -> list[tuple[str, str]]:
    return [(str(p), p.read_text(errors="replace")) for p in folder.rglob("*") if p.is_file()]


def assert_no_secrets_anywhere(prov, tmp_path: Path) -> None:
    """Provision and deploy at -vvv on a provisioned lab, then search everything."""
    started = time.time()
    value = f"s3cret-{uuid.uuid4().hex}"
    file_value = f"f1le-{uuid.uuid4().hex}"
    (tmp_path / "token.txt").write_text(file_value)
    name = f"hygiene-{uuid.uuid4().hex[:8]}"
    spec = tmp_path / "secrets.yml"
    spec.write_text(f"secrets:\n  - {{name: {name}-v, value: \"{value}\"}}\n"
                    f"  - {{name: {name}-f, file: token.txt}}\n")
    try:
        provision = swarmctl("provision", "--full", "-vvv", str(prov.inventory))
        assert provision.rc == 0, provision.output[-3000:]
        deploy = swarmctl("deploy", "-vvv", "-i", str(prov.inventory), str(spec))
        assert deploy.rc == 0, deploy.output[-3000:]
        created = node_exec(prov.leader, "docker", "secret", "ls", "--format", "{{.Name}}")
        assert f"{name}-v" in created.split() and f"{name}-f" in created.split()
        texts = [("provision output", provision.output), ("deploy output", deploy.output)]
        dirs = {run_dir_from(provision.output), run_dir_from(deploy.output),
                run_dir_from(prov.first.output), *_run_dirs_since(started)}
        for folder in dirs:
            texts += _files(folder)
        assert len(texts) > 20, "expected the run folders' artifacts to be searched"
        for node in prov.lab.nodes:
            journal = node_exec(node.container, "journalctl", "--no-pager", "-o", "cat",
                                check=False)
            texts.append((f"journal of {node.name}", journal))
        # controls: the search covers what it should (the deploy's artifacts hold the
        # secrets task, and Ansible logs module arguments to the nodes' journals)
        assert any("community.docker.docker_secret" in text for _, text in texts)
        assert any("Invoked with" in text for where, text in texts if "journal" in where)
        needles = {"secret value": value, "secret file": file_value}
        needles.update({f"join token part {i}": t for i, t in enumerate(_tokens(prov.leader))})
        leaks = [(what, where) for what, needle in needles.items()
                 for where, text in texts if needle in text]
        assert not leaks, f"secrets found: {leaks[:10]}"
    finally:
        node_exec(prov.leader, "docker", "secret", "rm", f"{name}-v", f"{name}-f", check=False)


def test_no_token_or_secret_in_outputs_artifacts_or_journals(cluster, tmp_path):
    assert_no_secrets_anywhere(cluster, tmp_path)
