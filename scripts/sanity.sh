#!/usr/bin/env bash
# ansible-test sanity on the collection as users get it: build the tarball, install it
# into an empty collections path, run the sanity tests there (ansible-test needs the
# collection under ansible_collections/NAMESPACE/NAME).
#
# ansible-test bootstraps pip in its test venvs with a script it downloads from
# ci-files.testing.ansible.com; where that host is not reachable (only PyPI is), a
# stand-in in its cache bootstraps pip with ensurepip and installs the same packages
# from PyPI. Tests that need a container or a network beyond PyPI are not run.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(cd "${BIN:-.venv/bin}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! curl -fsS -m 5 -o /dev/null https://ci-files.testing.ansible.com/ 2>/dev/null; then
  pip_version=$("$BIN/python" -c 'from ansible_test._internal.python_requirements import get_venv_packages; from types import SimpleNamespace as N; print(get_venv_packages(N(version="3.11"))["pip"])' 2>/dev/null || echo 24.2)
  cache=~/.ansible/test/cache
  mkdir -p "$cache"
  stand_in='import subprocess, sys
args = sys.argv[1:]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
pkgs = [a for a in args if not a.startswith("-")]
if pkgs:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q",
                           "--disable-pip-version-check", *pkgs])'
  f="$cache/get_pip_${pip_version//./_}.py"
  [ -f "$f" ] || printf '%s\n' "$stand_in" > "$f"
fi

"$BIN/ansible-galaxy" collection build --output-path "$work" . >/dev/null
(cd "$work" && "$BIN/ansible-galaxy" collection install --no-deps -p "$work/c" "$work"/swarmctl-swarm-*.tar.gz >/dev/null)
cd "$work/c/ansible_collections/swarmctl/swarm"
PATH="$BIN:$PATH" ansible-test sanity --python "$("$BIN/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
  --color no "$@"
