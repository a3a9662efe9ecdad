#!/usr/bin/env bash
# pyship benchmark: builds pyship in release mode, prepares the corpora, and prints medians and
# ratios against the stdlib's compileall in one run. Usage: bench/run.sh [PYTHON] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
exec python3 bench/bench.py --pyship target/release/pyship --python "${1:-python3.11}" --rounds "${2:-5}"
