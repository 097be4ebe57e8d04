//! The ledger under contention: many tasks on two nodes take and return
//! units of one product at once; no unit is created or lost.

use crate::etcd::Etcd;
use etcd_client::GetOptions;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::time::Duration;
use trove_cluster::{lease, Allotment, Cluster, ClusterError};

const STOCK: u64 = 100;
const TASKS: u64 = 32;
const PARTITIONS: u32 = 8;
const ROUNDS: u64 = 3;
/// Returns per returning task, so the ledger eventually drains.
const RETURNS: u32 = 40;

/// What one task moved: units taken and returned, and its net per partition.
#[derive(Default)]
struct Tally {
    taken: u64,
    returned: u64,
    net: BTreeMap<u32, i64>,
    ops: u64,
    /// Moves refused after losing every compare-and-set retry (nothing moved).
    lost_races: u64,
}

/// `None` when the move lost all its compare-and-set races (it moved
/// nothing: every transaction was refused); any other error fails the test.
fn outcome(r: Result<Allotment, ClusterError>, what: &str) -> Option<Allotment> {
    match r {
        Ok(a) => Some(a),
        Err(ClusterError::Contended(_)) => None,
        Err(e) => panic!("{what}: {e}"),
    }
}

async fn work(node: Cluster, owned: Vec<(u32, i64)>, seed: u64, returner: bool) -> Tally {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut tally = Tally::default();
    let mut returns_left = if returner { RETURNS } else { 0 };
    loop {
        tally.ops += 1;
        assert!(tally.ops < 10_000, "task {seed} never saw the ledger empty");
        let (p, epoch) = owned[rng.gen_range(0..owned.len())];
        let want = rng.gen_range(1..=7);
        let r = node.take_units(p, epoch, "h", "gem", want).await;
        let Some(r) = outcome(r, &format!("task {seed}: take {want} for partition {p}")) else {
            tally.lost_races += 1;
            continue;
        };
        assert!(r.moved <= want, "took {} of {want}", r.moved);
        tally.taken += r.moved;
        *tally.net.entry(p).or_default() += r.moved as i64;
        if r.moved < want {
            assert_eq!(r.ledger, 0, "a short take leaves the ledger empty: {r:?}");
        }
        if returns_left > 0 && rng.gen_bool(0.5) {
            returns_left -= 1;
            let (q, epoch) = owned[rng.gen_range(0..owned.len())];
            let units = rng.gen_range(1..=5);
            let r = node.return_units(q, epoch, "h", "gem", units).await;
            let what = format!("task {seed}: return {units} from partition {q}");
            if let Some(r) = outcome(r, &what) {
                assert!(r.moved <= units, "returned {} of {units}", r.moved);
                tally.returned += r.moved;
                *tally.net.entry(q).or_default() -= r.moved as i64;
            } else {
                tally.lost_races += 1;
            }
            continue;
        }
        if r.moved == 0 {
            return tally;
        }
    }
}

/// Every partition's allotment as stored, checked to be a non-negative
/// decimal of a partition in range.
async fn stored_allotments(etcd: &Etcd, prefix: &str) -> BTreeMap<u32, i64> {
    let raw = etcd
        .client()
        .await
        .get(format!("{prefix}/alloc/h/gem/"), Some(GetOptions::new().with_prefix()))
        .await
        .expect("range");
    let mut stored = BTreeMap::new();
    for kv in raw.kvs() {
        let key = String::from_utf8_lossy(kv.key()).into_owned();
        let text = String::from_utf8_lossy(kv.value()).into_owned();
        let units: i64 = text.parse().unwrap_or_else(|_| panic!("{key}: not a number: {text:?}"));
        assert!(units >= 0, "{key} is negative: {units}");
        let p: u32 = key.rsplit('/').next().and_then(|p| p.parse().ok()).expect("partition");
        assert!(p < PARTITIONS, "{key}");
        stored.insert(p, units);
    }
    stored
}

/// Runs [`TASKS`] tasks, half on each node, until they saw the ledger empty.
async fn run_round(nodes: &[Cluster; 2], owned: &[Vec<(u32, i64)>; 2], round: u64) -> Vec<Tally> {
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let n = (i % 2) as usize;
            let seed = 0x7_0000 + round * 100 + i;
            tokio::spawn(work(nodes[n].clone(), owned[n].clone(), seed, i % 8 < 2))
        })
        .collect();
    let mut tallies = Vec::new();
    for t in tasks {
        tallies.push(t.await.expect("task"));
    }
    tallies
}

/// Each owner returns its partitions' whole allotments (`stored`).
async fn return_everything(nodes: &[Cluster; 2], owned: &[Vec<(u32, i64)>; 2], stored: &BTreeMap<u32, i64>) {
    for (n, parts) in owned.iter().enumerate() {
        for &(p, epoch) in parts {
            let had = stored.get(&p).copied().unwrap_or(0) as u64;
            let r = nodes[n]
                .return_units(p, epoch, "h", "gem", u64::MAX)
                .await
                .expect("return all");
            assert_eq!((r.moved, r.allotted), (had, 0), "partition {p}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_takes_and_returns_neither_create_nor_lose_units() {
    let Some(etcd) = Etcd::start("contention").await else {
        return;
    };
    let prefix = "/t-contention";
    let a = etcd.join(prefix, "a").await;
    let b = etcd.join(prefix, "b").await;
    let keepers: Vec<_> = [&a, &b]
        .into_iter()
        .map(|n| {
            tokio::spawn(lease::keep_alive(
                n.client(),
                n.lease_id(),
                Duration::from_secs(10),
                n.fence().clone(),
            ))
        })
        .collect();
    let nodes = [a.clone(), b.clone()];
    let mut owned: [Vec<(u32, i64)>; 2] = [Vec::new(), Vec::new()];
    for p in 0..PARTITIONS {
        let n = usize::from(p >= PARTITIONS / 2);
        let epoch = nodes[n].acquire(p).await.expect("acquire").expect("free");
        owned[n].push((p, epoch));
    }
    a.define_hunt("h", r#"{"id":"h"}"#, &[("gem".to_owned(), STOCK)])
        .await
        .expect("define");

    let (mut ops, mut lost_races) = (0, 0);
    for round in 0..ROUNDS {
        let tallies = run_round(&nodes, &owned, round).await;

        // The ledger and the allotments sum to the stock, and match exactly
        // what the tasks say they moved.
        let (ledger, allocs) = a.stock("h", "gem").await.expect("stock");
        let stored = stored_allotments(&etcd, prefix).await;
        assert_eq!(
            stored,
            allocs.iter().map(|(p, u)| (*p, *u as i64)).collect::<BTreeMap<_, _>>()
        );
        let alloc_sum: u64 = allocs.iter().map(|(_, u)| u).sum();
        assert_eq!(
            ledger + alloc_sum,
            STOCK,
            "round {round}: ledger {ledger} + allotments {allocs:?}"
        );
        let mut net: BTreeMap<u32, i64> = BTreeMap::new();
        let taken: u64 = tallies.iter().map(|t| t.taken).sum();
        let returned: u64 = tallies.iter().map(|t| t.returned).sum();
        for t in &tallies {
            for (p, n) in &t.net {
                *net.entry(*p).or_default() += n;
            }
        }
        for p in 0..PARTITIONS {
            assert_eq!(
                net.get(&p).copied().unwrap_or(0),
                stored.get(&p).copied().unwrap_or(0),
                "round {round}: partition {p}"
            );
        }
        // Every round starts with nothing allotted (the last one ends by
        // returning everything).
        assert_eq!(
            taken - returned,
            alloc_sum,
            "round {round}: taken {taken} - returned {returned}"
        );
        assert!(returned > 0, "round {round}: no task returned anything");
        let round_ops: u64 = tallies.iter().map(|t| t.ops).sum();
        let round_lost: u64 = tallies.iter().map(|t| t.lost_races).sum();
        eprintln!(
            "contention round {round}: {round_ops} moves ({round_lost} lost every race), \
             {taken} units taken, {returned} returned, ledger {ledger}"
        );
        (ops, lost_races) = (ops + round_ops, lost_races + round_lost);

        // The owners hand everything back: the ledger is whole again.
        return_everything(&nodes, &owned, &stored).await;
        assert_eq!(
            a.stock("h", "gem").await.expect("stock").0,
            STOCK,
            "round {round}: every unit is back"
        );
    }
    // Losing every retry is possible under this much contention, but rare.
    assert!(
        lost_races * 20 < ops,
        "{lost_races} of {ops} moves lost every compare-and-set race"
    );

    for k in keepers {
        k.abort();
    }
}
