"""pyship compile worker: compiles Python sources sent over stdin, answers over stdout.

Run by pyship (src/compile/cpython/worker.rs) as `python -I -S -B -u -c <this script>`. Must run
unchanged on CPython 3.8 to 3.14, so: no `match`, no `X | Y` annotations, stdlib only.

Every frame, in both directions, is a little-endian u32 length followed by that many bytes.

1. Hello (worker -> pyship), once at start: UTF-8 JSON
   {"protocol": 1, "version": [3, 12, 1], "magic": "<MAGIC_NUMBER as hex>",
    "cache_tag": "cpython-312", "implementation": "cpython", "pid": 1234}
2. Request (pyship -> worker): <u64 id> <u8 options> <u32 dfile length> <dfile UTF-8>
   <source bytes: the rest of the frame, exactly as on disk>. The options byte (pyship's
   CodeOptions) is the optimize level (bits 0-1) plus 4 to strip docstrings; this worker
   does not strip docstrings, and exits with status 2 when asked to (or given other bits).
3. Response (worker -> pyship), one per request: <u64 id of the request> <u8 status> and
   - status 0: marshal.dumps(compile(source, dfile, 'exec', dont_inherit=True, optimize=N)),
     which is what py_compile / SourceLoader.source_to_code does;
   - status 1: <u32 line> <u32 column> <message UTF-8>: the source does not compile. Line and
     column are SyntaxError.lineno/offset (1-based, 0 when absent) and the message is exc.msg;
     any other exception (ValueError for null bytes, RecursionError, ...) is reported as
     "TypeName: text" at 0:0.

EOF on stdin between frames ends the worker with status 0.

Test hooks, read from the environment (used by pyship's tests, harmless otherwise):
- PYSHIP_TEST_CRASH_DFILE=<dfile>: on a request for that dfile, write "simulated crash" to
  stderr and os._exit(70). With PYSHIP_TEST_CRASH_ONCE=<path> as well, crash only when <path>
  does not exist yet, creating it first: the retry on a fresh worker then succeeds.
- PYSHIP_TEST_HANG_DFILE=<dfile>: on a request for that dfile, sleep forever.
- PYSHIP_TEST_PID_LOG=<path>: append this worker's pid and a newline to <path> at start.
"""

import sys


def main():
    import json
    import marshal
    import os
    import struct
    import time
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

    def write_all(data):
        # Under -u, stdout.buffer is a raw FileIO whose write() may be partial.
        view = memoryview(data)
        while view:
            view = view[stdout.write(view) or 0 :]

    def write_frame(header, body=b""):
        write_all(struct.pack("<I", len(header) + len(body)) + header)
        if body:
            write_all(body)
        stdout.flush()

    def clamp(number):
        if not isinstance(number, int) or number < 0:
            return 0
        return min(number, 0xFFFFFFFF)

    hello = {
        "protocol": 1,
        "version": list(sys.version_info[:3]),
        "magic": MAGIC_NUMBER.hex(),
        "cache_tag": sys.implementation.cache_tag,
        "implementation": sys.implementation.name,
        "pid": os.getpid(),
    }
    write_frame(json.dumps(hello).encode("utf-8"))

    while True:
        header = read_exact(4)
        if header is None:
            return 0
        (length,) = struct.unpack("<I", header)
        body = read_exact(length)
        if body is None or length < 13:
            sys.stderr.write("pyship compile worker: truncated request frame\n")
            sys.stderr.flush()
            return 2
        request_id, options, dfile_length = struct.unpack_from("<QBI", body)
        optimize = options & 3
        if options & ~3 or optimize == 3:
            sys.stderr.write("pyship compile worker: unsupported options 0x%02x\n" % options)
            sys.stderr.flush()
            return 2
        dfile = body[13 : 13 + dfile_length].decode("utf-8", "surrogateescape")
        source = body[13 + dfile_length :]
        del body

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

        try:
            code = compile(source, dfile, "exec", dont_inherit=True, optimize=optimize)
            answer = marshal.dumps(code)
            del code
        except SyntaxError as exc:
            message = exc.msg if exc.msg is not None else str(exc)
            error = (clamp(exc.lineno), clamp(exc.offset), message)
        except Exception as exc:
            error = (0, 0, "%s: %s" % (type(exc).__name__, exc))
        else:
            write_frame(struct.pack("<QB", request_id, 0), answer)
            del answer
            continue
        line, column, message = error
        write_frame(
            struct.pack("<QBII", request_id, 1, line, column),
            str(message).encode("utf-8", "backslashreplace"),
        )


sys.exit(main())
