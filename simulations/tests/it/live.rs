//! A short live run: the real `trove` binary, `trove-sim load` against it,
//! with JSON and with MessagePack (`--protocol msgpack`) connections.

use crate::common::*;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ADMIN: &str = "sim-test-admin-key";
const GAME: &str = "sim-test-game-key";

/// The `trove` server binary. `cargo test --workspace` builds every binary
/// of the workspace (trove-api's own tests need it) before any test runs; it
/// sits next to this test's `deps` folder. `TROVE_BIN` overrides the path.
fn trove_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("TROVE_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>/deps/<test>");
    let bin = dir.join(format!("trove{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "the trove server binary is not at {}; run the tests with `cargo test --workspace` (which builds it), \
         or build it first with `cargo build -p trove-api --bin trove`, or set TROVE_BIN",
        bin.display()
    );
    bin
}

struct Server {
    child: Child,
    addr: String,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server() -> Server {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(trove_bin())
        .args(["serve", "--data"])
        .arg(data.path())
        .args(["--listen", "127.0.0.1:0"])
        .env("TROVE_KEYS", format!("admin:{ADMIN},game:{GAME}"))
        .env("TROVE_LOG", "warn")
        .env("TROVE_SNAPSHOT_INTERVAL_SECS", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("trove serve starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(a) = line.strip_prefix("trove listening on http://") {
                let _ = tx.send(a.trim().to_owned());
            }
        }
    });
    let addr = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(a) => a,
        Err(_) => {
            let _ = child.kill();
            panic!("trove serve did not print its address within 60 s");
        }
    };
    let server = Server {
        child,
        addr,
        _data: data,
    };
    // Wait for readiness (recovery and the consistency check).
    let http = trove_client::HttpClient::new(&format!("http://{}", server.addr), Some(ADMIN)).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = rt.block_on(http.readyz());
        if matches!(r, Ok(ref ready) if ready.ready) {
            break;
        }
        assert!(Instant::now() < deadline, "trove serve not ready within 60 s: {r:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

const LIVE: &str = r#"
name = "live smoke"
seed = 3
duration_secs = 60

[hunt]
id = "live"
clues = [
  { id = "a", points = 10 },
  { id = "b", points = 10, difficulty = 0.3 },
]
products = [
  { sku = "pin", stock = 15, per_player_limit = 1, min_score = 0 },
  { sku = "cap", stock = 5, per_player_limit = 1, min_score = 10 },
]
restocks = [ { at_secs = 2, sku = "pin", add = 5 } ]

[population]
players = 150
arrival = "at_open"

[behaviour]
claim_delay_secs = 1
duplicate_share = 0.1
lost_share = 0.02
[behaviour.casual]
events_per_sec = 1.0
[behaviour.products]
pin = { appeal = 0.5 }
cap = { appeal = 0.8 }
"#;

#[test]
fn short_live_run_against_trove_serve() {
    let (server, dir, sc, url) = short_live_run("json");
    // A key that may not send events is refused with a clear message.
    let o = sim(&[
        "load",
        sc.to_str().unwrap(),
        "--url",
        &url,
        "--key",
        "not-a-key-at-all",
        "--duration",
        "1",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("HTTP 401"), "{}", text(&o));
    drop((server, dir));
}

#[test]
fn short_live_run_against_trove_serve_in_msgpack() {
    short_live_run("msgpack");
}

/// Runs `trove-sim load --protocol <protocol>` for 4 s against a fresh
/// server and checks its report; hands back the server, the run's folder,
/// the scenario and the URL for more.
fn short_live_run(protocol: &str) -> (Server, tempfile::TempDir, PathBuf, String) {
    let server = start_server();
    let dir = tempfile::tempdir().unwrap();
    let sc = write_scenario(dir.path(), "live.toml", LIVE);
    let out = dir.path().join("out");
    let url = format!("ws://{}/v1/ws", server.addr);
    let o = sim(&[
        "load",
        sc.to_str().unwrap(),
        "--url",
        &url,
        "--key",
        ADMIN,
        "--duration",
        "4",
        "--connections",
        "2",
        "--protocol",
        protocol,
        "--drain-secs",
        "10",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(r["mode"], "live");
    assert_eq!(r["live"]["protocol"], format!("trove.v1.{protocol}"));
    assert_eq!(r["invariants"]["ok"], true, "{}", r["invariants"]);
    let names: Vec<&str> = r["invariants"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for n in [
        "no_claim_granted_twice",
        "no_oversell",
        "per_player_limits_held",
        "answers_match_server_state",
        "server_consistency",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    let live = &r["live"];
    let ops = live["ops"].as_array().unwrap();
    let events = ops.iter().find(|o| o["op"] == "events").unwrap();
    let claims = ops.iter().find(|o| o["op"] == "claim").unwrap();
    assert!(events["offered"].as_u64().unwrap() > 0, "{live}");
    assert_eq!(events["answered_ok"], events["offered"], "{live}");
    assert!(claims["answered_ok"].as_u64().unwrap() > 0, "{live}");
    assert!(events["p50_ms"].as_f64().unwrap() > 0.0);
    assert!(events["max_ms"].as_f64().unwrap() >= events["p99_ms"].as_f64().unwrap());
    assert!(live["events_accepted"].as_u64().unwrap() > 100, "{live}");
    assert!(r["totals"]["granted"].as_u64().unwrap() > 0);
    assert_eq!(r["products"][0]["restocked"], 5, "the restock went over HTTP");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Live server: load and latency"));
    assert!(html.contains(&format!("trove.v1.{protocol}")));
    (server, dir, sc, url)
}
