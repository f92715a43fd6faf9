#!/usr/bin/env bash
# The README's test command: install (torch CPU build first) and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q torch==2.13.0
python3 -m pip install -q -e '.[test]'
export EVALSUITE_DATA="${EVALSUITE_DATA:-$(cd .. && pwd)/shared}"
python3 -m pytest -q -p no:cacheprovider --timeout=1200 "$@"
