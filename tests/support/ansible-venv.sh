#!/usr/bin/env bash
# Creates (once) a Python venv holding ansible-core from PyPI and prints the path of its
# bin/ directory. Used by .ci/run and by the Ansible end-to-end tests.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${ANSIBLE_VENV:-$root/target/ansible-venv}"
if [ ! -x "$venv/bin/ansible-inventory" ]; then
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "ansible-core>=2.15,<2.19" >&2
fi
echo "$venv/bin"
