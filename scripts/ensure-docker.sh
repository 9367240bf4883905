#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine, for the lab and the tests.
# On a machine with systemd, start the docker service; without systemd (CI
# containers, sandboxes), install Debian's docker.io if needed and start dockerd.
set -euo pipefail

# Every systemd node (lab, Molecule) takes inotify instances from one kernel-wide
# budget; the default of 128 stops new nodes from booting after about 20.
raise_inotify() {
  local now
  now=$(cat /proc/sys/fs/inotify/max_user_instances 2>/dev/null || echo 0)
  if [ "$now" -lt 8192 ] && [ "$(id -u)" -eq 0 ]; then
    sysctl -qw fs.inotify.max_user_instances=8192 || true
  fi
}

if docker info >/dev/null 2>&1; then
  raise_inotify
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "error: no Docker engine answers and this is not root; start one with 'sudo systemctl start docker'" >&2
  exit 1
fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "installing docker.io from Debian (no Docker engine here)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io iptables >/dev/null
fi
if [ -d /run/systemd/system ]; then
  systemctl start docker
else
  echo "starting dockerd (log: /var/log/dockerd.log)" >&2
  setsid dockerd >/var/log/dockerd.log 2>&1 < /dev/null &
fi
for _ in $(seq 60); do
  docker info >/dev/null 2>&1 && raise_inotify && exit 0
  sleep 1
done
echo "error: dockerd did not answer within 60 s; see /var/log/dockerd.log" >&2
exit 1
