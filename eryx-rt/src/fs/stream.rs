//! `wasi:io` streams over files of the in-memory tree: wasi-libc reads and writes files through
//! `read-via-stream` / `write-via-stream` / `append-via-stream`, so these carry nearly all file
//! data. Every write goes straight into the tree (no buffer of its own), so the host sees what
//! the guest has flushed; quota refusals surface as a stream error that
//! `filesystem-error-code` turns back into `InsufficientSpace` (Python: `OSError(ENOSPC)`).

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use wasmtime_wasi::p2::bindings::filesystem::types::ErrorCode;
use wasmtime_wasi::p2::{InputStream, OutputStream, Pollable, StreamError, StreamResult};

use super::image::{Image, ImageNode};
use super::tree::{NodeId, Tree};

/// Most bytes a guest may hand to one `write` (it asks with `check-write` first).
const WRITE_BUDGET: usize = 1 << 20;

/// A file-system error carried through a stream, for `filesystem-error-code`.
#[derive(Debug, thiserror::Error)]
#[error("scratch file system: {0}")]
pub(crate) struct StreamFsError(pub ErrorCode);

fn failed(code: ErrorCode) -> StreamError {
    StreamError::LastOperationFailed(wasmtime::Error::new(StreamFsError(code)))
}

fn lock(tree: &Mutex<Tree>) -> std::sync::MutexGuard<'_, Tree> {
    tree.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Holds one reference to a node of the tree while a stream is alive.
struct Held {
    tree: Arc<Mutex<Tree>>,
    node: NodeId,
}

impl Held {
    fn new(tree: Arc<Mutex<Tree>>, node: NodeId) -> Held {
        lock(&tree).retain(node);
        Held { tree, node }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        lock(&self.tree).release(self.node);
    }
}

/// Reads a file from an offset.
pub(crate) struct FileReader {
    held: Held,
    offset: u64,
}

impl FileReader {
    pub(crate) fn new(tree: Arc<Mutex<Tree>>, node: NodeId, offset: u64) -> FileReader {
        FileReader { held: Held::new(tree, node), offset }
    }
}

#[async_trait::async_trait]
impl Pollable for FileReader {
    async fn ready(&mut self) {}
}

#[async_trait::async_trait]
impl InputStream for FileReader {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        let bytes = lock(&self.held.tree).read(self.held.node, self.offset, size as u64).map_err(failed)?;
        if bytes.is_empty() && size > 0 {
            return Err(StreamError::Closed);
        }
        self.offset += bytes.len() as u64;
        Ok(Bytes::from(bytes))
    }

    fn skip(&mut self, size: usize) -> StreamResult<usize> {
        let end = lock(&self.held.tree).size(self.held.node).map_err(failed)?;
        let skipped = end.saturating_sub(self.offset).min(size as u64);
        if skipped == 0 && size > 0 {
            return Err(StreamError::Closed);
        }
        self.offset += skipped;
        Ok(skipped as usize)
    }
}

/// Reads a file of an image from an offset (the bytes are shared, not copied).
pub(crate) struct ImageReader {
    image: Arc<Image>,
    node: ImageNode,
    offset: u64,
}

impl ImageReader {
    pub(crate) fn new(image: Arc<Image>, node: ImageNode, offset: u64) -> ImageReader {
        ImageReader { image, node, offset }
    }
}

#[async_trait::async_trait]
impl Pollable for ImageReader {
    async fn ready(&mut self) {}
}

#[async_trait::async_trait]
impl InputStream for ImageReader {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        let bytes = self.image.read(self.node, self.offset, size as u64).map_err(failed)?;
        if bytes.is_empty() && size > 0 {
            return Err(StreamError::Closed);
        }
        self.offset += bytes.len() as u64;
        Ok(bytes)
    }

    fn skip(&mut self, size: usize) -> StreamResult<usize> {
        let end = self.image.size(self.node).map_err(failed)?;
        let skipped = end.saturating_sub(self.offset).min(size as u64);
        if skipped == 0 && size > 0 {
            return Err(StreamError::Closed);
        }
        self.offset += skipped;
        Ok(skipped as usize)
    }
}

/// Where a writer puts its bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum WriteAt {
    Offset(u64),
    /// At the end of the file as it is at each write (`O_APPEND`).
    End,
}

/// Writes a file at an offset or at its end.
pub(crate) struct FileWriter {
    held: Held,
    at: WriteAt,
}

impl FileWriter {
    pub(crate) fn new(tree: Arc<Mutex<Tree>>, node: NodeId, at: WriteAt) -> FileWriter {
        FileWriter { held: Held::new(tree, node), at }
    }
}

#[async_trait::async_trait]
impl Pollable for FileWriter {
    async fn ready(&mut self) {}
}

#[async_trait::async_trait]
impl OutputStream for FileWriter {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        let mut tree = lock(&self.held.tree);
        match self.at {
            WriteAt::Offset(offset) => {
                let written = tree.write(self.held.node, offset, &bytes).map_err(failed)?;
                self.at = WriteAt::Offset(offset + written);
            }
            WriteAt::End => {
                tree.append(self.held.node, &bytes).map_err(failed)?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_BUDGET)
    }
}
