#!/usr/bin/env bash
# Installs what the platform and its tests need, idempotently:
#   - the PostgreSQL server (Debian packages) for local databases and tests,
#   - .venv: the project with Sceptre, troposphere, boto3, psycopg2, pytest, cfn-lint, moto,
#   - .venvs/checkov: the security scanner (its pins conflict with Sceptre's),
#   - .venvs/emulator: moto's server for the local platform (moto[server] cannot sit beside Sceptre).
# A virtualenv is rebuilt only when its requirements change.
# `bash scripts/bootstrap.sh local` leaves the scanner out (the local platform does not use it).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

step() { printf '\n==> %s\n' "$*"; }

if ! command -v pg_ctl >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  step "installing the PostgreSQL server (Debian packages)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql postgresql-contrib openssl >/dev/null
fi

# venv DIR STAMP_INPUTS... -- PIP_ARGS...
venv() {
  local dir=$1; shift
  local inputs=()
  while [ "$1" != "--" ]; do inputs+=("$1"); shift; done
  shift
  local stamp="$dir/.installed"
  local want
  want=$(cat "${inputs[@]}" | sha256sum | cut -d' ' -f1)
  if [ -x "$dir/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  step "installing $dir"
  rm -rf "$dir"
  "$PYTHON" -m venv "$dir"
  "$dir/bin/pip" install -q --disable-pip-version-check "$@"
  echo "$want" > "$stamp"
}

venv .venv setup.py pyproject.toml -- -e ".[test]"
venv .venvs/emulator requirements/emulator.txt -- -r requirements/emulator.txt
if [ "${1:-}" != local ]; then
  venv .venvs/checkov requirements/checkov.txt -- -r requirements/checkov.txt
fi
