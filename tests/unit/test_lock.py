"""The swarm lock's decisions (swarmctl.ops.lock), from recorded holders: no hosts."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from swarmctl.ops.lock import Holder, verdict

NOW = 1_800_000_000.0


def _holder(**kw) -> Holder:
    data = {"by": "ops@ctl-1", "pid": 4242, "command": "provision", "since": NOW - 60,
            "token": "t1", **kw}
    return Holder.parse(json.dumps(data), "")


def test_a_live_run_elsewhere_is_waited_for():
    assert verdict(_holder(), now=NOW, here="me@ctl-2", ttl=7200, alive=lambda pid: False) \
        == "wait"


def test_a_dead_run_on_this_controller_is_broken_at_once():
    h = _holder(by="me@ctl-2")
    assert verdict(h, now=NOW, here="me@ctl-2", ttl=7200, alive=lambda pid: False) == "break"
    assert verdict(h, now=NOW, here="me@ctl-2", ttl=7200, alive=lambda pid: True) == "wait"


def test_an_abandoned_lock_is_broken_after_its_ttl():
    old = _holder(since=NOW - 7201)
    assert verdict(old, now=NOW, here="me@ctl-2", ttl=7200) == "break"


def test_the_holder_line_names_who_what_and_since_when():
    line = _holder().line(NOW)
    assert "ops@ctl-1" in line and "process 4242" in line and "swarmctl provision" in line
    assert "1 min ago" in line or "60 s ago" in line
    assert "UTC" in line


def test_foreign_or_garbled_data_falls_back_to_the_configs_creation_time():
    h = Holder.parse("not json", "2027-01-15T08:00:00.123456789Z")
    assert h.by == "someone" and h.pid == 0 and h.token == ""
    assert h.since == datetime(2027, 1, 15, 8, 0, tzinfo=UTC).timestamp()
