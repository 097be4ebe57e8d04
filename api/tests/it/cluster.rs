//! Cluster mode (feature `cluster`, docs/CLUSTER.md): a real etcd started
//! by the test (Debian `etcd-server`), several `trove serve --cluster`
//! processes on loopback sharing one data root, SIGKILL, SIGSTOP, a node
//! cut off from etcd in a network namespace, etcd restarted.
//!
//! Without `etcd` on the PATH the tests print why and pass, unless
//! `TROVE_REQUIRE_CLUSTER=1` (CI), where they fail.

use crate::harness::{try_http, Server, Ws, AUDITOR, DESIGNER, GAME};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use trove_client::{ClusterClient, ClusterConfig};
use trove_protocol::{partition_of, ClaimRequest};

/// Partitions of every test cluster.
const P: u32 = 8;
/// Lease TTL of every test node, seconds.
const TTL: u64 = 2;

fn free_port(host: &str) -> u16 {
    std::net::TcpListener::bind(format!("{host}:0"))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn etcd_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("etcd"))
        .find(|p| p.is_file())
}

/// `None` (and a message) when etcd is missing and CI does not require it.
fn require_etcd(test: &str) -> Option<PathBuf> {
    match etcd_binary() {
        Some(b) => Some(b),
        None if std::env::var("TROVE_REQUIRE_CLUSTER").as_deref() == Ok("1") => {
            panic!("{test}: etcd is not installed but TROVE_REQUIRE_CLUSTER=1 (apt-get install etcd-server)")
        }
        None => {
            eprintln!("skipping {test}: etcd is not installed (Debian etcd-server)");
            None
        }
    }
}

/// One etcd member on `host`, restartable on the same ports and data.
pub struct Etcd {
    bin: PathBuf,
    child: Option<Child>,
    dir: PathBuf,
    host: String,
    client: u16,
    peer: u16,
}

impl Etcd {
    fn start(bin: PathBuf, dir: &Path, host: &str) -> Etcd {
        let mut e = Etcd {
            bin,
            child: None,
            dir: dir.join("etcd"),
            host: host.to_owned(),
            client: free_port(host),
            peer: free_port(host),
        };
        e.spawn();
        e
    }

    pub fn url(&self) -> String {
        format!("http://{}:{}", self.host, self.client)
    }

    fn spawn(&mut self) {
        let peer = format!("http://{}:{}", self.host, self.peer);
        let log = std::fs::File::create(self.dir.with_extension("log")).expect("etcd log");
        let child = Command::new(&self.bin)
            .args(["--name", "default", "--data-dir"])
            .arg(&self.dir)
            .args([
                "--listen-client-urls",
                &self.url(),
                "--advertise-client-urls",
                &self.url(),
            ])
            .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("default={peer}")])
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("etcd starts");
        self.child = Some(child);
    }

    async fn wait_up(&self) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if tokio::net::TcpStream::connect((self.host.as_str(), self.client))
                .await
                .is_ok()
            {
                tokio::time::sleep(Duration::from_millis(300)).await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "etcd did not start: {}",
            std::fs::read_to_string(self.dir.with_extension("log")).unwrap_or_default()
        );
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Every decided claim per partition: `(claim_id, player, sku, status, reason)`.
type Audit = BTreeMap<u32, Vec<(String, String, String, String, Option<String>)>>;

/// A test cluster: etcd, a shared data root, nodes by index.
pub struct TestCluster {
    pub etcd: Etcd,
    pub root: tempfile::TempDir,
    pub nodes: Vec<Option<Server>>,
    /// `(listen, advertise)` per node index.
    addrs: Vec<(String, String)>,
}

impl TestCluster {
    async fn start(test: &str, n: usize) -> Option<TestCluster> {
        let bin = require_etcd(test)?;
        let root = tempfile::tempdir().expect("tempdir");
        let etcd = Etcd::start(bin, root.path(), "127.0.0.1");
        etcd.wait_up().await;
        let mut c = TestCluster {
            etcd,
            root,
            nodes: Vec::new(),
            addrs: Vec::new(),
        };
        for _ in 0..n {
            c.add_node().await;
        }
        c.wait_spread().await;
        Some(c)
    }

    /// Starts one more node (index = the number started so far).
    async fn add_node(&mut self) -> usize {
        let port = free_port("127.0.0.1");
        let listen = format!("127.0.0.1:{port}");
        let i = self.addrs.len();
        self.addrs.push((listen.clone(), format!("http://{listen}")));
        let s = self.spawn(i);
        self.nodes.push(Some(s));
        i
    }

    fn spawn(&self, i: usize) -> Server {
        let (listen, advertise) = &self.addrs[i];
        let env = node_env(&self.etcd.url(), &format!("n{i}"), advertise);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Server::spawn_at(self.root.path(), listen, &env).unwrap_or_else(|log| panic!("node {i} did not start: {log}"))
    }

    /// Restarts node `i` (killed or stopped before) on its address.
    async fn restart(&mut self, i: usize) {
        let s = self.spawn(i);
        s.wait_ready(Duration::from_secs(30)).await;
        self.nodes[i] = Some(s);
    }

    fn node(&self, i: usize) -> &Server {
        self.nodes[i].as_ref().expect("node running")
    }

    fn live(&self) -> Vec<&Server> {
        self.nodes.iter().flatten().collect()
    }

    fn seeds(&self) -> Vec<String> {
        self.live().iter().map(|s| format!("http://{}", s.addr)).collect()
    }

    /// Waits until every live node is ready and every partition is served
    /// by a live node, as its owner's audit head answers.
    async fn wait_spread(&self) -> Duration {
        let started = Instant::now();
        for s in self.live() {
            s.wait_ready(Duration::from_secs(60)).await;
        }
        let live: HashSet<String> = self.live().iter().map(|s| format!("http://{}", s.addr)).collect();
        loop {
            if let Some(map) = self.map().await {
                let owners = owners(&map);
                let mut all = owners.len() == P as usize && owners.values().all(|u| live.contains(u));
                if all {
                    for (p, url) in &owners {
                        let addr = url.trim_start_matches("http://");
                        let path = format!("/v1/audit/head?partition={p}");
                        all &= matches!(try_http(addr, "GET", &path, Some(AUDITOR), None).await, Ok((200, _)));
                    }
                }
                if all {
                    return started.elapsed();
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "partitions not spread: {:?}",
                self.map().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The map as the first live node that answers sees it.
    async fn map(&self) -> Option<Value> {
        for s in self.live() {
            if let Ok((200, body)) = try_http(&s.addr, "GET", "/v1/cluster", Some(GAME), None).await {
                return serde_json::from_slice(&body).ok();
            }
        }
        None
    }

    async fn client(&self) -> ClusterClient {
        ClusterClient::connect(&self.seeds(), GAME, ClusterConfig::default())
            .await
            .expect("cluster client connects")
    }

    /// Defines `def` through node 0 (any node would do).
    async fn define(&self, def: &Value) {
        let (st, body) = self.node(0).http("POST", "/v1/hunts", Some(DESIGNER), Some(def)).await;
        assert!(st == 201 || st == 200, "define: {st} {body}");
    }

    /// Every claim decided in the cluster, from each partition's audit
    /// trail at its owner: partition -> [(claim_id, player, sku, status, reason)].
    async fn audit(&self) -> Audit {
        let map = self.map().await.expect("map");
        let mut out = BTreeMap::new();
        for (p, url) in owners(&map) {
            let addr = url.trim_start_matches("http://").to_owned();
            let mut after = 0u64;
            let mut rows = Vec::new();
            loop {
                let path = format!("/v1/audit/claims?partition={p}&after={after}&limit=1000");
                let (st, body) = try_http(&addr, "GET", &path, Some(AUDITOR), None).await.expect("audit");
                assert_eq!(st, 200, "{}", String::from_utf8_lossy(&body));
                let page: Value = serde_json::from_slice(&body).unwrap();
                let claims = page["claims"].as_array().unwrap();
                for c in claims {
                    rows.push((
                        c["claim_id"].as_str().unwrap().to_owned(),
                        c["player"].as_str().unwrap().to_owned(),
                        c["sku"].as_str().unwrap().to_owned(),
                        c["status"].as_str().unwrap().to_owned(),
                        c["reason"].as_str().map(str::to_owned),
                    ));
                }
                if claims.is_empty() {
                    break;
                }
                after = page["next_after"].as_u64().unwrap();
            }
            out.insert(p, rows);
        }
        out
    }
}

fn node_env(etcd: &str, id: &str, advertise: &str) -> Vec<(&'static str, String)> {
    vec![
        ("TROVE_KEYS", crate::harness::keys_env()),
        ("TROVE_CLUSTER", format!("etcd={etcd}")),
        ("TROVE_NODE", id.to_owned()),
        ("TROVE_ADVERTISE", advertise.to_owned()),
        ("TROVE_PARTITIONS", P.to_string()),
        ("TROVE_LEASE_TTL", TTL.to_string()),
    ]
}

/// partition -> owner URL of a map.
fn owners(map: &Value) -> BTreeMap<u32, String> {
    map["owners"]
        .as_array()
        .map(|o| {
            o.iter()
                .filter_map(|e| Some((e["partition"].as_u64()? as u32, e["url"].as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn hunt(id: &str, mug: u64, gold: u64) -> Value {
    json!({
        "id": id,
        "name": format!("Hunt {id}"),
        "clues": [{"id": "c1", "points": 10}, {"id": "c2", "points": 20}],
        "products": [
            {"sku": "mug", "stock": mug, "per_player_limit": 1000, "min_score": 0},
            {"sku": "gold", "stock": gold, "per_player_limit": 1, "min_score": 0}
        ]
    })
}

fn claim_req<'a>(claim_id: &'a str, player: &'a str, hunt: &'a str, sku: &'a str) -> ClaimRequest<'a> {
    ClaimRequest {
        claim_id: claim_id.into(),
        player: player.into(),
        hunt: hunt.into(),
        sku: sku.into(),
        customs: None,
    }
}

/// A player of partition `p` (the first `player-N` that hashes there).
fn player_in(p: u32, nth: usize) -> String {
    (0..)
        .map(|i| format!("player-{i}"))
        .filter(|name| partition_of(name, P) == p)
        .nth(nth)
        .expect("players of every partition")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_op_is_routed_and_moved_answers_are_followed() {
    let Some(c) = TestCluster::start("every_op_is_routed", 2).await else {
        return;
    };
    c.define(&hunt("h", 1000, 5)).await;
    let map = c.map().await.unwrap();
    // Every node answers the same map; every partition has one owner.
    for s in c.live() {
        let (st, other) = s.http("GET", "/v1/cluster", Some(AUDITOR), None).await;
        assert_eq!(st, 200);
        assert_eq!(owners(&other), owners(&map));
        assert_eq!(other["partitions"], P);
    }
    let right = moved_answers(&c, &map).await;
    let (client, players) = client_routes(&c).await;
    auditor_view(&c, &map, &right).await;
    // Move a partition under the client: stop its owner gracefully; the
    // client follows the moved/unavailable answers to the new owner.
    let mut c = c;
    let victim = c
        .nodes
        .iter()
        .position(|s| s.as_ref().is_some_and(|s| s.addr != right))
        .unwrap();
    let status = c.nodes[victim].take().unwrap().terminate();
    assert!(status.success(), "graceful exit");
    for (i, p) in players.iter().enumerate() {
        let id = format!("after-{i}");
        let reply = client
            .claim(&claim_req(&id, p, "h", "mug"))
            .await
            .expect("claim follows the move");
        assert_eq!(reply.status, trove_protocol::ClaimStatus::Granted);
    }
    c.wait_spread().await;
    let hunt_state = c.live()[0].http("GET", "/v1/hunts/h", Some(GAME), None).await.1;
    let mug = &hunt_state["products"][0];
    assert_eq!(mug["granted"], 1 + 2 * P as u64, "{hunt_state}");
    assert_eq!(mug["remaining"], 1000 - 1 - 2 * P as u64, "{hunt_state}");
}

/// Another node answers `moved` (HTTP and WebSocket) with the partition and
/// its owner; the owner serves; a batch spanning partitions is refused
/// with its indexes per partition. Returns the owner of partition 3.
async fn moved_answers(c: &TestCluster, map: &Value) -> String {
    let owner = owners(map);
    let p = 3;
    let player = player_in(p, 0);
    let right = owner[&p].trim_start_matches("http://").to_owned();
    let wrong = c.live().into_iter().find(|s| s.addr != right).unwrap();
    // HTTP: the wrong node answers 421 moved with the partition and its owner.
    let body = json!({"claim_id": "k1", "player": player, "hunt": "h", "sku": "mug"});
    let (st, e) = wrong.http("POST", "/v1/claims", Some(GAME), Some(&body)).await;
    assert_eq!(st, 421, "{e}");
    assert_eq!(e["ok"], false);
    assert_eq!(e["error"]["code"], "moved");
    assert_eq!(e["error"]["partition"], p);
    assert_eq!(e["error"]["url"], owner[&p]);
    for path in [format!("/v1/hunts/h/players/{player}")] {
        let (st, e) = wrong.http("GET", &path, Some(GAME), None).await;
        assert_eq!((st, e["error"]["code"].clone()), (421, json!("moved")), "{path}");
    }
    let ev = json!({"events": [{"player": player, "hunt": "h", "type": "clue_found", "clue": "c1"}]});
    let (st, e) = wrong.http("POST", "/v1/events", Some(GAME), Some(&ev)).await;
    assert_eq!((st, e["error"]["code"].clone()), (421, json!("moved")));
    // The right node serves it.
    let right_node = c.live().into_iter().find(|s| s.addr == right).unwrap();
    let (st, r) = right_node.http("POST", "/v1/claims", Some(GAME), Some(&body)).await;
    assert_eq!((st, r["status"].clone()), (200, json!("granted")), "{r}");
    // WebSocket: the same moved answer as an error reply.
    let mut ws = Ws::connect(&wrong.addr, GAME).await.unwrap();
    let reply = ws
        .call(json!({"op": "claim", "claim_id": "k2", "player": player, "hunt": "h", "sku": "mug"}))
        .await;
    assert_eq!(reply["ok"], false);
    assert_eq!(reply["error"]["code"], "moved");
    assert_eq!(reply["error"]["url"], owner[&p]);
    // A batch spanning partitions is refused with the indexes per partition.
    let (a, b) = (player_in(1, 0), player_in(2, 0));
    let span = json!({"events": [
        {"player": a, "hunt": "h", "type": "clue_found", "clue": "c1"},
        {"player": b, "hunt": "h", "type": "clue_found", "clue": "c1"},
        {"player": a, "hunt": "h", "type": "clue_found", "clue": "c2"}]});
    let (st, e) = right_node.http("POST", "/v1/events", Some(GAME), Some(&span)).await;
    assert_eq!(st, 400, "{e}");
    assert_eq!(e["error"]["code"], "partition_span");
    assert_eq!(e["error"]["partitions"], json!({"1": [0, 2], "2": [1]}));

    right
}

/// `ClusterClient` routes every op (events split by partition, claims,
/// players) and the merged leaderboard ranks every partition's players.
async fn client_routes(c: &TestCluster) -> (ClusterClient, Vec<String>) {
    // The Rust client routes every op, splitting the batch by partition.
    let client = c.client().await;
    let players: Vec<String> = (0..P).map(|p| player_in(p, 1)).collect();
    let events: Vec<Value> = players
        .iter()
        .flat_map(|p| {
            [
                json!({"player": p, "hunt": "h", "type": "clue_found", "clue": "c1"}),
                json!({"player": p, "hunt": "h", "type": "clue_found", "clue": "c2"}),
            ]
        })
        .collect();
    let text = json!({"events": events}).to_string();
    let req: trove_protocol::EventsRequest = serde_json::from_str(&text).unwrap();
    let r = client.events(&req).await.expect("routed events");
    assert_eq!(r.accepted, 2 * u64::from(P));
    assert_eq!(r.seqs.len(), P as usize);
    for (i, p) in players.iter().enumerate() {
        let id = format!("all-{i}");
        let reply = client
            .claim(&claim_req(&id, p, "h", "mug"))
            .await
            .expect("routed claim");
        assert_eq!(reply.status, trove_protocol::ClaimStatus::Granted);
        let text = json!({"hunt": "h", "player": p}).to_string();
        let pr: trove_protocol::PlayerRequest = serde_json::from_str(&text).unwrap();
        let state = client.player(&pr).await.expect("routed player");
        assert_eq!(state.score, 30);
    }
    // The merged leaderboard: every partition's players, ranked by score.
    let text = json!({"hunt": "h", "limit": 100}).to_string();
    let lr: trove_protocol::LeaderboardRequest = serde_json::from_str(&text).unwrap();
    // The projections catch up within their refresh interval.
    let started = Instant::now();
    let board = loop {
        let board = client.leaderboard(&lr).await.expect("leaderboard");
        let ranked: HashSet<String> = board.entries.iter().map(|e| e.player.to_string()).collect();
        if players.iter().all(|p| ranked.contains(p)) {
            break board;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "players missing from the merged board: {ranked:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(board
        .entries
        .windows(2)
        .all(|w| w[0].score >= w[1].score && w[0].rank + 1 == w[1].rank));
    let around = players[5].clone();
    let (st, win) = c
        .node(0)
        .http(
            "GET",
            &format!("/v1/hunts/h/leaderboard?limit=3&around={around}"),
            Some(GAME),
            None,
        )
        .await;
    assert_eq!(st, 200, "{win}");
    let names: Vec<&str> = win["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["player"].as_str().unwrap())
        .collect();
    assert!(names.contains(&around.as_str()), "{win}");

    (client, players)
}

/// `trove cluster status` names every partition's owner, epoch and chain
/// head; a partition's export names it and verifies.
async fn auditor_view(c: &TestCluster, map: &Value, right: &str) {
    let owner = owners(map);
    let p = 3u32;
    // The auditor's view: `trove cluster status` names every partition's
    // owner, epoch and chain head; a partition's export names it.
    let out = Command::new(env!("CARGO_BIN_EXE_trove"))
        .args(["cluster", "status", "--json", "--key", AUDITOR, "--cluster"])
        .arg(format!("etcd={}", c.etcd.url()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    let lines = status["lines"].as_array().unwrap();
    assert_eq!(lines.len(), P as usize);
    for l in lines {
        let p = l["partition"].as_u64().unwrap() as u32;
        assert_eq!(l["url"].as_str(), Some(owner[&p].as_str()), "{l}");
        assert_eq!(l["epoch"], map["owners"][p as usize]["epoch"], "{l}");
        assert_eq!(l["head_from"], "owner", "{l}");
        assert!(
            l["head_seq"].as_u64().unwrap() > 0,
            "every partition journaled its hunt: {l}"
        );
    }
    let (st, export) = try_http(
        right,
        "GET",
        &format!("/v1/audit/export?partition={p}"),
        Some(AUDITOR),
        None,
    )
    .await
    .unwrap();
    assert_eq!(st, 200);
    let header: Value = serde_json::from_slice(export.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(header["type"], "header");
    assert_eq!(header["partition"], p, "{header}");
    let file = c.root.path().join("partition.jsonl");
    std::fs::write(&file, &export).unwrap();
    let verified = Command::new(env!("CARGO_BIN_EXE_trove"))
        .args(["audit", "verify"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );
}

/// One acknowledged claim of the load.
struct Acked {
    claim_id: String,
    player: String,
    sku: String,
    status: String,
}

async fn claim_load(client: ClusterClient, task: usize, until: Arc<std::sync::atomic::AtomicBool>) -> Vec<Acked> {
    let mut acked = Vec::new();
    let mut i = 0usize;
    while !until.load(std::sync::atomic::Ordering::Relaxed) {
        let player = format!("load-{}", (task * 7919 + i * 31) % 500);
        let sku = if i % 10 == 3 { "gold" } else { "mug" };
        let id = format!("t{task}-{i}");
        if let Ok(r) = client.claim(&claim_req(&id, &player, "h", sku)).await {
            let status = match r.status {
                trove_protocol::ClaimStatus::Granted => "granted".to_owned(),
                _ => r.reason.map(|x| format!("{x:?}")).unwrap_or_default(),
            };
            acked.push(Acked {
                claim_id: id,
                player,
                sku: sku.to_owned(),
                status,
            });
        }
        i += 1;
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_node_fails_over_without_losing_or_repeating_a_claim() {
    let Some(mut c) = TestCluster::start("sigkill_failover", 3).await else {
        return;
    };
    c.define(&hunt("h", 400, 5)).await;
    let client = c.client().await;
    // The Rust client's merged feed follows every partition across the failover.
    let merged = merged_feed(&client);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tasks: Vec<_> = (0..12)
        .map(|t| tokio::spawn(claim_load(client.clone(), t, stop.clone())))
        .collect();
    // Events too, routed per partition by the client.
    let ev_client = client.clone();
    let ev_stop = stop.clone();
    let events = tokio::spawn(async move {
        let mut ok = 0u64;
        while !ev_stop.load(std::sync::atomic::Ordering::Relaxed) {
            let batch: Vec<Value> = (0..40)
                .map(|i| json!({"player": format!("load-{i}"), "hunt": "h", "type": "checkin", "location": "gate"}))
                .collect();
            let text = json!({"events": batch}).to_string();
            let req: trove_protocol::EventsRequest = serde_json::from_str(&text).unwrap();
            if let Ok(r) = ev_client.events(&req).await {
                ok += r.accepted;
            }
        }
        ok
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let victim = 1;
    let killed_at = Instant::now();
    c.nodes[victim].take().unwrap().kill();
    let failover = c.wait_spread().await;
    eprintln!(
        "failover: every partition served again {:?} after SIGKILL",
        killed_at.elapsed()
    );
    assert!(failover < Duration::from_secs(30));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    assert!(events.await.unwrap() > 0);
    assert!(acked.len() > 100, "only {} claims acknowledged", acked.len());
    let audit = check_claims(&c, &acked, &[("mug", 400), ("gold", 5)]).await;
    check_merged_feed(merged, &audit).await;
}

/// Every acknowledged claim is in its partition's audit trail with the
/// outcome it was acknowledged with; no claim is decided twice; no
/// product is oversold; every partition's feed holds every granted claim
/// exactly once.
async fn check_claims(c: &TestCluster, acked: &[Acked], stock: &[(&str, u64)]) -> Audit {
    let audit = c.audit().await;
    let mut decided: HashMap<(String, String), (String, Option<String>, u32)> = HashMap::new();
    let mut granted: HashMap<String, u64> = HashMap::new();
    for (p, rows) in &audit {
        for (id, player, sku, status, reason) in rows {
            assert_eq!(
                partition_of(player, P),
                *p,
                "claim {id} journaled in the wrong partition"
            );
            let prev = decided.insert((player.clone(), id.clone()), (status.clone(), reason.clone(), *p));
            assert!(prev.is_none(), "claim {id} of {player} decided twice");
            if status == "granted" {
                *granted.entry(sku.clone()).or_default() += 1;
            }
        }
    }
    for a in acked {
        let (status, reason, _) = decided.get(&(a.player.clone(), a.claim_id.clone())).unwrap_or_else(|| {
            panic!(
                "acknowledged claim {} of {} is not in the journal",
                a.claim_id, a.player
            )
        });
        if a.status == "granted" {
            assert_eq!(
                status, "granted",
                "claim {} ({}) acknowledged granted, journaled {status}",
                a.claim_id, a.sku
            );
        } else {
            assert_eq!(
                status, "rejected",
                "claim {} acknowledged rejected, journaled granted",
                a.claim_id
            );
            assert!(reason.is_some());
        }
    }
    for (sku, units) in stock {
        let g = granted.get(*sku).copied().unwrap_or(0);
        assert!(g <= *units, "{sku}: {g} granted of {units}");
    }
    // Each partition's feed: every granted claim exactly once.
    let map = c.map().await.unwrap();
    for (p, url) in owners(&map) {
        let want: HashSet<String> = audit[&p]
            .iter()
            .filter(|r| r.3 == "granted")
            .map(|r| r.0.clone())
            .collect();
        let mut ws = Ws::connect(url.trim_start_matches("http://"), GAME).await.unwrap();
        let r = ws
            .call(json!({"op": "subscribe", "topic": "claims", "partition": p, "from": 0}))
            .await;
        assert_eq!(r["ok"], true, "{r}");
        assert_eq!(r["partition"], p);
        let mut seen = HashSet::new();
        while seen.len() < want.len() {
            let push = ws
                .next_push(Duration::from_secs(10))
                .await
                .unwrap_or_else(|| panic!("partition {p}: feed stopped at {} of {}", seen.len(), want.len()));
            assert_eq!(push["partition"], p);
            let id = push["claim_id"].as_str().unwrap().to_owned();
            assert!(want.contains(&id), "feed of {p} pushed {id}, not a granted claim of it");
            assert!(seen.insert(id.clone()), "feed of {p} pushed {id} twice");
        }
        assert!(
            ws.next_push(Duration::from_millis(300)).await.is_none(),
            "feed of {p} pushed more than its grants"
        );
    }
    audit
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paused_node_writes_nothing_after_it_resumes() {
    let Some(c) = TestCluster::start("paused_node", 2).await else {
        return;
    };
    c.define(&hunt("h", 10_000, 5)).await;
    let map = c.map().await.unwrap();
    let paused = c.node(0);
    let mine: Vec<u32> = owners(&map)
        .into_iter()
        .filter(|(_, url)| url.trim_start_matches("http://") == paused.addr)
        .map(|(p, _)| p)
        .collect();
    assert!(!mine.is_empty());
    // Writers hammer the paused node's partitions (directly, not routed).
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for (k, p) in mine.iter().enumerate() {
        let (addr, player, stop) = (paused.addr.clone(), player_in(*p, 0), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let body = json!({"claim_id": format!("w{k}-{i}"), "player": player, "hunt": "h", "sku": "mug"});
                let _ = tokio::time::timeout(
                    Duration::from_secs(2),
                    try_http(
                        &addr,
                        "POST",
                        "/v1/claims",
                        Some(GAME),
                        Some(body.to_string().as_bytes()),
                    ),
                )
                .await;
                i += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let pid = paused.child.id() as i32;
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    // While it is stopped its files cannot change: this is everything it wrote.
    let copy = c.root.path().join("at-pause");
    std::fs::create_dir_all(&copy).unwrap();
    for p in &mine {
        let from = c.root.path().join("data").join(format!("partition-{p:05}"));
        let st = Command::new("cp").arg("-a").arg(&from).arg(&copy).status().unwrap();
        assert!(st.success());
    }
    tokio::time::sleep(Duration::from_secs(3 * TTL)).await;
    unsafe { libc::kill(pid, libc::SIGCONT) };
    // Each partition is opened again (by either node) after the pause.
    let started = Instant::now();
    for p in &mine {
        let owners_file = c
            .root
            .path()
            .join("data")
            .join(format!("partition-{p:05}"))
            .join("OWNERS");
        let before = std::fs::read_to_string(copy.join(format!("partition-{p:05}")).join("OWNERS")).unwrap();
        let reopened = loop {
            let now = std::fs::read_to_string(&owners_file).unwrap();
            if now.len() > before.len() {
                break now[before.len()..].lines().next().unwrap().to_owned();
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "partition {p} not reopened after the pause"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let line: Value = serde_json::from_str(&reopened).unwrap();
        let head = chain_head(&copy.join(format!("partition-{p:05}")));
        assert_eq!(
            (line["last_seq"].as_u64().unwrap(), line["chain_hash"].as_str().unwrap().to_owned()),
            head,
            "partition {p}: the journal changed between the pause and its next opening: the paused node wrote after it resumed"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        let _ = w.await;
    }
    let log = paused.log_text();
    assert!(
        log.contains("fenced=true"),
        "the resumed node closed its partitions as fenced:\n{log}"
    );
}

/// The chain head `(seq, hash)` of a stopped copy of a partition folder.
fn chain_head(dir: &Path) -> (u64, String) {
    let a = trove_persistence::Archive::open(dir).expect("open the copy");
    a.chain_head().expect("chain head")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scarce_stock_claimed_from_every_partition_is_granted_exactly() {
    let Some(c) = TestCluster::start("scarce_stock", 3).await else {
        return;
    };
    c.define(&hunt("h", 300, 5)).await;
    let client = c.client().await;
    // 40 players over every partition claim a gold item at once.
    let claims = (0..40).map(|i| {
        let client = client.clone();
        async move {
            let player = player_in(i % P, (i / P) as usize);
            let id = format!("gold-{i}");
            let r = client
                .claim(&claim_req(&id, &player, "h", "gold"))
                .await
                .expect("claim");
            r.status == trove_protocol::ClaimStatus::Granted
        }
    });
    let granted = futures_util::future::join_all(claims)
        .await
        .into_iter()
        .filter(|g| *g)
        .count();
    assert_eq!(granted, 5, "exactly the stock is granted");
    // One more unit anywhere: the next claim, from any partition, gets it.
    let (st, r) = c
        .node(1)
        .http(
            "POST",
            "/v1/hunts/h/products/gold/stock",
            Some(DESIGNER),
            Some(&json!({"add": 1})),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    let late = player_in(7, 20);
    let r = client.claim(&claim_req("gold-late", &late, "h", "gold")).await.unwrap();
    assert_eq!(
        r.status,
        trove_protocol::ClaimStatus::Granted,
        "a free unit was refused"
    );
    // Plentiful stock drained from one partition first, then from the
    // others: units idle in the first partition's allotment are handed back,
    // so exactly the stock is granted and never a false out_of_stock before.
    let heavy = player_in(0, 30);
    for i in 0..150 {
        let r = client
            .claim(&claim_req(&format!("m0-{i}"), &heavy, "h", "mug"))
            .await
            .unwrap();
        assert_eq!(r.status, trove_protocol::ClaimStatus::Granted);
    }
    let mut n = 150;
    'outer: for round in 0.. {
        for p in 1..P {
            let player = player_in(p, 30);
            let r = client
                .claim(&claim_req(&format!("m{p}-{round}"), &player, "h", "mug"))
                .await
                .unwrap();
            if r.status != trove_protocol::ClaimStatus::Granted {
                assert_eq!(n, 300, "out_of_stock after {n} of 300 mugs: {:?}", r.reason);
                break 'outer;
            }
            n += 1;
            assert!(n <= 300, "more mugs granted than stock");
        }
    }
    let hunt_state = c.node(2).http("GET", "/v1/hunts/h", Some(GAME), None).await.1;
    assert_eq!(hunt_state["products"][0]["granted"], 300, "{hunt_state}");
    assert_eq!(hunt_state["products"][1]["granted"], 6, "{hunt_state}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn etcd_restarted_under_the_nodes_never_splits_the_brain() {
    let Some(mut c) = TestCluster::start("etcd_restart", 2).await else {
        return;
    };
    c.define(&hunt("h", 1000, 5)).await;
    let client = c.client().await;
    // Warm every partition's allotment so claims need no etcd for a while.
    for p in 0..P {
        let r = client
            .claim(&claim_req(&format!("warm-{p}"), &player_in(p, 0), "h", "mug"))
            .await
            .unwrap();
        assert_eq!(r.status, trove_protocol::ClaimStatus::Granted);
    }
    let before = owners(&c.map().await.unwrap());
    // A short outage (under the TTL): owners keep serving.
    c.etcd.kill();
    let mut served = 0;
    for p in 0..P {
        let body = json!({"claim_id": format!("during-{p}"), "player": player_in(p, 0), "hunt": "h", "sku": "mug"});
        let addr = before[&p].trim_start_matches("http://");
        if let Ok((200, _)) = try_http(
            addr,
            "POST",
            "/v1/claims",
            Some(GAME),
            Some(body.to_string().as_bytes()),
        )
        .await
        {
            served += 1;
        }
    }
    c.etcd.spawn();
    c.etcd.wait_up().await;
    assert!(served > 0, "no owner served during a short etcd outage");
    // A long outage (several TTLs): nodes stop writing, then rejoin.
    c.etcd.kill();
    tokio::time::sleep(Duration::from_secs(3 * TTL)).await;
    for p in 0..P {
        let body = json!({"claim_id": format!("long-{p}"), "player": player_in(p, 0), "hunt": "h", "sku": "mug"});
        let addr = before[&p].trim_start_matches("http://");
        let r = try_http(
            addr,
            "POST",
            "/v1/claims",
            Some(GAME),
            Some(body.to_string().as_bytes()),
        )
        .await;
        assert!(
            !matches!(r, Ok((200, _))),
            "partition {p} accepted a claim with etcd gone for 3 TTLs"
        );
    }
    c.etcd.spawn();
    c.etcd.wait_up().await;
    c.wait_spread().await;
    // Never two owners: each partition's OWNERS file has strictly growing epochs.
    for p in 0..P {
        let text = std::fs::read_to_string(
            c.root
                .path()
                .join("data")
                .join(format!("partition-{p:05}"))
                .join("OWNERS"),
        )
        .unwrap();
        let epochs: Vec<i64> = text
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["epoch"].as_i64().unwrap())
            .collect();
        assert!(
            epochs.windows(2).all(|w| w[0] < w[1]),
            "partition {p}: epochs {epochs:?}"
        );
    }
    let acked: Vec<Acked> = Vec::new();
    check_claims(&c, &acked, &[("mug", 1000), ("gold", 5)]).await;
    for p in 0..P {
        let r = client
            .claim(&claim_req(&format!("after-{p}"), &player_in(p, 0), "h", "mug"))
            .await
            .unwrap();
        assert_eq!(r.status, trove_protocol::ClaimStatus::Granted);
    }
    let _ = &mut c;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_gets_clear_codes_and_a_damaged_partition_leaves_the_others_serving() {
    let Some(mut c) = TestCluster::start("cluster_bad_input", 2).await else {
        return;
    };
    c.define(&hunt("h", 100, 5)).await;
    let n0 = c.node(0);
    // A partition that does not exist.
    let (st, e) = n0
        .http("GET", "/v1/audit/head?partition=999", Some(AUDITOR), None)
        .await;
    assert_eq!((st, e["error"]["code"].clone()), (404, json!("unknown_partition")));
    // A per-partition route without its partition.
    let (st, e) = n0.http("GET", "/v1/audit/head", Some(AUDITOR), None).await;
    assert_eq!((st, e["error"]["code"].clone()), (400, json!("invalid_request")));
    let mut ws = Ws::connect(&n0.addr, GAME).await.unwrap();
    let r = ws.call(json!({"op": "subscribe", "topic": "claims", "from": 0})).await;
    assert_eq!(r["error"]["code"], "invalid_request", "{r}");
    let r = ws
        .call(json!({"op": "subscribe", "topic": "claims", "partition": 4096}))
        .await;
    assert_eq!(r["error"]["code"], "unknown_partition", "{r}");
    // A node id that is not one, and one already live.
    let env = node_env(&c.etcd.url(), "bad id!", "http://127.0.0.1:1");
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = Server::spawn(c.root.path(), &env).expect("starts and says why");
    let mut s = s;
    let status = s.child.wait().unwrap();
    assert!(!status.success());
    assert!(s.log_text().contains("node id"), "{}", s.log_text());
    let env = node_env(&c.etcd.url(), "n0", "http://127.0.0.1:1");
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut dup = Server::spawn(c.root.path(), &env).expect("starts and says why");
    assert!(!dup.child.wait().unwrap().success());
    assert!(dup.log_text().contains("already live"), "{}", dup.log_text());
    // --cluster without --node.
    let out = Command::new(env!("CARGO_BIN_EXE_trove"))
        .args(["serve", "--cluster", &format!("etcd={}", c.etcd.url())])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--node"));
    // A damaged partition folder: that partition is refused, the others serve.
    for s in c.nodes.iter_mut() {
        s.take().unwrap().terminate();
    }
    let damaged = 5u32;
    let journal = c
        .root
        .path()
        .join("data")
        .join(format!("partition-{damaged:05}"))
        .join("journal");
    for entry in std::fs::read_dir(&journal).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::write(&path, b"this is not a journal").unwrap();
        }
    }
    c.restart(0).await;
    c.restart(1).await;
    let started = Instant::now();
    let client = c.client().await;
    for p in (0..P).filter(|p| *p != damaged) {
        let r = client
            .claim(&claim_req(&format!("ok-{p}"), &player_in(p, 0), "h", "mug"))
            .await
            .expect("healthy partition");
        assert_eq!(r.status, trove_protocol::ClaimStatus::Granted);
    }
    let body = json!({"claim_id": "dmg", "player": player_in(damaged, 0), "hunt": "h", "sku": "mug"});
    loop {
        let mut codes = Vec::new();
        for s in c.live() {
            let (st, e) = s.http("POST", "/v1/claims", Some(GAME), Some(&body)).await;
            codes.push((st, e["error"]["code"].as_str().unwrap_or("").to_owned()));
        }
        assert!(
            codes.iter().all(|(st, _)| *st != 200),
            "the damaged partition served a claim"
        );
        if codes.iter().all(|(_, c)| c == "partition_unavailable") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{codes:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `ip` with `args`; panics with its output on failure.
fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip runs");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace with a veth pair to the host: host side
/// `10.88.N.1`, namespace side `10.88.N.2`. Removed on drop.
struct Netns {
    name: String,
    host_if: String,
}

impl Netns {
    fn create(n: u8) -> Option<Netns> {
        let ok = Command::new("ip")
            .args(["netns", "add", &format!("trove-t{n}")])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return None;
        }
        let ns = Netns {
            name: format!("trove-t{n}"),
            host_if: format!("trv{n}h"),
        };
        let peer = format!("trv{n}n");
        ip(&["link", "add", &ns.host_if, "type", "veth", "peer", "name", &peer]);
        ip(&["link", "set", &peer, "netns", &ns.name]);
        ip(&["addr", "add", &format!("10.88.{n}.1/24"), "dev", &ns.host_if]);
        ip(&["link", "set", &ns.host_if, "up"]);
        ip(&[
            "netns",
            "exec",
            &ns.name,
            "ip",
            "addr",
            "add",
            &format!("10.88.{n}.2/24"),
            "dev",
            &peer,
        ]);
        ip(&["netns", "exec", &ns.name, "ip", "link", "set", &peer, "up"]);
        ip(&["netns", "exec", &ns.name, "ip", "link", "set", "lo", "up"]);
        Some(ns)
    }

    fn cut(&self, down: bool) {
        ip(&["link", "set", &self.host_if, if down { "down" } else { "up" }]);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.host_if]).status();
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_cut_off_from_etcd_stops_serving_and_rejoins_cleanly() {
    let Some(bin) = require_etcd("cut_off_node") else {
        return;
    };
    let Some(ns) = Netns::create(7) else {
        if std::env::var("TROVE_REQUIRE_CLUSTER").as_deref() == Ok("1") {
            panic!("cut_off_node needs root and `ip netns` (TROVE_REQUIRE_CLUSTER=1)");
        }
        eprintln!("skipping cut_off_node: cannot create a network namespace (not root?)");
        return;
    };
    let root = tempfile::tempdir().unwrap();
    // etcd and the first node on the host side of the veth, reachable from the namespace.
    let etcd = Etcd::start(bin, root.path(), "10.88.7.1");
    etcd.wait_up().await;
    let host_listen = format!("10.88.7.1:{}", free_port("10.88.7.1"));
    let env = node_env(&etcd.url(), "host", &format!("http://{host_listen}"));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let host = Server::spawn_at(root.path(), &host_listen, &env).expect("host node");
    host.wait_ready(Duration::from_secs(30)).await;
    // The second node inside the namespace.
    let ns_listen = "10.88.7.2:18777";
    let data = root.path().join("data");
    let log = root.path().join("cut.log");
    let mut cut = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.name,
            env!("CARGO_BIN_EXE_trove"),
            "serve",
            "--listen",
            ns_listen,
            "--data",
        ])
        .arg(&data)
        .envs(node_env(&etcd.url(), "cut", &format!("http://{ns_listen}")))
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .unwrap();
    let cut_url = format!("http://{ns_listen}");
    let host_url = format!("http://{}", host.addr);
    let why = || std::fs::read_to_string(&log).unwrap_or_default();
    let mine = wait_owned(&host.addr, &cut_url, (P / 2) as usize, Duration::from_secs(60), &why).await;
    // Cut it off: within the TTL its partitions are the host's.
    ns.cut(true);
    let cut_at = Instant::now();
    wait_owned(&host.addr, &host_url, P as usize, Duration::from_secs(30), &why).await;
    let path = format!("/v1/audit/head?partition={}", mine[0]);
    while !matches!(
        try_http(&host.addr, "GET", &path, Some(AUDITOR), None).await,
        Ok((200, _))
    ) {
        assert!(
            cut_at.elapsed() < Duration::from_secs(30),
            "a moved partition never answered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "cut off: its partitions served by the other node {:?} after the cut",
        cut_at.elapsed()
    );
    let text = why();
    assert!(
        text.contains("fenced=true"),
        "the cut-off node closed its partitions as fenced:\n{text}"
    );
    // Back on the network: it rejoins and takes its share again.
    ns.cut(false);
    wait_owned(&host.addr, &cut_url, (P / 2) as usize, Duration::from_secs(60), &why).await;
    let _ = cut.kill();
    let _ = cut.wait();
    drop(host);
}

/// Waits until the map `addr` answers gives `url` exactly `n` partitions;
/// returns them. `why` explains a timeout.
async fn wait_owned(addr: &str, url: &str, n: usize, limit: Duration, why: &dyn Fn() -> String) -> Vec<u32> {
    let started = Instant::now();
    loop {
        if let Ok((200, body)) = try_http(addr, "GET", "/v1/cluster", Some(GAME), None).await {
            let map: Value = serde_json::from_slice(&body).unwrap();
            let mine: Vec<u32> = owners(&map)
                .into_iter()
                .filter(|(_, u)| u == url)
                .map(|(p, _)| p)
                .collect();
            if mine.len() == n {
                return mine;
            }
        }
        assert!(started.elapsed() < limit, "{url} never owned {n} partitions: {}", why());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `ClusterClient::subscribe_claims` from the start of every partition,
/// read on its own task: `(partition, claim_id)` as yielded.
fn merged_feed(client: &ClusterClient) -> tokio::sync::mpsc::UnboundedReceiver<(u32, String)> {
    let mut feed = client.subscribe_claims(trove_client::VectorCursor::new());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(item) = feed.next().await {
            if let Ok((p, push)) = item {
                if tx.send((p, push.claim_id.to_string())).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// The merged feed yielded every granted claim of the audit trail once,
/// from its own partition, and nothing else.
async fn check_merged_feed(mut rx: tokio::sync::mpsc::UnboundedReceiver<(u32, String)>, audit: &Audit) {
    let want: HashSet<(u32, String)> = audit
        .iter()
        .flat_map(|(p, rows)| rows.iter().filter(|r| r.3 == "granted").map(move |r| (*p, r.0.clone())))
        .collect();
    let mut seen = HashSet::new();
    while seen.len() < want.len() {
        let item = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .unwrap_or_else(|_| panic!("merged feed stalled at {} of {}", seen.len(), want.len()))
            .expect("merged feed ended");
        assert!(
            want.contains(&item),
            "merged feed yielded {item:?}, not a grant of that partition"
        );
        assert!(seen.insert(item.clone()), "merged feed yielded {item:?} twice");
    }
}
