#!/usr/bin/env bash
# The README's test command: install everything (browser included) and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --with-browser
export EVALSUITE_DATA="${EVALSUITE_DATA:-$(cd .. && pwd)/shared}"
export EVALSUITE_CACHE="${EVALSUITE_CACHE:-$(mktemp -d)}"
python3 -m ruff check .
python3 -m pytest -q -p no:cacheprovider --timeout=1500 --durations=25 "$@"
