//! What `python -m compileall` prints on stdout, line for line, so that scripts reading it
//! (and CPython's own tests) see the same text: `Listing '...'...`, `Compiling '...'...`,
//! `*** ` and the error, `Can't list '...'`, each with Python's `repr` of the path.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::Path;

/// One thing compileall says, in walk order. Which ones are printed depends on `-q`:
/// [`render`].
#[derive(Debug, Clone, serde::Serialize)]
pub enum Said {
    /// `Listing 'DIR'...` (not with `-q`).
    Listing(String),
    /// `Can't list 'DIR'` (not with `-qq`): a directory argument that cannot be listed (or
    /// does not exist) is not an error to compileall.
    CantList(String),
    /// `Skipping current directory` (not with `-qq`): the empty `sys.path` entry.
    SkippingCurdir,
    /// `-s` given a path that does not start the source's (3.13+): the full path is kept.
    StripdirIgnored {
        /// As given.
        stripdir: String,
        /// The source.
        fullname: String,
    },
    /// `Compiling 'FILE'...` (not with `-q`): a source whose pycs were (re)written, and what
    /// went wrong with it, in compileall's words.
    Compiling {
        /// The source, as walked.
        path: String,
        /// The error text compileall prints after `*** ` (without its final newline).
        error: Option<String>,
    },
}

/// compileall's stdout for `said` at quiet level `quiet` (`-q` = 1, `-qq` = 2).
pub fn render(said: &[Said], quiet: u8) -> String {
    let mut out = String::new();
    for item in said {
        // Writing to a String cannot fail.
        let _ = match item {
            Said::Listing(dir) if quiet == 0 => writeln!(out, "Listing {}...", py_repr(dir)),
            Said::CantList(dir) if quiet < 2 => writeln!(out, "Can't list {}", py_repr(dir)),
            Said::SkippingCurdir if quiet < 2 => writeln!(out, "Skipping current directory"),
            Said::StripdirIgnored { stripdir, fullname } if quiet < 2 => writeln!(
                out,
                "The stripdir path {} is not a valid prefix for source path {}; ignoring",
                py_repr(stripdir),
                py_repr(fullname)
            ),
            Said::Compiling { path, error } => {
                if quiet == 0 {
                    let _ = writeln!(out, "Compiling {}...", py_repr(path));
                }
                match error {
                    Some(error) if quiet < 2 => {
                        if quiet == 1 {
                            let _ = writeln!(out, "*** Error compiling {}...", py_repr(path));
                        } else {
                            out.push_str("*** ");
                        }
                        writeln!(out, "{error}")
                    }
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        };
    }
    out
}

/// `Error reading file list FILE`, compileall's line when `-i FILE` cannot be read (not with
/// `-qq`).
pub fn file_list_unreadable(file: &str, quiet: u8) -> String {
    if quiet < 2 {
        format!("Error reading file list {file}\n")
    } else {
        String::new()
    }
}

/// A path as Python sees it: `os.fsdecode`, undecodable bytes as lone surrogates.
pub fn py_str(path: &Path) -> String {
    py_str_os(path.as_os_str())
}

/// [`py_str`] of an `OsStr`; lone surrogates are written `\udcXX` (as `repr` shows them).
pub fn py_str_os(text: &OsStr) -> String {
    let mut out = String::new();
    for chunk in text.as_encoded_bytes().utf8_chunks() {
        out.push_str(chunk.valid());
        for byte in chunk.invalid() {
            // A surrogate cannot be in a Rust string: keep the escape that repr would print,
            // marked with a private-use character that `py_repr` turns back into `\udc`.
            out.push(SURROGATE_MARK);
            let _ = write!(out, "{byte:02x}");
        }
    }
    out
}

/// Marks an undecodable byte in a [`py_str`] string (a private-use code point no file name
/// uses in practice); [`py_repr`] writes it as Python's `\udcXX`.
const SURROGATE_MARK: char = '\u{10fffd}';

/// Python's `repr(text)` for a str.
pub fn py_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            SURROGATE_MARK => out.push_str("\\udc"),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if printable(c) => out.push(c),
            c if u32::from(c) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if u32::from(c) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => {
                let _ = write!(out, "\\U{:08x}", u32::from(c));
            }
        }
    }
    out.push(quote);
    out
}

/// `str.isprintable` for the characters file names hold: controls, separators other than
/// the space, format characters and non-characters are not.
fn printable(c: char) -> bool {
    let code = u32::from(c);
    !(code < 0x20
        || (0x7f..=0xa0).contains(&code)
        || code == 0xad
        || (0x2000..=0x200f).contains(&code)
        || (0x2028..=0x202f).contains(&code)
        || (0x205f..=0x2064).contains(&code)
        || code == 0x3000
        || code == 0xfeff
        || (0xfff9..=0xfffb).contains(&code)
        || (0xe000..=0xf8ff).contains(&code)
        || code >= 0xf0000
        || c == '\u{1680}')
}

/// What compileall prints for an `OSError` from py_compile: `PermissionError: [Errno 13]
/// Permission denied: 'path'` (the class CPython picks for the errno, `str()` of it).
pub fn os_error(err: &std::io::Error, path: Option<&Path>) -> String {
    let Some(code) = errno(err) else {
        return format!("OSError: {err}");
    };
    let class = match code {
        libc::EACCES | libc::EPERM => "PermissionError",
        libc::ENOENT => "FileNotFoundError",
        libc::EEXIST => "FileExistsError",
        libc::EISDIR => "IsADirectoryError",
        libc::ENOTDIR => "NotADirectoryError",
        libc::EINTR => "InterruptedError",
        _ => "OSError",
    };
    // Rust says `Permission denied (os error 13)`; Python `[Errno 13] Permission denied`.
    let text = std::io::Error::from_raw_os_error(code).to_string();
    let strerror = text
        .strip_suffix(&format!(" (os error {code})"))
        .unwrap_or(&text);
    match path {
        Some(path) => format!(
            "{class}: [Errno {code}] {strerror}: {}",
            py_repr(&py_str(path))
        ),
        None => format!("{class}: [Errno {code}] {strerror}"),
    }
}

/// The errno behind `err`, also when `fs_err` wrapped it: its message ends with the
/// original's, `... (os error 5)`.
fn errno(err: &std::io::Error) -> Option<i32> {
    err.raw_os_error().or_else(|| {
        let text = err.to_string();
        let (_, code) = text.strip_suffix(')')?.rsplit_once("(os error ")?;
        code.parse().ok()
    })
}

/// What compileall prints for a source the target's compiler refused: py_compile's
/// `PyCompileError` message (printed with a newline after it), that is `traceback.format_exception_only` of the SyntaxError
/// with the recorded file name; for its subclasses (IndentationError, TabError) and other
/// exceptions, `Sorry: TYPE: str(exc)`.
///
/// What stands in when [`py_compile_messages`] cannot ask the target: the worker reports line,
/// column and message; the source line comes from the source. The caret marks the column:
/// where CPython 3.10+ underlines a range, this shows its first `^`.
pub fn compile_error(
    dfile: &str,
    source: &[u8],
    (line, column): (u32, u32),
    message: &str,
    minor: u8,
) -> String {
    if line == 0 && is_exception_text(message) {
        return format!("Sorry: {message}");
    }
    let class = syntax_error_class(message);
    if class != "SyntaxError" {
        // `str(IndentationError)`: the message, then the file's base name and the line.
        let name = dfile.rsplit('/').next().unwrap_or(dfile);
        return format!("Sorry: {class}: {message} ({name}, line {line})");
    }
    let mut out = String::new();
    if line > 0 {
        let _ = writeln!(out, "  File \"{dfile}\", line {line}");
        let text = source
            .split(|&byte| byte == b'\n')
            .nth(line as usize - 1)
            .map(String::from_utf8_lossy);
        if let Some(text) = text {
            let rtext = text.trim_end_matches('\n');
            let whitespace = |c: char| c.is_whitespace();
            if minor < 9 {
                // 3.8: the line stripped both ends; the caret at `min(len, offset) - 1`.
                let _ = writeln!(out, "    {}", rtext.trim_matches(whitespace));
                if column > 0 {
                    let offset = (column as usize)
                        .min(rtext.chars().count())
                        .saturating_sub(1);
                    let before: String = rtext.chars().take(offset).collect();
                    let caret: String = before
                        .trim_start_matches(whitespace)
                        .chars()
                        .map(|c| if c.is_whitespace() { c } else { ' ' })
                        .collect();
                    let _ = writeln!(out, "    {caret}^");
                }
            } else {
                let ltext = rtext.trim_start_matches([' ', '\n', '\x0c']);
                let spaces = rtext.chars().count() - ltext.chars().count();
                let _ = writeln!(out, "    {ltext}");
                if let Some(colno) = (column as usize)
                    .checked_sub(1 + spaces)
                    .filter(|_| column > 0)
                {
                    let caret: String = ltext
                        .chars()
                        .take(colno)
                        .map(|c| if c.is_whitespace() { c } else { ' ' })
                        .collect();
                    let _ = writeln!(out, "    {caret}^");
                }
            }
        }
    }
    let _ = writeln!(out, "{class}: {message}");
    out
}

/// The target's own `py_compile` messages for sources it refused, exactly as compileall
/// prints them (`PyCompileError(...).msg`: `traceback.format_exception_only` with its carets,
/// or `Sorry: ...`), in the order asked; `None` for one that now reads or compiles otherwise,
/// and all `None` when the interpreter cannot be asked (then [`compile_error()`] stands in).
pub fn py_compile_messages(
    interpreter: &crate::interpreter::Interpreter,
    sources: &[(&Path, &str, crate::compile::Optimize)],
) -> Vec<Option<String>> {
    let none = || vec![None; sources.len()];
    let mut command = std::process::Command::new(&interpreter.executable);
    command.args(["-I", "-S", "-c", PY_COMPILE_MESSAGES]);
    for (path, dfile, optimize) in sources {
        command
            .arg(path)
            .arg(dfile)
            .arg(optimize.level().to_string());
    }
    let deadline = crate::support::process::deadline_from_env(
        crate::interpreter::PROBE_TIMEOUT_ENV,
        crate::interpreter::DEFAULT_PROBE_TIMEOUT,
    );
    let Ok(output) = crate::support::process::output(command, deadline) else {
        return none();
    };
    let answers: Vec<&[u8]> = output
        .stdout
        .strip_suffix(b"\0")
        .unwrap_or_default()
        .split(|&byte| byte == 0)
        .collect();
    if !output.status.success() || answers.len() != sources.len() {
        return none();
    }
    answers
        .into_iter()
        .map(|answer| match answer {
            b"" | b"\x01" => None,
            message => Some(String::from_utf8_lossy(message).into_owned()),
        })
        .collect()
}

/// Run as `python -I -S -c THIS PATH DFILE LEVEL...`: for each source, what `py_compile.compile`
/// would raise, as compileall prints it, then a NUL; nothing when it compiles, `\x01` when it
/// cannot be read. Non-UTF-8 paths come as surrogate escapes and are read back as such.
const PY_COMPILE_MESSAGES: &str = "\
import importlib.machinery, py_compile, sys
out = sys.stdout.buffer
args = sys.argv[1:]
for at in range(0, len(args), 3):
    path, dfile, level = args[at], args[at + 1], int(args[at + 2])
    loader = importlib.machinery.SourceFileLoader('<py_compile>', path)
    try:
        data = loader.get_data(path)
    except OSError:
        out.write(b'\\x01\\0')
        continue
    try:
        loader.source_to_code(data, dfile, _optimize=level)
        message = ''
    except Exception as err:
        message = py_compile.PyCompileError(err.__class__, err, dfile).msg
    out.write(message.encode('utf-8', 'backslashreplace') + b'\\0')
";

/// `ValueError: source code string cannot contain null bytes`: how the worker reports an
/// exception other than SyntaxError.
fn is_exception_text(message: &str) -> bool {
    message.split_once(": ").is_some_and(|(name, _)| {
        !name.is_empty()
            && name.ends_with("Error")
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The SyntaxError subclass CPython raises with `message` (the worker sends the message only).
fn syntax_error_class(message: &str) -> &'static str {
    if message.starts_with("inconsistent use of tabs") {
        "TabError"
    } else if message.starts_with("unexpected indent")
        || message.starts_with("expected an indented block")
        || message.starts_with("unindent does not match")
    {
        "IndentationError"
    } else {
        "SyntaxError"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repr_is_pythons() {
        for (text, expected) in [
            ("foo/bar.py", "'foo/bar.py'"),
            ("it's", "\"it's\""),
            ("a'b\"c", "'a\\'b\"c'"),
            ("tab\there\n", "'tab\\there\\n'"),
            ("esc\x1b", "'esc\\x1b'"),
            ("caf\u{e9}", "'caf\u{e9}'"),
            ("nb\u{a0}sp", "'nb\\xa0sp'"),
            ("back\\slash", "'back\\\\slash'"),
        ] {
            assert_eq!(py_repr(text), expected, "{text:?}");
        }
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt as _;
            let name = OsStr::from_bytes(b"bad\xffname.py");
            assert_eq!(py_repr(&py_str_os(name)), "'bad\\udcffname.py'");
        }
    }

    #[test]
    fn quiet_levels_choose_the_lines() {
        let said = [
            Said::Listing("pkg".to_owned()),
            Said::Compiling {
                path: "pkg/a.py".to_owned(),
                error: None,
            },
            Said::Compiling {
                path: "pkg/b.py".to_owned(),
                error: Some("SyntaxError: bad\n".to_owned()),
            },
            Said::CantList("nope".to_owned()),
        ];
        assert_eq!(
            render(&said, 0),
            "Listing 'pkg'...\nCompiling 'pkg/a.py'...\nCompiling 'pkg/b.py'...\n\
             *** SyntaxError: bad\n\nCan't list 'nope'\n"
        );
        assert_eq!(
            render(&said, 1),
            "*** Error compiling 'pkg/b.py'...\nSyntaxError: bad\n\nCan't list 'nope'\n"
        );
        assert_eq!(render(&said, 2), "");
    }

    #[test]
    fn compile_errors_read_like_format_exception_only() {
        assert_eq!(
            compile_error(
                "dinsdale/x.py",
                b"a = 1\n  bad(syntax\n",
                (2, 6),
                "'(' was never closed",
                13
            ),
            "  File \"dinsdale/x.py\", line 2\n    bad(syntax\n       ^\n\
             SyntaxError: '(' was never closed\n"
        );
        assert_eq!(
            compile_error(
                "x.py",
                b"\0",
                (0, 0),
                "ValueError: source code string cannot contain null bytes",
                11
            ),
            "Sorry: ValueError: source code string cannot contain null bytes"
        );
        assert_eq!(
            compile_error(
                "dd/sub/x.py",
                b"if 1:\nx = 1\n",
                (2, 1),
                "expected an indented block",
                9
            ),
            "Sorry: IndentationError: expected an indented block (x.py, line 2)"
        );
        // 3.8 puts the caret of an error past the end of the line under its last character.
        assert_eq!(
            compile_error(
                "t.py",
                b"t = (\n",
                (1, 6),
                "unexpected EOF while parsing",
                8
            ),
            "  File \"t.py\", line 1\n    t = (\n        ^\nSyntaxError: unexpected EOF while parsing\n"
        );
        let err = std::io::Error::from_raw_os_error(libc::EACCES);
        assert_eq!(
            os_error(&err, Some(Path::new("a/b.pyc"))),
            "PermissionError: [Errno 13] Permission denied: 'a/b.pyc'"
        );
        // fs_err keeps the kind but not the errno: it is read back from its message.
        let wrapped = fs_err::read("/nonexistent/pyship/x.py").unwrap_err();
        assert_eq!(
            os_error(&wrapped, None),
            "FileNotFoundError: [Errno 2] No such file or directory"
        );
    }
}
