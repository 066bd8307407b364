#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian machine, then run the whole suite.
# Used as-is by .ci/run. Extra arguments go to pytest (e.g. scripts/test.sh -k threshold).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's Chromium and its driver, for the one real-browser test (never `playwright install`).
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# constraints.txt pins the local CPU build of torch: pip fails loudly instead of pulling CUDA wheels.
python3 -m pip install -q -c constraints.txt -e ".[test]"
python3 - <<'PY'
import torch
if torch.version.cuda is not None and not torch.cuda.is_available():
    raise SystemExit(f"torch {torch.__version__} is a CUDA build on a machine without CUDA: reinstall with -c constraints.txt")
print(f"torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}")
PY

# The lint (rules and line length in pyproject.toml [tool.ruff]) runs before the tests.
python3 -m ruff check .
python3 -m ruff format --check .

python3 -m pytest "$@"
