#!/usr/bin/env bash
# Set-up command 1 of the README: a virtual environment in .venv (scripts/venv.sh), then the dashboard
# on the bundled sample at http://localhost:8501. Extra arguments go to `embaug dashboard` (--port P).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh ""
exec embaug dashboard "$@"
