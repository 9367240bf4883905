"""`swarmctl deploy / status / images load` on real lab nodes: the seed scenario (my-web),
scaling, a rolling update, an automatic rollback, self-healing, an encrypted overlay
network and a secret that never shows.

The my-web walkthrough runs on its own lab (1 manager + 5 workers: six nodes, so six
tasks publishing port 8080 in host mode fit; it also stops a node). The network and secret
tests use the shared `cluster` and remove what they created. Ports are published in
host mode and services reach each other with dnsrr: these kernels have no IPVS.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

from tests.conftest import (
    REPO,
    _lab_down,
    assert_no_changes,
    assert_refused,
    lab_name,
    node_exec,
    provisioned_lab,
    run_dir_from,
    swarmctl,
)

pytestmark = pytest.mark.e2e

EXAMPLE = REPO / "examples" / "my-web"
IMAGES = ("my-web:v1", "my-web:v2", "my-web:v3")
LAB = lab_name("svc")


@pytest.fixture(scope="session")
def web_images():
    subprocess.run([str(EXAMPLE / "build-image.sh")], check=True, capture_output=True,
                   timeout=600)
    return IMAGES


@pytest.fixture(scope="module")
def web_lab(web_images):
    prov = provisioned_lab(LAB, 1, 5, "bookworm")
    loaded = swarmctl("images", "load", "-i", str(prov.inventory), *web_images)
    assert loaded.rc == 0, loaded.output
    yield prov
    _lab_down(LAB)


# --------------------------------------------------------------------------- helpers

def deploy(inventory: Path, spec: Path | str, timeout: int = 600):
    return swarmctl("deploy", "-i", str(inventory), str(spec), "--timeout", str(timeout))


def service(manager: str, name: str) -> dict:
    return json.loads(node_exec(manager, "docker", "service", "inspect", name))[0]


def running_tasks(manager: str, name: str) -> list[dict]:
    out = node_exec(manager, "docker", "service", "ps", name, "--no-trunc", "--filter",
                    "desired-state=running", "--format", "{{json .}}")
    tasks = [json.loads(line) for line in out.splitlines() if line.strip()]
    return [t for t in tasks if t["CurrentState"].startswith("Running")]


def http_get(address: str, port: int = 8080) -> str:
    with urllib.request.urlopen(f"http://{address}:{port}/", timeout=5) as resp:
        return resp.read().decode().strip()


def answers(lab, manager: str, name: str) -> dict[str, str]:
    """What each node running a task of the service answers on port 8080."""
    nodes = {t["Node"] for t in running_tasks(manager, name)}
    return {n: http_get(lab.node(n).address) for n in sorted(nodes)}


def wait_for(what: str, check, timeout: float = 180, every: float = 2):
    """Poll until check() is truthy; fail naming what did not happen (no timing asserted)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"{what} did not happen; last: {last!r}")


# --------------------------------------------------------------------------- my-web

def test_deploy_my_web(web_lab):
    result = deploy(web_lab.inventory, EXAMPLE / "lab-v1-x3.yml")
    assert result.rc == 0, result.output
    mgr = web_lab.leader
    assert len(running_tasks(mgr, "my-web")) == 3
    got = answers(web_lab.lab, mgr, "my-web")
    assert len(got) == 3 and set(got.values()) == {"my-web v1"}, got
    assert "converged" in result.stdout


def test_images_load_skips_nodes_that_have_them(web_lab, web_images):
    again = swarmctl("images", "load", "-i", str(web_lab.inventory), *web_images)
    assert again.rc == 0, again.output
    assert "loaded on 0, 6 had them" in again.stdout


def test_scale_to_six_then_rerun_changes_nothing(web_lab):
    mgr = web_lab.leader
    scaled = deploy(web_lab.inventory, EXAMPLE / "lab-v1-x6.yml")
    assert scaled.rc == 0, scaled.output
    assert len(running_tasks(mgr, "my-web")) == 6
    before = service(mgr, "my-web")
    tasks_before = {t["ID"] for t in running_tasks(mgr, "my-web")}
    again = deploy(web_lab.inventory, EXAMPLE / "lab-v1-x6.yml")
    assert again.rc == 0, again.output
    assert_no_changes(again.output, web_lab.lab.managers[0].name)
    after = service(mgr, "my-web")
    assert after["UpdatedAt"] == before["UpdatedAt"]
    assert after["Version"] == before["Version"]
    assert {t["ID"] for t in running_tasks(mgr, "my-web")} == tasks_before


def test_update_to_v2(web_lab):
    result = deploy(web_lab.inventory, EXAMPLE / "lab-v2-x6.yml")
    assert result.rc == 0, result.output
    got = answers(web_lab.lab, web_lab.leader, "my-web")
    assert len(got) == 6 and set(got.values()) == {"my-web v2"}, got


def test_broken_v3_rolls_back_and_v2_keeps_serving(web_lab):
    result = deploy(web_lab.inventory, EXAMPLE / "lab-v3-x6.yml")
    assert result.rc == 1, result.output
    line = " ".join(result.stderr.split())
    assert "rolled back" in line and "my-web" in line, result.stderr
    assert "my-web:v3" in line and "non-zero exit" in line, result.stderr
    mgr = web_lab.leader
    svc = service(mgr, "my-web")
    assert svc["UpdateStatus"]["State"] == "rollback_completed"
    assert svc["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == "my-web:v2"
    assert len(running_tasks(mgr, "my-web")) == 6
    got = answers(web_lab.lab, mgr, "my-web")
    assert set(got.values()) == {"my-web v2"}, got
    status = swarmctl("status", "-i", str(web_lab.inventory), "--json")
    assert status.rc == 0, status.output
    web = next(s for s in json.loads(status.stdout)["services"] if s["name"] == "my-web")
    assert web["update_state"] == "rollback_completed" and web["image"] == "my-web:v2"


def test_redeploying_the_serving_version_after_a_rollback_succeeds(web_lab):
    result = deploy(web_lab.inventory, EXAMPLE / "lab-v2-x6.yml")
    assert result.rc == 0, result.output
    assert_no_changes(result.output, web_lab.lab.managers[0].name)


def test_self_healing_when_a_worker_stops(web_lab):
    lab, mgr = web_lab.lab, web_lab.leader
    result = deploy(web_lab.inventory, EXAMPLE / "lab-v2-x3.yml")
    assert result.rc == 0, result.output
    victim = next(t["Node"] for t in running_tasks(mgr, "my-web")
                  if lab.node(t["Node"]).role == "worker")
    subprocess.run(["docker", "stop", lab.node(victim).container], check=True,
                   capture_output=True, timeout=120)
    try:
        def healed():
            nodes = [t["Node"] for t in running_tasks(mgr, "my-web")]
            return len(nodes) == 3 and victim not in nodes and nodes
        nodes = wait_for("my-web back to 3 running tasks without the stopped node", healed)
        got = {n: http_get(lab.node(n).address) for n in nodes}
        assert set(got.values()) == {"my-web v2"}, got

        def shows_down():
            status = swarmctl("status", "-i", str(web_lab.inventory), "--json")
            assert status.rc == 0, status.output
            data = json.loads(status.stdout)
            node = next(n for n in data["nodes"] if n["hostname"] == victim)
            web = next(s for s in data["services"] if s["name"] == "my-web")
            return node["status"] == "Down" and web["running"] == 3 and data
        wait_for(f"swarmctl status showing {victim} Down", shows_down, every=5)
        table = swarmctl("status", "-i", str(web_lab.inventory))
        assert table.rc == 0, table.output
        row = next(ln for ln in table.stdout.splitlines() if victim in ln)
        assert "Down" in row
        assert any("my-web" in ln and "3/3" in ln for ln in table.stdout.splitlines())
    finally:
        subprocess.run(["docker", "start", lab.node(victim).container], check=False,
                       capture_output=True, timeout=120)


# --------------------------------------------------------------------------- shared cluster

@pytest.fixture
def on_cluster(cluster, web_images):
    loaded = swarmctl("images", "load", "-i", str(cluster.inventory), "my-web:v1", "my-web:v2")
    assert loaded.rc == 0, loaded.output
    created: dict[str, list[str]] = {"stack": [], "service": [], "network": [], "secret": [],
                                     "config": []}
    yield cluster, created
    for kind in ("stack", "service", "network", "secret", "config"):
        if created[kind]:
            node_exec(cluster.leader, "docker", kind, "rm", *created[kind], check=False)


def exec_in_task(cluster, name: str, *cmd: str) -> str:
    task = running_tasks(cluster.leader, name)[0]
    node = cluster.lab.node(task["Node"])
    container = f"{task['Name']}.{task['ID']}"
    return node_exec(node.container, "docker", "exec", container, *cmd)


def _kernel_lacks_esp() -> bool:
    """This machine's kernel (shared by the lab nodes) has no IPsec ESP: see
    ../shared/docs/environment.md. Unknown (no /proc/config.gz): assume it has it."""
    try:
        with gzip.open("/proc/config.gz", "rt") as handle:
            config = handle.read()
    except OSError:
        return False
    return "CONFIG_INET_ESP=" not in config


def test_encrypted_overlay_services_reach_each_other_by_name(on_cluster, tmp_path):
    """svc-a and svc-b talk by name over an encrypted overlay; svc-c reaches svc-a from
    another node over a plain overlay. Without ESP in the kernel, encrypted VXLAN traffic
    between nodes is dropped (swarmctl warns), so the encrypted pair shares one node."""
    cluster, created = on_cluster
    one, other = cluster.lab.workers[0].name, cluster.lab.workers[1].name
    spec = tmp_path / "net.yml"
    spec.write_text(f"""
networks:
  - {{name: svc-net, encrypted: true, attachable: true, subnet: 10.231.0.0/24}}
  - {{name: svc-plain}}
services:
  - name: svc-a
    image: "my-web:v1"
    replicas: 2
    networks: [svc-net, svc-plain]
    endpoint_mode: dnsrr
    constraints: ["node.hostname == {one}"]
  - name: svc-b
    image: "my-web:v2"
    networks: [svc-net]
    endpoint_mode: dnsrr
    constraints: ["node.hostname == {one}"]
  - name: svc-c
    image: "my-web:v2"
    networks: [svc-plain]
    endpoint_mode: dnsrr
    constraints: ["node.hostname == {other}"]
""")
    created["service"] += ["svc-a", "svc-b", "svc-c"]
    created["network"] += ["svc-net", "svc-plain"]
    result = deploy(cluster.inventory, spec)
    assert result.rc == 0, result.output
    warned = "lacks IPsec ESP" in result.stderr and "svc-net" in result.stderr
    assert warned == _kernel_lacks_esp(), result.stderr
    net = json.loads(node_exec(cluster.leader, "docker", "network", "inspect", "svc-net"))[0]
    assert net["Driver"] == "overlay" and "encrypted" in net["Options"]
    assert net["IPAM"]["Config"][0]["Subnet"] == "10.231.0.0/24"
    request = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc -w 5 {} 80"
    from_b = exec_in_task(cluster, "svc-b", "/bin/busybox", "sh", "-c", request.format("svc-a"))
    assert "my-web v1" in from_b
    from_a = exec_in_task(cluster, "svc-a", "/bin/busybox", "sh", "-c", request.format("svc-b"))
    assert "my-web v2" in from_a
    from_c = exec_in_task(cluster, "svc-c", "/bin/busybox", "sh", "-c", request.format("svc-a"))
    assert "my-web v1" in from_c
    again = deploy(cluster.inventory, spec)
    assert again.rc == 0, again.output
    assert_no_changes(again.output, cluster.lab.managers[0].name)


def test_secret_is_mounted_and_never_shown(on_cluster, tmp_path):
    cluster, created = on_cluster
    value = f"s3cret-{uuid.uuid4().hex}"
    file_value = f"f1le-{uuid.uuid4().hex}"
    (tmp_path / "token.txt").write_text(file_value)
    spec = tmp_path / "secret.yml"
    spec.write_text(f"""
secrets:
  - {{name: svc-password, value: "{value}"}}
  - {{name: svc-token, file: token.txt}}
services:
  - name: svc-secret
    image: "my-web:v1"
    secrets: [svc-password, {{name: svc-token, target: token, mode: 0400}}]
""")
    created["service"].append("svc-secret")
    created["secret"] += ["svc-password", "svc-token"]
    result = deploy(cluster.inventory, spec)
    assert result.rc == 0, result.output
    assert exec_in_task(cluster, "svc-secret", "/bin/busybox", "cat",
                        "/run/secrets/svc-password") == value
    assert exec_in_task(cluster, "svc-secret", "/bin/busybox", "cat",
                        "/run/secrets/token") == file_value
    again = deploy(cluster.inventory, spec, timeout=120)
    status = swarmctl("status", "-i", str(cluster.inventory), "--json")
    texts = [result.output, again.output, status.output]
    for run in (run_dir_from(result.output), run_dir_from(again.output)):
        for path in run.rglob("*"):
            if path.is_file():
                texts.append(path.read_text(errors="replace"))
    for secret in (value, file_value):
        leaks = [t[:200] for t in texts if secret in t]
        assert not leaks, f"secret value found in output or run artifacts: {leaks}"
    assert again.rc == 0, again.output
    assert_no_changes(again.output, cluster.lab.managers[0].name)


def test_config_and_stack_are_deployed_and_a_rerun_changes_nothing(on_cluster, tmp_path):
    """A config mounted in a service, and a stack from a compose file (its service
    published in host mode on a worker), converged twice: the second run changes nothing."""
    cluster, created = on_cluster
    worker = cluster.lab.workers[0]
    (tmp_path / "motd.txt").write_text("hello from a swarm config\n")
    (tmp_path / "stack.yml").write_text(f"""
version: "3.8"
services:
  web:
    image: "my-web:v2"
    deploy:
      replicas: 1
      placement:
        constraints: ["node.hostname == {worker.name}"]
    ports:
      - {{target: 80, published: 8181, protocol: tcp, mode: host}}
""")
    spec = tmp_path / "config-stack.yml"
    spec.write_text("""
configs:
  - {name: svc-motd, file: motd.txt}
services:
  - name: svc-config
    image: "my-web:v1"
    configs: [{name: svc-motd, target: /etc/motd}]
stacks:
  - {name: svcstack, compose: stack.yml}
""")
    created["stack"].append("svcstack")
    created["service"].append("svc-config")
    created["config"].append("svc-motd")
    result = deploy(cluster.inventory, spec)
    assert result.rc == 0, result.output
    assert exec_in_task(cluster, "svc-config", "/bin/busybox", "cat", "/etc/motd") \
        == "hello from a swarm config\n"
    stack_tasks = wait_for("the stack's service to run",
                           lambda: running_tasks(cluster.leader, "svcstack_web"))
    assert [t["Node"] for t in stack_tasks] == [worker.name]
    assert wait_for("the stack's service to answer",
                    lambda: _try_get(worker.address, 8181)) == "my-web v2"
    before = {t["ID"] for t in stack_tasks}
    config_before = service(cluster.leader, "svc-config")["UpdatedAt"]
    again = deploy(cluster.inventory, spec)
    assert again.rc == 0, again.output
    assert_no_changes(again.output, cluster.lab.managers[0].name)
    assert service(cluster.leader, "svc-config")["UpdatedAt"] == config_before
    # `docker stack deploy` re-applies the compose file (Docker bumps the services'
    # UpdatedAt even when nothing differs) but restarts no task of an unchanged stack
    assert {t["ID"] for t in running_tasks(cluster.leader, "svcstack_web")} == before


def _exists(manager: str, name: str) -> bool:
    return node_exec(manager, "docker", "service", "inspect", name, check=False).strip() \
        not in ("", "[]")


_CHANGE = re.compile(r"^[+~±-] (create|update|re-create|remove) (network|secret|config|service) "
                     r"(\S+?)(?::|$)")


def _deployed_changes(output: str) -> list[tuple[str, str, str]]:
    """The changes a deploy printed, as (action, kind, name)."""
    return sorted(m.groups() for line in output.splitlines()
                  if (m := _CHANGE.match(line.strip())))


def _planned(cluster, spec: Path, *extra: str) -> tuple[int, dict]:
    """`swarmctl plan INVENTORY SPEC --json`: its exit code and the services part."""
    cli = swarmctl("plan", str(cluster.inventory), str(spec), "--json", *extra)
    assert cli.rc in (0, 4), cli.output
    services = json.loads(cli.stdout)["services"]
    assert services["unavailable"] == "", services
    return cli.rc, services


def _as_tuples(changes: list[dict]) -> list[tuple[str, str, str]]:
    return sorted((c["action"], c["kind"], c["name"]) for c in changes)


def _mine(changes: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Only this test's services (others deployed on the shared cluster may be pruned
    along: --prune removes every service a spec deployed that this one lacks)."""
    return [c for c in changes if c[2].startswith("prune-")]


def test_plan_then_prune_removes_only_the_services_a_spec_deployed(on_cluster, tmp_path):
    """Each deploy changes exactly what `plan INVENTORY SPEC` showed before it: services
    created; one dropped from the spec kept and named without --prune and removed with
    it; a service created by hand never touched; then nothing left to do."""
    cluster, created = on_cluster
    manager = cluster.lab.managers[0].name
    created["service"] += ["prune-keep", "prune-drop", "prune-foreign"]
    created["network"].append("prune-net")
    created["config"].append("prune-conf")
    node_exec(cluster.leader, "docker", "service", "create", "--detach", "--name",
              "prune-foreign", "--replicas", "1", "my-web:v1")
    both, one = tmp_path / "both.yml", tmp_path / "one.yml"
    both.write_text("networks:\n  - {name: prune-net}\n"
                    "configs:\n  - {name: prune-conf, value: 'hello'}\n"
                    "services:\n"
                    "  - {name: prune-keep, image: 'my-web:v1', replicas: 1}\n"
                    "  - {name: prune-drop, image: 'my-web:v1', replicas: 1,\n"
                    "     networks: [prune-net], configs: [prune-conf]}\n")
    one.write_text("services:\n  - {name: prune-keep, image: 'my-web:v1', replicas: 2}\n")

    rc, planned = _planned(cluster, both)
    assert rc == 4 and _as_tuples(planned["changes"]) == [
        ("create", "config", "prune-conf"), ("create", "network", "prune-net"),
        ("create", "service", "prune-drop"), ("create", "service", "prune-keep")], planned
    first = deploy(cluster.inventory, both)
    assert first.rc == 0, first.output
    assert _deployed_changes(first.output) == _as_tuples(planned["changes"])
    labels = service(cluster.leader, "prune-drop")["Spec"]["Labels"]
    assert labels.get("io.swarmctl.managed") == "true", labels
    rc, planned = _planned(cluster, both)
    assert rc == 0 and planned["changes"] == [], planned

    # prune-drop dropped, prune-keep scaled: kept and named without --prune
    rc, planned = _planned(cluster, one)
    assert rc == 4 and {"service prune-drop", "network prune-net",
                        "config prune-conf"} <= set(planned["kept"]), planned
    assert planned["changes"] == [{"kind": "service", "name": "prune-keep", "action": "update",
                                   "fields": ["replicas"]}]
    kept = deploy(cluster.inventory, one)
    assert kept.rc == 0, kept.output
    flat = " ".join(kept.output.split())
    assert "service prune-drop was deployed from a spec" in flat and "kept" in flat, flat
    assert "prune-foreign" not in flat
    assert _deployed_changes(kept.output) == _as_tuples(planned["changes"])
    assert _exists(cluster.leader, "prune-drop")

    rc, planned = _planned(cluster, one, "--prune")
    assert rc == 4 and _mine(_as_tuples(planned["changes"])) == [
        ("remove", "config", "prune-conf"), ("remove", "network", "prune-net"),
        ("remove", "service", "prune-drop")], planned
    pruned = swarmctl("deploy", "-i", str(cluster.inventory), str(one), "--prune")
    assert pruned.rc == 0, pruned.output
    assert _deployed_changes(pruned.output) == _as_tuples(planned["changes"])
    assert not _exists(cluster.leader, "prune-drop")
    assert node_exec(cluster.leader, "docker", "network", "inspect", "prune-net",
                     check=False).strip() in ("", "[]")
    assert node_exec(cluster.leader, "docker", "config", "inspect", "prune-conf",
                     check=False).strip() in ("", "[]")
    assert _exists(cluster.leader, "prune-keep") and _exists(cluster.leader, "prune-foreign")
    assert _planned(cluster, one, "--prune")[0] == 0
    again = swarmctl("deploy", "-i", str(cluster.inventory), str(one), "--prune")
    assert again.rc == 0, again.output
    assert_no_changes(again.output, manager)


def _secret_names(manager: str, prefix: str) -> list[str]:
    out = node_exec(manager, "docker", "secret", "ls", "--format", "{{.Name}}")
    return sorted(n for n in out.split() if n.startswith(prefix))


def test_a_versioned_secret_rolls_its_service_when_its_file_changes(on_cluster, tmp_path):
    """versioned: true names the secret after its content: a changed file is a new
    secret that the service rolls to (same mount path), the old one is removed, and
    the deploy changes what the plan before it showed; no value in any output."""
    cluster, created = on_cluster
    manager = cluster.lab.managers[0].name
    first_value, second_value = f"first-{uuid.uuid4().hex}", f"second-{uuid.uuid4().hex}"
    (tmp_path / "pw.txt").write_text(first_value + "\n")
    spec = tmp_path / "versioned.yml"
    spec.write_text("""
secrets:
  - {name: vsecret, file: pw.txt, versioned: true}
services:
  - name: vsvc
    image: "my-web:v1"
    replicas: 1
    secrets: [vsecret]
""")
    created["service"].append("vsvc")
    outputs = []
    first = deploy(cluster.inventory, spec)
    outputs.append(first.output)
    assert first.rc == 0, first.output
    old = _secret_names(cluster.leader, "vsecret-")
    created["secret"] += old
    assert len(old) == 1, old
    assert exec_in_task(cluster, "vsvc", "/bin/busybox", "cat", "/run/secrets/vsecret") \
        == first_value + "\n"

    (tmp_path / "pw.txt").write_text(second_value + "\n")
    cli = swarmctl("plan", str(cluster.inventory), str(spec), "--json")
    outputs.append(cli.output)
    assert cli.rc == 4, cli.output
    planned = _as_tuples(json.loads(cli.stdout)["services"]["changes"])
    assert [c[:2] for c in planned] == [("create", "secret"), ("remove", "secret"),
                                        ("update", "service")], planned
    assert ("remove", "secret", old[0]) in planned
    rolled = deploy(cluster.inventory, spec)
    outputs.append(rolled.output)
    assert rolled.rc == 0, rolled.output
    assert _deployed_changes(rolled.output) == planned
    new = _secret_names(cluster.leader, "vsecret-")
    created["secret"] += new
    assert len(new) == 1 and new != old, (old, new)
    assert ("create", "secret", new[0]) in planned
    assert exec_in_task(cluster, "vsvc", "/bin/busybox", "cat", "/run/secrets/vsecret") \
        == second_value + "\n"

    again = deploy(cluster.inventory, spec)
    outputs.append(again.output)
    assert again.rc == 0, again.output
    assert_no_changes(again.output, manager)
    leaked = [v for v in (first_value, second_value) for o in outputs if v in o]
    assert not leaked, "a secret's value is in an output"
    assert _files_with_text(run_dir_from(rolled.output), second_value) == []


def _files_with_text(root: Path, text: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]


def _try_get(address: str, port: int) -> str:
    try:
        return http_get(address, port)
    except OSError:
        return ""


def _worker_as_manager(cluster, tmp_path: Path):
    """An inventory whose only 'manager' is one of the cluster's workers."""
    worker = cluster.lab.workers[0]
    data = yaml.safe_load(cluster.inventory.read_text())
    groups = data["all"]["children"]
    groups["swarm_managers"]["hosts"] = {worker.name: groups["swarm_workers"]["hosts"]
                                         [worker.name]}
    groups["swarm_workers"]["hosts"] = {}
    inventory = tmp_path / "worker-as-manager.yml"
    inventory.write_text(yaml.safe_dump(data, sort_keys=False))
    return worker, inventory


def test_deploy_from_a_worker_is_refused_and_changes_nothing(cluster, tmp_path):
    """An inventory whose only 'manager' is a swarm worker: deploy says so (exit 3)
    before it creates anything."""
    worker, inventory = _worker_as_manager(cluster, tmp_path)
    before = node_exec(cluster.leader, "docker", "service", "ls", "-q")
    cli = deploy(inventory, EXAMPLE / "lab-v1-x3.yml")
    assert_refused(cli, 3, f"{worker.name}: this host is a swarm worker, not a manager",
                   "nothing was changed", prefix="error: cannot deploy from ")
    assert node_exec(cluster.leader, "docker", "service", "ls", "-q") == before


def test_deploy_from_a_host_whose_docker_is_stopped_says_so(cluster, tmp_path):
    worker, inventory = _worker_as_manager(cluster, tmp_path)
    # the socket too: a request to it would start Docker again
    node_exec(worker.container, "systemctl", "stop", "docker.socket", "docker.service")
    try:
        cli = deploy(inventory, EXAMPLE / "lab-v1-x3.yml")
        assert_refused(cli, 3, f"{worker.name}: Docker does not answer on this host",
                       "systemctl start docker", "nothing was changed",
                       prefix="error: cannot deploy from ")
    finally:
        node_exec(worker.container, "systemctl", "start", "docker.socket", "docker.service")
    wait_for(f"{worker.name} back in the swarm", lambda: node_exec(
        worker.container, "docker", "info", "--format", "{{.Swarm.LocalNodeState}}",
        check=False).strip() == "active")
