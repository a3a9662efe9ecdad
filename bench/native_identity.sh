#!/usr/bin/env bash
# The native backend's differential harness on the full 3.12 stdlib and packages corpora
# (issue 16); exits 1 when any module differs from CPython 3.12.
# Usage: bench/native_identity.sh [PYTHON3.12] [--corpus stdlib|packages|all] [--state-dir DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --example native_coverage
python=python3.12
if [[ $# -gt 0 && $1 != -* ]]; then python=$1; shift; fi
exec python3 bench/native_identity.py --coverage target/release/examples/native_coverage \
    --python "$python" "$@"
