#!/usr/bin/env bash
# Installs what the tests need (scripts/bootstrap.sh), then runs the whole test suite.
# Extra arguments go to pytest, e.g. scripts/test.sh tests/templates -x
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python -m pytest "$@"
