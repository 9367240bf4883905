"""swarmctl.swarm.advertise_address: the advertise-address choice, on the controller.

  {{ host_addresses | swarmctl.swarm.advertise_address(swarm_advertise_addr,
       swarm_advertise_network, ansible_host, ansible_facts.default_ipv4.address) }}
"""

from ansible_collections.swarmctl.swarm.plugins.module_utils.advertise import choose


def advertise_address(addresses, explicit="", network="", ansible_host="", default=""):
    return choose(list(addresses or []), explicit or "", network or "", ansible_host or "",
                  default or "")[0]


class FilterModule:
    def filters(self):
        return {"advertise_address": advertise_address}
