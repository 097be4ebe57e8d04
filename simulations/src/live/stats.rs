//! Per-operation counts and latencies: [`OpStats`] counts requests offered
//! and answered and keeps an HdrHistogram of latencies (microseconds, from the
//! intended send time); [`OpStats::load`] turns it into the report's
//! [`OpLoad`].

use crate::report::{r4, OpLoad};
use hdrhistogram::Histogram;
use tokio::time::Instant;

/// Latencies are clamped to an hour (the histogram's upper bound), in µs.
const MAX_MICROS: u64 = 3_600_000_000;

/// Counts and latencies of one operation (`events` or `claim`).
pub(crate) struct OpStats {
    /// Requests sent.
    pub(crate) offered: u64,
    /// Requests answered with success.
    pub(crate) ok: u64,
    /// Requests answered with an error.
    pub(crate) error: u64,
    hist: Histogram<u64>,
}

impl OpStats {
    pub(crate) fn new() -> OpStats {
        OpStats {
            offered: 0,
            ok: 0,
            error: 0,
            hist: Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid bounds"),
        }
    }

    /// Records one answer's latency: from `intended` (the schedule's send
    /// time, not the actual one) to `at` (its arrival), at least 1 µs.
    pub(crate) fn latency(&mut self, intended: Instant, at: Instant) {
        let micros = u64::try_from(at.saturating_duration_since(intended).as_micros()).unwrap_or(MAX_MICROS);
        let _ = self.hist.record(micros.clamp(1, MAX_MICROS));
    }

    /// The report's row: offered rates per second played (`send_secs`),
    /// accepted rates per second until the last answer (`answer_secs`),
    /// quantiles in ms.
    pub(crate) fn load(&self, name: &str, no_answer: u64, send_secs: f64, answer_secs: f64) -> OpLoad {
        let ms = |micros: u64| {
            if self.hist.is_empty() {
                0.0
            } else {
                r4(micros as f64 / 1000.0)
            }
        };
        let q = |p: f64| ms(self.hist.value_at_quantile(p));
        OpLoad {
            op: name.to_owned(),
            offered: self.offered,
            answered_ok: self.ok,
            answered_error: self.error,
            no_answer,
            offered_per_sec: r4(self.offered as f64 / send_secs),
            accepted_per_sec: r4(self.ok as f64 / answer_secs),
            p50_ms: q(0.5),
            p90_ms: q(0.9),
            p99_ms: q(0.99),
            p999_ms: q(0.999),
            max_ms: ms(self.hist.max()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn latency_is_from_the_intended_time() {
        let mut s = OpStats::new();
        s.offered = 2;
        s.ok = 2;
        let t = Instant::now();
        s.latency(t, t + Duration::from_millis(4));
        s.latency(t + Duration::from_millis(1), t);
        let l = s.load("events", 0, 2.0, 4.0);
        assert_eq!((l.offered_per_sec, l.accepted_per_sec), (1.0, 0.5));
        assert!((3.9..=4.1).contains(&l.max_ms), "{}", l.max_ms);
        assert!(
            l.p50_ms <= 0.01,
            "an answer before its time counts as 1 µs: {}",
            l.p50_ms
        );
        assert_eq!(OpStats::new().load("claim", 1, 1.0, 1.0).p99_ms, 0.0);
    }
}
