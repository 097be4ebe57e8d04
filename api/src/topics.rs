//! The latest value of each server-sampled push topic (`stats`, `hunts`)
//! and the last consistency check: what the sampler (module `live`)
//! publishes and WebSocket subscriptions (module `ws`) read. Plain shared
//! state, so neither of those modules depends on the other.

use parking_lot::Mutex;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::sync::watch;
use trove_protocol::{ConsistencyReport, ConsistencyRun, HuntsPush, StatsPush};

/// The latest value of each topic (subscription 0: each subscriber stamps
/// its own id), and the last consistency check.
pub(crate) struct Live {
    pub(crate) stats: watch::Sender<Option<Arc<StatsPush>>>,
    pub(crate) hunts: watch::Sender<Option<Arc<HuntsPush>>>,
    consistency: Mutex<Option<ConsistencyRun>>,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            stats: watch::channel(None).0,
            hunts: watch::channel(None).0,
            consistency: Mutex::new(None),
        }
    }
}

impl Live {
    /// Keeps `report` as the last consistency check (startup or on request).
    pub(crate) fn record_consistency(&self, report: &ConsistencyReport) {
        let at = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        *self.consistency.lock() = Some(ConsistencyRun {
            at,
            report: report.clone(),
        });
    }

    /// The last consistency check, if one ran.
    pub(crate) fn last_consistency(&self) -> Option<ConsistencyRun> {
        self.consistency.lock().clone()
    }
}
