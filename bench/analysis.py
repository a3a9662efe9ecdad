"""The analysis stage's cost and what stripping saves, in one interleaved run.

On a copy of the target's standard library (as bench/bench.py prepares it), each round builds
a sourceless zip (`--strip-sources --no-cache`) three ways, in turn: plain, `--strip-docstrings` (the Rust parser reads
every module, the worker rewrites the documented ones) and `-OO` (parser for the warnings
only). Prints the medians of the `analyze` stage (parse only: decode, parse, facts, on every
core) and of the whole build, and the zip sizes.

    python3 bench/analysis.py --pyship target/release/pyship --python python3.11 --rounds 3
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

VARIANTS = [("plain", []), ("--strip-docstrings", ["--strip-docstrings"]), ("-OO", ["-OO"])]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pyship", required=True)
    parser.add_argument("--python", default="python3.11")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        version = subprocess.check_output(
            [args.python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], text=True
        ).strip()
        corpus = bench.prepare_stdlib(args.python, work, version)
        bench.drop_broken(args.python, corpus.path)
        print(corpus.description)
        results = {name: {"analyze": [], "total": [], "size": []} for name, _ in VARIANTS}
        for round_ in range(args.rounds):
            for name, options in VARIANTS:
                out = os.path.join(work, "out-%s-%d" % (name.strip("-"), round_))
                report = os.path.join(work, "report.json")
                subprocess.run(
                    [args.pyship, "build", corpus.path, "-f", "zip", "--strip-sources", "--no-cache", "-q",
                     "-p", args.python, "-o", out, "--report", report] + options,
                    check=True,
                )
                with open(report) as f:
                    data = json.load(f)
                timings = dict(data["timings"])
                results[name]["analyze"].append(timings.get("analyze", 0.0))
                results[name]["total"].append(data["duration"])
                results[name]["size"].append(data["artifacts"][0]["archive_bytes"])
                warnings = len(data.get("source_warnings", []))
                if round_ == 0 and warnings:
                    print("%s: %d source warnings" % (name, warnings))
        plain = statistics.median(results["plain"]["total"])
        print("%-20s %10s %10s %8s %12s" % ("build", "analyze", "total", "x plain", "zip bytes"))
        for name, _ in VARIANTS:
            analyze = statistics.median(results[name]["analyze"])
            total = statistics.median(results[name]["total"])
            size = statistics.median(results[name]["size"])
            print("%-20s %9.3fs %9.3fs %7.2fx %12d" % (name, analyze, total, total / plain, size))


main()
