#!/usr/bin/env bash
# Run every benchmark in this folder, one after the other (by hand; they are not tests).
# Usage: benchmarks/run.sh [--quick] [python]
#   --quick   a smoke run: fewer and shorter samples (the figures are then only indicative)
#   python    the interpreter; defaults to the project's venv, then python3.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
quick=""
if [[ "${1:-}" == "--quick" ]]; then quick=1; shift; fi
python="${1:-}"
if [[ -z "$python" ]]; then
    if [[ -x /work/venv/bin/python ]]; then python=/work/venv/bin/python; else python=python3; fi
fi
for bench in "$here"/bench_*.py; do
    args=()
    if [[ -n "$quick" ]]; then
        # bench_sandbox.py has no --quick: a smaller request count does the same job.
        if [[ "$(basename "$bench")" == bench_sandbox.py ]]; then args=(--requests 2000); else args=(--quick); fi
    fi
    echo "== $(basename "$bench") ${args[*]:-}"
    "$python" "$bench" "${args[@]}"
    echo
done
