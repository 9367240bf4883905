"""The autoscaler's pure logic: decisions from recorded metrics (targets, tolerance,
windows, steps, min/max, cool-down, flapping), the spec's validation of `autoscale`, the
role's mapping (replicas owned by the autoscaler, its label kept), the agent's arithmetic
on recorded `docker stats` samples, and what `status` reads back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swarmctl.autoscaler import agent, policy
from swarmctl.autoscaler.policy import Policy, Usage, Window, decide
from swarmctl.errors import InputError
from swarmctl.models import spec
from swarmctl.models.cluster import ServiceStatus
from swarmctl.ops import autoscale
from tests.conftest import load_file

REPO = Path(__file__).resolve().parents[2]


def _filters():
    path = REPO / "plugins" / "filter" / "swarm_services.py"
    return load_file("swarm_services_filters_as", path)


P = Policy(min=1, max=6, cpu=50.0, scale_up=Window(0, None), scale_down=Window(60, None),
           cooldown=10)


def cpu(current: int, per_task: float, reserved: float = 0.1, running: int | None = None):
    n = current if running is None else running
    return Usage(running=n, cpu=[per_task] * n, memory=[], reserved_cpu=reserved,
                 reserved_memory=None)


# --------------------------------------------------------------------------- decisions

def test_scale_up_follows_the_ratio_to_the_target():
    # 2 tasks at 0.1 cores, reserving 0.1: 100 % against a 50 % target -> 4
    d = decide(P, 2, cpu(2, 0.1), [], now=100, last_change=None)
    assert d.replicas == 4
    assert "cpu 100% of reservation, target 50%" in d.reason
    assert d.metrics == {"cpu": pytest.approx(100.0)}


def test_never_above_max_nor_below_min():
    assert decide(P, 4, cpu(4, 1.0), [], now=100, last_change=None).replicas == 6
    hist = [(0.0, 1)]
    assert decide(P, 3, cpu(3, 0.0), hist, now=100, last_change=None).replicas == 1


def test_within_the_tolerance_nothing_changes():
    d = decide(P, 4, cpu(4, 0.054), [], now=100, last_change=None)  # 54 % vs 50 %
    assert d.replicas == 4 and d.recommendation == 4


def test_scale_up_step_limits_a_decision():
    p = Policy(min=1, max=100, cpu=50.0, scale_up=Window(0, 2))
    assert decide(p, 2, cpu(2, 1.0), [], now=100, last_change=None).replicas == 4
    default = Policy(min=1, max=100, cpu=50.0)  # doubles, at least 4 more
    assert decide(default, 2, cpu(2, 1.0), [], now=100, last_change=None).replicas == 6
    assert decide(default, 10, cpu(10, 1.0), [], now=100, last_change=None).replicas == 20


def test_scale_down_waits_for_its_window():
    # the load is gone, but 4 was recommended 30 s ago: the 60 s window holds 4
    hist = [(70.0, 4)]
    d = decide(P, 4, cpu(4, 0.0), hist, now=100, last_change=None)
    assert d.replicas == 4 and d.recommendation == 1
    assert "scale_down window holds 4" in d.reason
    # once that recommendation is older than the window, it goes down to the highest left
    hist = [(30.0, 4), (70.0, 2), (90.0, 1)]
    assert decide(P, 4, cpu(4, 0.0), hist, now=100, last_change=None).replicas == 2
    assert decide(P, 4, cpu(4, 0.0), hist, now=131, last_change=None).replicas == 1


def test_scale_down_step():
    p = Policy(min=1, max=10, cpu=50.0, scale_down=Window(0, 1))
    assert decide(p, 5, cpu(5, 0.0), [], now=100, last_change=None).replicas == 4


def test_scale_up_window_takes_the_lowest_recent_recommendation():
    p = Policy(min=1, max=10, cpu=50.0, scale_up=Window(30, None))
    hist = [(80.0, 2), (90.0, 5)]
    assert decide(p, 2, cpu(2, 0.5), hist, now=100, last_change=None).replicas == 2
    # this round says 10, but 5 was the lowest within the window
    assert decide(p, 2, cpu(2, 0.5), [(90.0, 5)], now=100, last_change=None).replicas == 5


def test_flapping_load_does_not_flap_replicas():
    """A load that alternates high and low each round: up at once, then held, never down
    while highs keep coming within the scale-down window."""
    current, hist, changes = 2, [(0.0, 2)], []
    for i in range(20):
        now = 100.0 + 15 * i
        load = 0.2 if i % 2 == 0 else 0.0
        d = decide(P, current, cpu(current, load), hist, now=now, last_change=None)
        if d.recommendation is not None:
            hist = policy.prune([*hist, (now, d.recommendation)], P, now)
        if d.replicas != current:
            changes.append((i, current, d.replicas))
            current = d.replicas
    assert changes == [(0, 2, 6)]  # one scale-up to max, then held: no flapping


def test_cooldown_after_a_change_holds_even_for_a_new_controller():
    d = decide(P, 2, cpu(2, 1.0), [], now=105, last_change=100)
    assert d.replicas == 2 and "cooling down" in d.reason
    assert d.metrics == {"cpu": pytest.approx(1000.0)}  # still shown by status
    assert d.recommendation is None  # not a recommendation for the windows
    assert decide(P, 2, cpu(2, 1.0), [], now=111, last_change=100).replicas == 6


def test_no_decision_while_tasks_start_or_without_metrics():
    d = decide(P, 4, cpu(4, 1.0, running=2), [], now=100, last_change=None)
    assert d.replicas == 4 and "not scaling up while tasks start (2 of 4 running)" in d.reason
    # tasks that cannot be placed (max above what the nodes hold) do not block going down
    d = decide(P, 4, cpu(4, 0.0, running=2), [(0.0, 4)], now=100, last_change=None)
    assert d.replicas == 1
    few = Usage(running=4, cpu=[1.0], memory=[], reserved_cpu=0.1, reserved_memory=None)
    d = decide(P, 4, few, [], now=100, last_change=None)
    assert d.replicas == 4 and "metrics for 1 of 4" in d.reason and d.recommendation is None


def test_outside_min_max_is_brought_back_at_once():
    assert decide(P, 9, cpu(9, 0.05), [], now=100, last_change=100).replicas == 6
    assert decide(P, 0, cpu(0, 0.0), [], now=100, last_change=None).replicas == 1


def test_the_larger_of_cpu_and_memory_wins():
    p = Policy(min=1, max=10, cpu=50.0, memory=50.0)
    u = Usage(running=2, cpu=[0.05, 0.05], memory=[300e6, 300e6], reserved_cpu=0.1,
              reserved_memory=200e6)
    d = decide(p, 2, u, [], now=100, last_change=None)
    assert d.replicas == 6 and d.reason.startswith("memory 150%")


def test_policy_label_round_trip_with_the_role_filter():
    label = _filters().autoscale_policy({"min": 2, "max": 8, "cpu": "70%",
                                          "scale_down": {"window": "1m30s", "step": 2}})
    p = Policy.from_label(label)
    assert (p.min, p.max, p.cpu, p.memory) == (2, 8, 70.0, None)
    assert p.scale_down == Window(90.0, 2) and p.scale_up == Window(0.0, None)
    assert p.cooldown == 30.0
    with pytest.raises(ValueError):
        Policy.from_label('{"min": 3, "max": 2, "cpu": 50}')


# --------------------------------------------------------------------------- the role

def test_deploy_keeps_the_autoscalers_count_within_the_new_bounds():
    f = _filters().swarm_services_module_args
    svc = {"name": "w", "image": "x", "replicas": 2,
           "autoscale": {"min": 2, "max": 5, "cpu": 50}}
    assert f(svc)["replicas"] == 2  # created: the spec's count
    assert f({**svc, "replicas": None})["replicas"] == 2  # or min
    live = {"replicas": 4, "autoscaled": True, "autoscale_last": '{"time":1}'}
    args = f(svc, live=live)
    assert args["replicas"] == 4  # the autoscaler's count is kept
    assert args["labels"]["io.swarmctl.autoscale.last"] == '{"time":1}'
    assert json.loads(args["labels"]["io.swarmctl.autoscale"])["max"] == 5
    assert f({**svc, "autoscale": {"min": 1, "max": 3, "cpu": 50}}, live=live)["replicas"] == 3
    assert f({**svc, "autoscale": {"min": 6, "max": 8, "cpu": 50}, "replicas": 6},
             live=live)["replicas"] == 6


def test_dropping_autoscale_removes_the_policy_and_restores_replicas():
    f = _filters().swarm_services_module_args
    live = {"replicas": 4, "autoscaled": True, "autoscale_last": "{}"}
    args = f({"name": "w", "image": "x", "replicas": 2}, live=live)
    assert args["replicas"] == 2 and args["labels"] == {"io.swarmctl.managed": "true"}
    plain = f({"name": "w", "image": "x"}, live={"replicas": 1, "autoscaled": False})
    assert plain["labels"] == {"io.swarmctl.managed": "true"}


# --------------------------------------------------------------------------- the spec

BASE = {"name": "w", "image": "x", "resources": {"reservations": {"cpus": 0.1}}}


def refused(service: dict, **top) -> str:
    with pytest.raises(InputError) as info:
        spec.parse({"services": [service], **top}, Path("s.yml"))
    assert "\n" not in info.value.message
    return info.value.message


@pytest.mark.parametrize(("extra", "says"), [
    ({"autoscale": {"min": 3, "max": 2, "cpu": 50}}, "max 2 is below min 3; set max >= min"),
    ({"autoscale": {"min": 1, "max": 2}}, "no target; set cpu"),
    ({"autoscale": {"min": 1, "max": 2, "cpu": "lots"}}, "'lots' is not a percentage"),
    ({"autoscale": {"min": 1, "max": 2, "cpu": "0%"}}, "out of range"),
    ({"autoscale": {"min": 0, "max": 2, "cpu": 50}}, "field 'autoscale.min'"),
    ({"autoscale": {"min": 1, "max": 2, "cpu": 50}, "replicas": 5},
     "replicas: 5 is outside autoscale's 1..2"),
    ({"autoscale": {"min": 1, "max": 2, "cpu": 50}, "mode": "global"},
     "a global service runs one task per node"),
    ({"autoscale": {"min": 1, "max": 2, "memory": "80%"}},
     "set resources: {reservations: {memory: 256M}}"),
    ({"autoscale": {"min": 1, "max": 2, "cpu": 50, "scale_up": {"step": 0}}},
     "field 'autoscale.scale_up.step'"),
    ({"autoscale": {"min": 1, "max": 2, "cpu": 50, "typo": 1}}, "unknown field 'autoscale.typo'"),
])
def test_bad_autoscale_is_one_line_with_the_fix(extra, says):
    assert says in refused({**BASE, **extra})


def test_a_cpu_target_needs_a_cpu_reservation():
    line = refused({"name": "w", "image": "x", "autoscale": {"min": 1, "max": 3, "cpu": "70%"}})
    assert "a cpu target is a percentage of the cpu each task reserves" in line
    assert "set resources: {reservations: {cpus: 0.5}}" in line


def test_a_valid_autoscale_and_autoscaler():
    s = spec.parse({"services": [{**BASE, "autoscale": {"min": 1, "max": 4, "cpu": "50%"}}],
                    "autoscaler": {"interval": "5s"}}, Path("s.yml"))
    assert s.autoscaled()[0].autoscale.cpu == 50.0
    assert s.autoscaler.interval == "5s"
    assert "autoscaler.interval" in refused({**BASE}, autoscaler={"interval": "soon"})


# --------------------------------------------------------------------------- agent, status

def test_agent_arithmetic_on_a_recorded_sample():
    sample = {"cpu_stats": {"cpu_usage": {"total_usage": 3_000_000_000},
                            "system_cpu_usage": 120_000_000_000, "online_cpus": 2},
              "precpu_stats": {"cpu_usage": {"total_usage": 2_500_000_000},
                               "system_cpu_usage": 118_000_000_000},
              "memory_stats": {"usage": 50_000_000, "stats": {"inactive_file": 10_000_000}}}
    assert agent.cpu_cores(sample) == pytest.approx(0.5)  # 0.5 s of CPU in 1 s, 2 CPUs
    assert agent.memory_bytes(sample) == 40_000_000
    assert agent.cpu_cores({"cpu_stats": sample["cpu_stats"], "precpu_stats": {}}) is None


def test_status_reads_the_latest_round_and_the_last_scaling():
    lines = ['{"time":10.0,"services":{"w":{"metrics":{"cpu":90.0},"reason":"old"}}}',
             'garbage', '{"time":30.0,"services":{"w":{"metrics":{"cpu":35.0},"reason":"r"}}}',
             '{"time":20.0,"services":{"w":{"metrics":{"cpu":70.0},"reason":"older task"}}}']
    seen = autoscale.latest_rounds(lines)
    assert seen["w"]["metrics"] == {"cpu": 35.0} and seen["w"]["time"] == 30.0
    raw = {"Spec": {"Name": "w", "Mode": {"Replicated": {"Replicas": 3}}, "Labels": {
        policy.POLICY_LABEL: _filters().autoscale_policy({"min": 1, "max": 4, "cpu": 50}),
        policy.LAST_LABEL: policy.last_label(25.0, 1, 3, "cpu 150% of reservation")}}}
    st = ServiceStatus.from_api(raw, (3, 3), seen)
    assert st.autoscale["replicas"] == 3 and (st.autoscale["min"], st.autoscale["max"]) == (1, 4)
    assert st.autoscale["metrics"] == {"cpu": 35.0}
    assert st.autoscale["last"] == {"time": 25.0, "from": 1, "to": 3,
                                    "reason": "cpu 150% of reservation"}
    assert ServiceStatus.from_api({"Spec": {"Name": "p"}}, (1, 1)).autoscale is None


def test_image_tag_follows_its_files():
    assert autoscale.tag().startswith("swarmctl-autoscaler:")
    assert autoscale.tag() == autoscale.tag()
    assert {"Dockerfile", "swarmctl_autoscaler/policy.py",
            "swarmctl_autoscaler/__main__.py"} <= set(autoscale._files())
