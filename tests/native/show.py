"""Prints where two marshalled modules (native, CPython) first differ, with disassembly.

Usage: python3.12 show.py NATIVE.bin CPYTHON.bin
"""

import dis
import marshal
import sys


def codes(code, path=""):
    name = path + "/" + code.co_qualname
    yield name, code
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            yield from codes(const, name)


def describe(code):
    lines = []
    fields = ("co_argcount", "co_posonlyargcount", "co_kwonlyargcount", "co_stacksize",
              "co_flags", "co_names", "co_varnames", "co_cellvars", "co_freevars",
              "co_firstlineno", "co_exceptiontable", "co_linetable")
    for field in fields:
        lines.append("%s = %r" % (field, getattr(code, field)))
    lines.append("co_consts = %r" % ([c if not hasattr(c, "co_code") else "<code %s>" % c.co_name
                                      for c in code.co_consts],))
    positions = list(code.co_positions())
    for ins in dis.get_instructions(code):
        lines.append("%4d %-22s %-5s %-30s %s" % (ins.offset, ins.opname,
                     "" if ins.arg is None else ins.arg,
                     ("<code %s>" % ins.argval.co_name if hasattr(ins.argval, "co_code")
                      else ins.argrepr)[:30],
                     positions[ins.offset // 2]))
    return lines


native = marshal.loads(open(sys.argv[1], "rb").read())
cpython = marshal.loads(open(sys.argv[2], "rb").read())
ours = list(codes(native))
theirs = list(codes(cpython))
for (name_a, a), (name_b, b) in zip(ours, theirs):
    da, db = describe(a), describe(b)
    if da != db or name_a != name_b:
        print("first differing code object: native %s, cpython %s" % (name_a, name_b))
        for i, (x, y) in enumerate(zip(da, db)):
            mark = "  " if x == y else "!!"
            print("%s native: %s\n%s cpython: %s" % (mark, x, mark, y) if x != y else "   " + x)
        for x in da[len(db):]:
            print("!! native only: " + x)
        for y in db[len(da):]:
            print("!! cpython only: " + y)
        break
else:
    if len(ours) != len(theirs):
        print("code object count differs: native %d, cpython %d" % (len(ours), len(theirs)))
    else:
        print("no difference in code objects (identity or constant encoding differs)")
