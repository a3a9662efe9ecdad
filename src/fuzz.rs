//! Entry points of the `cargo fuzz` targets in `fuzz/` (one per untrusted-input reader), kept
//! in the library so that the stable `cargo test` can replay every committed seed and crash
//! reproducer through exactly what the fuzzer runs. Each takes arbitrary bytes and must return
//! without panicking, hanging or allocating beyond a bound, whatever the bytes; errors are the
//! expected outcome for most inputs and are ignored. Not part of the public API.

use std::path::Path;

use crate::bytecode::marshal;
use crate::bytecode::pyc;
use crate::bytecode::summary;
use crate::inspect;
use crate::settings::{Pyproject, ToolConfig};
use crate::source::project;
use crate::wheel::read::{self, Limits};

/// The name the `wheel` target stores its input under: seeds are wheels of `pkg` 1.0, so
/// mutations get past the file-name and dist-info checks to the zip and RECORD ones.
pub const WHEEL_NAME: &str = "pkg-1.0-py3-none-any.whl";

/// `fuzz/fuzz_targets/marshal.rs`: [`marshal::canonicalize`] of `data[1..]` for CPython
/// 3.`8 + data[0] % 7` (3.8 to 3.14, both code object layouts). Canonical output must be a
/// fixed point: canonicalizing it again gives the same bytes.
pub fn marshal(data: &[u8]) {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    let minor = 8 + selector % 7;
    if let Ok(canonical) = marshal::canonicalize(stream, minor) {
        assert_eq!(
            marshal::canonicalize(&canonical, minor).as_ref(),
            Ok(&canonical),
            "canonical marshal is not a fixed point for 3.{minor}"
        );
    }
}

/// `fuzz/fuzz_targets/pyc.rs`: a whole `.pyc` file: [`pyc::parse_header`], the version of
/// its magic number ([`pyc::version_for_magic`]), then the code object after the header
/// through [`marshal::canonicalize`] for that version. A timestamp header must re-encode to
/// the bytes it was read from.
pub fn pyc(data: &[u8]) {
    let Ok(header) = pyc::parse_header(data) else {
        return;
    };
    if let pyc::HeaderKind::Timestamp { mtime, size } = header.kind {
        // The check-source bit is ignored for timestamp pycs, as importlib ignores it.
        if data[4] & 2 == 0 {
            assert_eq!(
                pyc::timestamp_header(header.magic, mtime, u64::from(size)),
                data[..16]
            );
        }
    }
    if let Some((3, minor)) = pyc::version_for_magic(header.magic) {
        let _ = marshal::canonicalize(&data[16..], minor);
    }
}

/// `fuzz/fuzz_targets/wheel.rs`: `data` stored as [`WHEEL_NAME`] in a fresh temporary
/// directory, read with [`read::open_wheel`] (every name, size, `WHEEL` and `RECORD` check)
/// and, when accepted, unpacked with [`read::extract_to`], which must write only inside its
/// directory. The limits are lowered to keep memory within the fuzzer's bound; that they hold
/// is part of what is tested.
pub fn wheel(data: &[u8]) {
    let Ok(temp) = tempfile::tempdir() else {
        return;
    };
    let path = temp.path().join(WHEEL_NAME);
    if fs_err::write(&path, data).is_err() {
        return;
    }
    let limits = Limits {
        max_total_uncompressed: 64 << 20,
        max_member: 16 << 20,
        ..Limits::default()
    };
    if let Ok(contents) = read::open_wheel(&path, limits) {
        let out = temp.path().join("out");
        if read::extract_to(&contents, &out).is_ok() {
            assert_only_below(temp.path(), &out);
        }
    }
}

/// Everything in `dir` other than the wheel is under `out`: extraction wrote nowhere else.
fn assert_only_below(dir: &Path, out: &Path) {
    for entry in fs_err::read_dir(dir).expect("temporary directory is readable") {
        let path = entry.expect("temporary directory is readable").path();
        assert!(
            path == out || path.file_name().is_some_and(|name| name == WHEEL_NAME),
            "extraction wrote `{}`",
            path.display()
        );
    }
}

/// `fuzz/fuzz_targets/inspect.rs`: what `pyship inspect` reads. `data[0]` even: `data[1..]`
/// is a `.pyc` for [`summary::summarize`] (header, code objects, docstring and assert
/// heuristics); odd: it is stored as a zip in a fresh temporary directory and read with
/// [`inspect::read_artifact`] (the guarded zip reader), then summarized module by module as
/// [`inspect::summarize_artifact`] does, pyc headers, facts record and all.
pub fn inspect(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    if selector % 2 == 0 {
        let _ = summary::summarize(rest);
        return;
    }
    let Ok(temp) = tempfile::tempdir() else {
        return;
    };
    let path = temp.path().join("bundle.zip");
    if fs_err::write(&path, rest).is_err() {
        return;
    }
    if let Ok(contents) = inspect::read_artifact(&path) {
        let summary = inspect::summarize_artifact(&contents);
        assert!(
            summary
                .modules
                .windows(2)
                .all(|pair| pair[0].module < pair[1].module)
        );
    }
}

/// `fuzz/fuzz_targets/pyproject.rs`: `data` as the `pyproject.toml` of a small project (a
/// README, a LICENSE, a `src/pkg` package) in a fresh temporary directory, loaded as
/// `pyship build` loads it: [`Pyproject::read`], [`ToolConfig::parse`], [`project::load`] and
/// [`project::discover_packages`].
pub fn pyproject(data: &[u8]) {
    let Ok(temp) = tempfile::tempdir() else {
        return;
    };
    let dir = temp.path();
    let files: [(&str, &[u8]); 4] = [
        ("README.md", b"# pkg\n"),
        ("LICENSE", b"MIT\n"),
        ("src/pkg/__init__.py", b"x = 1\n"),
        ("pyproject.toml", data),
    ];
    for (file, content) in files {
        let path = dir.join(file);
        if let Some(parent) = path.parent() {
            if fs_err::create_dir_all(parent).is_err() {
                return;
            }
        }
        if fs_err::write(&path, content).is_err() {
            return;
        }
    }
    let Ok(Some(pyproject)) = Pyproject::read(dir) else {
        return;
    };
    let project = project::load(dir, &pyproject);
    if let Ok(tool) = ToolConfig::parse(dir, &pyproject) {
        let name = project.ok().flatten().map(|project| project.name);
        let _ = project::discover_packages(dir, tool.packages.as_deref(), name.as_deref());
    }
}

/// `fuzz/fuzz_targets/analysis.rs`: `data` as a module's source bytes, read by the analysis
/// stage (decoding, the Rust parser, the facts, the `-OO` warnings) on a thread with the stack
/// the build gives it.
pub fn analysis(data: &[u8]) {
    let run = || {
        if let crate::analysis::Analyzed::Read(facts) = crate::analysis::analyze_one(data) {
            let mut said = crate::analysis::warnings::Said::default();
            let _ = crate::analysis::warnings::docstring_warnings("m.py", &facts, &mut said);
        }
    };
    std::thread::scope(|scope| {
        if let Ok(thread) = std::thread::Builder::new()
            .stack_size(crate::analysis::STACK_SIZE)
            .spawn_scoped(scope, run)
        {
            // A panic on that thread is the finding: let libFuzzer see it.
            if let Err(panic) = thread.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    //! Replays the committed seed corpora (`fuzz/seeds/<target>/`) and crash reproducers
    //! (`fuzz/regressions/<target>/`) through the fuzz entry points on the stable toolchain.

    use std::path::PathBuf;

    fn replay(target: &str, run: fn(&[u8])) {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz");
        let mut count = 0;
        for kind in ["seeds", "regressions"] {
            let dir = root.join(kind).join(target);
            let Ok(entries) = fs_err::read_dir(&dir) else {
                continue;
            };
            let mut files: Vec<PathBuf> = entries.map(|entry| entry.unwrap().path()).collect();
            files.sort();
            for file in files {
                let data = fs_err::read(&file).unwrap();
                // A panic names the input through the test's failure output.
                eprintln!("{}", file.display());
                run(&data);
                count += 1;
            }
        }
        assert!(count > 0, "no seed for the `{target}` fuzz target");
    }

    fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/seeds")
            .join(target);
        let mut files: Vec<PathBuf> = fs_err::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|file| {
                let data = fs_err::read(&file).unwrap();
                (file, data)
            })
            .collect()
    }

    /// Every seed is a valid input, so that mutations start deep in each reader rather than
    /// at its first check.
    #[test]
    fn seeds_are_accepted() {
        use crate::bytecode::{marshal, pyc};
        use crate::settings::{Pyproject, ToolConfig};
        use crate::source::project;
        use crate::wheel;
        for (file, data) in seeds("marshal") {
            let minor = 8 + data[0] % 7;
            marshal::canonicalize(&data[1..], minor)
                .unwrap_or_else(|err| panic!("{}: {err}", file.display()));
        }
        for (file, data) in seeds("pyc") {
            let header = pyc::parse_header(&data).unwrap();
            let (3, minor) = pyc::version_for_magic(header.magic).unwrap() else {
                panic!("{}: not CPython 3", file.display());
            };
            marshal::canonicalize(&data[16..], minor)
                .unwrap_or_else(|err| panic!("{}: {err}", file.display()));
        }
        for (file, data) in seeds("inspect") {
            if data[0] % 2 == 0 {
                let summary = crate::bytecode::summary::summarize(&data[1..])
                    .unwrap_or_else(|err| panic!("{}: {err}", file.display()));
                assert!(summary.code_error.is_none(), "{}", file.display());
            } else {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("bundle.zip");
                fs_err::write(&path, &data[1..]).unwrap();
                let contents = crate::inspect::read_artifact(&path)
                    .unwrap_or_else(|err| panic!("{}: {err}", file.display()));
                assert!(contents.facts().is_some(), "{}", file.display());
            }
        }
        let temp = tempfile::tempdir().unwrap();
        for (file, data) in seeds("wheel") {
            let path = temp.path().join(super::WHEEL_NAME);
            fs_err::write(&path, data).unwrap();
            wheel::read::open_wheel(&path, wheel::read::Limits::default())
                .unwrap_or_else(|err| panic!("{}: {err}", file.display()));
        }
        fs_err::create_dir_all(temp.path().join("src/pkg")).unwrap();
        for (file, content) in [
            ("README.md", "# pkg\n"),
            ("LICENSE", "MIT\n"),
            ("src/pkg/__init__.py", ""),
        ] {
            fs_err::write(temp.path().join(file), content).unwrap();
        }
        for (file, data) in seeds("pyproject") {
            fs_err::write(temp.path().join("pyproject.toml"), data).unwrap();
            let dir = temp.path();
            let pyproject = Pyproject::read(dir).unwrap().unwrap();
            let tool = ToolConfig::parse(dir, &pyproject)
                .unwrap_or_else(|err| panic!("{}: {err}", file.display()));
            let project = project::load(dir, &pyproject)
                .unwrap_or_else(|err| panic!("{}: {err}", file.display()));
            let name = project.map(|project| project.name);
            project::discover_packages(dir, tool.packages.as_deref(), name.as_deref())
                .unwrap_or_else(|err| panic!("{}: {err}", file.display()));
        }
    }

    /// A readme or license that is not a regular file is refused, not read: `/dev/zero` ran
    /// the `pyproject` target out of memory (`fuzz/regressions/pyproject/readme-dev-zero.toml`)
    /// and a FIFO blocked it forever.
    #[cfg(unix)]
    #[test]
    fn project_files_must_be_regular() {
        use std::time::Duration;
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().to_path_buf();
        let made = std::process::Command::new("mkfifo")
            .arg(dir.join("README.md"))
            .status();
        assert!(made.is_ok_and(|status| status.success()), "mkfifo failed");
        for readme in ["/dev/zero", "README.md"] {
            fs_err::write(
                dir.join("pyproject.toml"),
                format!("[project]\nname = \"pkg\"\nversion = \"1\"\nreadme = \"{readme}\"\n"),
            )
            .unwrap();
            let (send, receive) = std::sync::mpsc::channel();
            let project_dir = dir.clone();
            // A thread, so that a read that never ends fails the test instead of hanging it.
            std::thread::spawn(move || {
                let pyproject = crate::settings::Pyproject::read(&project_dir)
                    .unwrap()
                    .unwrap();
                let _ =
                    send.send(crate::source::project::load(&project_dir, &pyproject).map(|_| ()));
            });
            let loaded = receive
                .recv_timeout(Duration::from_secs(10))
                .unwrap_or_else(|_| panic!("reading readme `{readme}` did not finish"));
            assert!(loaded.is_err(), "readme `{readme}` was read");
        }
    }

    #[test]
    fn marshal_seeds() {
        replay("marshal", super::marshal);
    }

    #[test]
    fn pyc_seeds() {
        replay("pyc", super::pyc);
    }

    #[test]
    fn wheel_seeds() {
        replay("wheel", super::wheel);
    }

    #[test]
    fn inspect_seeds() {
        replay("inspect", super::inspect);
    }

    #[test]
    fn pyproject_seeds() {
        replay("pyproject", super::pyproject);
    }
}
