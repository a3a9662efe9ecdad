"""pyship benchmark: pyship against the incumbents on real corpora, in one run.

Prepares the corpora:

- stdlib: the target's standard library copied out of the interpreter's install, without
  site-packages, lib-dynload or caches;
- packages: popular packages and their dependencies from the target's `pip download
  --only-binary :all:`, unzipped together into one tree like site-packages (skipped, with the
  reason, when the download fails);

each without the files the target cannot compile (CPython's deliberately broken test files).
Then, ROUNDS times each, it prints per corpus medians and ratios for:

- `pyship compile --no-cache` vs `python -m compileall -q -j0`, in place on fresh copies (copy
  time excluded), and `pyship compile` with a warm cache;
- `pyship build -f zip`: full build (empty cache) and no-change rebuild (same cache, same out),
  and `pyship build -f dir --no-cache`;
- peak RSS of pyship (its largest process: os.wait4 reports the max over the process and the
  workers it reaped);
- the physical limit: CPU time of compile() + marshal.dumps() over the corpus in one process,
  divided by the number of CPUs; no CPython-based tool can beat it. Measured once per round,
  between the commands, so it sees the machine as they do;

and last the sourceless conversion of a large real wheel (sympy from `pip download`, or --wheel
PATH) vs pyc_wheel (installed into a private venv of the target).

Usage: bench/run.sh [PYTHON] [ROUNDS] [--wheel PATH] [--corpus stdlib|packages|all]
[--skip-wheel]  (builds pyship in release mode, then runs this script).
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
import zipfile
from typing import NamedTuple

CPUS = os.cpu_count() or 1

# Popular packages for the `packages` corpus; pip adds their dependencies (urllib3, idna,
# certifi, charset-normalizer, markupsafe, markdown-it-py, mdurl, pluggy, iniconfig): about
# 2300 modules. pip picks binary wheels for two of those: their extension modules are left
# out, as `pyship build -f zip` refuses them (a zip cannot import them) and nobody compiles them.
PACKAGES = [
    "requests", "click", "jinja2", "rich", "pygments", "docutils", "setuptools", "pip",
    "packaging", "attrs", "pyparsing", "six", "mpmath", "networkx", "pytest",
]
EXTENSIONS = (".so", ".pyd")

# Why nothing is deleted while timing, and why the timing waits for a quiet file system first:
# when ext4 allocates an inode it scans the group's bitmap for a free one and skips those freed
# in the last ~30 s (`recently_deleted()` in fs/ext4/ialloc.c, via `find_inode_bit`). Deleting a
# corpus copy (thousands of inodes) right before each timed command made 20-25% of that command's CPU
# kernel time in that scan (perf), for every tool alike: an artefact of the benchmark's churn,
# not of the tools. So nothing is deleted until all timing is done, and the first timed command
# starts QUIET_SECONDS after the last deletion the script knows of. Each fresh copy is made right
# before the command that compiles it, then flushed with sync (its writeback is copy time):
# copies made minutes ahead were evicted from the page cache on this VM (it reclaims cold pages
# proactively, kdamond), and the commands then timed the disk (a 2 s "check" stage).
QUIET_SECONDS = 35
# Whatever ran just before (cargo, the clean-up of a previous run) may have deleted files.
last_deletion = time.monotonic()


def deleted():
    """Note that the script (or a tool it ran, like pip with its temp dirs) just deleted files."""
    global last_deletion
    last_deletion = time.monotonic()


def wait_for_quiet_inodes():
    remaining = last_deletion + QUIET_SECONDS - time.monotonic()
    if remaining > 0:
        print(f"waiting {remaining:.0f}s before timing: ext4 skips inodes freed in the last ~30 s "
              f"when it creates files, which would bill the benchmark's own deletions to the "
              f"timed commands")
        time.sleep(remaining)


class Corpus(NamedTuple):
    name: str
    path: str
    description: str


def prepare_stdlib(python, work, version):
    """The target's stdlib without site-packages, extension modules, caches or broken files."""
    dest = os.path.join(work, "stdlib")
    stdlib = subprocess.check_output(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"], text=True
    ).strip()
    shutil.copytree(
        stdlib,
        dest,
        symlinks=True,
        ignore=shutil.ignore_patterns("site-packages", "lib-dynload", "__pycache__", "*.pyc"),
    )
    return Corpus("stdlib", dest, f"CPython {version} stdlib" + tree_summary(python, dest))


def prepare_packages(python, work):
    """PACKAGES and their dependencies from `pip download`, unzipped together; None (after
    saying why) when the download fails."""
    wheels = os.path.join(work, "wheels-packages")
    download = pip_download(python, wheels, PACKAGES)
    deleted()  # pip cleans up its temp dirs
    if download:
        print(f"corpus packages: skipped (pip download failed: {download})")
        return None
    dest = os.path.join(work, "packages")
    names = sorted(os.listdir(wheels))
    extensions = 0
    for name in names:
        with zipfile.ZipFile(os.path.join(wheels, name)) as wheel:
            members = [m for m in wheel.namelist() if not m.endswith(EXTENSIONS)]
            extensions += len(wheel.namelist()) - len(members)
            wheel.extractall(dest, members)
    return Corpus(
        "packages",
        dest,
        f"{len(names)} wheels from pip download ({', '.join(PACKAGES)} + dependencies; "
        f"{extensions} extension modules left out)" + tree_summary(python, dest),
    )


def pip_download(python, dest, packages, *options):
    """`pip download` of binary `packages` into `dest`; the error's tail, or None on success."""
    download = subprocess.run(
        [python, "-m", "pip", "download", "--only-binary", ":all:", "-q", *options, "-d", dest,
         *packages],
        capture_output=True,
        text=True,
    )
    if download.returncode:
        return one_line(download.stderr) or f"exit status {download.returncode}"
    return None


def one_line(message):
    """The tail of a tool's error message, on one line."""
    return " ".join(message.split())[-300:]


def tree_summary(python, tree):
    """Drops what the target cannot compile from `tree`; says what is left."""
    dropped = drop_broken(python, tree)
    modules = sum(name.endswith(".py") for _, _, files in os.walk(tree) for name in files)
    size = sum(
        os.path.getsize(os.path.join(base, name))
        for base, _, files in os.walk(tree)
        for name in files
    )
    return f", {modules} modules, {size / 2**20:.0f} MiB ({dropped} broken files dropped)"


def drop_broken(python, tree):
    """Remove what the target cannot compile (lib2to3 test data, badsyntax_* tests), so every
    tool does the same work and pyship builds (which write nothing when a module is broken)
    complete. Returns how many files went."""
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
            tree,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    for path in bad:
        os.remove(path)
    if bad:
        deleted()
    return len(bad)


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


def physical_limit(python, corpus):
    """CPU seconds of compile() + marshal.dumps() over `corpus` in one process, / CPUs."""
    cpu = subprocess.check_output(
        [python, "-I", "-W", "ignore", "-c", PHYSICAL_LIMIT, corpus.path], text=True
    )
    return float(cpu) / CPUS


def run(command):
    """Run `command`; returns (wall seconds, peak RSS in bytes of its largest process, stderr)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # Read stderr before reaping, so a chatty -v cannot fill the pipe and block.
    stderr = process.stderr.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    returncode = os.waitstatus_to_exitcode(status)
    if returncode != 0:
        sys.exit(f"{command} failed with {returncode}:\n{stderr[-3000:]}")
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


def in_place_commands(python, pyship, warm_cache):
    """The commands that compile a tree in place: name -> command for the tree at `path`."""
    return {
        "compileall -q -j0": lambda path: [python, "-m", "compileall", "-q", "-j0", path],
        "pyship compile --no-cache": lambda path: [
            pyship, "compile", path, "-p", python, "-v", "--no-cache"
        ],
        "pyship compile (warm cache)": lambda path: [
            pyship, "compile", path, "-p", python, "-v", "--cache-dir", warm_cache
        ],
    }


class Plan(NamedTuple):
    """Everything one corpus's timed rounds need, made before any timing."""
    corpus: Corpus
    copies: list  # where the fresh copies go, one per round and in-place command, in order
    in_place: str  # where each copy is moved while a command compiles it
    commands: dict  # in-place commands, see in_place_commands
    work: str  # out-dirs and caches of the builds go under here


def prepare_rounds(corpus, python, pyship, work, rounds):
    """Where the fresh copies of `corpus` go (one per in-place command and round), and the warm
    cache.

    Every in-place command compiles its copy at the same path (the copy is renamed there and
    back, which frees no inode): the cache key holds the path (dfile), so the warm cache,
    filled here from one more copy, is warm for every round."""
    base = os.path.join(work, "rounds", corpus.name)
    commands = in_place_commands(python, pyship, os.path.join(base, "cache-compile"))
    copies = [
        os.path.join(base, "copies", str(index))
        for index in range(rounds * len(commands) + 1)
    ]
    plan = Plan(corpus, copies[1:], os.path.join(base, "in-place"), commands, base)
    fill = commands["pyship compile (warm cache)"](plan.in_place)
    fresh_copy(corpus, copies[0])
    compile_in_place(copies[0], plan.in_place, fill)
    return plan


def fresh_copy(corpus, copy):
    """Copy `corpus` to `copy` and flush it to disk, so the next command finds it in the page
    cache and none of its writeback."""
    shutil.copytree(corpus.path, copy, symlinks=True)
    os.sync()


def compile_in_place(copy, in_place, command):
    """Run `command` on `copy` moved to `in_place` (the path in `command`), then move it back."""
    os.rename(copy, in_place)
    try:
        return run(command)
    finally:
        os.rename(in_place, copy)


class Results:
    """Seconds per command, peak RSS per command, stage lines of the last -v run."""

    def __init__(self):
        self.seconds = {}
        self.rss = {}
        self.stages = {}

    def record(self, name, measured):
        seconds, peak, stderr = measured
        self.seconds.setdefault(name, []).append(seconds)
        self.rss[name] = max(self.rss.get(name, 0), peak)
        if stages(stderr):
            self.stages[name] = stages(stderr)

    def median(self, name):
        return statistics.median(self.seconds[name])


def bench_corpus(plan, python, pyship, rounds):
    """ROUNDS rounds over one corpus: the physical limit, the in-place commands on fresh copies,
    then the builds (out-dir and cache new each round). Deletes nothing."""
    results = Results()
    copies = iter(plan.copies)
    for round_ in range(rounds):
        results.record("physical limit", (physical_limit(python, plan.corpus), 0, ""))
        for name, command in plan.commands.items():
            copy = next(copies)
            fresh_copy(plan.corpus, copy)
            measured = compile_in_place(copy, plan.in_place, command(plan.in_place))
            results.record(name, measured)
        out = os.path.join(plan.work, f"out-{round_}")
        build = [pyship, "build", plan.corpus.path, "-p", python, "-v"]
        zip_build = build + ["-f", "zip", "-o", os.path.join(out, "zip"),
                             "--cache-dir", os.path.join(plan.work, f"cache-build-{round_}")]
        results.record("pyship build -f zip (full)", run(zip_build))
        results.record("pyship build -f zip (no change)", run(zip_build))
        results.record("pyship build -f dir (full)",
                       run(build + ["-f", "dir", "-o", os.path.join(out, "dir"), "--no-cache"]))
    return results


def report_corpus(corpus, results):
    """The table, the stage lines and the targets of one corpus."""
    limit = results.median("physical limit")
    compileall = results.median("compileall -q -j0")
    print()
    print(f"corpus {corpus.name}: {corpus.description}")
    print(f"{'command':34} {'median':>8} {'min':>8} {'/compileall':>11} {'/limit':>7} "
          f"{'peak RSS':>9}")
    for name, samples in results.seconds.items():
        label = f"physical limit (CPU / {CPUS})" if name == "physical limit" else name
        peak = f"{results.rss[name] / 2**20:6.0f} MB" if name.startswith("pyship") else ""
        median = results.median(name)
        print(f"{label:34} {median:7.3f}s {min(samples):7.3f}s "
              f"{median / compileall:11.2f} {median / limit:7.2f} {peak:>9}")

    print()
    print("stages of the last run (pyship -v):")
    for name, line in results.stages.items():
        print(f"  {name}: {line}")

    compile_cold = results.median("pyship compile --no-cache")
    full = results.median("pyship build -f zip (full)")
    rebuild = results.median("pyship build -f zip (no change)")
    peak = max(value for name, value in results.rss.items() if name.startswith("pyship"))
    print()
    print(f"targets ({corpus.name}):")
    for label, value, goal, ok in [
        ("pyship compile / physical limit", compile_cold / limit, "<= 1.10",
         compile_cold / limit <= 1.10),
        ("pyship compile / compileall -j0", compile_cold / compileall, "< 0.90",
         compile_cold / compileall < 0.90),
        ("no-change rebuild / full build", rebuild / full, "<= 0.05", rebuild / full <= 0.05),
        ("peak RSS of pyship (MB)", peak / 2**20, "<= 200", peak / 2**20 <= 200),
    ]:
        print(f"  {label:34} {value:8.3f}  target {goal:8} {'met' if ok else 'MISSED'}")


class WheelPlan(NamedTuple):
    wheel: str
    venv_python: str  # has pyc_wheel
    copies: list  # one copy of the wheel per round: pyc_wheel rewrites it in place
    work: str


def prepare_wheel(args, python, work):
    """The large wheel (sympy from `pip download` unless --wheel names one), a private venv of
    the target with pyc_wheel, and a copy of the wheel per round; None (after saying why) when
    a download fails."""
    wheel = args.wheel
    if not wheel:
        wheels = os.path.join(work, "wheels-sympy")
        download = pip_download(python, wheels, ["sympy"], "--no-deps")
        deleted()  # pip cleans up its temp dirs
        if download:
            print(f"wheel conversion vs pyc_wheel: skipped (pip download sympy failed: {download})")
            return None
        wheel = os.path.join(wheels, os.listdir(wheels)[0])
    venv = os.path.join(work, "pyc_wheel-venv")
    venv_python = os.path.join(venv, "bin", "python")
    setup = subprocess.run([python, "-m", "venv", venv], capture_output=True, text=True)
    if not setup.returncode:
        setup = subprocess.run(
            [venv_python, "-m", "pip", "install", "-q", "pyc-wheel"], capture_output=True, text=True
        )
    deleted()  # ensurepip and pip clean up their temp dirs
    if setup.returncode:
        print(f"wheel conversion vs pyc_wheel: skipped (installing pyc-wheel failed: "
              f"{one_line(setup.stderr)})")
        return None
    base = os.path.join(work, "rounds", "wheel")
    copies = []
    for round_ in range(args.rounds):
        copy = os.path.join(base, f"copy-{round_}", os.path.basename(wheel))
        os.makedirs(os.path.dirname(copy))
        shutil.copy(wheel, copy)
        copies.append(copy)
    return WheelPlan(wheel, venv_python, copies, base)


def bench_wheel(plan, python, pyship):
    """Sourceless conversion of the wheel by pyship and by pyc_wheel, fresh copies each round."""
    results = Results()
    for round_, copy in enumerate(plan.copies):
        results.record("pyc_wheel", run([plan.venv_python, "-m", "pyc_wheel", "--quiet", copy]))
        out = os.path.join(plan.work, f"out-{round_}")
        results.record("pyship build WHEEL --strip-sources",
                       run([pyship, "build", plan.wheel, "--strip-sources", "-o", out, "-p", python,
                            "-q", "--no-cache"]))
    base = results.median("pyc_wheel")
    print()
    print(f"sourceless conversion of {os.path.basename(plan.wheel)} "
          f"({len(plan.copies)} rounds, no cache):")
    for name, samples in results.seconds.items():
        median = results.median(name)
        line = (f"  {name:36} median {median:7.3f}s  min {min(samples):7.3f}s  "
                f"{median / base:5.2f}x pyc_wheel")
        if name.startswith("pyship"):
            met = "met" if median / base <= 0.35 else "MISSED"
            line += f"  peak RSS {results.rss[name] / 2**20:.0f} MB  target <= 0.35 {met}"
        print(line)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pyship", required=True)
    parser.add_argument("--python", default="python3.11")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--corpus", choices=["stdlib", "packages", "all"], default="all")
    parser.add_argument("--wheel", help="a large wheel for the pyc_wheel comparison "
                        "[default: sympy, fetched with pip download]")
    parser.add_argument("--skip-wheel", action="store_true",
                        help="leave out the wheel conversion vs pyc_wheel")
    args = parser.parse_args()
    # The interpreter itself, not a launcher (a pyenv shim costs every command ~0.1 s).
    python, version = subprocess.check_output(
        [shutil.which(args.python) or args.python, "-c",
         "import sys; print(sys.executable); print('%d.%d.%d' % sys.version_info[:3])"],
        text=True,
    ).split()
    pyship = os.path.abspath(args.pyship)
    print(f"CPython {version} ({python}); {CPUS} CPUs; {args.rounds} rounds")

    # The whole work dir is deleted only at the end, when all timing is done.
    with tempfile.TemporaryDirectory(prefix="pyship-bench-") as work:
        corpora = []
        if args.corpus in ("stdlib", "all"):
            corpora.append(prepare_stdlib(python, work, version))
        if args.corpus in ("packages", "all"):
            corpora.append(prepare_packages(python, work))
        wheel = None if args.skip_wheel else prepare_wheel(args, python, work)
        plans = [prepare_rounds(corpus, python, pyship, work, args.rounds)
                 for corpus in corpora if corpus]
        if not plans and not wheel:
            return "nothing to benchmark"
        # Write the copies out now: their writeback is copy time, not the next command's.
        os.sync()
        wait_for_quiet_inodes()

        for plan in plans:
            report_corpus(plan.corpus, bench_corpus(plan, python, pyship, args.rounds))
        if wheel:
            bench_wheel(wheel, python, pyship)


if __name__ == "__main__":
    sys.exit(main())
