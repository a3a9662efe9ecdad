"""A/B benchmark of two pyship binaries on the same machine, in one run.

Times binary A (say, before a change) against binary B (after it) on the target's stdlib,
prepared as bench.py prepares it (without site-packages, lib-dynload, caches and the
deliberately broken test files), ROUNDS times each, interleaved: each command runs for A then
B in even rounds, B then A in odd ones, so a drift of the machine's speed during the run
(another process, thermal or VM throttling) falls on both alike. The commands, each with its
own out-dir and cache per binary and round:

- `pyship compile --no-cache -p PY` in place on a fresh copy (made and synced just before,
  copy time excluded; every copy is compiled at the same path);
- `pyship build -f zip --no-cache -p PY -o OUT`: the full build;
- `pyship build -f zip --cache-dir CACHE -p PY -o OUT` twice over that zip: the first fills the
  cache (a cold-cache build), the second is the no-change rebuild.

Prints, per command, the median, min and max seconds of A and of B, the ratio of the medians
B/A, and the range of the per-round ratios B/A (a measure of the noise). As in bench.py,
nothing is deleted until all timing is done, and the timing starts QUIET_SECONDS after the
last deletion (see bench.py on ext4 and freed inodes).

Usage: python3 bench/ab.py --a OLD_PYSHIP --b NEW_PYSHIP [--python python3.11] [--rounds 5]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from typing import NamedTuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the corpus preparation, copies and timing of the main benchmark)


class Plan(NamedTuple):
    corpus: bench.Corpus
    in_place: str  # every copy is compiled at this path
    work: str  # out-dirs and caches go under here


COMPILE = "compile --no-cache"
FULL = "build -f zip --no-cache"
COLD = "build -f zip (cold cache)"
REBUILD = "build -f zip (no change)"


def run(command, cpu, name):
    """bench.run, also noting the CPU seconds (user + sys) of the command and the workers it
    reaped under `cpu[name]`: on a busy machine they vary far less than wall time."""
    start = os.times()
    measured = bench.run(command)
    end = os.times()
    cpu.setdefault(name, []).append(
        end.children_user - start.children_user + end.children_system - start.children_system)
    return measured


def bench_round(round_, binaries, plan, python, copies, results):
    """One round: every command for both binaries, back to back, in this round's order."""
    order = list(binaries.items()) if round_ % 2 == 0 else list(binaries.items())[::-1]
    for label, pyship in order:
        copy = next(copies)
        bench.fresh_copy(plan.corpus, copy)
        command = [pyship, "compile", plan.in_place, "-p", python, "--no-cache"]
        os.rename(copy, plan.in_place)
        try:
            results[label].record(COMPILE, run(command, results[label].cpu, COMPILE))
        finally:
            os.rename(plan.in_place, copy)
    for label, pyship in order:
        out = os.path.join(plan.work, f"out-{label}-{round_}")
        build = [pyship, "build", plan.corpus.path, "-f", "zip", "-p", python, "-o", out]
        results[label].record(FULL, run(build + ["--no-cache"], results[label].cpu, FULL))
    for label, pyship in order:
        out = os.path.join(plan.work, f"out-{label}-{round_}")
        cache = os.path.join(plan.work, f"cache-{label}-{round_}")
        build = [pyship, "build", plan.corpus.path, "-f", "zip", "-p", python, "-o", out,
                 "--cache-dir", cache]
        results[label].record(COLD, run(build, results[label].cpu, COLD))
        results[label].record(REBUILD, run(build, results[label].cpu, REBUILD))


def load_average():
    """The 1, 5 and 15 minute load averages: other work on the machine adds noise."""
    return "load average " + ", ".join(f"{load:.2f}" for load in os.getloadavg())


def report(results, rounds):
    a, b = results["A"], results["B"]
    print()
    print(f"{'command':27} {'A median':>9} {'B median':>9} {'B/A':>6}   {'A min..max':>15}   "
          f"{'B min..max':>15}   {'per-round B/A':>13}")
    for name in a.seconds:
        ratios = [y / x for x, y in zip(a.seconds[name], b.seconds[name])]
        print(f"{name:27} {a.median(name):8.3f}s {b.median(name):8.3f}s "
              f"{b.median(name) / a.median(name):6.3f}   "
              f"{min(a.seconds[name]):6.3f}..{max(a.seconds[name]):6.3f}s   "
              f"{min(b.seconds[name]):6.3f}..{max(b.seconds[name]):6.3f}s   "
              f"{min(ratios):5.3f}..{max(ratios):5.3f}")
    print()
    print("CPU seconds (user + sys, with the workers), less sensitive to other load:")
    for name in a.cpu:
        ratios = [y / x for x, y in zip(a.cpu[name], b.cpu[name])]
        median_a, median_b = statistics.median(a.cpu[name]), statistics.median(b.cpu[name])
        print(f"  {name:27} A {median_a:7.3f}s  B {median_b:7.3f}s  B/A {median_b / median_a:6.3f}"
              f"   per-round B/A {min(ratios):5.3f}..{max(ratios):5.3f}")
    print()
    print(f"peak RSS (largest process, max over {rounds} rounds):")
    for name in a.seconds:
        print(f"  {name:27} A {a.rss[name] / 2**20:5.0f} MB   B {b.rss[name] / 2**20:5.0f} MB")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", required=True, help="the first pyship binary (before)")
    parser.add_argument("--b", required=True, help="the second pyship binary (after)")
    parser.add_argument("--python", default="python3.11")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    python, version = bench.interpreter(args.python)
    binaries = {"A": os.path.abspath(args.a), "B": os.path.abspath(args.b)}
    print(f"CPython {version} ({python}); {bench.CPUS} CPUs; {args.rounds} rounds, "
          f"interleaved (A,B then B,A); {load_average()}")
    for label, pyship in binaries.items():
        version_line = subprocess.check_output([pyship, "--version"], text=True).strip()
        print(f"  {label}: {pyship} ({version_line}, {os.path.getsize(pyship) / 2**20:.1f} MiB)")

    # The whole work dir is deleted only at the end, when all timing is done.
    with tempfile.TemporaryDirectory(prefix="pyship-ab-") as work:
        corpus = bench.prepare_stdlib(python, work, version)
        print(f"corpus {corpus.name}: {corpus.description}")
        base = os.path.join(work, "rounds")
        plan = Plan(corpus, os.path.join(base, "in-place"), base)
        copies = iter(os.path.join(base, "copies", str(index))
                      for index in range(args.rounds * len(binaries)))
        os.sync()
        bench.wait_for_quiet_inodes()

        results = {label: bench.Results() for label in binaries}
        for result in results.values():
            result.cpu = {}
        for round_ in range(args.rounds):
            bench_round(round_, binaries, plan, python, copies, results)
            print(f"round {round_ + 1}/{args.rounds} done", flush=True)
        print(f"timing done; {load_average()}")
        report(results, args.rounds)


if __name__ == "__main__":
    sys.exit(main())
