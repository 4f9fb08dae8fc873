//! The host side of `eryx:sandbox/host-calls` for one sandbox: the calls its guest makes to the
//! registered [`Callback`](crate::Callback)s during one `execute`.
//!
//! A waited call (`call`) runs the callback inside the host import, so the guest is suspended
//! (not the host thread: the import is async) until it answers. A started call (`start`, used
//! by `await eryx.atools.NAME(...)`) is polled once: one that has nothing to wait for answers
//! at once; any other is spawned as a tokio task, so any number of them run concurrently
//! while the guest goes on; the guest's asyncio loop collects their results with
//! `wait`, which is also how its timers wait. Everything a call leaves behind is stopped when
//! the execute ends, times out or is cancelled, and when the sandbox is dropped.

use std::collections::HashMap;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use crate::bindings::eryx::sandbox::host_calls::{CallError, CallbackInfo, Completion, Host, Started};
use crate::callbacks::{CallFailure, Registry};

type Done = (u64, Result<String, CallFailure>);

/// Host-call state of one sandbox's store.
pub(crate) struct HostCalls {
    registry: Arc<Registry>,
    calls: u64,
    next_id: u64,
    started: HashMap<u64, AbortHandle>,
    done_sender: mpsc::UnboundedSender<Done>,
    done: mpsc::UnboundedReceiver<Done>,
    /// The status the guest said it exits with (`os._exit`), until the next execute.
    exiting: Option<i32>,
}

impl HostCalls {
    pub(crate) fn new(registry: Arc<Registry>) -> Self {
        let (done_sender, done) = mpsc::unbounded_channel();
        HostCalls { registry, calls: 0, next_id: 1, started: HashMap::new(), done_sender, done, exiting: None }
    }

    /// Forgets the previous execute's calls and resets the call count.
    pub(crate) fn begin_execute(&mut self) {
        self.stop_all();
        self.calls = 0;
        self.exiting = None;
    }

    /// The status of the `os._exit` the guest announced in this execute, if it did.
    pub(crate) fn exit_status(&self) -> Option<i32> {
        self.exiting
    }

    /// Stops every started call that has not completed, and drops unread completions.
    pub(crate) fn stop_all(&mut self) {
        for (_, task) in self.started.drain() {
            task.abort();
        }
        while self.done.try_recv().is_ok() {}
    }

    /// The callback for a new call, once the limits allow it.
    fn admit(&mut self, name: &str, args: &str) -> Result<crate::Callback, CallFailure> {
        let max = self.registry.limits.calls();
        if self.calls >= max {
            return Err(CallFailure::Limit(format!(
                "this execute already made {max} host calls, the limit (CallbackLimits::max_calls)"
            )));
        }
        let callback = self.registry.admit(name, args)?;
        self.calls += 1;
        Ok(callback)
    }

    fn collect_ready(&mut self, into: &mut Vec<Completion>) {
        while let Ok(done) = self.done.try_recv() {
            self.push(done, into);
        }
    }

    fn push(&mut self, (id, outcome): Done, into: &mut Vec<Completion>) {
        // A call cancelled after it finished is not reported.
        if self.started.remove(&id).is_some() {
            into.push(Completion { id, outcome: outcome.map_err(to_wit) });
        }
    }
}

impl Drop for HostCalls {
    fn drop(&mut self) {
        self.stop_all();
    }
}

fn to_wit(failure: CallFailure) -> CallError {
    match failure {
        CallFailure::Failed(message) => CallError::Failed(message),
        CallFailure::Unknown(message) => CallError::Unknown(message),
        CallFailure::Timeout(message) => CallError::Timeout(message),
        CallFailure::Limit(message) => CallError::Limit(message),
    }
}

impl Host for HostCalls {
    async fn list_callbacks(&mut self) -> Vec<CallbackInfo> {
        self.registry
            .iter()
            .map(|callback| CallbackInfo {
                name: callback.name().to_owned(),
                description: callback.description().to_owned(),
                schema: callback.schema().to_string(),
                params: callback.params().to_vec(),
            })
            .collect()
    }

    async fn call(&mut self, name: String, args: String) -> Result<String, CallError> {
        let callback = self.admit(&name, &args).map_err(to_wit)?;
        self.registry.invoke(callback, args).await.map_err(to_wit)
    }

    async fn start(&mut self, name: String, args: String) -> Result<Started, CallError> {
        let callback = self.admit(&name, &args).map_err(to_wit)?;
        let mut call = Box::pin(self.registry.invoke(callback, args));
        // A callback with nothing to wait for answers on its first poll: the guest gets the
        // result at once, without a task and a trip through its event loop.
        if let Poll::Ready(outcome) = std::future::poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx))).await {
            return outcome.map(Started::Finished).map_err(to_wit);
        }
        let id = self.next_id;
        self.next_id += 1;
        let sender = self.done_sender.clone();
        let task = tokio::spawn(async move {
            let _ = sender.send((id, call.await));
        });
        self.started.insert(id, task.abort_handle());
        Ok(Started::Running(id))
    }

    async fn wait(&mut self, timeout_ns: Option<u64>) -> Vec<Completion> {
        let mut completions = Vec::new();
        self.collect_ready(&mut completions);
        if !completions.is_empty() || timeout_ns == Some(0) {
            return completions;
        }
        // The sender lives in `self`, so `recv` never ends by closing: with no timeout and no
        // call running it waits until the execute's own deadline or cancellation drops it.
        let received = match timeout_ns {
            Some(nanos) => tokio::time::timeout(Duration::from_nanos(nanos), self.done.recv()).await.ok().flatten(),
            None => self.done.recv().await,
        };
        if let Some(done) = received {
            self.push(done, &mut completions);
            self.collect_ready(&mut completions);
        }
        completions
    }

    async fn cancel(&mut self, id: u64) {
        if let Some(task) = self.started.remove(&id) {
            task.abort();
        }
    }

    async fn exiting(&mut self, status: i32) {
        self.exiting = Some(status);
    }
}

/// Pre-initialisation: a snapshot is shared by every sandbox made from it, so it offers no
/// callbacks; a module that calls the host while it is imported for the snapshot gets an error.
impl crate::preinit_bindings::eryx::sandbox::host_calls::Host for HostCalls {
    fn list_callbacks(&mut self) -> Vec<crate::preinit_bindings::eryx::sandbox::host_calls::CallbackInfo> {
        Vec::new()
    }

    fn call(&mut self, name: String, _: String) -> Result<String, SnapshotCallError> {
        Err(not_while_snapshotting(&name))
    }

    fn start(
        &mut self,
        name: String,
        _: String,
    ) -> Result<crate::preinit_bindings::eryx::sandbox::host_calls::Started, SnapshotCallError> {
        Err(not_while_snapshotting(&name))
    }

    fn wait(&mut self, _: Option<u64>) -> Vec<crate::preinit_bindings::eryx::sandbox::host_calls::Completion> {
        Vec::new()
    }

    fn cancel(&mut self, _: u64) {}

    /// Exiting while imported for a snapshot fails the snapshot (the guest's exit traps).
    fn exiting(&mut self, _: i32) {}
}

type SnapshotCallError = crate::preinit_bindings::eryx::sandbox::host_calls::CallError;

fn not_while_snapshotting(name: &str) -> SnapshotCallError {
    SnapshotCallError::Unknown(format!("no host callback ({name}) can be called while the start-up snapshot is made"))
}
