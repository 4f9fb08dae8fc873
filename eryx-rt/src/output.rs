//! What an execution printed ([`Output`]), captured from the guest's stdout and stderr at the
//! WASI level.
//!
//! Capturing the streams (rather than `sys.stdout` inside Python) means `print`,
//! `sys.stdout.write` and `os.write(1, ...)` all land in the same buffer, and nothing the
//! guest does can write to the host's terminal. Each execute takes what was written during it;
//! a per-execute cap keeps a runaway `print` loop from eating the host's memory.
//!
//! Every write is accepted whole. wasi-libc's `write` asks the stream how much it may write
//! (`check-write`), writes that much and returns a short count; CPython's unbuffered stdio
//! did not retry a short write, so a permit smaller than a write silently lost its tail (a
//! 64 KiB permit cut a 200 KB `print` to 64 KiB). The permit is therefore larger than any
//! buffer a 32-bit guest can hold (and the guest runtime retries short writes anyway); what
//! lies past the cap is dropped and reported as truncation, never refused, so the guest's
//! program goes on unchanged.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// Default cap on what one `execute` call may print, per stream.
pub const DEFAULT_OUTPUT_LIMIT: usize = 16 << 20;

/// What one execution printed, and how long it took.
///
/// Every byte the guest wrote arrives, in the order it was written, up to the output limit.
/// `stdout` and `stderr` are text; [`stdout_bytes`](Self::stdout_bytes) and
/// [`stderr_bytes`](Self::stderr_bytes) are the exact bytes, for output that is not UTF-8.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Output {
    /// Everything written to stdout (`print`, `sys.stdout`, `os.write(1, ...)`), as UTF-8
    /// (invalid bytes are replaced by U+FFFD; [`stdout_bytes`](Self::stdout_bytes) has them).
    pub stdout: String,
    /// Everything written to stderr, likewise.
    pub stderr: String,
    /// Wall-clock time of the execution.
    pub duration: Duration,
    /// True when output beyond the output limit was dropped.
    pub truncated: bool,
    /// The exact bytes of stdout and stderr, kept only when they are not UTF-8 (else the
    /// text is them, and keeping both would double the memory). Boxed: errors carry an
    /// `Output`, and most have no such bytes.
    raw: Option<Box<RawBytes>>,
}

impl Output {
    pub(crate) fn from_bytes(stdout: Vec<u8>, stderr: Vec<u8>, duration: Duration, truncated: bool) -> Self {
        let (stdout, raw_stdout) = into_text(stdout);
        let (stderr, raw_stderr) = into_text(stderr);
        let raw = (raw_stdout.is_some() || raw_stderr.is_some())
            .then(|| Box::new(RawBytes { stdout: raw_stdout, stderr: raw_stderr }));
        Output { stdout, stderr, duration, truncated, raw }
    }

    /// Exactly the bytes written to stdout (the same as `stdout` when they are UTF-8).
    pub fn stdout_bytes(&self) -> &[u8] {
        self.raw.as_ref().and_then(|raw| raw.stdout.as_deref()).unwrap_or(self.stdout.as_bytes())
    }

    /// Exactly the bytes written to stderr (the same as `stderr` when they are UTF-8).
    pub fn stderr_bytes(&self) -> &[u8] {
        self.raw.as_ref().and_then(|raw| raw.stderr.as_deref()).unwrap_or(self.stderr.as_bytes())
    }
}

/// The exact bytes of the streams whose output is not UTF-8.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct RawBytes {
    stdout: Option<Vec<u8>>,
    stderr: Option<Vec<u8>>,
}

/// Captured bytes as text, plus the bytes themselves when they are not UTF-8 (so the text
/// has U+FFFD where they differ); valid UTF-8 is moved, not copied.
fn into_text(bytes: Vec<u8>) -> (String, Option<Vec<u8>>) {
    match String::from_utf8(bytes) {
        Ok(text) => (text, None),
        Err(error) => {
            let bytes = error.into_bytes();
            (String::from_utf8_lossy(&bytes).into_owned(), Some(bytes))
        }
    }
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
    pub(crate) fn take(&self) -> (Vec<u8>, bool) {
        let mut buffer = self.lock();
        let bytes = std::mem::take(&mut buffer.bytes);
        let truncated = std::mem::replace(&mut buffer.truncated, false);
        (bytes, truncated)
    }

    /// Takes everything written since the last call, as text (for error messages).
    pub(crate) fn take_text(&self) -> String {
        into_text(self.take().0).0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Buffer> {
        // A panic while holding this lock cannot leave the buffer inconsistent.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends what fits under the cap; the rest is dropped and remembered as truncation.
    fn append(&self, bytes: &[u8]) {
        let mut buffer = self.lock();
        let keep = buffer.keep(bytes.len());
        buffer.bytes.extend_from_slice(&bytes[..keep]);
        // Called under the lock, so the chunks of a stream reach the handler in write order.
        if let Some((stream, handler)) = &self.listener
            && keep > 0
        {
            handler(*stream, &bytes[..keep]);
        }
    }

    /// Appends `count` zero bytes (`write-zeroes`) without allocating past the cap.
    fn append_zeroes(&self, count: usize) {
        let mut buffer = self.lock();
        let keep = buffer.keep(count);
        let len = buffer.bytes.len();
        buffer.bytes.resize(len + keep, 0);
        if let Some((stream, handler)) = &self.listener
            && keep > 0
        {
            handler(*stream, &buffer.bytes[len..]);
        }
    }
}

/// The `check-write` permit: more than a 32-bit guest can hold in one buffer, so a write is
/// never short (see the module documentation).
const WRITE_PERMIT: usize = u32::MAX as usize;

impl Buffer {
    /// How many of `count` new bytes fit under the cap; notes truncation when not all do.
    fn keep(&mut self, count: usize) -> usize {
        let room = self.capacity.saturating_sub(self.bytes.len());
        if count > room {
            self.truncated = true;
        }
        count.min(room)
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
        Ok(WRITE_PERMIT)
    }

    fn write_zeroes(&mut self, count: usize) -> Result<(), StreamError> {
        self.append_zeroes(count);
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_permit_covers_any_guest_buffer_and_the_cap_truncates() {
        let mut stream = CapturedOutput::new(10);
        assert!(stream.check_write().unwrap() >= u32::MAX as usize);
        stream.write(bytes::Bytes::from_static(b"0123456")).unwrap();
        assert_eq!(stream.take(), (b"0123456".to_vec(), false));
        stream.write(bytes::Bytes::from_static(b"abcdef")).unwrap();
        stream.write_zeroes(1 << 40).unwrap();
        assert_eq!(stream.take(), (b"abcdef\0\0\0\0".to_vec(), true));
        assert_eq!(stream.take(), (Vec::new(), false));
    }

    #[test]
    fn output_keeps_bytes_that_are_not_utf8() {
        let output = Output::from_bytes(b"ok \xff\xfe".to_vec(), "é".into(), Duration::ZERO, false);
        assert_eq!(output.stdout, "ok \u{fffd}\u{fffd}");
        assert_eq!(output.stdout_bytes(), b"ok \xff\xfe");
        assert_eq!(output.stderr_bytes(), "é".as_bytes());
    }
}
