//! Crash test: clients claim (retrying every unacknowledged claim with the
//! same id) while the server is killed with SIGKILL and restarted. Afterwards
//! no acknowledged claim is lost or changed, none is granted twice, no stock
//! is oversold, the dispatch feed holds each grant exactly once, and the
//! consistency check passes.

use crate::harness::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

const CLIENTS: usize = 4;
const PLAYERS_PER_CLIENT: usize = 10;
const STOCK: u64 = 100;
const LIMIT: u32 = 3;
const KILLS: usize = 5;

static RETRIED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// (status, reason, seq) of an acknowledged claim.
type Ack = (String, Option<String>, u64);

async fn client(k: usize, addr: watch::Receiver<String>, stop: Arc<AtomicBool>) -> BTreeMap<String, (String, Ack)> {
    let mut acks = BTreeMap::new();
    let mut ws: Option<Ws> = None;
    let mut n = 0usize;
    // Keep claiming until told to stop, and at least enough to exhaust stock.
    while !stop.load(Ordering::SeqCst) || n < 40 {
        let claim_id = format!("c{k}-{n}");
        let player = format!("c{k}-p{}", n % PLAYERS_PER_CLIENT);
        let mut retries = 0;
        loop {
            if ws.is_none() {
                let a = addr.borrow().clone();
                ws = Ws::connect(&a, GAME).await.ok();
                if ws.is_none() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            }
            let c = ws.as_mut().unwrap();
            if n.is_multiple_of(7) && retries == 0 {
                // Mix in events so the journal holds more than claims.
                let mut ev = json!({"op": "events", "events": [clue(&player, "x", "c1"), {"player": player, "hunt": "x", "type": "checkin", "location": "gate"}]});
                if c.try_call(&mut ev, Duration::from_secs(3)).await.is_none() {
                    ws = None;
                    continue;
                }
            }
            let mut req = claim(&claim_id, &player, "x", "mug");
            match c.try_call(&mut req, Duration::from_secs(3)).await {
                Some(r) if r["ok"] == true => {
                    let ack = (
                        r["status"].as_str().unwrap().to_owned(),
                        r["reason"].as_str().map(str::to_owned),
                        r["seq"].as_u64().unwrap(),
                    );
                    acks.insert(claim_id.clone(), (player.clone(), ack));
                    break;
                }
                Some(r) => {
                    let code = r["error"]["code"].as_str().unwrap_or("");
                    assert!(
                        ["overloaded", "stopped", "journal_failed", "shutting_down", "not_ready"].contains(&code),
                        "unexpected error for {claim_id}: {r}"
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                None => {
                    // No answer: the server died. Retry the same claim id.
                    RETRIED.fetch_add(1, Ordering::SeqCst);
                    ws = None;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            retries += 1;
        }
        n += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    acks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_claims_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_on(dir.path()).await;
    let mut def = hunt_def("x", STOCK, LIMIT);
    def["products"][1]["stock"] = json!(0);
    let (st, r) = server.http("POST", "/v1/hunts", Some(DESIGNER), Some(&def)).await;
    assert_eq!(st, 201, "{r}");

    let (addr_tx, addr_rx) = watch::channel(server.addr.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|k| tokio::spawn(client(k, addr_rx.clone(), stop.clone())))
        .collect();

    let mut seed = 0x9e37_79b9u64;
    for round in 0..KILLS {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let uptime = 250 + (seed >> 33) % 500;
        tokio::time::sleep(Duration::from_millis(uptime)).await;
        server.kill();
        server = Server::start_on(dir.path()).await;
        addr_tx.send_replace(server.addr.clone());
        eprintln!("crash round {round}: killed after {uptime} ms, restarted");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let mut acks: BTreeMap<String, (String, Ack)> = BTreeMap::new();
    for c in clients {
        acks.extend(c.await.expect("client ran"));
    }
    assert!(acks.len() >= CLIENTS * 40, "{} claims acknowledged", acks.len());
    let retried = RETRIED.load(Ordering::SeqCst);
    eprintln!(
        "{} claims acknowledged, {retried} retried after a lost answer",
        acks.len()
    );
    assert!(retried > 0, "the kills should interrupt some claims");

    // 1. Every acknowledged claim answers the same, as a duplicate.
    let mut ws = server.ws(GAME).await;
    let mut granted = HashSet::new();
    let mut per_player: HashMap<String, u32> = HashMap::new();
    for (id, (player, (status, reason, seq))) in &acks {
        let r = ws.call(claim(id, player, "x", "mug")).await;
        assert_eq!(r["ok"], true, "{r}");
        assert_eq!(r["duplicate"], true, "acknowledged claim {id} was lost: {r}");
        assert_eq!(r["status"].as_str(), Some(status.as_str()), "claim {id} changed: {r}");
        assert_eq!(r["reason"].as_str(), reason.as_deref(), "claim {id} changed: {r}");
        assert_eq!(r["seq"].as_u64(), Some(*seq), "claim {id} changed: {r}");
        if status == "granted" {
            granted.insert(id.clone());
            *per_player.entry(player.clone()).or_default() += 1;
        }
    }
    // 2. No oversell, limits held, stock ledger matches.
    assert!(granted.len() as u64 <= STOCK);
    assert!(per_player.values().all(|&n| n <= LIMIT), "{per_player:?}");
    let (_, h) = server.http("GET", "/v1/hunts/x", Some(ADMIN), None).await;
    assert_eq!(h["products"][0]["granted"].as_u64(), Some(granted.len() as u64), "{h}");
    assert_eq!(
        h["products"][0]["remaining"].as_u64(),
        Some(STOCK - granted.len() as u64)
    );
    assert!(
        acks.values().any(|(_, (_, r, _))| r.as_deref() == Some("out_of_stock")),
        "stock ran out"
    );

    // 3. The dispatch feed holds each grant exactly once.
    let mut feed = server.ws(GAME2).await;
    let r = feed
        .call(json!({"op": "subscribe", "topic": "claims", "from": 0}))
        .await;
    assert_eq!(r["ok"], true);
    let mut seen = HashSet::new();
    while seen.len() < granted.len() {
        let p = feed.next_push(Duration::from_secs(10)).await.expect("feed push");
        let id = p["claim_id"].as_str().unwrap().to_owned();
        assert!(seen.insert(id.clone()), "claim {id} dispatched twice");
    }
    assert!(
        feed.next_push(Duration::from_millis(500)).await.is_none(),
        "no extra dispatches"
    );
    assert_eq!(seen, granted);

    // 4. Live state, projection and journal agree.
    let (st, r): (u16, Value) = server.http("GET", "/v1/admin/consistency", Some(ADMIN), None).await;
    assert_eq!((st, &r["ok"]), (200, &json!(true)), "{r:#}");
}
