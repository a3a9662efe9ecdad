#!/usr/bin/env bash
# pyship benchmark: builds pyship in release mode, prepares the corpora, and prints medians and
# ratios against the compile limits, compileall, uv and pyc_wheel in one interleaved run.
# Usage: bench/run.sh [PYTHON] [ROUNDS] [--wheel PATH] [--corpus stdlib|packages|all] [--skip-wheel]
#        [--state-dir DIR]
# Before/after a change: python3 bench/ab.py --a OLD_PYSHIP --b NEW_PYSHIP --python PY --rounds N
# times two release binaries interleaved on the stdlib (medians, B/A ratios, min/max).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
python=python3.11
rounds=5
if [[ $# -gt 0 && $1 != -* ]]; then python=$1; shift; fi
if [[ $# -gt 0 && $1 != -* ]]; then rounds=$1; shift; fi
exec python3 bench/bench.py --pyship target/release/pyship --python "$python" --rounds "$rounds" "$@"
