#!/usr/bin/env bash
# The local platform, on a fresh machine too: installs what it needs (idempotent), then
#   bash scripts/local.sh up       # emulator + PostgreSQL + `sceptre launch local`, then a summary
#   bash scripts/local.sh status   # what runs and the local stacks' states
#   bash scripts/local.sh down     # stop everything, remove .local/ and the AWS profile
# (also: bash scripts/local.sh password SERVICE). See fargate_platform/local/commands.py.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh local
exec .venv/bin/fargate-platform local "$@"
