"""Dump CPython's symbol tables as JSON, one line per file, for tests/it/scopes.rs.

Usage: python3.12 symtable_dump.py < paths   (one path a line)

Each line: {"path": p, "tables": [...]} or {"path": p, "error": "..."} when CPython does not
compile the file. A table is [type, name, lineno, nested, has_children, [[name, flags], ...]]:
the raw `_symtable` entry (flags with the scope bits, as `ste_symbols` holds them), names
sorted, tables in preorder over `children` (which CPython has already rid of inlined
comprehensions). "codes" lists every code object `compile()` makes: [co_name, co_firstlineno,
the co_flags the symbol table decides, sorted co_cellvars, sorted co_freevars].
"""

import json
import sys
import symtable
import types

# co_flags the symbol table decides: OPTIMIZED, NEWLOCALS, VARARGS, VARKEYWORDS, NESTED,
# GENERATOR, COROUTINE, ASYNC_GENERATOR.
FLAGS = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x20 | 0x80 | 0x200


def codes(code, out):
    out.append([code.co_name, code.co_firstlineno, code.co_flags & FLAGS,
                sorted(code.co_cellvars), sorted(code.co_freevars)])
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            codes(const, out)


def walk(table, out):
    symbols = sorted(table.symbols.items())
    out.append([table.type, table.name, table.lineno, bool(table.nested),
                bool(table.children), [[name, flags] for name, flags in symbols]])
    for child in table.children:
        walk(child, out)


def dump(path):
    try:
        with open(path, "rb") as f:
            source = f.read()
        code = compile(source, path, "exec", dont_inherit=True)
        top = symtable.symtable(source, path, "exec")
    except (SyntaxError, ValueError, UnicodeDecodeError, RecursionError, MemoryError) as e:
        return {"path": path, "error": f"{type(e).__name__}: {e}"}
    out = []
    walk(top._table, out)
    code_out = []
    codes(code, code_out)
    return {"path": path, "tables": out, "codes": code_out}


def main():
    for line in sys.stdin:
        path = line.rstrip("\n")
        if path:
            sys.stdout.write(json.dumps(dump(path)) + "\n")


if __name__ == "__main__":
    main()
