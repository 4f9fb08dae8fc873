//! Ctrl-C while a REPL entry runs. The terminal is in its normal mode then (rustyline only
//! takes it over while reading a line), so Ctrl-C is a SIGINT, which would end eryx and the
//! whole session; here it cancels the running entry through the sandbox's [`CancelHandle`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use eryx_rt::CancelHandle;

/// Catches SIGINT for the life of the REPL and cancels the sandbox's running entry.
pub(crate) struct Interrupts {
    handle: Arc<Mutex<CancelHandle>>,
    pressed: Arc<AtomicBool>,
}

impl Interrupts {
    /// Installs the handler (once per process).
    pub(crate) fn install() -> anyhow::Result<Self> {
        let handle = Arc::new(Mutex::new(CancelHandle::default()));
        let pressed = Arc::new(AtomicBool::new(false));
        let (current, flag) = (handle.clone(), pressed.clone());
        ctrlc::set_handler(move || {
            flag.store(true, Ordering::SeqCst);
            current.lock().unwrap_or_else(|e| e.into_inner()).cancel();
        })?;
        Ok(Interrupts { handle, pressed })
    }

    /// From now on, Ctrl-C cancels what runs in the sandbox of `handle`.
    pub(crate) fn watch(&self, handle: CancelHandle) {
        *self.handle.lock().unwrap_or_else(|e| e.into_inner()) = handle;
    }

    /// Runs one entry; returns its result and whether Ctrl-C was pressed meanwhile.
    pub(crate) fn around<T>(&self, entry: impl FnOnce() -> T) -> (T, bool) {
        self.pressed.store(false, Ordering::SeqCst);
        let result = entry();
        (result, self.pressed.swap(false, Ordering::SeqCst))
    }
}
