"""Regenerate the committed seed corpora in fuzz/seeds/ from real inputs.

usage: python3 fuzz/make_seeds.py PYTHON...   (one interpreter per CPython version, 3.8+)

- pyc/: `py_compile` of fixture modules and of a module rich in constant types, by every
  PYTHON, in the three invalidation modes;
- marshal/: one selector byte (minor - 8, see `pyship::fuzz::marshal`) + `marshal.dumps` of
  the same code objects;
- wheel/: small wheels of `pkg` 1.0 written with `zipfile` as build backends write them
  (stored and deflated, directory entries, .data scripts, sha256/384/512 RECORD digests);
- pyproject/: the fixtures' pyproject.toml files and a few that use every table and key;
- inspect/: `0` + a pyc seed of each version (read as a `.pyc`), and `1` + a small zip bundle
  with a `.pyship.json` record, a sourceless pyc and a module beside its pyc (read as an
  artifact); see `pyship::fuzz::inspect`.
Seeds are small on purpose: the fuzzer grows its own corpus in fuzz/corpus/ (not committed).
"""
import base64
import hashlib
import os
import subprocess
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SEEDS = os.path.join(HERE, "seeds")

FIXTURE_MODULES = [
    "fixtures/hello/src/hello/cli.py",
    "fixtures/flat/pkg/sub/mod.py",
]

# Every constant type marshal writes for a code object: ints small and big, floats, complex,
# str (ASCII, short, long, non-ASCII), bytes, tuples, frozensets, None/Ellipsis/bools, nested
# code objects (functions, classes, comprehensions, closures) and shared references.
RICH = '''\
"""Module docstring."""
import sys
A = (1, -1, 2**31, -2**31 - 1, 2**100, -(2**70), 0.5, -0.0, float("inf"), 1e300, 3j, 1.5-2j)
B = ("ascii", "name_like", "with space", "caf\\u00e9", "\\U0001f600", "x" * 300, "")
C = (b"", b"bytes\\x00\\xff", b"y" * 300, None, ..., True, False)
D = frozenset({1, 2, "a", (3, 4), frozenset({5})})
def f(a, /, b, *, c=D, **kw):
    """Docstring."""
    x = 1
    def g():
        nonlocal x
        return x + a
    return [i * b for i in range(c and 3 or 4) if i in {1, 2, 3}] + [g()]
class K:
    attr = A[:3]
    def m(self):
        try:
            return self.attr[5]
        except IndexError as e:
            raise ValueError("no") from e
        finally:
            pass
async def h():
    async with sys as s:
        yield s
lam = lambda *args: args
'''

DUMP = r'''
import marshal, py_compile, sys
src_path, source, out_dir, name = sys.argv[1:5]
code = compile(open(source, "rb").read(), src_path, "exec")
minor = sys.version_info[1]
with open(f"{out_dir}/marshal/{name}-3.{minor}", "wb") as f:
    f.write(bytes([minor - 8]) + marshal.dumps(code))
modes = [("ts", py_compile.PycInvalidationMode.TIMESTAMP),
         ("checked", py_compile.PycInvalidationMode.CHECKED_HASH),
         ("unchecked", py_compile.PycInvalidationMode.UNCHECKED_HASH)]
# One mode per module and version keeps the corpus small; all three appear across versions.
label, mode = modes[(minor + len(name)) % 3]
py_compile.compile(source, cfile=f"{out_dir}/pyc/{name}-3.{minor}-{label}.pyc",
                   dfile=src_path, invalidation_mode=mode, doraise=True)
'''


def pycs(pythons):
    rich = os.path.join(HERE, "target", "rich_constants.py")
    os.makedirs(os.path.dirname(rich), exist_ok=True)
    with open(rich, "w") as f:
        f.write(RICH)
    sources = [(m, os.path.join(ROOT, m), os.path.basename(m)[:-3]) for m in FIXTURE_MODULES]
    sources.append(("rich_constants.py", rich, "rich"))
    for python in pythons:
        for src_path, source, name in sources:
            subprocess.run([python, "-c", DUMP, src_path, source, SEEDS, name], check=True)


def digest(algorithm, data):
    raw = hashlib.new(algorithm, data).digest()
    return f"{algorithm}=" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def wheel(name, members, compression=zipfile.ZIP_STORED, algorithm="sha256", dirs=False):
    dist_info = "pkg-1.0.dist-info"
    members = list(members) + [
        (f"{dist_info}/METADATA", b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n"),
        (f"{dist_info}/WHEEL",
         b"Wheel-Version: 1.0\nGenerator: seeds\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
    ]
    record = "".join(f"{p},{digest(algorithm, d)},{len(d)}\n" for p, d in members)
    members.append((f"{dist_info}/RECORD", (record + f"{dist_info}/RECORD,,\n").encode()))
    with zipfile.ZipFile(os.path.join(SEEDS, "wheel", name), "w", compression) as archive:
        if dirs:
            for directory in sorted({p.rsplit("/", 1)[0] + "/" for p, _ in members if "/" in p}):
                info = zipfile.ZipInfo(directory, date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = (0o40755 << 16) | 0x10
                archive.writestr(info, b"")
        for path, data in members:
            info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = compression
            info.external_attr = (0o755 if "/scripts/" in path else 0o644) << 16
            archive.writestr(info, data)


def wheels():
    init = b'"""pkg."""\nfrom .mod import f\n'
    mod = open(os.path.join(ROOT, "fixtures/flat/pkg/sub/mod.py"), "rb").read()
    wheel("minimal.whl", [("pkg/__init__.py", b"")])
    wheel("deflated.whl", [("pkg/__init__.py", init), ("pkg/mod.py", mod * 4)],
          compression=zipfile.ZIP_DEFLATED)
    wheel("dirs-sha512.whl", [("pkg/__init__.py", init), ("pkg/sub/mod.py", mod)],
          algorithm="sha512", dirs=True)
    wheel("data-sha384.whl", [
        ("pkg/__init__.py", init),
        ("pkg-1.0.data/scripts/pkg-run", b"#!python\nimport pkg\n"),
        ("pkg-1.0.data/purelib/extra.py", b"X = 1\n"),
        ("pkg-1.0.dist-info/entry_points.txt", b"[console_scripts]\npkg = pkg:f\n"),
    ], compression=zipfile.ZIP_DEFLATED, algorithm="sha384")


PYPROJECTS = {
    "full.toml": '''\
[build-system]
requires = ["pyship"]

[project]
name = "pkg"
version = "1.0.post1"
description = "Every PEP 621 table"
readme = "README.md"
requires-python = ">=3.8"
license = { file = "LICENSE" }
license-files = ["LICEN[CS]E*", "src/**/*.py"]
authors = [{ name = "A", email = "a@example.org" }, { email = "b@example.org" }]
maintainers = [{ name = "M" }]
keywords = ["a", "b"]
classifiers = ["Programming Language :: Python :: 3"]
dependencies = ["requests>=2; python_version >= '3.8'", "attrs[tests]"]

[project.optional-dependencies]
dev = ["pytest"]

[project.urls]
Homepage = "https://example.org"

[project.scripts]
pkg = "pkg:main"

[project.gui-scripts]
pkg-gui = "pkg.gui:main"

[project.entry-points."pkg.plugins"]
one = "pkg.one:Plugin"
''',
    "dynamic.toml": '''\
[project]
name = "Pkg_Name.x"
dynamic = ["version", "description", "readme", "license", "dependencies"]
''',
    "readme-table.toml": '''\
[project]
name = "pkg"
version = "2!1.0rc1+local.7"
readme = { text = "Hello", content-type = "text/x-rst" }
license = { text = "MIT" }

[tool.other]
x = 1
''',
    "tool.toml": '''\
[project]
name = "pkg"
version = "1"
readme = { file = "README.md", content-type = "text/markdown" }
license = "MIT"

[tool.pyship]
format = ["wheel", "zipapp"]
out-dir = "out"
python = ["3.12", "python3.11"]
optimize = 2
strip-docstrings = true
strip-sources = false
keep-source = "pkg/keep/*.py"
exclude = ["**/tests/**", "*.log"]
invalidation-mode = "checked-hash"
main = "pkg.cli:main"
with-deps = true
shebang = "/usr/bin/env python3"
extract = false
slim = true
pip-arg = ["--no-index"]
prune-from = "pkg.cli"
include = ["pkg.extra"]
jobs = 4
cache-dir = ".cache/pyship"
no-cache = false
report = "report.json"
dfile-prefix = "/app"
packages = ["src/pkg"]
''',
    "tool-only.toml": '''\
[tool.pyship]
format = "dir"
python = "3.13"
optimize = 0
jobs = 1
packages = "src/pkg"
''',
}


def pyprojects():
    for fixture in sorted(os.listdir(os.path.join(ROOT, "fixtures"))):
        path = os.path.join(ROOT, "fixtures", fixture, "pyproject.toml")
        if os.path.exists(path):
            with open(path, "rb") as f, open(os.path.join(SEEDS, "pyproject", fixture + ".toml"), "wb") as out:
                out.write(f.read())
    for name, text in PYPROJECTS.items():
        with open(os.path.join(SEEDS, "pyproject", name), "w") as out:
            out.write(text)


FACTS = b"""{
  "format": "zip",
  "optimize": 0,
  "pyship": "0.1.0",
  "source-date-epoch": 315532800,
  "strip-sources": false,
  "targets": [
    {
      "cache-tag": "cpython-312",
      "magic-number": 3531,
      "python": "3.12"
    }
  ]
}
"""


def inspect_seeds():
    pyc_dir = os.path.join(SEEDS, "pyc")
    for name in sorted(os.listdir(pyc_dir)):
        if name.startswith("mod-"):
            with open(os.path.join(pyc_dir, name), "rb") as f, \
                    open(os.path.join(SEEDS, "inspect", "pyc-" + name), "wb") as out:
                out.write(b"\x00" + f.read())
    with open(os.path.join(pyc_dir, "mod-3.12-ts.pyc"), "rb") as f:
        pyc = f.read()
    source = open(os.path.join(ROOT, "fixtures/flat/pkg/sub/mod.py"), "rb").read()
    path = os.path.join(HERE, "target", "bundle.zip")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in [(".pyship.json", FACTS), ("pkg/__init__.pyc", pyc),
                             ("pkg/mod.py", source), ("pkg/mod.pyc", pyc)]:
            info = zipfile.ZipInfo(member, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    with open(path, "rb") as f, open(os.path.join(SEEDS, "inspect", "bundle.zip"), "wb") as out:
        out.write(b"\x01" + f.read())


def main(pythons):
    for target in ["marshal", "pyc", "wheel", "pyproject", "inspect"]:
        os.makedirs(os.path.join(SEEDS, target), exist_ok=True)
    pycs(pythons)
    wheels()
    pyprojects()
    inspect_seeds()


if __name__ == "__main__":
    main(sys.argv[1:])
