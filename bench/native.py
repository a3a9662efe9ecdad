"""pyship benchmark of the native 3.12 backend (issue 16): its CPU against CPython's own
compiler, and `pyship build -f zip --backend native` against compileall, in one interleaved run.

Corpora (prepared as bench.py does, with CPython 3.12): the 3.12 stdlib, and the packages
corpus (24 wheels from pip download, unzipped or installed by uv without bytecode); both without
extension modules and without the files 3.12 cannot compile. Then ROUNDS rounds, interleaved
(every figure once per round, in reverse order in odd rounds), per corpus:

- CPU, native: `examples/native_cpu` compiles every module on one thread at optimize 0 (files
  the compiler gives up on are timed too, up to where it gives up), thread CPU seconds;
- CPU, parse alone: the same example timing only the decoding and parsing (ruff's parser) the
  native compiler starts from: the floor under it, the part of the CPU bar no work of ours moves;
- CPU, CPython: one process compiles every module with compile() + marshal.dumps(), process
  CPU seconds (`time.process_time`), sources read before timing, as the native figure;
- wall: `pyship build -f zip --no-cache` with `--backend native` and `--backend cpython`, and
  `python3.12 -m compileall -q -j0` on a fresh copy (copy time excluded), with their CPU.

It prints medians (min-max), how many modules the native compiler compiled, and the bars of
issue 16: native CPU ≤ 0.10× CPython's, `build -f zip --backend native` ≤ 0.25× compileall,
each `met` or `MISSED`.

Usage: bench/native.sh [PYTHON3.12] [ROUNDS] [--corpus stdlib|packages|all] [--state-dir DIR]
(builds pyship and the example in release mode, then runs this script).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the corpora, `run` and the quiet-inode wait are shared)

# Compiles every file of a list in one process; prints its CPU seconds. Sources are read first.
CPYTHON_CPU = """
import marshal, sys, time
with open(sys.argv[1], encoding='utf-8') as listing:
    paths = listing.read().splitlines()
sources = []
for path in paths:
    with open(path, 'rb') as f:
        sources.append((path, f.read()))
start = time.process_time()
for path, source in sources:
    marshal.dumps(compile(source, path, 'exec', dont_inherit=True, optimize=0))
print(time.process_time() - start)
"""

NATIVE_CPU = "CPU, native compiler (1 thread)"
PARSE_CPU = "CPU, its parse alone (1 thread)"
CPYTHON_CPU_NAME = "CPU, CPython compile+marshal (1 process)"
BUILD_NATIVE = "pyship build -f zip --backend native"
BUILD_CPYTHON = "pyship build -f zip --backend cpython"
COMPILEALL = "compileall -q -j0"


def module_list(corpus, work):
    """A file naming every module of the corpus, one a line, sorted."""
    paths = sorted(
        os.path.join(root, name)
        for root, _, files in os.walk(corpus.path)
        for name in files
        if name.endswith(".py")
    )
    listing = os.path.join(work, f"{corpus.name}.list")
    with open(listing, "w", encoding="utf-8") as out:
        out.write("\n".join(paths) + "\n")
    return listing, len(paths)


def bench_corpus(corpus, python, pyship, native_cpu, rounds, work):
    listing, modules = module_list(corpus, work)
    base = os.path.join(work, "rounds", corpus.name)
    os.makedirs(base)
    counter = iter(range(1 << 30))
    seconds = {}
    cpu = {}
    coverage = {}

    def record(name, wall, cpu_seconds):
        seconds.setdefault(name, []).append(wall)
        cpu.setdefault(name, []).append(cpu_seconds)

    def native():
        out = json.loads(subprocess.check_output([native_cpu, listing, "0"], text=True))
        coverage.update(out)
        record(NATIVE_CPU, out["cpu"], out["cpu"])

    def parse():
        out = json.loads(subprocess.check_output([native_cpu, listing, "0", "parse"], text=True))
        record(PARSE_CPU, out["cpu"], out["cpu"])

    def cpython():
        spent = float(subprocess.check_output([python, "-c", CPYTHON_CPU, listing], text=True))
        record(CPYTHON_CPU_NAME, spent, spent)

    def build(backend, name):
        def step():
            out = os.path.join(base, f"out-{next(counter)}")
            measured = bench.run([pyship, "build", corpus.path, "-f", "zip", "-o", out,
                                  "--no-cache", "-p", python, "--backend", backend, "-q"])
            record(name, measured.seconds, measured.cpu)
        return step

    def compileall():
        copy = os.path.join(base, f"copy-{next(counter)}")
        bench.fresh_copy(corpus, copy)
        measured = bench.run([python, "-m", "compileall", "-q", "-j0", copy])
        record(COMPILEALL, measured.seconds, measured.cpu)

    steps = [native, parse, cpython, build("native", BUILD_NATIVE),
             build("cpython", BUILD_CPYTHON), compileall]
    for round_ in range(rounds):
        for step in (steps if round_ % 2 == 0 else list(reversed(steps))):
            step()
        print(f"  {corpus.name}: round {round_ + 1} of {rounds} done", flush=True)
    return modules, seconds, cpu, coverage


def spread(samples):
    return f"{statistics.median(samples):7.3f} s ({min(samples):.3f}-{max(samples):.3f})"


def report(corpus, modules, seconds, cpu, coverage):
    print(f"\n## {corpus.description}")
    print(f"native compiler: {coverage['native']} of {modules} modules "
          f"({100 * coverage['native'] / modules:.1f}%), {coverage['unsupported']} fall back")
    for name in (NATIVE_CPU, PARSE_CPU, CPYTHON_CPU_NAME, BUILD_NATIVE, BUILD_CPYTHON,
                 COMPILEALL):
        line = f"{name:42} {spread(seconds[name])}"
        if name not in (NATIVE_CPU, PARSE_CPU, CPYTHON_CPU_NAME):
            line += f"  CPU {statistics.median(cpu[name]):.3f} s"
        print(line)
    median = {name: statistics.median(samples) for name, samples in seconds.items()}
    targets = [
        ("native CPU / CPython CPU", median[NATIVE_CPU] / median[CPYTHON_CPU_NAME], 0.10),
        ("its parse alone / CPython CPU", median[PARSE_CPU] / median[CPYTHON_CPU_NAME], None),
        ("build --backend native / compileall", median[BUILD_NATIVE] / median[COMPILEALL], 0.25),
        ("build --backend native / --backend cpython", median[BUILD_NATIVE] / median[BUILD_CPYTHON],
         None),
    ]
    for name, ratio, bar in targets:
        verdict = "" if bar is None else (f"  (bar ≤ {bar:.2f}: "
                                          f"{'met' if ratio <= bar else 'MISSED'})")
        print(f"{name:44} {ratio:6.3f}×{verdict}")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pyship", required=True)
    parser.add_argument("--native-cpu", required=True, help="the native_cpu example binary")
    parser.add_argument("--python", default="python3.12")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--corpus", choices=["stdlib", "packages", "all"], default="all")
    parser.add_argument("--state-dir", default=bench.STATE_DIR)
    args = parser.parse_args()
    python, version = bench.interpreter(args.python)
    if not version.startswith("3.12."):
        return f"the native backend targets CPython 3.12; {python} is {version}"
    pyship = os.path.abspath(args.pyship)
    native_cpu = os.path.abspath(args.native_cpu)
    os.makedirs(args.state_dir, exist_ok=True)
    print(f"CPython {version} ({python}); {bench.CPUS} CPUs; {args.rounds} rounds, interleaved")
    with tempfile.TemporaryDirectory(prefix="pyship-bench-native-") as work:
        corpora = []
        if args.corpus in ("stdlib", "all"):
            corpora.append(bench.prepare_stdlib(python, work, version))
        if args.corpus in ("packages", "all"):
            corpora.append(bench.prepare_packages(python, version, work, args.state_dir))
        corpora = [corpus for corpus in corpora if corpus]
        os.sync()
        bench.wait_for_quiet_inodes()
        print(f"timing starts; {bench.load_average()}", flush=True)
        start = time.monotonic()
        measured = [(corpus, bench_corpus(corpus, python, pyship, native_cpu, args.rounds, work))
                    for corpus in corpora]
        print(f"timed in {time.monotonic() - start:.0f} s; {bench.load_average()}")
        for corpus, figures in measured:
            report(corpus, *figures)


if __name__ == "__main__":
    sys.exit(main())
