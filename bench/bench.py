"""pyship benchmark: pyship against the limits and the incumbents on real corpora, in one run.

Prepares the corpora:

- stdlib: the target's standard library copied out of the interpreter's install, without
  site-packages, lib-dynload or caches;
- packages: PACKAGES and their dependencies (24 wheels) from the target's `pip download
  --only-binary :all:` into a local wheel directory, installed by uv without bytecode
  (`uv pip install --target`) into one tree like site-packages: the tree uv's own compile step
  compiles, so every tool compiles the same files (when uv cannot be installed, the wheels are
  unzipped together instead and the uv figures are left out; the corpus is skipped, with the
  reason, when the download fails);

each without the extension modules (a zip cannot import them; nobody compiles them) and the
files the target cannot compile (CPython's deliberately broken test files). Then, ROUNDS rounds,
interleaved (every figure once per round, in reverse order in odd rounds, so a drift of the
machine's speed falls on all alike), it prints per corpus the median, min and max seconds, the
CPU seconds (user + sys, of each command and all its descendants) and ratios of:

- the one-process limit: CPU seconds of compile() + marshal.dumps() over the corpus in one
  process, divided by the number of CPUs;
- the N-process limit (N = CPUs, 2 here): N processes started together, each compiling its
  share of the files in memory with compile() + marshal.dumps() (shares balanced by compile
  time, measured once before the rounds: the costliest file first, each to the share with the
  least time so far); the wall time from the start to the last one done. No CPython-based tool
  that writes pycs can beat it;
- `python -m compileall -q -j0` and `pyship compile --no-cache`, each in place on a fresh copy
  (copy time excluded);
- `pyship compile` with a warm cache at a NEW path: the cache is filled once from a copy at one
  path, then each round compiles a fresh copy at a path the cache has never seen;
- packages only, uv's compile step: `uv pip install --offline --no-index --find-links WHEELS
  --python PY --target DIR PACKAGES` into a new DIR, with and without `--compile-bytecode`, from
  uv's cache (warmed before timing, uv's default link mode); the compile step is the difference
  of the two medians (min/max: of the per-round differences). `--target` rather than a venv:
  uv compiles all of a venv's site-packages, its own `_virtualenv.py` too, and a target dir
  holds exactly the packages. Both installs are checked to hold the same modules and the
  bytecode one to hold a pyc for each;
- `pyship build -f zip`: full build (empty cache) and no-change rebuild (same cache, same out),
  and `pyship build -f dir --no-cache`;
- peak RSS of pyship (its largest process: os.wait4 reports the max over the process and the
  workers it reaped), the pycs each compile wrote, and the warm cache's size vs its pycs;

then the targets of issue 15 with `met` or `MISSED`, and last the sourceless conversion of a
large real wheel (sympy from `pip download`, or --wheel PATH) vs pyc_wheel (installed into a
private venv of the target).

uv (`pip install uv` into a venv of the target) and the wheels are kept between runs in
--state-dir (default target/bench); everything else goes in a temporary directory.

Usage: bench/run.sh [PYTHON] [ROUNDS] [--wheel PATH] [--corpus stdlib|packages|all]
[--skip-wheel] [--state-dir DIR]  (builds pyship in release mode, then runs this script).
"""

import argparse
import itertools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from typing import NamedTuple, Optional

CPUS = os.cpu_count() or 1

# Popular packages for the `packages` corpus; pip adds their dependencies (urllib3, idna,
# certifi, charset-normalizer, markupsafe, markdown-it-py, mdurl, pluggy, iniconfig): 24 wheels,
# about 2300 modules. pip picks binary wheels for two of those: their extension modules are left
# out, as `pyship build -f zip` refuses them (a zip cannot import them) and nobody compiles them.
PACKAGES = [
    "requests", "click", "jinja2", "rich", "pygments", "docutils", "setuptools", "pip",
    "packaging", "attrs", "pyparsing", "six", "mpmath", "networkx", "pytest",
]
EXTENSIONS = (".so", ".pyd")
STATE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                         "target", "bench")

# The figures, in the order of the table.
ONE_PROCESS = f"1-process limit (CPU / {CPUS})"
N_PROCESS = f"{CPUS}-process limit"
COMPILEALL = "compileall -q -j0"
COLD = "pyship compile --no-cache"
WARM = "pyship compile, warm, new path"
UV_PLAIN = "uv pip install"
UV_BYTECODE = "uv pip install --compile-bytecode"
UV_STEP = "uv compile step (difference)"
ZIP_FULL = "pyship build -f zip (full)"
ZIP_NO_CHANGE = "pyship build -f zip (no change)"
DIR_FULL = "pyship build -f dir (full)"

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


class Uv(NamedTuple):
    """What the uv figures need: the binary, the local wheel directory and uv's cache."""
    binary: str
    version: str
    wheels: str
    cache: str
    python: str


class Corpus(NamedTuple):
    name: str
    path: str
    description: str
    uv: Optional[Uv] = None  # the packages corpus, when uv could be installed


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


def prepare_packages(python, version, work, state):
    """PACKAGES and their dependencies from `pip download` into a wheel directory kept in
    `state`, installed by uv without bytecode (or unzipped together when uv is missing); None
    (after saying why) when the download fails."""
    wheels = os.path.join(state, f"wheels-packages-{version}")
    download = pip_download(python, wheels, PACKAGES)
    deleted()  # pip cleans up its temp dirs
    if download:
        print(f"corpus packages: skipped (pip download failed: {download})")
        return None
    uv = install_uv(python, state, wheels, os.path.join(work, "uv-cache"))
    installed = os.path.join(work, "packages-installed")
    if uv:
        # Untimed: the tree everyone compiles, and uv's cache warmed for the timed installs.
        run(uv_install(uv, installed, compile_bytecode=False))
        deleted()  # uv cleans up its temp dirs
        how = f"installed by uv {uv.version} without bytecode"
    else:
        unzip_wheels(wheels, installed)
        how = "unzipped together"
    dest = os.path.join(work, "packages")
    shutil.copytree(installed, dest, symlinks=True, ignore=shutil.ignore_patterns(
        *(f"*{extension}" for extension in EXTENSIONS)))
    extensions = count_files(installed, EXTENSIONS)
    return Corpus(
        "packages",
        dest,
        f"{len(wheels_in(wheels))} wheels from pip download ({', '.join(PACKAGES)} + "
        f"dependencies) {how}; {extensions} extension modules left out"
        + tree_summary(python, dest),
        uv,
    )


def wheels_in(wheels):
    """The wheels of the wheel directory that uv would pick: the newest of each project (the
    directory is kept between runs, so it may hold older versions too)."""
    newest = {}
    for name in sorted(os.listdir(wheels)):
        if name.endswith(".whl"):
            project, version = name.split("-")[:2]
            key = tuple(int(part) if part.isdigit() else 0 for part in version.split("."))
            if project not in newest or key > newest[project][0]:
                newest[project] = (key, name)
    return [name for _, name in newest.values()]


def unzip_wheels(wheels, dest):
    """The wheels unzipped together like a site-packages (when there is no uv)."""
    for name in wheels_in(wheels):
        with zipfile.ZipFile(os.path.join(wheels, name)) as wheel:
            wheel.extractall(dest)


def install_uv(python, state, wheels, cache):
    """uv from the package index (`pip install uv`) in a venv of the target kept in `state`;
    None (after saying why) when that fails."""
    venv = os.path.join(state, "uv-venv")
    binary = os.path.join(venv, "bin", "uv")
    if not os.path.exists(binary):
        setup = subprocess.run([python, "-m", "venv", venv], capture_output=True, text=True)
        if not setup.returncode:
            setup = subprocess.run([os.path.join(venv, "bin", "python"), "-m", "pip", "install",
                                    "-q", "uv"], capture_output=True, text=True)
        deleted()  # ensurepip and pip clean up their temp dirs
        if setup.returncode:
            print(f"uv figures: skipped (pip install uv failed: {one_line(setup.stderr)})")
            return None
    version = subprocess.check_output([binary, "--version"], text=True).split()[1]
    return Uv(binary, version, wheels, cache, python)


def uv_install(uv, target, compile_bytecode):
    """The offline install of PACKAGES from the wheel directory into the new dir `target`."""
    return [uv.binary, "pip", "install", "-q", "--no-config", "--offline", "--no-index",
            "--find-links", uv.wheels, "--cache-dir", uv.cache, "--python", uv.python,
            "--target", target, *(["--compile-bytecode"] if compile_bytecode else []), *PACKAGES]


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


def count_files(tree, suffixes):
    """How many files under `tree` end with one of `suffixes`."""
    return sum(name.endswith(suffixes) for _, _, files in os.walk(tree) for name in files)


def tree_summary(python, tree):
    """Drops what the target cannot compile from `tree`; says what is left."""
    dropped = drop_broken(python, tree)
    size = sum(
        os.path.getsize(os.path.join(base, name))
        for base, _, files in os.walk(tree)
        for name in files
    )
    return (f", {count_files(tree, '.py')} modules, {size / 2**20:.0f} MiB "
            f"({dropped} broken files dropped)")


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


# One process of the N-process limit: its share of the files (one path a line), read and
# compiled in memory, nothing written.
SHARE_LIMIT = """
import marshal, sys
with open(sys.argv[1], encoding='utf-8') as share:
    paths = share.read().splitlines()
for path in paths:
    with open(path, 'rb') as f:
        marshal.dumps(compile(f.read(), path, 'exec', dont_inherit=True))
"""


class Measured(NamedTuple):
    seconds: float  # wall
    rss: int  # peak RSS in bytes of the largest process
    stderr: str
    cpu: float = 0.0  # user + sys seconds, with the processes it reaped


def one_process_limit(python, corpus):
    """CPU seconds of compile() + marshal.dumps() over `corpus` in one process, / CPUS."""
    costs = subprocess.check_output(
        [python, "-I", "-W", "ignore", "-c", COMPILE_COSTS, corpus.path], text=True)
    cpu = sum(float(line.split(" ", 1)[0]) for line in costs.splitlines())
    return Measured(cpu / CPUS, 0, "", cpu)


# The compile CPU seconds of each module, one `seconds path` a line: what the shares balance.
COMPILE_COSTS = """
import marshal, os, sys, time
for base, dirs, files in os.walk(sys.argv[1]):
    dirs[:] = [d for d in dirs if d != '__pycache__']
    for name in files:
        if name.endswith('.py'):
            path = os.path.join(base, name)
            with open(path, 'rb') as f:
                data = f.read()
            start = time.process_time()
            marshal.dumps(compile(data, path, 'exec', dont_inherit=True))
            print(time.process_time() - start, path)
"""


def split_shares(python, corpus, work):
    """The corpus's modules in CPUS shares balanced by compile time, measured in one untimed
    pass (the costliest first, each to the share with the least time so far; shares balanced by
    bytes differed by 10% in time on the stdlib), each written to a file; returns the files."""
    costs = [
        line.split(" ", 1)
        for line in subprocess.check_output(
            [python, "-I", "-W", "ignore", "-c", COMPILE_COSTS, corpus.path], text=True
        ).splitlines()
    ]
    costs.sort(key=lambda cost: float(cost[0]), reverse=True)
    shares = [[] for _ in range(CPUS)]
    totals = [0.0] * CPUS
    for seconds, module in costs:
        lightest = totals.index(min(totals))
        shares[lightest].append(module)
        totals[lightest] += float(seconds)
    files = []
    for index, share in enumerate(shares):
        files.append(os.path.join(work, f"share-{index}.txt"))
        with open(files[-1], "w", encoding="utf-8") as out:
            out.write("\n".join(share) + "\n")
    return files


def n_process_limit(python, shares):
    """CPUS processes started together, each compiling its share in memory: wall time from the
    start to the last one done."""
    start = time.perf_counter()
    processes = [
        subprocess.Popen([python, "-I", "-W", "ignore", "-c", SHARE_LIMIT, share])
        for share in shares
    ]
    cpu, rss = 0.0, 0
    for process, share in zip(processes, shares):
        _, status, usage = os.wait4(process.pid, 0)
        if os.waitstatus_to_exitcode(status):
            sys.exit(f"the {N_PROCESS} process for {share} failed")
        cpu += usage.ru_utime + usage.ru_stime
        rss = max(rss, usage.ru_maxrss * 1024)
    return Measured(time.perf_counter() - start, rss, "", cpu)


def adopt_orphans():
    """Make this process the reaper of its orphaned descendants (Linux), so that `run` counts
    the CPU of a command's grandchildren even when their own parent never reaps them:
    compileall -j0 starts its workers from a forkserver it does not wait for, and without this
    its CPU figure was its main process's alone. False where it cannot be done."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_child_subreaper = 36
        return libc.prctl(pr_set_child_subreaper, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


ADOPTS_ORPHANS = adopt_orphans()


def reap_orphans(deadline_seconds):
    """Reap the orphans this process adopted, waiting for them up to `deadline_seconds`;
    returns their (CPU seconds, largest peak RSS in KiB)."""
    cpu, rss = 0.0, 0
    deadline = time.monotonic() + deadline_seconds
    while True:
        try:
            pid, _, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            if time.monotonic() > deadline:
                break
            time.sleep(0.005)
            continue
        cpu += usage.ru_utime + usage.ru_stime
        rss = max(rss, usage.ru_maxrss)
    return cpu, rss


def run(command):
    """Run `command`; returns its wall seconds, peak RSS, stderr and CPU seconds (its own, that
    of the processes it reaped, and that of its orphans, which this process adopts)."""
    if ADOPTS_ORPHANS:
        reap_orphans(0)  # what earlier commands left is not this one's
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # Read stderr before reaping, so a chatty -v cannot fill the pipe and block.
    stderr = process.stderr.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    returncode = os.waitstatus_to_exitcode(status)
    if returncode != 0:
        sys.exit(f"{command} failed with {returncode}:\n{stderr[-3000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    rss = usage.ru_maxrss
    if ADOPTS_ORPHANS:
        orphans_cpu, orphans_rss = reap_orphans(10)
        cpu += orphans_cpu
        rss = max(rss, orphans_rss)
    # ru_maxrss is in KiB on Linux.
    return Measured(seconds, rss * 1024, stderr, cpu)


def stages(stderr):
    """The `stage: 0.123s` and cache lines of a `-v` run, on one line."""
    parts = [
        line.strip()
        for line in stderr.splitlines()
        if re.match(r"^[\w .\-/]+: \d+\.\d+s$", line.strip()) or line.startswith("compiled ")
    ]
    return "; ".join(part.replace(os.path.dirname(part.split(":")[0]) + "/", "") for part in parts)


class Plan(NamedTuple):
    """Everything one corpus's timed rounds need, made before any timing."""
    corpus: Corpus
    shares: list  # the N-process limit's share files
    in_place: str  # where a fresh copy is moved while compileall or pyship compiles it
    copies: object  # the paths of fresh copies, one per use (an iterator)
    warm_cache: str  # filled from one copy before timing
    cache_bytes: int  # of the warm cache, per `pyship cache info`
    pyc_bytes: int  # of the pycs that filled it
    work: str  # out-dirs and caches of the builds, uv's targets go under here


def prepare_rounds(corpus, python, pyship, work):
    """The limit's shares, and the warm cache, filled from a copy at a path no timed command
    uses (the warm figure is then at a new path in every round)."""
    base = os.path.join(work, "rounds", corpus.name)
    os.makedirs(base)
    copies = (os.path.join(base, "copies", str(index)) for index in itertools.count())
    warm_cache = os.path.join(base, "cache-compile")
    fill = os.path.join(base, "warm-fill")
    fresh_copy(corpus, fill)
    run([pyship, "compile", fill, "-p", python, "-q", "--cache-dir", warm_cache])
    info = json.loads(subprocess.check_output(
        [pyship, "cache", "info", "--json", "--cache-dir", warm_cache], text=True))
    pyc_bytes = sum(
        os.path.getsize(os.path.join(root, name))
        for root, _, files in os.walk(fill)
        for name in files
        if name.endswith(".pyc")
    )
    return Plan(corpus, split_shares(python, corpus, base), os.path.join(base, "in-place"), copies,
                warm_cache, info["bytes"], pyc_bytes, base)


def fresh_copy(corpus, copy):
    """Copy `corpus` to `copy` and flush it to disk, so the next command finds it in the page
    cache and none of its writeback."""
    shutil.copytree(corpus.path, copy, symlinks=True)
    os.sync()


def compile_in_place(copy, in_place, command):
    """Run `command` on `copy` moved to `in_place` (the path in `command`), then move it back.
    compileall and pyship compile their copies at the same path, so their pycs are alike."""
    os.rename(copy, in_place)
    try:
        return run(command)
    finally:
        os.rename(in_place, copy)


class Results:
    """Seconds and CPU seconds per figure, peak RSS, the tree each compile wrote (the last
    round's), stage lines of the last -v run."""

    def __init__(self):
        self.seconds = {}
        self.cpu_seconds = {}
        self.rss = {}
        self.trees = {}
        self.stages = {}

    def record(self, name, measured, tree=None):
        self.seconds.setdefault(name, []).append(measured.seconds)
        self.cpu_seconds.setdefault(name, []).append(measured.cpu)
        self.rss[name] = max(self.rss.get(name, 0), measured.rss)
        if tree:
            self.trees[name] = tree
        if stages(measured.stderr):
            self.stages[name] = stages(measured.stderr)

    def median(self, name):
        return statistics.median(self.seconds[name])


def steps(plan, python, pyship):
    """The steps of a round, each recording one or more figures into a Results."""
    corpus = plan.corpus

    def limits(results, round_):
        results.record(ONE_PROCESS, one_process_limit(python, corpus))
        results.record(N_PROCESS, n_process_limit(python, plan.shares))

    def in_place(name, command):
        def step(results, round_):
            copy = next(plan.copies)
            fresh_copy(corpus, copy)
            results.record(name, compile_in_place(copy, plan.in_place, command), copy)
        return step

    def warm(results, round_):
        copy = next(plan.copies)
        fresh_copy(corpus, copy)
        results.record(WARM, run([pyship, "compile", copy, "-p", python, "-v",
                                  "--cache-dir", plan.warm_cache]), copy)

    def uv(results, round_):
        # Back to back, the order alternating, so the difference sees the same machine.
        pair = [(UV_PLAIN, False), (UV_BYTECODE, True)]
        for name, compile_bytecode in pair if round_ % 2 == 0 else pair[::-1]:
            kind = "bytecode" if compile_bytecode else "plain"
            target = os.path.join(plan.work, f"uv-{round_}-{kind}")
            results.record(name, run(uv_install(corpus.uv, target, compile_bytecode)), target)

    def builds(results, round_):
        out = os.path.join(plan.work, f"out-{round_}")
        build = [pyship, "build", corpus.path, "-p", python, "-v"]
        zip_build = build + ["-f", "zip", "-o", os.path.join(out, "zip"),
                             "--cache-dir", os.path.join(plan.work, f"cache-build-{round_}")]
        results.record(ZIP_FULL, run(zip_build))
        results.record(ZIP_NO_CHANGE, run(zip_build))
        results.record(DIR_FULL, run(
            build + ["-f", "dir", "-o", os.path.join(out, "dir"), "--no-cache"]))

    return [
        limits,
        in_place(COMPILEALL, [python, "-m", "compileall", "-q", "-j0", plan.in_place]),
        in_place(COLD, [pyship, "compile", plan.in_place, "-p", python, "-v", "--no-cache"]),
        warm,
        *([uv] if corpus.uv else []),
        builds,
    ]


def bench_corpus(plan, python, pyship, rounds):
    """ROUNDS rounds over one corpus, every step once a round, in reverse order in odd rounds
    (the table keeps the first round's order). Deletes nothing."""
    results = Results()
    round_steps = steps(plan, python, pyship)
    for round_ in range(rounds):
        for step in round_steps if round_ % 2 == 0 else round_steps[::-1]:
            step(results, round_)
        print(f"{plan.corpus.name}: round {round_ + 1}/{rounds} done", flush=True)
    if plan.corpus.uv:
        # Paired by round, so the per-round differences give the step's min and max.
        results.seconds = with_difference(results.seconds)
        results.cpu_seconds = with_difference(results.cpu_seconds)
    return results


def with_difference(samples):
    """`samples` with UV_STEP, the per-round differences of the two uv installs, right after
    them (for the table's order)."""
    difference = [with_ - without
                  for with_, without in zip(samples[UV_BYTECODE], samples[UV_PLAIN])]
    out = {}
    for name, values in samples.items():
        out[name] = values
        if name == UV_BYTECODE:
            out[UV_STEP] = difference
    return out


def median_or_none(results, name):
    return results.median(name) if name in results.seconds else None


def report_corpus(plan, results):
    """The table, the checks, the stage lines and the targets of one corpus."""
    corpus = plan.corpus
    limit = results.median(N_PROCESS)
    compileall = results.median(COMPILEALL)
    # uv's compile step is the difference of the medians, not the median of the differences.
    uv = (results.median(UV_BYTECODE) - results.median(UV_PLAIN)) if corpus.uv else None
    print()
    print(f"corpus {corpus.name}: {corpus.description}")
    header = (f"{'figure':34} {'median':>8} {'min':>8} {'max':>8} {'CPU':>7} "
              f"{f'/{CPUS}-proc':>8} {'/compall':>8}")
    print(header + (f" {'/uv':>6}" if uv else "") + f" {'pycs':>6} {'peak RSS':>9}")
    for name, samples in results.seconds.items():
        median = uv if name == UV_STEP else results.median(name)
        cpu = statistics.median(results.cpu_seconds[name])
        line = (f"{name:34} {median:7.3f}s {min(samples):7.3f}s {max(samples):7.3f}s "
                f"{cpu:6.2f}s {median / limit:8.2f} {median / compileall:8.2f}")
        if uv:
            line += f" {median / uv:6.2f}"
        tree = results.trees.get(name)
        line += f" {count_files(tree, '.pyc') if tree else '':>6}"
        if name.startswith("pyship"):
            line += f" {results.rss[name] / 2**20:6.0f} MB"
        print(line)
    print(f"({count_files(corpus.path, '.py')} modules; CPU: user + sys with the processes each "
          f"command reaped; pycs: written by the last round's run)")
    if corpus.uv:
        check_uv(corpus, results)

    print()
    print("stages of the last run (pyship -v):")
    for name, line in results.stages.items():
        print(f"  {name}: {line}")
    report_targets(plan, results, uv)


def check_uv(corpus, results):
    """Both uv installs hold the same modules, and the bytecode one a pyc for each."""
    plain, bytecode = results.trees[UV_PLAIN], results.trees[UV_BYTECODE]
    modules = count_files(plain, ".py")
    print(f"uv {corpus.uv.version}: {modules} modules without bytecode, "
          f"{count_files(bytecode, '.py')} with, {count_files(bytecode, '.pyc')} pycs written "
          f"({count_files(plain, '.pyc')} without); the corpus has "
          f"{count_files(corpus.path, '.py')} modules")
    if not modules == count_files(bytecode, ".py") == count_files(bytecode, ".pyc"):
        print("  odd: uv's two installs differ, or it did not write one pyc per module")


def report_targets(plan, results, uv):
    """Issue 15's targets for this corpus: met or MISSED."""
    limit = results.median(N_PROCESS)
    compileall = results.median(COMPILEALL)
    cold = results.median(COLD)
    full = results.median(ZIP_FULL)
    peak = max(value for name, value in results.rss.items() if name.startswith("pyship"))
    targets = [
        (f"pyship compile / {N_PROCESS}", cold / limit, 1.05),
        ("pyship compile / compileall -j0", cold / compileall, 0.80),
        *([("pyship compile / uv compile step", cold / uv, 0.90)] if uv else []),
        ("warm compile, new path / compileall", results.median(WARM) / compileall, 0.10),
        ("no-change rebuild / full build", results.median(ZIP_NO_CHANGE) / full, 0.05),
        ("peak RSS of pyship (MB)", peak / 2**20, 200),
        ("warm cache bytes / its pyc bytes", plan.cache_bytes / plan.pyc_bytes, 1.2),
    ]
    print()
    print(f"targets ({plan.corpus.name}, medians):")
    for label, value, goal in targets:
        print(f"  {label:38} {value:8.3f}  target <= {goal:<6} "
              f"{'met' if value <= goal else 'MISSED'}")


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
            met = "met" if median / base <= 0.40 else "MISSED"
            line += f"  peak RSS {results.rss[name] / 2**20:.0f} MB  target <= 0.40 {met}"
        print(line)


def interpreter(name):
    """The path of the interpreter `name` runs (not a launcher: a pyenv shim costs every
    command ~0.1 s) and its version, `3.12.1`."""
    return subprocess.check_output(
        [shutil.which(name) or name, "-c",
         "import sys; print(sys.executable); print('%d.%d.%d' % sys.version_info[:3])"],
        text=True,
    ).split()


def load_average():
    """The 1, 5 and 15 minute load averages: other work on the machine adds noise."""
    return "load average " + ", ".join(f"{load:.2f}" for load in os.getloadavg())


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
    parser.add_argument("--state-dir", default=STATE_DIR,
                        help="kept between runs: uv's venv and the wheels [default: %(default)s]")
    args = parser.parse_args()
    python, version = interpreter(args.python)
    pyship = os.path.abspath(args.pyship)
    os.makedirs(args.state_dir, exist_ok=True)
    print(f"CPython {version} ({python}); {CPUS} CPUs; {args.rounds} rounds, interleaved")

    # The whole work dir is deleted only at the end, when all timing is done.
    with tempfile.TemporaryDirectory(prefix="pyship-bench-") as work:
        corpora = []
        if args.corpus in ("stdlib", "all"):
            corpora.append(prepare_stdlib(python, work, version))
        if args.corpus in ("packages", "all"):
            corpora.append(prepare_packages(python, version, work, args.state_dir))
        wheel = None if args.skip_wheel else prepare_wheel(args, python, work)
        plans = [prepare_rounds(corpus, python, pyship, work) for corpus in corpora if corpus]
        if not plans and not wheel:
            return "nothing to benchmark"
        # Write everything out now: its writeback is preparation time, not the next command's.
        os.sync()
        wait_for_quiet_inodes()

        print(f"timing starts; {load_average()}", flush=True)
        measured = [(plan, bench_corpus(plan, python, pyship, args.rounds)) for plan in plans]
        print(f"corpora timed; {load_average()}")
        for plan, results in measured:
            report_corpus(plan, results)
        if wheel:
            bench_wheel(wheel, python, pyship)


if __name__ == "__main__":
    sys.exit(main())
