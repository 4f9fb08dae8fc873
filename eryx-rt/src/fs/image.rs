//! Read-only trees served from bytes in memory ("images"): the standard library and the
//! site-packages tree of a binary that carries them, shown to the guest without being unpacked.
//!
//! # Why
//!
//! A binary built with eryx-build's `precompile` option carries everything its first sandbox
//! needs: the compiled snapshot, the site-packages tar and the bytecode packs. Unpacking the
//! standard library's 700 files and the packs into the cache folder was then most of its first
//! run on an empty cache (decompressing, creating files, writing and syncing the 11 MB pack).
//! An image is an index of names, built once per process, over bytes that are in memory
//! already (the binary's read-only data): the guest sees the same files, read-only, and nothing
//! is written to disk. The standard library's archive stays zstd-compressed in the binary; its
//! listing comes from eryx-libs' build script ([`eryx_libs::base::STDLIB_INDEX`]), so names and
//! sizes are known without decompressing it, and it is decompressed (once per process) only
//! when the guest reads a source file: with the bytecode packs an import only `stat`s sources
//! (tracebacks and `inspect` read them).
//!
//! # What the guest sees
//!
//! The same `wasi:filesystem` descriptors as for any folder (see `super::wasi`). Paths resolve
//! under capability rules, as for the scratch space and host folders: never above the image's
//! root (`..` there is `NotPermitted`), no absolute paths; images hold no symlinks. Every change
//! is refused with `NotPermitted`, as wasmtime-wasi refuses it in a read-only host folder
//! (writing through a descriptor, which can only be opened for reading, is `BadDescriptor`).
//! Every time stamp is one fixed instant, 1980-01-01 (an image has no host times; it is also
//! what snapshots made at build time saw, so the folder listings they cached stay valid).

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use wasmtime_wasi::p2::bindings::clocks::wall_clock::Datetime;
use wasmtime_wasi::p2::bindings::filesystem::types::{DescriptorStat, DescriptorType, DirectoryEntry, ErrorCode};

use super::tree::{MAX_NAME_LEN, check_relative_path};

/// A node of an image (also its inode number as the guest sees it).
pub(crate) type ImageNode = u64;

/// The root folder of every image.
pub(crate) const ROOT: ImageNode = 0;

/// The instant every time stamp of an image reads as: 1980-01-01, as in zip files.
const FIXED_TIME: Datetime = Datetime { seconds: 315_532_800, nanoseconds: 0 };

/// Why an image could not be made from its archive.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ImageError {
    /// The archive cannot be read.
    #[error("cannot read the archive: {0}")]
    Archive(#[from] std::io::Error),
    /// An entry's path cannot be shown to the guest.
    #[error("{path:?}: {reason}")]
    Path { path: String, reason: &'static str },
}

/// Bytes made on first use, shared by every image that points into them (the standard
/// library's archive, decompressed only if a file is read).
pub(crate) struct Deferred {
    bytes: OnceLock<Bytes>,
    make: fn() -> Vec<u8>,
}

impl Deferred {
    pub(crate) const fn new(make: fn() -> Vec<u8>) -> Deferred {
        Deferred { bytes: OnceLock::new(), make }
    }

    fn get(&self) -> &Bytes {
        self.bytes.get_or_init(|| {
            let started = std::time::Instant::now();
            let bytes = Bytes::from((self.make)());
            tracing::debug!(elapsed = ?started.elapsed(), bytes = bytes.len(), "decompressed an image's archive");
            bytes
        })
    }
}

/// A file's contents.
#[derive(Clone)]
pub(crate) enum Data {
    /// Bytes at hand (in the binary, or shared in memory).
    Ready(Bytes),
    /// `len` bytes at `offset` of an archive made on first read.
    Deferred { archive: &'static Deferred, offset: usize, len: usize },
}

impl Data {
    fn len(&self) -> usize {
        match self {
            Data::Ready(bytes) => bytes.len(),
            Data::Deferred { len, .. } => *len,
        }
    }

    fn bytes(&self) -> Result<Bytes, ErrorCode> {
        match self {
            Data::Ready(bytes) => Ok(bytes.clone()),
            Data::Deferred { archive, offset, len } => {
                let all = archive.get();
                let end = offset.checked_add(*len).filter(|end| *end <= all.len()).ok_or(ErrorCode::Io)?;
                Ok(all.slice(*offset..end))
            }
        }
    }
}

enum Node {
    Dir { entries: BTreeMap<Box<str>, ImageNode> },
    File(Data),
}

/// A read-only tree of folders and files (see the module docs).
pub(crate) struct Image {
    nodes: Vec<Node>,
    /// Distinguishes this image's inode numbers from another tree's (`metadata-hash`).
    pub(crate) device: u64,
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Image").field("nodes", &self.nodes.len()).finish_non_exhaustive()
    }
}

/// The parts of an archive path, checked: no absolute path, no `..`, names of usable length.
fn parts(path: &str) -> Result<Vec<&str>, ImageError> {
    let bad = |reason| ImageError::Path { path: path.to_string(), reason };
    if path.starts_with('/') {
        return Err(bad("an absolute path"));
    }
    if path.contains('\0') {
        return Err(bad("a NUL byte in the path"));
    }
    let parts: Vec<&str> = path.split('/').filter(|part| !part.is_empty() && *part != ".").collect();
    if parts.contains(&"..") {
        return Err(bad("`..` in the path"));
    }
    if parts.iter().any(|part| part.len() > MAX_NAME_LEN) {
        return Err(bad("a name longer than 255 bytes"));
    }
    Ok(parts)
}

impl Image {
    fn empty() -> Image {
        static NEXT_DEVICE: AtomicU64 = AtomicU64::new(1 << 32);
        let root = Node::Dir { entries: BTreeMap::new() };
        Image { nodes: vec![root], device: NEXT_DEVICE.fetch_add(1, Ordering::Relaxed) }
    }

    /// The folder `parts` (made with its parents when missing).
    fn dir(&mut self, parts: &[&str], path: &str) -> Result<ImageNode, ImageError> {
        let mut dir = ROOT;
        for part in parts {
            let next = self.nodes.len() as ImageNode;
            let Node::Dir { entries } = &mut self.nodes[dir as usize] else {
                return Err(ImageError::Path { path: path.to_string(), reason: "a file is used as a folder" });
            };
            dir = *entries.entry((*part).into()).or_insert(next);
            if dir == next {
                self.nodes.push(Node::Dir { entries: BTreeMap::new() });
            }
        }
        Ok(dir)
    }

    /// Adds the file `path` (a later file of the same path replaces an earlier one).
    pub(crate) fn add_file(&mut self, path: &str, data: Data) -> Result<(), ImageError> {
        let parts = parts(path)?;
        let Some((name, folders)) = parts.split_last() else {
            return Err(ImageError::Path { path: path.to_string(), reason: "a file needs a name" });
        };
        let dir = self.dir(folders, path)?;
        let node = self.nodes.len() as ImageNode;
        let Node::Dir { entries } = &mut self.nodes[dir as usize] else { unreachable!("`dir` returns folders") };
        match entries.get(*name).copied() {
            Some(existing) => match &mut self.nodes[existing as usize] {
                Node::File(old) => *old = data,
                Node::Dir { .. } => {
                    return Err(ImageError::Path { path: path.to_string(), reason: "a folder of that name exists" });
                }
            },
            None => {
                entries.insert((*name).into(), node);
                self.nodes.push(Node::File(data));
            }
        }
        Ok(())
    }

    /// An image of the regular files and folders of a tar archive that lives as long as the
    /// process (the binary's read-only data); files point into it, nothing is copied. Other
    /// entry kinds (symlinks, devices) are refused.
    pub(crate) fn from_tar(tar: &'static [u8]) -> Result<Image, ImageError> {
        let mut image = Image::empty();
        let mut archive = tar::Archive::new(std::io::Cursor::new(tar));
        for entry in archive.entries_with_seek()? {
            let entry = entry?;
            let path = entry.path()?;
            let path = path
                .to_str()
                .ok_or_else(|| ImageError::Path { path: path.display().to_string(), reason: "not UTF-8" })?
                .to_string();
            let kind = entry.header().entry_type();
            if kind.is_dir() {
                image.dir(&parts(&path)?, &path)?;
                continue;
            }
            if !kind.is_file() {
                return Err(ImageError::Path { path, reason: "only regular files and folders are supported" });
            }
            let start = usize::try_from(entry.raw_file_position()).ok();
            let end = start.zip(usize::try_from(entry.size()).ok()).and_then(|(start, len)| start.checked_add(len));
            let (Some(start), Some(end)) = (start, end.filter(|end| *end <= tar.len())) else {
                return Err(ImageError::Path { path, reason: "its bytes lie outside the archive" });
            };
            image.add_file(&path, Data::Ready(Bytes::from_static(&tar[start..end])))?;
        }
        Ok(image)
    }

    /// An image of the files that `index` lists (`offset size path` lines after a first line
    /// with the archive's length, as eryx-libs' build script writes them) in `archive`, which
    /// is made only when a file is read.
    pub(crate) fn from_index(index: &str, archive: &'static Deferred) -> Result<Image, ImageError> {
        let mut image = Image::empty();
        let malformed = |line: &str| ImageError::Path { path: line.to_string(), reason: "a malformed index line" };
        let mut lines = index.lines();
        let total: usize = lines.next().and_then(|line| line.parse().ok()).ok_or_else(|| malformed(""))?;
        for line in lines.filter(|line| !line.is_empty()) {
            let mut fields = line.splitn(3, ' ');
            let (Some(offset), Some(len), Some(path)) = (fields.next(), fields.next(), fields.next()) else {
                return Err(malformed(line));
            };
            let (Ok(offset), Ok(len)) = (offset.parse::<usize>(), len.parse::<usize>()) else {
                return Err(malformed(line));
            };
            if offset.checked_add(len).is_none_or(|end| end > total) {
                return Err(malformed(line));
            }
            image.add_file(path, Data::Deferred { archive, offset, len })?;
        }
        Ok(image)
    }

    fn node(&self, node: ImageNode) -> Result<&Node, ErrorCode> {
        self.nodes.get(usize::try_from(node).map_err(|_| ErrorCode::BadDescriptor)?).ok_or(ErrorCode::BadDescriptor)
    }

    /// Resolves `path` below the folder `base` (see the module docs for the rules).
    pub(crate) fn resolve(&self, base: ImageNode, path: &str) -> Result<ImageNode, ErrorCode> {
        check_relative_path(path)?;
        // The folders walked through from `base`: `..` pops one, never `base` itself.
        let mut stack = vec![base];
        for part in path.split('/') {
            let here = *stack.last().expect("the stack always holds base");
            let Node::Dir { entries } = self.node(here)? else { return Err(ErrorCode::NotDirectory) };
            match part {
                "" | "." => {}
                ".." if stack.len() == 1 => return Err(ErrorCode::NotPermitted),
                ".." => {
                    stack.pop();
                }
                name if name.len() > MAX_NAME_LEN => return Err(ErrorCode::NameTooLong),
                name => stack.push(*entries.get(name).ok_or(ErrorCode::NoEntry)?),
            }
        }
        let found = *stack.last().expect("the stack always holds base");
        if path.ends_with('/') && self.descriptor_type(found)? != DescriptorType::Directory {
            return Err(ErrorCode::NotDirectory);
        }
        Ok(found)
    }

    pub(crate) fn descriptor_type(&self, node: ImageNode) -> Result<DescriptorType, ErrorCode> {
        Ok(match self.node(node)? {
            Node::Dir { .. } => DescriptorType::Directory,
            Node::File(_) => DescriptorType::RegularFile,
        })
    }

    pub(crate) fn stat(&self, node: ImageNode) -> Result<DescriptorStat, ErrorCode> {
        let (type_, size) = match self.node(node)? {
            Node::Dir { entries } => (DescriptorType::Directory, entries.len() as u64),
            Node::File(data) => (DescriptorType::RegularFile, data.len() as u64),
        };
        Ok(DescriptorStat {
            type_,
            link_count: 1,
            size,
            data_access_timestamp: Some(FIXED_TIME),
            data_modification_timestamp: Some(FIXED_TIME),
            status_change_timestamp: Some(FIXED_TIME),
        })
    }

    pub(crate) fn read_dir(&self, node: ImageNode) -> Result<Vec<DirectoryEntry>, ErrorCode> {
        let Node::Dir { entries } = self.node(node)? else { return Err(ErrorCode::NotDirectory) };
        entries
            .iter()
            .map(|(name, child)| Ok(DirectoryEntry { type_: self.descriptor_type(*child)?, name: name.to_string() }))
            .collect()
    }

    /// The names in the root folder.
    pub(crate) fn top_level_names(&self) -> Vec<String> {
        self.read_dir(ROOT).unwrap_or_default().into_iter().map(|entry| entry.name).collect()
    }

    /// Up to `len` bytes of the file `node` from `offset` (none past its end).
    pub(crate) fn read(&self, node: ImageNode, offset: u64, len: u64) -> Result<Bytes, ErrorCode> {
        let data = match self.node(node)? {
            Node::File(data) => data,
            Node::Dir { .. } => return Err(ErrorCode::IsDirectory),
        };
        let size = data.len() as u64;
        if offset >= size || len == 0 {
            return Ok(Bytes::new());
        }
        let end = offset.saturating_add(len).min(size);
        Ok(data.bytes()?.slice(offset as usize..end as usize))
    }

    pub(crate) fn size(&self, node: ImageNode) -> Result<u64, ErrorCode> {
        match self.node(node)? {
            Node::File(data) => Ok(data.len() as u64),
            Node::Dir { .. } => Err(ErrorCode::IsDirectory),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(files: &[(&str, &[u8])]) -> &'static [u8] {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, bytes) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            builder.append_data(&mut header, path, *bytes).unwrap();
        }
        builder.into_inner().unwrap().leak()
    }

    #[test]
    fn files_resolve_under_capability_rules_and_read_without_copies() {
        let tar = tar_of(&[("pkg/__init__.py", b"X = 1\n"), ("pkg/sub/mod.py", b"Y = 2\n"), ("top.py", b"")]);
        let image = Image::from_tar(tar).unwrap();
        let pkg = image.resolve(ROOT, "pkg").unwrap();
        let init = image.resolve(pkg, "__init__.py").unwrap();
        assert_eq!(&image.read(init, 0, 100).unwrap()[..], b"X = 1\n");
        assert_eq!(&image.read(init, 2, 1).unwrap()[..], b"=");
        assert!(image.read(init, 6, 10).unwrap().is_empty(), "nothing past the end");
        assert_eq!(image.resolve(ROOT, "pkg/sub/../__init__.py").unwrap(), init);
        assert_eq!(image.resolve(pkg, "./sub/").unwrap(), image.resolve(ROOT, "pkg/sub").unwrap());
        assert_eq!(image.resolve(pkg, "..").unwrap_err(), ErrorCode::NotPermitted, "a descriptor is its own root");
        assert_eq!(image.resolve(ROOT, "..").unwrap_err(), ErrorCode::NotPermitted, "never above the root");
        assert_eq!(image.resolve(pkg, "../..").unwrap_err(), ErrorCode::NotPermitted);
        assert_eq!(image.resolve(ROOT, "/etc").unwrap_err(), ErrorCode::NotPermitted);
        assert_eq!(image.resolve(ROOT, "top.py/").unwrap_err(), ErrorCode::NotDirectory);
        assert_eq!(image.resolve(ROOT, "top.py/..").unwrap_err(), ErrorCode::NotDirectory);
        assert_eq!(image.resolve(ROOT, "missing").unwrap_err(), ErrorCode::NoEntry);
        let names: Vec<String> = image.read_dir(pkg).unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["__init__.py", "sub"]);
        assert_eq!(image.top_level_names(), ["pkg", "top.py"]);
        let stat = image.stat(init).unwrap();
        assert_eq!((stat.type_, stat.size), (DescriptorType::RegularFile, 6));
        assert_eq!(stat.data_modification_timestamp.map(|time| time.seconds), Some(FIXED_TIME.seconds));
    }

    #[test]
    fn unsafe_archive_paths_are_refused() {
        for path in ["../escape.py", "a/../../b.py"] {
            let mut header = tar::Header::new_gnu();
            header.set_size(0);
            header.set_entry_type(tar::EntryType::Regular);
            // `append_data` refuses `..` itself: write the name into the header directly.
            let name = &mut header.as_old_mut().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            header.set_cksum();
            let mut bytes = header.as_bytes().to_vec();
            bytes.extend([0; 1024]);
            let error = Image::from_tar(bytes.leak()).unwrap_err();
            assert!(matches!(error, ImageError::Path { .. }), "{path}: {error}");
        }
    }

    #[test]
    fn an_indexed_archive_is_made_only_when_a_file_is_read() {
        static MADE: AtomicU64 = AtomicU64::new(0);
        static ARCHIVE: Deferred = Deferred::new(|| {
            MADE.fetch_add(1, Ordering::SeqCst);
            b"hello world".to_vec()
        });
        let image = Image::from_index("11\n0 5 a/hello.py\n6 5 world.py\n", &ARCHIVE).unwrap();
        let hello = image.resolve(ROOT, "a/hello.py").unwrap();
        assert_eq!(image.stat(hello).unwrap().size, 5);
        assert_eq!(MADE.load(Ordering::SeqCst), 0, "listing and stat need no contents");
        assert_eq!(&image.read(hello, 0, 64).unwrap()[..], b"hello");
        let world = image.resolve(ROOT, "world.py").unwrap();
        assert_eq!(&image.read(world, 0, 64).unwrap()[..], b"world");
        assert_eq!(MADE.load(Ordering::SeqCst), 1, "made once");
        assert!(Image::from_index("11\n6 9 past-the-end.py\n", &ARCHIVE).is_err());
    }

    #[test]
    fn the_standard_library_index_lists_its_archive() {
        static STDLIB: Deferred = Deferred::new(eryx_libs::base::stdlib_tar);
        let image = Image::from_index(eryx_libs::base::STDLIB_INDEX, &STDLIB).unwrap();
        let os = image.resolve(ROOT, "os.py").unwrap();
        let source = image.read(os, 0, u64::MAX).unwrap();
        assert!(source.len() > 1000 && std::str::from_utf8(&source).unwrap().contains("def makedirs"));
        assert!(image.resolve(ROOT, "json/__init__.py").is_ok());
    }
}
