//! Ctrl-C while a REPL entry runs: the terminal is in its normal mode then, so Ctrl-C is a
//! SIGINT, which would otherwise end eryx and the whole session.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What the banner says about Ctrl-C.
pub const HELP: &str = "Ctrl-C clears the line; a running entry goes on until its time limit.";

/// Catches SIGINT for the life of the REPL.
pub struct Interrupts {
    pressed: Arc<AtomicBool>,
}

impl Interrupts {
    pub fn install() -> anyhow::Result<Self> {
        let pressed = Arc::new(AtomicBool::new(false));
        let flag = pressed.clone();
        ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))?;
        Ok(Interrupts { pressed })
    }

    /// Runs one entry; a Ctrl-C meanwhile is reported once it has finished.
    pub fn while_running<T>(&self, entry: impl FnOnce() -> T) -> T {
        self.pressed.store(false, Ordering::SeqCst);
        let result = entry();
        if self.pressed.swap(false, Ordering::SeqCst) {
            eprintln!("eryx: Ctrl-C cannot stop a running entry; it ran until it finished");
        }
        result
    }
}
