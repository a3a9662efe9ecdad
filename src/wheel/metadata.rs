//! The text files of a `.dist-info` directory built from a [`Project`]: `METADATA` (core
//! metadata 2.1, or 2.4 when PEP 639 fields are used), `WHEEL` and `entry_points.txt`.
//! Deterministic: same project, same bytes.
//!
//! Core metadata: <https://packaging.python.org/en/latest/specifications/core-metadata/>
//! Entry points: <https://packaging.python.org/en/latest/specifications/entry-points/>

use std::fmt::Write as _;

use super::normalize_name;
use super::tags::Tag;
use crate::source::project::{License, Person, Project};

/// `METADATA` for `project`: core metadata headers, then the readme as the message body.
///
/// Metadata-Version is 2.4 only when `License-Expression` or `License-File` is written (PEP
/// 639, as the uv build backend does), so that tools older than 2.4 read every other project.
pub fn render_metadata(project: &Project) -> String {
    let pep_639 = matches!(project.license, Some(License::Expression(_)))
        || !project.license_files.is_empty();
    let mut out = String::new();
    let mut field = |name: &str, value: &str| {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(&fold(value));
        out.push('\n');
    };
    field("Metadata-Version", if pep_639 { "2.4" } else { "2.1" });
    field("Name", &project.name);
    field("Version", &project.version);
    if let Some(summary) = &project.description {
        field("Summary", &summary.replace(['\r', '\n'], " "));
    }
    if !project.keywords.is_empty() {
        field("Keywords", &project.keywords.join(","));
    }
    for (name_field, email_field, people) in [
        ("Author", "Author-email", &project.authors),
        ("Maintainer", "Maintainer-email", &project.maintainers),
    ] {
        let (names, emails) = people_fields(people);
        if !names.is_empty() {
            field(name_field, &names);
        }
        if !emails.is_empty() {
            field(email_field, &emails);
        }
    }
    match &project.license {
        Some(License::Expression(expression)) => field("License-Expression", expression.trim()),
        Some(license) => field("License", license.text().trim_end()),
        None => {}
    }
    // Copied to `.dist-info/licenses/` by the wheel build (PEP 639).
    for file in &project.license_files {
        field("License-File", &file.path);
    }
    for classifier in &project.classifiers {
        field("Classifier", classifier);
    }
    if let Some(requires_python) = &project.requires_python {
        field("Requires-Python", requires_python);
    }
    for (label, url) in &project.urls {
        field("Project-URL", &format!("{label}, {url}"));
    }
    for requirement in &project.dependencies {
        field("Requires-Dist", requirement);
    }
    for (extra, requirements) in &project.optional_dependencies {
        // PEP 685: extras are compared normalised, so write them normalised.
        let extra = normalize_name(extra);
        field("Provides-Extra", &extra);
        for requirement in requirements {
            field("Requires-Dist", &with_extra_marker(requirement, &extra));
        }
    }
    if let Some(readme) = &project.readme {
        field("Description-Content-Type", &readme.content_type);
        out.push('\n');
        out.push_str(&readme.content);
        if !readme.content.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// `METADATA` without its long description (`--slim`): the headers up to the first blank line,
/// less a `Description` header and its continuation lines. `importlib.metadata` reads headers;
/// the description is for package indexes.
pub fn strip_long_description(metadata: &str) -> String {
    let mut out = String::with_capacity(metadata.len());
    let mut in_description = false;
    for line in metadata.split_inclusive('\n') {
        let content = line.trim_end_matches(['\r', '\n']);
        if content.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            // A continuation line belongs to the header before it.
            if !in_description {
                out.push_str(line);
            }
            continue;
        }
        in_description = content
            .split_once(':')
            .is_some_and(|(name, _)| name.trim().eq_ignore_ascii_case("description"));
        if !in_description {
            out.push_str(line);
        }
    }
    out
}

/// A multi-line value as an RFC 822 folded header: continuation lines indented by 8 spaces.
fn fold(value: &str) -> String {
    value.lines().collect::<Vec<_>>().join("\n        ")
}

/// `Author`/`Author-email` values as PEP 621 maps them: names without an email go to the
/// first, comma-separated; `Name <email>` (or a bare email) to the second.
fn people_fields(people: &[Person]) -> (String, String) {
    let mut names = Vec::new();
    let mut emails = Vec::new();
    for person in people {
        match (&person.name, &person.email) {
            (Some(name), None) => names.push(name.clone()),
            (Some(name), Some(email)) => emails.push(format!("{} <{email}>", display_name(name))),
            (None, Some(email)) => emails.push(email.clone()),
            (None, None) => {}
        }
    }
    (names.join(", "), emails.join(", "))
}

/// An email display name, quoted when it holds characters special in an address list.
fn display_name(name: &str) -> String {
    if name.contains([',', '<', '>', '@', '"', '(', ')', ':', ';', '[', ']', '\\']) {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        name.to_owned()
    }
}

/// `requirement` made conditional on `extra`: `dep; extra == "x"`, or with an existing marker
/// `dep; (marker) and extra == "x"`.
fn with_extra_marker(requirement: &str, extra: &str) -> String {
    let extra_marker = format!("extra == \"{extra}\"");
    match split_marker(requirement) {
        (requirement, Some(marker)) => format!("{requirement}; ({marker}) and {extra_marker}"),
        (requirement, None) => format!("{requirement}; {extra_marker}"),
    }
}

/// Split a PEP 508 requirement at its marker `;` into the trimmed requirement and the marker,
/// if any. In a URL requirement (`name @ url ; marker`) the `;` must follow whitespace, since
/// a URL may itself hold `;`.
fn split_marker(requirement: &str) -> (&str, Option<&str>) {
    let index = if requirement.contains('@') {
        requirement
            .char_indices()
            .find(|&(index, c)| {
                c == ';'
                    && requirement[..index]
                        .chars()
                        .next_back()
                        .is_some_and(char::is_whitespace)
            })
            .map(|(index, _)| index)
    } else {
        requirement.find(';')
    };
    let Some(index) = index else {
        return (requirement.trim(), None);
    };
    let marker = requirement[index + 1..].trim();
    (
        requirement[..index].trim(),
        (!marker.is_empty()).then_some(marker),
    )
}

/// `WHEEL` (PEP 427): `Wheel-Version: 1.0`, the generator, `Root-Is-Purelib` and one `Tag:`
/// line per tag.
pub fn render_wheel_file(generator: &str, root_is_purelib: bool, tags: &[Tag]) -> String {
    let mut out =
        format!("Wheel-Version: 1.0\nGenerator: {generator}\nRoot-Is-Purelib: {root_is_purelib}\n");
    for tag in tags {
        let _ = writeln!(out, "Tag: {tag}");
    }
    out
}

/// `entry_points.txt`: `[console_scripts]`, `[gui_scripts]`, then the other groups by name,
/// entries by name; `None` when the project declares none.
pub fn render_entry_points(project: &Project) -> Option<String> {
    let groups = [
        ("console_scripts", &project.scripts),
        ("gui_scripts", &project.gui_scripts),
    ]
    .into_iter()
    .chain(
        project
            .entry_points
            .iter()
            .map(|(group, entries)| (group.as_str(), entries)),
    )
    .filter(|(_, entries)| !entries.is_empty());
    let mut out = String::new();
    for (group, entries) in groups {
        if !out.is_empty() {
            out.push('\n');
        }
        let _ = writeln!(out, "[{group}]");
        for (name, reference) in entries {
            let _ = writeln!(out, "{name} = {reference}");
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::source::project::{License, Readme};
    use insta::assert_snapshot;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn person(name: Option<&str>, email: Option<&str>) -> Person {
        Person {
            name: name.map(str::to_owned),
            email: email.map(str::to_owned),
        }
    }

    fn full() -> Project {
        Project {
            name: "Spam.Eggs_tool".to_owned(),
            version: "1.2.0rc1".to_owned(),
            description: Some("Eggs, with spam".to_owned()),
            readme: Some(Readme {
                content: "# Spam\n\nEggs.".to_owned(),
                content_type: "text/markdown".to_owned(),
            }),
            requires_python: Some(">=3.9".to_owned()),
            license: Some(License::File {
                path: "LICENSE".to_owned(),
                content: "MIT License\n\nCopyright (c) Ada\n".to_owned(),
            }),
            license_files: vec![crate::source::project::LicenseFile {
                path: "LICENSES/MIT.txt".to_owned(),
                content: b"MIT".to_vec(),
            }],
            authors: vec![
                person(Some("Ada Lovelace"), Some("ada@example.org")),
                person(Some("Grace Hopper"), None),
                person(None, Some("team@example.org")),
                person(Some("Doe, Jane"), Some("jane@example.org")),
            ],
            maintainers: vec![person(Some("Alan Turing"), Some("alan@example.org"))],
            keywords: vec!["spam".to_owned(), "eggs".to_owned()],
            classifiers: vec![
                "Programming Language :: Python :: 3".to_owned(),
                "License :: OSI Approved :: MIT License".to_owned(),
            ],
            urls: map(&[
                ("Homepage", "https://example.org"),
                ("Bug Tracker", "https://example.org/issues"),
            ]),
            dependencies: vec![
                "requests>=2.28".to_owned(),
                "tomli; python_version < '3.11'".to_owned(),
            ],
            optional_dependencies: [
                (
                    "cli".to_owned(),
                    vec![
                        "rich".to_owned(),
                        "click>=8 ; sys_platform != 'win32' or python_version > '3.8'".to_owned(),
                    ],
                ),
                (
                    "Dev_Tools".to_owned(),
                    vec!["pip @ https://example.org/pip.whl;v=1 ; os_name == 'nt'".to_owned()],
                ),
            ]
            .into_iter()
            .collect(),
            scripts: map(&[("spam", "spam.cli:main"), ("eggs", "spam.cli:eggs")]),
            gui_scripts: map(&[("spam-gui", "spam.gui:run")]),
            entry_points: [
                (
                    "spam.plugins".to_owned(),
                    map(&[("eggs", "spam.plugins.eggs:Plugin")]),
                ),
                ("a.first".to_owned(), map(&[("x", "spam.x")])),
            ]
            .into_iter()
            .collect(),
            dynamic: Vec::new(),
            sdist: None,
        }
    }

    #[test]
    fn metadata_of_a_full_project() {
        assert_snapshot!(render_metadata(&full()), @r#"
        Metadata-Version: 2.4
        Name: Spam.Eggs_tool
        Version: 1.2.0rc1
        Summary: Eggs, with spam
        Keywords: spam,eggs
        Author: Grace Hopper
        Author-email: Ada Lovelace <ada@example.org>, team@example.org, "Doe, Jane" <jane@example.org>
        Maintainer-email: Alan Turing <alan@example.org>
        License: MIT License
                
                Copyright (c) Ada
        License-File: LICENSES/MIT.txt
        Classifier: Programming Language :: Python :: 3
        Classifier: License :: OSI Approved :: MIT License
        Requires-Python: >=3.9
        Project-URL: Bug Tracker, https://example.org/issues
        Project-URL: Homepage, https://example.org
        Requires-Dist: requests>=2.28
        Requires-Dist: tomli; python_version < '3.11'
        Provides-Extra: dev-tools
        Requires-Dist: pip @ https://example.org/pip.whl;v=1; (os_name == 'nt') and extra == "dev-tools"
        Provides-Extra: cli
        Requires-Dist: rich; extra == "cli"
        Requires-Dist: click>=8; (sys_platform != 'win32' or python_version > '3.8') and extra == "cli"
        Description-Content-Type: text/markdown

        # Spam

        Eggs.
        "#);
    }

    #[test]
    fn metadata_of_a_minimal_project() {
        let project = Project {
            name: "tiny".to_owned(),
            version: "0.1".to_owned(),
            ..Project::default()
        };
        assert_snapshot!(render_metadata(&project), @r"
        Metadata-Version: 2.1
        Name: tiny
        Version: 0.1
        ");
        assert_eq!(render_entry_points(&project), None);
    }

    #[test]
    fn spdx_license_expression_is_pep_639() {
        let project = Project {
            name: "tiny".to_owned(),
            version: "0.1".to_owned(),
            license: Some(License::Expression("MIT OR Apache-2.0".to_owned())),
            ..Project::default()
        };
        assert_snapshot!(render_metadata(&project), @r"
        Metadata-Version: 2.4
        Name: tiny
        Version: 0.1
        License-Expression: MIT OR Apache-2.0
        ");
        // A license text keeps the older version: tools before 2.4 still read it.
        let project = Project {
            license: Some(License::Text("Free for all".to_owned())),
            ..project
        };
        assert!(render_metadata(&project).starts_with("Metadata-Version: 2.1\n"));
        assert!(render_metadata(&project).contains("\nLicense: Free for all\n"));
    }

    #[test]
    fn long_description_is_stripped() {
        let metadata = "Metadata-Version: 2.1\nName: a\nDescription: long\n        text\n       |more\nSummary: s\n  folded\n\n# Readme\n\nBody\n";
        assert_eq!(
            strip_long_description(metadata),
            "Metadata-Version: 2.1\nName: a\nSummary: s\n  folded\n"
        );
        assert_eq!(strip_long_description(&render_metadata(&full())), {
            let rendered = render_metadata(&full());
            rendered[..=rendered.find("\n\n").unwrap()].to_owned()
        });
    }

    #[test]
    fn extra_markers() {
        assert_eq!(with_extra_marker("rich", "cli"), "rich; extra == \"cli\"");
        assert_eq!(
            with_extra_marker("a>1;python_version<'3.9'", "x"),
            "a>1; (python_version<'3.9') and extra == \"x\""
        );
        assert_eq!(with_extra_marker("a ;", "x"), "a; extra == \"x\"");
        assert_eq!(
            with_extra_marker("b @ https://h/b.whl", "x"),
            "b @ https://h/b.whl; extra == \"x\""
        );
    }

    #[test]
    fn wheel_file() {
        let tags = [Tag::new("cp312", "none", "any")];
        assert_snapshot!(render_wheel_file("pyship 0.1.0", true, &tags), @r"
        Wheel-Version: 1.0
        Generator: pyship 0.1.0
        Root-Is-Purelib: true
        Tag: cp312-none-any
        ");
    }

    #[test]
    fn entry_points_are_grouped_and_sorted() {
        assert_snapshot!(render_entry_points(&full()).unwrap(), @r"
        [console_scripts]
        eggs = spam.cli:eggs
        spam = spam.cli:main

        [gui_scripts]
        spam-gui = spam.gui:run

        [a.first]
        x = spam.x

        [spam.plugins]
        eggs = spam.plugins.eggs:Plugin
        ");
    }
}
