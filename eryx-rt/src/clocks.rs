//! The clocks a guest reads: fixed ones while a snapshot is made, the host's afterwards.
//!
//! A snapshot must carry nothing of the build host's time, and a restored sandbox must never
//! see its clocks go backwards. So while pre-initialising, the guest reads fixed clocks that
//! advance only by its own readings ([`PreinitWallClock`], [`PreinitMonotonicClock`]); a
//! sandbox reads the host's wall clock, and a monotonic clock ([`SandboxMonotonicClock`]) that
//! starts above every reading a snapshot can hold.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wasmtime_wasi::{HostMonotonicClock, HostWallClock};

/// Where the pre-initialising guest's monotonic clock stops: the snapshot holds no reading
/// above it, and a sandbox's monotonic clock starts there.
const MONOTONIC_CEILING_NS: u64 = 1_000_000_000;
/// How far the pre-initialising guest's clocks advance per reading.
const CLOCK_STEP_NS: u64 = 1_000;
/// The pre-initialising guest's wall clock: 2000-01-01T00:00:00Z plus its readings.
const PREINIT_WALL_CLOCK_START: Duration = Duration::from_secs(946_684_800);

/// The pre-initialising guest's wall clock: fixed, advancing only by its own readings.
#[derive(Default)]
pub(crate) struct PreinitWallClock {
    readings: AtomicU64,
}

impl HostWallClock for PreinitWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(CLOCK_STEP_NS)
    }

    fn now(&self) -> Duration {
        PREINIT_WALL_CLOCK_START + Duration::from_nanos(self.readings.fetch_add(1, Ordering::Relaxed) * CLOCK_STEP_NS)
    }
}

/// The pre-initialising guest's monotonic clock: starts at 0, advances by its own readings and
/// stops below [`MONOTONIC_CEILING_NS`].
#[derive(Default)]
pub(crate) struct PreinitMonotonicClock {
    readings: AtomicU64,
}

impl HostMonotonicClock for PreinitMonotonicClock {
    fn resolution(&self) -> u64 {
        CLOCK_STEP_NS
    }

    fn now(&self) -> u64 {
        let reading = self.readings.fetch_add(1, Ordering::Relaxed).saturating_mul(CLOCK_STEP_NS);
        reading.min(MONOTONIC_CEILING_NS - CLOCK_STEP_NS)
    }
}

/// A sandbox's monotonic clock: the host's, counted from the sandbox's creation and starting
/// at [`MONOTONIC_CEILING_NS`], above any reading a snapshot holds.
pub(crate) struct SandboxMonotonicClock {
    created: Instant,
}

impl SandboxMonotonicClock {
    pub(crate) fn new() -> Self {
        SandboxMonotonicClock { created: Instant::now() }
    }
}

impl HostMonotonicClock for SandboxMonotonicClock {
    fn resolution(&self) -> u64 {
        1
    }

    fn now(&self) -> u64 {
        MONOTONIC_CEILING_NS.saturating_add(self.created.elapsed().as_nanos().try_into().unwrap_or(u64::MAX))
    }
}
