//! Read an existing `.whl` safely: every member name checked before anything is read, sizes
//! bounded by [`Limits`] (declared and actual), `WHEEL` parsed and every byte checked against
//! `RECORD`. [`open_wheel`] returns the members in archive order; [`extract_to`] writes them
//! under a directory, never outside it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rayon::prelude::*;
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::tags::{Tag, WheelFilename, header_value, wheel_file_tags};
use super::{RecordProblem, WheelError, normalize_name};

/// Bounds on what reading a wheel may unpack, so that a zip bomb is refused, not inflated.
/// Compression ratio is not one of them: an honest wheel may carry megabytes of zeros (pip
/// installs it), so what is bounded is what inflating costs, checked against the declared
/// sizes before anything is inflated and against the actual bytes while inflating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Total uncompressed bytes over all members.
    pub max_total_uncompressed: u64,
    /// Uncompressed bytes of one member.
    pub max_member: u64,
    /// Members larger than this go to a temporary file instead of memory.
    pub spill_member: u64,
    /// Once members in memory total this much, the rest go to temporary files too.
    pub max_in_memory: u64,
}

impl Default for Limits {
    /// 8 GiB in total, 4 GiB per member (as large as honest binary wheels get); members over
    /// 8 MiB, and all once 256 MiB are in memory, are spilled to disk.
    fn default() -> Limits {
        Limits {
            max_total_uncompressed: 8 << 30,
            max_member: 4 << 30,
            spill_member: 8 << 20,
            max_in_memory: 256 << 20,
        }
    }
}

/// One file of a wheel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// `/`-separated path, checked safe.
    pub path: String,
    /// The uncompressed content, checked against RECORD; empty when [`Member::spilled`].
    pub bytes: Vec<u8>,
    /// Where the content is instead when it is large: a file in [`WheelContents::spill`].
    pub spilled: Option<PathBuf>,
    /// The uncompressed size.
    pub size: u64,
    /// Whether the archive marks it executable (unix mode `0o111`).
    pub executable: bool,
}

/// A wheel read and verified by [`open_wheel`].
#[derive(Debug, Clone)]
pub struct WheelContents {
    /// The parsed file name.
    pub filename: WheelFilename,
    /// The `.dist-info` directory name, without a trailing `/`.
    pub dist_info: String,
    /// `Root-Is-Purelib` from `WHEEL`.
    pub root_is_purelib: bool,
    /// The `Tag:` lines of `WHEEL`, expanded and sorted.
    pub tags: Vec<Tag>,
    /// Every file (directory entries left out), in archive order.
    pub members: Vec<Member>,
    /// The temporary directory holding spilled members; removed when the last clone is dropped.
    pub spill: Option<Arc<tempfile::TempDir>>,
}

impl WheelContents {
    /// The member at `path`.
    pub fn member(&self, path: &str) -> Option<&Member> {
        self.members.iter().find(|member| member.path == path)
    }
}

/// Read, check and verify the wheel at `path` within `limits`. Refused with one error: a file
/// that is not a zip, an unsafe or duplicate member name, a symlink member, a member over the
/// limits, not exactly one `.dist-info`, a bad `WHEEL`, and any disagreement with `RECORD`.
pub fn open_wheel(path: &Path, limits: Limits) -> Result<WheelContents, WheelError> {
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let filename = WheelFilename::parse(&file_name)?;
    let ZipContents { members, spill } = read_archive(path, limits, true)?;
    let dist_info = find_dist_info(path, &filename, &members)?;
    let wheel_path = format!("{dist_info}/WHEEL");
    let (root_is_purelib, tags) = parse_wheel_file(path, &wheel_path, &members)?;
    verify_record(path, &dist_info, &members)?;
    Ok(WheelContents {
        filename,
        dist_info,
        root_is_purelib,
        tags,
        members,
        spill,
    })
}

/// The files of any zip archive (a zip, a zipapp with its shebang line, a wheel), read with
/// the guards of [`open_wheel`]: every name checked, no symlink, sizes within `limits`.
#[derive(Debug, Clone)]
pub struct ZipContents {
    /// Every file (directory entries left out), in archive order.
    pub members: Vec<Member>,
    /// The temporary directory holding spilled members; removed when the last clone is dropped.
    pub spill: Option<Arc<tempfile::TempDir>>,
}

/// Read the zip archive at `path` within `limits`, refusing what [`open_wheel`] refuses short
/// of the wheel's own checks (name, `.dist-info`, `WHEEL`, `RECORD`).
pub fn read_zip(path: &Path, limits: Limits) -> Result<ZipContents, WheelError> {
    read_archive(path, limits, false)
}

/// [`read_zip`]; `wheel` says which word its errors use.
fn read_archive(path: &Path, limits: Limits, wheel: bool) -> Result<ZipContents, WheelError> {
    // Opening a FIFO blocks until someone writes to it: look before opening.
    let metadata = fs_err::metadata(path)?;
    if !metadata.is_file() {
        return Err(if wheel {
            WheelError::NotAFile {
                path: path.to_path_buf(),
            }
        } else {
            WheelError::NotARegularFile {
                path: path.to_path_buf(),
            }
        });
    }
    // Spilled members carry the wheel's modification time: a build's up-to-date check sees a
    // file on disk by its size and mtime, which then change exactly when the wheel does.
    let wheel_mtime = filetime::FileTime::from_last_modification_time(&metadata);
    let file = fs_err::File::open(path)?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|err| {
        if wheel {
            WheelError::NotAZip {
                path: path.to_path_buf(),
                err,
            }
        } else {
            WheelError::NotAnArchive {
                path: path.to_path_buf(),
                err,
            }
        }
    })?;

    let unsafe_member = |member: &str, reason: &'static str| WheelError::UnsafeMember {
        path: path.to_path_buf(),
        member: member.to_owned(),
        reason,
    };
    // The zip reader keeps one entry per name, so duplicates are found in the raw directory.
    let raw_names = central_directory_names(archive.central_directory_start(), path)?;
    let mut seen = HashSet::new();
    for name in &raw_names {
        check_member_name(name).map_err(|reason| unsafe_member(name, reason))?;
        if !seen.insert(name.trim_end_matches('/')) {
            return Err(unsafe_member(name, "appears twice in the archive"));
        }
    }

    let too_large = |member: &str, reason: String| WheelError::TooLarge {
        path: path.to_path_buf(),
        member: member.to_owned(),
        reason,
    };
    let mut declared_total: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive.by_index_raw(index).map_err(|err| WheelError::Zip {
            path: path.to_path_buf(),
            member: format!("#{index}"),
            err,
        })?;
        let name = entry.name().to_owned();
        check_member_name(&name).map_err(|reason| unsafe_member(&name, reason))?;
        if entry
            .unix_mode()
            .is_some_and(|mode| mode & 0o170_000 == 0o120_000)
        {
            return Err(unsafe_member(&name, "is a symbolic link"));
        }
        let size = entry.size();
        check_size(&limits, size).map_err(|reason| too_large(&name, reason))?;
        declared_total = declared_total.saturating_add(size);
        if declared_total > limits.max_total_uncompressed {
            return Err(too_large(
                &name,
                format!(
                    "brings the declared total to more than {} bytes",
                    limits.max_total_uncompressed
                ),
            ));
        }
    }

    let mut members = Vec::new();
    let mut actual_total: u64 = 0;
    let mut in_memory: u64 = 0;
    let mut spill: Option<tempfile::TempDir> = None;
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(|err| WheelError::Zip {
            path: path.to_path_buf(),
            member: format!("#{index}"),
            err,
        })?;
        let name = entry.name().to_owned();
        if entry.is_dir() {
            continue;
        }
        let zip_error = |err: std::io::Error| WheelError::Zip {
            path: path.to_path_buf(),
            member: name.clone(),
            err: err.into(),
        };
        let declared = entry.size();
        let executable = entry.unix_mode().is_some_and(|mode| mode & 0o111 != 0);
        // Never trust the declared size: read at most one byte more than it allows, and never
        // more than what is left of the total.
        let allowed = declared
            .min(limits.max_member)
            .min(limits.max_total_uncompressed - actual_total);
        let mut limited = (&mut entry).take(allowed + 1);
        // The metadata pyship parses stays in memory; large members go to disk.
        let is_metadata = name.ends_with(".dist-info/RECORD") || name.ends_with(".dist-info/WHEEL");
        let (bytes, spilled, actual) = if is_metadata
            || (declared <= limits.spill_member && in_memory + declared <= limits.max_in_memory)
        {
            let mut bytes = Vec::with_capacity(allowed.min(limits.spill_member) as usize);
            limited.read_to_end(&mut bytes).map_err(zip_error)?;
            let actual = bytes.len() as u64;
            in_memory += actual;
            (bytes, None, actual)
        } else {
            let dir = match &mut spill {
                Some(dir) => dir,
                None => spill.insert(
                    tempfile::Builder::new()
                        .prefix(".pyship-wheel-")
                        .tempdir()?,
                ),
            };
            let file_path = dir.path().join(index.to_string());
            let mut file = fs_err::File::create(&file_path)?;
            let actual = std::io::copy(&mut limited, &mut file).map_err(zip_error)?;
            drop(file);
            filetime::set_file_mtime(&file_path, wheel_mtime)?;
            (Vec::new(), Some(file_path), actual)
        };
        if actual > declared {
            return Err(too_large(
                &name,
                format!("holds more than its declared {declared} bytes"),
            ));
        }
        check_size(&limits, actual).map_err(|reason| too_large(&name, reason))?;
        actual_total += actual;
        if actual_total > limits.max_total_uncompressed {
            return Err(too_large(
                &name,
                format!(
                    "brings the total to more than {} bytes",
                    limits.max_total_uncompressed
                ),
            ));
        }
        members.push(Member {
            path: name,
            bytes,
            spilled,
            size: actual,
            executable,
        });
    }
    drop(archive);
    Ok(ZipContents {
        members,
        spill: spill.map(Arc::new),
    })
}

/// Why a stored member name is unsafe or not portable, if it is.
pub(crate) fn check_member_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("has an empty name");
    }
    if name.contains('\0') {
        return Err("contains a NUL byte");
    }
    if name.contains('\\') {
        return Err("contains a backslash");
    }
    if name.starts_with('/') {
        return Err("is an absolute path");
    }
    let bytes = name.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return Err("starts with a drive letter");
    }
    if name.contains(':') {
        return Err("contains `:`, which Windows cannot store");
    }
    let body = name.strip_suffix('/').unwrap_or(name);
    for component in body.split('/') {
        match component {
            ".." => return Err("has a `..` component"),
            "." => return Err("has a `.` component"),
            "" => return Err("has an empty path component"),
            _ => {}
        }
    }
    if name.chars().any(char::is_control) {
        return Err("contains a control character");
    }
    Ok(())
}

fn check_size(limits: &Limits, size: u64) -> Result<(), String> {
    if size > limits.max_member {
        return Err(format!(
            "is {size} bytes uncompressed, over the {} byte limit",
            limits.max_member
        ));
    }
    Ok(())
}

/// The name of every central directory record, in order, read raw from the file: the zip
/// reader keeps only the last entry of a duplicated name.
fn central_directory_names(start: u64, path: &Path) -> Result<Vec<String>, WheelError> {
    const SIGNATURE: u32 = 0x0201_4b50;
    let mut file = std::io::BufReader::new(fs_err::File::open(path)?);
    file.seek(SeekFrom::Start(start))?;
    let mut names = Vec::new();
    let mut header = [0u8; 46];
    loop {
        match file.read_exact(&mut header) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(err) => return Err(err.into()),
        }
        if u32::from_le_bytes([header[0], header[1], header[2], header[3]]) != SIGNATURE {
            break;
        }
        let field = |at: usize| u16::from_le_bytes([header[at], header[at + 1]]) as usize;
        let (name_length, extra_length, comment_length) = (field(28), field(30), field(32));
        let mut name = vec![0u8; name_length];
        file.read_exact(&mut name)?;
        file.seek_relative((extra_length + comment_length) as i64)?;
        names.push(String::from_utf8_lossy(&name).into_owned());
    }
    Ok(names)
}

/// The single top-level `NAME-VERSION.dist-info` directory, named after the wheel.
fn find_dist_info(
    path: &Path,
    filename: &WheelFilename,
    members: &[Member],
) -> Result<String, WheelError> {
    let error = |reason: String| WheelError::DistInfo {
        path: path.to_path_buf(),
        reason,
    };
    let found: std::collections::BTreeSet<&str> = members
        .iter()
        .filter_map(|member| member.path.split_once('/'))
        .map(|(top, _)| top)
        .filter(|top| top.ends_with(".dist-info"))
        .collect();
    let mut found = found.into_iter();
    let (Some(dist_info), None) = (found.next(), found.next()) else {
        let all: Vec<&str> = members
            .iter()
            .filter_map(|member| member.path.split_once('/'))
            .map(|(top, _)| top)
            .filter(|top| top.ends_with(".dist-info"))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        return Err(error(if all.is_empty() {
            "no `.dist-info` directory".to_owned()
        } else {
            format!(
                "several `.dist-info` directories: {}",
                all.iter()
                    .map(|dir| format!("`{dir}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }));
    };
    let name = dist_info
        .strip_suffix(".dist-info")
        .and_then(|stem| stem.split_once('-'))
        .map(|(name, _)| name);
    if name.map(normalize_name) != Some(normalize_name(&filename.name)) {
        return Err(error(format!(
            "`{dist_info}` does not belong to a wheel named `{}`",
            filename.name
        )));
    }
    Ok(dist_info.to_owned())
}

/// `Root-Is-Purelib` and the tags of `WHEEL`; its `Wheel-Version` must be 1.x.
fn parse_wheel_file(
    path: &Path,
    wheel_path: &str,
    members: &[Member],
) -> Result<(bool, Vec<Tag>), WheelError> {
    let error = |reason: String| WheelError::WheelFile {
        path: path.to_path_buf(),
        member: wheel_path.to_owned(),
        reason,
    };
    let member = members
        .iter()
        .find(|member| member.path == wheel_path)
        .ok_or_else(|| error("missing".to_owned()))?;
    let text = std::str::from_utf8(&member.bytes).map_err(|_| error("not UTF-8".to_owned()))?;
    let value = |key: &str| text.lines().find_map(|line| header_value(line, key));
    let version = value("Wheel-Version").ok_or_else(|| error("no `Wheel-Version`".to_owned()))?;
    if version.split('.').next() != Some("1") {
        return Err(error(format!(
            "`Wheel-Version: {version}` is not supported (1.x only)"
        )));
    }
    // pip reads a missing `Root-Is-Purelib` as false; anything else but true/false is a typo.
    let root_is_purelib = match value("Root-Is-Purelib").map(str::to_ascii_lowercase) {
        Some(value) if value == "true" => true,
        None => false,
        Some(value) if value == "false" => false,
        Some(other) => {
            return Err(error(format!(
                "`Root-Is-Purelib` must be `true` or `false`, not `{other}`"
            )));
        }
    };
    let tags = wheel_file_tags(text).map_err(|err| error(err.to_string()))?;
    if tags.is_empty() {
        return Err(error("no `Tag` line".to_owned()));
    }
    Ok((root_is_purelib, tags))
}

/// One parsed RECORD row.
struct RecordRow {
    line: usize,
    hash: Option<(String, String)>,
    size: Option<u64>,
}

/// Check that RECORD lists exactly the archive's files, each with its hash and size.
fn verify_record(path: &Path, dist_info: &str, members: &[Member]) -> Result<(), WheelError> {
    let record_path = format!("{dist_info}/RECORD");
    let error = |member: &str, problem: RecordProblem| WheelError::Record {
        path: path.to_path_buf(),
        member: member.to_owned(),
        problem,
    };
    let record = members
        .iter()
        .find(|member| member.path == record_path)
        .ok_or_else(|| error(&record_path, RecordProblem::MissingRecord))?;
    let malformed = |line: usize, reason: &str| {
        error(
            &record_path,
            RecordProblem::Malformed {
                line,
                reason: reason.to_owned(),
            },
        )
    };
    let text = std::str::from_utf8(&record.bytes).map_err(|_| malformed(0, "not UTF-8"))?;
    let rows = parse_csv(text).map_err(|(line, reason)| malformed(line, reason))?;
    // Unhashed by definition: RECORD itself and its signatures.
    let unhashed: [String; 3] = [
        record_path.clone(),
        format!("{record_path}.jws"),
        format!("{record_path}.p7s"),
    ];
    let mut listed: BTreeMap<String, RecordRow> = BTreeMap::new();
    for (line, fields) in rows {
        if fields.iter().all(String::is_empty) {
            continue;
        }
        let [member, hash, size] = <[String; 3]>::try_from(fields)
            .map_err(|_| malformed(line, "expected 3 fields: path, hash and size"))?;
        let hash = if hash.is_empty() {
            None
        } else {
            let (algorithm, digest) = hash
                .split_once('=')
                .ok_or_else(|| malformed(line, "the hash is not `algorithm=digest`"))?;
            Some((algorithm.to_owned(), digest.to_owned()))
        };
        let size = if size.is_empty() {
            None
        } else {
            Some(
                size.parse::<u64>()
                    .map_err(|_| malformed(line, "the size is not a number"))?,
            )
        };
        if listed
            .insert(member.clone(), RecordRow { line, hash, size })
            .is_some()
        {
            return Err(error(&member, RecordProblem::ListedTwice));
        }
    }
    let in_archive: HashMap<&str, &Member> = members
        .iter()
        .map(|member| (member.path.as_str(), member))
        .collect();
    for member in members {
        if !listed.contains_key(&member.path) && !unhashed[1..].contains(&member.path) {
            return Err(error(&member.path, RecordProblem::NotListed));
        }
    }
    let mut to_hash = Vec::new();
    for (name, row) in &listed {
        let Some(member) = in_archive.get(name.as_str()) else {
            return Err(error(name, RecordProblem::NotInArchive));
        };
        if unhashed.contains(name) {
            continue;
        }
        let Some((algorithm, digest)) = &row.hash else {
            return Err(error(name, RecordProblem::NoHash));
        };
        if !matches!(algorithm.as_str(), "sha256" | "sha384" | "sha512") {
            return Err(error(
                name,
                RecordProblem::UnsupportedHash {
                    algorithm: algorithm.clone(),
                },
            ));
        }
        if let Some(size) = row.size {
            if size != member.size {
                return Err(error(
                    name,
                    RecordProblem::SizeMismatch {
                        recorded: size,
                        actual: member.size,
                    },
                ));
            }
        }
        to_hash.push((row.line, name, algorithm, digest, *member));
    }
    // Hashing is the slow part of reading a large wheel: spread it over the cores, then report
    // the first mismatch in RECORD order so the error does not depend on scheduling.
    let hashed: Vec<(usize, &String, &String, String)> = to_hash
        .par_iter()
        .map(|&(line, name, algorithm, digest, member)| {
            let actual = match algorithm.as_str() {
                "sha256" => digest_member::<Sha256>(member),
                "sha384" => digest_member::<Sha384>(member),
                _ => digest_member::<Sha512>(member),
            }?;
            Ok((line, name, digest, URL_SAFE_NO_PAD.encode(actual)))
        })
        .collect::<Result<_, WheelError>>()?;
    let mut mismatches: Vec<(usize, &String, String, String)> = hashed
        .into_iter()
        .zip(&to_hash)
        .filter_map(|((line, name, digest, actual), &(_, _, algorithm, _, _))| {
            // Some generators pad their base64; the digest is the same.
            (digest.trim_end_matches('=') != actual).then(|| {
                (
                    line,
                    name,
                    format!("{algorithm}={digest}"),
                    format!("{algorithm}={actual}"),
                )
            })
        })
        .collect();
    mismatches.sort_by_key(|mismatch| mismatch.0);
    if let Some((_, name, recorded, actual)) = mismatches.into_iter().next() {
        return Err(error(
            name,
            RecordProblem::HashMismatch { recorded, actual },
        ));
    }
    Ok(())
}

/// The digest of `member`'s content, streamed from disk when it was spilled.
fn digest_member<D: Digest + std::io::Write>(member: &Member) -> Result<Vec<u8>, WheelError> {
    let mut hasher = D::new();
    match &member.spilled {
        Some(file) => {
            std::io::copy(&mut fs_err::File::open(file)?, &mut hasher)?;
        }
        None => Digest::update(&mut hasher, &member.bytes),
    }
    Ok(hasher.finalize().to_vec())
}

/// CSV rows with their 1-based line numbers.
type Rows = Vec<(usize, Vec<String>)>;

/// Parse CSV as Python's `csv` module writes it (RFC 4180 quoting, `\n` or `\r\n` line ends):
/// the rows, or the line and reason of the first error.
fn parse_csv(text: &str) -> Result<Rows, (usize, &'static str)> {
    let mut rows = Vec::new();
    let mut line = 1;
    let mut chars = text.chars().peekable();
    while chars.peek().is_some() {
        let row_line = line;
        let mut fields = Vec::new();
        let mut field = String::new();
        loop {
            match chars.next() {
                None => {
                    fields.push(std::mem::take(&mut field));
                    break;
                }
                Some('\r') if chars.peek() == Some(&'\n') => {}
                Some('\n') => {
                    line += 1;
                    fields.push(std::mem::take(&mut field));
                    break;
                }
                Some(',') => fields.push(std::mem::take(&mut field)),
                Some('"') if field.is_empty() => loop {
                    match chars.next() {
                        None => return Err((row_line, "unterminated quoted field")),
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => {
                            if !matches!(chars.peek(), None | Some(',' | '\n' | '\r')) {
                                return Err((line, "text after a closing quote"));
                            }
                            break;
                        }
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            field.push(c);
                        }
                    }
                },
                Some(c) => field.push(c),
            }
        }
        rows.push((row_line, fields));
    }
    Ok(rows)
}

/// Write every member of `contents` under `dir` (created if needed), with directories created
/// and the executable bit kept. A member whose path could leave `dir` (a `..`, an absolute
/// path, an existing symlink on the way) is refused before anything of it is written.
pub fn extract_to(contents: &WheelContents, dir: &Path) -> Result<(), WheelError> {
    fs_err::create_dir_all(dir)?;
    let unsafe_member = |member: &str, reason: &'static str| WheelError::UnsafeMember {
        path: dir.to_path_buf(),
        member: member.to_owned(),
        reason,
    };
    for member in &contents.members {
        check_member_name(&member.path).map_err(|reason| unsafe_member(&member.path, reason))?;
    }
    for member in &contents.members {
        let mut target = dir.to_path_buf();
        let components: Vec<&str> = member.path.split('/').collect();
        for (index, component) in components.iter().enumerate() {
            target.push(component);
            match fs_err::symlink_metadata(&target) {
                Ok(metadata) if metadata.file_type().is_symlink() => {
                    return Err(unsafe_member(
                        &member.path,
                        "would be written through a symbolic link",
                    ));
                }
                Ok(metadata) if index + 1 < components.len() && !metadata.is_dir() => {
                    return Err(unsafe_member(
                        &member.path,
                        "has a file as a parent directory",
                    ));
                }
                Err(_) if index + 1 < components.len() => fs_err::create_dir(&target)?,
                Ok(_) | Err(_) => {}
            }
        }
        match &member.spilled {
            Some(spilled) => {
                fs_err::copy(spilled, &target)?;
                set_mode(&target, member.executable)?;
            }
            None => write_file(&target, &member.bytes, member.executable)?,
        }
    }
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8], executable: bool) -> Result<(), WheelError> {
    fs_err::write(path, bytes)?;
    set_mode(path, executable)
}

fn set_mode(path: &Path, executable: bool) -> Result<(), WheelError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = if executable { 0o755 } else { 0o644 };
        fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = executable;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use std::path::PathBuf;

    use super::super::{RecordEntry, render_record};
    use super::*;
    use insta::assert_snapshot;
    use zip::write::SimpleFileOptions;

    const WHEEL: &str =
        "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n";

    /// A zip of `members` (name, bytes, unix mode) at `dir/file_name`.
    fn zip_of(dir: &Path, file_name: &str, members: &[(&str, &[u8], u32)]) -> PathBuf {
        let path = dir.join(file_name);
        let mut writer = zip::ZipWriter::new(fs_err::File::create(&path).unwrap());
        for (name, bytes, mode) in members {
            let options = SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .unix_permissions(*mode);
            if name.ends_with('/') {
                writer.add_directory(*name, options).unwrap();
            } else {
                writer.start_file(*name, options).unwrap();
                writer.write_all(bytes).unwrap();
            }
        }
        writer.finish().unwrap();
        path
    }

    /// A valid wheel `demo-1.0-py3-none-any.whl` with `extra` files, RECORD computed.
    fn wheel_with(dir: &Path, extra: &[(&str, &[u8], u32)]) -> PathBuf {
        let mut files: Vec<(&str, &[u8], u32)> = vec![
            ("demo/__init__.py", b"print('hi')\n", 0o644),
            ("demo-1.0.data/scripts/run", b"#!python\n", 0o755),
            (
                "demo-1.0.dist-info/METADATA",
                b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
                0o644,
            ),
            ("demo-1.0.dist-info/WHEEL", WHEEL.as_bytes(), 0o644),
        ];
        files.extend_from_slice(extra);
        let entries: Vec<RecordEntry> = files
            .iter()
            .filter(|(name, ..)| !name.ends_with('/'))
            .map(|(name, bytes, _)| RecordEntry::new(*name, bytes))
            .collect();
        let record = render_record(&entries, "demo-1.0.dist-info/RECORD");
        files.push(("demo-1.0.dist-info/RECORD", record.as_bytes(), 0o644));
        zip_of(dir, "demo-1.0-py3-none-any.whl", &files)
    }

    fn error_of(path: &Path, limits: Limits) -> String {
        let err = open_wheel(path, limits).unwrap_err();
        let dir = path.parent().unwrap().display().to_string();
        err.to_string().replace(&dir, "[TEMP]")
    }

    #[test]
    fn reads_a_valid_wheel() {
        let temp = tempfile::tempdir().unwrap();
        let path = wheel_with(temp.path(), &[("demo/sub/", b"", 0o755)]);
        let wheel = open_wheel(&path, Limits::default()).unwrap();
        assert_eq!(wheel.dist_info, "demo-1.0.dist-info");
        assert!(wheel.root_is_purelib);
        assert_eq!(wheel.tags, [Tag::new("py3", "none", "any")]);
        assert_eq!(wheel.filename.to_string(), "demo-1.0-py3-none-any.whl");
        let paths: Vec<(&str, bool)> = wheel
            .members
            .iter()
            .map(|member| (member.path.as_str(), member.executable))
            .collect();
        assert_eq!(
            paths,
            [
                ("demo/__init__.py", false),
                ("demo-1.0.data/scripts/run", true),
                ("demo-1.0.dist-info/METADATA", false),
                ("demo-1.0.dist-info/WHEEL", false),
                ("demo-1.0.dist-info/RECORD", false),
            ]
        );
        assert_eq!(
            wheel.member("demo/__init__.py").unwrap().bytes,
            b"print('hi')\n"
        );
    }

    #[test]
    fn refuses_unsafe_names() {
        for (name, reason) in [
            ("../evil.py", "has a `..` component"),
            ("demo/../../evil.py", "has a `..` component"),
            ("/abs.py", "is an absolute path"),
            ("C:/x.py", "starts with a drive letter"),
            ("c:x.py", "starts with a drive letter"),
            ("a\\b.py", "contains a backslash"),
            ("demo//x.py", "has an empty path component"),
            ("./demo/x.py", "has a `.` component"),
            (
                "demo/x.py:stream",
                "contains `:`, which Windows cannot store",
            ),
        ] {
            let temp = tempfile::tempdir().unwrap();
            let path = wheel_with(temp.path(), &[(name, b"x", 0o644)]);
            assert_eq!(
                error_of(&path, Limits::default()),
                format!("Unsafe member `{name}` in `[TEMP]/demo-1.0-py3-none-any.whl`: {reason}"),
            );
        }
    }

    #[test]
    fn refuses_nul_in_names() {
        assert_eq!(check_member_name("a\0.py"), Err("contains a NUL byte"));
        assert_eq!(check_member_name("demo/"), Ok(()));
        assert_eq!(check_member_name(""), Err("has an empty name"));
    }

    #[test]
    fn refuses_duplicate_members() {
        let temp = tempfile::tempdir().unwrap();
        // The zip writer refuses duplicates, so write two names and make them equal.
        let path = wheel_with(
            temp.path(),
            &[("demo/aaa.py", b"1", 0o644), ("demo/bbb.py", b"2", 0o644)],
        );
        let bytes = fs_err::read(&path).unwrap();
        let patched = replace_all(&bytes, b"demo/bbb.py", b"demo/aaa.py");
        fs_err::write(&path, patched).unwrap();
        assert_snapshot!(
            error_of(&path, Limits::default()),
            @"Unsafe member `demo/aaa.py` in `[TEMP]/demo-1.0-py3-none-any.whl`: appears twice in the archive"
        );
    }

    fn replace_all(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
        let mut out = haystack.to_vec();
        let mut index = 0;
        while index + from.len() <= out.len() {
            if &out[index..index + from.len()] == from {
                out[index..index + from.len()].copy_from_slice(to);
                index += from.len();
            } else {
                index += 1;
            }
        }
        out
    }

    #[test]
    fn refuses_symlink_members() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("demo-1.0-py3-none-any.whl");
        let mut writer = zip::ZipWriter::new(fs_err::File::create(&path).unwrap());
        writer
            .add_symlink("demo/link.py", "/etc/passwd", SimpleFileOptions::default())
            .unwrap();
        writer.finish().unwrap();
        assert_snapshot!(
            error_of(&path, Limits::default()),
            @"Unsafe member `demo/link.py` in `[TEMP]/demo-1.0-py3-none-any.whl`: is a symbolic link"
        );
    }

    #[test]
    fn refuses_a_bomb_without_inflating_it() {
        let temp = tempfile::tempdir().unwrap();
        let zeros = vec![0u8; 8 << 20];
        let path = wheel_with(temp.path(), &[("demo/bomb.bin", &zeros, 0o644)]);
        let limits = Limits {
            max_member: 1000,
            ..Limits::default()
        };
        assert_snapshot!(
            error_of(&path, limits),
            @"Refusing `[TEMP]/demo-1.0-py3-none-any.whl`: member `demo/bomb.bin` is 8388608 bytes uncompressed, over the 1000 byte limit"
        );
        let limits = Limits {
            max_total_uncompressed: 100,
            ..Limits::default()
        };
        assert_snapshot!(
            error_of(&wheel_with(temp.path(), &[]), limits),
            @"Refusing `[TEMP]/demo-1.0-py3-none-any.whl`: member `demo-1.0.dist-info/WHEEL` brings the declared total to more than 100 bytes"
        );
    }

    #[test]
    fn honest_zeros_are_read_and_large_members_spilled_to_disk() {
        // 10 MB of zeros deflate about 1000:1; pip installs such a wheel, and so must this.
        let temp = tempfile::tempdir().unwrap();
        let zeros = vec![0u8; 10_000_000];
        let path = wheel_with(temp.path(), &[("demo/zeros.bin", &zeros, 0o644)]);
        let wheel = open_wheel(&path, Limits::default()).unwrap();
        let member = wheel.member("demo/zeros.bin").unwrap();
        assert_eq!(member.size, 10_000_000);
        let spilled = member
            .spilled
            .as_ref()
            .expect("large members are not kept in memory");
        assert!(member.bytes.is_empty());
        assert_eq!(fs_err::read(spilled).unwrap(), zeros);
        assert!(wheel.member("demo/__init__.py").unwrap().spilled.is_none());
        // Once the in-memory budget is spent, even small members go to disk.
        let limits = Limits {
            max_in_memory: 0,
            ..Limits::default()
        };
        let all_spilled = open_wheel(&path, limits).unwrap();
        assert!(
            all_spilled
                .member("demo/__init__.py")
                .unwrap()
                .spilled
                .is_some()
        );
        let out = temp.path().join("out");
        extract_to(&all_spilled, &out).unwrap();
        assert_eq!(
            fs_err::read(out.join("demo/__init__.py")).unwrap(),
            b"print('hi')\n"
        );
        assert_eq!(fs_err::read(out.join("demo/zeros.bin")).unwrap(), zeros);
        // A spilled member is checked against RECORD like any other.
        let other = vec![1u8; 10_000_000];
        let wrong = reread(
            &fs_err::read(&path).unwrap(),
            &[("demo/zeros.bin", other.as_slice())],
        );
        let wrong = zip_of(temp.path(), "demo-1.0-py3-none-any.whl", &wrong);
        let err = error_of(&wrong, Limits::default());
        assert!(
            err.starts_with("RECORD of `[TEMP]/demo-1.0-py3-none-any.whl` does not match its contents: `demo/zeros.bin` "),
            "{err}"
        );
        // The spill directory goes with the contents.
        let spilled = spilled.clone();
        drop(wheel);
        assert!(!spilled.exists());
    }

    #[test]
    fn counts_actual_bytes_when_the_declared_size_lies() {
        let temp = tempfile::tempdir().unwrap();
        let content = vec![b'x'; 5000];
        let path = wheel_with(temp.path(), &[("demo/liar.txt", &content, 0o644)]);
        // Patch the declared uncompressed size (local and central headers) from 5000 to 50.
        let bytes = fs_err::read(&path).unwrap();
        let mut patched = bytes.clone();
        let name = b"demo/liar.txt";
        let mut index = 0;
        let mut count = 0;
        while index + name.len() <= bytes.len() {
            if &bytes[index..index + name.len()] == name {
                // Central directory header: 46 bytes, size at 24; local header: 30, at 22.
                let size_at = if bytes[index - 46..index - 42] == [0x50, 0x4b, 1, 2] {
                    index - 46 + 24
                } else {
                    index - 30 + 22
                };
                assert_eq!(&bytes[size_at..size_at + 4], &5000u32.to_le_bytes());
                patched[size_at..size_at + 4].copy_from_slice(&50u32.to_le_bytes());
                count += 1;
            }
            index += 1;
        }
        assert_eq!(count, 2);
        fs_err::write(&path, patched).unwrap();
        assert_snapshot!(
            error_of(&path, Limits::default()),
            @"Refusing `[TEMP]/demo-1.0-py3-none-any.whl`: member `demo/liar.txt` holds more than its declared 50 bytes"
        );
    }

    #[test]
    fn refuses_a_file_that_is_not_a_zip() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("demo-1.0-py3-none-any.whl");
        fs_err::write(&path, "<html>404 Not Found</html>").unwrap();
        let err = open_wheel(&path, Limits::default()).unwrap_err();
        let text = err
            .to_string()
            .replace(&temp.path().display().to_string(), "[TEMP]");
        assert_snapshot!(text, @"`[TEMP]/demo-1.0-py3-none-any.whl` is not a wheel: not a zip archive");
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn record_mismatches_are_errors() {
        let temp = tempfile::tempdir().unwrap();
        let path = wheel_with(temp.path(), &[]);
        // Same length, different content: the hash catches it.
        let bytes = fs_err::read(&path).unwrap();
        let stored = zip_of(
            temp.path(),
            "demo-1.0-py3-none-any.whl",
            &reread(&bytes, &[("demo/__init__.py", b"print('HI')\n")]),
        );
        assert_snapshot!(
            error_of(&stored, Limits::default()),
            @"RECORD of `[TEMP]/demo-1.0-py3-none-any.whl` does not match its contents: `demo/__init__.py` has hash `sha256=NlLU0XhqJ5VVJL3RpWpaKPloyaqF--4pn5lzPovZA4Q` but RECORD says `sha256=yvAm8l1xQCCfmAcmBTB6Q4kUuc5vPBSyPRXZZnJB3lI`"
        );
        zip_of(
            temp.path(),
            "demo-1.0-py3-none-any.whl",
            &reread(&bytes, &[("demo/__init__.py", b"print('hi')\n\n")]),
        );
        assert_snapshot!(
            error_of(&path, Limits::default()),
            @"RECORD of `[TEMP]/demo-1.0-py3-none-any.whl` does not match its contents: `demo/__init__.py` is 13 bytes but RECORD says 12"
        );
    }

    /// The members of the zip `bytes`, with `replace`d contents.
    fn reread(bytes: &[u8], replace: &[(&str, &[u8])]) -> Vec<(&'static str, &'static [u8], u32)> {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
        let mut members = Vec::new();
        for index in 0..archive.len() {
            let mut entry = archive.by_index(index).unwrap();
            let name: &'static str = Box::leak(entry.name().to_owned().into_boxed_str());
            let mut content = Vec::new();
            entry.read_to_end(&mut content).unwrap();
            if let Some((_, new)) = replace.iter().find(|(path, _)| *path == name) {
                content = new.to_vec();
            }
            let mode = entry.unix_mode().unwrap_or(0o644);
            members.push((name, &*Box::leak(content.into_boxed_slice()), mode));
        }
        members
    }

    #[test]
    fn unlisted_and_missing_members_are_errors() {
        let temp = tempfile::tempdir().unwrap();
        let path = wheel_with(temp.path(), &[]);
        let bytes = fs_err::read(&path).unwrap();
        let mut members = reread(&bytes, &[]);
        members.push(("demo/sneaky.py", b"import os\n", 0o644));
        zip_of(temp.path(), "demo-1.0-py3-none-any.whl", &members);
        assert_snapshot!(
            error_of(&path, Limits::default()),
            @"RECORD of `[TEMP]/demo-1.0-py3-none-any.whl` does not match its contents: `demo/sneaky.py` is not listed in RECORD"
        );
        let members: Vec<_> = reread(&bytes, &[])
            .into_iter()
            .filter(|(name, ..)| *name != "demo/__init__.py")
            .collect();
        zip_of(temp.path(), "demo-1.0-py3-none-any.whl", &members);
        assert_snapshot!(
            error_of(&path, Limits::default()),
            @"RECORD of `[TEMP]/demo-1.0-py3-none-any.whl` does not match its contents: `demo/__init__.py` is listed in RECORD but not in the archive"
        );
    }

    #[test]
    fn quoted_record_fields_and_crlf_are_parsed() {
        let rows = parse_csv("a,b,1\r\n\"x,\"\"y\"\"\",sha256=z,2\n\"multi\nline\",,\n").unwrap();
        assert_eq!(
            rows,
            [
                (1, vec!["a".to_owned(), "b".to_owned(), "1".to_owned()]),
                (
                    2,
                    vec!["x,\"y\"".to_owned(), "sha256=z".to_owned(), "2".to_owned()]
                ),
                (
                    3,
                    vec!["multi\nline".to_owned(), String::new(), String::new()]
                ),
            ]
        );
        assert_eq!(
            parse_csv("\"open,1,2\n"),
            Err((1, "unterminated quoted field"))
        );
        assert_eq!(
            parse_csv("\"a\"b,1,2\n"),
            Err((1, "text after a closing quote"))
        );

        // A wheel whose RECORD quotes a path with a comma verifies.
        let temp = tempfile::tempdir().unwrap();
        let path = wheel_with(temp.path(), &[("demo/a,b.txt", b"data", 0o644)]);
        open_wheel(&path, Limits::default()).unwrap();
    }

    #[test]
    fn dist_info_and_wheel_file_are_checked() {
        let temp = tempfile::tempdir().unwrap();
        let path = wheel_with(temp.path(), &[("other-2.0.dist-info/METADATA", b"", 0o644)]);
        assert_snapshot!(
            error_of(&path, Limits::default()),
            @"Invalid wheel `[TEMP]/demo-1.0-py3-none-any.whl`: several `.dist-info` directories: `demo-1.0.dist-info`, `other-2.0.dist-info`"
        );
        let bytes = fs_err::read(wheel_with(temp.path(), &[])).unwrap();
        let members = reread(
            &bytes,
            &[("demo-1.0.dist-info/WHEEL", b"Wheel-Version: 2.0\n")],
        );
        zip_of(temp.path(), "demo-1.0-py3-none-any.whl", &members);
        assert_snapshot!(
            error_of(&path, Limits::default()),
            @"Invalid `demo-1.0.dist-info/WHEEL` in `[TEMP]/demo-1.0-py3-none-any.whl`: `Wheel-Version: 2.0` is not supported (1.x only)"
        );
        let members = reread(
            &bytes,
            &[(
                "demo-1.0.dist-info/WHEEL",
                b"Wheel-Version: 1.0\nRoot-Is-Purelib: yes\nTag: py3-none-any\n",
            )],
        );
        zip_of(temp.path(), "demo-1.0-py3-none-any.whl", &members);
        assert_snapshot!(
            error_of(&path, Limits::default()),
            @"Invalid `demo-1.0.dist-info/WHEEL` in `[TEMP]/demo-1.0-py3-none-any.whl`: `Root-Is-Purelib` must be `true` or `false`, not `yes`"
        );
        // Like pip, a missing `Root-Is-Purelib` means false.
        let wheel = [Member {
            path: "d-1.dist-info/WHEEL".to_owned(),
            bytes: b"Wheel-Version: 1.0\nTag: py3-none-any\n".to_vec(),
            spilled: None,
            size: 36,
            executable: false,
        }];
        assert_eq!(
            parse_wheel_file(&path, "d-1.dist-info/WHEEL", &wheel).unwrap(),
            (false, vec![Tag::new("py3", "none", "any")])
        );
        let renamed = temp.path().join("other-1.0-py3-none-any.whl");
        fs_err::rename(wheel_with(temp.path(), &[]), &renamed).unwrap();
        assert_snapshot!(
            error_of(&renamed, Limits::default()),
            @"Invalid wheel `[TEMP]/other-1.0-py3-none-any.whl`: `demo-1.0.dist-info` does not belong to a wheel named `other`"
        );
    }

    #[test]
    fn extracts_inside_the_directory_only() {
        let temp = tempfile::tempdir().unwrap();
        let path = wheel_with(temp.path(), &[]);
        let mut wheel = open_wheel(&path, Limits::default()).unwrap();
        let out = temp.path().join("out");
        extract_to(&wheel, &out).unwrap();
        assert_eq!(
            fs_err::read(out.join("demo/__init__.py")).unwrap(),
            b"print('hi')\n"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |relative: &str| {
                fs_err::metadata(out.join(relative))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777
            };
            assert_eq!(mode("demo-1.0.data/scripts/run"), 0o755);
            assert_eq!(mode("demo/__init__.py"), 0o644);
        }

        // Contents are plain data: a tampered path is refused before anything is written.
        let fresh = temp.path().join("fresh");
        wheel.members[0].path = "../escaped.py".to_owned();
        let err = extract_to(&wheel, &fresh).unwrap_err().to_string();
        assert!(err.contains("has a `..` component"), "{err}");
        assert!(!temp.path().join("escaped.py").exists());
        assert_eq!(fs_err::read_dir(&fresh).unwrap().count(), 0);

        #[cfg(unix)]
        {
            let outside = tempfile::tempdir().unwrap();
            let linked = temp.path().join("linked");
            fs_err::create_dir_all(&linked).unwrap();
            std::os::unix::fs::symlink(outside.path(), linked.join("demo")).unwrap();
            wheel.members[0].path = "demo/__init__.py".to_owned();
            let err = extract_to(&wheel, &linked).unwrap_err().to_string();
            assert!(
                err.contains("would be written through a symbolic link"),
                "{err}"
            );
            assert_eq!(fs_err::read_dir(outside.path()).unwrap().count(), 0);
        }
    }
}
