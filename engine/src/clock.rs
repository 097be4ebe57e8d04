//! Time as the engine sees it. Injected so simulations can run on a virtual
//! clock and tests can open and close hunts deterministically.

use crate::model::Millis;
use std::sync::atomic::{AtomicI64, Ordering};

/// The engine's source of "now": it decides whether a hunt is open for a clue
/// find or a claim. [`SystemClock`] in production, [`ManualClock`] in tests
/// and simulations. A journal implementation may share the same clock.
pub trait Clock: Send + Sync + 'static {
    /// The current time, in Unix milliseconds.
    fn now_ms(&self) -> Millis;
}

/// Wall-clock time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> Millis {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as Millis)
    }
}

/// A clock that moves only when told to.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock standing at `start` (Unix milliseconds).
    pub fn new(start: Millis) -> Self {
        ManualClock(AtomicI64::new(start))
    }

    /// Moves the clock to `now`, also backwards.
    pub fn set(&self, now: Millis) {
        self.0.store(now, Ordering::SeqCst);
    }

    /// Moves the clock `by` milliseconds forward (backward if negative).
    pub fn advance(&self, by: Millis) {
        self.0.fetch_add(by, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}
