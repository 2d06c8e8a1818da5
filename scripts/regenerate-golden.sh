#!/usr/bin/env bash
# Rewrites the golden templates (tests/templates/golden/) from what every stack renders now,
# with the real Sceptre CLI. Run it after a template change, then read `git diff` of them:
# it is the CloudFormation the change produces. Nothing else writes them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python tests/templates/golden.py
