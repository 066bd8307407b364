#!/usr/bin/env bash
# Run the browser suite (tests/test_browser.py, Debian's Chromium) N times in a row and count the
# green runs: the flake check of the dashboard's browser tests.
#   bash scripts/browser_loop.sh 10        # prints "browser suite: 10/10 green" when all pass
# Each run's output is kept in ${EMBAUG_LOOP_LOGS:-/tmp/embaug-browser-loop}/run-K.log.
set -u
n="${1:-10}"
logs="${EMBAUG_LOOP_LOGS:-/tmp/embaug-browser-loop}"
mkdir -p "$logs"
cd "$(dirname "$0")/.."
green=0
for k in $(seq 1 "$n"); do
  start=$(date +%s)
  if python -m pytest -q -p no:cacheprovider tests/test_browser.py > "$logs/run-$k.log" 2>&1; then
    green=$((green + 1)); verdict=green
  else
    verdict="RED (see $logs/run-$k.log)"
  fi
  echo "run $k/$n: $verdict in $(( $(date +%s) - start )) s"
done
echo "browser suite: $green/$n green"
[ "$green" -eq "$n" ]
