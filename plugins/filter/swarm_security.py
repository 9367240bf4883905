"""swarm_security_seconds: a duration as Docker and swarmctl write them -> seconds."""

import re

from ansible.errors import AnsibleFilterError

_PART = re.compile(r"(\d+)([smhd])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def swarm_security_seconds(value):
    """'2160h', '90d', '1h30m' or a number of seconds -> seconds (an int)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise AnsibleFilterError(
            f"swarm_cert_expiry: {value!r} is not a duration; write it like 2160h, 90d or 1h30m")
    return sum(int(n) * _UNIT[u] for n, u in parts)


class FilterModule:
    def filters(self):
        return {"swarm_security_seconds": swarm_security_seconds}
