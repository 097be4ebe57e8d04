//! A `metrics` recorder that keeps only the journal writer's metrics (group
//! commit size, flush and sync time, bytes), the claims' time to decision
//! and the admission rejections, so the hot path pays one string compare.
//! The measurement window reads them.

use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

/// The process-wide recorder; install it once with `metrics::set_global_recorder`.
pub(crate) struct BenchRecorder;

/// A histogram fed by `metrics`, values multiplied by `scale` first.
struct HistFn {
    scale: f64,
    h: Mutex<Histogram<u64>>,
}

impl metrics::HistogramFn for HistFn {
    fn record(&self, value: f64) {
        if let Ok(mut h) = self.h.lock() {
            h.saturating_record((value * self.scale).max(0.0) as u64);
        }
    }
}

impl HistFn {
    /// An empty histogram recording `value * scale` (1e6: seconds to µs).
    fn new(scale: f64) -> Arc<HistFn> {
        Arc::new(HistFn {
            scale,
            h: Mutex::new(Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds")),
        })
    }
}

static JOURNAL_BYTES: LazyLock<Arc<AtomicU64>> = LazyLock::new(|| Arc::new(AtomicU64::new(0)));
/// Flush time of one group commit, in microseconds.
static JOURNAL_FLUSH_US: LazyLock<Arc<HistFn>> = LazyLock::new(|| HistFn::new(1e6));
/// Records per group commit.
static JOURNAL_BATCH: LazyLock<Arc<HistFn>> = LazyLock::new(|| HistFn::new(1.0));
/// Sync time of one group commit (`fdatasync` of the log, then the mark), us.
static JOURNAL_SYNC_US: LazyLock<Arc<HistFn>> = LazyLock::new(|| HistFn::new(1e6));
/// Time from a claim's admission to its decision (before durability), us.
static CLAIM_DECIDE_US: LazyLock<Arc<HistFn>> = LazyLock::new(|| HistFn::new(1e6));
static ADMISSION_REJECTED: LazyLock<Arc<AtomicU64>> = LazyLock::new(|| Arc::new(AtomicU64::new(0)));

/// Journal record payload bytes written so far.
pub(crate) fn journal_bytes() -> u64 {
    JOURNAL_BYTES.load(Ordering::Relaxed)
}

/// Empties the flush-time and commit-size histograms.
pub(crate) fn reset_journal_histograms() {
    JOURNAL_FLUSH_US.h.lock().unwrap().reset();
    JOURNAL_BATCH.h.lock().unwrap().reset();
    JOURNAL_SYNC_US.h.lock().unwrap().reset();
    CLAIM_DECIDE_US.h.lock().unwrap().reset();
}

/// Sync time per group commit (us) since the last reset.
pub(crate) fn journal_sync_us() -> Histogram<u64> {
    JOURNAL_SYNC_US.h.lock().unwrap().clone()
}

/// Claim admission-to-decision time (us) since the last reset.
pub(crate) fn claim_decide_us() -> Histogram<u64> {
    CLAIM_DECIDE_US.h.lock().unwrap().clone()
}

/// Flush time per group commit (us) since the last reset.
pub(crate) fn journal_flush_us() -> Histogram<u64> {
    JOURNAL_FLUSH_US.h.lock().unwrap().clone()
}

/// Records per group commit since the last reset.
pub(crate) fn journal_batch() -> Histogram<u64> {
    JOURNAL_BATCH.h.lock().unwrap().clone()
}

impl metrics::Recorder for BenchRecorder {
    fn describe_counter(&self, _: metrics::KeyName, _: Option<metrics::Unit>, _: metrics::SharedString) {}
    fn describe_gauge(&self, _: metrics::KeyName, _: Option<metrics::Unit>, _: metrics::SharedString) {}
    fn describe_histogram(&self, _: metrics::KeyName, _: Option<metrics::Unit>, _: metrics::SharedString) {}
    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        match key.name() {
            "trove_journal_bytes_total" => metrics::Counter::from_arc(JOURNAL_BYTES.clone()),
            "trove_admission_rejected_total" => metrics::Counter::from_arc(ADMISSION_REJECTED.clone()),
            _ => metrics::Counter::noop(),
        }
    }
    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }
    fn register_histogram(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Histogram {
        match key.name() {
            "trove_journal_flush_seconds" => metrics::Histogram::from_arc(JOURNAL_FLUSH_US.clone()),
            "trove_journal_batch_records" => metrics::Histogram::from_arc(JOURNAL_BATCH.clone()),
            "trove_journal_sync_seconds" => metrics::Histogram::from_arc(JOURNAL_SYNC_US.clone()),
            "trove_claim_decide_seconds" => metrics::Histogram::from_arc(CLAIM_DECIDE_US.clone()),
            _ => metrics::Histogram::noop(),
        }
    }
}
