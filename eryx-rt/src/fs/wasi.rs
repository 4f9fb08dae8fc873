//! The guest's `wasi:filesystem`: scratch-space descriptors served from the
//! in-memory [`Tree`], image descriptors (a standard library or site-packages tree served from
//! memory, read-only: `super::image`) from their [`Image`](super::image::Image), every other descriptor (standard
//! library, site-packages, host mounts) handed on to wasmtime-wasi's own implementation
//! (cap-std, contained in its preopen).
//!
//! The kinds share the one `descriptor` resource type of the WIT world: a scratch descriptor is
//! a [`MemDescriptor`] in the store's resource table under the handle the guest holds, an image
//! descriptor an [`ImageFd`], a host descriptor wasmtime-wasi's `Descriptor`; each call looks at
//! which one the handle names ([`FsView::which`]).
//! The calls are implemented once, for the async bindings ([`super::wasi_async`]); the sync
//! bindings of pre-initialisation adapt them ([`super::wasi_sync`]).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::filesystem::WasiFilesystemCtxView;
use wasmtime_wasi::p2::bindings::filesystem::preopens;
use wasmtime_wasi::p2::bindings::filesystem::types as at;
use wasmtime_wasi::p2::bindings::sync::filesystem::types as st;
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, FsError, FsResult};

use super::Scratch;
use super::image_fd::ImageFd;
use super::stream::{FileReader, FileWriter, ImageReader, StreamFsError, WriteAt};
use super::tree::{NodeId, OpenRequest, Tree};

type Descriptor = at::Descriptor;

/// What the filesystem host functions see of a store's state.
pub(crate) struct FsView<'a> {
    /// wasmtime-wasi's file-system context and the store's resource table.
    pub(crate) wasi: WasiFilesystemCtxView<'a>,
    /// This store's scratch space.
    pub(crate) scratch: &'a mut Scratch,
}

/// A store state that has a scratch space beside its WASI context.
pub(crate) trait FsHost: Send + 'static {
    /// Splits the state into the parts the file-system functions need.
    fn fs(&mut self) -> FsView<'_>;
}

/// [`HasData`] marker for [`FsView`].
pub(crate) struct ScratchFs;

impl HasData for ScratchFs {
    type Data<'a> = FsView<'a>;
}

/// Replaces `wasi:filesystem/{types,preopens}` in `linker`, which holds wasmtime-wasi's
/// synchronous interfaces (`add_to_linker_sync`), with the scratch-aware ones.
pub(crate) fn add_to_linker_sync<T: FsHost>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    st::add_to_linker::<T, ScratchFs>(linker, T::fs)?;
    preopens::add_to_linker::<T, ScratchFs>(linker, T::fs)?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Replaces `wasi:filesystem/{types,preopens}` in `linker`, which holds wasmtime-wasi's
/// asynchronous interfaces (`add_to_linker_async`, a store with async support), with the
/// scratch-aware ones. Host folders are then served by wasmtime-wasi's async implementation.
pub(crate) fn add_to_linker_async<T: FsHost>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    at::add_to_linker::<T, ScratchFs>(linker, T::fs)?;
    preopens::add_to_linker::<T, ScratchFs>(linker, T::fs)?;
    linker.allow_shadowing(false);
    Ok(())
}

/// A guest descriptor of a scratch-space file or folder.
pub(crate) struct MemDescriptor {
    pub(super) tree: Arc<Mutex<Tree>>,
    node: NodeId,
    flags: at::DescriptorFlags,
}

impl MemDescriptor {
    pub(crate) fn new(tree: Arc<Mutex<Tree>>, node: NodeId, flags: at::DescriptorFlags) -> MemDescriptor {
        lock(&tree).retain(node);
        MemDescriptor { tree, node, flags }
    }
}

impl Drop for MemDescriptor {
    fn drop(&mut self) {
        lock(&self.tree).release(self.node);
    }
}

/// The entries of a scratch folder, listed when `read-directory` was called.
struct MemEntries(VecDeque<at::DirectoryEntry>);

fn lock(tree: &Mutex<Tree>) -> MutexGuard<'_, Tree> {
    tree.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A scratch descriptor's parts, copied out of the table for one call.
pub(super) struct Mem {
    tree: Arc<Mutex<Tree>>,
    pub(super) node: NodeId,
    pub(super) flags: at::DescriptorFlags,
}

impl Mem {
    /// The tree, locked for the rest of this call.
    pub(super) fn tree(&self) -> MutexGuard<'_, Tree> {
        lock(&self.tree)
    }

    /// Refuses with `BadDescriptor` unless the descriptor was opened with `flag`.
    pub(super) fn need(&self, flag: at::DescriptorFlags) -> Result<(), at::ErrorCode> {
        if self.flags.contains(flag) { Ok(()) } else { Err(at::ErrorCode::BadDescriptor) }
    }

    /// Whether both descriptors are the same node of the same tree.
    pub(super) fn same(&self, other: &Mem) -> bool {
        Arc::ptr_eq(&self.tree, &other.tree) && self.node == other.node
    }

    pub(super) fn hash(&self, node: NodeId) -> at::MetadataHashValue {
        at::MetadataHashValue { lower: node, upper: self.tree().device }
    }

    /// Resolves `path` below this folder to an existing node.
    pub(super) fn find(&self, path: &str, follow: bool) -> Result<NodeId, at::ErrorCode> {
        self.tree().resolve(self.node, path, follow)?.node.ok_or(at::ErrorCode::NoEntry)
    }

    pub(super) fn read(&self, len: u64, offset: u64) -> Result<(Vec<u8>, bool), at::ErrorCode> {
        self.need(at::DescriptorFlags::READ)?;
        let mut tree = self.tree();
        let bytes = tree.read(self.node, offset, len)?;
        let end = offset.saturating_add(bytes.len() as u64) >= tree.size(self.node)?;
        Ok((bytes, end))
    }

    pub(super) fn write(&self, bytes: &[u8], offset: u64) -> Result<u64, at::ErrorCode> {
        self.need(at::DescriptorFlags::WRITE)?;
        self.tree().write(self.node, offset, bytes)
    }

    pub(super) fn set_size(&self, size: u64) -> Result<(), at::ErrorCode> {
        self.need(at::DescriptorFlags::WRITE)?;
        self.tree().set_size(self.node, size)
    }
}

/// Which kind of descriptor a handle names.
pub(super) enum Fd {
    /// A scratch-space descriptor.
    Mem(Mem),
    /// A descriptor of an image node.
    Image(ImageFd),
    /// wasmtime-wasi's (a host folder or file).
    Host,
}

/// Puts a scratch object in the table and returns it as the guest's resource type.
fn push_as<G: 'static, T: Send + 'static>(table: &mut ResourceTable, value: T) -> FsResult<Resource<G>> {
    let own = table.push(value)?;
    Ok(Resource::new_own(own.rep()))
}

/// `open-at` flags in the tree's terms.
pub(super) fn open_request(oflags: at::OpenFlags, flags: at::DescriptorFlags) -> OpenRequest {
    OpenRequest {
        create: oflags.contains(at::OpenFlags::CREATE),
        exclusive: oflags.contains(at::OpenFlags::EXCLUSIVE),
        truncate: oflags.contains(at::OpenFlags::TRUNCATE),
        directory: oflags.contains(at::OpenFlags::DIRECTORY),
        write: flags.contains(at::DescriptorFlags::WRITE),
    }
}

fn to_trap(error: FsError) -> wasmtime::Error {
    wasmtime::Error::msg(error.to_string())
}

/// The scratch-space side of every call of the bindings: each returns
/// `None` (or `Ok(None)`) when the handle is not a scratch one and the call goes to wasmtime-wasi.
impl FsView<'_> {
    /// Which kind of descriptor `fd` is.
    pub(super) fn which<R: 'static>(&mut self, fd: &Resource<R>) -> Result<Fd, FsError> {
        let entry = self.wasi.table.get_any_mut(fd.rep())?;
        if let Some(d) = entry.downcast_ref::<MemDescriptor>() {
            return Ok(Fd::Mem(Mem { tree: d.tree.clone(), node: d.node, flags: d.flags }));
        }
        Ok(entry.downcast_ref::<ImageFd>().map_or(Fd::Host, |image| Fd::Image(image.clone())))
    }

    /// Pushes a new image descriptor.
    pub(super) fn image_descriptor<R: 'static>(&mut self, image: ImageFd) -> FsResult<Resource<R>> {
        push_as(self.wasi.table, image)
    }

    /// Lists an image folder into a new directory-entry stream.
    pub(super) fn image_entries<R: 'static>(&mut self, image: &ImageFd) -> FsResult<Resource<R>> {
        let entries = image.entries()?;
        push_as(self.wasi.table, MemEntries(entries.into()))
    }

    /// A stream reading the image file `image` from `offset`.
    pub(super) fn image_reader(&mut self, image: &ImageFd, offset: u64) -> FsResult<Resource<DynInputStream>> {
        if image.is_dir()? {
            return Err(at::ErrorCode::IsDirectory.into());
        }
        let reader: DynInputStream = Box::new(ImageReader::new(image.image.clone(), image.node, offset));
        Ok(self.wasi.table.push(reader)?)
    }

    /// Pushes a new scratch descriptor for `node`.
    fn descriptor<R: 'static>(
        &mut self,
        tree: Arc<Mutex<Tree>>,
        node: NodeId,
        flags: at::DescriptorFlags,
    ) -> FsResult<Resource<R>> {
        push_as(self.wasi.table, MemDescriptor::new(tree, node, flags))
    }

    /// Opens `path` below the scratch folder `mem`.
    pub(super) fn open<R: 'static>(
        &mut self,
        mem: &Mem,
        follow: bool,
        path: &str,
        request: OpenRequest,
        flags: at::DescriptorFlags,
    ) -> FsResult<Resource<R>> {
        let (node, is_dir) = {
            let mut tree = mem.tree();
            let node = tree.open(mem.node, path, follow, request)?;
            (node, tree.descriptor_type(node)? == at::DescriptorType::Directory)
        };
        let flags = if is_dir { flags | at::DescriptorFlags::MUTATE_DIRECTORY } else { flags };
        self.descriptor(mem.tree.clone(), node, flags)
    }

    /// Lists a scratch folder into a new directory-entry stream.
    pub(super) fn entries<R: 'static>(&mut self, mem: &Mem) -> FsResult<Resource<R>> {
        let entries = mem.tree().read_dir(mem.node)?;
        push_as(self.wasi.table, MemEntries(entries.into()))
    }

    /// The next entry of a scratch directory-entry stream; `None` if `stream` is not one.
    pub(super) fn next_entry<R: 'static>(
        &mut self,
        stream: &Resource<R>,
    ) -> FsResult<Option<Option<at::DirectoryEntry>>> {
        Ok(self.wasi.table.get_any_mut(stream.rep())?.downcast_mut::<MemEntries>().map(|entries| entries.0.pop_front()))
    }

    /// Drops a scratch directory-entry stream; false if `stream` is not one.
    pub(super) fn drop_entries<R: 'static>(&mut self, stream: &Resource<R>) -> wasmtime::Result<bool> {
        if !self.wasi.table.get_any_mut(stream.rep())?.is::<MemEntries>() {
            return Ok(false);
        }
        self.wasi.table.delete(Resource::<MemEntries>::new_own(stream.rep()))?;
        Ok(true)
    }

    /// Drops a scratch or image descriptor; false if `fd` is neither.
    pub(super) fn drop_descriptor<R: 'static>(&mut self, fd: &Resource<R>) -> wasmtime::Result<bool> {
        match self.which(fd).map_err(to_trap)? {
            Fd::Mem(_) => drop(self.wasi.table.delete(Resource::<MemDescriptor>::new_own(fd.rep()))?),
            Fd::Image(_) => drop(self.wasi.table.delete(Resource::<ImageFd>::new_own(fd.rep()))?),
            Fd::Host => return Ok(false),
        }
        Ok(true)
    }

    /// A stream reading the scratch file `mem` from `offset`.
    pub(super) fn reader(&mut self, mem: &Mem, offset: u64) -> FsResult<Resource<DynInputStream>> {
        if mem.tree().descriptor_type(mem.node)? == at::DescriptorType::Directory {
            return Err(at::ErrorCode::IsDirectory.into());
        }
        mem.need(at::DescriptorFlags::READ)?;
        let reader: DynInputStream = Box::new(FileReader::new(mem.tree.clone(), mem.node, offset));
        Ok(self.wasi.table.push(reader)?)
    }

    /// A stream writing the scratch file `mem` at `at`.
    pub(super) fn writer(&mut self, mem: &Mem, at: WriteAt) -> FsResult<Resource<DynOutputStream>> {
        if mem.tree().descriptor_type(mem.node)? == at::DescriptorType::Directory {
            return Err(at::ErrorCode::IsDirectory.into());
        }
        mem.need(at::DescriptorFlags::WRITE)?;
        let writer: DynOutputStream = Box::new(FileWriter::new(mem.tree.clone(), mem.node, at));
        Ok(self.wasi.table.push(writer)?)
    }

    /// The file-system error a scratch stream failed with, if `error` is one.
    pub(super) fn stream_error(
        &mut self,
        error: &Resource<wasmtime::Error>,
    ) -> wasmtime::Result<Option<at::ErrorCode>> {
        Ok(self.wasi.table.get(error)?.downcast_ref::<StreamFsError>().map(|StreamFsError(code)| *code))
    }

    /// Records that the host descriptor `opened` was opened below the host descriptor `from`.
    pub(super) fn opened_below<R>(&mut self, from: u32, opened: &Resource<R>) {
        if let Some(&origin) = self.scratch.host_origin.get(&from) {
            self.scratch.host_origin.insert(opened.rep(), origin);
        }
    }

    /// Forgets a host descriptor that the guest dropped.
    pub(super) fn forget_host<R>(&mut self, fd: &Resource<R>) {
        self.scratch.host_origin.remove(&fd.rep());
    }

    /// Whether two host descriptors come from the same host preopen (else `EXDEV`).
    pub(super) fn same_host_origin<R>(&self, a: &Resource<R>, b: &Resource<R>) -> Result<(), at::ErrorCode> {
        match (self.scratch.host_origin.get(&a.rep()), self.scratch.host_origin.get(&b.rep())) {
            (Some(a), Some(b)) if a == b => Ok(()),
            _ => Err(at::ErrorCode::CrossDevice),
        }
    }

    /// The scratch space's preopened folders, as new descriptors with their guest paths.
    fn scratch_preopens(&mut self) -> FsResult<Vec<(Resource<Descriptor>, String)>> {
        let tree = self.scratch.tree.clone();
        let flags = at::DescriptorFlags::READ | at::DescriptorFlags::MUTATE_DIRECTORY;
        let mut dirs = Vec::new();
        for (node, guest) in self.scratch.preopens.clone() {
            dirs.push((self.descriptor(tree.clone(), node, flags)?, guest));
        }
        Ok(dirs)
    }
}

impl preopens::Host for FsView<'_> {
    fn get_directories(&mut self) -> wasmtime::Result<Vec<(Resource<Descriptor>, String)>> {
        let mut dirs = preopens::Host::get_directories(&mut self.wasi)?;
        for (index, (dir, _)) in dirs.iter().enumerate() {
            self.scratch.host_origin.insert(dir.rep(), index);
        }
        dirs.extend(self.scratch_preopens().map_err(to_trap)?);
        for (image, guest) in self.scratch.images.clone() {
            dirs.push((self.image_descriptor(ImageFd::root(image)).map_err(to_trap)?, guest));
        }
        Ok(dirs)
    }
}
