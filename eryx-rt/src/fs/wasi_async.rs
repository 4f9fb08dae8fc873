//! The asynchronous `wasi:filesystem/types` bindings over [`FsView`], for wasmtime-wasi's async
//! linker (a store with async support): scratch descriptors are served from the tree, the others
//! passed on to wasmtime-wasi's async implementation (its sync one would block inside the
//! runtime). Scratch operations never wait, so their `async fn`s complete on first poll.
//! [`super::wasi_sync`] adapts these to the sync linker: this is the one implementation.

use wasmtime::component::Resource;
use wasmtime_wasi::p2::bindings::filesystem::types as at;
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, FsError, FsResult};

use super::stream::WriteAt;
use super::wasi::{FsView, open_request};

type Descriptor = at::Descriptor;
type DirectoryEntryStream = at::DirectoryEntryStream;

fn follow(flags: at::PathFlags) -> bool {
    flags.contains(at::PathFlags::SYMLINK_FOLLOW)
}

impl at::Host for FsView<'_> {
    fn convert_error_code(&mut self, err: FsError) -> wasmtime::Result<at::ErrorCode> {
        at::Host::convert_error_code(&mut self.wasi, err)
    }

    fn filesystem_error_code(&mut self, err: Resource<wasmtime::Error>) -> wasmtime::Result<Option<at::ErrorCode>> {
        match self.stream_error(&err)? {
            Some(code) => Ok(Some(code)),
            None => at::Host::filesystem_error_code(&mut self.wasi, err),
        }
    }
}

impl at::HostDescriptor for FsView<'_> {
    async fn advise(&mut self, fd: Resource<Descriptor>, offset: u64, len: u64, advice: at::Advice) -> FsResult<()> {
        match self.mem(&fd)? {
            Some(_) => Ok(()),
            None => at::HostDescriptor::advise(&mut self.wasi, fd, offset, len, advice).await,
        }
    }

    async fn sync_data(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        match self.mem(&fd)? {
            Some(_) => Ok(()),
            None => at::HostDescriptor::sync_data(&mut self.wasi, fd).await,
        }
    }

    async fn get_flags(&mut self, fd: Resource<Descriptor>) -> FsResult<at::DescriptorFlags> {
        match self.mem(&fd)? {
            Some(mem) => Ok(mem.flags),
            None => at::HostDescriptor::get_flags(&mut self.wasi, fd).await,
        }
    }

    async fn get_type(&mut self, fd: Resource<Descriptor>) -> FsResult<at::DescriptorType> {
        match self.mem(&fd)? {
            Some(mem) => Ok(mem.tree().descriptor_type(mem.node)?),
            None => at::HostDescriptor::get_type(&mut self.wasi, fd).await,
        }
    }

    async fn set_size(&mut self, fd: Resource<Descriptor>, size: u64) -> FsResult<()> {
        match self.mem(&fd)? {
            Some(mem) => Ok(mem.set_size(size)?),
            None => at::HostDescriptor::set_size(&mut self.wasi, fd, size).await,
        }
    }

    async fn set_times(
        &mut self,
        fd: Resource<Descriptor>,
        atim: at::NewTimestamp,
        mtim: at::NewTimestamp,
    ) -> FsResult<()> {
        match self.mem(&fd)? {
            Some(mem) => Ok(mem.tree().set_times(mem.node, atim, mtim)?),
            None => at::HostDescriptor::set_times(&mut self.wasi, fd, atim, mtim).await,
        }
    }

    async fn read(&mut self, fd: Resource<Descriptor>, len: u64, offset: u64) -> FsResult<(Vec<u8>, bool)> {
        match self.mem(&fd)? {
            Some(mem) => Ok(mem.read(len, offset)?),
            None => at::HostDescriptor::read(&mut self.wasi, fd, len, offset).await,
        }
    }

    async fn write(&mut self, fd: Resource<Descriptor>, buf: Vec<u8>, offset: u64) -> FsResult<u64> {
        match self.mem(&fd)? {
            Some(mem) => Ok(mem.write(&buf, offset)?),
            None => at::HostDescriptor::write(&mut self.wasi, fd, buf, offset).await,
        }
    }

    async fn read_directory(&mut self, fd: Resource<Descriptor>) -> FsResult<Resource<DirectoryEntryStream>> {
        match self.mem(&fd)? {
            Some(mem) => self.entries(&mem),
            None => at::HostDescriptor::read_directory(&mut self.wasi, fd).await,
        }
    }

    async fn sync(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        match self.mem(&fd)? {
            Some(_) => Ok(()),
            None => at::HostDescriptor::sync(&mut self.wasi, fd).await,
        }
    }

    async fn create_directory_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        match self.mem(&fd)? {
            Some(mem) => Ok(mem.tree().mkdir(mem.node, &path).map(drop)?),
            None => at::HostDescriptor::create_directory_at(&mut self.wasi, fd, path).await,
        }
    }

    async fn stat(&mut self, fd: Resource<Descriptor>) -> FsResult<at::DescriptorStat> {
        match self.mem(&fd)? {
            Some(mem) => Ok(mem.tree().stat(mem.node)?),
            None => at::HostDescriptor::stat(&mut self.wasi, fd).await,
        }
    }

    async fn stat_at(
        &mut self,
        fd: Resource<Descriptor>,
        flags: at::PathFlags,
        path: String,
    ) -> FsResult<at::DescriptorStat> {
        match self.mem(&fd)? {
            Some(mem) => {
                let node = mem.find(&path, follow(flags))?;
                Ok(mem.tree().stat(node)?)
            }
            None => at::HostDescriptor::stat_at(&mut self.wasi, fd, flags, path).await,
        }
    }

    async fn set_times_at(
        &mut self,
        fd: Resource<Descriptor>,
        flags: at::PathFlags,
        path: String,
        atim: at::NewTimestamp,
        mtim: at::NewTimestamp,
    ) -> FsResult<()> {
        match self.mem(&fd)? {
            Some(mem) => {
                let node = mem.find(&path, follow(flags))?;
                Ok(mem.tree().set_times(node, atim, mtim)?)
            }
            None => at::HostDescriptor::set_times_at(&mut self.wasi, fd, flags, path, atim, mtim).await,
        }
    }

    async fn link_at(
        &mut self,
        fd: Resource<Descriptor>,
        old_flags: at::PathFlags,
        old_path: String,
        new_fd: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        match (self.mem(&fd)?, self.mem(&new_fd)?) {
            (Some(from), Some(to)) => Ok(from.tree().hard_link(from.node, &old_path, to.node, &new_path)?),
            (None, None) => {
                self.same_host_origin(&fd, &new_fd)?;
                at::HostDescriptor::link_at(&mut self.wasi, fd, old_flags, old_path, new_fd, new_path).await
            }
            _ => Err(at::ErrorCode::CrossDevice.into()),
        }
    }

    async fn open_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: at::PathFlags,
        path: String,
        oflags: at::OpenFlags,
        flags: at::DescriptorFlags,
    ) -> FsResult<Resource<Descriptor>> {
        match self.mem(&fd)? {
            Some(mem) => {
                let flags: at::DescriptorFlags = flags;
                self.open(&mem, follow(path_flags), &path, open_request(oflags, flags), flags)
            }
            None => {
                let from = fd.rep();
                let opened = at::HostDescriptor::open_at(&mut self.wasi, fd, path_flags, path, oflags, flags).await?;
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
        at::HostDescriptor::drop(&mut self.wasi, fd)
    }

    async fn readlink_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<String> {
        match self.mem(&fd)? {
            Some(mem) => Ok(mem.tree().readlink(mem.node, &path)?),
            None => at::HostDescriptor::readlink_at(&mut self.wasi, fd, path).await,
        }
    }

    async fn remove_directory_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        match self.mem(&fd)? {
            Some(mem) => Ok(mem.tree().rmdir(mem.node, &path)?),
            None => at::HostDescriptor::remove_directory_at(&mut self.wasi, fd, path).await,
        }
    }

    async fn rename_at(
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
                at::HostDescriptor::rename_at(&mut self.wasi, fd, old_path, new_fd, new_path).await
            }
            _ => Err(at::ErrorCode::CrossDevice.into()),
        }
    }

    async fn symlink_at(&mut self, fd: Resource<Descriptor>, target: String, path: String) -> FsResult<()> {
        match self.mem(&fd)? {
            Some(mem) => Ok(mem.tree().symlink(mem.node, &target, &path)?),
            None => at::HostDescriptor::symlink_at(&mut self.wasi, fd, target, path).await,
        }
    }

    async fn unlink_file_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        match self.mem(&fd)? {
            Some(mem) => Ok(mem.tree().unlink_file(mem.node, &path)?),
            None => at::HostDescriptor::unlink_file_at(&mut self.wasi, fd, path).await,
        }
    }

    fn read_via_stream(&mut self, fd: Resource<Descriptor>, offset: u64) -> FsResult<Resource<DynInputStream>> {
        match self.mem(&fd)? {
            Some(mem) => self.reader(&mem, offset),
            None => at::HostDescriptor::read_via_stream(&mut self.wasi, fd, offset),
        }
    }

    fn write_via_stream(&mut self, fd: Resource<Descriptor>, offset: u64) -> FsResult<Resource<DynOutputStream>> {
        match self.mem(&fd)? {
            Some(mem) => self.writer(&mem, WriteAt::Offset(offset)),
            None => at::HostDescriptor::write_via_stream(&mut self.wasi, fd, offset),
        }
    }

    fn append_via_stream(&mut self, fd: Resource<Descriptor>) -> FsResult<Resource<DynOutputStream>> {
        match self.mem(&fd)? {
            Some(mem) => self.writer(&mem, WriteAt::End),
            None => at::HostDescriptor::append_via_stream(&mut self.wasi, fd),
        }
    }

    async fn is_same_object(&mut self, a: Resource<Descriptor>, b: Resource<Descriptor>) -> wasmtime::Result<bool> {
        let trap = |e: FsError| wasmtime::Error::msg(e.to_string());
        match (self.mem(&a).map_err(trap)?, self.mem(&b).map_err(trap)?) {
            (Some(a), Some(b)) => Ok(a.same(&b)),
            (None, None) => at::HostDescriptor::is_same_object(&mut self.wasi, a, b).await,
            _ => Ok(false),
        }
    }

    async fn metadata_hash(&mut self, fd: Resource<Descriptor>) -> FsResult<at::MetadataHashValue> {
        match self.mem(&fd)? {
            Some(mem) => Ok(mem.hash(mem.node)),
            None => at::HostDescriptor::metadata_hash(&mut self.wasi, fd).await,
        }
    }

    async fn metadata_hash_at(
        &mut self,
        fd: Resource<Descriptor>,
        flags: at::PathFlags,
        path: String,
    ) -> FsResult<at::MetadataHashValue> {
        match self.mem(&fd)? {
            Some(mem) => {
                let node = mem.find(&path, follow(flags))?;
                Ok(mem.hash(node))
            }
            None => at::HostDescriptor::metadata_hash_at(&mut self.wasi, fd, flags, path).await,
        }
    }
}

impl at::HostDirectoryEntryStream for FsView<'_> {
    async fn read_directory_entry(
        &mut self,
        stream: Resource<DirectoryEntryStream>,
    ) -> FsResult<Option<at::DirectoryEntry>> {
        match self.next_entry(&stream)? {
            Some(entry) => Ok(entry),
            None => at::HostDirectoryEntryStream::read_directory_entry(&mut self.wasi, stream).await,
        }
    }

    fn drop(&mut self, stream: Resource<DirectoryEntryStream>) -> wasmtime::Result<()> {
        if self.drop_entries(&stream)? {
            return Ok(());
        }
        at::HostDirectoryEntryStream::drop(&mut self.wasi, stream)
    }
}
