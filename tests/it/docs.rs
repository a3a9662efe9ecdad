//! `pyship completions SHELL` and `pyship man`: generated from the clap definitions.

use crate::common::Pyship;

#[test]
fn completions_are_valid_scripts_that_know_every_subcommand() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let output = Pyship::new(["completions", shell]).succeeds();
        let script = String::from_utf8(output.stdout).unwrap();
        for subcommand in ["build", "compile", "cache", "pythons", "completions"] {
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
    for subcommand in ["build", "compile", "cache", "pythons"] {
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
