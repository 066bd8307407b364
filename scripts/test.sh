#!/usr/bin/env bash
# Set-up command 2 of the README, and what .ci/run calls: a virtual environment in .venv with everything
# the checks need (scripts/venv.sh), Debian's Chromium for the browser tests, then the lint, the import
# contracts, the strict docs build and the whole test suite. Extra arguments go to pytest
# (e.g. scripts/test.sh -k threshold).
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/venv.sh "test,docs"

# Debian's Chromium and its driver, for the real-browser tests (never `playwright install`). Where the
# distribution's chromium is a snap stub (Ubuntu), point EMBAUG_CHROMIUM at a Chromium or Chrome binary.
if [ -z "${EMBAUG_CHROMIUM:-}" ] && { ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; }; then
  apt_install chromium chromium-driver
fi

# The lint (rules and line length in pyproject.toml [tool.ruff]) and the layering (its [tool.importlinter]).
python -m ruff check .
python -m ruff format --check .
lint-imports --no-cache

# The docs site, strictly: a broken link or reference fails here.
site="$(mktemp -d)"
trap 'rm -rf "$site"' EXIT
NO_MKDOCS_2_WARNING=1 mkdocs build --strict --quiet --site-dir "$site"

python -m pytest "$@"
