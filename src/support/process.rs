//! Child processes: how pyship starts and waits for them.
//!
//! [`spawn`] starts every child in its own process group (a terminal's Ctrl-C reaches pyship
//! alone, which then stops its children itself) and, on Linux, with `PR_SET_PDEATHSIG` so that a
//! child dies with pyship even when pyship is SIGKILLed. The kernel sends that signal when the
//! *thread* that forked the child exits, so every child is forked by one thread that lives as
//! long as the process. [`output`] waits for a child with a deadline and stops waiting on an
//! interrupt; either way the child's whole group is killed.

use std::io::{self, Read};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, select};

use crate::support::interrupt;

/// Why [`output`] did not return the child's output.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// The child could not be started.
    #[error("could not start it")]
    Spawn(#[source] io::Error),
    /// It was still running at the deadline; it was killed.
    #[error("it did not finish within {} and was killed", seconds(*.0))]
    TimedOut(Duration),
    /// An interrupt was requested; it was killed.
    #[error("Interrupted")]
    Interrupted,
    /// Waiting for it failed.
    #[error("waiting for it failed")]
    Wait(#[source] io::Error),
}

/// `30s`, `1.5s`.
pub fn seconds(duration: Duration) -> String {
    format!("{}s", duration.as_secs_f64())
}

/// A deadline from the environment variable `name` (seconds, fractions allowed), else
/// `default`: how tests shorten deadlines and users lengthen them.
pub fn deadline_from_env(name: &str, default: Duration) -> Duration {
    std::env::var(name)
        .ok()
        .and_then(|value| value.trim().parse::<f64>().ok())
        .filter(|seconds| seconds.is_finite() && *seconds > 0.0)
        .map_or(default, Duration::from_secs_f64)
}

/// Start `command` as described in the module docs.
pub fn spawn(mut command: Command) -> io::Result<Child> {
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    #[cfg(target_os = "linux")]
    {
        linux::die_with_parent(&mut command);
        linux::spawn(command)
    }
    #[cfg(not(target_os = "linux"))]
    command.spawn()
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io;
    use std::process::{Child, Command};
    use std::sync::{LazyLock, Mutex};

    use crossbeam_channel::Sender;

    type Request = (Command, Sender<io::Result<Child>>);

    /// The thread that forks every child; it is never joined, so it lives as long as pyship.
    static SPAWNER: LazyLock<Option<Mutex<Sender<Request>>>> = LazyLock::new(|| {
        let (sender, receiver) = crossbeam_channel::unbounded::<Request>();
        std::thread::Builder::new()
            .name("pyship-spawner".to_owned())
            .spawn(move || {
                for (mut command, reply) in receiver {
                    let _ = reply.send(command.spawn());
                }
            })
            .ok()
            .map(|_| Mutex::new(sender))
    });

    /// Spawn on the spawner thread (or here, if it could not be started).
    pub(super) fn spawn(mut command: Command) -> io::Result<Child> {
        let Some(spawner) = SPAWNER.as_ref() else {
            return command.spawn();
        };
        let (reply, answer) = crossbeam_channel::bounded(1);
        let sent = spawner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .send((command, reply));
        if sent.is_err() {
            return Err(io::Error::other("the process spawner thread is gone"));
        }
        answer
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("the process spawner thread is gone")))
    }

    /// SIGKILL the child when pyship's spawner thread (so pyship) dies.
    pub(super) fn die_with_parent(command: &mut Command) {
        use std::os::unix::process::CommandExt;
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: the closure only makes async-signal-safe system calls and allocates nothing.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                    return Err(io::Error::last_os_error());
                }
                // pyship died between fork and prctl: the signal will never come.
                if libc::getppid() != parent {
                    return Err(io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
    }
}

/// Kill `child` and its process group, then reap it. The child must not have been reaped yet
/// (so its pid, which names the group, cannot have been reused).
pub fn kill(child: &mut Child) {
    #[cfg(unix)]
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: plain system call; the group is the child's own (see `spawn`).
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Read `pipe` to its end on a thread; the receiver gets the bytes.
fn drain(pipe: Option<impl Read + Send + 'static>) -> Receiver<Vec<u8>> {
    let (sender, receiver) = crossbeam_channel::bounded(1);
    match pipe {
        Some(mut pipe) => {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                let _ = sender.send(bytes);
            });
        }
        None => {
            let _ = sender.send(Vec::new());
        }
    }
    receiver
}

/// Run `command` with stdin closed and stdout and stderr captured, as [`spawn`] starts it, and
/// wait at most `deadline` for it; an interrupt stops the wait too.
pub fn output(mut command: Command, deadline: Duration) -> Result<Output, WaitError> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = spawn(command).map_err(WaitError::Spawn)?;
    let until = Instant::now() + deadline;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let interrupt = interrupt::receiver();
    // The pipes close when the child exits (or hands them on): wait for that first, so the
    // usual fast exit costs no polling.
    let (mut out, mut err) = (None, None);
    while out.is_none() || err.is_none() {
        let left = until.saturating_duration_since(Instant::now());
        // A drained pipe's channel stays ready (disconnected): stop listening to it.
        let pending = |channel: &Receiver<Vec<u8>>, done: bool| {
            if done {
                crossbeam_channel::never()
            } else {
                channel.clone()
            }
        };
        let (stdout, stderr) = (
            pending(&stdout, out.is_some()),
            pending(&stderr, err.is_some()),
        );
        select! {
            recv(stdout) -> bytes => out = Some(bytes.unwrap_or_default()),
            recv(stderr) -> bytes => err = Some(bytes.unwrap_or_default()),
            recv(interrupt) -> _ => {
                kill(&mut child);
                return Err(WaitError::Interrupted);
            }
            default(left) => {
                kill(&mut child);
                return Err(WaitError::TimedOut(deadline));
            }
        }
    }
    let status = wait(&mut child, until, deadline)?;
    Ok(Output {
        status,
        stdout: out.unwrap_or_default(),
        stderr: err.unwrap_or_default(),
    })
}

/// The exit status of `child`, polled until `until`; killed after it or on an interrupt.
fn wait(child: &mut Child, until: Instant, deadline: Duration) -> Result<ExitStatus, WaitError> {
    let interrupt = interrupt::receiver();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) => {}
            Err(err) => {
                kill(child);
                return Err(WaitError::Wait(err));
            }
        }
        if Instant::now() >= until {
            kill(child);
            return Err(WaitError::TimedOut(deadline));
        }
        select! {
            recv(interrupt) -> _ => {
                kill(child);
                return Err(WaitError::Interrupted);
            }
            default(Duration::from_millis(1)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_hanging_child_and_its_children_are_killed_at_the_deadline() {
        let mut command = Command::new("sh");
        command.args(["-c", "sleep 30 & sleep 30"]);
        let start = Instant::now();
        let err = output(command, Duration::from_millis(200)).unwrap_err();
        assert!(matches!(err, WaitError::TimedOut(_)), "{err:?}");
        // The grandchild held stdout open: returning at all shows the group was killed.
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[cfg(unix)]
    #[test]
    fn output_is_captured_whichever_pipe_closes_first() {
        for script in [
            "echo out; exec 1>&-; sleep 0.2; echo err >&2",
            "echo err >&2; exec 2>&-; sleep 0.2; echo out",
        ] {
            let mut command = Command::new("sh");
            command.args(["-c", script]);
            let output = output(command, Duration::from_secs(10)).unwrap();
            assert_eq!(output.stdout, b"out\n", "{script}");
            assert_eq!(output.stderr, b"err\n", "{script}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn output_is_captured() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo out; echo err >&2; exit 3"]);
        let output = output(command, Duration::from_secs(10)).unwrap();
        assert_eq!(output.stdout, b"out\n");
        assert_eq!(output.stderr, b"err\n");
        assert_eq!(output.status.code(), Some(3));
    }
}
