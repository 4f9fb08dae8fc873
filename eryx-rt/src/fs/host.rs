//! [`Files`]: the host's view of a sandbox's scratch space (hand a CSV in, take a PNG out).
//!
//! Paths are guest paths: absolute below `/tmp` or `/home/sandbox`, or relative to
//! `/home/sandbox` (the guest's working directory). Every path is checked before use: empty
//! paths, NUL bytes, `..` components and absolute paths outside the scratch space are refused
//! with [`FilesError::InvalidPath`], so no call can reach anything but this sandbox's scratch.

use std::sync::{Mutex, MutexGuard, Weak};

use wasmtime_wasi::p2::bindings::filesystem::types::{DescriptorType, ErrorCode};

use super::tree::{NodeId, Tree};

/// Why a [`Files`] call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FilesError {
    /// The path cannot name anything in the scratch space.
    #[error(
        "invalid scratch path {path:?}: {reason} (use a path below /tmp or /home/sandbox, or relative to /home/sandbox, without `..`)"
    )]
    InvalidPath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Nothing exists at the path.
    #[error("no file or folder at {path:?} in the sandbox's scratch space")]
    NotFound {
        /// The path as given.
        path: String,
    },
    /// The path names a folder where a file is needed.
    #[error("{path:?} is a folder, not a file")]
    IsAFolder {
        /// The path as given.
        path: String,
    },
    /// A part of the path is a file where a folder is needed.
    #[error("{path:?}: a part of the path is not a folder")]
    NotAFolder {
        /// The path as given.
        path: String,
    },
    /// The scratch space's quota would be exceeded.
    #[error(
        "no space for {path:?}: the scratch space holds at most {max_bytes} bytes and {max_entries} entries (raise them with SandboxBuilder::scratch_limits)"
    )]
    NoSpace {
        /// The path as given.
        path: String,
        /// The sandbox's byte quota.
        max_bytes: u64,
        /// The sandbox's entry quota.
        max_entries: u64,
    },
    /// The sandbox this handle belongs to was dropped, and its files with it.
    #[error("the sandbox was dropped; its scratch space is gone")]
    SandboxDropped,
    /// Any other refusal, with the WASI error code.
    #[error("{path:?}: {code}")]
    Other {
        /// The path as given.
        path: String,
        /// The WASI error code, as text.
        code: String,
    },
}

/// What kind of thing an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileKind {
    /// A regular file.
    File,
    /// A folder.
    Folder,
    /// A symbolic link.
    Symlink,
}

/// One entry of a folder listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// The entry's name (no folder part).
    pub name: String,
    /// What it is.
    pub kind: FileKind,
    /// Bytes of a file (entries of a folder, length of a symlink's target).
    pub size: u64,
}

/// A handle on one sandbox's scratch space, from [`Sandbox::files`](crate::Sandbox::files).
///
/// Cheap to clone and usable from any thread, also while the sandbox executes (it then sees
/// what the guest has written so far: data still in Python's buffers is not written yet). It
/// does not keep the files alive: once the sandbox is dropped, calls fail with
/// [`FilesError::SandboxDropped`].
#[derive(Clone, Debug)]
pub struct Files {
    tree: Weak<Mutex<Tree>>,
    preopens: Vec<(NodeId, String)>,
}

impl Files {
    pub(super) fn new(tree: Weak<Mutex<Tree>>, preopens: Vec<(NodeId, String)>) -> Files {
        Files { tree, preopens }
    }

    /// Writes `bytes` to the file at `path`, creating it and its folders as needed, replacing
    /// what was there. On a quota error the old content is kept.
    pub fn write(&self, path: &str, bytes: impl AsRef<[u8]>) -> Result<(), FilesError> {
        let (base, relative) = self.locate(path)?;
        let name = relative.rsplit_once('/').map_or("", |(dir, _)| dir);
        self.with_tree(path, |tree| {
            let dir = tree.mkdir_all(base, name)?;
            let last = relative.rsplit('/').next().unwrap_or(&relative);
            tree.put_file(dir, last, bytes.as_ref())
        })
    }

    /// The content of the file at `path`.
    pub fn read(&self, path: &str) -> Result<Vec<u8>, FilesError> {
        let (base, relative) = self.locate(path)?;
        self.with_tree(path, |tree| {
            let node = tree.resolve(base, &relative, true)?.node.ok_or(ErrorCode::NoEntry)?;
            tree.read(node, 0, u64::MAX)
        })
    }

    /// The entries of the folder at `path`, sorted by name.
    pub fn list(&self, path: &str) -> Result<Vec<FileEntry>, FilesError> {
        let (base, relative) = self.locate(path)?;
        self.with_tree(path, |tree| {
            let node = tree.resolve(base, &relative, true)?.node.ok_or(ErrorCode::NoEntry)?;
            let mut listing = Vec::new();
            for entry in tree.read_dir(node)? {
                let child = tree.resolve(node, &entry.name, false)?.node.ok_or(ErrorCode::NoEntry)?;
                let stat = tree.stat(child)?;
                let kind = match stat.type_ {
                    DescriptorType::Directory => FileKind::Folder,
                    DescriptorType::SymbolicLink => FileKind::Symlink,
                    _ => FileKind::File,
                };
                listing.push(FileEntry { name: entry.name, kind, size: stat.size });
            }
            Ok(listing)
        })
    }

    /// Removes the file, symlink or folder (with everything in it) at `path`.
    pub fn remove(&self, path: &str) -> Result<(), FilesError> {
        let (base, relative) = self.locate(path)?;
        if relative == "." {
            return Err(invalid(path, "the scratch folders themselves cannot be removed"));
        }
        self.with_tree(path, |tree| tree.remove_all(base, &relative))
    }

    /// Creates the folder at `path` and any missing folders above it.
    pub fn create_dir_all(&self, path: &str) -> Result<(), FilesError> {
        let (base, relative) = self.locate(path)?;
        self.with_tree(path, |tree| tree.mkdir_all(base, &relative).map(drop))
    }

    /// Bytes and entries the scratch space holds now (the quota counts these).
    pub fn usage(&self) -> Result<(u64, u64), FilesError> {
        let tree = self.tree.upgrade().ok_or(FilesError::SandboxDropped)?;
        Ok(lock(&tree).usage())
    }

    /// Splits a host-given guest path into a scratch folder and a path relative to it.
    fn locate(&self, path: &str) -> Result<(NodeId, String), FilesError> {
        if path.is_empty() {
            return Err(invalid(path, "the path is empty"));
        }
        if path.contains('\0') {
            return Err(invalid(path, "the path contains a NUL byte"));
        }
        if path.split('/').any(|part| part == "..") {
            return Err(invalid(path, "the path contains `..`"));
        }
        let home = self.preopen(super::HOME_GUEST_DIR);
        if !path.starts_with('/') {
            return Ok((home, normalise(path)));
        }
        for (node, guest) in &self.preopens {
            if let Some(rest) = path.strip_prefix(guest.as_str())
                && (rest.is_empty() || rest.starts_with('/'))
            {
                return Ok((*node, normalise(rest)));
            }
        }
        Err(invalid(path, "an absolute path outside the scratch space"))
    }

    fn preopen(&self, guest: &str) -> NodeId {
        self.preopens.iter().find(|(_, g)| g == guest).map(|(node, _)| *node).unwrap_or_default()
    }

    fn with_tree<R>(&self, path: &str, op: impl FnOnce(&mut Tree) -> Result<R, ErrorCode>) -> Result<R, FilesError> {
        let tree = self.tree.upgrade().ok_or(FilesError::SandboxDropped)?;
        let mut tree = lock(&tree);
        op(&mut tree).map_err(|code| {
            let path = path.to_string();
            match code {
                ErrorCode::NoEntry => FilesError::NotFound { path },
                ErrorCode::IsDirectory => FilesError::IsAFolder { path },
                ErrorCode::NotDirectory => FilesError::NotAFolder { path },
                ErrorCode::InsufficientSpace => {
                    let limits = tree.limits();
                    FilesError::NoSpace { path, max_bytes: limits.max_bytes, max_entries: limits.max_entries }
                }
                other => FilesError::Other { path, code: format!("{other:?}") },
            }
        })
    }
}

fn lock(tree: &Mutex<Tree>) -> MutexGuard<'_, Tree> {
    tree.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn invalid(path: &str, reason: &'static str) -> FilesError {
    FilesError::InvalidPath { path: path.to_string(), reason }
}

/// Drops empty and `.` components: `a//./b/` becomes `a/b`; nothing left is `.`.
fn normalise(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').filter(|part| !part.is_empty() && *part != ".").collect();
    if parts.is_empty() { ".".to_string() } else { parts.join("/") }
}
