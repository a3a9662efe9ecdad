//! The compile cache: a rebuild with nothing changed starts no worker, corrupt entries are
//! compiled again, concurrent builds share it safely, `pyship cache dir|clean`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{
    Pyship, Python, assert_stderr_contains, copy_fixture, copy_tree, fixture, pythons,
};

/// (compiled, from cache, workers started) from the `-v` output.
fn counts(stderr: &str) -> (usize, usize, usize) {
    let line = stderr
        .lines()
        .find(|line| line.starts_with("compiled "))
        .unwrap_or_else(|| panic!("no cache line in:\n{stderr}"));
    let numbers: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|part| !part.is_empty())
        .map(|part| part.parse().unwrap())
        .collect();
    // A fourth number, when there is one, counts identical sources compiled once.
    assert!(numbers.len() == 3 || numbers.len() == 4, "{line}");
    (numbers[0], numbers[1], numbers[2])
}

/// `pyship build PROJECT -f zip -o OUT -v` with the cache in `cache`; returns (zip bytes, stderr).
fn build(
    project: &Path,
    out: &Path,
    cache: &Path,
    python: &Python,
    extra: &[&str],
) -> (Vec<u8>, String) {
    let output = Pyship::build(project)
        .env("PYSHIP_CACHE_DIR", cache)
        .args(["-f", "zip", "-v"])
        .out(out)
        .python(python)
        .args(extra)
        .succeeds();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let path = String::from_utf8(output.stdout).unwrap();
    (std::fs::read(path.trim()).unwrap(), stderr)
}

fn entries(cache: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(shards) = std::fs::read_dir(cache.join("v2")) else {
        return out;
    };
    // The shards; beside them is `size`, the count the cap keeps.
    for shard in shards {
        let shard = shard.unwrap().path();
        if !shard.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(shard).unwrap() {
            out.push(entry.unwrap().path());
        }
    }
    out
}

#[test]
fn a_rebuild_with_nothing_changed_starts_no_worker() {
    for python in pythons() {
        let (temp, project) = copy_fixture("flat");
        let cache = temp.path().join("cache");
        let (first, stderr) = build(&project, &temp.path().join("a"), &cache, &python, &[]);
        let (compiled, cached, workers) = counts(&stderr);
        assert!(compiled >= 5, "{stderr}");
        assert_eq!(cached, 0, "{stderr}");
        assert!((1..=2).contains(&workers), "{stderr}");
        assert_eq!(entries(&cache).len(), compiled);

        let (second, stderr) = build(&project, &temp.path().join("b"), &cache, &python, &[]);
        assert_eq!(counts(&stderr), (0, compiled, 0), "{stderr}");
        assert!(
            second == first,
            "a cached build differs on 3.{}",
            python.minor
        );

        // One module changed: one miss, one worker, though two were allowed.
        std::fs::write(project.join("ns/part.py"), "NAME = 'changed'\n").unwrap();
        let (_, stderr) = build(
            &project,
            &temp.path().join("c"),
            &cache,
            &python,
            &["-j", "2"],
        );
        assert_eq!(counts(&stderr), (1, compiled - 1, 1), "{stderr}");

        // Another optimize level is another key.
        let (_, stderr) = build(&project, &temp.path().join("d"), &cache, &python, &["-O"]);
        assert_eq!(counts(&stderr).1, 0, "{stderr}");
    }
}

#[test]
fn corrupt_entries_are_compiled_again() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let (temp, project) = copy_fixture("flat");
    let cache = temp.path().join("cache");
    let (first, stderr) = build(&project, &temp.path().join("a"), &cache, &python, &[]);
    let (compiled, _, _) = counts(&stderr);
    let entries = entries(&cache);
    assert_eq!(entries.len(), compiled);
    for (i, entry) in entries.iter().enumerate() {
        let mut bytes = std::fs::read(entry).unwrap();
        match i % 3 {
            0 => bytes.truncate(bytes.len() / 2),
            // In the middle: the last byte of a deflate stream may be padding only.
            1 => {
                let middle = bytes.len() / 2;
                bytes[middle] ^= 0x40;
            }
            _ => bytes.clear(),
        }
        std::fs::write(entry, bytes).unwrap();
    }
    let (second, stderr) = build(&project, &temp.path().join("b"), &cache, &python, &[]);
    let (recompiled, cached, workers) = counts(&stderr);
    assert_eq!((recompiled, cached), (compiled, 0), "{stderr}");
    assert!(workers >= 1);
    assert!(second == first, "the rebuilt artifact differs");
    // Repaired.
    let (_, stderr) = build(&project, &temp.path().join("c"), &cache, &python, &[]);
    assert_eq!(counts(&stderr), (0, compiled, 0), "{stderr}");
}

#[test]
fn concurrent_builds_share_one_cache() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let project = temp.path().join("many");
    copy_tree(&fixture("flat"), &project);
    for i in 0..150 {
        std::fs::write(
            project.join(format!("mod_{i}.py")),
            format!(
                "\"\"\"Module {i}.\"\"\"\n\ndef f(x):\n    return x * {i} + len({{'a{i}', 'b'}})\n"
            ),
        )
        .unwrap();
    }
    // Three builds at once into one empty cache.
    let spawned: Vec<_> = (0..3)
        .map(|i| {
            Command::new(assert_cmd::cargo::cargo_bin("pyship"))
                .env("PYSHIP_CACHE_DIR", temp.path().join("cache2"))
                .env_remove("SOURCE_DATE_EPOCH")
                .arg("build")
                .arg(&project)
                .args(["-f", "zip", "-q", "-o"])
                .arg(temp.path().join(format!("par-{i}")))
                .arg("-p")
                .arg(&python.path)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut artifacts = Vec::new();
    for child in spawned {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let path = String::from_utf8(output.stdout).unwrap();
        artifacts.push(std::fs::read(path.trim()).unwrap());
    }
    assert!(artifacts.iter().all(|artifact| *artifact == artifacts[0]));
    let (again, stderr) = build(
        &project,
        &temp.path().join("after"),
        &temp.path().join("cache2"),
        &python,
        &[],
    );
    let (compiled, cached, workers) = counts(&stderr);
    assert_eq!((compiled, workers), (0, 0), "{stderr}");
    assert!(cached > 150);
    assert!(again == artifacts[0]);
    // No temporary files left behind.
    for entry in entries(&temp.path().join("cache2")) {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.len() == 62 && !name.starts_with('.'), "{name}");
    }
}

#[test]
fn no_cache_neither_reads_nor_writes() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let (temp, project) = copy_fixture("flat");
    let cache = temp.path().join("cache");
    let (_, stderr) = build(
        &project,
        &temp.path().join("a"),
        &cache,
        &python,
        &["--no-cache"],
    );
    let (compiled, cached, _) = counts(&stderr);
    assert!(compiled >= 5 && cached == 0, "{stderr}");
    assert!(!cache.exists());
    build(&project, &temp.path().join("b"), &cache, &python, &[]);
    let (_, stderr) = build(
        &project,
        &temp.path().join("c"),
        &cache,
        &python,
        &["--no-cache"],
    );
    assert_eq!(counts(&stderr), (compiled, 0, 2.min(compiled)), "{stderr}");
}

#[test]
fn compile_in_place_uses_the_cache() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    copy_tree(&fixture("flat"), &temp.path().join("flat"));
    let cache = temp.path().join("cache");
    let run = || {
        let output = Pyship::compile()
            .current_dir(temp.path())
            .env("PYSHIP_CACHE_DIR", &cache)
            .args(["flat", "-v"])
            .python(&python)
            .succeeds();
        String::from_utf8(output.stderr).unwrap()
    };
    let pyc = temp.path().join(format!(
        "flat/pkg/sub/__pycache__/mod.cpython-3{}.pyc",
        python.minor
    ));
    let (compiled, _, _) = counts(&run());
    let first = std::fs::read(&pyc).unwrap();
    for dir in ["", "ns", "pkg", "pkg/sub", "tests"] {
        let pycache = temp.path().join("flat").join(dir).join("__pycache__");
        std::fs::remove_dir_all(pycache).unwrap();
    }
    assert_eq!(counts(&run()), (0, compiled, 0));
    assert_eq!(std::fs::read(&pyc).unwrap(), first);
}

#[test]
fn cache_dir_and_clean() {
    let temp = tempfile::tempdir().unwrap();
    let dir = |envs: &[(&str, &Path)], args: &[&str]| {
        let mut command = Pyship::new(["cache", "dir"])
            .env_remove("PYSHIP_CACHE_DIR")
            .env_remove("XDG_CACHE_HOME");
        for (key, value) in envs {
            command = command.env(key, value);
        }
        let output = command.args(args).succeeds();
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    };
    let home = temp.path().join("home");
    let xdg = temp.path().join("xdg");
    let own = temp.path().join("own");
    assert_eq!(
        dir(&[("HOME", &home)], &[]),
        home.join(".cache/pyship").to_str().unwrap()
    );
    assert_eq!(
        dir(&[("HOME", &home), ("XDG_CACHE_HOME", &xdg)], &[]),
        xdg.join("pyship").to_str().unwrap()
    );
    assert_eq!(
        dir(
            &[
                ("HOME", &home),
                ("XDG_CACHE_HOME", &xdg),
                ("PYSHIP_CACHE_DIR", &own)
            ],
            &[]
        ),
        own.to_str().unwrap()
    );
    assert_eq!(
        dir(
            &[("PYSHIP_CACHE_DIR", &own)],
            &["--cache-dir", "/elsewhere"]
        ),
        "/elsewhere"
    );

    let Some(python) = pythons().pop() else {
        return;
    };
    let (project_temp, project) = copy_fixture("flat");
    let cache = temp.path().join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(cache.join("unrelated.txt"), "mine").unwrap();
    let (_, stderr) = build(
        &project,
        &project_temp.path().join("a"),
        &cache,
        &python,
        &[],
    );
    let (compiled, _, _) = counts(&stderr);
    assert_eq!(entries(&cache).len(), compiled);
    let output = Pyship::new(["cache", "clean"])
        .env("PYSHIP_CACHE_DIR", &cache)
        .succeeds();
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "Removed {compiled} cache entries from {}\n",
            cache.display()
        )
    );
    assert!(entries(&cache).is_empty());
    assert!(
        cache.join("unrelated.txt").is_file(),
        "clean removes only pyship's entries"
    );
    let (_, stderr) = build(
        &project,
        &project_temp.path().join("b"),
        &cache,
        &python,
        &[],
    );
    assert_eq!(counts(&stderr).0, compiled);
}

/// `cache clean` refuses a directory pyship did not mark, and in one it did removes only its
/// own entries: foreign files inside `v1/`, a shard or `artifacts-v1/` stay, and so does
/// whatever a symlink in there points at.
#[cfg(unix)]
#[test]
fn clean_refuses_unmarked_dirs_and_keeps_foreign_files() {
    let temp = tempfile::tempdir().unwrap();
    let clean = |dir: &Path| Pyship::new(["cache", "clean", "--cache-dir"]).arg(dir);
    // Someone else's directory that happens to have the same layout.
    let foreign = temp.path().join("foreign");
    let shard = foreign.join("v2/ab");
    std::fs::create_dir_all(&shard).unwrap();
    std::fs::create_dir_all(foreign.join("artifacts-v1")).unwrap();
    std::fs::write(shard.join("c".repeat(62)), "data").unwrap();
    std::fs::write(foreign.join("artifacts-v1/notes"), "data").unwrap();
    std::fs::write(
        foreign.join("CACHEDIR.TAG"),
        "Signature: 8a477f597d28d172789f06886806bc55\n# another tool\n",
    )
    .unwrap();
    let output = clean(&foreign).fails(2);
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "error: Refusing to clean `{}`: its `CACHEDIR.TAG` was not written by pyship, so it is not a pyship cache\n",
            foreign.display()
        )
    );
    assert!(shard.join("c".repeat(62)).is_file());
    assert!(foreign.join("CACHEDIR.TAG").is_file());
    std::fs::remove_file(foreign.join("CACHEDIR.TAG")).unwrap();
    let output = clean(&foreign).fails(2);
    assert_stderr_contains(&output, "it has no `CACHEDIR.TAG`");
    assert!(shard.join("c".repeat(62)).is_file());

    let Some(python) = pythons().pop() else {
        return;
    };
    let (project_temp, project) = copy_fixture("flat");
    let cache = temp.path().join("cache");
    let out = project_temp.path().join("out");
    build(&project, &out, &cache, &python, &[]);
    let built = entries(&cache);
    assert!(!built.is_empty());
    let shard = built[0].parent().unwrap().to_path_buf();
    let precious = temp.path().join("precious");
    std::fs::create_dir_all(&precious).unwrap();
    std::fs::write(precious.join("a.txt"), "keep").unwrap();
    let keep = [
        shard.join("README"),
        shard.join("F".repeat(62)),
        cache.join("v2/notes.txt"),
        cache.join("artifacts-v1/notes.txt"),
        cache.join("mine.txt"),
    ];
    for path in &keep {
        std::fs::write(path, "keep").unwrap();
    }
    std::os::unix::fs::symlink(&precious, cache.join("v2/cd")).unwrap();
    // A temporary file a killed writer left is pyship's own.
    std::fs::write(shard.join(".tmp-pyship-Ab12Cd"), "partial").unwrap();
    clean(&cache).succeeds();
    assert!(built.iter().all(|entry| !entry.exists()));
    assert!(!shard.join(".tmp-pyship-Ab12Cd").exists());
    // The mark stays: the emptied directory is still pyship's cache, and cleaning it again works.
    assert!(cache.join("CACHEDIR.TAG").is_file());
    for path in &keep {
        assert!(path.is_file(), "{} was removed", path.display());
    }
    assert!(precious.join("a.txt").is_file());
    assert!(std::fs::symlink_metadata(cache.join("v2/cd")).is_ok());
    clean(&cache).succeeds();
}

/// (inode, mtime) of a file: what changes when it is written again.
fn identity(path: &Path) -> (u64, std::time::SystemTime) {
    let metadata = std::fs::metadata(path).unwrap();
    (
        std::os::unix::fs::MetadataExt::ino(&metadata),
        metadata.modified().unwrap(),
    )
}

#[test]
fn unchanged_archives_are_not_written_again() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let (temp, project) = copy_fixture("flat");
    let cache = temp.path().join("cache");
    let out = temp.path().join("out");
    let zip = out.join("flat-cp3".to_owned() + &python.minor.to_string() + ".zip");
    let up_to_date = |stderr: &str| stderr.contains("up to date, not written again");

    let (first, first_stderr) = build(&project, &out, &cache, &python, &[]);
    assert!(!up_to_date(&first_stderr), "{first_stderr}");
    let before = identity(&zip);
    std::thread::sleep(std::time::Duration::from_millis(20));

    // Nothing changed, or only a module's mtime: not written again.
    let (again, stderr) = build(&project, &out, &cache, &python, &[]);
    assert!(up_to_date(&stderr), "{stderr}");
    // The size report comes from the record, unchanged.
    let sizes = |stderr: &str| {
        let start = stderr.find("Sizes of").expect("a size report");
        // Through the total line: "(… compressed)" or "(… on disk)".
        let total = start + stderr[start..].find("\n  total").unwrap() + 1;
        stderr[start..total + stderr[total..].find('\n').unwrap()].to_owned()
    };
    assert_eq!(sizes(&stderr), sizes(&first_stderr));
    // An up-to-date archive needs no code: not even the cache is asked.
    assert_eq!(counts(&stderr), (0, 0, 0), "{stderr}");
    assert_eq!((again, identity(&zip)), (first.clone(), before));
    let module = project.join("pkg/sub/mod.py");
    std::fs::write(&module, std::fs::read(&module).unwrap()).unwrap();
    let (_, stderr) = build(&project, &out, &cache, &python, &[]);
    assert!(up_to_date(&stderr), "{stderr}");

    // Each of these changes what the archive holds, so it is written again.
    for what in [
        "a module's content",
        "a data file",
        "a new file",
        "the artifact itself",
        "the artifact's absence",
    ] {
        std::thread::sleep(std::time::Duration::from_millis(20));
        match what {
            "a module's content" => std::fs::write(project.join("ns/part.py"), "NAME = 'x'\n"),
            "a data file" => std::fs::write(project.join("pkg/data.json"), "{\"answer\": 43}\n"),
            "a new file" => std::fs::write(project.join("pkg/extra.txt"), "extra\n"),
            "the artifact itself" => std::fs::write(&zip, "tampered"),
            _ => std::fs::remove_file(&zip),
        }
        .unwrap();
        let (bytes, stderr) = build(&project, &out, &cache, &python, &[]);
        assert!(!up_to_date(&stderr), "after changing {what}: {stderr}");
        assert_eq!(&bytes[..2], b"PK", "after changing {what}");
        let (_, stderr) = build(&project, &out, &cache, &python, &[]);
        assert!(
            up_to_date(&stderr),
            "second build after changing {what}: {stderr}"
        );
    }
    // An option that changes the bytes: written again, and the result is what a cold build
    // without any cache writes.
    let (optimized, stderr) = build(&project, &out, &cache, &python, &["-O"]);
    assert!(!up_to_date(&stderr), "{stderr}");
    let cold = Pyship::build(&project)
        .args(["-f", "zip", "-O", "--no-cache"])
        .out(&temp.path().join("cold"))
        .python(&python)
        .output();
    let cold_path = String::from_utf8(cold.stdout).unwrap();
    assert_eq!(optimized, std::fs::read(cold_path.trim()).unwrap());
}

/// Every `.pyc` under `dir` by path relative to it, with its bytes.
fn pycs(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|ext| ext == "pyc") {
                let bytes = std::fs::read(&path).unwrap();
                out.insert(path.strip_prefix(dir).unwrap().to_path_buf(), bytes);
            }
        }
    }
    out
}

/// The cache is keyed by content, not path: the same tree at another path (and a module copied
/// under another name) is all hits and starts no worker, and what it produces is byte for byte
/// what a `--no-cache` run writes there, though every `co_filename` differs.
#[test]
fn the_same_tree_at_another_path_is_all_hits() {
    for python in pythons() {
        let temp = tempfile::tempdir().unwrap();
        let cache = temp.path().join("cache");
        let first = temp.path().join("a/flat");
        let second = temp.path().join("elsewhere/deeper/flat");
        copy_tree(&fixture("flat"), &first);
        copy_tree(&fixture("flat"), &second);

        // build: the second tree also has a module copied under another name.
        std::fs::copy(second.join("pkg/sub/mod.py"), second.join("pkg/moved.py")).unwrap();
        let (_, stderr) = build(&first, &temp.path().join("out-a"), &cache, &python, &[]);
        let (compiled, _, _) = counts(&stderr);
        let (warm, stderr) = build(&second, &temp.path().join("out-b"), &cache, &python, &[]);
        assert_eq!(counts(&stderr), (0, compiled + 1, 0), "{stderr}");
        let (cold, _) = build(
            &second,
            &temp.path().join("out-c"),
            &cache,
            &python,
            &["--no-cache"],
        );
        assert!(
            warm == cold,
            "build at another path differs on 3.{}",
            python.minor
        );

        // compile in place: co_filename is the real path, different in each tree. Its own
        // cache, so the first compile starts cold.
        // A syntax error is cached too: it is reported again without a worker.
        let cache = temp.path().join("cache-compile");
        for tree in [&first, &second] {
            std::fs::write(tree.join("broken.py"), "def f(:\n    pass\n").unwrap();
        }
        let compile = |tree: &Path, extra: &[&str]| {
            let output = Pyship::compile()
                .env("PYSHIP_CACHE_DIR", &cache)
                .arg(tree)
                .args(["-v"])
                .args(extra)
                .python(&python)
                .output();
            let stdout = String::from_utf8(output.stdout).unwrap();
            let stderr = String::from_utf8(output.stderr).unwrap();
            assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
            let broken = tree.join("broken.py");
            let error = format!("{}:1:", broken.display());
            assert!(
                stdout.contains(&error) || stderr.contains(&error),
                "{stdout}{stderr}"
            );
            counts(&stderr)
        };
        // Every module and the broken file.
        let (compiled, _, _) = compile(&first, &[]);
        assert!(compiled >= 6);
        // The module copied under another name is a hit too.
        assert_eq!(compile(&second, &[]), (0, compiled + 1, 0));
        let warm = pycs(&second);
        // Not the broken file's.
        assert_eq!(warm.len(), compiled);
        for dir in ["", "ns", "pkg", "pkg/sub", "tests"] {
            std::fs::remove_dir_all(second.join(dir).join("__pycache__")).unwrap();
        }
        compile(&second, &["--no-cache"]);
        let cold = pycs(&second);
        assert_eq!(
            warm.keys().collect::<Vec<_>>(),
            cold.keys().collect::<Vec<_>>()
        );
        for (path, bytes) in &warm {
            assert!(
                *bytes == cold[path],
                "{} differs from a --no-cache compile on 3.{}",
                path.display(),
                python.minor
            );
        }
        assert!(
            warm != pycs(&first),
            "the trees' pycs should differ by co_filename"
        );
    }
}

/// `pyship cache info --json` as a JSON value.
fn info(cache: &Path) -> serde_json::Value {
    let output = Pyship::new(["cache", "info", "--json", "--cache-dir"])
        .arg(cache)
        .succeeds();
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Set every entry's modification time (its last use) to `days` ago.
fn used_days_ago(entries: &[PathBuf], days: u64) {
    let time = std::time::SystemTime::now() - std::time::Duration::from_secs(days * 86_400);
    for entry in entries {
        filetime::set_file_mtime(entry, filetime::FileTime::from_system_time(time)).unwrap();
    }
}

/// `cache info` counts what is there; `cache prune` removes by age and by size, least recently
/// used first, refuses what is not a pyship cache; bad sizes are one error line.
#[test]
fn cache_info_and_prune() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let (temp, project) = copy_fixture("flat");
    let cache = temp.path().join("cache");
    let empty = info(&cache);
    assert_eq!(
        (empty["entries"].as_u64(), empty["bytes"].as_u64()),
        (Some(0), Some(0))
    );
    let (_, stderr) = build(&project, &temp.path().join("a"), &cache, &python, &[]);
    let (compiled, _, _) = counts(&stderr);
    let all = entries(&cache);
    let bytes: u64 = all
        .iter()
        .map(|entry| entry.metadata().unwrap().len())
        .sum();
    let found = info(&cache);
    assert_eq!(found["entries"].as_u64(), Some(compiled as u64));
    assert_eq!(found["bytes"].as_u64(), Some(bytes));
    assert_eq!(found["dir"].as_str(), cache.to_str());
    assert_eq!(found["max_size"].as_u64(), Some(1 << 30));
    let human = Pyship::new(["cache", "info"])
        .env("PYSHIP_CACHE_DIR", &cache)
        .env("PYSHIP_CACHE_MAX_SIZE", "2G")
        .succeeds();
    let human = String::from_utf8(human.stdout).unwrap();
    assert!(
        human.contains(&format!("Entries:  {compiled} (")),
        "{human}"
    );
    assert!(human.contains("Cap: 1.9 GiB"), "{human}");

    // Two entries unused for 40 days, one for 20.
    used_days_ago(&all[..2], 40);
    used_days_ago(&all[2..3], 20);
    let prune = |args: &[&str]| {
        let output = Pyship::new(["cache", "prune", "--cache-dir"])
            .arg(&cache)
            .args(args)
            .succeeds();
        String::from_utf8(output.stderr).unwrap()
    };
    let stderr = prune(&["--older-than", "30"]);
    assert!(stderr.starts_with("Removed 2 cache entries ("), "{stderr}");
    assert!(!all[0].exists() && !all[1].exists() && all[2].exists());
    // By size: the least recently used (20 days) goes first.
    let size = |entry: &PathBuf| entry.metadata().unwrap().len();
    let rest: u64 = all[3..].iter().map(size).sum();
    let stderr = prune(&["--max-size", &rest.to_string()]);
    assert!(stderr.starts_with("Removed 1 cache entry ("), "{stderr}");
    assert!(!all[2].exists() && all[3..].iter().all(|entry| entry.exists()));
    prune(&["--max-size", "0"]);
    assert!(entries(&cache).is_empty());
    let (_, stderr) = build(&project, &temp.path().join("b"), &cache, &python, &[]);
    assert_eq!(counts(&stderr).0, compiled);

    // Not a pyship cache: refused.
    let foreign = temp.path().join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("file"), "mine").unwrap();
    let output = Pyship::new(["cache", "prune", "--cache-dir"])
        .arg(&foreign)
        .fails(2);
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "error: Refusing to prune `{}`: it has no `CACHEDIR.TAG`, so it is not a pyship cache\n",
            foreign.display()
        )
    );
    assert!(foreign.join("file").is_file());

    // Bad sizes.
    let output = Pyship::new(["cache", "prune", "--max-size", "5X", "--cache-dir"])
        .arg(&cache)
        .fails(2);
    assert_stderr_contains(&output, "invalid value '5X' for '--max-size <SIZE>'");
    let output = Pyship::build(&project)
        .env("PYSHIP_CACHE_MAX_SIZE", "lots")
        .out(&temp.path().join("c"))
        .python(&python)
        .fails(2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: Invalid cache size `lots` in PYSHIP_CACHE_MAX_SIZE: ")
            && stderr.lines().count() == 2
            && stderr.lines().nth(1).unwrap().starts_with("hint: "),
        "{stderr}"
    );
}

/// After a build that added entries and took the cache over its cap, the least recently used
/// entries go until it is at 90% of the cap; a build under the cap removes nothing.
#[test]
fn the_cap_applies_after_a_build() {
    let Some(python) = pythons().pop() else {
        return;
    };
    let (temp, project) = copy_fixture("flat");
    let cache = temp.path().join("cache");
    let (_, stderr) = build(&project, &temp.path().join("a"), &cache, &python, &[]);
    let (compiled, _, _) = counts(&stderr);
    let old = entries(&cache);
    let bytes: u64 = old
        .iter()
        .map(|entry| entry.metadata().unwrap().len())
        .sum();
    used_days_ago(&old, 10);

    // Room for both builds' entries: nothing removed.
    let capped = |extra: &[&str], cap: u64, out: &str| {
        let output = Pyship::build(&project)
            .env("PYSHIP_CACHE_DIR", &cache)
            .env("PYSHIP_CACHE_MAX_SIZE", cap.to_string())
            .args(["-f", "zip", "-v"])
            .args(extra)
            .out(&temp.path().join(out))
            .python(&python)
            .succeeds();
        counts(&String::from_utf8(output.stderr).unwrap())
    };
    capped(&["-O"], 3 * bytes, "b");
    let both = entries(&cache);
    assert_eq!(both.len(), 2 * compiled);
    let optimized: u64 = both
        .iter()
        .filter(|entry| !old.contains(entry))
        .map(|entry| entry.metadata().unwrap().len())
        .sum();
    std::fs::remove_dir_all(&cache).unwrap();
    build(&project, &temp.path().join("c"), &cache, &python, &[]);
    let old = entries(&cache);
    used_days_ago(&old, 10);

    // Over a cap whose 90% holds the -O entries and no more: the older build's entries go.
    capped(&["-O"], (optimized / 9 + 1) * 10, "d");
    let left = entries(&cache);
    assert_eq!(left.len(), compiled, "{left:?}");
    assert!(old.iter().all(|entry| !entry.exists()));
    // Without -O everything is compiled again; the -O entries are hits.
    assert_eq!(capped(&["-O"], 0, "e"), (0, compiled, 0));
    assert_eq!(capped(&[], 0, "f").0, compiled);
}
