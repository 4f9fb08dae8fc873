//! wasmtime engines, their fingerprints, and the ticker that drives timeouts.
//!
//! Compiled code belongs to the engine configuration that made it, so a [`Runtime`](crate::Runtime)
//! keeps one engine per configuration it needs: a plain one (epoch interruption only) for most
//! sandboxes, and one that also meters fuel, made only when a sandbox asks for a fuel budget:
//! fuel metering costs every sandbox CPU time even when it is never used. [`fingerprint`] goes
//! into every cache key, so code compiled for both engines lives side by side in one cache.

use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

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

/// How an engine allocates instances.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Allocation {
    /// Memories and instances are mapped when a sandbox is created and unmapped when it is
    /// dropped (wasmtime's default): no limit on how many sandboxes live at once.
    #[default]
    OnDemand,
    /// wasmtime's pooling allocator, with slots for this many live sandboxes: address space is
    /// reserved up front and slots are reused; a sandbox beyond the limit fails to build.
    Pooling { max_sandboxes: u32 },
}

/// Per sandbox, what the pool reserves: eryx components hold one core instance per linked
/// library plus wit-component's shims (about 20), one linear memory and one function table,
/// whose size grows with the code linked in (CPython's alone has thousands of entries).
const CORE_INSTANCES_PER_SANDBOX: u32 = 48;
const MEMORIES_PER_SANDBOX: u32 = 2;
const TABLES_PER_SANDBOX: u32 = 4;
const TABLE_ELEMENTS: usize = 1 << 20;
const CORE_INSTANCE_SIZE: usize = 16 << 20;

/// The native stack guest code may use. CPython guards its C recursion (nested JSON, `repr`
/// of nested lists, the parser) by the guest's own stack, which is about 1 MiB of linear
/// memory; wasmtime's default of 512 KiB of native stack ran out first, so deep C recursion
/// trapped instead of raising `RecursionError`. With room for the guest's whole stack, CPython's
/// own check fires first.
const MAX_WASM_STACK: usize = 32 << 20;
/// What the host functions called from guest code may use on a fiber beyond the guest's stack.
const ASYNC_STACK_HEADROOM: usize = 1 << 20;

/// Creates an engine and starts its epoch ticker (a thread that ends with the engine).
pub(crate) fn new_engine(metering: Metering, allocation: Allocation) -> Result<Engine, BuildError> {
    let engine = Engine::new(&config(metering, allocation)).map_err(BuildError::Engine)?;
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

/// The configuration of every engine eryx makes (the precompiler's too, so that its code
/// loads into a runtime's plain engine: wasmtime compares the settings that code depends on).
pub(crate) fn config(metering: Metering, allocation: Allocation) -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.consume_fuel(metering == Metering::Fuel);
    config.wasm_component_model(true);
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    // Indirect calls (CPython's type slots, PyObject_Malloc's hook: several per bytecode) skip
    // the lazy-initialisation test. Measured: the pure-Python loop 4-8% faster, and no start-up
    // cost from filling the tables at instantiation (`eryx -c pass`, bench/ANALYSIS.md).
    config.table_lazy_init(false);
    config.max_wasm_stack(MAX_WASM_STACK);
    config.async_stack_size(MAX_WASM_STACK + ASYNC_STACK_HEADROOM);
    if let Allocation::Pooling { max_sandboxes } = allocation {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(max_sandboxes)
            .total_core_instances(max_sandboxes.saturating_mul(CORE_INSTANCES_PER_SANDBOX))
            .total_memories(max_sandboxes.saturating_mul(MEMORIES_PER_SANDBOX))
            .total_tables(max_sandboxes.saturating_mul(TABLES_PER_SANDBOX))
            .table_elements(TABLE_ELEMENTS)
            .max_core_instance_size(CORE_INSTANCE_SIZE)
            .max_component_instance_size(CORE_INSTANCE_SIZE);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
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
        let plain = new_engine(Metering::Off, Allocation::OnDemand).unwrap();
        let fuel = new_engine(Metering::Fuel, Allocation::OnDemand).unwrap();
        assert_eq!(fingerprint(&plain), fingerprint(&new_engine(Metering::Off, Allocation::OnDemand).unwrap()));
        assert_ne!(fingerprint(&plain), fingerprint(&fuel));
    }
}
