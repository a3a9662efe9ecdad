//! What `pyship build` reads is confined to the project (SPEC §9): paths named by
//! pyproject.toml, out-dirs that overlap the source, non-regular files, broken links.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::{Pyship, Python, pythons};

const SECRET: &str = "host-secret-6f1d";

/// A project `demo` 1.0 with package `demo` in `root/demo-project`, and `root/secret.txt`
/// beside it (outside the project); `extra` is appended to pyproject.toml.
fn project(root: &Path, project_extra: &str, tool: &str) -> PathBuf {
    let dir = root.join("demo-project");
    std::fs::create_dir_all(dir.join("demo")).unwrap();
    std::fs::write(dir.join("demo/__init__.py"), "X = 1\n").unwrap();
    std::fs::write(
        dir.join("pyproject.toml"),
        format!(
            "[project]\nname = \"demo\"\nversion = \"1.0\"\n{project_extra}\n[tool.pyship]\n{tool}\n"
        ),
    )
    .unwrap();
    std::fs::write(root.join("secret.txt"), SECRET).unwrap();
    dir
}

/// `pyship build SOURCE [-o OUT] -p PYTHON EXTRA...`, killed after a minute.
fn run(source: &Path, out: Option<&Path>, python: &Python, extra: &[&str]) -> Pyship {
    let mut command = Pyship::build(source);
    if let Some(out) = out {
        command = command.out(out);
    }
    command
        .python(python)
        .args(extra)
        .timeout(Duration::from_secs(60))
}

/// Every file under `dir`, relative, sorted (symlinks not followed).
fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&next) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                stack.push(path.clone());
            }
            found.push(path.strip_prefix(dir).unwrap().to_path_buf());
        }
    }
    found.sort();
    found
}

/// Run a build that must be refused: exit 2, exactly one `error:` line containing `needle`,
/// nothing of the host secret printed, and nothing new under `watch`.
fn refused(
    source: &Path,
    out: Option<&Path>,
    python: &Python,
    extra: &[&str],
    watch: &Path,
    needle: &str,
) -> String {
    let before = listing(watch);
    let output = run(source, out, python, extra).context(needle).fails(2);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains(needle),
        "expected {needle:?} in {stderr}"
    );
    assert!(!stderr.contains(SECRET), "{stderr}");
    assert_eq!(listing(watch), before, "{needle}: something was written");
    stderr
}

#[test]
fn paths_named_by_pyproject_stay_inside_the_project() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let cases: &[(&str, &str, &str)] = &[
        (
            "readme = \"/etc/passwd\"",
            "",
            "`project.readme` points outside the project: `/etc/passwd`",
        ),
        (
            "readme = \"../secret.txt\"",
            "",
            "`project.readme` points outside the project: `../secret.txt`",
        ),
        (
            "readme = { file = \"../secret.txt\", content-type = \"text/plain\" }",
            "",
            "`project.readme` points outside the project",
        ),
        (
            "license = { file = \"../secret.txt\" }",
            "",
            "`project.license` points outside the project: `../secret.txt`",
        ),
        (
            "",
            "keep-source = [\"../secret.txt\"]",
            "`tool.pyship.keep-source` points outside the project",
        ),
        (
            "",
            "pip-arg = [\"-r\", \"../secret.txt\"]",
            "`tool.pyship.pip-arg` points outside the project: `../secret.txt`",
        ),
        (
            "",
            "pip-arg = [\"--constraint=/etc/passwd\"]",
            "`tool.pyship.pip-arg` points outside the project: `/etc/passwd`",
        ),
        // Written, not read: a project must not overwrite a host file through its table.
        (
            "",
            "report = \"../victim.json\"",
            "`tool.pyship.report` points outside the project: `../victim.json`",
        ),
        (
            "",
            "out-dir = \"../dist\"",
            "`tool.pyship.out-dir` points outside the project: `../dist`",
        ),
        (
            "",
            "out-dir = \"dist/../../dist\"",
            "`tool.pyship.out-dir` points outside the project: `dist/../../dist`",
        ),
    ];
    for (project_extra, tool, needle) in cases {
        let temp = tempfile::tempdir().unwrap();
        let dir = project(temp.path(), project_extra, tool);
        refused(&dir, None, &python, &[], temp.path(), needle);
    }

    // An out-dir whose existing part is a link out of the project, though the rest is not
    // there yet; the hint says how to write elsewhere on purpose.
    let temp = tempfile::tempdir().unwrap();
    let dir = project(temp.path(), "", "out-dir = \"built/wheels\"");
    std::fs::create_dir(temp.path().join("elsewhere")).unwrap();
    symlink(temp.path().join("elsewhere"), dir.join("built")).unwrap();
    let stderr = refused(
        &dir,
        None,
        &python,
        &[],
        temp.path(),
        "`tool.pyship.out-dir` points outside the project: `built/wheels`",
    );
    assert!(
        stderr.contains("hint: to write outside the project, pass `--out-dir` on the command line"),
        "{stderr}"
    );
    // The same path on the command line is the user's choice.
    run(&dir, Some(&dir.join("built/wheels")), &python, &[]).succeeds();
    assert!(temp.path().join("elsewhere/wheels").is_dir());

    // The cache the table names is written to as well (the tests' own cache, set in the
    // environment, would override it).
    let temp = tempfile::tempdir().unwrap();
    let dir = project(temp.path(), "", "cache-dir = \"../cache\"");
    let output = run(&dir, None, &python, &[])
        .env_remove("PYSHIP_CACHE_DIR")
        .fails(2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("error: `tool.pyship.cache-dir` points outside the project: `../cache`"),
        "{stderr}"
    );
    assert!(!temp.path().join("cache").exists());

    // A readme that is a symlink out of the project, or whose directory is.
    let temp = tempfile::tempdir().unwrap();
    let dir = project(temp.path(), "readme = \"README.md\"", "");
    symlink(temp.path().join("secret.txt"), dir.join("README.md")).unwrap();
    refused(
        &dir,
        None,
        &python,
        &[],
        temp.path(),
        "`project.readme` points outside the project: `README.md`",
    );
    let temp = tempfile::tempdir().unwrap();
    let dir = project(temp.path(), "readme = \"docs/secret.txt\"", "");
    symlink(temp.path(), dir.join("docs")).unwrap();
    refused(
        &dir,
        None,
        &python,
        &[],
        temp.path(),
        "`project.readme` points outside the project: `docs/secret.txt`",
    );

    // PEP 639 `license-files` never follow a link, in or out.
    let temp = tempfile::tempdir().unwrap();
    let dir = project(temp.path(), "license-files = [\"LICENSE\"]", "");
    symlink(temp.path().join("secret.txt"), dir.join("LICENSE")).unwrap();
    refused(
        &dir,
        None,
        &python,
        &[],
        temp.path(),
        "Invalid `project.license-files`",
    );

    // `--keep-source` on the command line is named as such.
    let temp = tempfile::tempdir().unwrap();
    let dir = project(temp.path(), "", "");
    refused(
        &dir,
        None,
        &python,
        &["--keep-source", "demo/../../secret.txt"],
        temp.path(),
        "`--keep-source` points outside the project",
    );

    // A package listed in `[tool.pyship] packages` that links out.
    let temp = tempfile::tempdir().unwrap();
    let dir = project(temp.path(), "", "packages = [\"lib/demo\"]");
    let elsewhere = temp.path().join("elsewhere/demo");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("__init__.py"), SECRET).unwrap();
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    symlink(&elsewhere, dir.join("lib/demo")).unwrap();
    refused(
        &dir,
        None,
        &python,
        &[],
        temp.path(),
        "Invalid `tool.pyship.packages` entry `lib/demo`: points outside the project",
    );

    // A readme that is a FIFO is not read (it would block forever).
    let temp = tempfile::tempdir().unwrap();
    let dir = project(temp.path(), "readme = \"README.md\"", "");
    mkfifo(&dir.join("README.md"));
    refused(
        &dir,
        None,
        &python,
        &[],
        temp.path(),
        "`project.readme` is not a regular file: `README.md`",
    );

    // Inside the project, a readme behind a symlink is fine.
    let temp = tempfile::tempdir().unwrap();
    let dir = project(temp.path(), "readme = \"README.md\"", "");
    std::fs::write(dir.join("real.md"), "# Demo\n").unwrap();
    symlink("real.md", dir.join("README.md")).unwrap();
    run(&dir, None, &python, &[]).succeeds();
}

#[test]
fn a_package_linked_out_of_the_project_is_refused() {
    let Some(python) = pythons().pop() else {
        return;
    };
    for layout in ["", "src/"] {
        let temp = tempfile::tempdir().unwrap();
        let dir = project(temp.path(), "", "");
        std::fs::remove_dir_all(dir.join("demo")).unwrap();
        let elsewhere = temp.path().join("elsewhere/demo");
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("__init__.py"), "X = 1\n").unwrap();
        std::fs::create_dir_all(dir.join(layout)).unwrap();
        symlink(&elsewhere, dir.join(format!("{layout}demo"))).unwrap();
        refused(
            &dir,
            None,
            &python,
            &[],
            temp.path(),
            &format!("Package `{layout}demo` points outside the project"),
        );
    }
}

#[test]
fn a_project_left_without_modules_is_an_error() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let dir = project(temp.path(), "", "");
    refused(
        &dir,
        None,
        &python,
        &["--exclude", "*.py"],
        temp.path(),
        "No module of",
    );
    // A plain tree too; one without any module is fine.
    let tree = temp.path().join("tree");
    std::fs::create_dir_all(tree.join("pkg")).unwrap();
    std::fs::write(tree.join("pkg/__init__.py"), "").unwrap();
    refused(
        &tree,
        Some(&temp.path().join("out")),
        &python,
        &["--exclude", "pkg/"],
        temp.path(),
        "No module of",
    );
    std::fs::remove_file(tree.join("pkg/__init__.py")).unwrap();
    std::fs::write(tree.join("pkg/data.txt"), "").unwrap();
    run(
        &tree,
        Some(&temp.path().join("out")),
        &python,
        &["--exclude", "*.md"],
    )
    .succeeds();
}

#[test]
fn overlapping_out_dirs_are_refused() {
    let Some(python) = pythons().pop() else {
        return;
    };
    // A project: the out-dir is the source, a package, or holds the source.
    let temp = tempfile::tempdir().unwrap();
    let dir = project(temp.path(), "", "");
    for (out, needle) in [
        (dir.clone(), "is the source directory"),
        (dir.join("."), "is the source directory"),
        (dir.join("demo"), "which is shipped"),
        (dir.join("demo/new"), "which is shipped"),
        (temp.path().to_path_buf(), "is inside the out-dir"),
    ] {
        let stderr = refused(&dir, Some(&out), &python, &[], temp.path(), needle);
        assert!(stderr.contains("demo-project/dist"), "{stderr}");
    }
    // A src layout: the out-dir may not be `src` either.
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::rename(dir.join("demo"), dir.join("src/demo")).unwrap();
    refused(
        &dir,
        Some(&dir.join("src")),
        &python,
        &[],
        temp.path(),
        "which is shipped",
    );
    // The default `SOURCE/dist` and another directory inside the project are fine.
    for out in [None, Some(dir.join("out"))] {
        run(&dir, out.as_deref(), &python, &[]).succeeds();
    }

    // A plain tree: the out-dir may not be a directory of modules; `SOURCE/out` works twice
    // (the second time it holds the first build's modules).
    let temp = tempfile::tempdir().unwrap();
    let tree = temp.path().join("tree");
    std::fs::create_dir_all(tree.join("pkg")).unwrap();
    std::fs::write(tree.join("pkg/__init__.py"), "").unwrap();
    std::fs::write(tree.join("app.py"), "import pkg\n").unwrap();
    refused(
        &tree,
        Some(&tree.join("pkg")),
        &python,
        &[],
        temp.path(),
        "which is shipped",
    );
    refused(
        &tree,
        Some(&tree),
        &python,
        &[],
        temp.path(),
        "is the source directory",
    );
    for _ in 0..2 {
        run(&tree, Some(&tree.join("out")), &python, &[]).succeeds();
    }
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_fifo_is_refused_not_read() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    for name in ["demo-1.0-py3-none-any.whl", "plain"] {
        let fifo = temp.path().join(name);
        mkfifo(&fifo);
        // `run` has a deadline: a read of the FIFO would block until it passes.
        let output = run(&fifo, Some(&temp.path().join("out")), &python, &[]).fails(2);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(!temp.path().join("out").exists());
    }
}

/// The warnings of a successful build, from its JSON report.
fn build_warnings(source: &Path, python: &Python, extra: &[&str]) -> Vec<String> {
    let report = source.parent().unwrap().join("report.json");
    let mut args = vec!["--report", report.to_str().unwrap()];
    args.extend(extra);
    run(source, None, python, &args).succeeds();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|warning| warning.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn broken_links_are_skipped_quietly_when_ignored_and_with_a_warning_otherwise() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let setup = || {
        let temp = tempfile::tempdir().unwrap();
        let dir = project(temp.path(), "", "");
        // What Emacs leaves beside a file being edited, and a link to itself.
        symlink("user@host.1234:1700000000", dir.join("demo/.#mod.py")).unwrap();
        symlink("loop.py", dir.join("demo/loop.py")).unwrap();
        (temp, dir)
    };
    let (_temp, dir) = setup();
    std::fs::write(dir.join(".gitignore"), ".#*\nloop.py\n").unwrap();
    assert_eq!(build_warnings(&dir, &python, &[]), Vec::<String>::new());

    let (_temp, dir) = setup();
    assert_eq!(
        build_warnings(
            &dir,
            &python,
            &["--exclude", ".#*", "--exclude", "demo/loop.py"]
        ),
        Vec::<String>::new()
    );

    let (_temp, dir) = setup();
    let warnings = build_warnings(&dir, &python, &[]);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].contains(".#mod.py") && warnings[1].contains("loop.py"),
        "{warnings:?}"
    );
}

#[test]
fn warnings_are_shown_by_default_counted_and_silenced_by_quiet() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let dir = project(temp.path(), "", "");
    symlink("nowhere", dir.join("demo/dangling.py")).unwrap();

    let output = run(&dir, None, &python, &[]).succeeds();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("dangling.py"), "{stderr}");
    let summary = stderr
        .lines()
        .find(|line| line.starts_with("Compiled "))
        .unwrap();
    assert!(summary.ends_with(", 1 warning"), "{stderr}");

    let quiet = run(&dir, None, &python, &["-q"]).succeeds();
    assert_eq!(String::from_utf8_lossy(&quiet.stderr), "");
}

#[test]
fn a_target_that_requires_python_excludes_is_refused() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let excluding = format!("requires-python = \"<3.{}\"", python.minor);
    let dir = project(temp.path(), &excluding, "");
    let out = temp.path().join("out");
    let output = run(&dir, Some(&out), &python, &[]).fails(2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let version = python.script("import platform; print(platform.python_version())", &[]);
    assert_eq!(
        stderr.lines().next().unwrap(),
        format!(
            "error: `demo` requires Python `<3.{}`, but the target is CPython {}",
            python.minor,
            version.trim()
        ),
        "{stderr}"
    );
    assert!(
        stderr.lines().nth(1).unwrap().starts_with("hint: "),
        "{stderr}"
    );
    assert!(!out.exists());

    let temp = tempfile::tempdir().unwrap();
    let allowing = format!("requires-python = \">=3.{}\"", python.minor);
    let dir = project(temp.path(), &allowing, "");
    run(&dir, None, &python, &[]).succeeds();
}
