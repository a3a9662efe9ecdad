#!/usr/bin/env bash
# Benchmark of the native 3.12 backend (issue 16): its CPU against CPython's compiler, and
# `pyship build -f zip --backend native` against compileall, in one interleaved run.
# Usage: bench/native.sh [PYTHON3.12] [ROUNDS] [--corpus stdlib|packages|all] [--state-dir DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
cargo build --release --quiet --example native_cpu
python=python3.12
rounds=3
if [[ $# -gt 0 && $1 != -* ]]; then python=$1; shift; fi
if [[ $# -gt 0 && $1 != -* ]]; then rounds=$1; shift; fi
exec python3 bench/native.py --pyship target/release/pyship \
    --native-cpu target/release/examples/native_cpu --python "$python" --rounds "$rounds" "$@"
