//! The tailer: a [`Projection`] reads the durable journal after what it has
//! applied (`Store::read_after`), feeds each entry to its
//! [`ProjectionState`], and publishes the changed rankings as immutable
//! [`Board`]s that queries read without locking the state.
//!
//! The server calls [`Projection::refresh`] every [`REFRESH_INTERVAL`];
//! together with the journal's group commit this keeps the boards well under
//! 500 ms behind. An entry that does not apply stops the projection for good
//! ([`Projection::failure`]): readiness and the consistency check report it.

use crate::checkpoint;
use crate::error::{CheckpointError, ReadModelError};
use crate::leaderboard::Board;
use crate::state::ProjectionState;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use trove_engine::{Engine, Seq, World};
use trove_persistence::Store;

/// How often the projection catches up with the durable journal. Together with
/// the journal's group commit this keeps it well under 500 ms behind.
pub const REFRESH_INTERVAL: Duration = Duration::from_millis(200);
/// Records read per journal read.
pub const READ_CHUNK: usize = 4096;

/// The leaderboard projection of one store's journal: its state behind an
/// async lock, and the boards last published from it.
pub struct Projection {
    store: Arc<Store>,
    state: tokio::sync::Mutex<ProjectionState>,
    boards: RwLock<HashMap<String, Arc<Board>>>,
    published_seq: AtomicU64,
    /// Set when the journal could not be applied (a bug or damage); reported
    /// by the consistency check and readiness.
    failure: RwLock<Option<String>>,
}

impl Projection {
    /// An empty projection of `store`'s journal (nothing applied yet).
    pub fn new(store: Arc<Store>) -> Arc<Projection> {
        Arc::new(Projection {
            store,
            state: tokio::sync::Mutex::new(ProjectionState::default()),
            boards: RwLock::new(HashMap::new()),
            published_seq: AtomicU64::new(0),
            failure: RwLock::new(None),
        })
    }

    /// The journal sequence the published boards include.
    pub fn as_of_seq(&self) -> Seq {
        self.published_seq.load(Ordering::Acquire)
    }

    /// Why the projection stopped, if it did.
    pub fn failure(&self) -> Option<String> {
        self.failure.read().clone()
    }

    /// The last published board of `hunt`, if the journal defined it.
    pub fn board(&self, hunt: &str) -> Option<Arc<Board>> {
        self.boards.read().get(hunt).cloned()
    }

    /// The first `limit` hunts in id order with their counts, whether more
    /// exist, and the sequence they include (module `summary`).
    pub async fn hunt_summaries(&self, limit: usize) -> (Seq, bool, Vec<trove_protocol::HuntSummary>) {
        let st = self.state.lock().await;
        let (hunts, truncated) = st.hunt_summaries(limit);
        (st.applied(), truncated, hunts)
    }

    /// The store whose journal this projection tails.
    pub(crate) fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Loads the checkpoint in `dir` if it matches this journal's history,
    /// then applies the journal after it. Returns the sequence it started
    /// from (0 = rebuilt from the start) and why a checkpoint was not used.
    pub async fn start_from_checkpoint(&self, dir: &Path) -> (Seq, Option<CheckpointError>) {
        let dir = dir.to_path_buf();
        let store = self.store.clone();
        let loaded = tokio::task::spawn_blocking(move || checkpoint::load(&dir, &store))
            .await
            .unwrap_or_else(|e| Err(CheckpointError::Io(format!("checkpoint reader panicked: {e}"))));
        match loaded {
            Ok(Some(st)) => {
                let from = st.applied();
                *self.state.lock().await = st;
                (from, None)
            }
            Ok(None) => (0, None),
            Err(why) => (0, Some(why)),
        }
    }

    /// Writes a checkpoint of the projection (temporary file, fsync, rename)
    /// and returns its sequence.
    pub async fn save(&self, dir: &Path) -> Result<Seq, CheckpointError> {
        let st = self.state.lock().await;
        let seq = st.applied();
        let hash = self.store.block_hash_at(seq)?;
        let bytes = checkpoint::encode(&st, &hash)?;
        drop(st);
        let dir = dir.to_path_buf();
        tokio::task::spawn_blocking(move || checkpoint::write(&dir, &bytes))
            .await
            .map_err(|e| CheckpointError::Io(e.to_string()))??;
        Ok(seq)
    }

    /// Applies every durable record not yet applied, then publishes.
    pub async fn refresh(&self) -> Result<(), ReadModelError> {
        let mut st = self.state.lock().await;
        self.advance(&mut st, None).await
    }

    /// Takes a consistent dump of the engine, brings the projection to exactly
    /// the dump's sequence, and hands both to `compare`. Returns the dump for
    /// further checks.
    pub(crate) async fn at_engine_dump<T>(
        &self,
        engine: &Engine,
        compare: impl FnOnce(&ProjectionState, &World) -> T,
    ) -> Result<(World, T), ReadModelError> {
        // Holding the projection lock keeps it from moving past the dump.
        let mut st = self.state.lock().await;
        let world = engine.dump().await?;
        self.advance(&mut st, Some(world.last_seq)).await?;
        let out = compare(&st, &world);
        Ok((world, out))
    }

    async fn advance(&self, st: &mut ProjectionState, upto: Option<Seq>) -> Result<(), ReadModelError> {
        if let Some(f) = self.failure() {
            return Err(ReadModelError::Stopped(f));
        }
        let result = self.advance_inner(st, upto).await;
        if let Err(e) = &result {
            tracing::error!(error = %e, "leaderboard projection stopped");
            *self.failure.write() = Some(e.to_string());
        }
        self.publish(st);
        result
    }

    async fn advance_inner(&self, st: &mut ProjectionState, upto: Option<Seq>) -> Result<(), ReadModelError> {
        loop {
            if upto.is_some_and(|u| st.applied() >= u) {
                return Ok(());
            }
            let after = st.applied();
            let store = self.store.clone();
            let records = tokio::task::spawn_blocking(move || store.read_after(after, READ_CHUNK))
                .await
                .map_err(|e| ReadModelError::ReaderPanicked(e.to_string()))?
                .map_err(ReadModelError::JournalRead)?;
            let n = records.len();
            for (seq, _, record) in records {
                if upto.is_some_and(|u| seq > u) {
                    return Ok(());
                }
                st.apply_item(seq, &record)?;
            }
            if n < READ_CHUNK {
                return Ok(());
            }
        }
    }

    fn publish(&self, st: &mut ProjectionState) {
        let changed = st.take_changed_boards();
        if !changed.is_empty() {
            let mut boards = self.boards.write();
            for (id, b) in changed {
                boards.insert(id, b);
            }
        }
        self.published_seq.store(st.applied(), Ordering::Release);
        metrics::gauge!("trove_projection_seq").set(st.applied() as f64);
    }
}
