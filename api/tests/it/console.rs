//! The console's server side: the embedded files and their headers, sign-in
//! (`/v1/whoami`), WebSocket tickets, the `hunts` and `stats` topics, the
//! dispatch feed's `tail`, and `invalid_hunt`'s `field`. The page itself is
//! tested in Chromium (`api/console/tests/`).

use crate::harness::*;
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use trove_client::HttpClient;

const ROLES: [(&str, &str); 4] = [
    ("admin", ADMIN),
    ("game", GAME),
    ("designer", DESIGNER),
    ("auditor", AUDITOR),
];

async fn raw(s: &Server, method: &str, path: &str, key: Option<&str>) -> trove_client::RawResponse {
    let c = HttpClient::unpooled(&format!("http://{}", s.addr), None).unwrap();
    c.raw(method, path, key, None).await.unwrap()
}

#[tokio::test]
async fn the_console_is_served_from_the_binary_with_strict_headers() {
    let (s, _dir) = Server::start().await;
    let page = raw(&s, "GET", "/console/", None).await;
    assert_eq!(page.status, 200);
    assert!(page.headers["content-type"].to_str().unwrap().starts_with("text/html"));
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(page.headers["x-content-type-options"], "nosniff");
    let html = String::from_utf8_lossy(&page.body);
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no outside resource"
    );
    // Every file of api/console/assets is served, with a fitting type.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("console/assets");
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let r = raw(&s, "GET", &format!("/console/{name}"), None).await;
        assert_eq!(r.status, 200, "{name} is embedded");
        assert_eq!(r.body, std::fs::read(entry_path(&name)).unwrap(), "{name} as on disk");
    }
    let js = raw(&s, "GET", "/console/console.js", None).await;
    assert!(js.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    // `/console` redirects to `/console/` (the client follows it).
    let r = raw(&s, "GET", "/console", None).await;
    assert_eq!((r.status, &r.body), (200, &page.body));
    let r = raw(&s, "GET", "/console/../keys.toml", None).await;
    assert_eq!(r.status, 404);
    let r = raw(&s, "GET", "/console/nope.js", None).await;
    assert_eq!(r.status, 404);
    // API answers carry the same headers.
    let api = raw(&s, "GET", "/v1/hunts", Some(ADMIN)).await;
    assert_eq!(api.headers["x-content-type-options"], "nosniff");
    assert!(api.headers.contains_key("content-security-policy"));
}

fn entry_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("console/assets")
        .join(name)
}

#[tokio::test]
async fn whoami_names_the_role_and_what_it_may_do() {
    let (s, _dir) = Server::start().await;
    for (role, key) in ROLES {
        let (st, body) = s.http("GET", "/v1/whoami", Some(key), None).await;
        assert_eq!((st, body["role"].as_str()), (200, Some(role)), "{body}");
        let may: Vec<&str> = body["may"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let expected: &[&str] = match role {
            "admin" => &["events", "claim", "subscribe", "read", "design", "audit", "admin"],
            "game" => &["events", "claim", "subscribe", "read"],
            "designer" => &["read", "design"],
            _ => &["read", "audit"],
        };
        assert_eq!(may, expected, "{role}");
    }
    let (st, body) = s.http("GET", "/v1/whoami", Some("not-a-key-at-all"), None).await;
    assert_eq!((st, body["error"]["code"].as_str()), (401, Some("unauthorized")));
    let (st, _) = s.http("GET", "/v1/whoami", None, None).await;
    assert_eq!(st, 401);
}

async fn ticket(s: &Server, key: &str) -> String {
    let (st, body) = s.http("POST", "/v1/ws/ticket", Some(key), None).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["expires_in_ms"], 30_000);
    body["ticket"].as_str().unwrap().to_owned()
}

async fn ws_with_ticket(s: &Server, ticket: &str) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let req = format!("ws://{}/v1/ws?ticket={ticket}", s.addr).into_client_request()?;
    Ws::connect_request(req).await
}

#[tokio::test]
async fn a_ticket_opens_one_websocket_with_its_keys_role() {
    let (s, _dir) = Server::start().await;
    s.define_example_hunt("h", 5, 1).await;
    let (st, _) = s.http("POST", "/v1/ws/ticket", Some("wrong-key-123"), None).await;
    assert_eq!(st, 401);
    let t = ticket(&s, DESIGNER).await;
    let mut ws = ws_with_ticket(&s, &t).await.expect("the ticket opens a socket");
    // The designer's role: it may read, not claim.
    let r = ws.call(json!({"op": "player", "hunt": "h", "player": "p"})).await;
    assert_eq!(r["ok"], true, "{r}");
    let r = ws.call(claim("k", "p", "h", "mug")).await;
    assert_eq!(r["error"]["code"], "forbidden", "{r}");
    ws.close().await;
    // Spent: a second upgrade with it is refused before the handshake.
    assert!(ws_with_ticket(&s, &t).await.is_err(), "a ticket works once");
    assert!(ws_with_ticket(&s, "made-up").await.is_err());
}

#[tokio::test]
async fn topics_follow_the_role_matrix() {
    let (s, _dir) = Server::start().await;
    s.define_example_hunt("h", 5, 1).await;
    for (role, key) in ROLES {
        let mut ws = s.ws(key).await;
        let cases = [
            (json!({"op": "subscribe", "topic": "hunts"}), true),
            (json!({"op": "subscribe", "topic": "stats"}), role == "admin"),
            (
                json!({"op": "subscribe", "topic": "claims", "tail": 0}),
                matches!(role, "admin" | "game"),
            ),
            (
                json!({"op": "subscribe", "topic": "leaderboard", "hunt": "h"}),
                matches!(role, "admin" | "game"),
            ),
        ];
        for (req, allowed) in cases {
            let r = ws.call(req.clone()).await;
            if allowed {
                assert_eq!(r["ok"], true, "{role} {req}: {r}");
            } else {
                assert_eq!(r["error"]["code"], "forbidden", "{role} {req}: {r}");
            }
        }
        ws.close().await;
    }
}

/// The next push of `kind` that satisfies `pred`, skipping others.
async fn push_until(ws: &mut Ws, kind: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let p = ws
            .next_push(left)
            .await
            .unwrap_or_else(|| panic!("no {kind} push in time"));
        if p["push"] == kind && pred(&p) {
            return p;
        }
    }
}

#[tokio::test]
async fn the_hunts_topic_pushes_ledgers_and_rejections_by_reason() {
    let (s, _dir) = Server::start().await;
    let hostile = "<img src=x onerror=alert(1)>";
    let mut def = hunt_def("h", 2, 1);
    def["name"] = json!(hostile);
    let (st, body) = s.http("POST", "/v1/hunts", Some(DESIGNER), Some(&def)).await;
    assert_eq!(st, 201, "{body}");
    let mut ws = s.ws(AUDITOR).await;
    let r = ws.call(json!({"op": "subscribe", "topic": "hunts"})).await;
    let sub = r["subscription"].clone();
    let first = push_until(&mut ws, "hunts", |_| true).await;
    assert_eq!(first["subscription"], sub);
    assert_eq!(first["hunts"][0]["name"], hostile, "names come back as given");
    let mut game = s.ws(GAME).await;
    for (i, player) in ["p1", "p2", "p3", "p1"].iter().enumerate() {
        game.call(claim(&format!("k{i}"), player, "h", "mug")).await;
    }
    game.call(claim("k9", "p4", "h", "no-such-sku")).await;
    let p = push_until(&mut ws, "hunts", |p| p["hunts"][0]["unknown_product"] == 1).await;
    let mug = &p["hunts"][0]["products"][0];
    assert_eq!(
        (mug["sku"].as_str(), mug["granted"].as_u64(), mug["remaining"].as_u64()),
        (Some("mug"), Some(2), Some(0))
    );
    assert_eq!(
        mug["rejected"],
        json!({"out_of_stock": 1, "not_eligible": 0, "limit_reached": 1, "hunt_closed": 0})
    );
    assert_eq!(p["truncated"], false);
    // Stock added shows too.
    let (st, _) = s
        .http(
            "POST",
            "/v1/hunts/h/products/mug/stock",
            Some(DESIGNER),
            Some(&json!({"add": 3})),
        )
        .await;
    assert_eq!(st, 200);
    let p = push_until(&mut ws, "hunts", |p| p["hunts"][0]["products"][0]["added"] == 3).await;
    assert_eq!(p["hunts"][0]["products"][0]["remaining"], 3);
    // Restarted (the counts come back from the checkpoint or the journal).
    drop(ws);
    drop(game);
    let root = s.data.parent().unwrap().to_path_buf();
    let addr = s.addr.clone();
    assert!(s.terminate().success());
    let s = Server::start_at(&root, &addr).await;
    let mut ws = s.ws(ADMIN).await;
    ws.call(json!({"op": "subscribe", "topic": "hunts"})).await;
    let p = push_until(&mut ws, "hunts", |_| true).await;
    assert_eq!(
        p["hunts"][0]["products"][0]["rejected"],
        json!({"out_of_stock": 1, "not_eligible": 0, "limit_reached": 1, "hunt_closed": 0})
    );
}

#[tokio::test]
async fn the_stats_topic_pushes_rates_journal_and_checks() {
    let (s, _dir) = Server::start().await;
    s.define_example_hunt("h", 100, 1).await;
    let mut ws = s.ws(ADMIN).await;
    let r = ws.call(json!({"op": "subscribe", "topic": "stats"})).await;
    assert_eq!(r["interval_ms"], 500, "{r}");
    let mut game = s.ws(GAME).await;
    for i in 0..5 {
        game.call(claim(&format!("k{i}"), &format!("p{i}"), "h", "mug")).await;
    }
    let (st, _) = s.http("GET", "/v1/admin/consistency", Some(ADMIN), None).await;
    assert_eq!(st, 200);
    let p = push_until(&mut ws, "stats", |p| {
        p["claims_total"]["granted"] == 5 && p["consistency"]["ok"] == true
    })
    .await;
    assert_eq!(p["ready"]["ready"], true, "{p}");
    assert_eq!(p["journal"]["durability"], "flush");
    let head = &p["journal"]["chain_head"];
    assert_eq!(head["seq"], p["journal"]["durable_seq"]);
    assert_eq!(head["hash"].as_str().unwrap().len(), 64, "{p}");
    assert!(p["connections"].as_u64().unwrap() >= 2, "{p}");
    assert!(p["consistency"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["ok"] == true));
    assert!(p["ack_p99_ms"].is_number() || p["ack_p99_ms"].is_null());
    // The head it shows is the one an auditor records and a full export ends at.
    let (st, head) = s.http("GET", "/v1/audit/head", Some(AUDITOR), None).await;
    assert_eq!(st, 200, "{head}");
    assert_eq!(
        (&head["seq"], &head["hash"]),
        (&p["journal"]["chain_head"]["seq"], &p["journal"]["chain_head"]["hash"])
    );
    assert_eq!(
        head["head"],
        format!("{}:{}", head["seq"], head["hash"].as_str().unwrap())
    );
    let (st, export) = s.http_raw("GET", "/v1/audit/export", Some(AUDITOR), b"").await;
    assert_eq!(st, 200);
    let footer: Value =
        serde_json::from_slice(export.trim_ascii_end().rsplit(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(
        (&footer["last_seq"], &footer["last_hash"]),
        (&head["seq"], &head["hash"]),
        "{footer}"
    );
    let (st, _) = s.http("GET", "/v1/audit/head", Some(DESIGNER), None).await;
    assert_eq!(st, 403);
    let (st, body) = s.http("POST", "/v1/admin/snapshot", Some(ADMIN), None).await;
    assert_eq!(st, 200, "{body}");
    let p = push_until(&mut ws, "stats", |p| !p["snapshot"].is_null()).await;
    assert!(p["snapshot"]["seq"].as_u64().unwrap() >= 6, "{p}");
}

#[tokio::test]
async fn a_tailed_feed_starts_near_the_head() {
    let (s, _dir) = Server::start().await;
    s.define_example_hunt("h", 100, 1).await;
    let mut game = s.ws(GAME).await;
    for i in 0..3 {
        game.call(claim(&format!("old{i}"), &format!("p{i}"), "h", "mug")).await;
    }
    let r = game
        .call(json!({"op": "subscribe", "topic": "claims", "tail": 1}))
        .await;
    assert_eq!(r["ok"], true, "{r}");
    let from = r["from"].as_u64().unwrap();
    assert!(from >= 3, "{r}");
    let p = game.next_push(Duration::from_secs(5)).await.unwrap();
    assert_eq!(p["claim_id"], "old2", "only the last record of the tail: {p}");
    game.call(claim("new", "p9", "h", "mug")).await;
    let p = game.next_push(Duration::from_secs(5)).await.unwrap();
    assert_eq!(p["claim_id"], "new");
    let r = game
        .call(json!({"op": "subscribe", "topic": "claims", "tail": 2_000_000}))
        .await;
    assert_eq!(r["error"]["code"], "invalid_request", "{r}");
    let r = game
        .call(json!({"op": "subscribe", "topic": "claims", "tail": 1, "from": 4}))
        .await;
    assert_eq!(r["error"]["code"], "invalid_request", "{r}");
}

#[tokio::test]
async fn invalid_hunts_name_the_field() {
    let (s, _dir) = Server::start().await;
    let cases = [
        (
            json!({"id": "h", "products": [{"sku": "a", "stock": "many"}]}),
            "products[0].stock",
        ),
        (
            json!({"id": "h", "opens_at": "2030-01-01T00:00:00Z", "closes_at": "2020-01-01T00:00:00Z"}),
            "closes_at",
        ),
        (
            json!({"id": "h", "products": [{"sku": "a", "stock": 1}, {"sku": "a", "stock": 1}]}),
            "products[1].sku",
        ),
        (
            json!({"id": "h", "products": [{"sku": "a", "stock": 1, "per_player_limit": 0}]}),
            "products[0].per_player_limit",
        ),
        (json!({"id": "", "products": []}), "id"),
    ];
    for (def, field) in cases {
        let (st, body) = s.http("POST", "/v1/hunts", Some(DESIGNER), Some(&def)).await;
        assert_eq!(
            (st, body["error"]["code"].as_str()),
            (400, Some("invalid_hunt")),
            "{def}: {body}"
        );
        assert_eq!(body["error"]["field"], field, "{def}: {body}");
    }
    let (st, body) = s.http_raw("POST", "/v1/hunts", Some(DESIGNER), b"{\"id\": ").await;
    assert_eq!(st, 400);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["code"], "invalid_json");
    assert!(body["error"].get("field").is_none(), "{body}");
}
