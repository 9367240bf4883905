"""The autoscaler that runs inside the swarm: a controller (one task on a manager) and an
agent on every node, both from one small image that `swarmctl deploy` builds and copies
to the nodes when a service declares `autoscale`. Standard library only: the files of
this package are the image's program (`python3 -m swarmctl_autoscaler controller|agent`).
"""
