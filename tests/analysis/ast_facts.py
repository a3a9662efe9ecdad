"""Print, as JSON lines, what CPython's own `ast` says of each Python file under the given
directories: docstrings, imports and docstring reads, in the shape of pyship's analysis
(src/analysis/facts.rs), for the parser agreement test (tests/it/analysis.rs).

One line per file: {"path": ..., "facts": {...}} or {"path": ..., "error": "..."} when CPython
itself cannot parse the file.
"""

import ast
import json
import os
import sys
import warnings


def collect(tree):
    docstrings, imports, uses = [], [], []
    claimed = set()

    def docstring(owner, body):
        if body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and type(value.value) is str:
                docstrings.append([owner, body[0].lineno, body[0].end_lineno])

    def is_doc_name(node):
        return isinstance(node, ast.Name) and node.id == "__doc__" and isinstance(node.ctx, ast.Load)

    def callee(func):
        if isinstance(func, ast.Name):
            return func.id
        if isinstance(func, ast.Attribute):
            return func.attr
        return None

    def is_type_checking(test):
        return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        )

    def visit(node, guarded):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            docstring("function", node.body)
        elif isinstance(node, ast.ClassDef):
            docstring("class", node.body)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                imports.append([alias.name, 0, [], node.lineno, guarded])
        elif isinstance(node, ast.ImportFrom):
            imports.append(
                [node.module or "", node.level or 0, [a.name for a in node.names], node.lineno, guarded]
            )
        elif isinstance(node, ast.If) and is_type_checking(node.test):
            visit(node.test, guarded)
            for child in node.body:
                visit(child, "type-checking")
            for child in node.orelse:
                visit(child, guarded)
            return
        elif is_doc_name(node):
            if id(node) not in claimed:
                uses.append(["name", node.lineno])
        elif isinstance(node, ast.Attribute) and node.attr == "__doc__" and isinstance(node.ctx, ast.Load):
            uses.append(["attribute", node.lineno])
        elif isinstance(node, ast.Call):
            name = callee(node.func)
            if name == "getdoc":
                uses.append(["getdoc", node.lineno])
            if name == "docopt" and node.args and is_doc_name(node.args[0]):
                claimed.add(id(node.args[0]))
                uses.append(["docopt", node.args[0].lineno])
            for keyword in node.keywords:
                if keyword.arg == "description" and is_doc_name(keyword.value):
                    claimed.add(id(keyword.value))
                    uses.append(["description", keyword.value.lineno])
        for child in ast.iter_child_nodes(node):
            visit(child, guarded)

    docstring("module", tree.body)
    for statement in tree.body:
        visit(statement, "none")
    return {"docstrings": sorted(docstrings), "imports": sorted(imports), "doc_uses": sorted(uses)}


def main():
    sys.setrecursionlimit(100000)
    warnings.simplefilter("ignore")
    for root in sys.argv[1:]:
        for directory, subdirs, files in os.walk(root):
            subdirs.sort()
            for name in sorted(files):
                if not name.endswith(".py"):
                    continue
                path = os.path.join(directory, name)
                with open(path, "rb") as f:
                    source = f.read()
                try:
                    tree = compile(source, path, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
                    line = {"path": path, "facts": collect(tree)}
                except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
                    line = {"path": path, "error": "%s: %s" % (type(exc).__name__, exc)}
                print(json.dumps(line))


main()
