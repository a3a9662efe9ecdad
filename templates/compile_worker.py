"""pyship compile worker: compiles Python sources sent over stdin, answers over stdout.

Run by pyship (src/compile/cpython/worker.rs) as `python -I -S -B -u -c <this script>`. Must run
unchanged on CPython 3.8 to 3.14, so: no `match`, no `X | Y` annotations, stdlib only.

Every frame, in both directions, is a little-endian u32 length followed by that many bytes.

1. Hello (worker -> pyship), once at start: UTF-8 JSON
   {"protocol": 3, "version": [3, 12, 1], "magic": "<MAGIC_NUMBER as hex>",
    "cache_tag": "cpython-312", "implementation": "cpython", "pid": 1234}
2. Request (pyship -> worker): <u64 id> <u8 options> <u32 dfile length> <dfile UTF-8>
   <source bytes: the rest of the frame, exactly as on disk>. The options byte (pyship's
   CodeOptions) is the optimize level (bits 0-1) plus 4 to strip docstrings (see
   strip_docstrings below); other bits make the worker exit with status 2.
   Or a batch of small modules in one frame: <u64 id> <u8 0x80> <u32 count>, then per module
   <u8 options> <u32 dfile length> <dfile UTF-8> <u32 source length> <source bytes>.
3. Response (worker -> pyship), one per request: <u64 id of the request> <u8 status> and
   - status 0: marshal.dumps(compile(source, dfile, 'exec', dont_inherit=True, optimize=N)),
     which is what py_compile / SourceLoader.source_to_code does (with docstrings stripped:
     marshal.dumps(strip_docstrings(source, dfile, N)));
   - status 1: <u32 line> <u32 column> <message UTF-8>: the source does not compile. Line and
     column are SyntaxError.lineno/offset (1-based, 0 when absent) and the message is exc.msg;
     any other exception (ValueError for null bytes, RecursionError, ...) is reported as
     "TypeName: text" at 0:0;
   - status 2, the answer to a batch: <u32 count>, then per module, in request order,
     <u32 length> and that many bytes: <u8 status 0, 1 or 3> and what follows it here;
   - status 3, the warnings compiling the module gave (see below), before its answer:
     <u32 count>, then per warning <u32 line> <u32 category length> <category name UTF-8>
     <u32 message length> <message UTF-8>, then <u8 status 0 or 1> and what follows it above.
     A module without warnings gets no status 3.

Warnings are those compile() gives under this interpreter's default filters (recorded instead
of printed): what its own compileall prints, e.g. 3.12's SyntaxWarning for an invalid escape
such as backslash-d in a string, which 3.8-3.11 give as a DeprecationWarning that the default
filters hide. Each is sent once (category, line and message), in the order compile() gave them.

EOF on stdin between frames ends the worker with status 0.

Test hooks, read from the environment (used by pyship's tests, harmless otherwise):
- PYSHIP_TEST_CRASH_DFILE=<dfile>: on a request for that dfile, write "simulated crash" to
  stderr and os._exit(70). With PYSHIP_TEST_CRASH_ONCE=<path> as well, crash only when <path>
  does not exist yet, creating it first: the retry on a fresh worker then succeeds.
- PYSHIP_TEST_HANG_DFILE=<dfile>: on a request for that dfile, sleep forever.
- PYSHIP_TEST_PID_LOG=<path>: append this worker's pid and a newline to <path> at start.
- PYSHIP_TEST_QUEUE_LOG=<path>: after compiling each request, append "queued" to <path> when the
  next request is already waiting on stdin, else "idle" (one per line): shows pyship keeps the
  worker fed.
- PYSHIP_TEST_BATCH_LOG=<path>: append how many modules each request frame carried (one number
  per line): shows pyship batches small modules.
"""

import sys


def strip_docstrings(source, dfile, optimize):
    """The code of `source` without docstrings, asserts kept: exactly what this interpreter's own
    `optimize=2` compile gives for a module without asserts.

    -OO handles a docstring differently by version, and a rewritten tree must compile to the
    same thing: up to 3.12 a body without docstring still compiles from its first statement
    with None as co_consts[0], which is what a non-string constant statement in its place gives;
    3.13 drops the statement, and an emptied body's implicit return sits on the definition's
    first line. A module docstring cannot be changed that way when a `from __future__` import
    follows it (nothing but a docstring may come first), so then the module's own code comes
    from a second, real optimize=2 compile and only the functions and classes in it from the
    rewritten tree — unless the module level itself has asserts: then the docstring statement
    is dropped, which differs from -OO by one line-table entry.
    """
    import ast

    def compile_from(tree_or_source, level):
        return compile(tree_or_source, dfile, "exec", dont_inherit=True, optimize=level)

    if optimize:
        # -O already drops asserts: -OO is -O without docstrings.
        return compile_from(source, 2)
    version = sys.version_info[:2]
    tree = compile(source, dfile, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)

    def is_docstring(body):
        if not body or not isinstance(body[0], ast.Expr):
            return False
        value = body[0].value
        return isinstance(value, ast.Constant) and type(value.value) is str

    def to_constant(statement):
        statement.value.value = 0
        statement.value.kind = None

    definitions = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    changed = False
    for node in ast.walk(tree):
        if not isinstance(node, definitions) or not is_docstring(node.body):
            continue
        changed = True
        body = node.body
        if version < (3, 13):
            to_constant(body[0])
            continue
        body.pop(0)
        if is_docstring(body):
            # The next string statement must not become the docstring: -OO compiles it as a
            # constant statement.
            to_constant(body[0])
        if not body:
            line = min([node.lineno] + [d.lineno for d in node.decorator_list])
            body.append(ast.Pass(lineno=line, col_offset=0, end_lineno=line, end_col_offset=0))
    if not is_docstring(tree.body):
        return compile_from(tree if changed else source, 0)

    follows = any(
        isinstance(statement, ast.ImportFrom) and statement.module == "__future__"
        for statement in tree.body[1:]
    )
    # 3.13 drops the docstring statement, but SETUP_ANNOTATIONS (module annotations) still takes
    # its place and location: a constant statement there gives exactly that.
    annotated = version >= (3, 13) and _has_annotations(ast, tree.body)
    if follows and (version < (3, 13) or annotated) and not _module_level_debug(ast, tree, definitions):
        top = compile_from(source, 2)
        code = compile_from(tree, 0)
        code_type = type(top)
        theirs = [const for const in top.co_consts if isinstance(const, code_type)]
        ours = [const for const in code.co_consts if isinstance(const, code_type)]
        same = [(c.co_name, c.co_firstlineno) for c in theirs] == [
            (c.co_name, c.co_firstlineno) for c in ours
        ]
        if same:
            if not ours:
                return top
            swap = iter(ours)
            consts = tuple(
                next(swap) if isinstance(const, code_type) else const for const in top.co_consts
            )
            return top.replace(co_consts=consts)
    if (version < (3, 13) or annotated) and not follows:
        to_constant(tree.body[0])
    else:
        tree.body.pop(0)
        if version >= (3, 13) and is_docstring(tree.body):
            to_constant(tree.body[0])
    return compile_from(tree, 0)


def _has_annotations(ast, body):
    """CPython's find_ann: whether a body has an annotated assignment outside its functions and
    classes, which makes the compiler set up __annotations__ first."""
    for statement in body:
        if isinstance(statement, ast.AnnAssign):
            return True
        inner = []
        for field in ("body", "orelse", "finalbody"):
            inner.extend(getattr(statement, field, None) or [])
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for handler in getattr(statement, "handlers", None) or []:
            inner.extend(handler.body)
        for case in getattr(statement, "cases", None) or []:
            inner.extend(case.body)
        if inner and _has_annotations(ast, inner):
            return True
    return False


def _module_level_debug(ast, tree, definitions):
    """Whether the module's own code (not the bodies of its functions and classes) has an
    assert or reads __debug__."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Name) and node.id == "__debug__":
            return True
        if isinstance(node, definitions):
            stack.extend(node.decorator_list)
            if isinstance(node, ast.ClassDef):
                stack.extend(node.bases)
                stack.extend(node.keywords)
            else:
                stack.append(node.args)
                if node.returns is not None:
                    stack.append(node.returns)
        elif isinstance(node, ast.Lambda):
            stack.append(node.args)
        else:
            stack.extend(ast.iter_child_nodes(node))
    return False


# The options byte of a batch request.
BATCH = 0x80


def main():
    import json
    import marshal
    import os
    import struct
    import time
    import warnings
    from importlib.util import MAGIC_NUMBER

    stdin = sys.stdin.buffer
    stdout = sys.stdout.buffer
    if sys.platform == "win32":
        import msvcrt

        msvcrt.setmode(stdin.fileno(), os.O_BINARY)
        msvcrt.setmode(stdout.fileno(), os.O_BINARY)
    # Nothing else may write to the frame stream: a stray print goes to stderr instead.
    sys.stdout = sys.stderr

    environ = os.environ
    crash_dfile = environ.get("PYSHIP_TEST_CRASH_DFILE")
    crash_once = environ.get("PYSHIP_TEST_CRASH_ONCE")
    hang_dfile = environ.get("PYSHIP_TEST_HANG_DFILE")
    pid_log = environ.get("PYSHIP_TEST_PID_LOG")
    queue_log = environ.get("PYSHIP_TEST_QUEUE_LOG")
    batch_log = environ.get("PYSHIP_TEST_BATCH_LOG")
    if pid_log:
        with open(pid_log, "a") as log:
            log.write("%d\n" % os.getpid())

    def read_exact(size):
        """`size` bytes from stdin, or None at EOF."""
        chunks = []
        while size:
            chunk = stdin.read(size)
            if not chunk:
                return None
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def next_request_waiting():
        fd = stdin.fileno()
        os.set_blocking(fd, False)
        try:
            return bool(stdin.peek(1))
        except BlockingIOError:
            return False
        finally:
            os.set_blocking(fd, True)

    def write_all(data):
        # Under -u, stdout.buffer is a raw FileIO whose write() may be partial.
        view = memoryview(data)
        while view:
            view = view[stdout.write(view) or 0 :]

    def write_frame(header, body=b""):
        prefix = struct.pack("<I", len(header) + len(body)) + header
        # One write per answer: a copy of a small body costs less than a second system call.
        if len(body) < 256 * 1024:
            write_all(prefix + body)
        else:
            write_all(prefix)
            write_all(body)
        stdout.flush()

    def clamp(number):
        if not isinstance(number, int) or number < 0:
            return 0
        return min(number, 0xFFFFFFFF)

    hello = {
        "protocol": 3,
        "version": list(sys.version_info[:3]),
        "magic": MAGIC_NUMBER.hex(),
        "cache_tag": sys.implementation.cache_tag,
        "implementation": sys.implementation.name,
        "pid": os.getpid(),
    }
    write_frame(json.dumps(hello).encode("utf-8"))

    def answer(options, dfile, source):
        """The answer to one module: status 0 and its code, or status 1 and where it fails."""
        optimize = options & 3
        if crash_dfile is not None and dfile == crash_dfile:
            if not crash_once or not os.path.exists(crash_once):
                if crash_once:
                    open(crash_once, "a").close()
                sys.stderr.write("pyship compile worker: simulated crash on %s\n" % dfile)
                sys.stderr.flush()
                os._exit(70)
        if hang_dfile is not None and dfile == hang_dfile:
            sys.stderr.write("pyship compile worker: simulated hang on %s\n" % dfile)
            sys.stderr.flush()
            while True:
                time.sleep(3600)
        error = None
        # record=True leaves the filters as they are: only what would be printed is recorded.
        with warnings.catch_warnings(record=True) as caught:
            try:
                if options & 4:
                    code = strip_docstrings(source, dfile, optimize)
                else:
                    code = compile(source, dfile, "exec", dont_inherit=True, optimize=optimize)
                answer = marshal.dumps(code)
                del code
            except SyntaxError as exc:
                message = exc.msg if exc.msg is not None else str(exc)
                error = (clamp(exc.lineno), clamp(exc.offset), message)
            except Exception as exc:
                error = (0, 0, "%s: %s" % (type(exc).__name__, exc))
        if queue_log:
            with open(queue_log, "a") as log:
                log.write("queued\n" if next_request_waiting() else "idle\n")
        prefix = warned(caught, dfile)
        if error is None:
            return prefix + b"\x00", answer
        line, column, message = error
        return (
            prefix + struct.pack("<BII", 1, line, column),
            str(message).encode("utf-8", "backslashreplace"),
        )

    def warned(caught, dfile):
        """The status 3 prefix for the warnings in `caught`, or nothing for none."""
        if not caught:
            return b""
        seen = set()
        parts = []
        for warning in caught:
            if dfile in ("__main__.py", "__main__") and not shown_elsewhere(warning):
                continue
            category = getattr(warning.category, "__name__", "Warning")
            line = clamp(warning.lineno)
            message = str(warning.message)
            if (category, line, message) in seen:
                # The docstring stripping compiles twice; CPython's own repeats go too.
                continue
            seen.add((category, line, message))
            category = category.encode("utf-8", "backslashreplace")
            message = message.encode("utf-8", "backslashreplace")
            parts.append(struct.pack("<II", line, len(category)) + category)
            parts.append(struct.pack("<I", len(message)) + message)
        return struct.pack("<BI", 3, len(seen)) + b"".join(parts)

    def shown_elsewhere(warning):
        """Whether the filters show `warning` for a module not named __main__. The warnings
        module names a compile's module after its file, so "__main__.py" gets the filters of
        __main__ (3.8-3.11 show it the DeprecationWarning for "\\d"); compileall names files
        by their full path, which never does."""
        with warnings.catch_warnings(record=True) as again:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno,
                module="pyship-compiled", registry={},
            )
        return bool(again)

    def check(options):
        if options & ~7 or (options & 3) == 3:
            sys.stderr.write("pyship compile worker: unsupported options 0x%02x\n" % options)
            sys.stderr.flush()
            sys.exit(2)

    def truncated():
        sys.stderr.write("pyship compile worker: truncated request frame\n")
        sys.stderr.flush()
        sys.exit(2)

    while True:
        header = read_exact(4)
        if header is None:
            return 0
        (length,) = struct.unpack("<I", header)
        body = read_exact(length)
        if body is None or length < 13:
            truncated()
        request_id, options, count = struct.unpack_from("<QBI", body)
        if options != BATCH:
            check(options)
            if batch_log:
                with open(batch_log, "a") as log:
                    log.write("1\n")
            dfile = body[13 : 13 + count].decode("utf-8", "surrogateescape")
            source = body[13 + count :]
            del body
            status, payload = answer(options, dfile, source)
            write_frame(struct.pack("<Q", request_id) + status, payload)
            del payload
            continue
        if batch_log:
            with open(batch_log, "a") as log:
                log.write("%d\n" % count)
        parts = [struct.pack("<QBI", request_id, 2, count)]
        at = 13
        for _ in range(count):
            if at + 9 > length:
                truncated()
            options, dfile_length = struct.unpack_from("<BI", body, at)
            check(options)
            at += 5
            dfile = body[at : at + dfile_length].decode("utf-8", "surrogateescape")
            at += dfile_length
            if at + 4 > length:
                truncated()
            (source_length,) = struct.unpack_from("<I", body, at)
            at += 4
            source = body[at : at + source_length]
            at += source_length
            status, payload = answer(options, dfile, source)
            parts.append(struct.pack("<I", len(status) + len(payload)))
            parts.append(status)
            parts.append(payload)
        del body
        write_frame(b"", b"".join(parts))
        del parts


sys.exit(main())
