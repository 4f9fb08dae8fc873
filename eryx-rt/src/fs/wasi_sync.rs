//! The synchronous `wasi:filesystem/types` bindings over [`FsView`], for wasmtime-wasi's sync
//! linker: scratch descriptors are served from the tree, the others passed on to wasmtime-wasi's
//! sync implementation. [`super::wasi_async`] is the same for the async linker.

use wasmtime::component::Resource;
use wasmtime_wasi::p2::bindings::filesystem::types as at;
use wasmtime_wasi::p2::bindings::sync::filesystem::types as st;
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, FsError, FsResult};

use super::stream::WriteAt;
use super::wasi::{FsView, open_request};

type Descriptor = st::Descriptor;
type DirectoryEntryStream = st::DirectoryEntryStream;

fn follow(flags: st::PathFlags) -> bool {
    flags.contains(st::PathFlags::SYMLINK_FOLLOW)
}

impl st::Host for FsView<'_> {
    fn convert_error_code(&mut self, err: FsError) -> wasmtime::Result<st::ErrorCode> {
        st::Host::convert_error_code(&mut self.wasi, err)
    }

    fn filesystem_error_code(&mut self, err: Resource<wasmtime::Error>) -> wasmtime::Result<Option<st::ErrorCode>> {
        match self.stream_error(&err)? {
            Some(code) => Ok(Some(code.into())),
            None => st::Host::filesystem_error_code(&mut self.wasi, err),
        }
    }
}

impl st::HostDescriptor for FsView<'_> {
    fn advise(&mut self, fd: Resource<Descriptor>, offset: u64, len: u64, advice: st::Advice) -> FsResult<()> {
        match self.mem(&fd)? {
            Some(_) => Ok(()),
            None => st::HostDescriptor::advise(&mut self.wasi, fd, offset, len, advice),
        }
    }

    fn sync_data(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        match self.mem(&fd)? {
            Some(_) => Ok(()),
            None => st::HostDescriptor::sync_data(&mut self.wasi, fd),
        }
    }

    fn get_flags(&mut self, fd: Resource<Descriptor>) -> FsResult<st::DescriptorFlags> {
        match self.mem(&fd)? {
            Some(mem) => Ok(mem.flags.into()),
            None => st::HostDescriptor::get_flags(&mut self.wasi, fd),
        }
    }

    fn get_type(&mut self, fd: Resource<Descriptor>) -> FsResult<st::DescriptorType> {
        match self.mem(&fd)? {
            Some(mem) => Ok(mem.tree().descriptor_type(mem.node)?.into()),
            None => st::HostDescriptor::get_type(&mut self.wasi, fd),
        }
    }

    fn set_size(&mut self, fd: Resource<Descriptor>, size: u64) -> FsResult<()> {
        match self.mem(&fd)? {
            Some(mem) => Ok(mem.set_size(size)?),
            None => st::HostDescriptor::set_size(&mut self.wasi, fd, size),
        }
    }

    fn set_times(&mut self, fd: Resource<Descriptor>, atim: st::NewTimestamp, mtim: st::NewTimestamp) -> FsResult<()> {
        match self.mem(&fd)? {
            Some(mem) => Ok(mem.tree().set_times(mem.node, atim.into(), mtim.into())?),
            None => st::HostDescriptor::set_times(&mut self.wasi, fd, atim, mtim),
        }
    }

    fn read(&mut self, fd: Resource<Descriptor>, len: u64, offset: u64) -> FsResult<(Vec<u8>, bool)> {
        match self.mem(&fd)? {
            Some(mem) => Ok(mem.read(len, offset)?),
            None => st::HostDescriptor::read(&mut self.wasi, fd, len, offset),
        }
    }

    fn write(&mut self, fd: Resource<Descriptor>, buf: Vec<u8>, offset: u64) -> FsResult<u64> {
        match self.mem(&fd)? {
            Some(mem) => Ok(mem.write(&buf, offset)?),
            None => st::HostDescriptor::write(&mut self.wasi, fd, buf, offset),
        }
    }

    fn read_directory(&mut self, fd: Resource<Descriptor>) -> FsResult<Resource<DirectoryEntryStream>> {
        match self.mem(&fd)? {
            Some(mem) => self.entries(&mem),
            None => st::HostDescriptor::read_directory(&mut self.wasi, fd),
        }
    }

    fn sync(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        match self.mem(&fd)? {
            Some(_) => Ok(()),
            None => st::HostDescriptor::sync(&mut self.wasi, fd),
        }
    }

    fn create_directory_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        match self.mem(&fd)? {
            Some(mem) => Ok(mem.tree().mkdir(mem.node, &path).map(drop)?),
            None => st::HostDescriptor::create_directory_at(&mut self.wasi, fd, path),
        }
    }

    fn stat(&mut self, fd: Resource<Descriptor>) -> FsResult<st::DescriptorStat> {
        match self.mem(&fd)? {
            Some(mem) => Ok(mem.tree().stat(mem.node)?.into()),
            None => st::HostDescriptor::stat(&mut self.wasi, fd),
        }
    }

    fn stat_at(
        &mut self,
        fd: Resource<Descriptor>,
        flags: st::PathFlags,
        path: String,
    ) -> FsResult<st::DescriptorStat> {
        match self.mem(&fd)? {
            Some(mem) => {
                let node = mem.find(&path, follow(flags))?;
                Ok(mem.tree().stat(node)?.into())
            }
            None => st::HostDescriptor::stat_at(&mut self.wasi, fd, flags, path),
        }
    }

    fn set_times_at(
        &mut self,
        fd: Resource<Descriptor>,
        flags: st::PathFlags,
        path: String,
        atim: st::NewTimestamp,
        mtim: st::NewTimestamp,
    ) -> FsResult<()> {
        match self.mem(&fd)? {
            Some(mem) => {
                let node = mem.find(&path, follow(flags))?;
                Ok(mem.tree().set_times(node, atim.into(), mtim.into())?)
            }
            None => st::HostDescriptor::set_times_at(&mut self.wasi, fd, flags, path, atim, mtim),
        }
    }

    fn link_at(
        &mut self,
        fd: Resource<Descriptor>,
        old_flags: st::PathFlags,
        old_path: String,
        new_fd: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        match (self.mem(&fd)?, self.mem(&new_fd)?) {
            (Some(from), Some(to)) => Ok(from.tree().hard_link(from.node, &old_path, to.node, &new_path)?),
            (None, None) => {
                self.same_host_origin(&fd, &new_fd)?;
                st::HostDescriptor::link_at(&mut self.wasi, fd, old_flags, old_path, new_fd, new_path)
            }
            _ => Err(at::ErrorCode::CrossDevice.into()),
        }
    }

    fn open_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: st::PathFlags,
        path: String,
        oflags: st::OpenFlags,
        flags: st::DescriptorFlags,
    ) -> FsResult<Resource<Descriptor>> {
        match self.mem(&fd)? {
            Some(mem) => {
                let flags: at::DescriptorFlags = flags.into();
                self.open(&mem, follow(path_flags), &path, open_request(oflags.into(), flags), flags)
            }
            None => {
                let from = fd.rep();
                let opened = st::HostDescriptor::open_at(&mut self.wasi, fd, path_flags, path, oflags, flags)?;
                self.opened_below(from, &opened);
                Ok(opened)
            }
        }
    }

    fn drop(&mut self, fd: Resource<Descriptor>) -> wasmtime::Result<()> {
        if self.drop_descriptor(&fd)? {
            return Ok(());
        }
        self.forget_host(&fd);
        st::HostDescriptor::drop(&mut self.wasi, fd)
    }

    fn readlink_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<String> {
        match self.mem(&fd)? {
            Some(mem) => Ok(mem.tree().readlink(mem.node, &path)?),
            None => st::HostDescriptor::readlink_at(&mut self.wasi, fd, path),
        }
    }

    fn remove_directory_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        match self.mem(&fd)? {
            Some(mem) => Ok(mem.tree().rmdir(mem.node, &path)?),
            None => st::HostDescriptor::remove_directory_at(&mut self.wasi, fd, path),
        }
    }

    fn rename_at(
        &mut self,
        fd: Resource<Descriptor>,
        old_path: String,
        new_fd: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        match (self.mem(&fd)?, self.mem(&new_fd)?) {
            (Some(from), Some(to)) => Ok(from.tree().rename(from.node, &old_path, to.node, &new_path)?),
            (None, None) => {
                self.same_host_origin(&fd, &new_fd)?;
                st::HostDescriptor::rename_at(&mut self.wasi, fd, old_path, new_fd, new_path)
            }
            _ => Err(at::ErrorCode::CrossDevice.into()),
        }
    }

    fn symlink_at(&mut self, fd: Resource<Descriptor>, target: String, path: String) -> FsResult<()> {
        match self.mem(&fd)? {
            Some(mem) => Ok(mem.tree().symlink(mem.node, &target, &path)?),
            None => st::HostDescriptor::symlink_at(&mut self.wasi, fd, target, path),
        }
    }

    fn unlink_file_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        match self.mem(&fd)? {
            Some(mem) => Ok(mem.tree().unlink_file(mem.node, &path)?),
            None => st::HostDescriptor::unlink_file_at(&mut self.wasi, fd, path),
        }
    }

    fn read_via_stream(&mut self, fd: Resource<Descriptor>, offset: u64) -> FsResult<Resource<DynInputStream>> {
        match self.mem(&fd)? {
            Some(mem) => self.reader(&mem, offset),
            None => st::HostDescriptor::read_via_stream(&mut self.wasi, fd, offset),
        }
    }

    fn write_via_stream(&mut self, fd: Resource<Descriptor>, offset: u64) -> FsResult<Resource<DynOutputStream>> {
        match self.mem(&fd)? {
            Some(mem) => self.writer(&mem, WriteAt::Offset(offset)),
            None => st::HostDescriptor::write_via_stream(&mut self.wasi, fd, offset),
        }
    }

    fn append_via_stream(&mut self, fd: Resource<Descriptor>) -> FsResult<Resource<DynOutputStream>> {
        match self.mem(&fd)? {
            Some(mem) => self.writer(&mem, WriteAt::End),
            None => st::HostDescriptor::append_via_stream(&mut self.wasi, fd),
        }
    }

    fn is_same_object(&mut self, a: Resource<Descriptor>, b: Resource<Descriptor>) -> wasmtime::Result<bool> {
        let trap = |e: FsError| wasmtime::Error::msg(e.to_string());
        match (self.mem(&a).map_err(trap)?, self.mem(&b).map_err(trap)?) {
            (Some(a), Some(b)) => Ok(a.same(&b)),
            (None, None) => st::HostDescriptor::is_same_object(&mut self.wasi, a, b),
            _ => Ok(false),
        }
    }

    fn metadata_hash(&mut self, fd: Resource<Descriptor>) -> FsResult<st::MetadataHashValue> {
        match self.mem(&fd)? {
            Some(mem) => Ok(mem.hash(mem.node).into()),
            None => st::HostDescriptor::metadata_hash(&mut self.wasi, fd),
        }
    }

    fn metadata_hash_at(
        &mut self,
        fd: Resource<Descriptor>,
        flags: st::PathFlags,
        path: String,
    ) -> FsResult<st::MetadataHashValue> {
        match self.mem(&fd)? {
            Some(mem) => {
                let node = mem.find(&path, follow(flags))?;
                Ok(mem.hash(node).into())
            }
            None => st::HostDescriptor::metadata_hash_at(&mut self.wasi, fd, flags, path),
        }
    }
}

impl st::HostDirectoryEntryStream for FsView<'_> {
    fn read_directory_entry(&mut self, stream: Resource<DirectoryEntryStream>) -> FsResult<Option<st::DirectoryEntry>> {
        match self.next_entry(&stream)? {
            Some(entry) => Ok(entry.map(Into::into)),
            None => st::HostDirectoryEntryStream::read_directory_entry(&mut self.wasi, stream),
        }
    }

    fn drop(&mut self, stream: Resource<DirectoryEntryStream>) -> wasmtime::Result<()> {
        if self.drop_entries(&stream)? {
            return Ok(());
        }
        st::HostDirectoryEntryStream::drop(&mut self.wasi, stream)
    }
}
