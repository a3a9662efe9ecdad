#!/usr/bin/env bash
# pyship benchmark: builds pyship in release mode, prepares the corpus, and prints medians and
# ratios against compileall (and pyc_wheel with --wheel) in one run.
# Usage: bench/run.sh [PYTHON] [ROUNDS] [--wheel PATH]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
python="${1:-python3.11}"
rounds="${2:-5}"
shift $(( $# < 2 ? $# : 2 ))
exec python3 bench/bench.py --pyship target/release/pyship --python "$python" --rounds "$rounds" "$@"
