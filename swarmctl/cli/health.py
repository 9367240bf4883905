"""`swarmctl status --check`: the health findings, for people and for monitoring."""

from __future__ import annotations

import json

from swarmctl.console import lit, out
from swarmctl.models.inventory import Inventory


def check(inv: Inventory, *, as_json: bool, cert_days: float) -> int:
    """Read, judge, print; the exit code (0, 10 or 11)."""
    from swarmctl.ops import health, health_read

    snap, elapsed = health_read.read(inv)
    result = health.evaluate(snap, cert_days=cert_days)
    result.elapsed = elapsed
    if as_json:
        print(json.dumps(result.as_dict(), indent=2))
        return result.exit_code
    colour = {"critical": "red", "warning": "yellow"}
    for finding in result.findings:
        style = colour[finding.severity]
        out.print(f"[{style}]{lit(finding.severity.upper())}[/] "
                  f"{lit(finding.line().split(' ', 1)[1])}", highlight=False, soft_wrap=True)
    out.print(lit(result.summary()), highlight=False, soft_wrap=True)
    return result.exit_code
