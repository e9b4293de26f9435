#!/usr/bin/env bash
# Run every benchmark in this folder, one after the other (by hand; they are not tests).
# Usage: benchmarks/run.sh [python]   — the interpreter defaults to the project's venv, then python3.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${1:-}"
if [[ -z "$python" ]]; then
    if [[ -x /work/venv/bin/python ]]; then python=/work/venv/bin/python; else python=python3; fi
fi
for bench in "$here"/bench_*.py; do
    echo "== $(basename "$bench")"
    "$python" "$bench"
    echo
done
