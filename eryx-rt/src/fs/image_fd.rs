//! The guest's descriptors of [`Image`] nodes, and what each `wasi:filesystem` call does with
//! them: reads and lookups are answered from the image, every change is refused (see the
//! `image` module for the rules).

use std::sync::Arc;

use wasmtime_wasi::p2::bindings::filesystem::types as at;

use super::image::{Image, ImageNode};

/// A guest descriptor of a folder or file of an image (always read-only).
#[derive(Clone)]
pub(crate) struct ImageFd {
    pub(super) image: Arc<Image>,
    pub(super) node: ImageNode,
}

/// The error of every change to an image (as in a read-only host folder).
pub(super) fn read_only<T>() -> Result<T, at::ErrorCode> {
    Err(at::ErrorCode::NotPermitted)
}

impl ImageFd {
    pub(crate) fn root(image: Arc<Image>) -> ImageFd {
        ImageFd { image, node: super::image::ROOT }
    }

    pub(super) fn is_dir(&self) -> Result<bool, at::ErrorCode> {
        Ok(self.image.descriptor_type(self.node)? == at::DescriptorType::Directory)
    }

    pub(super) fn flags(&self) -> at::DescriptorFlags {
        at::DescriptorFlags::READ
    }

    pub(super) fn stat(&self) -> Result<at::DescriptorStat, at::ErrorCode> {
        self.image.stat(self.node)
    }

    pub(super) fn find(&self, path: &str) -> Result<ImageFd, at::ErrorCode> {
        Ok(ImageFd { image: self.image.clone(), node: self.image.resolve(self.node, path)? })
    }

    pub(super) fn stat_at(&self, path: &str) -> Result<at::DescriptorStat, at::ErrorCode> {
        self.find(path)?.stat()
    }

    pub(super) fn read(&self, len: u64, offset: u64) -> Result<(Vec<u8>, bool), at::ErrorCode> {
        let bytes = self.image.read(self.node, offset, len)?;
        let end = offset.saturating_add(bytes.len() as u64) >= self.image.size(self.node)?;
        Ok((bytes.to_vec(), end))
    }

    /// Opens `path` below this folder, for reading only (as `open-at` in a read-only host
    /// folder: creating, truncating or asking to write is `NotPermitted`).
    pub(super) fn open(
        &self,
        path: &str,
        oflags: at::OpenFlags,
        flags: at::DescriptorFlags,
    ) -> Result<ImageFd, at::ErrorCode> {
        let changes = at::OpenFlags::CREATE | at::OpenFlags::EXCLUSIVE | at::OpenFlags::TRUNCATE;
        if oflags.contains(at::OpenFlags::DIRECTORY) && oflags.intersects(changes) {
            return Err(at::ErrorCode::Invalid);
        }
        let sync = at::DescriptorFlags::FILE_INTEGRITY_SYNC
            | at::DescriptorFlags::DATA_INTEGRITY_SYNC
            | at::DescriptorFlags::REQUESTED_WRITE_SYNC;
        if flags.intersects(sync) {
            return Err(at::ErrorCode::Unsupported);
        }
        // As wasmtime-wasi: asking to mutate a folder is not refused here, only using it is.
        if oflags.intersects(at::OpenFlags::CREATE | at::OpenFlags::TRUNCATE)
            || flags.contains(at::DescriptorFlags::WRITE)
        {
            return read_only();
        }
        let opened = self.find(path)?;
        if oflags.contains(at::OpenFlags::DIRECTORY) && !opened.is_dir()? {
            return Err(at::ErrorCode::NotDirectory);
        }
        Ok(opened)
    }

    pub(super) fn entries(&self) -> Result<Vec<at::DirectoryEntry>, at::ErrorCode> {
        self.image.read_dir(self.node)
    }

    /// `readlink-at`: an image holds no symlinks.
    pub(super) fn readlink(&self, path: &str) -> Result<String, at::ErrorCode> {
        self.find(path)?;
        Err(at::ErrorCode::Invalid)
    }

    pub(super) fn same(&self, other: &ImageFd) -> bool {
        Arc::ptr_eq(&self.image, &other.image) && self.node == other.node
    }

    pub(super) fn hash(&self) -> at::MetadataHashValue {
        at::MetadataHashValue { lower: self.node, upper: self.image.device }
    }
}
