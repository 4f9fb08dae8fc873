//! The asynchronous `wasi:filesystem/types` bindings over [`FsView`], for wasmtime-wasi's async
//! linker (a store with async support): scratch descriptors are served from the tree, image
//! descriptors from their image (read-only), the others passed on to wasmtime-wasi's async
//! implementation (its sync one would block inside the runtime). Scratch and image operations
//! never wait, so their `async fn`s complete on first poll.
//! [`super::wasi_sync`] adapts these to the sync linker: this is the one implementation.

use wasmtime::component::Resource;
use wasmtime_wasi::p2::bindings::filesystem::types as at;
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, FsError, FsResult};

use super::image_fd::read_only;
use super::stream::WriteAt;
use super::wasi::{Fd, FsView, open_request};

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
        match self.which(&fd)? {
            Fd::Mem(_) => Ok(()),
            Fd::Image(_) => Ok(()),
            Fd::Host => at::HostDescriptor::advise(&mut self.wasi, fd, offset, len, advice).await,
        }
    }

    async fn sync_data(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        match self.which(&fd)? {
            Fd::Mem(_) => Ok(()),
            Fd::Image(_) => Ok(()),
            Fd::Host => at::HostDescriptor::sync_data(&mut self.wasi, fd).await,
        }
    }

    async fn get_flags(&mut self, fd: Resource<Descriptor>) -> FsResult<at::DescriptorFlags> {
        match self.which(&fd)? {
            Fd::Mem(mem) => Ok(mem.flags),
            Fd::Image(image) => Ok(image.flags()),
            Fd::Host => at::HostDescriptor::get_flags(&mut self.wasi, fd).await,
        }
    }

    async fn get_type(&mut self, fd: Resource<Descriptor>) -> FsResult<at::DescriptorType> {
        match self.which(&fd)? {
            Fd::Mem(mem) => Ok(mem.tree().descriptor_type(mem.node)?),
            Fd::Image(image) => Ok(image.image.descriptor_type(image.node)?),
            Fd::Host => at::HostDescriptor::get_type(&mut self.wasi, fd).await,
        }
    }

    async fn set_size(&mut self, fd: Resource<Descriptor>, size: u64) -> FsResult<()> {
        match self.which(&fd)? {
            Fd::Mem(mem) => Ok(mem.set_size(size)?),
            Fd::Image(_) => Err(at::ErrorCode::BadDescriptor.into()),
            Fd::Host => at::HostDescriptor::set_size(&mut self.wasi, fd, size).await,
        }
    }

    async fn set_times(
        &mut self,
        fd: Resource<Descriptor>,
        atim: at::NewTimestamp,
        mtim: at::NewTimestamp,
    ) -> FsResult<()> {
        match self.which(&fd)? {
            Fd::Mem(mem) => Ok(mem.tree().set_times(mem.node, atim, mtim)?),
            Fd::Image(_) => Ok(read_only()?),
            Fd::Host => at::HostDescriptor::set_times(&mut self.wasi, fd, atim, mtim).await,
        }
    }

    async fn read(&mut self, fd: Resource<Descriptor>, len: u64, offset: u64) -> FsResult<(Vec<u8>, bool)> {
        match self.which(&fd)? {
            Fd::Mem(mem) => Ok(mem.read(len, offset)?),
            Fd::Image(image) => Ok(image.read(len, offset)?),
            Fd::Host => at::HostDescriptor::read(&mut self.wasi, fd, len, offset).await,
        }
    }

    async fn write(&mut self, fd: Resource<Descriptor>, buf: Vec<u8>, offset: u64) -> FsResult<u64> {
        match self.which(&fd)? {
            Fd::Mem(mem) => Ok(mem.write(&buf, offset)?),
            Fd::Image(_) => Err(at::ErrorCode::BadDescriptor.into()),
            Fd::Host => at::HostDescriptor::write(&mut self.wasi, fd, buf, offset).await,
        }
    }

    async fn read_directory(&mut self, fd: Resource<Descriptor>) -> FsResult<Resource<DirectoryEntryStream>> {
        match self.which(&fd)? {
            Fd::Mem(mem) => self.entries(&mem),
            Fd::Image(image) => self.image_entries(&image),
            Fd::Host => at::HostDescriptor::read_directory(&mut self.wasi, fd).await,
        }
    }

    async fn sync(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        match self.which(&fd)? {
            Fd::Mem(_) => Ok(()),
            Fd::Image(_) => Ok(()),
            Fd::Host => at::HostDescriptor::sync(&mut self.wasi, fd).await,
        }
    }

    async fn create_directory_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        match self.which(&fd)? {
            Fd::Mem(mem) => Ok(mem.tree().mkdir(mem.node, &path).map(drop)?),
            Fd::Image(_) => Ok(read_only()?),
            Fd::Host => at::HostDescriptor::create_directory_at(&mut self.wasi, fd, path).await,
        }
    }

    async fn stat(&mut self, fd: Resource<Descriptor>) -> FsResult<at::DescriptorStat> {
        match self.which(&fd)? {
            Fd::Mem(mem) => Ok(mem.tree().stat(mem.node)?),
            Fd::Image(image) => Ok(image.stat()?),
            Fd::Host => at::HostDescriptor::stat(&mut self.wasi, fd).await,
        }
    }

    async fn stat_at(
        &mut self,
        fd: Resource<Descriptor>,
        flags: at::PathFlags,
        path: String,
    ) -> FsResult<at::DescriptorStat> {
        match self.which(&fd)? {
            Fd::Mem(mem) => {
                let node = mem.find(&path, follow(flags))?;
                Ok(mem.tree().stat(node)?)
            }
            Fd::Image(image) => Ok(image.stat_at(&path)?),
            Fd::Host => at::HostDescriptor::stat_at(&mut self.wasi, fd, flags, path).await,
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
        match self.which(&fd)? {
            Fd::Mem(mem) => {
                let node = mem.find(&path, follow(flags))?;
                Ok(mem.tree().set_times(node, atim, mtim)?)
            }
            Fd::Image(_) => Ok(read_only()?),
            Fd::Host => at::HostDescriptor::set_times_at(&mut self.wasi, fd, flags, path, atim, mtim).await,
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
        match (self.which(&fd)?, self.which(&new_fd)?) {
            (Fd::Mem(from), Fd::Mem(to)) => Ok(from.tree().hard_link(from.node, &old_path, to.node, &new_path)?),
            (Fd::Image(from), Fd::Image(to)) if std::sync::Arc::ptr_eq(&from.image, &to.image) => Ok(read_only()?),
            (Fd::Host, Fd::Host) => {
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
        match self.which(&fd)? {
            Fd::Mem(mem) => {
                let flags: at::DescriptorFlags = flags;
                self.open(&mem, follow(path_flags), &path, open_request(oflags, flags), flags)
            }
            Fd::Image(image) => self.image_descriptor(image.open(&path, oflags, flags)?),
            Fd::Host => {
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
        match self.which(&fd)? {
            Fd::Mem(mem) => Ok(mem.tree().readlink(mem.node, &path)?),
            Fd::Image(image) => Ok(image.readlink(&path)?),
            Fd::Host => at::HostDescriptor::readlink_at(&mut self.wasi, fd, path).await,
        }
    }

    async fn remove_directory_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        match self.which(&fd)? {
            Fd::Mem(mem) => Ok(mem.tree().rmdir(mem.node, &path)?),
            Fd::Image(_) => Ok(read_only()?),
            Fd::Host => at::HostDescriptor::remove_directory_at(&mut self.wasi, fd, path).await,
        }
    }

    async fn rename_at(
        &mut self,
        fd: Resource<Descriptor>,
        old_path: String,
        new_fd: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        match (self.which(&fd)?, self.which(&new_fd)?) {
            (Fd::Mem(from), Fd::Mem(to)) => Ok(from.tree().rename(from.node, &old_path, to.node, &new_path)?),
            (Fd::Image(from), Fd::Image(to)) if std::sync::Arc::ptr_eq(&from.image, &to.image) => Ok(read_only()?),
            (Fd::Host, Fd::Host) => {
                self.same_host_origin(&fd, &new_fd)?;
                at::HostDescriptor::rename_at(&mut self.wasi, fd, old_path, new_fd, new_path).await
            }
            _ => Err(at::ErrorCode::CrossDevice.into()),
        }
    }

    async fn symlink_at(&mut self, fd: Resource<Descriptor>, target: String, path: String) -> FsResult<()> {
        match self.which(&fd)? {
            Fd::Mem(mem) => Ok(mem.tree().symlink(mem.node, &target, &path)?),
            Fd::Image(_) => Ok(read_only()?),
            Fd::Host => at::HostDescriptor::symlink_at(&mut self.wasi, fd, target, path).await,
        }
    }

    async fn unlink_file_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        match self.which(&fd)? {
            Fd::Mem(mem) => Ok(mem.tree().unlink_file(mem.node, &path)?),
            Fd::Image(_) => Ok(read_only()?),
            Fd::Host => at::HostDescriptor::unlink_file_at(&mut self.wasi, fd, path).await,
        }
    }

    fn read_via_stream(&mut self, fd: Resource<Descriptor>, offset: u64) -> FsResult<Resource<DynInputStream>> {
        match self.which(&fd)? {
            Fd::Mem(mem) => self.reader(&mem, offset),
            Fd::Image(image) => self.image_reader(&image, offset),
            Fd::Host => at::HostDescriptor::read_via_stream(&mut self.wasi, fd, offset),
        }
    }

    fn write_via_stream(&mut self, fd: Resource<Descriptor>, offset: u64) -> FsResult<Resource<DynOutputStream>> {
        match self.which(&fd)? {
            Fd::Mem(mem) => self.writer(&mem, WriteAt::Offset(offset)),
            Fd::Image(_) => Err(at::ErrorCode::BadDescriptor.into()),
            Fd::Host => at::HostDescriptor::write_via_stream(&mut self.wasi, fd, offset),
        }
    }

    fn append_via_stream(&mut self, fd: Resource<Descriptor>) -> FsResult<Resource<DynOutputStream>> {
        match self.which(&fd)? {
            Fd::Mem(mem) => self.writer(&mem, WriteAt::End),
            Fd::Image(_) => Err(at::ErrorCode::BadDescriptor.into()),
            Fd::Host => at::HostDescriptor::append_via_stream(&mut self.wasi, fd),
        }
    }

    async fn is_same_object(&mut self, a: Resource<Descriptor>, b: Resource<Descriptor>) -> wasmtime::Result<bool> {
        let trap = |e: FsError| wasmtime::Error::msg(e.to_string());
        match (self.which(&a).map_err(trap)?, self.which(&b).map_err(trap)?) {
            (Fd::Mem(a), Fd::Mem(b)) => Ok(a.same(&b)),
            (Fd::Image(a), Fd::Image(b)) => Ok(a.same(&b)),
            (Fd::Host, Fd::Host) => at::HostDescriptor::is_same_object(&mut self.wasi, a, b).await,
            _ => Ok(false),
        }
    }

    async fn metadata_hash(&mut self, fd: Resource<Descriptor>) -> FsResult<at::MetadataHashValue> {
        match self.which(&fd)? {
            Fd::Mem(mem) => Ok(mem.hash(mem.node)),
            Fd::Image(image) => Ok(image.hash()),
            Fd::Host => at::HostDescriptor::metadata_hash(&mut self.wasi, fd).await,
        }
    }

    async fn metadata_hash_at(
        &mut self,
        fd: Resource<Descriptor>,
        flags: at::PathFlags,
        path: String,
    ) -> FsResult<at::MetadataHashValue> {
        match self.which(&fd)? {
            Fd::Mem(mem) => {
                let node = mem.find(&path, follow(flags))?;
                Ok(mem.hash(node))
            }
            Fd::Image(image) => Ok(image.find(&path)?.hash()),
            Fd::Host => at::HostDescriptor::metadata_hash_at(&mut self.wasi, fd, flags, path).await,
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
