//! The cache folder, and writing into it safely.
//!
//! Everything eryx keeps on disk is content-addressed (compiled code, the standard library,
//! site-packages trees, the late-link and wheel indexes) and immutable once written, so one folder can be
//! shared by every process of a user, and by threads and processes racing to fill it. Safety
//! comes from how things are written: a file through a temporary file and an atomic rename, a
//! folder through a staging folder renamed into place ([`install_dir`]), so a reader sees a
//! whole entry or none, and a crash leaves no half entry under a final name.
//!
//! Without a cache folder (none configured, no user cache folder), the trees that must be
//! mounted into the guest go to a temporary folder that is removed when its runtime is
//! dropped (and at process exit for the default runtime, which is never dropped); compiled
//! code and the late-link index then stay in memory only. The guest's standard library and
//! site-packages are host folders mounted into it, so an in-memory-only mode would need a
//! second file system for them; instead a temporary folder cannot outlive its process: its
//! owner holds a lock on [`OWNER_LOCK`] inside it, and the next runtime that makes one removes
//! every such folder whose owner died without cleaning up (killed, crashed).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::BuildError;

/// The environment variable that sets the default cache folder.
pub(crate) const CACHE_DIR_ENV: &str = "ERYX_CACHE_DIR";

/// The lock file inside a temporary cache folder, held exclusively by the owning process.
pub(crate) const OWNER_LOCK: &str = ".eryx-owner.lock";

/// The prefix of temporary cache folders in the system's temporary folder.
const TEMP_FOLDER_PREFIX: &str = "eryx-";

/// Marks a folder installed by [`install_dir`] as complete.
pub(crate) const COMPLETE_MARKER: &str = ".eryx-complete";

/// The default cache folder: `$ERYX_CACHE_DIR`, else the user cache folder (`$XDG_CACHE_HOME/eryx`
/// or `~/.cache/eryx` on Linux); `None` when neither exists.
pub(crate) fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(CACHE_DIR_ENV).filter(|dir| !dir.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    dirs::cache_dir().map(|dir| dir.join("eryx"))
}

/// A runtime's cache folder: a persistent one, or a temporary one made on first use.
pub(crate) struct CacheFolder {
    persistent: Option<PathBuf>,
    temporary: Mutex<Option<Temporary>>,
}

/// A temporary cache folder and the lock that says its owner is alive. The lock is released
/// after the folder is removed (fields drop in order).
struct Temporary {
    dir: tempfile::TempDir,
    _owner: std::fs::File,
}

impl CacheFolder {
    pub(crate) fn new(persistent: Option<PathBuf>) -> Self {
        CacheFolder { persistent, temporary: Mutex::new(None) }
    }

    /// The persistent folder, where compiled code and indexes are kept across processes.
    pub(crate) fn persistent(&self) -> Option<&Path> {
        self.persistent.as_deref()
    }

    /// The folder to install trees into: the persistent one, else a temporary one.
    pub(crate) fn root(&self) -> Result<PathBuf, BuildError> {
        if let Some(dir) = &self.persistent {
            return Ok(dir.clone());
        }
        let mut temporary = self.temporary.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(temporary) = temporary.as_ref() {
            return Ok(temporary.dir.path().to_path_buf());
        }
        let parent = std::env::temp_dir();
        remove_abandoned_temporary_folders(&parent);
        let io = |source| BuildError::Io { path: parent.clone(), source };
        let dir = tempfile::Builder::new().prefix(TEMP_FOLDER_PREFIX).tempdir_in(&parent).map_err(io)?;
        let owner = std::fs::File::create(dir.path().join(OWNER_LOCK)).map_err(io)?;
        owner.lock().map_err(io)?;
        remove_at_exit(dir.path());
        tracing::debug!(dir = %dir.path().display(), "no cache folder: using a temporary folder");
        let path = dir.path().to_path_buf();
        *temporary = Some(Temporary { dir, _owner: owner });
        Ok(path)
    }
}

/// Removes the temporary cache folders in `parent` whose owner is gone: those with an
/// [`OWNER_LOCK`] that nobody holds. Other folders, even with eryx's prefix, are left alone.
pub(crate) fn remove_abandoned_temporary_folders(parent: &Path) -> Vec<PathBuf> {
    let Ok(read) = std::fs::read_dir(parent) else { return Vec::new() };
    let mut removed = Vec::new();
    for item in read.flatten() {
        if !item.file_name().to_str().is_some_and(|name| name.starts_with(TEMP_FOLDER_PREFIX)) {
            continue;
        }
        let dir = item.path();
        let Ok(owner) = std::fs::File::open(dir.join(OWNER_LOCK)) else { continue };
        // Held while removing, so that two sweepers do not race over one folder.
        if owner.try_lock().is_ok() && std::fs::remove_dir_all(&dir).is_ok() {
            tracing::debug!(dir = %dir.display(), "removed the temporary cache folder of a process that died");
            removed.push(dir);
        }
    }
    removed
}

/// Removes `dir` when the process exits normally, for runtimes that are never dropped (the
/// default one lives in a static). A runtime that is dropped removes its folder itself.
fn remove_at_exit(dir: &Path) {
    static FOLDERS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    extern "C" fn remove_all() {
        let folders = std::mem::take(&mut *FOLDERS.lock().unwrap_or_else(|e| e.into_inner()));
        for dir in folders {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    let mut folders = FOLDERS.lock().unwrap_or_else(|e| e.into_inner());
    if folders.is_empty() {
        // SAFETY: `remove_all` is a plain function that neither unwinds nor calls `exit`.
        unsafe { libc::atexit(remove_all) };
    }
    folders.push(dir.to_path_buf());
}

/// Whether [`install_dir`] has completed `target`.
pub(crate) fn is_installed(target: &Path) -> bool {
    target.join(COMPLETE_MARKER).exists()
}

/// Creates the folder `target` atomically unless it is complete already: `fill` writes into a
/// staging folder beside it, which is then renamed into place. A crash leaves no half folder
/// at `target`; two processes racing both end with one complete folder.
pub(crate) fn install_dir(target: &Path, fill: impl FnOnce(&Path) -> std::io::Result<()>) -> Result<(), BuildError> {
    if is_installed(target) {
        return Ok(());
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BuildError::Io { path, source }
    };
    let root = target.parent().ok_or_else(|| BuildError::Io {
        path: target.to_path_buf(),
        source: std::io::Error::other("a cache folder needs a parent folder"),
    })?;
    std::fs::create_dir_all(root).map_err(io(root))?;
    let staging = tempfile::Builder::new().prefix(".tmp-").tempdir_in(root).map_err(io(root))?;
    fill(staging.path()).map_err(io(staging.path()))?;
    std::fs::write(staging.path().join(COMPLETE_MARKER), b"").map_err(io(staging.path()))?;
    if target.exists() && !target.join(COMPLETE_MARKER).exists() {
        // Left incomplete by an older process that did not stage: start over.
        let _ = std::fs::remove_dir_all(target);
    }
    match std::fs::rename(staging.path(), target) {
        Ok(()) => {
            // The folder now lives at `target`; keep the guard from deleting it.
            let _ = staging.keep();
            Ok(())
        }
        // Another process installed it first; ours is dropped.
        Err(_) if target.join(COMPLETE_MARKER).exists() => Ok(()),
        Err(source) => Err(BuildError::Io { path: target.to_path_buf(), source }),
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, creating
/// the folder if needed: readers see the old file, the new one, or none; never a part.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().ok_or_else(|| std::io::Error::other("the path has no folder"))?;
    std::fs::create_dir_all(dir)?;
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_temporary_folder_is_removed_with_its_owner() {
        let folder = CacheFolder::new(None);
        assert!(folder.persistent().is_none());
        let root = folder.root().unwrap();
        assert_eq!(root, folder.root().unwrap(), "one folder per owner");
        install_dir(&root.join("tree"), |staging| std::fs::write(staging.join("file"), b"x")).unwrap();
        assert!(root.join("tree/file").exists() && root.join("tree").join(COMPLETE_MARKER).exists());
        drop(folder);
        assert!(!root.exists(), "{} is left behind", root.display());
    }

    #[test]
    fn a_temporary_folder_whose_owner_died_is_removed_by_the_next_one() {
        let parent = tempfile::tempdir().unwrap();
        // A dead owner: the lock file is there, nobody holds it.
        let dead = parent.path().join("eryx-dead");
        std::fs::create_dir_all(dead.join("stdlib")).unwrap();
        std::fs::write(dead.join(OWNER_LOCK), b"").unwrap();
        // A live owner (another open file description holds the lock), and a folder that is
        // not one of eryx's temporary folders.
        let live = parent.path().join("eryx-live");
        std::fs::create_dir_all(&live).unwrap();
        let owner = std::fs::File::create(live.join(OWNER_LOCK)).unwrap();
        owner.lock().unwrap();
        let other = parent.path().join("eryx-notes");
        std::fs::create_dir_all(&other).unwrap();
        assert_eq!(remove_abandoned_temporary_folders(parent.path()), std::slice::from_ref(&dead));
        assert!(!dead.exists() && live.exists() && other.exists());
        drop(owner);
        assert_eq!(remove_abandoned_temporary_folders(parent.path()), [live]);
    }

    #[test]
    fn a_failed_fill_leaves_nothing() {
        let scratch = tempfile::tempdir().unwrap();
        let target = scratch.path().join("tree");
        let error = install_dir(&target, |staging| {
            std::fs::write(staging.join("half"), b"x")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(error.is_err());
        assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0, "no staging folder, no target");
    }
}
