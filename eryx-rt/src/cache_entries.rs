//! Everything else eryx keeps in the cache folder, beside the compiled components: found,
//! held while in use, measured and removed under the same cap.
//!
//! The compiled components are not all: a runtime also unpacks the standard library
//! (`stdlib-<fingerprint>/`), writes a site-packages tree per wheel set
//! (`site-packages/<digest>/`), each with its bytecode pack inside and the pack's check beside
//! it (`<tree>.bytecode.check`), remembers linked SHA-256s (`link-index/<identity>`) and what
//! wheel files it has prepared (`wheel-index/<key>`, see `wheel_index`), and
//! eryx-build keeps the wheels it downloaded (`downloads/<sha256>.whl`). All of them count
//! towards the one cap and leave least recently used first ([`crate::ComponentStore`] merges
//! them with the components).
//!
//! They follow the components' locking design: a process holds a shared `flock` on what it
//! uses (a tree's folder itself, for as long as its runtime mounts it: [`HeldTrees`]; a
//! downloaded wheel, for the length of eryx-build's run), and removal takes the exclusive
//! lock without waiting and leaves the entry when it cannot. A holder locks first and then
//! checks that the name still leads to what it locked (a tree removed in between is
//! installed again). A tree is removed by renaming it to a temporary name first, so nobody
//! ever finds half of one under its real name. A link-index or wheel-index entry is read once
//! per process and then remembered in memory, so it needs no lock: removing it costs a later
//! process a link or a read of its wheels, never a failure.
//!
//! Last use: a tree's completion marker is touched when a runtime takes it (at most once a
//! minute, [`record_use`], as a compiled component's info file), an index entry
//! when it is read (also at most once a minute), a wheel when eryx-build uses it; their modification times order eviction.
//!
//! Folders of the repository's build scripts (`wheels/`, `venvs/`, `downloads/<sha256>/`) are
//! not eryx's entries: they take no locks, so they are only reported ([`unmanaged`]).

use std::collections::HashMap;
use std::fs::{self, File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::entry_check::FileIdentity;
use crate::error::BuildError;
use crate::files::COMPLETE_MARKER;

/// What a cache entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EntryKind {
    /// A compiled component or snapshot (`components/<key>.cwasm` and its sidecars).
    Component,
    /// The unpacked standard library with its bytecode pack (`stdlib-<fingerprint>/`).
    Stdlib,
    /// A site-packages tree of a wheel set with its bytecode pack (`site-packages/<digest>/`).
    SitePackages,
    /// A late-link index entry: which component some inputs link to (`link-index/<identity>`).
    LinkIndex,
    /// A wheel that eryx-build downloaded (`downloads/<sha256>.whl`).
    Download,
    /// A wheel-index entry: what a warm start needs of some wheel files, recognised by their
    /// file identity (`wheel-index/<key>`).
    WheelIndex,
}

impl std::fmt::Display for EntryKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EntryKind::Component => "component",
            EntryKind::Stdlib => "standard library",
            EntryKind::SitePackages => "site-packages",
            EntryKind::LinkIndex => "link index",
            EntryKind::Download => "downloaded wheel",
            EntryKind::WheelIndex => "wheel index",
        })
    }
}

/// The subfolders and names of the entries (the cache folder's layout).
const STDLIB_PREFIX: &str = "stdlib-";
const SITE_PACKAGES: &str = "site-packages";
const LINK_INDEX: &str = "link-index";
pub(crate) const WHEEL_INDEX: &str = "wheel-index";
const DOWNLOADS: &str = "downloads";
const COMPONENTS: &str = "components";
/// The suffix of a tree's bytecode-pack check, beside the tree (see `bytecode`).
const PACK_CHECK_SUFFIX: &str = ".bytecode.check";
/// Temporary files and folders (staging, writes in progress, trees being removed).
pub(crate) const TEMP_PREFIX: &str = ".tmp";

/// One entry other than a compiled component, as found on disk.
#[derive(Clone, Debug)]
pub(crate) struct Found {
    pub(crate) kind: EntryKind,
    /// Its path relative to the cache folder (`site-packages/<digest>`).
    pub(crate) key: String,
    pub(crate) bytes: u64,
    pub(crate) last_used: SystemTime,
    pub(crate) in_use: bool,
    /// For a site-packages tree: the distributions in it (`name-version`), sorted.
    pub(crate) contents: Vec<String>,
}

/// Every entry of the cache folder `root` other than the compiled components.
pub(crate) fn list(root: &Path) -> io::Result<Vec<Found>> {
    let mut found = Vec::new();
    for name in names(root)? {
        let path = root.join(&name);
        if name.starts_with(STDLIB_PREFIX) && !name.ends_with(PACK_CHECK_SUFFIX) && path.is_dir() {
            found.push(tree(root, &name, EntryKind::Stdlib));
        }
    }
    for name in names(&root.join(SITE_PACKAGES))? {
        if !name.starts_with('.') && !name.ends_with(PACK_CHECK_SUFFIX) {
            let mut entry = tree(root, &format!("{SITE_PACKAGES}/{name}"), EntryKind::SitePackages);
            entry.contents = distributions(&root.join(&entry.key));
            found.push(entry);
        }
    }
    for (dir, kind) in [(LINK_INDEX, EntryKind::LinkIndex), (WHEEL_INDEX, EntryKind::WheelIndex)] {
        for name in names(&root.join(dir))? {
            if !name.starts_with('.') {
                found.push(file(root, &format!("{dir}/{name}"), kind));
            }
        }
    }
    for name in names(&root.join(DOWNLOADS))? {
        if !name.starts_with('.') && name.ends_with(".whl") && root.join(DOWNLOADS).join(&name).is_file() {
            found.push(file(root, &format!("{DOWNLOADS}/{name}"), EntryKind::Download));
        }
    }
    Ok(found)
}

/// What the cache folder holds that is not eryx's to manage (the repository's build scripts'
/// folders), with its bytes.
pub fn unmanaged(root: &Path) -> io::Result<Vec<(PathBuf, u64)>> {
    let mut other = Vec::new();
    for name in names(root)? {
        let path = root.join(&name);
        let known = [COMPONENTS, SITE_PACKAGES, LINK_INDEX, WHEEL_INDEX, DOWNLOADS].contains(&name.as_str())
            || name.starts_with(STDLIB_PREFIX)
            || name.starts_with(TEMP_PREFIX);
        if !known {
            other.push((path.clone(), tree_bytes(&path)));
        }
    }
    for name in names(&root.join(DOWNLOADS))? {
        let path = root.join(DOWNLOADS).join(&name);
        if !name.starts_with('.') && path.is_dir() {
            other.push((path.clone(), tree_bytes(&path)));
        }
    }
    Ok(other)
}

/// Removes the entry `key` of `kind` unless a process uses it; false when one does.
pub(crate) fn remove(root: &Path, kind: EntryKind, key: &str) -> io::Result<bool> {
    let path = root.join(key);
    match kind {
        EntryKind::Stdlib | EntryKind::SitePackages => remove_tree(&path),
        EntryKind::Download => remove_locked_file(&path),
        EntryKind::LinkIndex | EntryKind::WheelIndex | EntryKind::Component => remove_if_present(&path).map(|()| true),
    }
}

/// Removes what writers that died left in the cache folder's own subfolders: temporary files
/// and folders older than `stale_after` that no lock holds, and pack checks without their tree.
pub(crate) fn remove_leftovers(root: &Path, stale_after: Duration) -> Vec<(PathBuf, u64)> {
    let mut removed = Vec::new();
    let dirs = [SITE_PACKAGES, LINK_INDEX, WHEEL_INDEX, DOWNLOADS].map(|dir| root.join(dir));
    for dir in std::iter::once(root.to_path_buf()).chain(dirs) {
        let Ok(read) = fs::read_dir(&dir) else { continue };
        for item in read.flatten() {
            let path = item.path();
            let Some(name) = item.file_name().to_str().map(str::to_string) else { continue };
            let Ok(meta) = fs::symlink_metadata(&path) else { continue };
            let stale = meta.modified().ok().and_then(|time| time.elapsed().ok()).is_some_and(|age| age > stale_after);
            let orphan_check = name.strip_suffix(PACK_CHECK_SUFFIX).is_some_and(|tree| !dir.join(tree).exists());
            if !stale || !(name.starts_with(TEMP_PREFIX) || orphan_check) || is_locked(&path) {
                continue;
            }
            let bytes = tree_bytes(&path);
            let gone = if meta.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
            if gone.is_ok() {
                removed.push((path, bytes));
            }
        }
    }
    removed
}

/// The trees a runtime mounts, held (shared-locked) for as long as it lives, so that no process
/// removes one from under its sandboxes.
#[derive(Default)]
pub(crate) struct HeldTrees {
    held: Mutex<HashMap<PathBuf, File>>,
}

impl HeldTrees {
    /// Runs `install` (which installs a tree once and returns its folder, `None` for no tree)
    /// and holds the tree; installs it again when another process removed it in between.
    pub(crate) fn hold(
        &self,
        install: impl Fn() -> Result<Option<PathBuf>, BuildError>,
    ) -> Result<Option<PathBuf>, BuildError> {
        let mut last = None;
        for _ in 0..5 {
            let Some(dir) = install()? else { return Ok(None) };
            let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            if held.contains_key(&dir) {
                return Ok(Some(dir));
            }
            if let Some(lock) = lock_tree(&dir) {
                held.insert(dir.clone(), lock);
                return Ok(Some(dir));
            }
            last = Some(dir);
        }
        let path = last.unwrap_or_default();
        Err(BuildError::Io { path, source: io::Error::other("another process removed it each time it was installed") })
    }

    /// [`hold`](Self::hold) for a tree that is always there.
    pub(crate) fn hold_tree(&self, install: impl Fn() -> Result<PathBuf, BuildError>) -> Result<PathBuf, BuildError> {
        Ok(self.hold(|| install().map(Some))?.unwrap_or_default())
    }
}

/// Takes a shared lock on the complete tree `dir` and records its use; `None` when it was
/// removed or replaced before the lock was had.
fn lock_tree(dir: &Path) -> Option<File> {
    let handle = File::open(dir).ok()?;
    if let Err(error) = handle.lock_shared() {
        tracing::debug!(dir = %dir.display(), %error, "cannot lock a cache tree; using it unlocked");
    }
    if !same_file(&handle, dir) || !dir.join(COMPLETE_MARKER).is_file() {
        return None;
    }
    record_use(&dir.join(COMPLETE_MARKER));
    Some(handle)
}

/// Removes a tree that nobody holds: renamed away while locked, so that a holder that opened it
/// before finds its name gone, then deleted.
fn remove_tree(dir: &Path) -> io::Result<bool> {
    let handle = match File::open(dir) {
        Ok(handle) => handle,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(true),
        Err(error) => return Err(error),
    };
    match handle.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Ok(false),
        Err(TryLockError::Error(error)) => return Err(error),
    }
    if !same_file(&handle, dir) {
        return Ok(false);
    }
    let parent = dir.parent().unwrap_or(dir);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
    let doomed = parent.join(format!("{TEMP_PREFIX}-removing-{}-{nanos}", std::process::id()));
    fs::rename(dir, &doomed)?;
    remove_if_present(&with_suffix(dir, PACK_CHECK_SUFFIX))?;
    drop(handle);
    // A failure here leaves a temporary folder, which a later prune removes.
    if let Err(error) = fs::remove_dir_all(&doomed) {
        tracing::warn!(dir = %doomed.display(), %error, "cannot delete a removed cache tree");
    }
    Ok(true)
}

/// Removes a file unless a process holds a lock on it.
fn remove_locked_file(path: &Path) -> io::Result<bool> {
    let handle = match File::open(path) {
        Ok(handle) => handle,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(true),
        Err(error) => return Err(error),
    };
    match handle.try_lock() {
        Ok(()) if same_file(&handle, path) => remove_if_present(path).map(|()| true),
        Ok(()) | Err(TryLockError::WouldBlock) => Ok(false),
        Err(TryLockError::Error(error)) => Err(error),
    }
}

fn tree(root: &Path, key: &str, kind: EntryKind) -> Found {
    let dir = root.join(key);
    let check = with_suffix(&dir, PACK_CHECK_SUFFIX);
    let last_used = [dir.join(COMPLETE_MARKER), dir.clone()]
        .iter()
        .find_map(|path| fs::metadata(path).and_then(|meta| meta.modified()).ok())
        .unwrap_or(UNIX_EPOCH);
    Found {
        kind,
        key: key.to_string(),
        bytes: tree_bytes(&dir) + fs::metadata(&check).map(|meta| meta.len()).unwrap_or(0),
        last_used,
        in_use: is_locked(&dir),
        contents: Vec::new(),
    }
}

fn file(root: &Path, key: &str, kind: EntryKind) -> Found {
    let path = root.join(key);
    let meta = fs::metadata(&path).ok();
    Found {
        kind,
        key: key.to_string(),
        bytes: meta.as_ref().map(|meta| meta.len()).unwrap_or(0),
        last_used: meta.and_then(|meta| meta.modified().ok()).unwrap_or(UNIX_EPOCH),
        in_use: kind == EntryKind::Download && is_locked(&path),
        contents: Vec::new(),
    }
}

/// The `name-version` of each `*.dist-info` folder of a site-packages tree, sorted.
fn distributions(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|item| item.file_name().to_str()?.strip_suffix(".dist-info").map(str::to_string))
        .collect();
    names.sort();
    names
}

/// The names in `dir` (none when it does not exist), sorted.
fn names(dir: &Path) -> io::Result<Vec<String>> {
    let read = match fs::read_dir(dir) {
        Ok(read) => read,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut names = Vec::new();
    for item in read {
        if let Some(name) = item?.file_name().to_str() {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// The bytes of the files under `path` (symbolic links not followed).
pub(crate) fn tree_bytes(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else { return 0 };
    if !meta.is_dir() {
        return meta.len();
    }
    fs::read_dir(path).into_iter().flatten().flatten().map(|item| tree_bytes(&item.path())).sum()
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

pub(crate) fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// How old a recorded last use must be before a new use is written: eviction order needs no
/// finer clock, and a warm start then writes nothing to the cache folder.
pub(crate) const USE_RECORDED_EVERY: Duration = Duration::from_secs(60);

/// Records a use of `path` (see [`touch`]) unless one was recorded less than
/// [`USE_RECORDED_EVERY`] ago: one `stat` instead of an open, a timestamp write and a close.
pub(crate) fn record_use(path: &Path) {
    if !used_recently(path) {
        touch(path);
    }
}

/// [`record_use`] for a file that must exist (an index entry): never creates one.
pub(crate) fn record_use_existing(path: &Path) {
    if !used_recently(path) {
        touch_existing(path);
    }
}

fn used_recently(path: &Path) -> bool {
    fs::metadata(path)
        .and_then(|meta| meta.modified())
        .ok()
        .and_then(|time| time.elapsed().ok())
        .is_some_and(|age| age < USE_RECORDED_EVERY)
}

/// Records a use: sets `path`'s modification time to now (creating it if missing).
pub(crate) fn touch(path: &Path) {
    if let Ok(file) = File::options().append(true).create(true).open(path) {
        let _ = file.set_modified(SystemTime::now());
    }
}

/// Records a use of an existing file (never creates one).
pub(crate) fn touch_existing(path: &Path) {
    if let Ok(file) = File::options().append(true).open(path) {
        let _ = file.set_modified(SystemTime::now());
    }
}

/// Whether a process holds a lock on `path` (a file or a folder).
pub(crate) fn is_locked(path: &Path) -> bool {
    File::open(path).is_ok_and(|file| matches!(file.try_lock(), Err(TryLockError::WouldBlock)))
}

/// Whether the open `file` is still the one named `path` (not removed or replaced since).
pub(crate) fn same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), fs::metadata(path)) {
        (Ok(open), Ok(named)) => match (FileIdentity::of(&open), FileIdentity::of(&named)) {
            (Some(open), Some(named)) => open.same_inode(&named),
            // Without inode numbers an open file cannot be removed or replaced (Windows).
            _ => true,
        },
        _ => false,
    }
}

#[cfg(test)]
#[path = "cache_entries_tests.rs"]
mod tests;
