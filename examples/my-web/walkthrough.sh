#!/bin/sh
# The seed scenario, end to end, on a local lab (or any inventory: INVENTORY=path).
#
#   examples/my-web/walkthrough.sh
#
# my-web with 3 replicas on port 8080 → scaled to 6 → updated to v2 → a broken v3
# that swarm rolls back on its own (deploy exits 1 and says so) → status.
# The lab's kernel has no IPVS, so the lab specs publish in host mode; on hosts with
# IPVS use my-web.yml (ingress routing mesh) and any image from your registry.
set -u
here=$(cd "$(dirname "$0")" && pwd)
inv=${INVENTORY:-}
if [ -z "$inv" ]; then
  inv=$(swarmctl lab up --name my-web --managers 1 --workers 5 -q) || exit 1
  swarmctl provision "$inv" || exit 1
fi
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
addresses() {  # the nodes' addresses, from the inventory
  python3 -c 'import sys; from swarmctl import inventory
for h in inventory.load(sys.argv[1]).hosts: print(h.address)' "$inv"
}
curl_all() { for a in $(addresses); do printf '%s: ' "$a"; curl -s -m 3 "http://$a:8080/" || echo '-'; done; }

step "build the images locally and copy them to every node (no registry needed)"
"$here/build-image.sh" && swarmctl images load -i "$inv" my-web:v1 my-web:v2 my-web:v3 || exit 1

step "my-web: 3 replicas, port 8080 → 80"
swarmctl deploy -i "$inv" "$here/lab-v1-x3.yml" || exit 1
curl_all

step "scale to 6 (only the replica count changes)"
swarmctl deploy -i "$inv" "$here/lab-v1-x6.yml" || exit 1

step "deploy again without change: 0 changes, no task restarted"
swarmctl deploy -i "$inv" "$here/lab-v1-x6.yml" || exit 1

step "rolling update to v2"
swarmctl deploy -i "$inv" "$here/lab-v2-x6.yml" || exit 1
curl_all

step "broken v3: the update fails, swarm rolls back to v2, deploy exits 1"
swarmctl deploy -i "$inv" "$here/lab-v3-x6.yml"
echo "exit code: $?"
curl_all

step "status"
swarmctl status -i "$inv"
