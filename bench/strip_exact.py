"""Is `--strip-docstrings` exact on a whole corpus? For every `.py` under the given directories
that this interpreter compiles and that has no assert and no `__debug__`, compare the code
pyship's worker produces with docstrings stripped (templates/compile_worker.py's
`strip_docstrings`, the function the build runs) with this interpreter's own `optimize=2`
compile, every `co_*` attribute, recursively. Also times both.

    ~/.pyenv/versions/3.12.1/bin/python3.12 bench/strip_exact.py DIR...

Prints `equal N differ M (with asserts: K)` and the first differences; exit 1 if any differ.
"""

import ast
import os
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "..", "templates", "compile_worker.py")) as f:
    WORKER = f.read()
namespace = {"__name__": "pyship_worker"}
# Everything but the worker's main loop.
exec(WORKER.split("\ndef main():")[0], namespace)
strip_docstrings = namespace["strip_docstrings"]


sys.path.insert(0, os.path.join(HERE, "..", "tests", "python"))
from samecode import same  # noqa: E402


def differ(a, b, where):
    try:
        same(a, b, where)
    except AssertionError as exc:
        return str(exc)
    return None


def main():
    warnings.simplefilter("ignore")
    sys.setrecursionlimit(10000)
    equal = different = with_asserts = 0
    plain = stripped = 0.0
    first = []
    for root in sys.argv[1:]:
        for directory, _, files in os.walk(root):
            for name in sorted(files):
                if not name.endswith(".py"):
                    continue
                path = os.path.join(directory, name)
                with open(path, "rb") as f:
                    source = f.read()
                try:
                    start = time.perf_counter()
                    expected = compile(source, path, "exec", dont_inherit=True, optimize=2)
                    middle = time.perf_counter()
                    actual = strip_docstrings(source, path, 0)
                    end = time.perf_counter()
                except (SyntaxError, ValueError, RecursionError, MemoryError):
                    continue
                plain += middle - start
                stripped += end - middle
                tree = ast.parse(source)
                if any(
                    isinstance(node, ast.Assert)
                    or (isinstance(node, ast.Name) and node.id == "__debug__")
                    for node in ast.walk(tree)
                ):
                    with_asserts += 1
                    continue
                found = differ(expected, actual, path)
                if found:
                    different += 1
                    if len(first) < 10:
                        first.append(found[:300])
                else:
                    equal += 1
    print(
        "Python %s: equal %d differ %d (with asserts, not compared: %d); "
        "compile -OO %.2fs, strip %.2fs (%.2fx)"
        % (sys.version.split()[0], equal, different, with_asserts, plain, stripped,
           stripped / plain if plain else 0)
    )
    for line in first:
        print("  " + line)
    return 1 if different else 0


sys.exit(main())
