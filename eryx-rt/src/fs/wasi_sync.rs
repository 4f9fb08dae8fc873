//! The synchronous `wasi:filesystem/types` bindings over [`FsView`], for wasmtime-wasi's sync
//! linker (pre-initialisation): a thin adapter over the asynchronous bindings of
//! [`super::wasi_async`], which hold the one implementation (scratch descriptors served from the
//! tree, the others passed on to wasmtime-wasi).
//!
//! Each call converts the sync bindings' types to the async ones and runs the async call to its
//! end with wasmtime-wasi's `in_tokio`, as wasmtime-wasi's own sync bindings do over its async
//! ones: host descriptors behave exactly as they did through wasmtime-wasi's sync bindings, and
//! scratch operations complete on their first poll. The calls that are not `async` in the
//! bindings (streams, drops, error codes) are passed on directly.

use wasmtime::component::Resource;
use wasmtime_wasi::p2::bindings::filesystem::types as at;
use wasmtime_wasi::p2::bindings::sync::filesystem::types as st;
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, FsError, FsResult};
use wasmtime_wasi::runtime::in_tokio;

use super::wasi::FsView;

type Descriptor = st::Descriptor;
type DirectoryEntryStream = st::DirectoryEntryStream;

impl st::Host for FsView<'_> {
    fn convert_error_code(&mut self, err: FsError) -> wasmtime::Result<st::ErrorCode> {
        Ok(at::Host::convert_error_code(self, err)?.into())
    }

    fn filesystem_error_code(&mut self, err: Resource<wasmtime::Error>) -> wasmtime::Result<Option<st::ErrorCode>> {
        Ok(at::Host::filesystem_error_code(self, err)?.map(Into::into))
    }
}

impl st::HostDescriptor for FsView<'_> {
    fn advise(&mut self, fd: Resource<Descriptor>, offset: u64, len: u64, advice: st::Advice) -> FsResult<()> {
        in_tokio(at::HostDescriptor::advise(self, fd, offset, len, advice.into()))
    }

    fn sync_data(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        in_tokio(at::HostDescriptor::sync_data(self, fd))
    }

    fn get_flags(&mut self, fd: Resource<Descriptor>) -> FsResult<st::DescriptorFlags> {
        Ok(in_tokio(at::HostDescriptor::get_flags(self, fd))?.into())
    }

    fn get_type(&mut self, fd: Resource<Descriptor>) -> FsResult<st::DescriptorType> {
        Ok(in_tokio(at::HostDescriptor::get_type(self, fd))?.into())
    }

    fn set_size(&mut self, fd: Resource<Descriptor>, size: u64) -> FsResult<()> {
        in_tokio(at::HostDescriptor::set_size(self, fd, size))
    }

    fn set_times(&mut self, fd: Resource<Descriptor>, atim: st::NewTimestamp, mtim: st::NewTimestamp) -> FsResult<()> {
        in_tokio(at::HostDescriptor::set_times(self, fd, atim.into(), mtim.into()))
    }

    fn read(&mut self, fd: Resource<Descriptor>, len: u64, offset: u64) -> FsResult<(Vec<u8>, bool)> {
        in_tokio(at::HostDescriptor::read(self, fd, len, offset))
    }

    fn write(&mut self, fd: Resource<Descriptor>, buf: Vec<u8>, offset: u64) -> FsResult<u64> {
        in_tokio(at::HostDescriptor::write(self, fd, buf, offset))
    }

    fn read_directory(&mut self, fd: Resource<Descriptor>) -> FsResult<Resource<DirectoryEntryStream>> {
        in_tokio(at::HostDescriptor::read_directory(self, fd))
    }

    fn sync(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        in_tokio(at::HostDescriptor::sync(self, fd))
    }

    fn create_directory_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        in_tokio(at::HostDescriptor::create_directory_at(self, fd, path))
    }

    fn stat(&mut self, fd: Resource<Descriptor>) -> FsResult<st::DescriptorStat> {
        Ok(in_tokio(at::HostDescriptor::stat(self, fd))?.into())
    }

    fn stat_at(
        &mut self,
        fd: Resource<Descriptor>,
        flags: st::PathFlags,
        path: String,
    ) -> FsResult<st::DescriptorStat> {
        Ok(in_tokio(at::HostDescriptor::stat_at(self, fd, flags.into(), path))?.into())
    }

    fn set_times_at(
        &mut self,
        fd: Resource<Descriptor>,
        flags: st::PathFlags,
        path: String,
        atim: st::NewTimestamp,
        mtim: st::NewTimestamp,
    ) -> FsResult<()> {
        in_tokio(at::HostDescriptor::set_times_at(self, fd, flags.into(), path, atim.into(), mtim.into()))
    }

    fn link_at(
        &mut self,
        fd: Resource<Descriptor>,
        old_flags: st::PathFlags,
        old_path: String,
        new_fd: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        in_tokio(at::HostDescriptor::link_at(self, fd, old_flags.into(), old_path, new_fd, new_path))
    }

    fn open_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: st::PathFlags,
        path: String,
        oflags: st::OpenFlags,
        flags: st::DescriptorFlags,
    ) -> FsResult<Resource<Descriptor>> {
        in_tokio(at::HostDescriptor::open_at(self, fd, path_flags.into(), path, oflags.into(), flags.into()))
    }

    fn drop(&mut self, fd: Resource<Descriptor>) -> wasmtime::Result<()> {
        at::HostDescriptor::drop(self, fd)
    }

    fn readlink_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<String> {
        in_tokio(at::HostDescriptor::readlink_at(self, fd, path))
    }

    fn remove_directory_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        in_tokio(at::HostDescriptor::remove_directory_at(self, fd, path))
    }

    fn rename_at(
        &mut self,
        fd: Resource<Descriptor>,
        old_path: String,
        new_fd: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        in_tokio(at::HostDescriptor::rename_at(self, fd, old_path, new_fd, new_path))
    }

    fn symlink_at(&mut self, fd: Resource<Descriptor>, target: String, path: String) -> FsResult<()> {
        in_tokio(at::HostDescriptor::symlink_at(self, fd, target, path))
    }

    fn unlink_file_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        in_tokio(at::HostDescriptor::unlink_file_at(self, fd, path))
    }

    fn read_via_stream(&mut self, fd: Resource<Descriptor>, offset: u64) -> FsResult<Resource<DynInputStream>> {
        at::HostDescriptor::read_via_stream(self, fd, offset)
    }

    fn write_via_stream(&mut self, fd: Resource<Descriptor>, offset: u64) -> FsResult<Resource<DynOutputStream>> {
        at::HostDescriptor::write_via_stream(self, fd, offset)
    }

    fn append_via_stream(&mut self, fd: Resource<Descriptor>) -> FsResult<Resource<DynOutputStream>> {
        at::HostDescriptor::append_via_stream(self, fd)
    }

    fn is_same_object(&mut self, a: Resource<Descriptor>, b: Resource<Descriptor>) -> wasmtime::Result<bool> {
        in_tokio(at::HostDescriptor::is_same_object(self, a, b))
    }

    fn metadata_hash(&mut self, fd: Resource<Descriptor>) -> FsResult<st::MetadataHashValue> {
        Ok(in_tokio(at::HostDescriptor::metadata_hash(self, fd))?.into())
    }

    fn metadata_hash_at(
        &mut self,
        fd: Resource<Descriptor>,
        flags: st::PathFlags,
        path: String,
    ) -> FsResult<st::MetadataHashValue> {
        Ok(in_tokio(at::HostDescriptor::metadata_hash_at(self, fd, flags.into(), path))?.into())
    }
}

impl st::HostDirectoryEntryStream for FsView<'_> {
    fn read_directory_entry(&mut self, stream: Resource<DirectoryEntryStream>) -> FsResult<Option<st::DirectoryEntry>> {
        Ok(in_tokio(at::HostDirectoryEntryStream::read_directory_entry(self, stream))?.map(Into::into))
    }

    fn drop(&mut self, stream: Resource<DirectoryEntryStream>) -> wasmtime::Result<()> {
        at::HostDirectoryEntryStream::drop(self, stream)
    }
}
