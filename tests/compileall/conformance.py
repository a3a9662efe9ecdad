"""CPython's own `compileall` command-line tests, run against `pyship compile`.

Usage: PYTHON conformance.py --pyship PATH [--json] [-k SUBSTRING]

Run it with the CPython to test against (3.8+, with its `test` package). It loads that
version's `test.test_compileall`, takes every command-line test class (the subclasses of
`CommandLineTestsBase` that are test cases), and swaps what they run: each
`python [-O|-OO] [-S] -m compileall ARGS` the tests start (through
`script_helper.assert_python_ok/failure`, which call `run_python_until_end`, or
`script_helper.spawn_python`) becomes `pyship compile --python <this python> [-O|-OO] ARGS`,
with the same environment, stdin, stdout and stderr. Every other command they run (the
compiled modules themselves, to look at their tracebacks) still runs on this python.

`--python` is given in its long form: `-p` is compileall's PREPENDDIR, which the tests use.
`-S` (no `site`) is dropped: pyship has no such option; it changes only what `sys.path` is
when no path is given, and the one test of that (`test_no_args_compiles_path`) passes either
way. `-O`/`-OO` become pyship's `-O`/`-OO`, the optimization level compileall takes from the
interpreter.

It prints one line per test (`ok`, `FAIL`, `ERROR`, `skipped: reason`) and a summary; with
`--json`, one JSON object instead, for tests/it/conformance.rs. Exit status 0 when no test
failed or errored.
"""

import argparse
import io
import json
import os
import subprocess
import sys
import time
import unittest

# Tests that cannot apply to a command other than `python -m compileall`, with the reason.
# Keys are method names (they are the same in both SOURCE_DATE_EPOCH classes).
SKIPS = {
    "test_workers_available_cores": (
        "calls compileall.main() in this process with compile_dir mocked: it checks how "
        "CPython's module passes -j0 to its own function, and runs no command"
    ),
    # 3.8 only: bpo-39769 regression tests of the compile_dir() function.
    "test_ddir_only_one_worker": "calls compileall.compile_dir() in this process, no command",
    "test_ddir_multiple_workers": "calls compileall.compile_dir() in this process, no command",
    "test_ddir_empty_only_one_worker": (
        "calls compileall.compile_dir() in this process, no command"
    ),
    "test_ddir_empty_multiple_workers": (
        "calls compileall.compile_dir() in this process, no command"
    ),
}

PYSHIP = None


def pyship_command(args):
    """`pyship compile ...` for the python arguments `args`, or None if they do not run
    compileall."""
    args = list(args)
    try:
        index = args.index("-m")
    except ValueError:
        return None
    if args[index + 1 : index + 2] != ["compileall"]:
        return None
    flags = []
    for flag in args[:index]:
        if flag in ("-O", "-OO"):
            flags.append(flag)
        elif flag == "-S":
            pass
        else:
            raise AssertionError("conformance runner: python flag %r not translated" % flag)
    return [PYSHIP, "compile", "--python", sys.executable] + flags + args[index + 2 :]


def environment(env_vars, ignore_python_env):
    """The environment `run_python_until_end` would give the python it starts."""
    env = {} if env_vars.pop("__cleanenv", None) else os.environ.copy()
    if "TERM" not in env_vars:
        env["TERM"] = ""
    if ignore_python_env:
        # The python would run with -I or -E: PYTHON* variables mean nothing to it.
        for name in [name for name in env if name.startswith("PYTHON")]:
            del env[name]
    env.update(env_vars)
    return env


def install_swap(script_helper):
    original_run = script_helper.run_python_until_end
    original_spawn = script_helper.spawn_python

    def run_python_until_end(*args, **env_vars):
        command = pyship_command(args)
        if command is None:
            return original_run(*args, **env_vars)
        env_vars = dict(env_vars)
        env_vars.pop("__run_using_command", None)
        cwd = env_vars.pop("__cwd", None)
        if "__isolated" in env_vars:
            isolated = env_vars.pop("__isolated")
        else:
            isolated = not env_vars
        ignore = isolated or not env_vars
        env = environment(env_vars, ignore)
        proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
        )
        with proc:
            out, err = proc.communicate()
        return script_helper._PythonRunResult(proc.returncode, out, err), command

    def spawn_python(*args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw):
        command = pyship_command(args)
        if command is None:
            return original_spawn(*args, stdout=stdout, stderr=stderr, **kw)
        env = kw.setdefault("env", dict(os.environ))
        env["TERM"] = "vt100"
        for name in [name for name in env if name.startswith("PYTHON")]:
            del env[name]  # spawn_python runs the python with -E
        return subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=stdout, stderr=stderr, **kw
        )

    script_helper.run_python_until_end = run_python_until_end
    script_helper.spawn_python = spawn_python


def command_line_classes(module):
    base = module.CommandLineTestsBase
    found = []
    for name in sorted(dir(module)):
        value = getattr(module, name)
        if (
            isinstance(value, type)
            and issubclass(value, base)
            and issubclass(value, unittest.TestCase)
        ):
            found.append(value)
    return found


class Result(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.rows = []
        self.started = {}

    def startTest(self, test):
        super().startTest(test)
        self.started[test.id()] = time.monotonic()

    def _row(self, test, status, detail=""):
        self.rows.append(
            {
                "test": "%s.%s" % (type(test).__name__, test._testMethodName),
                "status": status,
                "detail": detail,
                "seconds": round(time.monotonic() - self.started.get(test.id(), time.monotonic()), 2),
            }
        )

    def addSuccess(self, test):
        self._row(test, "passed")

    def addFailure(self, test, err):
        self._row(test, "failed", self._exc_info_to_string(err, test))

    def addError(self, test, err):
        self._row(test, "failed", self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        self._row(test, "skipped", reason)

    def addExpectedFailure(self, test, err):
        self._row(test, "failed", "expected failure")

    def addUnexpectedSuccess(self, test):
        self._row(test, "passed")

    def addSubTest(self, test, subtest, err):
        if err is not None:
            self._row(test, "failed", "%s: %s" % (subtest, self._exc_info_to_string(err, test)))


def main():
    global PYSHIP
    parser = argparse.ArgumentParser()
    parser.add_argument("--pyship", required=True)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("-k", dest="pattern", default=None)
    args = parser.parse_args()
    PYSHIP = os.path.abspath(args.pyship)

    from test.support import script_helper
    import test.test_compileall as module

    install_swap(script_helper)
    suite = unittest.TestSuite()
    loader = unittest.TestLoader()
    for cls in command_line_classes(module):
        for name in loader.getTestCaseNames(cls):
            if args.pattern and args.pattern not in "%s.%s" % (cls.__name__, name):
                continue
            test = cls(name)
            if name in SKIPS:
                reason = SKIPS[name]
                setattr(test, name, unittest.skip(reason)(lambda: None))
            suite.addTest(test)
    result = Result()
    # Tests print nothing of interest; keep the table readable.
    stream = io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = stream
    try:
        suite.run(result)
    finally:
        sys.stdout, sys.stderr = saved
    # One row per test: a test with failing subtests also reports success, and each failing
    # subtest is a row of its own; keep the failures, joined.
    by_test = {}
    for row in result.rows:
        seen = by_test.get(row["test"])
        if seen is None or (row["status"] == "failed" and seen["status"] != "failed"):
            by_test[row["test"]] = dict(row)
        elif row["status"] == "failed":
            seen["detail"] += "\n" + row["detail"]
    rows = list(by_test.values())
    counts = {status: sum(row["status"] == status for row in rows) for status in
              ("passed", "failed", "skipped")}
    version = "%d.%d" % sys.version_info[:2]
    if args.json:
        print(json.dumps({"python": version, "counts": counts, "tests": rows}))
    else:
        for row in rows:
            line = "%-60s %5.1fs %s" % (row["test"], row["seconds"], row["status"])
            if row["status"] == "skipped":
                line += ": " + row["detail"]
            print(line)
            if row["status"] == "failed":
                for detail_line in row["detail"].rstrip().splitlines()[-6:]:
                    print("    " + detail_line)
        print(
            "%s: %d passed, %d failed, %d skipped"
            % (version, counts["passed"], counts["failed"], counts["skipped"])
        )
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
