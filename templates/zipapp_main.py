# Written by pyship. The modules of this zipapp are bytecode for exactly one CPython version,
# so check that first: any other version would fail with "bad magic number". Keep this file
# plain Python that every version parses (no f-strings, no walrus).
import sys

BUILT_FOR = __PYSHIP_BUILT_FOR__
ENTRY = __PYSHIP_ENTRY__
RUN_MODULE = __PYSHIP_RUN_MODULE__
EXTRACT = __PYSHIP_EXTRACT__
BUNDLE_HASH = __PYSHIP_BUNDLE_HASH__

if tuple(sys.version_info[:2]) != BUILT_FOR:
    sys.stderr.write(
        "error: %s was built for Python %d.%d but is running on Python %d.%d\n"
        % ((sys.argv[0],) + BUILT_FOR + tuple(sys.version_info[:2]))
    )
    sys.exit(1)


def _extract(archive):
    """Unpack the bundle once into a per-user cache keyed by its content hash."""
    import os
    import shutil
    import tempfile
    import zipfile

    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    apps = os.path.join(cache, "pyship", "apps")
    target = os.path.join(apps, BUNDLE_HASH)
    if os.path.isdir(target):
        return target
    os.makedirs(apps, exist_ok=True)
    # Unpack beside the target, then rename: a concurrent first run either wins the rename or
    # finds the finished directory; nobody ever sees a half-written one.
    temp = tempfile.mkdtemp(prefix=".unpack-", dir=apps)
    try:
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(temp)
        try:
            os.rename(temp, target)
        except OSError:
            if not os.path.isdir(target):
                raise
    finally:
        if os.path.isdir(temp):
            shutil.rmtree(temp, ignore_errors=True)
    return target


def _main():
    if EXTRACT:
        # `python app.pyz` put the archive first on sys.path: the unpacked copy replaces it.
        archive = getattr(__loader__, "archive", None) or sys.path[0]
        sys.path[0] = _extract(archive)
    if RUN_MODULE is not None:
        import runpy

        runpy.run_module(RUN_MODULE, run_name="__main__", alter_sys=True)
        return 0
    import importlib

    module_name, _, attributes = ENTRY.partition(":")
    target = importlib.import_module(module_name)
    for attribute in attributes.split("."):
        target = getattr(target, attribute)
    return target()


sys.exit(_main())
