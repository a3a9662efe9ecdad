//! One CPython compile worker process and its framed pipe protocol.
//!
//! A [`Worker`] runs `templates/compile_worker.py` as `python -I -S -B -u -c <script>` (no `site`: the worker needs only builtins) and talks to
//! it over its stdin and stdout. Every frame, both ways, is a little-endian `u32` length and
//! that many bytes:
//!
//! - hello, worker → pyship, once at start: UTF-8 JSON ([`Hello`]): version, magic number,
//!   cache tag, pid;
//! - request, pyship → worker: `u64` id, `u8` options ([`crate::compile::CodeOptions::to_byte`]:
//!   the optimize level, plus 4 to strip docstrings), `u32` dfile length, dfile (UTF-8), then
//!   the source bytes exactly as on disk; or several small modules in one frame: `u64` id, `u8`
//!   `0x80`, `u32` count, then per module its options byte, `u32` dfile length, dfile, `u32`
//!   source length and source;
//! - response, worker → pyship, one per request: `u64` id of the request, `u8` status, then for
//!   status 0 the marshalled code object, for status 1 `u32` line, `u32` column and the message
//!   (UTF-8) of a located error; for status 2, the answer to a batch, `u32` count, then per
//!   module a `u32` length and that many bytes: its status (0, 1 or 3) and what follows it;
//!   status 3 (a module whose compile gave warnings) is `u32` count, then per warning `u32`
//!   line, `u32` length and category name, `u32` length and message (UTF-8), then the status
//!   (0 or 1) and what follows it: the same answer with its [`CompileWarning`]s first.
//!
//! A response whose id is not the request's, or any malformed frame, is a protocol error. A
//! reader thread turns stdout into frames on a channel so that every wait has a timeout; a
//! second thread keeps the last [`STDERR_TAIL`] bytes of stderr so a failure can show them.
//!
//! Test hooks, read by the script from the environment (see its docstring): with
//! `PYSHIP_TEST_CRASH_DFILE=<dfile>` the worker writes "simulated crash" to stderr and exits
//! with status 70 on that dfile, only while the file named by `PYSHIP_TEST_CRASH_ONCE` does not
//! exist yet when that is set (it creates it); `PYSHIP_TEST_HANG_DFILE=<dfile>` sleeps forever
//! on that dfile; `PYSHIP_TEST_PID_LOG=<path>` appends each worker's pid to `<path>` at start.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::{self, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use crate::compile::{CompileError, CompileOutcome, CompileRequest, CompileWarning, SyntaxError};
use crate::interpreter::Interpreter;

/// The worker script, run with `-c`.
pub const SCRIPT: &str = include_str!("../../../templates/compile_worker.py");

/// The protocol version the script announces in its hello.
pub const PROTOCOL: u32 = 3;

/// How many bytes of a worker's stderr are kept for error messages.
pub const STDERR_TAIL: usize = 64 * 1024;

/// Frames larger than this are treated as a protocol error rather than allocated.
const MAX_FRAME: usize = 1 << 30;

/// How long to wait for a worker that is going away anyway (EOF seen, or killed) to exit and
/// for its stderr to drain.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// What a worker announces before its first answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Hello {
    /// Protocol version, [`PROTOCOL`].
    pub protocol: u32,
    /// `sys.version_info[:3]`.
    pub version: [u8; 3],
    /// `importlib.util.MAGIC_NUMBER`, as hex.
    pub magic: String,
    /// `sys.implementation.cache_tag`; `None` when the interpreter caches no bytecode.
    pub cache_tag: Option<String>,
    /// `sys.implementation.name`.
    pub implementation: String,
    /// The worker's process id, as Python sees it.
    pub pid: u32,
}

/// Which part of a worker's life failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Before or while announcing itself: the interpreter cannot serve as a worker at all.
    Hello,
    /// While answering a request.
    Request,
}

/// A worker that died, hung or broke the protocol. The process is gone (killed and reaped)
/// by the time this is returned; the [`Worker`] must be dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerFailure {
    /// When it happened.
    pub stage: Stage,
    /// What happened, on one line: the process id, exit status or signal, timeout or protocol
    /// violation.
    pub summary: String,
    /// What the worker wrote to stderr while serving the failed request (everything, for a
    /// failed hello), trimmed; at most [`STDERR_TAIL`] bytes.
    pub stderr: String,
}

impl std::fmt::Display for WorkerFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.summary)?;
        if !self.stderr.is_empty() {
            write!(f, "; its stderr ends with:\n{}", self.stderr)?;
        }
        Ok(())
    }
}

impl std::error::Error for WorkerFailure {}

/// Bytes seen on stderr: the last [`STDERR_TAIL`] of them and how many there were in all.
#[derive(Debug, Default)]
struct StderrTail {
    bytes: VecDeque<u8>,
    total: u64,
}

impl StderrTail {
    fn push(&mut self, chunk: &[u8]) {
        self.total += chunk.len() as u64;
        let chunk = &chunk[chunk.len().saturating_sub(STDERR_TAIL)..];
        let overflow = (self.bytes.len() + chunk.len()).saturating_sub(STDERR_TAIL);
        self.bytes.drain(..overflow);
        self.bytes.extend(chunk);
    }

    /// What was written after `mark` (a former `total`), as far as it is still kept.
    fn since(&self, mark: u64) -> String {
        let new = usize::try_from(self.total - mark).unwrap_or(usize::MAX);
        let skip = self.bytes.len().saturating_sub(new);
        let bytes: Vec<u8> = self.bytes.iter().skip(skip).copied().collect();
        String::from_utf8_lossy(&bytes).trim_end().to_string()
    }
}

/// One live compile worker process, shared by the threads that have requests on it.
///
/// Requests are written in id order and the worker answers them in that order, so each
/// waiting thread takes its turn at reading: the thread of request `n` reads once `n - 1` was
/// answered, and its timeout starts then, when the worker starts on it. A failure kills the
/// worker; the thread being answered gets [`Failed::Served`], those queued behind it
/// [`Failed::NotStarted`] (their requests were never worked on).
#[derive(Debug)]
pub struct Worker {
    pid: u32,
    child: Mutex<Child>,
    /// Held while a request is given its id and written, so ids go out in order.
    stdin: Mutex<Option<ChildStdin>>,
    frames: Receiver<io::Result<Vec<u8>>>,
    stderr: Arc<Mutex<StderrTail>>,
    stderr_done: Receiver<()>,
    turn: Mutex<Turn>,
    turn_changed: Condvar,
}

/// A request as written: its id, the stderr total before it, and whether the write worked
/// (`Err(None)` for a closed pipe, `Err(Some(why))` for a request that could not be encoded).
struct Sent {
    id: u64,
    mark: u64,
    written: Result<(), Option<String>>,
}

/// Whose turn it is to read, and what the worker said so far.
#[derive(Debug, Default)]
struct Turn {
    /// The id the next request gets.
    next_id: u64,
    /// The id of the next answer to read.
    answered: u64,
    hello: Option<Hello>,
    /// Set once the worker failed: every later request fails with it.
    dead: Option<WorkerFailure>,
}

/// Why [`Worker::compile`] gave no answer. The worker is dead either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failed {
    /// It failed while working on this request (or, for [`Stage::Hello`], before it said hello).
    Served(WorkerFailure),
    /// It failed on an earlier request, before starting on this one: `failure` is that one's.
    NotStarted(WorkerFailure),
}

impl Failed {
    /// What happened to the worker.
    pub fn failure(&self) -> &WorkerFailure {
        match self {
            Failed::Served(failure) | Failed::NotStarted(failure) => failure,
        }
    }
}

impl Worker {
    /// Start a worker for `interpreter` without waiting for it: its hello is read and checked
    /// on first use. `env` is added to the inherited environment (the test hooks).
    pub fn spawn(
        interpreter: &Interpreter,
        env: &[(OsString, OsString)],
    ) -> Result<Worker, CompileError> {
        if crate::support::interrupt::requested().is_some() {
            return Err(CompileError::Interrupted);
        }
        let mut command = Command::new(&interpreter.executable);
        command
            .args(["-I", "-S", "-B", "-u", "-c", SCRIPT])
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .envs(env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Its own process group, dying with pyship: see `crate::support::process`.
        let mut child =
            crate::support::process::spawn(command).map_err(|err| CompileError::Spawn {
                path: interpreter.executable.clone(),
                err,
            })?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let pid = child.id();

        let (frame_sender, frames) = crossbeam_channel::unbounded();
        let spawned = thread::Builder::new()
            .name(format!("pyship-worker-{pid}-stdout"))
            .spawn(move || {
                let mut stdout = BufReader::new(stdout);
                loop {
                    let frame = read_frame(&mut stdout);
                    let last = frame.is_err();
                    if frame_sender.send(frame).is_err() || last {
                        break;
                    }
                }
            });
        if let Err(err) = spawned {
            kill(&mut child);
            return Err(CompileError::Spawn {
                path: interpreter.executable.clone(),
                err,
            });
        }

        let tail = Arc::new(Mutex::new(StderrTail::default()));
        let (done_sender, stderr_done) = crossbeam_channel::bounded::<()>(0);
        let thread_tail = Arc::clone(&tail);
        let spawned = thread::Builder::new()
            .name(format!("pyship-worker-{pid}-stderr"))
            .spawn(move || {
                // Dropped when stderr closes: tells waiters the tail is complete.
                let _done = done_sender;
                let mut stderr = stderr;
                let mut buffer = [0u8; 8192];
                loop {
                    match stderr.read(&mut buffer) {
                        Ok(0) => break,
                        Ok(read) => thread_tail.lock().unwrap().push(&buffer[..read]),
                        Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
            });
        if let Err(err) = spawned {
            kill(&mut child);
            return Err(CompileError::Spawn {
                path: interpreter.executable.clone(),
                err,
            });
        }

        Ok(Worker {
            pid,
            stdin: Mutex::new(child.stdin.take()),
            child: Mutex::new(child),
            frames,
            stderr: tail,
            stderr_done,
            turn: Mutex::new(Turn::default()),
            turn_changed: Condvar::new(),
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    fn turn(&self) -> MutexGuard<'_, Turn> {
        // Nothing panics while holding it, so poisoning is not an error.
        self.turn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Read the worker's hello (up to `timeout`) and check that it is the `interpreter` it was
    /// started for.
    fn read_hello(
        &self,
        interpreter: &Interpreter,
        timeout: Duration,
    ) -> Result<Hello, WorkerFailure> {
        let frame = self.receive(Stage::Hello, 0, timeout)?;
        let hello: Hello = match serde_json::from_slice(&frame) {
            Ok(hello) => hello,
            Err(err) => {
                let start = String::from_utf8_lossy(&frame[..frame.len().min(200)]).into_owned();
                return Err(self.fail(
                    Stage::Hello,
                    0,
                    Some(&format!("sent an invalid hello ({err}): {start:?}")),
                ));
            }
        };
        let expected_magic = hex(&interpreter.magic);
        let version = interpreter.version;
        let mismatch = if hello.protocol != PROTOCOL {
            Some(format!(
                "speaks protocol {}, expected {PROTOCOL}",
                hello.protocol
            ))
        } else if hello.version != [version.major, version.minor, version.micro] {
            Some(format!(
                "is Python {}.{}.{}, expected {version}",
                hello.version[0], hello.version[1], hello.version[2]
            ))
        } else if hello.magic != expected_magic {
            Some(format!(
                "has magic number {}, expected {expected_magic}",
                hello.magic
            ))
        } else if hello.cache_tag.as_deref() != Some(interpreter.cache_tag.as_str()) {
            Some(format!(
                "has cache tag {:?}, expected {:?}",
                hello.cache_tag, interpreter.cache_tag
            ))
        } else {
            None
        };
        match mismatch {
            Some(mismatch) => Err(self.fail(Stage::Hello, 0, Some(&mismatch))),
            None => Ok(hello),
        }
    }

    /// Compile one request: write it at once (so the worker finds it as soon as it is done
    /// with the one before), then wait for its turn and read the answer. The code bytes are
    /// the worker's marshal output, not yet canonicalized. Any failure leaves the worker dead.
    pub fn compile(
        &self,
        interpreter: &Interpreter,
        request: &CompileRequest,
        timeout: Duration,
    ) -> Result<CompileOutcome, Failed> {
        self.exchange(
            interpreter,
            timeout,
            |id| encode_request(id, request),
            decode_response,
        )
    }

    /// [`Worker::compile`] for several modules in one request frame and one answer: for small
    /// modules, whose compile costs little more than a frame's round trip. `timeout` is for
    /// the whole batch. The outcomes are in the order of `requests`.
    pub fn compile_batch(
        &self,
        interpreter: &Interpreter,
        requests: &[&CompileRequest],
        timeout: Duration,
    ) -> Result<Vec<CompileOutcome>, Failed> {
        self.exchange(
            interpreter,
            timeout,
            |id| encode_batch(id, requests),
            |id, frame| decode_batch(id, requests.len(), &frame),
        )
    }

    /// Send the request frame `encode` makes for its id, wait for this request's turn, then
    /// read its answer (after the hello, if nobody read it yet) and `decode` it.
    fn exchange<T>(
        &self,
        interpreter: &Interpreter,
        timeout: Duration,
        encode: impl FnOnce(u64) -> Result<Vec<u8>, String>,
        decode: impl FnOnce(u64, Vec<u8>) -> Result<T, String>,
    ) -> Result<T, Failed> {
        let sent = {
            let mut stdin = self.stdin.lock().unwrap_or_else(PoisonError::into_inner);
            // What the worker writes to stderr about this request comes after this point. Taken
            // later, when this request's turn comes, a worker that crashes at once on it could
            // already have written its last words, and the failure would show none.
            let mark = self.stderr.lock().unwrap().total;
            let id = {
                let mut turn = self.turn();
                if let Some(dead) = &turn.dead {
                    return Err(Failed::NotStarted(dead.clone()));
                }
                turn.next_id += 1;
                turn.next_id - 1
            };
            let written = match encode(id) {
                Ok(frame) => match stdin.as_mut() {
                    Some(stdin) => stdin
                        .write_all(&frame)
                        .and_then(|()| stdin.flush())
                        .map_err(|_| None),
                    None => Err(None),
                },
                Err(message) => Err(Some(message)),
            };
            Sent { id, mark, written }
        };
        let id = sent.id;

        // Wait for the answers before this one.
        let mut turn = self.turn();
        loop {
            if let Some(dead) = &turn.dead {
                return Err(Failed::NotStarted(dead.clone()));
            }
            if turn.answered == id {
                break;
            }
            turn = self
                .turn_changed
                .wait(turn)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let needs_hello = turn.hello.is_none();
        drop(turn);

        let result = self.answer(interpreter, sent, needs_hello, timeout, decode);
        let mut turn = self.turn();
        match &result {
            Ok(_) => turn.answered += 1,
            Err(failure) => {
                turn.dead.get_or_insert_with(|| failure.clone());
            }
        }
        drop(turn);
        self.turn_changed.notify_all();
        result.map_err(Failed::Served)
    }

    /// Its turn: read the hello if nobody has yet, then the answer to the request `sent`.
    fn answer<T>(
        &self,
        interpreter: &Interpreter,
        Sent { id, mark, written }: Sent,
        needs_hello: bool,
        timeout: Duration,
        decode: impl FnOnce(u64, Vec<u8>) -> Result<T, String>,
    ) -> Result<T, WorkerFailure> {
        if needs_hello {
            let hello = self.read_hello(interpreter, timeout.max(Duration::from_secs(30)))?;
            self.turn().hello = Some(hello);
        }
        match written {
            Ok(()) => {}
            Err(Some(message)) => return Err(self.fail(Stage::Request, mark, Some(&message))),
            // Broken pipe: the worker is gone or going; `fail` says how it ended.
            Err(None) => return Err(self.fail(Stage::Request, mark, None)),
        }
        let frame = self.receive(Stage::Request, mark, timeout)?;
        decode(id, frame).map_err(|message| self.fail(Stage::Request, mark, Some(&message)))
    }

    /// The next frame, or a failure: EOF, a malformed frame, or `timeout` passing.
    fn receive(
        &self,
        stage: Stage,
        mark: u64,
        timeout: Duration,
    ) -> Result<Vec<u8>, WorkerFailure> {
        let interrupt = crate::support::interrupt::receiver();
        let received = crossbeam_channel::select! {
            recv(self.frames) -> frame => frame.map_err(|_| RecvTimeoutError::Disconnected),
            recv(interrupt) -> _ => {
                return Err(self.fail(stage, mark, Some("was stopped by an interrupt")));
            }
            default(timeout) => Err(RecvTimeoutError::Timeout),
        };
        let what = match received {
            Ok(Ok(frame)) => return Ok(frame),
            // Closed its stdout: it is exiting; `fail` says how.
            Ok(Err(err)) if err.kind() == io::ErrorKind::UnexpectedEof => None,
            Err(RecvTimeoutError::Disconnected) => None,
            Ok(Err(err)) => Some(format!("sent a malformed frame ({err})")),
            Err(RecvTimeoutError::Timeout) => Some(format!(
                "did not answer within {} and was killed",
                human_duration(timeout)
            )),
        };
        Err(self.fail(stage, mark, what.as_deref()))
    }

    /// Make sure the process is gone and describe the failure: `what` went wrong, in which
    /// case the worker is killed at once, or, for `None`, how the worker ended by itself (its
    /// exit status or signal). Then the stderr written since `mark`.
    fn fail(&self, stage: Stage, mark: u64, what: Option<&str>) -> WorkerFailure {
        // A thread may hold stdin, blocked writing to a worker that does not read: that write
        // fails once the process is gone, so then stdin is closed after the kill.
        if let Ok(mut stdin) = self.stdin.try_lock() {
            *stdin = None;
        }
        let pid = self.pid;
        let summary = {
            let mut child = self.child.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(what) = what {
                kill(&mut child);
                format!("worker process {pid} {what}")
            } else {
                match wait_or_kill(&mut child, EXIT_GRACE) {
                    Ok(status) => format!("worker process {pid} exited with {status}"),
                    Err(None) => format!("worker process {pid} closed its output; killed it"),
                    Err(Some(err)) => format!("worker process {pid} vanished ({err})"),
                }
            }
        };
        self.close_stdin();
        // The stderr thread ends when the pipe closes; grandchildren could keep it open.
        let _ = self.stderr_done.recv_timeout(EXIT_GRACE);
        let stderr = self.stderr.lock().unwrap().since(mark);
        WorkerFailure {
            stage,
            summary,
            stderr,
        }
    }

    /// Wait for the worker to exit on its own after [`Worker::close_stdin`]; kill it after
    /// `grace`.
    pub fn shutdown(&self, grace: Duration) {
        self.close_stdin();
        let _ = wait_or_kill(
            &mut self.child.lock().unwrap_or_else(PoisonError::into_inner),
            grace,
        );
    }

    /// Close stdin without waiting; pair with [`Worker::shutdown`] to stop many at once.
    pub fn close_stdin(&self) {
        *self.stdin.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Normally already reaped; otherwise do not leave a process or a zombie behind.
        let child = self.child.get_mut().unwrap_or_else(PoisonError::into_inner);
        if !matches!(child.try_wait(), Ok(Some(_))) {
            kill(child);
        }
    }
}

/// Kill (with its process group) and reap.
fn kill(child: &mut Child) {
    crate::support::process::kill(child);
}

/// Wait up to `grace` for the child to exit on its own: its status; otherwise kill (and reap)
/// it: `Err(None)`, or `Err(Some(_))` when even waiting failed.
fn wait_or_kill(child: &mut Child, grace: Duration) -> Result<ExitStatus, Option<io::Error>> {
    let deadline = Instant::now() + grace;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                kill(child);
                return Err(None);
            }
            Err(err) => {
                kill(child);
                return Err(Some(err));
            }
        }
    }
}

/// Read one length-prefixed frame; `UnexpectedEof` when the stream ends, even between frames.
fn read_frame(reader: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut length = [0u8; 4];
    reader.read_exact(&mut length)?;
    let length = u32::from_le_bytes(length) as usize;
    if length > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {length} bytes"),
        ));
    }
    let mut frame = vec![0u8; length];
    reader.read_exact(&mut frame)?;
    Ok(frame)
}

/// The request frame, length prefix included.
fn encode_request(id: u64, request: &CompileRequest) -> Result<Vec<u8>, String> {
    let dfile = request.dfile.as_bytes();
    let length = 8 + 1 + 4 + dfile.len() + request.source.len();
    let Ok(length32) = u32::try_from(length) else {
        return Err(format!("got a request too large to send ({length} bytes)"));
    };
    let mut frame = Vec::with_capacity(4 + length);
    frame.extend_from_slice(&length32.to_le_bytes());
    frame.extend_from_slice(&id.to_le_bytes());
    frame.push(request.options.to_byte());
    frame.extend_from_slice(&(dfile.len() as u32).to_le_bytes());
    frame.extend_from_slice(dfile);
    frame.extend_from_slice(&request.source);
    Ok(frame)
}

/// Parse a response frame to request `id`; the error says how it broke the protocol.
fn decode_response(id: u64, frame: Vec<u8>) -> Result<CompileOutcome, String> {
    let Some((header, rest)) = frame.split_first_chunk::<9>() else {
        return Err(format!(
            "sent a response of {} bytes, too short",
            frame.len()
        ));
    };
    let (answered, status) = header.split_at(8);
    let answered = u64::from_le_bytes(answered.try_into().expect("8 bytes"));
    if answered != id {
        return Err(format!(
            "answered request {answered} when request {id} was asked (protocol error)"
        ));
    }
    match status[0] {
        0 => {
            // The code is most of the frame: shift it down rather than copy it.
            let mut frame = frame;
            frame.drain(..9);
            Ok(CompileOutcome::code(frame))
        }
        WARNED => {
            let (warnings, used) = decode_warnings(rest)?;
            match rest.get(used) {
                Some(0) => {
                    let mut frame = frame;
                    // The status 0 after the warnings goes too.
                    frame.drain(..=9 + used);
                    Ok(CompileOutcome::Code(frame, warnings))
                }
                _ => with_warnings(decode_outcome(&rest[used..])?, warnings),
            }
        }
        status => decode_outcome(&[&[status][..], rest].concat()),
    }
}

/// The status of an answer whose warnings come first.
const WARNED: u8 = 3;

/// The outcome an answer gives: its status byte and what follows it; the code is copied.
fn decode_outcome(answer: &[u8]) -> Result<CompileOutcome, String> {
    let Some((&status, rest)) = answer.split_first() else {
        return Err("sent an empty answer (protocol error)".to_string());
    };
    match status {
        0 => Ok(CompileOutcome::code(rest.to_vec())),
        1 => {
            let Some((location, message)) = rest.split_first_chunk::<8>() else {
                return Err("sent a syntax error without a location".to_string());
            };
            let (line, column) = location.split_at(4);
            Ok(CompileOutcome::SyntaxError(
                SyntaxError {
                    line: u32::from_le_bytes(line.try_into().expect("4 bytes")),
                    column: u32::from_le_bytes(column.try_into().expect("4 bytes")),
                    message: String::from_utf8_lossy(message).into_owned(),
                },
                Vec::new(),
            ))
        }
        WARNED => {
            let (warnings, used) = decode_warnings(rest)?;
            with_warnings(decode_outcome(&rest[used..])?, warnings)
        }
        other => Err(format!("sent unknown status {other} (protocol error)")),
    }
}

/// `outcome`, which must have none of its own, with `warnings`: a status 3 holds one answer.
fn with_warnings(
    outcome: CompileOutcome,
    warnings: Vec<CompileWarning>,
) -> Result<CompileOutcome, String> {
    match outcome {
        CompileOutcome::Code(code, none) if none.is_empty() => {
            Ok(CompileOutcome::Code(code, warnings))
        }
        CompileOutcome::SyntaxError(error, none) if none.is_empty() => {
            Ok(CompileOutcome::SyntaxError(error, warnings))
        }
        _ => Err("sent warnings twice for one module (protocol error)".to_string()),
    }
}

/// The warnings at the start of a status 3 answer, and how many bytes they take.
fn decode_warnings(bytes: &[u8]) -> Result<(Vec<CompileWarning>, usize), String> {
    let mut at = 0;
    let count = take_u32(bytes, &mut at)?;
    let mut warnings = Vec::new();
    for _ in 0..count {
        let line = take_u32(bytes, &mut at)?;
        let category = take_text(bytes, &mut at)?;
        let message = take_text(bytes, &mut at)?;
        warnings.push(CompileWarning {
            line,
            category,
            message,
        });
    }
    Ok((warnings, at))
}

fn take_u32(bytes: &[u8], at: &mut usize) -> Result<u32, String> {
    let Some(value) = bytes.get(*at..*at + 4) else {
        return Err("sent warnings cut short (protocol error)".to_string());
    };
    *at += 4;
    Ok(u32::from_le_bytes(value.try_into().expect("4 bytes")))
}

/// A `u32` length and that much UTF-8 (lossy).
fn take_text(bytes: &[u8], at: &mut usize) -> Result<String, String> {
    let length = take_u32(bytes, at)? as usize;
    let Some(text) = at.checked_add(length).and_then(|end| bytes.get(*at..end)) else {
        return Err("sent warnings cut short (protocol error)".to_string());
    };
    *at += length;
    Ok(String::from_utf8_lossy(text).into_owned())
}

/// The options byte of a batch request frame.
const BATCH: u8 = 0x80;

/// The status of a batch's answer.
const BATCH_ANSWER: u8 = 2;

/// A batch request frame, length prefix included: the id, [`BATCH`], the count, then per
/// module its options byte, dfile and source, each with its length.
fn encode_batch(id: u64, requests: &[&CompileRequest]) -> Result<Vec<u8>, String> {
    let length = 8
        + 1
        + 4
        + requests
            .iter()
            .map(|request| 1 + 4 + request.dfile.len() + 4 + request.source.len())
            .sum::<usize>();
    let (Ok(length32), Ok(count)) = (u32::try_from(length), u32::try_from(requests.len())) else {
        return Err(format!("got a request too large to send ({length} bytes)"));
    };
    let mut frame = Vec::with_capacity(4 + length);
    frame.extend_from_slice(&length32.to_le_bytes());
    frame.extend_from_slice(&id.to_le_bytes());
    frame.push(BATCH);
    frame.extend_from_slice(&count.to_le_bytes());
    for request in requests {
        frame.push(request.options.to_byte());
        frame.extend_from_slice(&(request.dfile.len() as u32).to_le_bytes());
        frame.extend_from_slice(request.dfile.as_bytes());
        frame.extend_from_slice(&(request.source.len() as u32).to_le_bytes());
        frame.extend_from_slice(&request.source);
    }
    Ok(frame)
}

/// Parse the answer to batch request `id` of `count` modules; the error says how it broke the
/// protocol.
fn decode_batch(id: u64, count: usize, frame: &[u8]) -> Result<Vec<CompileOutcome>, String> {
    let Some((header, mut rest)) = frame.split_first_chunk::<13>() else {
        return Err(format!(
            "sent a batch answer of {} bytes, too short",
            frame.len()
        ));
    };
    let answered = u64::from_le_bytes(header[..8].try_into().expect("8 bytes"));
    let status = header[8];
    let answered_count = u32::from_le_bytes(header[9..].try_into().expect("4 bytes")) as usize;
    if answered != id || status != BATCH_ANSWER || answered_count != count {
        return Err(format!(
            "answered request {answered} with status {status} and {answered_count} modules \
             when request {id} asked for {count} (protocol error)"
        ));
    }
    let mut outcomes = Vec::with_capacity(count);
    for _ in 0..count {
        let Some((length, after)) = rest.split_first_chunk::<4>() else {
            return Err("sent a batch answer cut short (protocol error)".to_string());
        };
        let length = u32::from_le_bytes(*length) as usize;
        if after.len() < length {
            return Err("sent a batch answer cut short (protocol error)".to_string());
        }
        let (one, after) = after.split_at(length);
        if one.is_empty() {
            return Err("sent an empty answer in a batch (protocol error)".to_string());
        }
        outcomes.push(decode_outcome(one)?);
        rest = after;
    }
    if !rest.is_empty() {
        return Err(format!(
            "sent {} bytes after the last answer of a batch (protocol error)",
            rest.len()
        ));
    }
    Ok(outcomes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

/// `120s`, `1.5s`, `250ms`.
fn human_duration(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{}ms", duration.as_millis())
    } else {
        format!("{}s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(dfile: &str, source: &[u8]) -> CompileRequest {
        CompileRequest {
            source: source.into(),
            dfile: dfile.to_string(),
            options: crate::compile::CodeOptions::new(crate::compile::Optimize::Two),
        }
    }

    #[test]
    fn request_frame_layout() {
        let frame = encode_request(7, &request("a.py", b"x=1")).unwrap();
        let expected: Vec<u8> = [
            &20u32.to_le_bytes()[..],
            &7u64.to_le_bytes(),
            &[2],
            &4u32.to_le_bytes(),
            b"a.py",
            b"x=1",
        ]
        .concat();
        assert_eq!(frame, expected);
        let mut reader = &frame[..];
        assert_eq!(read_frame(&mut reader).unwrap(), &expected[4..]);
        assert_eq!(
            read_frame(&mut reader).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
    }

    #[test]
    fn responses_decode_and_ids_are_checked() {
        let code = [&3u64.to_le_bytes()[..], &[0], b"\xe3code"].concat();
        assert_eq!(
            decode_response(3, code.clone()).unwrap(),
            CompileOutcome::code(b"\xe3code".to_vec())
        );
        let error = [
            &3u64.to_le_bytes()[..],
            &[1],
            &2u32.to_le_bytes(),
            &5u32.to_le_bytes(),
            b"invalid syntax",
        ]
        .concat();
        assert_eq!(
            decode_response(3, error.clone()).unwrap(),
            CompileOutcome::SyntaxError(
                SyntaxError {
                    line: 2,
                    column: 5,
                    message: "invalid syntax".to_string()
                },
                Vec::new()
            )
        );
        assert_eq!(
            decode_response(4, code.clone()).unwrap_err(),
            "answered request 3 when request 4 was asked (protocol error)"
        );
        assert_eq!(
            decode_response(3, code[..5].to_vec()).unwrap_err(),
            "sent a response of 5 bytes, too short"
        );
    }

    #[test]
    fn batch_frames_carry_each_module_and_answers_are_checked() {
        let (a, b) = (request("a.py", b"x=1"), request("bc.py", b""));
        let frame = encode_batch(9, &[&a, &b]).unwrap();
        let expected: Vec<u8> = [
            &43u32.to_le_bytes()[..],
            &9u64.to_le_bytes(),
            &[BATCH],
            &2u32.to_le_bytes(),
            &[2],
            &4u32.to_le_bytes(),
            b"a.py",
            &3u32.to_le_bytes(),
            b"x=1",
            &[2],
            &5u32.to_le_bytes(),
            b"bc.py",
            &0u32.to_le_bytes(),
        ]
        .concat();
        assert_eq!(frame, expected);

        let error = [&[1u8][..], &3u32.to_le_bytes(), &1u32.to_le_bytes(), b"bad"].concat();
        let answer = |id: u64, count: u32, parts: &[&[u8]]| -> Vec<u8> {
            let mut frame = [&id.to_le_bytes()[..], &[BATCH_ANSWER], &count.to_le_bytes()].concat();
            for part in parts {
                frame.extend_from_slice(&(part.len() as u32).to_le_bytes());
                frame.extend_from_slice(part);
            }
            frame
        };
        let good = answer(9, 2, &[b"\0\xe3code", &error]);
        assert_eq!(
            decode_batch(9, 2, &good).unwrap(),
            vec![
                CompileOutcome::code(b"\xe3code".to_vec()),
                CompileOutcome::SyntaxError(
                    SyntaxError {
                        line: 3,
                        column: 1,
                        message: "bad".to_string()
                    },
                    Vec::new()
                )
            ]
        );
        assert!(decode_batch(8, 2, &good).is_err(), "another id");
        assert!(decode_batch(9, 3, &good).is_err(), "another count");
        assert!(
            decode_batch(9, 2, &good[..good.len() - 1]).is_err(),
            "cut short"
        );
        assert!(
            decode_batch(9, 2, &[&good[..], b"x"].concat()).is_err(),
            "trailing bytes"
        );
        assert!(
            decode_batch(9, 1, &answer(9, 1, &[b""])).is_err(),
            "empty answer"
        );
        assert!(
            decode_batch(9, 1, &answer(9, 1, &[b"\x07"])).is_err(),
            "unknown status"
        );
    }

    /// Status 3 as the worker writes it: the warnings, then the answer they belong to.
    fn warned(warnings: &[(u32, &str, &str)], answer: &[u8]) -> Vec<u8> {
        let mut bytes = vec![WARNED];
        bytes.extend_from_slice(&(warnings.len() as u32).to_le_bytes());
        for (line, category, message) in warnings {
            bytes.extend_from_slice(&line.to_le_bytes());
            for text in [category, message] {
                bytes.extend_from_slice(&(text.len() as u32).to_le_bytes());
                bytes.extend_from_slice(text.as_bytes());
            }
        }
        bytes.extend_from_slice(answer);
        bytes
    }

    fn warning(line: u32, category: &str, message: &str) -> CompileWarning {
        CompileWarning {
            line,
            category: category.to_owned(),
            message: message.to_owned(),
        }
    }

    #[test]
    fn warnings_decode_before_code_and_syntax_errors() {
        let escape = (2, "SyntaxWarning", "invalid escape sequence '\\d'");
        let literal = (
            3,
            "SyntaxWarning",
            "\"is\" with 'int' literal. Did you mean \"==\"?",
        );
        let code = warned(&[escape, literal], b"\0\xe3code");
        let frame = [&5u64.to_le_bytes()[..], &code].concat();
        assert_eq!(
            decode_response(5, frame).unwrap(),
            CompileOutcome::Code(
                b"\xe3code".to_vec(),
                vec![
                    warning(2, "SyntaxWarning", "invalid escape sequence '\\d'"),
                    warning(3, literal.1, literal.2)
                ]
            )
        );
        let error = [&[1u8][..], &4u32.to_le_bytes(), &7u32.to_le_bytes(), b"bad"].concat();
        let failed = warned(&[escape], &error);
        let frame = [&5u64.to_le_bytes()[..], &failed].concat();
        let expected = CompileOutcome::SyntaxError(
            SyntaxError {
                line: 4,
                column: 7,
                message: "bad".to_string(),
            },
            vec![warning(2, escape.1, escape.2)],
        );
        assert_eq!(decode_response(5, frame).unwrap(), expected);
        // In a batch, each module's answer may be warned.
        let answer = [
            &5u64.to_le_bytes()[..],
            &[BATCH_ANSWER],
            &2u32.to_le_bytes(),
            &(failed.len() as u32).to_le_bytes(),
            &failed,
            &2u32.to_le_bytes(),
            b"\0c",
        ]
        .concat();
        assert_eq!(
            decode_batch(5, 2, &answer).unwrap(),
            vec![expected, CompileOutcome::code(b"c".to_vec())]
        );
        // Zero warnings is a valid (if wasteful) status 3.
        assert_eq!(
            decode_outcome(&warned(&[], b"\0c")).unwrap(),
            CompileOutcome::code(b"c".to_vec())
        );
    }

    #[test]
    fn broken_warnings_are_protocol_errors() {
        let whole = warned(&[(2, "SyntaxWarning", "text")], b"\0c");
        for cut in 1..whole.len() - 2 {
            assert!(
                decode_outcome(&whole[..cut]).is_err(),
                "cut after {cut} bytes"
            );
        }
        // A count larger than what follows.
        let mut lying = whole.clone();
        lying[1] = 9;
        assert!(decode_outcome(&lying).is_err());
        // Warnings about warnings, or with nothing after them.
        let twice = warned(&[(1, "SyntaxWarning", "a")], &whole);
        assert_eq!(
            decode_outcome(&twice).unwrap_err(),
            "sent warnings twice for one module (protocol error)"
        );
        assert!(decode_outcome(&warned(&[], b"")).is_err());
        assert!(decode_outcome(&warned(&[], b"\x02")).is_err());
    }

    #[test]
    fn stderr_tail_keeps_the_end() {
        let mut tail = StderrTail::default();
        tail.push(b"old\n");
        let mark = tail.total;
        tail.push(b"simulated crash\n");
        assert_eq!(tail.since(mark), "simulated crash");
        tail.push(&vec![b'x'; STDERR_TAIL + 10]);
        assert_eq!(tail.bytes.len(), STDERR_TAIL);
        assert_eq!(tail.since(0).len(), STDERR_TAIL);
    }
}
