//! The guest's stdin: bytes the host sets before each run, or the host process's own stdin.
//!
//! WASI gives a store one stdin for its whole life, but a sandbox runs many programs, each
//! with its own input ([`Program::stdin`](crate::Program::stdin)). So the stream reads from a
//! source shared with the sandbox, which sets it before every run and empties it after: once
//! the guest has read the bytes it sees the end of the input, as `python < file` does. The
//! other source, [`Program::host_stdin`](crate::Program::host_stdin), is the host process's
//! stdin read through wasmtime-wasi's worker thread: nothing is read until the guest asks
//! (a program that never reads leaves the host's stdin alone, as `python` does), and a guest
//! waiting on it is still stopped at its deadline. Nothing else of the host is reachable here.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdinStream};
use wasmtime_wasi::p2::{InputStream, Pollable, StreamError};

/// Where the guest's stdin reads from during one run.
#[derive(Clone, Debug)]
pub(crate) enum StdinSource {
    /// These bytes, then the end of the input.
    Bytes(Bytes),
    /// The host process's own stdin.
    Host,
}

impl Default for StdinSource {
    fn default() -> Self {
        StdinSource::Bytes(Bytes::new())
    }
}

/// The stdin of one sandbox. Clones share the source; each keeps its own handle on the host's
/// stdin (all of them read one global stream).
#[derive(Default)]
pub(crate) struct SharedStdin {
    source: Arc<Mutex<StdinSource>>,
    host: Option<Box<dyn InputStream>>,
}

impl Clone for SharedStdin {
    fn clone(&self) -> Self {
        SharedStdin { source: self.source.clone(), host: None }
    }
}

impl SharedStdin {
    /// Sets what the guest reads from now on (bytes the previous run left unread are dropped).
    pub(crate) fn set(&self, source: StdinSource) {
        *self.lock() = source;
    }

    fn lock(&self) -> MutexGuard<'_, StdinSource> {
        // Replacing or splitting `Bytes` cannot leave it inconsistent, even after a panic.
        self.source.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn reads_host(&self) -> bool {
        matches!(*self.lock(), StdinSource::Host)
    }

    fn host(&mut self) -> &mut dyn InputStream {
        self.host.get_or_insert_with(|| StdinStream::p2_stream(&std::io::stdin())).as_mut()
    }

    /// Takes up to `size` of the bytes; `None` when the source is the host's stdin.
    fn take(&self, size: usize) -> Option<Bytes> {
        match &mut *self.lock() {
            StdinSource::Bytes(remaining) => Some(remaining.split_to(size.min(remaining.len()))),
            StdinSource::Host => None,
        }
    }
}

impl IsTerminal for SharedStdin {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdinStream for SharedStdin {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncRead + Send + Sync> {
        Box::new(BytesReader(self.clone().source))
    }

    fn p2_stream(&self) -> Box<dyn InputStream> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl Pollable for SharedStdin {
    async fn ready(&mut self) {
        if self.reads_host() {
            self.host().ready().await;
        }
    }
}

#[async_trait::async_trait]
impl InputStream for SharedStdin {
    fn read(&mut self, size: usize) -> Result<Bytes, StreamError> {
        match self.take(size) {
            // All of this run's bytes were read: the guest sees the end (EOF), like a pipe's.
            Some(bytes) if bytes.is_empty() && size > 0 => Err(StreamError::Closed),
            Some(bytes) => Ok(bytes),
            None => self.host().read(size),
        }
    }
}

/// The stream WASI 0.3 would use: it reads the run's bytes only (the guest runs on WASI 0.2,
/// where the host's stdin is offered too).
struct BytesReader(Arc<Mutex<StdinSource>>);

impl tokio::io::AsyncRead for BytesReader {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buffer: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let stdin = SharedStdin { source: self.0.clone(), host: None };
        if let Some(bytes) = stdin.take(buffer.remaining()) {
            buffer.put_slice(&bytes);
        }
        Poll::Ready(Ok(()))
    }
}
