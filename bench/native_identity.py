"""The native backend's differential harness on the full corpora (issue 16): every module of
the CPython 3.12 stdlib and of the packages corpus (24 wheels from pip download, prepared as
bench.py prepares them) compiled natively and by CPython 3.12 at optimize 0, 1, 2 and with
docstrings stripped; prints per corpus and mode identical / fell back by reason / differed,
and the first differences with their disassembly. Exits 1 when any module differs.

`cargo test` runs the same harness on the snippets, the fixtures and every 8th stdlib module
(tests/it/native_identity.rs); this is the whole of both corpora, too long for every CI run.

Usage: bench/native_identity.sh [PYTHON3.12] [--corpus stdlib|packages|all] [--state-dir DIR]
"""

import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the corpora are prepared as the benchmark prepares them)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--coverage", required=True, help="the native_coverage example binary")
    parser.add_argument("--python", default="python3.12")
    parser.add_argument("--corpus", choices=["stdlib", "packages", "all"], default="all")
    parser.add_argument("--state-dir", default=bench.STATE_DIR)
    args = parser.parse_args()
    python, version = bench.interpreter(args.python)
    if not version.startswith("3.12."):
        return f"the native backend targets CPython 3.12; {python} is {version}"
    os.makedirs(args.state_dir, exist_ok=True)
    differed = False
    with tempfile.TemporaryDirectory(prefix="pyship-native-identity-") as work:
        corpora = []
        if args.corpus in ("stdlib", "all"):
            corpora.append(bench.prepare_stdlib(python, work, version))
        if args.corpus in ("packages", "all"):
            corpora.append(bench.prepare_packages(python, version, work, args.state_dir))
        for corpus in filter(None, corpora):
            print(f"\n## {corpus.description}", flush=True)
            # Exit status 1: something differed (the example printed it).
            status = subprocess.run([args.coverage, python, corpus.path]).returncode
            if status not in (0, 1):
                return f"native_coverage failed with status {status}"
            differed |= status == 1
    return 1 if differed else 0


if __name__ == "__main__":
    sys.exit(main())
