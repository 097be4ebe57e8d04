//! Latency histograms and their summary (percentiles, max, mean) as printed
//! and as emitted in the JSON lines.

use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::time::Instant;

/// A histogram for latencies in microseconds, up to 10 minutes.
pub(crate) fn lat_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid bounds")
}

/// Microseconds since `t`.
pub(crate) fn us_since(t: Instant) -> u64 {
    t.elapsed().as_micros() as u64
}

/// Count, percentiles, max and mean of one histogram.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct HistSummary {
    pub(crate) count: u64,
    pub(crate) p50: u64,
    pub(crate) p99: u64,
    pub(crate) p999: u64,
    pub(crate) max: u64,
    pub(crate) mean: f64,
}

impl HistSummary {
    /// The summary of `h` (all zero when it is empty).
    pub(crate) fn of(h: &Histogram<u64>) -> HistSummary {
        if h.is_empty() {
            return HistSummary::default();
        }
        HistSummary {
            count: h.len(),
            p50: h.value_at_quantile(0.5),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: h.mean(),
        }
    }

    /// `{"count", "p50", "p99", "p999", "max", "mean"}`.
    pub(crate) fn json(&self) -> Value {
        json!({"count": self.count, "p50": self.p50, "p99": self.p99, "p999": self.p999, "max": self.max, "mean": self.mean})
    }

    /// One line for the human-readable report, in microseconds.
    pub(crate) fn line(&self) -> String {
        format!(
            "p50 {} us, p99 {} us, p99.9 {} us, max {} us (n = {})",
            self.p50, self.p99, self.p999, self.max, self.count
        )
    }
}
