//! The ledger under contention: many tasks on two nodes take and return
//! units of one product at once; no unit is created or lost.

use crate::etcd::Etcd;
use etcd_client::GetOptions;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::time::Duration;
use trove_cluster::{lease, Cluster};

const STOCK: u64 = 100;
const TASKS: u64 = 32;
const PARTITIONS: u32 = 8;
/// Returns per returning task, so the ledger eventually drains.
const RETURNS: u32 = 40;

/// What one task moved: units taken and returned, and its net per partition.
#[derive(Default)]
struct Tally {
    taken: u64,
    returned: u64,
    net: BTreeMap<u32, i64>,
    ops: u64,
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
        let r = node
            .take_units(p, epoch, "h", "gem", want)
            .await
            .unwrap_or_else(|e| panic!("task {seed}: take {want} for partition {p}: {e}"));
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
            let r = node
                .return_units(q, epoch, "h", "gem", units)
                .await
                .unwrap_or_else(|e| panic!("task {seed}: return {units} from partition {q}: {e}"));
            assert!(r.moved <= units, "returned {} of {units}", r.moved);
            tally.returned += r.moved;
            *tally.net.entry(q).or_default() -= r.moved as i64;
            continue;
        }
        if r.moved == 0 {
            return tally;
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
    let mut owned: [Vec<(u32, i64)>; 2] = [Vec::new(), Vec::new()];
    for p in 0..PARTITIONS {
        let (i, node) = if p < PARTITIONS / 2 { (0, &a) } else { (1, &b) };
        let epoch = node.acquire(p).await.expect("acquire").expect("free");
        owned[i].push((p, epoch));
    }
    a.define_hunt("h", r#"{"id":"h"}"#, &[("gem".to_owned(), STOCK)])
        .await
        .expect("define");

    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let n = (i % 2) as usize;
            let node = if n == 0 { a.clone() } else { b.clone() };
            tokio::spawn(work(node, owned[n].clone(), 0x7_0000 + i, i % 8 < 2))
        })
        .collect();
    let mut tallies = Vec::new();
    for t in tasks {
        tallies.push(t.await.expect("task"));
    }

    // The ledger and the allotments, as stored: never negative, and summing
    // to the stock.
    let (ledger, allocs) = a.stock("h", "gem").await.expect("stock");
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
    let alloc_sum: u64 = allocs.iter().map(|(_, u)| u).sum();
    assert_eq!(
        stored,
        allocs.iter().map(|(p, u)| (*p, *u as i64)).collect::<BTreeMap<_, _>>()
    );
    assert_eq!(ledger + alloc_sum, STOCK, "ledger {ledger} + allotments {allocs:?}");

    // Exactly what the tasks say they moved.
    let taken: u64 = tallies.iter().map(|t| t.taken).sum();
    let returned: u64 = tallies.iter().map(|t| t.returned).sum();
    assert_eq!(taken - returned, alloc_sum, "taken {taken} - returned {returned}");
    let mut net: BTreeMap<u32, i64> = BTreeMap::new();
    for t in &tallies {
        for (p, n) in &t.net {
            *net.entry(*p).or_default() += n;
        }
    }
    for p in 0..PARTITIONS {
        assert_eq!(
            net.get(&p).copied().unwrap_or(0),
            stored.get(&p).copied().unwrap_or(0),
            "partition {p}"
        );
    }
    assert!(returned > 0, "no task returned anything: the test lost its point");
    let ops: u64 = tallies.iter().map(|t| t.ops).sum();
    eprintln!("contention: {ops} takes, {taken} units taken, {returned} returned, ledger {ledger}");

    for k in keepers {
        k.abort();
    }
}
