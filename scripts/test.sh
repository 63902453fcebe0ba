#!/usr/bin/env bash
# Install everything (scripts/setup.sh), then lint, type-check and run the test suite.
# Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check geo dashboard scripts tests
.venv/bin/ruff format --check geo dashboard scripts tests
.venv/bin/mypy geo dashboard
mkdir -p out/test-artifacts
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
