//! The compile worker pool against every CPython on the machine: its bytecode is what the
//! interpreter's own `compile()` gives, errors come back located, N workers serve any number of
//! files, and crashed or hung workers are replaced, retried once, then reported.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use pyship::compile::cpython::WorkerPool;
use pyship::compile::{
    Backend, CodeOptions, CompileError, CompileOutcome, CompileRequest, Event, Optimize,
    SyntaxError, compile_all,
};
use pyship::interpreter::{Interpreter, Version};

use crate::common::{self, Python};

/// Probe `python` the way pyship's interpreter discovery does, independently of it.
pub fn interpreter(python: &Python) -> Interpreter {
    let out = python.script(
        "import sys, importlib.util\n\
         print(*sys.version_info[:3])\n\
         print(importlib.util.MAGIC_NUMBER.hex())\n\
         print(sys.implementation.cache_tag)",
        &[],
    );
    let lines: Vec<&str> = out.lines().collect();
    let version: Vec<u8> = lines[0]
        .split(' ')
        .map(|part| part.parse().unwrap())
        .collect();
    let magic: Vec<u8> = (0..4)
        .map(|i| u8::from_str_radix(&lines[1][2 * i..2 * i + 2], 16).unwrap())
        .collect();
    Interpreter {
        executable: python.path.clone(),
        version: Version {
            major: version[0],
            minor: version[1],
            micro: version[2],
        },
        magic: magic.try_into().unwrap(),
        cache_tag: lines[2].to_string(),
    }
}

pub fn request(dfile: &str, source: &[u8], optimize: u8) -> CompileRequest {
    CompileRequest {
        source: source.into(),
        dfile: dfile.to_string(),
        options: CodeOptions::new(Optimize::from_level(optimize.into()).unwrap()),
    }
}

/// Every request's outcome in request order, through [`compile_all`] without a cache;
/// `on_done(i)` as request `i` is answered.
fn compile_in_order(
    pool: &WorkerPool,
    requests: Vec<CompileRequest>,
    mut on_done: impl FnMut(usize),
) -> Vec<Result<CompileOutcome, CompileError>> {
    let mut results: Vec<Option<Result<CompileOutcome, CompileError>>> =
        (0..requests.len()).map(|_| None).collect();
    compile_all(pool, None, requests, None, |event| {
        if let Event::Answer(answer) = event {
            on_done(answer.index);
            results[answer.index] = Some(answer.outcome);
        }
        Ok::<(), CompileError>(())
    })
    .unwrap();
    results
        .into_iter()
        .map(|result| result.expect("every request answered"))
        .collect()
}

fn env(pairs: &[(&str, &Path)]) -> Vec<(OsString, OsString)> {
    pairs
        .iter()
        .map(|(key, value)| (OsString::from(key), value.as_os_str().to_owned()))
        .collect()
}

/// Run `body` on its own thread and fail (rather than hang the suite) if it takes too long.
fn within<T: Send + 'static>(limit: Duration, body: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || sender.send(body()));
    receiver
        .recv_timeout(limit)
        .unwrap_or_else(|_| panic!("did not finish within {limit:?}"))
}

const MODULE: &str = r#""""Module docstring."""
import sys

def f():
    """Function docstring."""
    assert False, "boom"
    return 1

try:
    f_result = f()
except AssertionError:
    f_result = "assert"
doc = __doc__
fdoc = f.__doc__
debug = __debug__

class C:
    """Class docstring."""
    def method(self, x, *args, key=None, **kwargs):
        return [y * 2 for y in args if y in {1, 2, 3}], lambda: (x, key)

constants = (1, 2.5, 3j, b"bytes", "caf\u00e9 \u2603", None, ..., frozenset({"a", "b"}))
cdoc = C.__doc__
text = f"{f_result!r:>10} {len(constants)}"
"#;

/// Each case: (dfile, source bytes, Python literal of the globals the code must define, by
/// optimize level 0, 1, 2).
fn cases() -> Vec<(&'static str, Vec<u8>, [&'static str; 3])> {
    vec![
        (
            "pkg/module.py",
            MODULE.as_bytes().to_vec(),
            [
                "dict(f_result='assert', doc='Module docstring.', fdoc='Function docstring.', \
                 cdoc='Class docstring.', debug=True)",
                "dict(f_result=1, doc='Module docstring.', fdoc='Function docstring.', \
                 cdoc='Class docstring.', debug=False)",
                "dict(f_result=1, doc=None, fdoc=None, cdoc=None, debug=False)",
            ],
        ),
        (
            "pkg/crlf.py",
            b"s = '''a\r\nb'''\r\nif True:\r\n    t = 1\r\n".to_vec(),
            ["dict(s='a\\nb', t=1)"; 3],
        ),
        (
            "pkg/bom.py",
            b"\xef\xbb\xbfs = '\xc3\xa9\xe2\x82\xac'\n".to_vec(),
            ["dict(s='\\u00e9\\u20ac')"; 3],
        ),
        (
            "pkg/latin1.py",
            b"# -*- coding: latin-1 -*-\ns = 'caf\xe9 \xb5'\nb = b'x'\n".to_vec(),
            ["dict(s='caf\\u00e9 \\u00b5', b=b'x')"; 3],
        ),
    ]
}

/// Python that checks, for each case, the pool's code bytes against its own `compile()`:
/// equal code objects (co_code, co_consts, co_names, ... recursively), `co_filename` everywhere
/// the dfile, and running the code defines the expected globals.
const CHECK: &str = r#"
import json, marshal, sys, types
cases = json.load(open(sys.argv[1]))
def walk(a, b, where):
    assert type(a) is type(b), (where, a, b)
    if isinstance(a, types.CodeType):
        for attr in ("co_code", "co_names", "co_varnames", "co_name", "co_filename",
                     "co_firstlineno", "co_flags", "co_freevars", "co_cellvars"):
            assert getattr(a, attr) == getattr(b, attr), (where, attr, getattr(a, attr), getattr(b, attr))
        assert len(a.co_consts) == len(b.co_consts), where
        for i, (x, y) in enumerate(zip(a.co_consts, b.co_consts)):
            walk(x, y, where + "/" + a.co_name + "[%d]" % i)
        assert a == b, where
    else:
        assert a == b, (where, a, b)
def filenames(code):
    yield code.co_filename
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from filenames(const)
for case in cases:
    source = open(case["source"], "rb").read()
    ours = marshal.loads(open(case["code"], "rb").read())
    theirs = compile(source, case["dfile"], "exec", dont_inherit=True, optimize=case["optimize"])
    where = "%s -O%d" % (case["dfile"], case["optimize"])
    walk(ours, theirs, where)
    assert set(filenames(ours)) == {case["dfile"]}, (where, set(filenames(ours)))
    namespace = {"__name__": "checked", "__doc__": None}
    exec(ours, namespace)
    for name, value in eval(case["expect"]).items():
        assert namespace[name] == value, (where, name, namespace[name], value)
    print("ok", where)
"#;

#[test]
fn bytecode_is_what_compile_gives_at_every_optimize_level() {
    let pythons = common::pythons();
    for python in &pythons {
        let interpreter = interpreter(python);
        let pool = WorkerPool::start(&interpreter, 2).unwrap();
        let temp = tempfile::tempdir().unwrap();
        let mut requests = Vec::new();
        let mut manifest = Vec::new();
        for (index, (dfile, source, expect)) in cases().into_iter().enumerate() {
            let source_path = temp.path().join(format!("{index}.py"));
            fs_err::write(&source_path, &source).unwrap();
            for optimize in 0..=2u8 {
                let code_path = temp.path().join(format!("{index}-{optimize}.marshal"));
                manifest.push(serde_json::json!({
                    "source": source_path,
                    "code": code_path,
                    "dfile": dfile,
                    "optimize": optimize,
                    "expect": expect[optimize as usize],
                }));
                requests.push(request(dfile, &source, optimize));
            }
        }
        let results = compile_in_order(&pool, requests, |_| {});
        for (result, case) in results.into_iter().zip(&manifest) {
            match result.unwrap() {
                CompileOutcome::Code(code, _) => {
                    fs_err::write(case["code"].as_str().unwrap(), code).unwrap();
                }
                CompileOutcome::SyntaxError(error, _) => {
                    panic!("{} {case}: {error:?}", python.version())
                }
            }
        }
        let manifest_path = temp.path().join("manifest.json");
        fs_err::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();
        let output = python.run(&["-I", "-c", CHECK, manifest_path.to_str().unwrap()]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{}: {stdout}{}",
            python.version(),
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(stdout.lines().count(), manifest.len(), "{stdout}");
        assert_eq!(pool.spawned(), 2);
    }
}

/// Python's own verdict on each source, by the worker's rule: (lineno, offset, msg) of a
/// `SyntaxError` (0 for an absent line or column), else (0, 0, "TypeName: text").
const VERDICT: &str = r#"
import json, sys
out = []
for path in sys.argv[1:]:
    try:
        compile(open(path, "rb").read(), "bad.py", "exec", dont_inherit=True)
        out.append(None)
    except SyntaxError as exc:
        # CPython says -1 for "no offset" (unknown encoding); pyship says 0.
        out.append([exc.lineno or 0, max(exc.offset or 0, 0), exc.msg])
    except Exception as exc:
        out.append([0, 0, "%s: %s" % (type(exc).__name__, exc)])
print(json.dumps(out))
"#;

#[test]
fn syntax_errors_come_back_located() {
    let sources: [&[u8]; 5] = [
        b"def f(:\n    pass\n",
        b"x = 1\ny = (1,\n",
        b"if True:\nprint(1)\n",
        b"x = 1\n\0\n",
        b"# coding: no-such-codec\nx = 1\n",
    ];
    for python in &common::pythons() {
        let temp = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for (index, source) in sources.iter().enumerate() {
            let path = temp.path().join(format!("{index}.py"));
            fs_err::write(&path, source).unwrap();
            paths.push(path.to_str().unwrap().to_string());
        }
        let mut args = vec!["-I", "-c", VERDICT];
        args.extend(paths.iter().map(String::as_str));
        let output = python.run(&args);
        assert!(output.status.success(), "{output:?}");
        let verdicts: Vec<(u32, u32, String)> = serde_json::from_slice(&output.stdout).unwrap();

        let pool = WorkerPool::start(&interpreter(python), 1).unwrap();
        for (source, (line, column, message)) in sources.iter().zip(verdicts) {
            let outcome = pool.compile(&request("bad.py", source, 0)).unwrap();
            let expected = SyntaxError {
                line,
                column,
                message,
            };
            assert_eq!(
                outcome,
                CompileOutcome::SyntaxError(expected, outcome.warnings().to_vec()),
                "{} {:?}",
                python.version(),
                String::from_utf8_lossy(source)
            );
        }
        // Errors are answers, not failures: the one worker keeps serving.
        let outcome = pool.compile(&request("good.py", b"x = 1\n", 0)).unwrap();
        assert!(matches!(outcome, CompileOutcome::Code(..)));
        assert_eq!(pool.spawned(), 1);

        // Independent of Python's verdict: the first case is located on line 1.
        let outcome = pool.compile(&request("bad.py", sources[0], 0)).unwrap();
        let CompileOutcome::SyntaxError(error, _) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(error.line, 1);
        assert!(error.column > 0 && !error.message.is_empty(), "{error:?}");
    }
}

/// Pids that workers logged through `PYSHIP_TEST_PID_LOG`.
fn logged_pids(log: &Path) -> Vec<u32> {
    fs_err::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|line| line.parse().unwrap())
        .collect()
}

#[test]
fn many_files_use_exactly_n_processes_and_results_keep_order() {
    for python in &common::pythons() {
        let temp = tempfile::tempdir().unwrap();
        let log = temp.path().join("pids");
        let pool = WorkerPool::start_with_env(
            &interpreter(python),
            2,
            env(&[("PYSHIP_TEST_PID_LOG", &log)]),
        )
        .unwrap();
        let requests: Vec<CompileRequest> = (0..150)
            .map(|i| request(&format!("pkg/m{i}.py"), format!("x = {i}\n").as_bytes(), 0))
            .collect();
        let mut done = Vec::new();
        let results = compile_in_order(&pool, requests, |i| done.push(i));
        done.sort_unstable();
        assert_eq!(done, (0..150).collect::<Vec<_>>());
        for (i, result) in results.into_iter().enumerate() {
            let CompileOutcome::Code(code, _) = result.unwrap() else {
                panic!("m{i}.py did not compile")
            };
            let name = format!("pkg/m{i}.py");
            assert!(
                code.windows(name.len())
                    .any(|window| window == name.as_bytes()),
                "result {i} is not the code of {name}"
            );
        }
        assert_eq!(pool.spawned(), 2);
        let pids = logged_pids(&log);
        assert_eq!(
            pids.len(),
            2,
            "{}: workers started: {pids:?}",
            python.version()
        );

        drop(pool);
        #[cfg(target_os = "linux")]
        for pid in pids {
            assert!(
                !Path::new(&format!("/proc/{pid}")).exists(),
                "worker {pid} outlived the pool"
            );
        }
    }
}

/// A worker holds two requests: when it has compiled one, the next is already in its pipe
/// (with one request at a time it never is: the next is written only after the answer is read).
#[test]
fn a_worker_finds_its_next_request_waiting() {
    // Big enough that compiling one takes far longer than pyship needs to send the next.
    let source = "def f(a, b=1):\n    return [a + b * 2, {'k': a}]\n".repeat(3000);
    for python in &common::pythons() {
        let temp = tempfile::tempdir().unwrap();
        let log = temp.path().join("queue");
        let pool = WorkerPool::start_with_env(
            &interpreter(python),
            1,
            env(&[("PYSHIP_TEST_QUEUE_LOG", &log)]),
        )
        .unwrap();
        // Each its own source: identical ones would be compiled once.
        let requests: Vec<CompileRequest> = (0..12)
            .map(|i| {
                request(
                    &format!("pkg/m{i}.py"),
                    format!("# {i}\n{source}").as_bytes(),
                    0,
                )
            })
            .collect();
        for result in compile_in_order(&pool, requests, |_| {}) {
            assert!(matches!(result, Ok(CompileOutcome::Code(..))), "{result:?}");
        }
        let states = fs_err::read_to_string(&log).unwrap();
        let queued = states.lines().filter(|line| *line == "queued").count();
        assert_eq!(states.lines().count(), 12, "{states}");
        // The last one has no next; allow a few slow hand-overs on a loaded machine.
        assert!(
            queued >= 8,
            "{}: only {queued} of 12 answers found the next request waiting:\n{states}",
            python.version()
        );
        assert_eq!(pool.spawned(), 1);
    }
}

/// A request queued behind one that hangs was never started: it is sent again elsewhere and
/// answered, while the hung one is retried once and reported.
#[test]
fn a_request_queued_behind_a_hung_one_is_answered() {
    with_a_pool_hanging_on_slow_py(|pool| {
        // Too big to share a batch: each its own request, the fast one queued behind.
        let requests = vec![
            request("pkg/slow.py", &unbatched("x = 1\n"), 0),
            request("pkg/fast.py", &unbatched("y = 2\n"), 0),
        ];
        let mut results = compile_in_order(&pool, requests, |_| {}).into_iter();
        let slow = results.next().unwrap().unwrap_err();
        let CompileError::Worker { dfile, message } = &slow else {
            panic!("{slow:?}")
        };
        assert_eq!(dfile, "pkg/slow.py");
        assert!(message.contains("retried on a fresh worker"), "{message}");
        let fast = results.next().unwrap();
        assert!(matches!(fast, Ok(CompileOutcome::Code(..))), "{fast:?}");
    });
}

/// `source` with a comment that makes it too big for [`compile_all`] to batch it.
fn unbatched(source: &str) -> Vec<u8> {
    format!("# {}\n{source}", "x".repeat(8 * 1024)).into_bytes()
}

/// Small modules go to a worker many to a frame, and each gets exactly the answer it gets
/// alone: code, or its own located syntax error.
#[test]
fn small_modules_travel_in_batches_and_each_gets_its_own_answer() {
    for python in &common::pythons() {
        let temp = tempfile::tempdir().unwrap();
        let log = temp.path().join("batches");
        let pool = WorkerPool::start_with_env(
            &interpreter(python),
            1,
            env(&[("PYSHIP_TEST_BATCH_LOG", &log)]),
        )
        .unwrap();
        let requests: Vec<CompileRequest> = (0..200)
            .map(|i| {
                let source = match i % 20 {
                    7 => format!("def f{i}(:\n    pass\n"),
                    13 => format!("x = {i}\nreturn x\n"),
                    _ => format!("'''Module {i}.'''\ndef f(a):\n    return a + {i}\n"),
                };
                request(&format!("pkg/m{i}.py"), source.as_bytes(), (i % 3) as u8)
            })
            .collect();
        let alone: Vec<CompileOutcome> = requests
            .iter()
            .map(|request| pool.compile(request).unwrap())
            .collect();
        let batched = compile_in_order(&pool, requests, |_| {});
        for (i, (batched, alone)) in batched.into_iter().zip(alone).enumerate() {
            assert_eq!(batched.unwrap(), alone, "{}: module {i}", python.version());
        }
        let frames = fs_err::read_to_string(&log).unwrap();
        let counts: Vec<usize> = frames.lines().map(|line| line.parse().unwrap()).collect();
        // 200 frames of one for the modules alone, then the same 200 in batches while many
        // are left, the last few one by one.
        assert_eq!(counts.iter().sum::<usize>(), 400, "{frames}");
        assert!(
            counts.len() <= 200 + 200 / 2,
            "{}: 200 small modules took {} frames:\n{frames}",
            python.version(),
            counts.len() - 200
        );
        assert_eq!(pool.spawned(), 1);
    }
}

/// A worker that dies in the middle of a batch costs no module its answer: each is compiled
/// again on its own, the one that crashed it included.
#[test]
fn a_worker_crashing_in_a_batch_costs_no_module_its_answer() {
    for python in &common::pythons() {
        let temp = tempfile::tempdir().unwrap();
        let marker = temp.path().join("crashed");
        let batches = temp.path().join("batches");
        // m50 is among the first to go (sizes tie from m10 to m99), in a batch.
        let hooks = env(&[
            ("PYSHIP_TEST_CRASH_DFILE", Path::new("pkg/m50.py")),
            ("PYSHIP_TEST_CRASH_ONCE", &marker),
            ("PYSHIP_TEST_BATCH_LOG", &batches),
        ]);
        let pool = WorkerPool::start_with_env(&interpreter(python), 1, hooks).unwrap();
        let requests: Vec<CompileRequest> = (0..100)
            .map(|i| request(&format!("pkg/m{i}.py"), format!("x = {i}\n").as_bytes(), 0))
            .collect();
        for (i, result) in compile_in_order(&pool, requests, |_| {})
            .into_iter()
            .enumerate()
        {
            assert!(
                matches!(result, Ok(CompileOutcome::Code(..))),
                "{}: module {i}: {result:?}",
                python.version()
            );
        }
        assert!(marker.exists(), "the hook did not fire");
        let frames = fs_err::read_to_string(&batches).unwrap();
        assert!(frames.lines().any(|line| line != "1"), "no batch: {frames}");
        assert_eq!(pool.spawned(), 2);
    }
}

/// A module that hangs its worker in a batch is reported after its retry; its batch-mates
/// are answered, each on its own after the batch timed out.
#[test]
fn a_module_hanging_in_a_batch_is_reported_and_the_others_answered() {
    with_a_pool_hanging_on_slow_py(|pool| {
        let requests: Vec<CompileRequest> = (0..100)
            .map(|i| {
                let dfile = if i == 40 {
                    "pkg/slow.py".to_string()
                } else {
                    format!("pkg/m{i}.py")
                };
                request(&dfile, format!("x = {}\n", 100 + i).as_bytes(), 0)
            })
            .collect();
        for (i, result) in compile_in_order(&pool, requests, |_| {})
            .into_iter()
            .enumerate()
        {
            if i == 40 {
                let error = result.unwrap_err();
                assert!(error.to_string().contains("did not answer"), "{error}");
            } else {
                assert!(
                    matches!(result, Ok(CompileOutcome::Code(..))),
                    "{i}: {result:?}"
                );
            }
        }
    });
}

/// `body` with a one-worker pool of each CPython (in parallel, each within 60 s) whose workers
/// hang on `pkg/slow.py` and time out after 700 ms.
fn with_a_pool_hanging_on_slow_py(body: fn(WorkerPool)) {
    let handles: Vec<_> = common::pythons()
        .into_iter()
        .map(|python| {
            thread::spawn(move || {
                within(Duration::from_secs(60), move || {
                    let hooks = env(&[("PYSHIP_TEST_HANG_DFILE", Path::new("pkg/slow.py"))]);
                    let pool = WorkerPool::start_with_env(&interpreter(&python), 1, hooks)
                        .unwrap()
                        .with_timeout(Duration::from_millis(700));
                    body(pool);
                });
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
}

#[test]
fn a_worker_that_crashes_once_is_replaced_and_the_file_retried() {
    for python in &common::pythons() {
        let temp = tempfile::tempdir().unwrap();
        let marker = temp.path().join("crashed");
        let log = temp.path().join("pids");
        let hooks = env(&[
            ("PYSHIP_TEST_CRASH_DFILE", Path::new("pkg/boom.py")),
            ("PYSHIP_TEST_CRASH_ONCE", &marker),
            ("PYSHIP_TEST_PID_LOG", &log),
        ]);
        let pool = WorkerPool::start_with_env(&interpreter(python), 1, hooks).unwrap();
        let outcome = pool
            .compile(&request("pkg/boom.py", b"x = 1\n", 0))
            .unwrap();
        assert!(matches!(outcome, CompileOutcome::Code(..)), "{outcome:?}");
        assert!(marker.exists(), "the hook did not fire");
        assert_eq!(pool.spawned(), 2);
        // The replacement keeps serving.
        pool.compile(&request("pkg/other.py", b"y = 2\n", 0))
            .unwrap();
        assert_eq!(pool.spawned(), 2);
        assert_eq!(logged_pids(&log).len(), 2);
    }
}

#[test]
fn a_worker_that_always_crashes_is_reported_after_one_retry() {
    for python in &common::pythons() {
        let temp = tempfile::tempdir().unwrap();
        let log = temp.path().join("pids");
        let hooks = env(&[
            ("PYSHIP_TEST_CRASH_DFILE", Path::new("pkg/boom.py")),
            ("PYSHIP_TEST_PID_LOG", &log),
        ]);
        let pool = WorkerPool::start_with_env(&interpreter(python), 1, hooks).unwrap();
        let error = pool
            .compile(&request("pkg/boom.py", b"x = 1\n", 0))
            .unwrap_err();
        let CompileError::Worker { dfile, message } = &error else {
            panic!("{error:?}")
        };
        assert_eq!(dfile, "pkg/boom.py");
        assert!(message.contains("simulated crash"), "{message}");
        assert!(message.contains("exit status: 70"), "{message}");
        assert!(
            error
                .to_string()
                .starts_with("Compile worker for `pkg/boom.py` failed: "),
            "{error}"
        );
        assert_eq!(pool.spawned(), 2);
        assert_eq!(logged_pids(&log).len(), 2);
        // The pool is not poisoned: the next file gets a new worker.
        pool.compile(&request("pkg/fine.py", b"x = 1\n", 0))
            .unwrap();
        assert_eq!(pool.spawned(), 3);
    }
}

#[test]
fn a_hung_worker_times_out_instead_of_hanging_the_build() {
    with_a_pool_hanging_on_slow_py(|pool| {
        let start = Instant::now();
        let error = pool
            .compile(&request("pkg/slow.py", b"x = 1\n", 0))
            .unwrap_err();
        let elapsed = start.elapsed();
        let CompileError::Worker { dfile, message } = &error else {
            panic!("{error:?}")
        };
        assert_eq!(dfile, "pkg/slow.py");
        assert!(message.contains("did not answer within 700ms"), "{message}");
        assert!(message.contains("simulated hang"), "{message}");
        assert!(elapsed >= Duration::from_millis(1400), "{elapsed:?}");
        pool.compile(&request("pkg/fast.py", b"x = 1\n", 0))
            .unwrap();
        assert_eq!(pool.spawned(), 3);
    });
}

#[test]
fn a_missing_interpreter_is_a_spawn_error_naming_it() {
    let interpreter = Interpreter {
        executable: PathBuf::from("/nonexistent/bin/python3"),
        version: Version {
            major: 3,
            minor: 12,
            micro: 0,
        },
        magic: *b"\xcb\x0d\x0d\x0a",
        cache_tag: "cpython-312".to_string(),
    };
    let error = WorkerPool::start(&interpreter, 2).unwrap_err();
    assert!(matches!(error, CompileError::Spawn { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "Failed to start Python at `/nonexistent/bin/python3`"
    );
}

/// The strip bit travels on the wire and the worker honours it: a module without asserts
/// stripped at level 0 is its `optimize=2` code, and the plain level is unchanged beside it.
#[test]
fn docstring_stripping_travels_on_the_wire() {
    let source = b"\"\"\"Module.\"\"\"\n\ndef f():\n    \"\"\"Function.\"\"\"\n    return 1\n";
    for python in common::pythons() {
        let pool = WorkerPool::start(&interpreter(&python), 1).unwrap();
        let mut strip = request("a.py", source, 0);
        strip.options.strip_docstrings = true;
        let code = |request: &CompileRequest| match pool.compile(request).unwrap() {
            CompileOutcome::Code(code, _) => code,
            other @ CompileOutcome::SyntaxError(..) => panic!("{other:?}"),
        };
        let stripped = code(&strip);
        assert_eq!(
            stripped,
            code(&request("a.py", source, 2)),
            "{}",
            python.version()
        );
        assert_ne!(
            stripped,
            code(&request("a.py", source, 0)),
            "{}",
            python.version()
        );
    }
}

#[test]
fn a_worker_announcing_another_interpreter_fails_the_handshake() {
    let Some(python) = common::pythons().pop() else {
        return;
    };
    let mut wrong = interpreter(&python);
    wrong.magic = *b"\x00\x00\x0d\x0a";
    let pool = WorkerPool::start(&wrong, 2).unwrap();
    for _ in 0..3 {
        let error = pool.compile(&request("a.py", b"x = 1\n", 0)).unwrap_err();
        let CompileError::Handshake { path, message } = &error else {
            panic!("{error:?}")
        };
        assert_eq!(path, &python.path);
        assert!(
            message.contains("has magic number") && message.contains("expected 00000d0a"),
            "{message}"
        );
    }
    // Broken is broken: no process is started per request.
    assert_eq!(pool.spawned(), 2);
}

/// Throughput of the pool on the 3.11 standard library next to `compileall -j0` on a copy:
/// `cargo test --release --test it stdlib_throughput -- --ignored --nocapture`.
#[test]
#[ignore = "benchmark"]
fn stdlib_throughput() {
    let Some(python) = common::pythons()
        .into_iter()
        .find(|python| python.minor == 11)
    else {
        return;
    };
    let lib = python.script(
        "import sysconfig; print(sysconfig.get_paths()['stdlib'])",
        &[],
    );
    let lib = PathBuf::from(lib.trim());
    let mut requests = Vec::new();
    let mut stack = vec![lib.clone()];
    while let Some(dir) = stack.pop() {
        for entry in fs_err::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() && name != "site-packages" && name != "__pycache__" {
                stack.push(path);
            } else if path.extension().is_some_and(|extension| extension == "py") {
                let dfile = path
                    .strip_prefix(&lib)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                requests.push(request(&dfile, &fs_err::read(&path).unwrap(), 0));
            }
        }
    }
    let files = f64::from(u32::try_from(requests.len()).unwrap());
    let start = Instant::now();
    let pool = WorkerPool::start(&interpreter(&python), 2).unwrap();
    let results = compile_in_order(&pool, requests, |_| {});
    drop(pool);
    let ours = start.elapsed();
    let errors = results
        .iter()
        .filter(|result| !matches!(result, Ok(CompileOutcome::Code(..))))
        .count();

    let temp = tempfile::tempdir().unwrap();
    let copy = temp.path().join("lib");
    copy_sources(&lib, &copy);
    let start = Instant::now();
    let output = python.run(&["-m", "compileall", "-q", "-j0", copy.to_str().unwrap()]);
    let theirs = start.elapsed();
    eprintln!(
        "pool (2 workers): {files} files ({errors} not compiled) in {ours:.2?} = {:.0} files/s; \
         compileall -q -j0: {theirs:.2?} = {:.0} files/s (exit {})",
        files / ours.as_secs_f64(),
        files / theirs.as_secs_f64(),
        output.status
    );
}

/// Copy the `.py` files under `from`, without `site-packages` and `__pycache__`.
fn copy_sources(from: &Path, to: &Path) {
    fs_err::create_dir_all(to).unwrap();
    for entry in fs_err::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap();
        if path.is_dir() {
            if name != "site-packages" && name != "__pycache__" {
                copy_sources(&path, &to.join(name));
            }
        } else if path.extension().is_some_and(|extension| extension == "py") {
            fs_err::copy(&path, to.join(name)).unwrap();
        }
    }
}

#[cfg(unix)]
#[test]
fn an_executable_that_dies_before_its_hello_fails_the_handshake_with_its_stderr() {
    // `sh` rejects `-I`, prints why and exits: the pool must say so, once, not loop.
    let interpreter = Interpreter {
        executable: PathBuf::from("/bin/sh"),
        version: Version {
            major: 3,
            minor: 12,
            micro: 0,
        },
        magic: *b"\xcb\x0d\x0d\x0a",
        cache_tag: "cpython-312".to_string(),
    };
    let pool = WorkerPool::start(&interpreter, 2).unwrap();
    let requests = (0..10)
        .map(|i| request(&format!("m{i}.py"), format!("x = {i}\n").as_bytes(), 0))
        .collect();
    let results = within(Duration::from_secs(30), move || {
        let results = compile_in_order(&pool, requests, |_| {});
        (results, pool.spawned())
    });
    let (results, spawned) = results;
    assert_eq!(spawned, 2);
    for result in results {
        let error = result.unwrap_err();
        let CompileError::Handshake { path, message } = &error else {
            panic!("{error:?}")
        };
        assert_eq!(path, Path::new("/bin/sh"));
        assert!(message.contains("exited with exit status: 2"), "{message}");
        assert!(message.contains("its stderr ends with:\n"), "{message}");
    }
}

#[test]
fn a_crash_is_reported_with_its_stderr_when_answers_before_it_are_still_being_read() {
    use pyship::compile::cpython::worker::Worker;
    // Requests pipelined to one worker: the worker answers the small ones and crashes on the
    // last before the threads waiting on the earlier answers have all read them. What the
    // crashing worker wrote to stderr must still be in the failure.
    for python in &common::pythons() {
        let interpreter = interpreter(python);
        let hooks = env(&[("PYSHIP_TEST_CRASH_DFILE", Path::new("pkg/boom.py"))]);
        for _ in 0..5 {
            let worker = Worker::spawn(&interpreter, &hooks).unwrap();
            let failure = thread::scope(|scope| {
                for i in 0..40 {
                    let (worker, interpreter) = (&worker, &interpreter);
                    scope.spawn(move || {
                        let _ = worker.compile(
                            interpreter,
                            &request(&format!("pkg/m{i}.py"), b"x = 1\n", 0),
                            Duration::from_secs(30),
                        );
                    });
                }
                // Written last, so it queues behind all the others.
                thread::sleep(Duration::from_millis(50));
                worker
                    .compile(
                        &interpreter,
                        &request("pkg/boom.py", b"x = 1\n", 0),
                        Duration::from_secs(30),
                    )
                    .unwrap_err()
            });
            let message = failure.failure().to_string();
            assert!(message.contains("simulated crash"), "{message}");
        }
    }
}
