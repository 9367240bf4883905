"""swarmctl: build and keep a Docker Swarm cluster from an Ansible inventory."""

__version__ = "0.1.0"
