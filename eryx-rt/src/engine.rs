//! wasmtime engines, their fingerprints, and the ticker that drives timeouts.
//!
//! Compiled code belongs to the engine configuration that made it, so a [`Runtime`](crate::Runtime)
//! keeps one engine per configuration it needs: a plain one (epoch interruption only) for most
//! sandboxes, and one that also meters fuel, made only when a sandbox asks for a fuel budget:
//! fuel metering costs every sandbox CPU time even when it is never used. [`fingerprint`] goes
//! into every cache key, so code compiled for both engines lives side by side in one cache.

use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::{Config, Engine};

use crate::error::BuildError;

/// How often the epoch advances; timeouts are rounded up to a multiple of it.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Whether an engine's code counts fuel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Metering {
    /// Epoch interruption only (timeouts); no fuel.
    Off,
    /// Fuel metering as well, for sandboxes with a fuel budget.
    Fuel,
}

/// Creates an engine and starts its epoch ticker (a thread that ends with the engine).
pub(crate) fn new_engine(metering: Metering) -> Result<Engine, BuildError> {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.consume_fuel(metering == Metering::Fuel);
    config.wasm_component_model(true);
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    let engine = Engine::new(&config).map_err(BuildError::Engine)?;
    let ticker = engine.weak();
    std::thread::Builder::new()
        .name("eryx-epoch".into())
        .spawn(move || {
            while let Some(engine) = ticker.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .map_err(|source| BuildError::Thread { what: "the epoch ticker", source })?;
    Ok(engine)
}

/// Identifies everything about `engine` that compiled code depends on (the wasmtime version,
/// the configuration and the CPU features it compiles for), as hex.
pub(crate) fn fingerprint(engine: &Engine) -> String {
    let mut hasher = Sha256Hasher(Sha256::new());
    std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut hasher);
    hex::encode(hasher.0.finalize())
}

/// Feeds `Hash` implementations into SHA-256, which, unlike `DefaultHasher`, is stable.
struct Sha256Hasher(Sha256);

impl std::hash::Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        unreachable!("only the SHA-256 state is read")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuel_changes_the_fingerprint() {
        let plain = new_engine(Metering::Off).unwrap();
        let fuel = new_engine(Metering::Fuel).unwrap();
        assert_eq!(fingerprint(&plain), fingerprint(&new_engine(Metering::Off).unwrap()));
        assert_ne!(fingerprint(&plain), fingerprint(&fuel));
    }
}
