"""The autoscaler's decisions: pure functions of a policy, the tasks' metrics and the past.

The model is Kubernetes' Horizontal Pod Autoscaler, which operators know:

- A target is the tasks' average use as a share of what each task reserves
  (`resources.reservations.cpus` / `.memory`): `cpu: 70` keeps the average CPU use of a
  task near 70 % of its reserved CPUs.
- Each round recommends `ceil(replicas * use / target)` per metric (the largest wins),
  within min..max; a ratio within the tolerance (10 %) of 1 recommends no change.
- Stabilisation windows: a scale-up takes the *lowest* recommendation seen during
  `scale_up.window` (default 0 s: at once), a scale-down the *highest* seen during
  `scale_down.window` (default 300 s), so that a brief dip or spike does not flap.
- Steps: at most `scale_up.step` tasks are added per decision (default: double, at least
  4) and `scale_down.step` removed (default: no limit).
- After a change, no decision for `cooldown` seconds, and no scale-up while tasks are
  still starting (or cannot be placed), so new tasks take their share of the load first;
  the time of the last change is kept on the service (a label), so a restarted
  controller honours it too.

Only the standard library is used: this file also runs inside the controller's image.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

POLICY_LABEL = "io.swarmctl.autoscale"
LAST_LABEL = "io.swarmctl.autoscale.last"
TOLERANCE = 0.1
METRICS = ("cpu", "memory")


@dataclass(frozen=True)
class Window:
    window: float  # seconds
    step: int | None  # tasks per decision; None: the default


@dataclass(frozen=True)
class Policy:
    min: int
    max: int
    cpu: float | None = None  # percent of the CPU reservation
    memory: float | None = None  # percent of the memory reservation
    scale_up: Window = field(default_factory=lambda: Window(0.0, None))
    scale_down: Window = field(default_factory=lambda: Window(300.0, None))
    cooldown: float = 30.0

    @classmethod
    def from_label(cls, text: str) -> Policy:
        """The policy a deploy wrote on the service (ValueError if it is not one)."""
        data = json.loads(text)
        up, down = data.get("scale_up") or {}, data.get("scale_down") or {}
        policy = cls(min=int(data["min"]), max=int(data["max"]),
                     cpu=_opt_float(data.get("cpu")), memory=_opt_float(data.get("memory")),
                     scale_up=Window(float(up.get("window", 0)), _opt_int(up.get("step"))),
                     scale_down=Window(float(down.get("window", 300)),
                                       _opt_int(down.get("step"))),
                     cooldown=float(data.get("cooldown", 30)))
        if not 1 <= policy.min <= policy.max or not (policy.cpu or policy.memory):
            raise ValueError(f"not a policy: {text}")
        return policy

    def targets(self) -> dict[str, float]:
        return {m: t for m in METRICS if (t := getattr(self, m))}


def _opt_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _opt_int(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


@dataclass(frozen=True)
class Usage:
    """What the tasks of one service use now, and what each task reserves."""

    running: int  # tasks running now
    cpu: list[float]  # cores used, per task with a sample
    memory: list[float]  # bytes used, per task with a sample
    reserved_cpu: float | None  # cores per task
    reserved_memory: float | None  # bytes per task

    def utilization(self, metric: str) -> float | None:
        """Average use as a percentage of the reservation; None without samples."""
        samples = self.cpu if metric == "cpu" else self.memory
        reserved = self.reserved_cpu if metric == "cpu" else self.reserved_memory
        if not samples or not reserved:
            return None
        return 100.0 * (sum(samples) / len(samples)) / reserved


@dataclass(frozen=True)
class Decision:
    replicas: int  # what the service should run (== current: no change)
    reason: str
    metrics: dict[str, float]  # utilization (percent of reservation) per metric
    recommendation: int | None = None  # this round's raw recommendation, for the history

    def changes(self, current: int) -> bool:
        return self.replicas != current


def recommend(policy: Policy, current: int, usage: Usage) -> tuple[int | None, str,
                                                                    dict[str, float]]:
    """This round's recommendation, before windows and steps: (replicas or None, why,
    utilization per metric). None when the metrics cannot tell (too few samples)."""
    metrics: dict[str, float] = {}
    best: int | None = None
    why = ""
    sampled = min(len(usage.cpu if metric == "cpu" else usage.memory)
                  for metric in policy.targets())
    if usage.running == 0 or sampled * 2 < usage.running:
        return None, f"metrics for {sampled} of {usage.running} running tasks", metrics
    for metric, target in policy.targets().items():
        use = usage.utilization(metric)
        if use is None:
            return None, f"no {metric} metrics", metrics
        metrics[metric] = use
        ratio = use / target
        want = current if abs(ratio - 1.0) <= TOLERANCE else math.ceil(current * ratio)
        if best is None or want > best:
            best = want
            why = f"{metric} {use:.0f}% of reservation, target {target:.0f}%"
    assert best is not None
    return max(policy.min, min(policy.max, best)), why, metrics


def decide(policy: Policy, current: int, usage: Usage, history: list[tuple[float, int]],
           now: float, last_change: float | None) -> Decision:
    """What to run now. `history` holds (time, recommendation) of earlier rounds (the
    caller appends `Decision.recommendation` and keeps the longest window's worth);
    `last_change` is the time of the last scaling of this service, from its label."""
    rec, why, metrics = recommend(policy, current, usage)
    if current < policy.min or current > policy.max:
        target = max(policy.min, min(policy.max, current))
        return Decision(target, f"{current} replicas is outside {policy.min}..{policy.max}",
                        metrics)
    if last_change is not None and now - last_change < policy.cooldown:
        return Decision(current, f"cooling down for {policy.cooldown - (now - last_change):.0f}"
                        " s after the last change", metrics)
    if rec is None:
        return Decision(current, f"no decision: {why}", metrics)
    if rec > current and usage.running < current:
        # more tasks would not help before the pending ones run (or while they cannot be
        # placed); going down stays possible
        return Decision(current, f"{why}; not scaling up while tasks start ({usage.running} "
                        f"of {current} running)", metrics, rec)
    if rec > current:
        seen = [r for t, r in history if now - t < policy.scale_up.window] + [rec]
        want = max(current, min(seen))
        step = policy.scale_up.step or max(4, current)
        want = min(want, current + step)
    elif rec < current:
        seen = [r for t, r in history if now - t < policy.scale_down.window] + [rec]
        want = min(current, max(seen))
        if policy.scale_down.step:
            want = max(want, current - policy.scale_down.step)
    else:
        want = current
    if want == current:
        if rec != current:
            window = "scale_up" if rec > current else "scale_down"
            why += f"; {window} window holds {current}"
        return Decision(current, why, metrics, rec)
    return Decision(want, why, metrics, rec)


def prune(history: list[tuple[float, int]], policy: Policy, now: float
          ) -> list[tuple[float, int]]:
    """The history entries any window still needs."""
    keep = max(policy.scale_up.window, policy.scale_down.window)
    return [(t, r) for t, r in history if now - t < keep]


def last_label(now: float, before: int, after: int, reason: str) -> str:
    """The label a scaling leaves on the service: when, from, to, why."""
    return json.dumps({"time": round(now, 1), "from": before, "to": after, "reason": reason},
                      separators=(",", ":"))


def parse_last(text: str | None) -> dict | None:
    """The last scaling recorded on a service, or None."""
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) and "time" in data else None
