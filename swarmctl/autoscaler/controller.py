"""The controller: one task on a manager that applies every service's autoscale policy.

Each round (every `interval` seconds) it lists the services that carry a policy label,
asks every agent what their running tasks use, decides with `policy.decide`, and scales
a service by updating its replica count together with the label that records when, from,
to and why (one update, guarded by the service's version: a concurrent writer makes it
retry next round). It prints one JSON line per round, which `swarmctl status` reads from
the service's logs for "the metric now".

A restarted controller starts with a history that holds the current counts (so it waits
a whole scale-down window before it shrinks anything) and reads the last change from the
label (so it honours the cool-down of a change its predecessor made).
"""

from __future__ import annotations

import copy
import http.client
import json
import os
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

from . import policy as pol
from .agent import PORT
from .dockerapi import Docker, DockerError

AGENT_SERVICE = os.environ.get("SWARMCTL_AUTOSCALER_AGENT", "swarmctl-autoscaler-agent")


def agents() -> list[str]:
    """The agents' addresses, from swarm's DNS (`tasks.<service>`: one per task)."""
    try:
        found = socket.getaddrinfo(f"tasks.{AGENT_SERVICE}", PORT, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return []
    return sorted({info[4][0] for info in found})


def _ask(address: str, services: list[str]) -> dict:
    conn = http.client.HTTPConnection(address, PORT, timeout=10)
    try:
        conn.request("GET", "/usage?" + urlencode([("service", s) for s in services]))
        resp = conn.getresponse()
        body = resp.read()
    except OSError as exc:
        return {"error": f"{address}: {exc}", "tasks": []}
    finally:
        conn.close()
    if resp.status != 200:
        return {"error": f"{address}: HTTP {resp.status}", "tasks": []}
    return json.loads(body)


def gather(services: list[str]) -> tuple[dict[str, list[dict]], list[str]]:
    """Per service the samples of its tasks on all nodes; and the agents' errors."""
    addresses = agents()
    if not addresses or not services:
        return {}, ([] if addresses else [f"no agent answers at tasks.{AGENT_SERVICE}"])
    with ThreadPoolExecutor(max_workers=min(32, len(addresses))) as pool:
        answers = list(pool.map(lambda a: _ask(a, services), addresses))
    out: dict[str, list[dict]] = {}
    for answer in answers:
        for task in answer.get("tasks", []):
            out.setdefault(task["service"], []).append(task)
    return out, [a["error"] for a in answers if a.get("error")]


def _reserved(spec: dict) -> tuple[float | None, float | None]:
    res = (spec.get("TaskTemplate", {}).get("Resources") or {}).get("Reservations") or {}
    cpus = res.get("NanoCPUs") or 0
    memory = res.get("MemoryBytes") or 0
    return (cpus / 1e9 or None), (float(memory) or None)


class Controller:
    def __init__(self, docker: Docker, interval: float, out=sys.stdout):
        self.docker, self.interval, self.out = docker, interval, out
        self.started = time.time()
        self.history: dict[str, list[tuple[float, int]]] = {}

    def round(self) -> dict:
        now = time.time()
        services = [s for s in self.docker.services(label=pol.POLICY_LABEL)
                    if "Replicated" in (s["Spec"].get("Mode") or {})]
        names = [s["Spec"]["Name"] for s in services]
        samples, errors = gather(names)
        summary: dict[str, dict] = {}
        for svc in services:
            name = svc["Spec"]["Name"]
            try:
                summary[name] = self.service(svc, samples.get(name, []), now)
            except (ValueError, KeyError) as exc:
                summary[name] = {"error": f"bad policy label: {exc}"}
            except DockerError as exc:
                summary[name] = {"error": str(exc)}
        line = {"time": round(now, 1), "services": summary}
        if errors:
            line["errors"] = errors
        print(json.dumps(line, separators=(",", ":")), file=self.out, flush=True)
        return line

    def service(self, svc: dict, samples: list[dict], now: float) -> dict:
        spec = svc["Spec"]
        labels = spec.get("Labels") or {}
        policy = pol.Policy.from_label(labels[pol.POLICY_LABEL])
        current = int(spec["Mode"]["Replicated"].get("Replicas", 0))
        tasks = self.docker.tasks(svc["ID"])
        running = {t["ID"] for t in tasks if (t.get("Status") or {}).get("State") == "running"}
        mine = [s for s in samples if s.get("task") in running]
        reserved_cpu, reserved_memory = _reserved(spec)
        usage = pol.Usage(running=len(running),
                          cpu=[s["cpu"] for s in mine if s.get("cpu") is not None],
                          memory=[s["memory"] for s in mine if s.get("memory") is not None],
                          reserved_cpu=reserved_cpu, reserved_memory=reserved_memory)
        history = self.history.setdefault(svc["ID"], [(self.started, current)])
        last = pol.parse_last(labels.get(pol.LAST_LABEL))
        decision = pol.decide(policy, current, usage, history, now,
                              last["time"] if last else None)
        if decision.recommendation is not None:
            history.append((now, decision.recommendation))
        self.history[svc["ID"]] = pol.prune(history, policy, now) or history[-1:]
        if decision.changes(current):
            self.scale(svc, decision.replicas, pol.last_label(now, current, decision.replicas,
                                                               decision.reason))
        return {"replicas": current, "running": len(running), "min": policy.min,
                "max": policy.max, "targets": policy.targets(), "metrics": {
                    k: round(v, 1) for k, v in decision.metrics.items()},
                "decision": decision.replicas, "reason": decision.reason}

    def scale(self, svc: dict, replicas: int, last: str) -> None:
        spec = copy.deepcopy(svc["Spec"])
        spec["Mode"]["Replicated"]["Replicas"] = replicas
        spec.setdefault("Labels", {})[pol.LAST_LABEL] = last
        self.docker.update_service(svc, spec)

    def run(self) -> None:
        print(f"swarmctl autoscaler controller, a round every {self.interval:g} s",
              file=self.out, flush=True)
        while True:
            began = time.time()
            try:
                self.round()
            except (DockerError, OSError) as exc:
                print(json.dumps({"time": round(began, 1), "error": str(exc)}),
                      file=self.out, flush=True)
            time.sleep(max(1.0, self.interval - (time.time() - began)))


def main() -> None:
    interval = float(os.environ.get("SWARMCTL_AUTOSCALER_INTERVAL", "15"))
    Controller(Docker(), interval).run()
