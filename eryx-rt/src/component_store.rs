//! The compiled components on disk: bounded in size, least recently used out first, shared
//! safely by every process of the machine.
//!
//! A compiled component is 30-100 MB, and every eryx version, wheel set and snapshot import
//! list adds one, so without a bound the cache folder only grows. Eviction must never pull an
//! entry from under a process that uses it or writes it, and a crash at any point must leave
//! nothing that a later process trusts.
//!
//! Layout of `<cache folder>/components/`, one entry per key:
//! * `<key>.cwasm`: what `Component::serialize` wrote; wasmtime maps it;
//! * `<key>.cwasm.check`: its size and checksum ([`crate::entry_check`]); an entry without a
//!   matching check is never trusted;
//! * `<key>.cwasm.info`: what the entry is ([`EntryInfo`]); its modification time is the
//!   entry's last use (set when a process opens the entry, at most once a minute: the order of
//!   eviction needs no finer clock, and a warm start then writes nothing);
//! * `.tmp-*`: code being written, renamed to `<key>.cwasm` once whole and synced (its
//!   sidecars are written first), so a crash leaves only a temporary file, which no reader
//!   looks at and [`ComponentStore::prune`] removes.
//!
//! Locks are advisory `flock`s (std's `File::lock`) on the code file, which the kernel drops
//! when a process dies: a process holds a shared lock for as long as it may use the mapped
//! code ([`Lease`]); a writer holds an exclusive one on its temporary file until it is in place
//! (and on the entry it replaces); removal takes the exclusive lock without waiting and leaves
//! the entry when it cannot. A reader locks, then checks that the name still leads to the file
//! it locked, so an entry removed in between is a miss, not a use of a deleted file.
//!
//! The cap covers the whole cache folder: the store lists, counts and evicts the other entries
//! of the folder with the components, least recently used first over all of them
//! ([`crate::cache_entries`]: the standard library, site-packages trees with their bytecode
//! packs, the late-link and wheel indexes, eryx-build's downloads), each under the same rule: never one a
//! process holds.
//!
//! New entries prune the store down to its cap ([`RuntimeBuilder::cache_limit`], else
//! `ERYX_CACHE_LIMIT`, else [`DEFAULT_CACHE_LIMIT`]); `eryx cache` lists, prunes and clears it.
//!
//! [`RuntimeBuilder::cache_limit`]: crate::RuntimeBuilder::cache_limit

use std::fs::{self, File, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::cache_entries::{self, is_locked, record_use, remove_if_present, same_file};
pub use crate::cache_entries::{EntryKind, unmanaged};
use crate::entry_check;
use crate::files::{default_cache_dir, write_atomic};

/// The default cap of everything eryx keeps in its cache folder: 4 GiB (some 40-130 compiled
/// components with their trees).
pub const DEFAULT_CACHE_LIMIT: u64 = 4 << 30;

/// The environment variable that sets the default cap (bytes, or with a unit: `500M`, `4G`).
pub(crate) const CACHE_LIMIT_ENV: &str = "ERYX_CACHE_LIMIT";

const CODE_SUFFIX: &str = ".cwasm";
const TEMP_PREFIX: &str = cache_entries::TEMP_PREFIX;
const INFO_HEADER: &str = "eryx-entry-info-v1";
/// How long a temporary file or an orphaned sidecar is left alone although no lock says it is
/// in use (its writer may be between creating it and locking it, or between writing the
/// sidecars and renaming the code into place).
const STALE_AFTER: Duration = Duration::from_secs(600);

/// The cap from `ERYX_CACHE_LIMIT`, else [`DEFAULT_CACHE_LIMIT`]. A value that does not parse
/// is logged as a warning and the default applies.
pub(crate) fn cache_limit_from_env() -> u64 {
    let Some(value) = std::env::var_os(CACHE_LIMIT_ENV).filter(|value| !value.is_empty()) else {
        return DEFAULT_CACHE_LIMIT;
    };
    match value.to_str().and_then(parse_size) {
        Some(limit) => limit,
        None => {
            tracing::warn!(?value, "{CACHE_LIMIT_ENV} is not a size such as 4G, 500M or 1048576; using 4G");
            DEFAULT_CACHE_LIMIT
        }
    }
}

/// Parses a size: `1048576`, `500M`, `4G`, `4GiB`, `1.5g`, `2 TB` (units are binary: K = 1024).
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let unit = unit.trim().to_ascii_uppercase();
    let shift = match unit.strip_suffix("IB").or_else(|| unit.strip_suffix('B')).unwrap_or(&unit) {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return None,
    };
    let bytes = number * (1u64 << shift) as f64;
    (bytes.is_finite() && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// What a cache entry holds, recorded beside it when it is written (for `eryx cache list`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EntryInfo {
    /// The eryx version that wrote it.
    pub eryx_version: String,
    /// Where the component came from: `base`, `embedded` or `late-linked`.
    pub source: String,
    /// Compiled for the fuel-metering engine.
    pub fuel: bool,
    /// The distributions installed beside the component (`name-version`), sorted.
    pub wheels: Vec<String>,
    /// For a snapshot: the modules imported before it was taken (empty: start-up only);
    /// `None` for a component without a snapshot.
    pub snapshot_imports: Option<Vec<String>>,
}

impl EntryInfo {
    pub(crate) fn new(source: &str, fuel: bool, wheels: Vec<String>, snapshot_imports: Option<Vec<String>>) -> Self {
        EntryInfo {
            eryx_version: env!("CARGO_PKG_VERSION").to_string(),
            source: source.to_string(),
            fuel,
            wheels,
            snapshot_imports,
        }
    }

    fn encode(&self) -> String {
        let mut text = format!(
            "{INFO_HEADER}\neryx {}\nsource {}\nfuel {}\nwheels {}\n",
            self.eryx_version,
            self.source,
            self.fuel,
            self.wheels.join(" ")
        );
        if let Some(imports) = &self.snapshot_imports {
            text.push_str(&format!("snapshot {}\n", imports.join(" ")));
        }
        text
    }

    fn decode(text: &str) -> Option<Self> {
        let mut lines = text.lines();
        if lines.next()? != INFO_HEADER {
            return None;
        }
        let mut info = EntryInfo::default();
        let words = |value: &str| value.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        for line in lines {
            let (name, value) = line.split_once(' ').unwrap_or((line, ""));
            match name {
                "eryx" => info.eryx_version = value.to_string(),
                "source" => info.source = value.to_string(),
                "fuel" => info.fuel = value == "true",
                "wheels" => info.wheels = words(value),
                "snapshot" => info.snapshot_imports = Some(words(value)),
                _ => {}
            }
        }
        Some(info)
    }
}

impl std::fmt::Display for EntryInfo {
    /// One line: `snapshot (imports json) of late-linked component with numpy-2.4.6, fuel`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.snapshot_imports {
            None => write!(f, "{} component", self.source)?,
            Some(imports) if imports.is_empty() => write!(f, "snapshot of {} component", self.source)?,
            Some(imports) => write!(f, "snapshot (imports {}) of {} component", imports.join(","), self.source)?,
        }
        if !self.wheels.is_empty() {
            write!(f, " with {}", self.wheels.join(","))?;
        }
        if self.fuel {
            write!(f, ", fuel-metered")?;
        }
        Ok(())
    }
}

/// One entry of the store, as [`ComponentStore::list`] reports it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CacheEntry {
    /// What kind of entry it is.
    pub kind: EntryKind,
    /// A compiled component's cache key (hex SHA-256); for the other kinds, the entry's path
    /// in the cache folder (`stdlib-<fingerprint>`, `site-packages/<digest>`, ...).
    pub key: String,
    /// Bytes on disk (code and sidecars; every file of a tree).
    pub bytes: u64,
    /// What a compiled component is; `None` for the other kinds and for a component written by
    /// an eryx that did not record it.
    pub info: Option<EntryInfo>,
    /// For a site-packages tree: the distributions in it (`name-version`), sorted.
    pub contents: Vec<String>,
    /// When a process last opened it (or wrote it).
    pub last_used: SystemTime,
    /// Whether a process has it mapped or is writing it now (it is never removed then).
    pub in_use: bool,
}

/// What [`ComponentStore::prune`] or [`ComponentStore::clear`] did.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct PruneReport {
    /// The entries removed, least recently used first.
    pub removed: Vec<CacheEntry>,
    /// Entries that would have gone but a process uses them.
    pub kept_in_use: Vec<CacheEntry>,
    /// Temporary files and orphaned sidecars removed (what crashed writers left), with their bytes.
    pub leftovers: Vec<(PathBuf, u64)>,
    /// Bytes of the entries left in the store.
    pub remaining_bytes: u64,
}

/// An entry opened for use: while it lives, no process removes the entry.
#[derive(Debug)]
pub(crate) struct Lease {
    _lock: File,
}

/// The compiled components in one cache folder, with the cap that new entries prune the whole
/// folder to (the other entries of the folder are listed, counted and pruned with them).
#[derive(Clone, Debug)]
pub struct ComponentStore {
    root: PathBuf,
    dir: PathBuf,
    limit: u64,
}

impl ComponentStore {
    /// The store of the cache folder `cache_dir` (its `components/` folder), capped by
    /// `ERYX_CACHE_LIMIT` or [`DEFAULT_CACHE_LIMIT`].
    pub fn new(cache_dir: impl AsRef<Path>) -> Self {
        let root = cache_dir.as_ref().to_path_buf();
        ComponentStore { dir: root.join("components"), root, limit: cache_limit_from_env() }
    }

    /// The store of the default cache folder (`ERYX_CACHE_DIR`, else the user cache folder),
    /// `None` when there is none.
    pub fn from_env() -> Option<Self> {
        default_cache_dir().map(Self::new)
    }

    /// Sets the cap (bytes) that writing a new entry prunes the store down to.
    pub fn with_limit(mut self, bytes: u64) -> Self {
        self.limit = bytes;
        self
    }

    /// The folder of the compiled components.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cache folder, which the cap covers whole.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The cap (bytes) that writing a new entry prunes the store down to.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    fn code_path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}{CODE_SUFFIX}"))
    }

    /// Opens the entry `key` for use: locked against removal, checked ([`entry_check`]), its
    /// use recorded. Returns its code's path and the lease that must live as long as the code
    /// is mapped; `None` when it is absent or not trustworthy (a bad entry is removed unless a
    /// process holds it).
    pub(crate) fn open(&self, key: &str) -> Option<(PathBuf, Lease)> {
        let path = self.code_path(key);
        // Removed or replaced between `open` and the lock, the name leads elsewhere: a
        // replaced entry is opened again (its writer holds the old one only briefly).
        let file = (0..3).find_map(|_| {
            let file = File::open(&path).ok()?;
            if let Err(error) = file.lock_shared() {
                tracing::debug!(path = %path.display(), %error, "cannot lock a cache entry; using it unlocked");
            }
            same_file(&file, &path).then_some(file)
        })?;
        // SAFETY: entries are never written in place (only renamed into place), and the lock
        // keeps this one from removal, so the mapped bytes do not change while hashed.
        let verified = entry_check::verify(&path, &file, || unsafe { memmap2::Mmap::map(&file) }.ok());
        if verified.is_none() {
            tracing::warn!(path = %path.display(), "corrupt or incomplete compiled-component cache entry; compiling again");
            drop(file);
            self.discard(key);
            return None;
        }
        record_use(&info_path(&path));
        Some((path, Lease { _lock: file }))
    }

    /// Removes `key` unless a process holds it (an entry found bad or refused by the engine).
    pub(crate) fn discard(&self, key: &str) {
        if let Err(error) = self.remove_unused(key) {
            tracing::warn!(key, %error, "cannot remove a compiled-component cache entry");
        }
    }

    /// Writes the entry `key` whole or not at all: the code goes to a locked temporary file,
    /// is synced, its sidecars are written, and it is renamed into place. An entry that a
    /// process uses is left as it is.
    pub(crate) fn write(&self, key: &str, code: &[u8], info: &EntryInfo) -> io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let mut temp = tempfile::Builder::new().prefix(&format!("{TEMP_PREFIX}-")).tempfile_in(&self.dir)?;
        // Held until the code is in place, so that pruning does not take the file for a
        // dead writer's.
        temp.as_file().lock()?;
        temp.write_all(code)?;
        temp.as_file().sync_all()?;
        let path = self.code_path(key);
        // An existing entry (a bad one, or one another process wrote meanwhile) is replaced
        // only while nobody uses it; this lock is held until the rename is done.
        let _replaced = match File::open(&path) {
            Ok(old) => match old.try_lock() {
                Ok(()) => Some(old),
                Err(TryLockError::WouldBlock) => return Ok(()),
                Err(TryLockError::Error(error)) => return Err(error),
            },
            Err(error) if error.kind() == io::ErrorKind::NotFound => None,
            Err(error) => return Err(error),
        };
        write_atomic(&info_path(&path), info.encode().as_bytes())?;
        entry_check::record(&path, code)?;
        temp.persist(&path).map_err(|error| error.error)?;
        Ok(())
    }

    /// Every entry of the cache folder (compiled components and the other kinds), least
    /// recently used first.
    pub fn list(&self) -> io::Result<Vec<CacheEntry>> {
        let mut entries = self.list_components()?;
        entries.extend(cache_entries::list(&self.root)?.into_iter().map(|found| CacheEntry {
            kind: found.kind,
            key: found.key,
            bytes: found.bytes,
            info: None,
            contents: found.contents,
            last_used: found.last_used,
            in_use: found.in_use,
        }));
        entries.sort_by(|a, b| a.last_used.cmp(&b.last_used).then_with(|| a.key.cmp(&b.key)));
        Ok(entries)
    }

    fn list_components(&self) -> io::Result<Vec<CacheEntry>> {
        let read = match fs::read_dir(&self.dir) {
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(error),
        };
        let mut entries = Vec::new();
        for item in read {
            let name = item?.file_name();
            let Some(key) = name.to_str().and_then(|name| name.strip_suffix(CODE_SUFFIX)) else { continue };
            if key.starts_with('.') {
                continue;
            }
            let path = self.code_path(key);
            let Ok(code) = fs::metadata(&path) else { continue };
            let info_file = info_path(&path);
            let info_meta = fs::metadata(&info_file).ok();
            let last_used = [info_meta.as_ref(), Some(&code)]
                .into_iter()
                .flatten()
                .filter_map(|meta| meta.modified().ok())
                .max()
                .unwrap_or(UNIX_EPOCH);
            entries.push(CacheEntry {
                kind: EntryKind::Component,
                key: key.to_string(),
                bytes: sidecars(&path).iter().filter_map(|file| fs::metadata(file).ok()).map(|m| m.len()).sum(),
                info: fs::read_to_string(&info_file).ok().and_then(|text| EntryInfo::decode(&text)),
                contents: Vec::new(),
                last_used,
                in_use: is_locked(&path),
            });
        }
        Ok(entries)
    }

    /// Removes entries, least recently used first, until the store holds at most `max_bytes`;
    /// never one that a process uses. Also removes what crashed writers left.
    pub fn prune(&self, max_bytes: u64) -> io::Result<PruneReport> {
        self.prune_keeping(max_bytes, None)
    }

    /// Removes every entry that no process uses, and what crashed writers left.
    pub fn clear(&self) -> io::Result<PruneReport> {
        self.prune_keeping(0, None)
    }

    /// [`prune`](Self::prune) that also keeps `keep` (the component just written).
    pub(crate) fn prune_keeping(&self, max_bytes: u64, keep: Option<&str>) -> io::Result<PruneReport> {
        let mut leftovers = self.remove_leftovers();
        leftovers.extend(cache_entries::remove_leftovers(&self.root, STALE_AFTER));
        let mut report = PruneReport { leftovers, ..PruneReport::default() };
        let entries = self.list()?;
        report.remaining_bytes = entries.iter().map(|entry| entry.bytes).sum();
        for entry in entries {
            if report.remaining_bytes <= max_bytes {
                break;
            }
            if entry.kind == EntryKind::Component && Some(entry.key.as_str()) == keep {
                continue;
            }
            let removed = match entry.kind {
                EntryKind::Component => self.remove_unused(&entry.key)?,
                kind => cache_entries::remove(&self.root, kind, &entry.key)?,
            };
            if removed {
                report.remaining_bytes -= entry.bytes;
                report.removed.push(entry);
            } else {
                report.kept_in_use.push(entry);
            }
        }
        Ok(report)
    }

    /// Removes `key` unless a process holds it; false when one does.
    fn remove_unused(&self, key: &str) -> io::Result<bool> {
        let path = self.code_path(key);
        match File::open(&path) {
            Ok(file) => {
                match file.try_lock() {
                    Ok(()) => {}
                    Err(TryLockError::WouldBlock) => return Ok(false),
                    Err(TryLockError::Error(error)) => return Err(error),
                }
                // Replaced meanwhile by a writer: that new entry is not ours to judge.
                if !same_file(&file, &path) {
                    return Ok(false);
                }
                // The code first, while locked: a reader that opened it before now finds the
                // name gone once it gets its lock, and misses.
                remove_if_present(&path)?;
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
        for sidecar in &sidecars(&path)[1..] {
            remove_if_present(sidecar)?;
        }
        Ok(true)
    }

    /// Removes temporary files whose writer is gone (no lock, older than [`STALE_AFTER`]) and
    /// sidecars whose code is gone (older than that too: a writer writes them first).
    fn remove_leftovers(&self) -> Vec<(PathBuf, u64)> {
        let Ok(read) = fs::read_dir(&self.dir) else { return Vec::new() };
        let mut removed = Vec::new();
        for item in read.flatten() {
            let path = item.path();
            let Some(name) = item.file_name().to_str().map(str::to_string) else { continue };
            let Ok(meta) = item.metadata() else { continue };
            let stale = meta.modified().ok().and_then(|time| time.elapsed().ok()).is_some_and(|age| age > STALE_AFTER);
            let leftover = if name.starts_with(TEMP_PREFIX) {
                stale && !is_locked(&path)
            } else {
                let code = [".check", ".xxh3", ".info"].iter().find_map(|suffix| name.strip_suffix(suffix));
                stale && code.is_some_and(|code| code.ends_with(CODE_SUFFIX) && !self.dir.join(code).exists())
            };
            if leftover && meta.is_file() && fs::remove_file(&path).is_ok() {
                removed.push((path, meta.len()));
            }
        }
        removed
    }
}

/// The info sidecar of the code file `path`.
fn info_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".info");
    PathBuf::from(name)
}

/// The code file `path` and every sidecar it may have.
fn sidecars(path: &Path) -> [PathBuf; 4] {
    let with = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    [path.to_path_buf(), with(".check"), with(".xxh3"), with(".info")]
}

#[cfg(test)]
#[path = "component_store_tests.rs"]
mod tests;
