"""`python3 -m swarmctl_autoscaler controller|agent` inside the autoscaler's image."""

import signal
import sys

from . import agent, controller

if __name__ == "__main__":
    # PID 1 gets no default action for SIGTERM: stop at once when swarm stops the task
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    role = sys.argv[1] if len(sys.argv) > 1 else ""
    if role == "controller":
        controller.main()
    elif role == "agent":
        agent.serve()
    else:
        sys.exit("usage: python3 -m swarmctl_autoscaler controller|agent")
