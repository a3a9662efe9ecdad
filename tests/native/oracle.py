"""The reference for the native backend's differential harness: CPython 3.12's own output.

Reads file paths (one a line) from stdin; for each path and each mode on the command line
(`O:S`, optimize level and 1 to strip docstrings) prints one line
`index<TAB>mode<TAB>hex-of-marshal` (or `index<TAB>mode<TAB>!error`), where the marshal is
exactly what pyship's CPython worker compiles (its `strip_docstrings` for `S`). The last line
is `cpu<TAB>seconds`: compile() plus marshal.dumps() time, the baseline for the speed figure.
"""

import marshal
import os
import sys
import time
import warnings

here = os.path.dirname(os.path.abspath(__file__))


def _worker_functions():
    """The worker's functions (its module runs the worker loop at import: only the definitions
    are taken)."""
    import ast

    path = os.path.join(here, "..", "..", "templates", "compile_worker.py")
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    tree.body = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.Import, ast.ImportFrom))]
    namespace = {"__name__": "compile_worker_functions"}
    exec(compile(tree, path, "exec"), namespace)
    return namespace


strip_docstrings = _worker_functions()["strip_docstrings"]

warnings.simplefilter("ignore")
modes = [tuple(int(x) for x in m.split(":")) for m in sys.argv[1:]]
cpu = 0.0
out = sys.stdout
for index, line in enumerate(sys.stdin):
    path = line.rstrip("\n")
    try:
        with open(path, "rb") as f:
            source = f.read()
    except OSError as err:
        for level, strip in modes:
            out.write("%d\t%d:%d\t!%s\n" % (index, level, strip, err))
        continue
    for level, strip in modes:
        try:
            start = time.process_time()
            if strip:
                code = strip_docstrings(source, path, level)
            else:
                code = compile(source, path, "exec", dont_inherit=True, optimize=level)
            data = marshal.dumps(code)
            if not strip:
                cpu += time.process_time() - start
            out.write("%d\t%d:%d\t%s\n" % (index, level, strip, data.hex()))
        except Exception as err:  # noqa: BLE001 - a file CPython rejects is counted, not fatal
            out.write("%d\t%d:%d\t!%s\n" % (index, level, strip, type(err).__name__))
    out.flush()
out.write("cpu\t%f\n" % cpu)
