#!/usr/bin/env bash
# Install the Debian packages that `make demo` and `make test` need on this machine and
# that a fresh Debian 12 may lack: python3-venv (the virtualenv), debootstrap (the lab
# builds its Debian base with it when no registry answers), openssh-client (SSH to the
# nodes). As root only; otherwise name what is missing and how to install it.
set -euo pipefail

need=()
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "error: missing ${need[*]}; install with 'sudo apt-get install ${need[*]}'" >&2
  exit 1
fi
echo "installing ${need[*]} from Debian" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
