"""Time pyship against `python -m compileall -j0` on the target's standard library.

Prepares the corpus (the stdlib copied out of the interpreter's install, without site-packages,
caches, or the files CPython's own test suite keeps deliberately broken), then runs each tool
ROUNDS times on fresh copies (copy time excluded) and prints medians and ratios.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def prepare_stdlib(python, dest):
    stdlib = subprocess.check_output(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"], text=True
    ).strip()
    shutil.copytree(
        stdlib,
        dest,
        symlinks=True,
        ignore=shutil.ignore_patterns("site-packages", "__pycache__", "*.pyc"),
    )
    # Drop what the target cannot compile (lib2to3 test data, badsyntax_* tests), so both tools
    # do the same work and pyship (which writes nothing when a module is broken) completes.
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
    modules = sum(
        name.endswith(".py") for _, _, files in os.walk(dest) for name in files
    )
    return modules, len(bad)


def timed(command, **kwargs):
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, **kwargs)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pyship", required=True)
    parser.add_argument("--python", default="python3.11")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    python = shutil.which(args.python) or args.python
    pyship = os.path.abspath(args.pyship)
    version = subprocess.check_output(
        [python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"], text=True
    ).strip()

    with tempfile.TemporaryDirectory(prefix="pyship-bench-") as work:
        corpus = os.path.join(work, "stdlib")
        modules, dropped = prepare_stdlib(python, corpus)
        print(
            f"corpus: CPython {version} stdlib, {modules} modules "
            f"({dropped} deliberately broken files dropped), {os.cpu_count()} CPUs"
        )
        results = {}

        def record(name, seconds):
            results.setdefault(name, []).append(seconds)

        for round_ in range(args.rounds):
            copy = os.path.join(work, f"compileall-{round_}")
            shutil.copytree(corpus, copy, symlinks=True)
            record(
                "compileall -q -j0 (in place)",
                timed([python, "-m", "compileall", "-q", "-j0", copy]),
            )
            shutil.rmtree(copy)
            for fmt in ("dir", "zip"):
                out = os.path.join(work, f"out-{fmt}-{round_}")
                record(
                    f"pyship build -f {fmt}",
                    timed([pyship, "build", corpus, "-f", fmt, "-o", out, "-p", python, "-q"]),
                )
                shutil.rmtree(out)

        baseline = statistics.median(results["compileall -q -j0 (in place)"])
        print(f"{'command':40} {'median':>9} {'min':>9} {'vs compileall':>14}")
        for name, samples in results.items():
            median = statistics.median(samples)
            print(
                f"{name:40} {median:8.3f}s {min(samples):8.3f}s {median / baseline:13.2f}x"
            )


if __name__ == "__main__":
    sys.exit(main())
