//! Interrupts and hangs: SIGINT/SIGTERM stop a build with one line and leave no staging, a
//! SIGKILLed build's workers die with it and its staging is swept by the next build (a live
//! build's is not), and a hanging interpreter meets a deadline.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Pyship, copy_fixture, pythons};

/// `pyship ARGS` started in the background with the test environment of
/// [`pyship`](crate::common::pyship) and `envs`.
fn spawn(args: &[&std::ffi::OsStr], envs: &[(&str, &Path)], cache: &Path) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("pyship"))
        .args(args)
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("XDG_CACHE_HOME")
        .env("PYSHIP_CACHE_DIR", cache)
        .env("NO_COLOR", "1")
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Poll `condition` for up to `limit`.
fn wait_for(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    condition()
}

/// The child's status, killing it (and failing) if it takes longer than `limit`.
fn wait_exit(child: &mut Child, limit: Duration) -> ExitStatus {
    let mut status = None;
    wait_for(limit, || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    status.unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("pyship did not exit within {limit:?}");
    })
}

fn stderr_of(child: &mut Child) -> String {
    use std::io::Read;
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    stderr
}

/// Entries of `dir` named `.pyship-*`.
fn staging(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.file_name().to_string_lossy().starts_with(".pyship-"))
        .map(|entry| entry.path())
        .collect();
    found.sort();
    found
}

/// Pids that workers logged through `PYSHIP_TEST_PID_LOG`.
fn logged_pids(log: &Path) -> Vec<i32> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.trim().parse().ok())
        .collect()
}

/// Whether `pid` is a live process (a zombie is dead).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat.rsplit(')').next().unwrap_or("").trim_start();
        !state.starts_with('Z') && !state.starts_with('X')
    })
}

fn signal(child: &Child, signal: i32) {
    // SAFETY: plain system call on our own child.
    let sent = unsafe { libc::kill(child.id() as i32, signal) };
    assert_eq!(sent, 0);
}

/// A build of `flat` as a dir and a zip into `out`, whose worker hangs on `app.py`, started in
/// the background; returns once it is mid-compile with its staging in `out`.
fn hanging_build(project: &Path, out: &Path, python: &Path, log: &Path, cache: &Path) -> Child {
    let before = staging(out);
    let mut child = spawn(
        &[
            "build".as_ref(),
            project.as_os_str(),
            "-f".as_ref(),
            "dir".as_ref(),
            "-f".as_ref(),
            "zip".as_ref(),
            "-o".as_ref(),
            out.as_os_str(),
            "-p".as_ref(),
            python.as_os_str(),
        ],
        &[
            ("PYSHIP_TEST_HANG_DFILE", Path::new("app.py")),
            ("PYSHIP_TEST_PID_LOG", log),
        ],
        cache,
    );
    let started = wait_for(Duration::from_secs(30), || {
        let new = staging(out)
            .into_iter()
            .filter(|path| !before.contains(path))
            .count();
        new >= 2 && !logged_pids(log).is_empty()
    });
    if !started {
        let _ = child.kill();
        panic!("the build did not start: {}", stderr_of(&mut child));
    }
    // Give the workers time to reach the hanging module.
    std::thread::sleep(Duration::from_millis(500));
    child
}

#[test]
fn sigint_and_sigterm_stop_a_build_and_leave_no_staging() {
    let Some(python) = pythons().pop() else {
        return;
    };
    for (number, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let (temp, project) = copy_fixture("flat");
        let out = temp.path().join("out");
        let log = temp.path().join("pids");
        let mut child = hanging_build(&project, &out, &python.path, &log, temp.path());
        signal(&child, number);
        let status = wait_exit(&mut child, Duration::from_secs(10));
        let stderr = stderr_of(&mut child);
        assert_eq!(status.code(), Some(code), "{stderr}");
        assert_eq!(stderr, "error: Interrupted\n");
        assert_eq!(staging(&out), Vec::<PathBuf>::new());
        assert!(!out.exists(), "the out-dir it created is removed");
        let pids = logged_pids(&log);
        assert!(
            wait_for(Duration::from_secs(5), || !pids
                .iter()
                .any(|&pid| alive(pid))),
            "workers {pids:?} outlived the build"
        );
    }
}

#[test]
fn a_sigkilled_build_leaves_no_worker_and_its_staging_is_swept_by_the_next() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let (temp, project) = copy_fixture("flat");
    let out = temp.path().join("out");
    let log = temp.path().join("killed-pids");
    let mut killed = hanging_build(&project, &out, &python.path, &log, temp.path());
    killed.kill().unwrap();
    killed.wait().unwrap();
    let pids = logged_pids(&log);
    assert!(
        wait_for(Duration::from_secs(5), || !pids
            .iter()
            .any(|&pid| alive(pid))),
        "workers {pids:?} outlived the SIGKILLed build"
    );
    let left = staging(&out);
    assert_eq!(left.len(), 2, "{left:?}");

    // A live build sweeps the dead one's staging, not its own.
    let live_log = temp.path().join("live-pids");
    let mut live = hanging_build(&project, &out, &python.path, &live_log, temp.path());
    let ours = staging(&out);
    assert!(left.iter().all(|path| !ours.contains(path)), "{ours:?}");
    assert_eq!(ours.len(), 2, "{ours:?}");

    // Another build into the same out-dir leaves the live one's staging alone.
    Pyship::build(&project)
        .args(["-f", "dir", "-f", "zip"])
        .out(&out)
        .python(&python)
        .succeeds();
    assert_eq!(staging(&out), ours);

    signal(&live, libc::SIGTERM);
    let status = wait_exit(&mut live, Duration::from_secs(10));
    assert_eq!(status.code(), Some(143), "{}", stderr_of(&mut live));
    assert_eq!(staging(&out), Vec::<PathBuf>::new());
}

#[test]
fn compile_in_place_leaves_no_temporary_file_when_interrupted() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let (temp, project) = copy_fixture("flat");
    let log = temp.path().join("pids");
    let hang = project.join("app.py");
    let mut child = spawn(
        &[
            "compile".as_ref(),
            project.as_os_str(),
            "-p".as_ref(),
            python.path.as_os_str(),
        ],
        &[
            ("PYSHIP_TEST_HANG_DFILE", &hang),
            ("PYSHIP_TEST_PID_LOG", &log),
        ],
        temp.path(),
    );
    let pycache = project.join("pkg/__pycache__");
    // The other modules are written while app.py hangs.
    assert!(
        wait_for(Duration::from_secs(30), || {
            std::fs::read_dir(&pycache).is_ok_and(|mut entries| entries.next().is_some())
        }),
        "nothing was compiled"
    );
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, libc::SIGINT);
    let status = wait_exit(&mut child, Duration::from_secs(10));
    let stderr = stderr_of(&mut child);
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert_eq!(stderr, "error: Interrupted\n");
    let mut temporary = Vec::new();
    let mut stack = vec![project.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else if entry.file_name().to_string_lossy().starts_with(".pyship-") {
                temporary.push(entry.path());
            }
        }
    }
    assert_eq!(temporary, Vec::<PathBuf>::new());
}

/// A `python3.14` that never answers: a shell whose child holds its stdout open.
fn hanging_interpreter(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("python3.14");
    std::fs::write(&path, "#!/bin/sh\nsleep 600\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn a_hanging_interpreter_meets_the_probe_deadline() {
    let (temp, project) = copy_fixture("flat");
    let bin = temp.path().join("bin");
    let fake = hanging_interpreter(&bin);
    let path = std::env::join_paths(
        std::iter::once(bin.clone())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    for spec in [fake.as_os_str(), "3.14".as_ref()] {
        let start = Instant::now();
        let output = Pyship::build(&project)
            .env("PYSHIP_PROBE_TIMEOUT", "1")
            .env("PATH", &path)
            .out(&temp.path().join("out"))
            .arg("-p")
            .arg(spec)
            .timeout(Duration::from_secs(20))
            .fails(2);
        assert!(start.elapsed() < Duration::from_secs(10));
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            format!(
                "error: `{}` did not answer within 1s when asked its version, and was killed (set PYSHIP_PROBE_TIMEOUT to wait longer)\n",
                fake.display()
            )
        );
    }
    // `pythons` lists the others and skips the hanging one.
    let start = Instant::now();
    let output = Pyship::new(["pythons"])
        .env("PYSHIP_PROBE_TIMEOUT", "1")
        .env("PATH", &path)
        .timeout(Duration::from_secs(20))
        .succeeds();
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(!String::from_utf8_lossy(&output.stdout).contains(&*fake.to_string_lossy()));
}

/// A package index on loopback that accepts connections and never answers; the receiver hears
/// of each connection.
fn silent_index() -> (String, std::sync::mpsc::Receiver<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/simple/", listener.local_addr().unwrap());
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut open = Vec::new();
        for stream in listener.incoming().flatten() {
            open.push(stream);
            let _ = sender.send(());
        }
    });
    (url, receiver)
}

/// `--with-deps` against a hanging index: pip meets its deadline, or a signal stops it, and its
/// install directory in the temp dir is removed either way.
#[test]
fn a_hanging_pip_meets_its_deadline_or_an_interrupt() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let (temp, project) = copy_fixture("app_with_dep");
    let tmpdir = temp.path().join("tmp");
    std::fs::create_dir_all(&tmpdir).unwrap();
    let (url, connected) = silent_index();
    let index = format!("--pip-arg=--index-url={url}");
    let args = |out: &str| -> Vec<std::ffi::OsString> {
        vec![
            "build".into(),
            project.clone().into(),
            "-f".into(),
            "zip".into(),
            "--with-deps".into(),
            index.clone().into(),
            "--pip-arg=--retries=0".into(),
            "--pip-arg=--timeout=120".into(),
            "-o".into(),
            temp.path().join(out).into(),
            "-p".into(),
            python.path.clone().into(),
        ]
    };

    let start = Instant::now();
    let output = Pyship::new(args("a"))
        .env("PYSHIP_PIP_TIMEOUT", "3")
        .env("TMPDIR", &tmpdir)
        .timeout(Duration::from_secs(60))
        .fails(2);
    assert!(start.elapsed() < Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: `")
            && stderr.contains("-m pip install` did not finish within 3s and was killed"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(&tmpdir).unwrap().count(), 0);
    // Under load pip may not have reached the index before its deadline.
    while connected.try_recv().is_ok() {}

    let args: Vec<std::ffi::OsString> = args("b");
    let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsString::as_os_str).collect();
    let mut child = spawn(&args, &[("TMPDIR", &tmpdir)], temp.path());
    connected
        .recv_timeout(Duration::from_secs(60))
        .expect("pip never asked the index");
    signal(&child, libc::SIGINT);
    let status = wait_exit(&mut child, Duration::from_secs(10));
    let stderr = stderr_of(&mut child);
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert_eq!(stderr, "error: Interrupted\n");
    assert_eq!(std::fs::read_dir(&tmpdir).unwrap().count(), 0);
}
