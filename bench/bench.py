"""pyship benchmark: pyship against the incumbents on the target's standard library, in one run.

Prepares the corpus (the stdlib copied out of the interpreter's install, without site-packages,
caches, or the files CPython's own test suite keeps deliberately broken), then, ROUNDS times
each, prints medians and ratios for:

- `pyship compile --no-cache` vs `python -m compileall -q -j0`, in place on fresh copies (copy
  time excluded), and `pyship compile` with a warm cache;
- `pyship build -f zip`: full build (empty cache) and no-change rebuild (same cache, same out);
- peak RSS of pyship (its largest process: os.wait4 reports the max over the process and the
  workers it reaped);
- the physical limit: CPU time of compile() + marshal.dumps() over the corpus in one process,
  divided by the number of CPUs; no CPython-based tool can beat it;
- sourceless conversion of a large real wheel (sympy from `pip download`, or --wheel PATH) vs
  pyc_wheel (installed into a private venv of the target).

Usage: bench/run.sh [PYTHON] [ROUNDS]  (builds pyship in release mode, then runs this script).
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

CPUS = os.cpu_count() or 1


def prepare_stdlib(python, dest):
    stdlib = subprocess.check_output(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"], text=True
    ).strip()
    shutil.copytree(
        stdlib,
        dest,
        symlinks=True,
        ignore=shutil.ignore_patterns("site-packages", "lib-dynload", "__pycache__", "*.pyc"),
    )
    # Drop what the target cannot compile (lib2to3 test data, badsyntax_* tests), so both tools
    # do the same work and pyship builds (which write nothing when a module is broken) complete.
    bad = subprocess.run(
        [
            python,
            "-c",
            "import os, sys\n"
            "for root, dirs, files in os.walk(sys.argv[1]):\n"
            "    for name in files:\n"
            "        if name.endswith('.py'):\n"
            "            path = os.path.join(root, name)\n"
            "            try:\n"
            "                compile(open(path, 'rb').read(), path, 'exec', dont_inherit=True)\n"
            "            except Exception:\n"
            "                print(path)\n",
            dest,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    for path in bad:
        os.remove(path)
    modules = sum(name.endswith(".py") for _, _, files in os.walk(dest) for name in files)
    return modules, len(bad)


PHYSICAL_LIMIT = """
import marshal, os, sys, time
total = 0.0
for base, dirs, files in os.walk(sys.argv[1]):
    dirs[:] = sorted(d for d in dirs if d != '__pycache__')
    for name in sorted(files):
        if name.endswith('.py'):
            path = os.path.join(base, name)
            with open(path, 'rb') as f:
                data = f.read()
            start = time.process_time()
            marshal.dumps(compile(data, path, 'exec', dont_inherit=True))
            total += time.process_time() - start
print(total)
"""


def run(command, **kwargs):
    """Run `command`; returns (wall seconds, peak RSS in bytes of its largest process, stderr)."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kwargs
    )
    # Read stderr before reaping, so a chatty -v cannot fill the pipe and block.
    stderr = process.stderr.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"{command} failed with {process.returncode}:\n{stderr[-3000:]}")
    # ru_maxrss is in KiB on Linux.
    return seconds, usage.ru_maxrss * 1024, stderr


def stages(stderr):
    """The `stage: 0.123s` and cache lines of a `-v` run, on one line."""
    parts = [
        line.strip()
        for line in stderr.splitlines()
        if re.match(r"^[\w .\-/]+: \d+\.\d+s$", line.strip()) or line.startswith("compiled ")
    ]
    return "; ".join(part.replace(os.path.dirname(part.split(":")[0]) + "/", "") for part in parts)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pyship", required=True)
    parser.add_argument("--python", default="python3.11")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--wheel", help="a large wheel for the pyc_wheel comparison "
                        "[default: sympy, fetched with pip download]")
    args = parser.parse_args()
    python = shutil.which(args.python) or args.python
    pyship = os.path.abspath(args.pyship)
    version = subprocess.check_output(
        [python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"], text=True
    ).strip()

    with tempfile.TemporaryDirectory(prefix="pyship-bench-") as work:
        corpus = os.path.join(work, "stdlib")
        modules, dropped = prepare_stdlib(python, corpus)
        size = sum(
            os.path.getsize(os.path.join(base, name))
            for base, _, files in os.walk(corpus)
            for name in files
        )
        print(
            f"corpus: CPython {version} stdlib, {modules} modules, {size / 2**20:.0f} MiB "
            f"({dropped} deliberately broken files dropped); {CPUS} CPUs; {args.rounds} rounds"
        )
        results = {}
        rss = {}
        last_stages = {}

        def record(name, measured):
            seconds, peak, stderr = measured
            results.setdefault(name, []).append(seconds)
            rss[name] = max(rss.get(name, 0), peak)
            if stderr:
                last_stages[name] = stages(stderr)

        copy = os.path.join(work, "copy")
        warm_cache = os.path.join(work, "cache-compile")

        def fresh_copy():
            if os.path.exists(copy):
                shutil.rmtree(copy)
            shutil.copytree(corpus, copy, symlinks=True)
            # Flush the copy (and the removal) to disk now: its writeback is copy time, and it
            # would otherwise land in whichever command runs next.
            os.sync()

        # The warm-cache figure needs the cache filled for this path (the dfile is in the key).
        fresh_copy()
        run([pyship, "compile", copy, "-p", python, "-q", "--cache-dir", warm_cache])

        for round_ in range(args.rounds):
            fresh_copy()
            record("compileall -q -j0", run([python, "-m", "compileall", "-q", "-j0", copy]))
            fresh_copy()
            record(
                "pyship compile --no-cache",
                run([pyship, "compile", copy, "-p", python, "-v", "--no-cache"]),
            )
            fresh_copy()
            record(
                "pyship compile (warm cache)",
                run([pyship, "compile", copy, "-p", python, "-v", "--cache-dir", warm_cache]),
            )
            os.sync()
            out = os.path.join(work, f"out-{round_}")
            cache = os.path.join(work, f"cache-build-{round_}")
            build = [pyship, "build", corpus, "-f", "zip", "-o", out, "-p", python, "-v"]
            record("pyship build -f zip (full)", run(build + ["--cache-dir", cache]))
            record("pyship build -f zip (no change)", run(build + ["--cache-dir", cache]))
            dir_out = os.path.join(work, f"out-dir-{round_}")
            record(
                "pyship build -f dir (full)",
                run([pyship, "build", corpus, "-f", "dir", "-o", dir_out, "-p", python, "-v",
                     "--no-cache"]),
            )
            shutil.rmtree(out)
            shutil.rmtree(dir_out)
            shutil.rmtree(cache)

        limits = []
        for _ in range(min(args.rounds, 3)):
            cpu = float(
                subprocess.check_output([python, "-I", "-W", "ignore", "-c", PHYSICAL_LIMIT, corpus], text=True)
            )
            limits.append(cpu / CPUS)
        limit = statistics.median(limits)

        median = {name: statistics.median(samples) for name, samples in results.items()}
        compileall = median["compileall -q -j0"]
        print()
        print(f"{'command':34} {'median':>8} {'min':>8} {'/compileall':>11} {'/limit':>7} {'peak RSS':>9}")
        print(
            f"{'physical limit (CPU / ' + str(CPUS) + ')':34} {limit:7.3f}s {min(limits):7.3f}s "
            f"{limit / compileall:11.2f} {1:7.2f} {'':>9}"
        )
        for name, samples in results.items():
            peak = f"{rss[name] / 2**20:7.0f} MB" if name.startswith("pyship") else ""
            print(
                f"{name:34} {median[name]:7.3f}s {min(samples):7.3f}s "
                f"{median[name] / compileall:11.2f} {median[name] / limit:7.2f} {peak:>9}"
            )

        print()
        print("stages of the last run (pyship -v):")
        for name, line in last_stages.items():
            print(f"  {name}: {line}")

        compile_cold = median["pyship compile --no-cache"]
        full = median["pyship build -f zip (full)"]
        rebuild = median["pyship build -f zip (no change)"]
        peak = max(value for name, value in rss.items() if name.startswith("pyship"))
        print()
        print("targets:")
        for label, value, goal, ok in [
            ("pyship compile / physical limit", compile_cold / limit, "<= 1.10", compile_cold / limit <= 1.10),
            ("pyship compile / compileall -j0", compile_cold / compileall, "< 0.90", compile_cold / compileall < 0.90),
            ("no-change rebuild / full build", rebuild / full, "<= 0.05", rebuild / full <= 0.05),
            ("peak RSS of pyship (MB)", peak / 2**20, "<= 200", peak / 2**20 <= 200),
        ]:
            print(f"  {label:34} {value:8.3f}  target {goal:8} {'met' if ok else 'MISSED'}")

        # ---- Wheel conversion vs pyc_wheel ---------------------------------------------------
        print()
        wheel_benchmark(args, python, pyship, work)


def wheel_benchmark(args, python, pyship, work):
    """Sourceless conversion of a large real wheel (sympy, fetched with `pip download` unless
    --wheel names one) by pyship and by pyc_wheel (installed into a private venv of the
    target), fresh copies each round; skipped with the reason when a download fails."""
    wheel = args.wheel
    if not wheel:
        download = subprocess.run(
            [python, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-q",
             "-d", os.path.join(work, "wheels"), "sympy"],
            capture_output=True,
            text=True,
        )
        found = [f for f in os.listdir(os.path.join(work, "wheels"))] if not download.returncode else []
        if not found:
            print(f"wheel conversion vs pyc_wheel: skipped (pip download sympy failed: "
                  f"{download.stderr.strip()[-200:]})")
            return
        wheel = os.path.join(work, "wheels", found[0])
    venv = os.path.join(work, "pyc_wheel-venv")
    venv_python = os.path.join(venv, "bin", "python")
    setup = subprocess.run([python, "-m", "venv", venv], capture_output=True, text=True)
    if not setup.returncode:
        setup = subprocess.run(
            [venv_python, "-m", "pip", "install", "-q", "pyc-wheel"], capture_output=True, text=True
        )
    if setup.returncode:
        print(f"wheel conversion vs pyc_wheel: skipped (installing pyc-wheel failed: "
              f"{setup.stderr.strip()[-200:]})")
        return
    times = {"pyc_wheel": [], "pyship build WHEEL --strip-sources": []}
    for round_ in range(args.rounds):
        copy = os.path.join(work, f"wheel-{round_}", os.path.basename(wheel))
        os.makedirs(os.path.dirname(copy))
        shutil.copy(wheel, copy)
        times["pyc_wheel"].append(run([venv_python, "-m", "pyc_wheel", "--quiet", copy])[0])
        out = os.path.join(work, f"wheel-out-{round_}")
        times["pyship build WHEEL --strip-sources"].append(
            run([pyship, "build", wheel, "--strip-sources", "-o", out, "-p", python, "-q",
                 "--no-cache"])[0]
        )
    base = statistics.median(times["pyc_wheel"])
    print(f"sourceless conversion of {os.path.basename(wheel)} ({args.rounds} rounds, no cache):")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"  {name:36} median {median:7.3f}s  min {min(samples):7.3f}s  "
              f"{median / base:5.2f}x pyc_wheel  (target <= 0.35)")


if __name__ == "__main__":
    sys.exit(main())
