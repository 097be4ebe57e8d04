//! Scenario `projection`: the leaderboard projection (`trove-readmodel`)
//! alone, without a journal or a server. It builds a journal's worth of
//! records in memory (the hunt definitions, then `--events-per-player`
//! events for each of `--players` players in a shuffled order, about a third
//! of them finding a clue), then applies them to a fresh
//! `ProjectionState` `--runs` times, publishing the changed boards every
//! `--refresh-every` records as the server's refresh does. It reports the
//! time per applied record (apply only, and with publishing amortized), the
//! time of one publication, and the RSS the projection and its published
//! boards hold per player (first run). No target: issue 11 compares it
//! across commits. A digest of the final boards shows that two builds rank
//! the same.

use crate::cli::{Common, ProjectionOpts};
use crate::emit::emit;
use crate::proc::rss_bytes;
use crate::workload::{hunt_def, Gen, Names};
use anyhow::Result;
use rand::seq::SliceRandom;
use serde_json::json;
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Instant;
use trove_engine::{Record, Seq};
use trove_persistence::Item;
use trove_readmodel::leaderboard::Board;
use trove_readmodel::state::ProjectionState;

/// What a run holds at its end: the state and the boards it published.
type Held = (ProjectionState, HashMap<String, Arc<Board>>);

/// What one run measured.
struct RunResult {
    /// Seconds spent in `apply_item`.
    apply_s: f64,
    /// Seconds of each publication.
    publish_s: Vec<f64>,
    /// Digest of the final boards (rank, player, score of every entry).
    digest: u64,
    /// Entries on the final boards.
    ranked: usize,
}

impl RunResult {
    fn publish_total(&self) -> f64 {
        self.publish_s.iter().sum()
    }
}

/// Runs the scenario.
pub(crate) fn run(o: &Common, p: &ProjectionOpts) -> Result<()> {
    let items = build(o, p);
    let records = items.len();
    println!(
        "projection: {} players x {} events over {} hunt(s) = {records} records; publish every {} records; {} runs",
        o.players, p.events_per_player, p.hunts, p.refresh_every, p.runs
    );
    let rss0 = rss_bytes();
    let mut runs = Vec::new();
    let mut rss_per_player = 0.0;
    for r in 0..p.runs {
        let (res, held) = run_once(&items, p.refresh_every)?;
        if r == 0 {
            rss_per_player = rss_bytes().saturating_sub(rss0) as f64 / o.players as f64;
        }
        drop(held);
        let n = records as f64;
        println!(
            "  run {}: apply {:.1} ns/record; {} publications, mean {:.2} ms, max {:.2} ms; with publishing {:.1} ns/record; {} ranked, digest {:016x}",
            r + 1,
            res.apply_s * 1e9 / n,
            res.publish_s.len(),
            res.publish_total() * 1e3 / res.publish_s.len() as f64,
            res.publish_s.iter().copied().fold(0.0, f64::max) * 1e3,
            (res.apply_s + res.publish_total()) * 1e9 / n,
            res.ranked,
            res.digest
        );
        runs.push(res);
    }
    report(o, p, records, &runs, rss_per_player);
    Ok(())
}

/// The hunt definitions, then the shuffled events, as journal items.
fn build(o: &Common, p: &ProjectionOpts) -> Vec<Item> {
    let names = Names::new(o);
    let mut gen = Gen::new(&names, o.seed, 11_000);
    let hunt_ids: Vec<String> = (0..p.hunts)
        .map(|h| {
            if h == 0 {
                hunt_def(o).id
            } else {
                format!("{}-{h}", hunt_def(o).id)
            }
        })
        .collect();
    let mut items: Vec<Item> = hunt_ids
        .iter()
        .map(|id| {
            let mut def = hunt_def(o);
            def.id.clone_from(id);
            Item::Record(Record::HuntDefined(def))
        })
        .collect();
    let mut order: Vec<usize> = (0..o.players)
        .flat_map(|i| std::iter::repeat_n(i, p.events_per_player))
        .collect();
    order.shuffle(&mut gen.rng);
    items.extend(order.into_iter().map(|i| {
        let mut ev = gen.event(i);
        ev.hunt.clone_from(&hunt_ids[i % p.hunts]);
        Item::Record(Record::Event(ev))
    }));
    items
}

/// Applies every item to a fresh state, publishing every `refresh_every`
/// items and at the end. Returns the result and what it holds (the state
/// and its published boards), for the caller to measure and drop.
fn run_once(items: &[Item], refresh_every: usize) -> Result<(RunResult, Held)> {
    let mut st = ProjectionState::default();
    let mut boards: HashMap<String, Arc<Board>> = HashMap::new();
    let mut apply_s = 0.0;
    let mut publish_s = Vec::new();
    let mut seq: Seq = 0;
    for chunk in items.chunks(refresh_every) {
        let t = Instant::now();
        for item in chunk {
            seq += 1;
            st.apply_item(seq, item)?;
        }
        apply_s += t.elapsed().as_secs_f64();
        let t = Instant::now();
        // What `Projection::publish` does with them.
        for (id, b) in st.take_changed_boards() {
            boards.insert(id, b);
        }
        publish_s.push(t.elapsed().as_secs_f64());
    }
    let mut ids: Vec<&String> = boards.keys().collect();
    ids.sort();
    let mut h = DefaultHasher::new();
    let mut ranked = 0;
    for id in ids {
        id.hash(&mut h);
        for (rank, player, score) in boards[id].query(usize::MAX, None) {
            (rank, &*player, score).hash(&mut h);
            ranked += 1;
        }
    }
    let res = RunResult {
        apply_s,
        publish_s,
        digest: h.finish(),
        ranked,
    };
    Ok((res, (st, boards)))
}

/// The median of `v` (not empty).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Prints the summary and the JSON line.
fn report(o: &Common, p: &ProjectionOpts, records: usize, runs: &[RunResult], rss_per_player: f64) {
    let n = records as f64;
    let apply_ns: Vec<f64> = runs.iter().map(|r| r.apply_s * 1e9 / n).collect();
    let total_ns: Vec<f64> = runs.iter().map(|r| (r.apply_s + r.publish_total()) * 1e9 / n).collect();
    let publish_ms: Vec<f64> = runs
        .iter()
        .map(|r| r.publish_total() * 1e3 / r.publish_s.len() as f64)
        .collect();
    let max_publish_ms: Vec<f64> = runs
        .iter()
        .map(|r| r.publish_s.iter().copied().fold(0.0, f64::max) * 1e3)
        .collect();
    let (a, t, pm) = (
        median(apply_ns.clone()),
        median(total_ns.clone()),
        median(publish_ms.clone()),
    );
    println!(
        "\n== projection ==\n  apply: median {a:.1} ns/record ({} runs)\n  publish: median {pm:.2} ms per publication (every {} records)\n  apply + publish: median {t:.1} ns/record\n  RSS of the projection and its boards: {rss_per_player:.0} bytes/player",
        runs.len(),
        p.refresh_every
    );
    emit(
        o,
        json!({
            "scenario": "projection",
            "records": records,
            "players": o.players,
            "clues": o.clues,
            "hunts": p.hunts,
            "events_per_player": p.events_per_player,
            "refresh_every": p.refresh_every,
            "apply_ns_per_record": {"median": a, "runs": apply_ns},
            "apply_and_publish_ns_per_record": {"median": t, "runs": total_ns},
            "publish_ms_mean": {"median": pm, "runs": publish_ms},
            "publish_ms_max": max_publish_ms,
            "rss_bytes_per_player": rss_per_player,
            "board_digest": format!("{:016x}", runs[0].digest),
            "ranked": runs[0].ranked,
        }),
    );
}
