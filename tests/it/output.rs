//! What pyship prints: never a panic on a closed or full stdout or stderr, one `error:` line per
//! failure (with its `hint:`), file names escaped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::{self, Pyship, Python, copy_fixture, copy_tree, fixture, pythons};

/// A `pyship` command as [`pyship`] makes it, but a plain [`Command`], so stdout and stderr can
/// be any file.
fn pyship_std(cache: &Path) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("pyship"));
    command
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("XDG_CACHE_HOME")
        .env("PYSHIP_CACHE_DIR", cache)
        .env("NO_COLOR", "1");
    command
}

/// The write end of a pipe whose read end is already closed: writing to it fails with EPIPE.
fn closed_pipe() -> Stdio {
    // The stdin of a process that has exited (`std::io::pipe` is newer than the MSRV).
    let mut reader = Command::new("true").stdin(Stdio::piped()).spawn().unwrap();
    let writer = reader.stdin.take().unwrap();
    reader.wait().unwrap();
    Stdio::from(writer)
}

/// `/dev/full`: every write fails with ENOSPC, as on a full disk.
fn dev_full() -> Stdio {
    Stdio::from(
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap(),
    )
}

/// Every subcommand, ready to run against a copy of `flat` with `python`: (name, arguments).
fn every_subcommand(dir: &Path, python: &Python) -> Vec<(&'static str, Vec<PathBuf>)> {
    let project = dir.join("flat");
    if !project.exists() {
        copy_tree(&fixture("flat"), &project);
        copy_tree(&fixture("flat"), &dir.join("inplace"));
    }
    let cache = dir.join("cache");
    let args = |list: &[&dyn AsRef<std::ffi::OsStr>]| -> Vec<PathBuf> {
        list.iter().map(|arg| PathBuf::from(arg.as_ref())).collect()
    };
    vec![
        (
            "build",
            args(&[
                &"build",
                &project,
                &"-o",
                &dir.join("out"),
                &"-p",
                &python.path,
                &"-f",
                &"zip",
                &"-v",
            ]),
        ),
        (
            "compile",
            args(&[&"compile", &dir.join("inplace"), &"-p", &python.path, &"-v"]),
        ),
        ("pythons", args(&[&"pythons"])),
        ("pythons --json", args(&[&"pythons", &"--json"])),
        (
            "cache dir",
            args(&[&"cache", &"dir", &"--cache-dir", &cache]),
        ),
        (
            "cache info",
            args(&[&"cache", &"info", &"--cache-dir", &cache]),
        ),
        (
            "cache info --json",
            args(&[&"cache", &"info", &"--json", &"--cache-dir", &cache]),
        ),
        (
            "cache prune",
            args(&[&"cache", &"prune", &"--cache-dir", &cache]),
        ),
        (
            "cache clean",
            args(&[&"cache", &"clean", &"--cache-dir", &cache]),
        ),
        ("completions", args(&[&"completions", &"bash"])),
        ("man", args(&[&"man"])),
        ("--version", args(&[&"--version"])),
        ("--help", args(&[&"--help"])),
    ]
}

fn run(cache: &Path, args: &[PathBuf], stdout: Stdio, stderr: Stdio) -> Output {
    pyship_std(cache)
        .args(args)
        .stdout(stdout)
        .stderr(stderr)
        .output()
        .unwrap()
}

fn assert_no_panic(name: &str, where_: &str, output: &Output) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(
        output.status.code(),
        Some(101),
        "`{name}` panicked with {where_}:\n{stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "`{name}` panicked with {where_}:\n{stderr}"
    );
}

#[test]
fn a_closed_or_full_stdout_never_panics() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let cache = temp.path().join("cache");
    for (name, args) in every_subcommand(temp.path(), &python) {
        // What the command does with a stdout that works: it succeeds, and says something on
        // stdout or not.
        let normal = run(&cache, &args, Stdio::piped(), Stdio::piped());
        assert_eq!(
            normal.status.code(),
            Some(0),
            "`{name}`:\n{}",
            String::from_utf8_lossy(&normal.stderr)
        );
        let writes_stdout = !normal.stdout.is_empty();

        // The reader has gone: the command ends quietly, with the exit code it would have had.
        let closed = run(&cache, &args, closed_pipe(), Stdio::piped());
        assert_no_panic(name, "stdout closed", &closed);
        let stderr = String::from_utf8_lossy(&closed.stderr);
        assert_eq!(closed.status.code(), Some(0), "`{name}`:\n{stderr}");
        assert!(!stderr.contains("error"), "`{name}`:\n{stderr}");

        // A full disk: one error line and exit 2 when there was something to write.
        let full = run(&cache, &args, dev_full(), Stdio::piped());
        assert_no_panic(name, "stdout on /dev/full", &full);
        let stderr = String::from_utf8_lossy(&full.stderr);
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|line| line.starts_with("error"))
            .collect();
        if writes_stdout {
            assert_eq!(full.status.code(), Some(2), "`{name}`:\n{stderr}");
            assert_eq!(
                errors,
                ["error: Failed to write to stdout: No space left on device (os error 28)"],
                "`{name}`:\n{stderr}"
            );
        } else {
            assert_eq!(full.status.code(), Some(0), "`{name}`:\n{stderr}");
            assert!(errors.is_empty(), "`{name}`:\n{stderr}");
        }
    }
    // The build behind the closed pipe still wrote its artifact.
    assert!(
        temp.path()
            .join("out")
            .join(format!("flat-cp3{}.zip", python.minor))
            .is_file()
    );
}

#[test]
fn quiet_leaves_only_data_and_verbose_only_adds_where_it_says() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let cache = temp.path().join("cache");
    for (name, mut args) in every_subcommand(temp.path(), &python) {
        args.retain(|arg| arg != Path::new("-v"));
        args.push("-q".into());
        let quiet = run(&cache, &args, Stdio::piped(), Stdio::piped());
        assert_eq!(quiet.status.code(), Some(0), "`{name} -q`");
        assert_eq!(
            String::from_utf8_lossy(&quiet.stderr),
            "",
            "`{name} -q` printed messages"
        );
        // `-v` is about compiling: every other command says the same with it as without.
        // (Each run right after another, so `cache clean` finds the same empty cache.)
        if !["build", "compile"].contains(&name) && !name.starts_with("--") {
            args.pop();
            let plain = run(&cache, &args, Stdio::piped(), Stdio::piped());
            args.push("-v".into());
            let verbose = run(&cache, &args, Stdio::piped(), Stdio::piped());
            let text = |output: &Output| {
                (
                    String::from_utf8_lossy(&output.stdout).into_owned(),
                    String::from_utf8_lossy(&output.stderr).into_owned(),
                )
            };
            assert_eq!(text(&verbose), text(&plain), "`{name} -v`");
        }
    }
}

#[test]
fn a_closed_or_full_stderr_never_panics() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let cache = temp.path().join("cache");
    let mut commands = every_subcommand(temp.path(), &python);
    // And a failure, whose error line has nowhere to go.
    commands.push((
        "failing build",
        vec![PathBuf::from("build"), temp.path().join("missing")],
    ));
    for (name, args) in commands {
        let expected = if name == "failing build" { 2 } else { 0 };
        for (where_, stderr) in [
            ("stderr closed", closed_pipe as fn() -> Stdio),
            ("stderr on /dev/full", dev_full),
        ] {
            let output = run(&cache, &args, Stdio::piped(), stderr());
            assert_no_panic(name, where_, &output);
            assert_eq!(
                output.status.code(),
                Some(expected),
                "`{name}` with {where_}"
            );
        }
    }
}

#[test]
fn a_full_disk_is_one_error_line_in_every_format() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let (temp, project) = copy_fixture("hello");
    // Incompressible, so every artifact outgrows the limit below.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let noise: Vec<u8> = (0..1_000_000)
        .map(|_| {
            // xorshift64
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect();
    std::fs::write(project.join("src/hello/noise.bin"), noise).unwrap();
    for format in ["dir", "zip", "wheel", "zipapp"] {
        let out = temp.path().join(format!("out-{format}"));
        // A file size limit makes writes past it fail (EFBIG) as a full disk would, without
        // root tricks; SIGXFSZ is ignored so the write fails instead of killing the process,
        // and the ignored disposition survives `exec`.
        let output = Command::new("/bin/sh")
            .arg("-c")
            .arg("ulimit -f 128 && trap '' XFSZ && exec \"$0\" \"$@\"")
            .arg(assert_cmd::cargo::cargo_bin("pyship"))
            .args(["build", "-f", format, "-p"])
            .arg(&python.path)
            .arg("-o")
            .arg(&out)
            .arg(&project)
            .env("PYSHIP_CACHE_DIR", temp.path().join("cache"))
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{format}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{format}: {stderr}");
        assert!(
            stderr.starts_with("error: ")
                && stderr.trim_end().ends_with("File too large (os error 27)"),
            "{format}: {stderr}"
        );
        let kept: Vec<_> = std::fs::read_dir(&out)
            .map(|entries| entries.map(|entry| entry.unwrap().file_name()).collect())
            .unwrap_or_default();
        assert!(
            kept.iter()
                .all(|name| name.to_string_lossy().starts_with(".pyship-")),
            "{format}: an artifact was kept: {kept:?}"
        );
    }
}

#[test]
fn errors_show_their_hint() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let (temp, project) = copy_fixture("hello");
    // A venv of the same CPython is another interpreter of the same version: both targets'
    // zips would have one name.
    let venv = temp.path().join("venv");
    let created = python.run(&["-m", "venv", "--without-pip", venv.to_str().unwrap()]);
    assert!(created.status.success());
    let output = Pyship::build(&project)
        .out(&temp.path().join("out"))
        .args(["-f", "zip", "-p"])
        .arg(venv.join("bin").join("python"))
        .python(&python)
        .fails(2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with("error: Two artifacts of this build would both be written to"),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with("hint: ") && lines[1].contains("same Python version"),
        "{stderr}"
    );
}

#[test]
fn an_invalid_pattern_is_an_error() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let (temp, project) = copy_fixture("flat");
    for option in ["--exclude", "--keep-source"] {
        let out = temp.path().join("out");
        let output = Pyship::build(&project)
            .out(&out)
            .python(&python)
            .args(["--strip-sources", option, "pkg/["])
            .fails(2);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{option}: {stderr}");
        assert!(
            stderr.starts_with("error: Invalid pattern `pkg/[`"),
            "{option}: {stderr}"
        );
        assert!(!out.exists(), "{option}: something was written");
    }
}

/// Names with ESC, BEL, CR and LF: terminal control sequences and line breaks if printed raw.
const GOOD: &str = "good\u{1b}]0;owned\u{7}.py";
const BAD: &str = "bad\u{1b}[2J\r\nfake.py";

#[test]
fn file_names_are_escaped_in_every_message() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("src");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join(GOOD), "x = 1\n").unwrap();
    std::fs::write(dir.join(BAD), "def (:\n").unwrap();
    let shown = dir.display().to_string();

    // A syntax error (`path:line:col: message`) and `-v` lines.
    let output = Pyship::compile()
        .arg(&dir)
        .python(&python)
        .arg("-v")
        .fails(1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains(['\u{1b}', '\u{7}', '\r']), "{stderr:?}");
    assert!(
        stderr
            .lines()
            .any(|line| line.starts_with(&format!("{shown}/bad\\u{{1b}}[2J\\r\\nfake.py:1:"))),
        "{stderr}"
    );
    assert!(
        stderr
            .lines()
            .any(|line| line == format!("Compiled {shown}/good\\u{{1b}}]0;owned\\u{{7}}.py")),
        "{stderr}"
    );
    assert!(
        !stderr.lines().any(|line| line.starts_with("fake.py")),
        "{stderr}"
    );

    // The size report and summary of a build into such a directory; stdout, a pipe, gets the
    // exact path.
    let (_project_temp, project) = copy_fixture("flat");
    let out = temp.path().join("out\u{1b}[2J\r\nfake");
    let output = Pyship::build(&project)
        .out(&out)
        .args(["-f", "zip"])
        .python(&python)
        .succeeds();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains(['\u{1b}', '\r']), "{stderr:?}");
    assert!(
        stderr.contains("out\\u{1b}[2J\\r\\nfake/flat-cp3"),
        "{stderr}"
    );
    assert!(
        !stderr.lines().any(|line| line.starts_with("fake")),
        "{stderr}"
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!(
            "{}\n",
            out.join(format!("flat-cp3{}.zip", python.minor)).display()
        )
    );

    // A fatal error.
    let output = Pyship::build(&dir.join(BAD)).fails(2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // One error line, then the hint saying what SOURCE may be.
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines.len() == 2 && lines[0].starts_with("error:") && lines[1].starts_with("hint:"),
        "{stderr:?}"
    );
    assert!(stderr.contains("bad\\u{1b}[2J\\r\\nfake.py"), "{stderr}");
    assert!(!stderr.contains(['\u{1b}', '\r']), "{stderr:?}");
}

/// The summary's lines from `stderr`: the `Compiled …` line and the artifact lines under it.
fn summary(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .skip_while(|line| !line.starts_with("Compiled "))
        .map(str::to_owned)
        .collect()
}

/// The summary says how many modules this run compiled (0 and "up to date" when nothing was),
/// and each artifact's own size, on disk for an archive: never an average, and "compressed"
/// only when the archive is smaller than what it holds.
#[test]
fn the_summary_says_what_was_compiled_and_each_artifacts_size() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let (temp, project) = copy_fixture("flat");
    let out = temp.path().join("out");
    let cache = temp.path().join("cache");
    let run = |formats: &[&str]| {
        let output = Pyship::build(&project)
            .out(&out)
            .python(&python)
            .args(formats)
            .arg("--cache-dir")
            .arg(&cache)
            .succeeds();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        (stdout, summary(&stderr))
    };
    let (stdout, lines) = run(&["-f", "zip", "-f", "dir"]);
    let paths: Vec<&str> = stdout.lines().collect();
    // Each module compiled once for both artifacts: as many as the dir has pycs.
    let dir = paths.iter().find(|path| Path::new(path).is_dir()).unwrap();
    let modules = common::walk(Path::new(dir))
        .iter()
        .filter(|path| path.extension().is_some_and(|ext| ext == "pyc"))
        .count();
    assert!(modules > 1);
    assert!(
        lines[0].starts_with(&format!("Compiled {modules} modules in ")),
        "{lines:?}"
    );
    assert_eq!(lines.len(), 1 + paths.len(), "{lines:?}");
    for (line, path) in lines[1..].iter().zip(&paths) {
        assert!(line.starts_with(&format!("  {path} (Python ")), "{line}");
        let path = Path::new(path);
        if path.is_file() {
            let on_disk = std::fs::metadata(path).unwrap().len();
            let size = pyship::report::human_bytes(on_disk);
            let compressed = line.ends_with(&format!(", {size} compressed"));
            assert!(
                compressed || line.ends_with(&format!(", {size} on disk")),
                "{line}"
            );
            let shipped: u64 = crate::build::contents(path)
                .values()
                .map(|bytes| bytes.len() as u64)
                .sum();
            assert_eq!(compressed, on_disk < shipped, "{line}");
        }
    }
    // Nothing changed: the zip is not written again, the dir is, from the cache.
    let (_, lines) = run(&["-f", "zip", "-f", "dir"]);
    assert!(
        lines[0].starts_with(&format!(
            "Compiled 0 modules ({modules} more from the cache) in "
        )),
        "{lines:?}"
    );
    assert!(lines[1].ends_with(", up to date"), "{lines:?}");
    assert!(!lines[2].ends_with(", up to date"), "{lines:?}");
    run(&["-f", "zip"]);
    let (_, lines) = run(&["-f", "zip"]);
    assert!(
        lines[0].starts_with("Compiled 0 modules: everything up to date in "),
        "{lines:?}"
    );
    assert!(lines[1].ends_with(", up to date"), "{lines:?}");
}
