//! `trove_client` against the real binary: typed ops on both transports,
//! typed errors, claims that survive a SIGKILL of the server, the claims
//! feed resuming from its cursor across a restart, and a refused key. The
//! WebSocket tests run with both codecs (JSON and MessagePack).

use crate::harness::*;
use futures_util::StreamExt;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use trove_client::{Client, ClientError, Config, HttpClient};
use trove_protocol::{
    AuditClaimsParams, AuditStatus, ClaimReply, ClaimRequest, ClaimStatus, Codec, ErrorCode, EventKind, EventsRequest,
    ExportParams, GameEvent, HuntDefinition, LeaderboardParams, LeaderboardRequest, PlayerRequest, ReportParams,
};

fn claim_req<'a>(claim_id: &'a str, player: &'a str, hunt: &'a str) -> ClaimRequest<'a> {
    ClaimRequest {
        claim_id: claim_id.into(),
        player: player.into(),
        hunt: hunt.into(),
        sku: "mug".into(),
        customs: None,
    }
}

fn clue_event<'a>(player: &'a str, hunt: &'a str, clue: &'a str) -> GameEvent<'a> {
    GameEvent {
        player: player.into(),
        hunt: hunt.into(),
        kind: EventKind::ClueFound { clue: clue.into() },
    }
}

/// A config that reconnects quickly and waits long enough for a restart.
fn patient() -> Config {
    Config {
        request_timeout: Duration::from_secs(120),
        backoff_base: Duration::from_millis(20),
        backoff_cap: Duration::from_millis(300),
        ..Config::default()
    }
}

/// [`patient`] in `codec`.
fn patient_in(codec: Codec) -> Config {
    Config { codec, ..patient() }
}

/// Every decided claim of the audit trail: claim id to (granted, seq).
async fn trail(http: &HttpClient) -> HashMap<String, (bool, u64)> {
    let mut out = HashMap::new();
    let mut after = 0;
    loop {
        let page = http
            .audit_claims(&AuditClaimsParams {
                after: Some(after),
                limit: Some(10_000),
            })
            .await
            .expect("audit claims");
        for c in &page.claims {
            let fresh = out.insert(c.claim_id.clone(), (c.status == AuditStatus::Granted, c.seq));
            assert!(fresh.is_none(), "claim {} decided twice", c.claim_id);
        }
        if page.next_after == after {
            return out;
        }
        after = page.next_after;
    }
}

#[tokio::test]
async fn http_typed_ops_round_trip_and_errors_are_typed() {
    let (s, _dir) = Server::start().await;
    let designer = s.client(Some(DESIGNER));
    let text = hunt_def("h", 5, 1).to_string();
    let def: HuntDefinition = serde_json::from_str(&text).unwrap();
    let r = designer.define_hunt(&def).await.unwrap();
    assert!(r.created && r.id == "h");
    assert!(!designer.define_hunt(&def).await.unwrap().created);
    assert_eq!(designer.hunts().await.unwrap().hunts, vec!["h".to_owned()]);
    let r = designer.add_stock("h", "mug", 2).await.unwrap();
    assert_eq!((r.added, r.remaining), (2, 7));

    let game = s.client(Some(GAME));
    let batch = EventsRequest {
        events: vec![clue_event("p1", "h", "c1"), clue_event("p2", "h", "c3")],
    };
    assert_eq!(game.events(&batch).await.unwrap().accepted, 2);
    let c = game.claim(&claim_req("k1", "p1", "h")).await.unwrap();
    assert_eq!((c.status, c.duplicate), (ClaimStatus::Granted, false));
    let again = game.claim(&claim_req("k1", "p1", "h")).await.unwrap();
    assert_eq!(
        (again.status, again.duplicate, again.seq),
        (ClaimStatus::Granted, true, c.seq)
    );
    let p = game.player("h", "p1").await.unwrap();
    assert_eq!((p.score, p.claims.len()), (10, 1));
    let hunt = game.hunt("h").await.unwrap();
    assert_eq!(hunt.products[0].granted, 1);
    let params = LeaderboardParams {
        limit: Some(5),
        around: None,
    };
    let mut board = game.leaderboard("h", &params).await.unwrap();
    for _ in 0..50 {
        if board.entries.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        board = game.leaderboard("h", &params).await.unwrap();
    }
    assert_eq!(board.entries[0].player, "p2");

    let admin = s.client(Some(ADMIN));
    assert!(admin.consistency().await.unwrap().ok);
    assert!(admin.snapshot().await.unwrap().seq >= c.seq);
    let auditor = s.client(Some(AUDITOR));
    let trail = trail(&auditor).await;
    assert_eq!(trail["k1"], (true, c.seq));
    let report = auditor.audit_report(&ReportParams::default()).await.unwrap();
    assert!(report.claims.iter().any(|k| k.outcome == "granted" && k.count == 1));
    let mut export = auditor.audit_export(&ExportParams::default()).await.unwrap();
    let mut bytes = Vec::new();
    while let Some(chunk) = export.next().await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.lines().last().unwrap().contains("\"footer\""), "{text}");
    assert!(auditor.openapi().await.unwrap()["paths"].is_object());
    assert!(auditor.readyz().await.unwrap().ready);
    assert_eq!(auditor.healthz().await.unwrap().status, "ok");
    assert!(auditor.metrics().await.unwrap().contains("trove_"));

    // Errors carry the server's code and status.
    match game.hunt("nope").await {
        Err(ClientError::Server { code, status, .. }) => {
            assert_eq!((code, status), (ErrorCode::UnknownHunt, Some(404)))
        }
        other => panic!("{other:?}"),
    }
    let bad = EventsRequest {
        events: vec![clue_event("p1", "h", "c1"), clue_event("p1", "h", "c9")],
    };
    match game.events(&bad).await {
        Err(ClientError::Server { code, index, .. }) => assert_eq!((code, index), (ErrorCode::InvalidEvent, Some(1))),
        other => panic!("{other:?}"),
    }
    assert_eq!(game.consistency().await.unwrap_err().code(), Some(ErrorCode::Forbidden));
    let raw = game
        .raw("POST", "/v1/claims", Some(GAME), Some(b"{oops".to_vec()))
        .await
        .unwrap();
    assert_eq!(raw.status, 400);
}

#[tokio::test]
async fn websocket_typed_ops_round_trip_and_errors_are_typed() {
    websocket_typed_ops(Codec::Json).await;
}

#[tokio::test]
async fn websocket_typed_ops_round_trip_and_errors_are_typed_in_msgpack() {
    websocket_typed_ops(Codec::MessagePack).await;
}

async fn websocket_typed_ops(codec: Codec) {
    let (s, _dir) = Server::start().await;
    s.define_example_hunt("h", 5, 1).await;
    let ws = if codec == Codec::Json {
        Client::connect(&s.ws_url(), GAME).await.unwrap()
    } else {
        let config = Config {
            codec,
            ..Config::default()
        };
        Client::connect_with(&s.ws_url(), GAME, config).await.unwrap()
    };
    let batch = EventsRequest {
        events: vec![clue_event("p1", "h", "c1"), clue_event("p2", "h", "c2")],
    };
    assert_eq!(ws.events(&batch).await.unwrap().accepted, 2);
    let customs =
        serde_json::value::RawValue::from_string(r#"{"country":"NL","value":12.5,"lines":[1,2]}"#.into()).unwrap();
    let c = ws
        .claim(&ClaimRequest {
            customs: Some(&customs),
            ..claim_req("k1", "p1", "h")
        })
        .await
        .unwrap();
    assert_eq!(c.status, ClaimStatus::Granted);
    let mut feed = ws.subscribe_claims(0).await.unwrap();
    let push = tokio::time::timeout(Duration::from_secs(10), feed.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!((&*push.claim_id, push.customs.get()), ("k1", customs.get()));
    feed.unsubscribe().await.unwrap();
    let p = ws
        .player(&PlayerRequest {
            player: "p1".into(),
            hunt: "h".into(),
        })
        .await
        .unwrap();
    assert_eq!((p.score, p.claims[0].claim_id.as_ref()), (10, "k1"));
    let mut pushes = ws.subscribe_leaderboard("h", Some(3)).await.unwrap();
    let push = tokio::time::timeout(Duration::from_secs(10), pushes.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(push.hunt, "h");
    pushes.unsubscribe().await.unwrap();
    let board = ws
        .leaderboard(&LeaderboardRequest {
            hunt: "h".into(),
            limit: Some(3),
            around: None,
        })
        .await
        .unwrap();
    assert!(board.entries.len() <= 3);

    // Pipelined: many in flight, awaited afterwards.
    let mut replies = Vec::new();
    for i in 0..40 {
        let (id, player) = (format!("pipe-{i}"), format!("q{i}"));
        replies.push(ws.send_claim(&claim_req(&id, &player, "h")).await.unwrap());
    }
    let mut granted = 0;
    for r in replies {
        granted += usize::from(r.await.unwrap().status == ClaimStatus::Granted);
    }
    assert_eq!(granted, 4, "stock 5, one granted before");

    match ws
        .player(&PlayerRequest {
            player: "p1".into(),
            hunt: "nope".into(),
        })
        .await
    {
        Err(ClientError::Server { code, status, .. }) => assert_eq!((code, status), (ErrorCode::UnknownHunt, None)),
        other => panic!("{other:?}"),
    }
    let bad = EventsRequest {
        events: vec![clue_event("p1", "h", "c9")],
    };
    let e = ws.events(&bad).await.unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Server {
                code: ErrorCode::InvalidEvent,
                index: Some(0),
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_in_flight_across_a_sigkill_resolve_once_with_the_recorded_outcome() {
    claims_across_a_sigkill(Codec::Json).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_in_flight_across_a_sigkill_resolve_once_in_msgpack() {
    claims_across_a_sigkill(Codec::MessagePack).await;
}

async fn claims_across_a_sigkill(codec: Codec) {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_on(dir.path()).await;
    s.define_example_hunt("h", 25, 1).await;
    let addr = s.addr.clone();
    let ws = Client::connect_with(&s.ws_url(), GAME, patient_in(codec))
        .await
        .unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for t in 0..6 {
        let (ws, done) = (ws.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for i in 0..15 {
                let (id, player) = (format!("c-{t}-{i}"), format!("p-{t}-{i}"));
                let r: Result<ClaimReply<'static>, ClientError> = ws.claim(&claim_req(&id, &player, "h")).await;
                out.push((id, r));
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
            out
        }));
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    s.kill();
    let done_at_kill = done.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (1..90).contains(&done_at_kill),
        "killed mid-way: {done_at_kill} answered"
    );
    let s = Server::start_at(dir.path(), &addr).await;

    let mut replies = HashMap::new();
    for t in tasks {
        for (id, r) in t.await.unwrap() {
            let r = r.unwrap_or_else(|e| panic!("claim {id}: {e}"));
            assert_eq!(r.claim_id, id);
            assert!(replies.insert(id, r).is_none(), "one answer per claim");
        }
    }
    assert_eq!(replies.len(), 90);
    eprintln!(
        "{done_at_kill} answered before the kill, {} answered as duplicates after it",
        replies.values().filter(|r| r.duplicate).count()
    );
    let trail = trail(&s.client(Some(AUDITOR))).await;
    assert_eq!(trail.len(), 90, "every claim decided exactly once");
    for (id, r) in &replies {
        assert_eq!(
            trail[id],
            (r.status == ClaimStatus::Granted, r.seq),
            "claim {id}: {r:?}"
        );
    }
    let granted = trail.values().filter(|(g, _)| *g).count();
    assert_eq!(granted, 25, "every unit granted once, none oversold");
    let hunt = s.client(Some(ADMIN)).hunt("h").await.unwrap();
    assert_eq!((hunt.products[0].granted, hunt.products[0].remaining), (25, 0));
    assert!(s.client(Some(ADMIN)).consistency().await.unwrap().ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_claims_feed_resumes_from_its_cursor_across_a_restart() {
    feed_across_a_restart(Codec::Json).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_claims_feed_resumes_from_its_cursor_across_a_restart_in_msgpack() {
    feed_across_a_restart(Codec::MessagePack).await;
}

async fn feed_across_a_restart(codec: Codec) {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_on(dir.path()).await;
    s.define_example_hunt("h", 1000, 1).await;
    let addr = s.addr.clone();
    let feed_client = Client::connect_with(&s.ws_url(), GAME2, patient_in(codec))
        .await
        .unwrap();
    let mut feed = feed_client.subscribe_claims(0).await.unwrap();
    let game = s.client(Some(GAME));
    for i in 0..20 {
        game.claim(&claim_req(&format!("a{i}"), &format!("p{i}"), "h"))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    while seen.len() < 10 {
        let push = tokio::time::timeout(Duration::from_secs(20), feed.next())
            .await
            .expect("push")
            .unwrap()
            .unwrap();
        seen.push((push.cursor, push.claim_id.into_owned()));
    }
    let cursor_before = feed.cursor();
    assert_eq!(cursor_before, seen.last().unwrap().0);
    s.kill();
    let s = Server::start_at(dir.path(), &addr).await;
    let game = s.client(Some(GAME));
    for i in 20..40 {
        game.claim(&claim_req(&format!("a{i}"), &format!("p{i}"), "h"))
            .await
            .unwrap();
    }
    let started = Instant::now();
    while seen.len() < 40 {
        assert!(started.elapsed() < Duration::from_secs(60), "feed stalled at {seen:?}");
        let push = tokio::time::timeout(Duration::from_secs(30), feed.next())
            .await
            .expect("push after the restart")
            .unwrap()
            .unwrap();
        seen.push((push.cursor, push.claim_id.into_owned()));
    }
    assert!(
        seen.windows(2).all(|w| w[0].0 < w[1].0),
        "journal order, no repeats: {seen:?}"
    );
    let ids: HashSet<String> = seen.into_iter().map(|(_, id)| id).collect();
    let granted: HashSet<String> = trail(&s.client(Some(AUDITOR)))
        .await
        .into_iter()
        .filter(|(_, (g, _))| *g)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids, granted, "no granted claim missing");
    assert!(feed.cursor() > cursor_before);
}

#[tokio::test]
async fn a_wrong_key_is_a_typed_unauthorized_error_without_retries() {
    let (s, _dir) = Server::start().await;
    let started = Instant::now();
    let e = Client::connect_with(&s.ws_url(), "not-a-key-123", patient())
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Unauthorized), "{e:?}");
    assert_eq!(e.code(), Some(ErrorCode::Unauthorized));
    assert!(started.elapsed() < Duration::from_secs(5), "no retry loop");
    let e = s.client(Some("not-a-key-123")).hunts().await.unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Server {
                code: ErrorCode::Unauthorized,
                status: Some(401),
                ..
            }
        ),
        "{e:?}"
    );
}
