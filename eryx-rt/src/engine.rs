//! The one wasmtime [`Engine`] of the process and the ticker that drives timeouts.
//!
//! Every sandbox shares the engine (compiled code is shared through it) and its configuration
//! is fixed, because precompiled artifacts are only valid for the configuration that made
//! them: [`config_fingerprint`] goes into every cache key.

use std::sync::OnceLock;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::{Config, Engine};

/// How often the epoch advances; timeouts are rounded up to a multiple of it.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The process-wide engine. The first call starts the epoch ticker thread.
pub(crate) fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let engine = Engine::new(&config()).expect("the eryx engine configuration is valid");
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
            .expect("can start the eryx epoch thread");
        engine
    })
}

fn config() -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.consume_fuel(true);
    config.wasm_component_model(true);
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    config
}

/// Identifies everything about the engine that a precompiled artifact depends on (the
/// wasmtime version, the configuration and the CPU features it compiles for), as hex.
pub(crate) fn config_fingerprint() -> &'static str {
    static FINGERPRINT: OnceLock<String> = OnceLock::new();
    FINGERPRINT.get_or_init(|| {
        let mut hasher = Sha256Hasher(Sha256::new());
        std::hash::Hash::hash(&engine().precompile_compatibility_hash(), &mut hasher);
        hex::encode(hasher.0.finalize())
    })
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
