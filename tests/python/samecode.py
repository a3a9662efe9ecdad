"""`same(a, b, where)`: raise AssertionError naming the first difference between two unmarshalled
values — code objects compared on every `co_*` attribute, recursively (constants, names, line
and location tables, exception tables), floats by their bits, frozensets in a fixed order.

Shared by the tests that compare code (tests/it/marshal.rs, tests/it/analysis.rs) and by
bench/strip_exact.py; runs unchanged on CPython 3.8 to 3.14.
"""

import struct
import types


def _bits(x):
    return struct.pack("<d", x)


def same(a, b, where):
    if type(a) is not type(b):
        raise AssertionError("%s: %r is not %r" % (where, type(a), type(b)))
    if isinstance(a, types.CodeType):
        if a != b:
            raise AssertionError("%s: code objects differ" % where)
        for attr in dir(a):
            if not attr.startswith("co_"):
                continue
            x, y = getattr(a, attr), getattr(b, attr)
            if callable(x):
                try:
                    x = list(x())
                except TypeError:
                    continue
                y = list(y())
            same(x, y, "%s.%s" % (where, attr))
    elif isinstance(a, (tuple, list)):
        if len(a) != len(b):
            raise AssertionError("%s: lengths %d, %d" % (where, len(a), len(b)))
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, "%s[%d]" % (where, i))
    elif isinstance(a, (frozenset, set)):
        key = lambda x: (type(x).__name__, repr(x))
        same(sorted(a, key=key), sorted(b, key=key), where + "{}")
    elif isinstance(a, dict):
        same(list(a.items()), list(b.items()), where + ".items()")
    elif isinstance(a, float):
        if _bits(a) != _bits(b):
            raise AssertionError("%s: %r != %r" % (where, a, b))
    elif isinstance(a, complex):
        if (_bits(a.real), _bits(a.imag)) != (_bits(b.real), _bits(b.imag)):
            raise AssertionError("%s: %r != %r" % (where, a, b))
    elif isinstance(a, slice):
        same((a.start, a.stop, a.step), (b.start, b.stop, b.step), where)
    elif a != b:
        raise AssertionError("%s: %r != %r" % (where, a, b))
