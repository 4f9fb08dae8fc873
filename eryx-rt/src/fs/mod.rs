//! Files for the guest: a private, bounded scratch space per sandbox, and host folders mounted
//! on request.
//!
//! # Layout seen by the guest
//!
//! | guest path | what | writable |
//! |---|---|---|
//! | `/tmp` | scratch (in memory) | yes |
//! | `/home/sandbox` | scratch (in memory), the working directory at start | yes |
//! | the standard library, `/site-packages` | host folders of eryx, or images in memory | no |
//! | mounts ([`SandboxBuilder::mount`](crate::SandboxBuilder::mount)) | host folders | read-only unless asked |
//!
//! # Why the scratch space is in memory, behind our own `wasi:filesystem`
//!
//! A host temporary folder preopened read-write (wasmtime-wasi's own implementation) would be
//! simple, but it cannot be bounded: every write goes straight to the host's disk, so a quota
//! would need a file system with quotas, and a crashed host would leave the folder behind. So
//! the scratch space is a [`tree::Tree`] in host memory and the guest reaches it through our
//! implementation of wasmtime-wasi's generated `wasi:filesystem/types` and `preopens` host
//! traits ([`wasi`], with [`wasi_async`] for wasmtime-wasi's async linker and its adapter
//! [`wasi_sync`] for the sync one), which replace wasmtime-wasi's in the linker. Every write is charged to the
//! quota before memory is taken (a refusal is `ENOSPC` in the guest, `OSError` in Python), and
//! the tree is freed with the sandbox's store: nothing reaches the host's disk.
//!
//! Descriptors that are not scratch (standard library, site-packages, mounts) are passed on to
//! wasmtime-wasi's implementation, so host folders keep its cap-std containment: `..`, absolute
//! paths and symlinks cannot leave the mounted folder. Renames and hard links between the
//! scratch space and a host folder fail with `EXDEV`, as across devices.
//!
//! A binary that carries its trees (eryx-build's `precompile` option) shows the standard library
//! and site-packages as [`image::Image`]s: read-only trees served from the bytes in memory, so
//! nothing is unpacked to disk (see that module for why).
//!
//! The host reads and writes the scratch space through [`Files`] (see
//! [`Sandbox::files`](crate::Sandbox::files)), before, between and after `execute` calls.

mod host;
mod image;
mod image_fd;
mod mount;
mod stream;
mod tree;
mod wasi;
mod wasi_async;
mod wasi_sync;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub use host::{FileEntry, FileKind, Files, FilesError};
pub(crate) use image::{Data, Deferred, Image, ImageError};
pub use mount::{Mount, MountError};
pub use tree::ScratchLimits;
pub(crate) use wasi::{FsHost, FsView, add_to_linker_async, add_to_linker_sync};

use tree::{NodeId, Tree};

/// Default cap on the bytes a sandbox's scratch space holds (file data plus names).
pub const DEFAULT_SCRATCH_BYTES: u64 = 64 << 20;
/// Default cap on the files, folders and symlinks in a sandbox's scratch space.
pub const DEFAULT_SCRATCH_ENTRIES: u64 = 10_000;

/// The scratch folder for temporary files (`tempfile.gettempdir()`).
pub const TMP_GUEST_DIR: &str = "/tmp";
/// The scratch folder that is the guest's working directory when it starts.
pub const HOME_GUEST_DIR: &str = "/home/sandbox";

/// One sandbox's scratch space: its tree and the folders preopened for the guest.
pub(crate) struct Scratch {
    tree: Arc<Mutex<Tree>>,
    preopens: Vec<(NodeId, String)>,
    /// Which host preopen (by its place in wasmtime-wasi's list) each live host descriptor
    /// comes from, so that renames and hard links between two mounts fail with `EXDEV` as
    /// between two mounted devices.
    host_origin: HashMap<u32, usize>,
    /// Images preopened for the guest, with their guest paths.
    images: Vec<(Arc<Image>, String)>,
}

/// A tree of Python files that eryx shows the guest read-only at one of its own guest paths.
#[derive(Clone, Debug)]
pub(crate) enum TreeAt {
    /// A host folder (unpacked in the cache folder), served by wasmtime-wasi.
    Host(PathBuf),
    /// An image served from memory.
    Image(Arc<Image>),
}

/// The standard library and the site-packages tree (if any) that a guest sees.
#[derive(Clone, Debug)]
pub(crate) struct Trees {
    pub(crate) stdlib: TreeAt,
    pub(crate) site: Option<TreeAt>,
}

impl Trees {
    /// Each tree with its guest path.
    pub(crate) fn with_guest_paths(&self) -> impl Iterator<Item = (&TreeAt, &'static str)> {
        [(Some(&self.stdlib), eryx_libs::STDLIB_GUEST_DIR), (self.site.as_ref(), eryx_libs::SITE_PACKAGES_GUEST_DIR)]
            .into_iter()
            .filter_map(|(tree, guest)| Some((tree?, guest)))
    }

    /// The names at the top of the site-packages tree (none without one).
    pub(crate) fn site_top_level_names(&self) -> Vec<String> {
        match &self.site {
            None => Vec::new(),
            Some(TreeAt::Image(image)) => image.top_level_names(),
            Some(TreeAt::Host(dir)) => std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|item| item.file_name().to_str().map(str::to_string))
                .collect(),
        }
    }
}

impl Scratch {
    /// A new, empty scratch space with `/tmp` and `/home/sandbox`.
    pub(crate) fn new(limits: ScratchLimits) -> Scratch {
        let device = {
            use std::sync::atomic::{AtomicU64, Ordering};
            static NEXT_DEVICE: AtomicU64 = AtomicU64::new(1);
            NEXT_DEVICE.fetch_add(1, Ordering::Relaxed)
        };
        let mut tree = Tree::new(limits, device);
        let preopens = [TMP_GUEST_DIR, HOME_GUEST_DIR]
            .into_iter()
            .map(|guest| (tree.builtin_dir(guest), guest.to_string()))
            .collect();
        Scratch { tree: Arc::new(Mutex::new(tree)), preopens, host_origin: HashMap::new(), images: Vec::new() }
    }

    /// Shows `image` to the guest at `guest` (a preopened folder).
    pub(crate) fn mount_image(&mut self, image: Arc<Image>, guest: &str) {
        self.images.push((image, guest.to_string()));
    }

    /// The host's handle on this scratch space (it does not keep the space alive).
    pub(crate) fn files(&self) -> Files {
        Files::new(Arc::downgrade(&self.tree), self.preopens.clone())
    }
}

/// For benchmarks: makes the scratch space a sandbox gets (as its creation does) and returns it
/// opaque; dropping it frees it. Not part of the API.
#[doc(hidden)]
pub fn bench_new_scratch(limits: ScratchLimits) -> impl Send {
    let scratch = Scratch::new(limits);
    let files = scratch.files();
    (scratch, files)
}
