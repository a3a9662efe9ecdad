//! `pyship completions SHELL` and `pyship man`: generated from the clap definitions.

use crate::common::Pyship;

#[test]
fn completions_are_valid_scripts_that_know_every_subcommand() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let output = Pyship::new(["completions", shell]).succeeds();
        let script = String::from_utf8(output.stdout).unwrap();
        for subcommand in [
            "build",
            "compile",
            "cache",
            "pythons",
            "completions",
            "inspect",
            "verify",
        ] {
            assert!(script.contains(subcommand), "{shell}: no `{subcommand}`");
        }
        assert!(
            script.contains("--strip-sources"),
            "{shell}: no build option"
        );
    }
    // bash itself parses the bash script.
    let output = Pyship::new(["completions", "bash"]).succeeds();
    let temp = tempfile::tempdir().unwrap();
    let script = temp.path().join("pyship.bash");
    std::fs::write(&script, output.stdout).unwrap();
    let status = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn the_man_page_is_roff_with_every_subcommand() {
    let output = Pyship::new(["man"]).succeeds();
    let page = String::from_utf8(output.stdout).unwrap();
    assert!(page.contains(".TH pyship 1"), "{page}");
    for subcommand in ["build", "compile", "cache", "pythons", "inspect", "verify"] {
        assert!(page.contains(subcommand), "no `{subcommand}`");
    }
    // man itself renders it, when it is installed.
    if std::process::Command::new("man")
        .arg("--version")
        .output()
        .is_ok()
    {
        let temp = tempfile::tempdir().unwrap();
        let file = temp.path().join("pyship.1");
        std::fs::write(&file, &page).unwrap();
        let rendered = std::process::Command::new("man")
            .arg("-l")
            .arg(&file)
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .output()
            .unwrap();
        assert!(rendered.status.success(), "{rendered:?}");
    }
}

/// The options of `pyship SUBCOMMAND --help`, each as (`-x` if it has one, `--long`), without
/// `--help` and `--version`.
fn options(subcommand: &str) -> Vec<(Option<String>, String)> {
    let output = Pyship::new(subcommand.split(' ').chain(["--help"])).succeeds();
    let help = String::from_utf8(output.stdout).unwrap();
    help.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let (short, rest) = match line.strip_prefix('-') {
                Some(after) if !after.starts_with('-') => {
                    let (short, rest) = line.split_once(", ")?;
                    (Some(short.to_owned()), rest)
                }
                _ => (None, line),
            };
            let long = rest.strip_prefix("--")?.split([' ', '<']).next()?;
            Some((short, format!("--{long}")))
        })
        .filter(|(_, long)| long != "--help" && long != "--version")
        .collect()
}

/// The first ```` ```sh ```` block after `heading` in the README.
fn readme_block(heading: &str) -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let after = &readme[readme
        .find(heading)
        .unwrap_or_else(|| panic!("no `{heading}`"))..];
    let start = after.find("```sh\n").unwrap() + "```sh\n".len();
    let end = start + after[start..].find("```").unwrap();
    after[start..end].to_owned()
}

#[test]
fn the_readme_usage_names_every_option() {
    for (subcommand, heading) in [
        ("build", "## Usage"),
        ("compile", "## In place: `pyship compile`"),
        ("cache info", "## Compile cache"),
        ("cache prune", "## Compile cache"),
        ("verify", "## Usage"),
        ("inspect", "## Usage"),
    ] {
        let block = readme_block(heading);
        let options = options(subcommand);
        assert!(options.len() > 1, "{options:?}");
        for (short, long) in options {
            // Named whole: `--cache-dir` is not named by `--cache-dir-x`, `-j` not by `-jobs`.
            let named = |flag: &str| {
                block.match_indices(flag).any(|(at, _)| {
                    !block[at + flag.len()..]
                        .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-')
                })
            };
            assert!(
                named(&long) || short.as_deref().is_some_and(named),
                "`{long}` of `pyship {subcommand}` is not in the README's usage:\n{block}"
            );
        }
    }
}
