"""Import modules from an artifact with source compilation forbidden, and report what loaded.

Run as: python [-O|-OO] -B -I -c <this> MODULE...  (the artifact on sys.path via argv trick:
the first argument is the path to insert). Prints one JSON object: module -> facts.
Any attempt to compile Python source after the guard is installed raises, so a successful
import proves the loader used the shipped .pyc.
"""
import builtins
import json
import sys

path = sys.argv[1]
names = sys.argv[2:]
sys.path.insert(0, path)


def _guard(source, filename, *args, **kwargs):
    raise RuntimeError("compiled from source: %s" % (filename,))


builtins.compile = _guard
facts = {}
for name in names:
    module = __import__(name, fromlist=["_"])
    facts[name] = {
        "file": getattr(module, "__file__", None),
        "cached": getattr(module, "__cached__", None),
        "loader": type(module.__loader__).__name__,
        "doc": module.__doc__,
    }
builtins.compile = _guard
print(json.dumps(facts))
