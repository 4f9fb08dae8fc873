//! Reading a wheel (PEP 427): its name and version, its files checked against `RECORD`.
//!
//! A wheel is untrusted input. Every member's path is checked (no absolute paths, no `..`),
//! every file must be listed in `RECORD` with a matching SHA-256 (and every listed file must
//! be present), and the unpacked size is capped. `.data/purelib` and `.data/platlib` files
//! belong in site-packages like the rest; other `.data` folders (scripts, headers) are not
//! installed in a sandbox.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Most a wheel may unpack to (a zip bomb guard); numpy unpacks to about 60 MB.
pub const MAX_UNPACKED_BYTES: u64 = 1 << 30;

/// Why a wheel was rejected. Each names the wheel (its path, or the name given with its bytes).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WheelError {
    /// The wheel file could not be read.
    #[error("cannot read wheel {wheel}")]
    Read {
        /// The wheel.
        wheel: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The wheel is not a zip archive.
    #[error("wheel {wheel} is not a zip archive; pass a .whl file")]
    NotZip {
        /// The wheel.
        wheel: String,
        /// What the zip reader said.
        source: zip::result::ZipError,
    },
    /// A member of the archive could not be decompressed.
    #[error("wheel {wheel}: cannot decompress {member}")]
    BadMember {
        /// The wheel.
        wheel: String,
        /// The member's path in the archive.
        member: String,
        /// What the zip reader said.
        source: std::io::Error,
    },
    /// A member path is absolute, climbs out with `..`, or is a name no file system takes.
    #[error(
        "wheel {wheel} has an unsafe member path {entry:?} (absolute, with `..`, or a name no file system takes); it is refused"
    )]
    UnsafePath {
        /// The wheel.
        wheel: String,
        /// The member path.
        entry: String,
    },
    /// There is no `*.dist-info/METADATA`.
    #[error("wheel {wheel} has no `*.dist-info/METADATA`; it is not a wheel")]
    NoMetadata {
        /// The wheel.
        wheel: String,
    },
    /// METADATA cannot be parsed or lacks Name or Version.
    #[error("wheel {wheel} has an unreadable METADATA: {reason}")]
    BadMetadata {
        /// The wheel.
        wheel: String,
        /// What is wrong with it.
        reason: String,
    },
    /// There is no `*.dist-info/RECORD`.
    #[error("wheel {wheel} has no `*.dist-info/RECORD`; it cannot be verified")]
    NoRecord {
        /// The wheel.
        wheel: String,
    },
    /// RECORD cannot be parsed.
    #[error("wheel {wheel}: RECORD is malformed: {reason}")]
    BadRecord {
        /// The wheel.
        wheel: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A file's SHA-256 differs from RECORD's.
    #[error(
        "wheel {wheel}: {file} has SHA-256 {actual} but RECORD says {expected}; the wheel is corrupt or was tampered with"
    )]
    HashMismatch {
        /// The wheel.
        wheel: String,
        /// The file's path in the archive.
        file: String,
        /// The hash RECORD gives (urlsafe base64, as in RECORD).
        expected: String,
        /// The file's actual hash, in the same form.
        actual: String,
    },
    /// A file is not listed in RECORD.
    #[error("wheel {wheel}: {file} is not listed in RECORD; the wheel is corrupt or was tampered with")]
    NotInRecord {
        /// The wheel.
        wheel: String,
        /// The file's path in the archive.
        file: String,
    },
    /// RECORD lists a file the archive lacks.
    #[error("wheel {wheel}: RECORD lists {file}, which the archive does not contain")]
    MissingFile {
        /// The wheel.
        wheel: String,
        /// The listed path.
        file: String,
    },
    /// The wheel unpacks to more than [`MAX_UNPACKED_BYTES`].
    #[error("wheel {wheel} unpacks to more than {} MiB; it is refused", MAX_UNPACKED_BYTES >> 20)]
    TooLarge {
        /// The wheel.
        wheel: String,
    },
    /// A path given to the site-packages tree would not stay below its folder.
    #[error(
        "{origin}: {path:?} is not a plain relative path below site-packages (it is empty, absolute, has `.`, `..` or an empty segment, or a name longer than 255 bytes); it is refused"
    )]
    UnsafeSitePath {
        /// The path.
        path: String,
        /// The input that gave it (a wheel, a folder, a native extension).
        origin: String,
    },
    /// Two inputs provide the same file.
    #[error("{path} is provided by both {first} and {second}; remove one of them")]
    Conflict {
        /// The file's path in site-packages.
        path: String,
        /// The input that provided it first.
        first: String,
        /// The input that provided it again.
        second: String,
    },
}

/// One file of a wheel, with its path relative to site-packages.
#[derive(Clone, Debug)]
pub struct WheelFile {
    /// The path relative to site-packages, such as `pkg/__init__.py`.
    pub path: String,
    /// The file's contents.
    pub bytes: Vec<u8>,
}

/// A verified wheel.
#[derive(Clone, Debug)]
pub struct Wheel {
    /// Where it came from (a path, a URL, or a name given with the bytes), for messages.
    pub origin: String,
    /// The distribution name, normalised as PEP 503 says (`markupsafe`, `my-pkg`).
    pub name: String,
    /// The version, as METADATA gives it.
    pub version: String,
    /// SHA-256 of the wheel file itself.
    pub sha256: [u8; 32],
    /// The files to install in site-packages, sorted by path.
    pub files: Vec<WheelFile>,
}

/// PEP 503: runs of `-`, `_` and `.` become one `-`, and letters are lowercased.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for part in name.split(['-', '_', '.']).filter(|part| !part.is_empty()) {
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(&part.to_ascii_lowercase());
    }
    out
}

/// PEP 508: ASCII letters and digits, with `.`, `-` and `_` inside (so it normalises to a non-empty name).
fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// A native extension module is any `.so` file; the linker checks its Python tag.
pub fn is_native_extension(path: &str) -> bool {
    path.ends_with(".so")
}

impl Wheel {
    /// Reads and verifies the wheel file at `path`.
    pub fn from_file(path: &Path) -> Result<Wheel, WheelError> {
        let origin = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| WheelError::Read { wheel: origin.clone(), source })?;
        Wheel::from_bytes(origin, &bytes)
    }

    /// Verifies a wheel held in memory; `origin` names it in messages.
    pub fn from_bytes(origin: impl Into<String>, bytes: &[u8]) -> Result<Wheel, WheelError> {
        let wheel = origin.into();
        let sha256: [u8; 32] = Sha256::digest(bytes).into();
        let not_zip = |source| WheelError::NotZip { wheel: wheel.clone(), source };
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(not_zip)?;

        let mut members = BTreeMap::new();
        let mut budget = MAX_UNPACKED_BYTES;
        for index in 0..archive.len() {
            let mut entry = archive.by_index(index).map_err(not_zip)?;
            let name = entry.name().map_err(not_zip)?.to_string();
            if !is_safe_path(&name) {
                return Err(WheelError::UnsafePath { wheel, entry: name });
            }
            if entry.is_dir() {
                continue;
            }
            if !is_safe_file_path(&name) {
                return Err(WheelError::UnsafePath { wheel, entry: name });
            }
            // The declared size is the archive's word (a 1 KiB zip can declare 1 GiB per
            // member): reserve at most 1 MiB on it; a larger file grows as it is read.
            let mut data = Vec::with_capacity(entry.size().min(budget).min(1 << 20) as usize);
            (&mut entry).take(budget + 1).read_to_end(&mut data).map_err(|source| WheelError::BadMember {
                wheel: wheel.clone(),
                member: name.clone(),
                source,
            })?;
            budget =
                budget.checked_sub(data.len() as u64).ok_or_else(|| WheelError::TooLarge { wheel: wheel.clone() })?;
            members.insert(name, data);
        }

        let dist_info = members
            .keys()
            .filter_map(|name| name.strip_suffix("/METADATA"))
            .find(|dir| dir.ends_with(".dist-info") && !dir.contains('/'))
            .map(str::to_string)
            .ok_or_else(|| WheelError::NoMetadata { wheel: wheel.clone() })?;
        let metadata = python_pkginfo::Metadata::parse(&members[&format!("{dist_info}/METADATA")])
            .map_err(|e| WheelError::BadMetadata { wheel: wheel.clone(), reason: e.to_string() })?;
        if metadata.name.is_empty() || metadata.version.is_empty() {
            return Err(WheelError::BadMetadata { wheel, reason: "Name and Version are required".into() });
        }
        if !is_valid_name(&metadata.name) {
            let reason = format!("Name {:?} is not a valid distribution name (PEP 508)", metadata.name);
            return Err(WheelError::BadMetadata { wheel, reason });
        }
        verify_record(&wheel, &dist_info, &members)?;

        let data_dir = format!("{}.data/", dist_info.trim_end_matches(".dist-info"));
        let files = members
            .into_iter()
            .filter_map(|(path, bytes)| match path.strip_prefix(&data_dir) {
                None => Some(WheelFile { path, bytes }),
                Some(rest) => ["purelib/", "platlib/"]
                    .iter()
                    .find_map(|scheme| rest.strip_prefix(scheme))
                    .map(|inner| WheelFile { path: inner.to_string(), bytes }),
            })
            .collect();
        Ok(Wheel { origin: wheel, name: normalize_name(&metadata.name), version: metadata.version, sha256, files })
    }

    /// The wheel's native extension modules.
    pub fn native_extensions(&self) -> impl Iterator<Item = &WheelFile> {
        self.files.iter().filter(|file| is_native_extension(&file.path))
    }

    /// The top-level modules and packages the wheel installs, sorted: the lines of
    /// `top_level.txt` when the wheel has one, else the first component of the paths of its
    /// installed Python files (`pkg/mod.py`, `mod.py`, `mod.cpython-314-wasm32-wasi.so`).
    /// Private names (a leading `_`), test packages and names that are not identifiers are left
    /// out: this is the list to import ahead of time, not everything on disk.
    pub fn top_level_modules(&self) -> Vec<String> {
        let is_metadata = |path: &str| {
            path.split('/').next().is_some_and(|first| first.ends_with(".dist-info") || first.ends_with(".data"))
        };
        let listed = self
            .files
            .iter()
            .find(|file| file.path.ends_with(".dist-info/top_level.txt") && file.path.matches('/').count() == 1);
        let names: BTreeSet<String> = match listed {
            Some(file) => String::from_utf8_lossy(&file.bytes).lines().map(|line| line.trim().to_string()).collect(),
            None => self
                .files
                .iter()
                .filter(|file| !is_metadata(&file.path))
                .filter_map(|file| match file.path.split_once('/') {
                    Some((package, _)) => Some(package.to_string()),
                    None if file.path.ends_with(".py") || is_native_extension(&file.path) => {
                        file.path.split('.').next().map(str::to_string)
                    }
                    None => None,
                })
                .collect(),
        };
        let importable = |name: &String| {
            let mut chars = name.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !matches!(name.as_str(), "test" | "tests")
        };
        names.into_iter().filter(importable).collect()
    }
}

/// A file's path that stays below the folder it is joined to and that file systems can create:
/// safe, no empty segment, no name longer than 255 bytes.
pub(crate) fn is_safe_file_path(name: &str) -> bool {
    is_safe_path(name) && name.split('/').all(|part| !part.is_empty() && part.len() <= 255)
}

fn is_safe_path(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && !name.contains('\\')
        && !name.contains('\0')
        && !name.contains(':')
        && name.split('/').all(|part| part != ".." && part != ".")
}

/// Checks every member against `RECORD` and every `RECORD` entry against the members.
fn verify_record(wheel: &str, dist_info: &str, members: &BTreeMap<String, Vec<u8>>) -> Result<(), WheelError> {
    let record_path = format!("{dist_info}/RECORD");
    let record = members.get(&record_path).ok_or_else(|| WheelError::NoRecord { wheel: wheel.into() })?;
    let bad = |reason: String| WheelError::BadRecord { wheel: wheel.into(), reason };
    let mut listed = BTreeMap::new();
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(&record[..]);
    for row in reader.records() {
        let row = row.map_err(|e| bad(e.to_string()))?;
        let path = row.get(0).ok_or_else(|| bad("a row without a path".into()))?.to_string();
        listed.insert(path, row.get(1).unwrap_or_default().to_string());
    }
    for (path, bytes) in members {
        let unsigned = path == &record_path || path.ends_with("/RECORD.jws") || path.ends_with("/RECORD.p7s");
        if unsigned {
            continue;
        }
        let hash =
            listed.get(path).ok_or_else(|| WheelError::NotInRecord { wheel: wheel.into(), file: path.clone() })?;
        let expected =
            hash.strip_prefix("sha256=").ok_or_else(|| bad(format!("{path} has no sha256 hash ({hash:?})")))?;
        let actual = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(bytes));
        if actual != expected.trim_end_matches('=') {
            return Err(WheelError::HashMismatch {
                wheel: wheel.into(),
                file: path.clone(),
                expected: expected.to_string(),
                actual,
            });
        }
    }
    if let Some((path, _)) = listed.iter().find(|(path, hash)| !hash.is_empty() && !members.contains_key(*path)) {
        return Err(WheelError::MissingFile { wheel: wheel.into(), file: path.clone() });
    }
    Ok(())
}
