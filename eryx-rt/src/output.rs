//! What an execution printed ([`Output`]), captured from the guest's stdout and stderr at the
//! WASI level.
//!
//! Capturing the streams (rather than `sys.stdout` inside Python) means `print`,
//! `sys.stdout.write` and `os.write(1, ...)` all land in the same buffer, and nothing the
//! guest does can write to the host's terminal. Each execute takes what was written during it;
//! a per-execute cap keeps a runaway `print` loop from eating the host's memory.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// Default cap on what one `execute` call may print, per stream.
pub const DEFAULT_OUTPUT_LIMIT: usize = 16 << 20;

/// What one execution printed, and how long it took.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Output {
    /// Everything written to stdout (`print`, `sys.stdout`, `os.write(1, ...)`), as UTF-8
    /// (invalid bytes are replaced).
    pub stdout: String,
    /// Everything written to stderr, likewise.
    pub stderr: String,
    /// Wall-clock time of the execution.
    pub duration: Duration,
    /// True when output beyond the output limit was dropped.
    pub truncated: bool,
}

/// Which guest stream a chunk of output was written to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    /// The guest's stdout.
    Stdout,
    /// The guest's stderr.
    Stderr,
}

/// Receives the guest's output while it runs (see `SandboxBuilder::output_handler`).
pub type OutputHandler = Arc<dyn Fn(Stream, &[u8]) + Send + Sync>;

/// An [`OutputHandler`] kept by a builder (which is `Debug`).
#[derive(Clone)]
pub(crate) struct Listener(pub(crate) OutputHandler);

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OutputHandler")
    }
}

/// One captured stream. Clones share the buffer.
#[derive(Clone)]
pub(crate) struct CapturedOutput {
    inner: Arc<Mutex<Buffer>>,
    /// Called with every chunk that is kept, as it is written (live output).
    listener: Option<(Stream, OutputHandler)>,
}

struct Buffer {
    bytes: Vec<u8>,
    capacity: usize,
    truncated: bool,
}

impl CapturedOutput {
    pub(crate) fn new(capacity: usize) -> Self {
        CapturedOutput {
            inner: Arc::new(Mutex::new(Buffer { bytes: Vec::new(), capacity, truncated: false })),
            listener: None,
        }
    }

    /// This stream, also handing every kept chunk to `handler` as `stream`.
    pub(crate) fn with_listener(mut self, stream: Stream, handler: Option<Listener>) -> Self {
        self.listener = handler.map(|handler| (stream, handler.0));
        self
    }

    /// Takes everything written since the last call, and whether some was dropped at the cap.
    pub(crate) fn take(&self) -> (String, bool) {
        let mut buffer = self.lock();
        let bytes = std::mem::take(&mut buffer.bytes);
        let truncated = std::mem::replace(&mut buffer.truncated, false);
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
        };
        (text, truncated)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Buffer> {
        // A panic while holding this lock cannot leave the buffer inconsistent.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends what fits under the cap; the rest is dropped and remembered as truncation.
    fn append(&self, bytes: &[u8]) {
        let mut buffer = self.lock();
        let room = buffer.capacity.saturating_sub(buffer.bytes.len());
        if bytes.len() > room {
            buffer.truncated = true;
        }
        let keep = bytes.len().min(room);
        buffer.bytes.extend_from_slice(&bytes[..keep]);
        // Called under the lock, so the chunks of a stream reach the handler in write order.
        if let Some((stream, handler)) = &self.listener
            && keep > 0
        {
            handler(*stream, &bytes[..keep]);
        }
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl Pollable for CapturedOutput {
    async fn ready(&mut self) {}
}

#[async_trait::async_trait]
impl OutputStream for CapturedOutput {
    fn write(&mut self, bytes: bytes::Bytes) -> Result<(), StreamError> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for CapturedOutput {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, bytes: &[u8]) -> Poll<std::io::Result<usize>> {
        self.append(bytes);
        Poll::Ready(Ok(bytes.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
