"""Record a health snapshot of a live swarm as a unit-test fixture (no secrets in it:
the probe drops the join tokens; the rest is node, service and certificate metadata).

    python tests/unit/data/health/record.py INVENTORY NAME   # writes NAME.json here
"""

import json
import sys
from dataclasses import asdict
from pathlib import Path

from swarmctl.models import inventory
from swarmctl.ops import health_read

snap, _ = health_read.read(inventory.load(sys.argv[1]))
data = asdict(snap)
data["inventory"] = "inventory.yml"
Path(__file__).with_name(f"{sys.argv[2]}.json").write_text(json.dumps(data, indent=1) + "\n")
