"""The one home of the advertise-address choice, used on the controller (the
swarmctl.swarm.advertise_address filter, in swarm_facts) and on the hosts (the preflight's
host read): the first that applies of swarm_advertise_addr; the host's first address in
swarm_advertise_network; ansible_host when it is an address of the host; the address of
the default route. A network with no address of the host chooses nothing (""), so that
the caller refuses it instead of advertising another address."""

from __future__ import annotations

import ipaddress

SOURCES = ("swarm_advertise_addr", "swarm_advertise_network", "ansible_host", "default route")


def choose(addresses, explicit="", network="", ansible_host="", default=""):
    """(address, source): the address to advertise and the rule that chose it."""
    if explicit:
        return explicit, "swarm_advertise_addr"
    if network:
        try:
            net = ipaddress.ip_network(network, strict=False)
        except ValueError:
            return "", "swarm_advertise_network"
        for addr in addresses:
            try:
                if ipaddress.ip_address(addr) in net:
                    return addr, "swarm_advertise_network"
            except ValueError:
                continue
        return "", "swarm_advertise_network"
    if ansible_host and ansible_host in addresses:
        return ansible_host, "ansible_host"
    return default or "", "default route"
