//! The live mode (`trove-sim load`): the scenario's players drive a running
//! `trove serve` over its WebSocket protocol, as `connections` game-server
//! connections, open loop at the scenario's own rate.
//!
//! Open loop means the sender never waits for answers: each second's requests
//! get intended send times spread evenly over that second, and each latency is
//! measured from the intended send time to the answer, into an HdrHistogram.
//! If the server (or the sender) falls behind, the wait counts as latency
//! (no coordinated omission).
//!
//! The hunt is defined over HTTP (`POST /v1/hunts`, a designer or admin key),
//! restocks go to `POST /v1/hunts/{hunt}/products/{sku}/stock`, and after the
//! run the server's own consistency check (`GET /v1/admin/consistency`, admin
//! key) and the hunt's ledger (`GET /v1/hunts/{hunt}`) join the invariant check.

use crate::assemble::{self, ReportInput, Scores};
use crate::error::SimError;
use crate::model::{ClaimAnswer, EventPlan, Model, Names, PlannedClaim, PlannedEvent, Tick, INTERACTIONS};
use crate::observe::{Check, Recorder};
use crate::report::{r4, LiveReport, OpLoad, Report};
use crate::scenario::Scenario;
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant as TInstant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use trove_engine::{Outcome, RejectReason};

/// How to reach the server and how hard to drive it.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// `ws://host:port/v1/ws`.
    pub url: String,
    /// Key for the WebSocket (game or admin role).
    pub key: String,
    /// Key for defining the hunt and restocking (designer or admin); default `key`.
    pub design_key: Option<String>,
    /// Key for the consistency check (admin); default `key`.
    pub admin_key: Option<String>,
    /// Game-server connections (WebSockets) the players are spread over.
    pub connections: usize,
    /// Most events per `events` request.
    pub batch: usize,
    /// Run only the first this many seconds of the scenario.
    pub duration: Option<u32>,
    /// Hunt id on the server; default `<scenario hunt id>-<unix seconds>`.
    pub hunt_id: Option<String>,
    /// How long to wait for answers after the last send.
    pub drain: Duration,
    /// Seed of the player model.
    pub seed: u64,
}

/// The parts of a `ws://` URL.
#[derive(Clone, Debug)]
pub struct Target {
    /// `host:port` to open TCP connections to (port 80 when none is given).
    pub host_port: String,
    /// The WebSocket URL, normalized with the port.
    pub ws_url: String,
}

/// Splits a `ws://HOST[:PORT][/PATH]` URL (path default `/v1/ws`);
/// refuses `wss://` and anything else.
pub fn parse_url(url: &str) -> Result<Target, SimError> {
    let rest = if let Some(r) = url.strip_prefix("ws://") {
        r
    } else if url.starts_with("wss://") {
        return Err(SimError::Live(
            "wss:// is not supported by trove-sim; point it at the server's plain ws:// listener".into(),
        ));
    } else {
        return Err(SimError::Live(format!(
            "--url must look like ws://HOST:PORT/v1/ws, not {url:?}"
        )));
    };
    let (host_port, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/v1/ws"),
    };
    if host_port.is_empty() {
        return Err(SimError::Live(format!("--url {url:?} has no host")));
    }
    let host_port = if host_port.contains(':') && !host_port.ends_with(']') {
        host_port.to_owned()
    } else {
        format!("{host_port}:80")
    };
    Ok(Target {
        ws_url: format!("ws://{host_port}{path}"),
        host_port,
    })
}

/// A minimal HTTP/1.1 client (one request per connection), enough for the
/// few designer and admin calls the live mode makes.
pub async fn http(
    target: &Target,
    method: &str,
    path: &str,
    key: &str,
    body: Option<&Value>,
) -> Result<(u16, Value), SimError> {
    let live = |m: String| SimError::Live(m);
    let mut stream = tokio::net::TcpStream::connect(&target.host_port)
        .await
        .map_err(|e| live(format!("cannot connect to {}: {e}", target.host_port)))?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        target.host_port,
        body.len()
    );
    stream
        .write_all(req.as_bytes())
        .await
        .map_err(|e| live(format!("{method} {path}: {e}")))?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(120), stream.read_to_end(&mut buf))
        .await
        .map_err(|_| live(format!("{method} {path}: no answer within 120 s")))?
        .map_err(|e| live(format!("{method} {path}: {e}")))?;
    let text = String::from_utf8_lossy(&buf);
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| live(format!("{method} {path}: malformed HTTP answer")))?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| live(format!("{method} {path}: malformed status line")))?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:") && l.to_ascii_lowercase().contains("chunked")
    });
    let body = if chunked { dechunk(rest) } else { rest.to_owned() };
    let v = serde_json::from_str(&body).unwrap_or(Value::String(body));
    Ok((status, v))
}

fn dechunk(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

fn error_code(v: &Value) -> String {
    v["error"]["code"].as_str().unwrap_or("unknown").to_owned()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Events,
    Claim,
}

enum Payload {
    Events { planned: Vec<PlannedEvent>, count: u64 },
    Claim(PlannedClaim),
}

struct Pending {
    intended: TInstant,
    payload: Payload,
}

/// An answer, parsed by the connection's reader task.
struct Answer {
    id: Option<u64>,
    at: TInstant,
    ok: bool,
    code: String,
    accepted: u64,
    outcome: Option<Outcome>,
    duplicate: bool,
}

fn parse_reason(s: &str) -> Option<RejectReason> {
    RejectReason::ALL.iter().copied().find(|r| r.code() == s)
}

fn parse_answer(text: &str, at: TInstant) -> Option<Answer> {
    let v: Value = serde_json::from_str(text).ok()?;
    if v.get("push").is_some() {
        return None;
    }
    let ok = v["ok"].as_bool().unwrap_or(false);
    let outcome = match v["status"].as_str() {
        Some("granted") => Some(Outcome::Granted),
        Some("rejected") => v["reason"].as_str().and_then(parse_reason).map(Outcome::Rejected),
        _ => None,
    };
    Some(Answer {
        id: v["id"].as_u64(),
        at,
        ok,
        code: if ok { String::new() } else { error_code(&v) },
        accepted: v["accepted"].as_u64().unwrap_or(0),
        outcome,
        duplicate: v["duplicate"].as_bool().unwrap_or(false),
    })
}

struct Conn {
    tx: mpsc::UnboundedSender<String>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

async fn connect(target: &Target, key: &str, answers: mpsc::UnboundedSender<Answer>) -> Result<Conn, SimError> {
    let mut req = target
        .ws_url
        .as_str()
        .into_client_request()
        .map_err(|e| SimError::Live(format!("bad --url: {e}")))?;
    req.headers_mut().insert(
        "Authorization",
        format!("Bearer {key}")
            .parse()
            .map_err(|_| SimError::Live("the key contains characters not allowed in a header".into()))?,
    );
    let (ws, _) = tokio_tungstenite::connect_async(req).await.map_err(|e| match e {
        tokio_tungstenite::tungstenite::Error::Http(r) => SimError::Live(format!(
            "WebSocket connection to {} refused with HTTP {}{}",
            target.ws_url,
            r.status().as_u16(),
            if r.status().as_u16() == 401 {
                " (check --key)"
            } else {
                ""
            }
        )),
        e => SimError::Live(format!("WebSocket connection to {} failed: {e}", target.ws_url)),
    })?;
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            if sink.feed(Message::text(first)).await.is_err() {
                return;
            }
            while let Ok(more) = rx.try_recv() {
                if sink.feed(Message::text(more)).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
        let _ = sink.send(Message::Close(None)).await;
    });
    let reader = tokio::spawn(async move {
        while let Some(msg) = stream.next().await {
            let at = TInstant::now();
            match msg {
                Ok(Message::Text(t)) => {
                    if let Some(a) = parse_answer(t.as_str(), at) {
                        if answers.send(a).is_err() {
                            return;
                        }
                    }
                }
                Ok(Message::Close(_)) | Err(_) => return,
                Ok(_) => {}
            }
        }
    });
    Ok(Conn {
        tx,
        tasks: vec![writer, reader],
    })
}

struct OpStats {
    offered: u64,
    ok: u64,
    error: u64,
    hist: Histogram<u64>,
}

impl OpStats {
    fn new() -> OpStats {
        OpStats {
            offered: 0,
            ok: 0,
            error: 0,
            hist: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds"),
        }
    }
}

/// Names pre-escaped as JSON strings, so building a batch of events is
/// string concatenation (the sender must keep up with the server).
struct Wire {
    hunt: String,
    clues: Vec<String>,
    locations: Vec<String>,
    kinds: Vec<String>,
}

impl Wire {
    fn new(names: &Names) -> Wire {
        let q = |s: &str| serde_json::to_string(s).expect("strings serialize");
        Wire {
            hunt: q(&names.hunt),
            clues: names.clues.iter().map(|c| q(c)).collect(),
            locations: names.locations.iter().map(|c| q(c)).collect(),
            kinds: INTERACTIONS.iter().map(|c| q(c)).collect(),
        }
    }

    fn push_event(&self, out: &mut String, names: &Names, e: &PlannedEvent) {
        use std::fmt::Write as _;
        let _ = write!(
            out,
            "{{\"player\":\"{}\",\"hunt\":{},",
            names.player(e.player),
            self.hunt
        );
        let _ = match e.kind {
            EventPlan::Clue { clue, .. } => {
                write!(out, "\"type\":\"clue_found\",\"clue\":{}}}", self.clues[clue as usize])
            }
            EventPlan::Checkin(l) => write!(
                out,
                "\"type\":\"checkin\",\"location\":{}}}",
                self.locations[l as usize]
            ),
            EventPlan::Interaction(k) => write!(out, "\"type\":\"interaction\",\"kind\":{}}}", self.kinds[k as usize]),
        };
    }
}

struct Driver<'a> {
    sc: &'a Scenario,
    names: Names,
    model: Model,
    rec: Recorder,
    pending: HashMap<u64, Pending>,
    events: OpStats,
    claims: OpStats,
    events_offered: u64,
    events_accepted: u64,
    t0: TInstant,
    ticks: Tick,
    last_answer: TInstant,
}

impl Driver<'_> {
    fn tick_now(&self) -> Tick {
        let t = self.t0.elapsed().as_secs() as Tick;
        t.min(self.ticks.saturating_sub(1))
    }

    fn answer(&mut self, a: Answer) {
        let Some(id) = a.id else {
            self.rec
                .error(self.tick_now(), if a.code.is_empty() { "unmatched" } else { &a.code });
            return;
        };
        let Some(p) = self.pending.remove(&id) else { return };
        self.last_answer = self.last_answer.max(a.at);
        let t = self.tick_now();
        let micros = a.at.saturating_duration_since(p.intended).as_micros().max(1) as u64;
        match p.payload {
            Payload::Events { planned, count } => {
                let s = &mut self.events;
                let _ = s.hist.record(micros.min(3_600_000_000));
                let finds = planned.len() as u64;
                let _ = (count, finds);
                if a.ok {
                    s.ok += 1;
                    self.events_accepted += a.accepted;
                    self.rec.events(t, 0, 0, a.accepted);
                } else {
                    s.error += 1;
                    self.rec.error(t, &a.code);
                }
                for e in &planned {
                    self.model.deliver_event(t, e, a.ok);
                }
            }
            Payload::Claim(c) => {
                let s = &mut self.claims;
                let _ = s.hist.record(micros.min(3_600_000_000));
                let answer = match (a.ok, a.outcome) {
                    (true, Some(outcome)) => {
                        s.ok += 1;
                        ClaimAnswer::Decided {
                            outcome,
                            duplicate: a.duplicate,
                        }
                    }
                    (true, None) => {
                        s.error += 1;
                        ClaimAnswer::Error("malformed_answer".into())
                    }
                    (false, _) => {
                        s.error += 1;
                        ClaimAnswer::Error(a.code.clone())
                    }
                };
                self.rec.claim_answer(t, c.player, c.claim_no, c.product, &answer);
                self.model.deliver_claim(t, &c, &answer);
            }
        }
    }
}

fn op_load(name: &str, s: &OpStats, no_answer: u64, send_secs: f64, answer_secs: f64) -> OpLoad {
    let q = |p: f64| r4(s.hist.value_at_quantile(p) as f64 / 1000.0);
    let empty = s.hist.is_empty();
    OpLoad {
        op: name.to_owned(),
        offered: s.offered,
        answered_ok: s.ok,
        answered_error: s.error,
        no_answer,
        offered_per_sec: r4(s.offered as f64 / send_secs),
        accepted_per_sec: r4(s.ok as f64 / answer_secs),
        p50_ms: if empty { 0.0 } else { q(0.5) },
        p90_ms: if empty { 0.0 } else { q(0.9) },
        p99_ms: if empty { 0.0 } else { q(0.99) },
        p999_ms: if empty { 0.0 } else { q(0.999) },
        max_ms: if empty { 0.0 } else { r4(s.hist.max() as f64 / 1000.0) },
    }
}

/// Runs the scenario against a live server. `progress(done, total)` after
/// every second.
pub fn run_live(sc: &Scenario, opts: &LiveOptions, progress: &mut dyn FnMut(u32, u32)) -> Result<Report, SimError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| SimError::io("start the async runtime", e))?;
    rt.block_on(live(sc, opts, progress))
}

#[allow(clippy::too_many_lines, reason = "rewritten on trove-client, issue 10")]
async fn live(sc: &Scenario, opts: &LiveOptions, progress: &mut dyn FnMut(u32, u32)) -> Result<Report, SimError> {
    let target = parse_url(&opts.url)?;
    let design_key = opts.design_key.clone().unwrap_or_else(|| opts.key.clone());
    let admin_key = opts.admin_key.clone().unwrap_or_else(|| opts.key.clone());
    let ticks = opts.duration.unwrap_or(sc.duration_secs).clamp(1, sc.duration_secs);
    let wall_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let hunt_id = opts
        .hunt_id
        .clone()
        .unwrap_or_else(|| format!("{}-{}", sc.hunt.id, wall_ms / 1000));
    let mut names = Names::new(sc, &hunt_id);
    names.claim_prefix = format!("{}-", base36(wall_ms as u64));

    let (atx, mut arx) = mpsc::unbounded_channel::<Answer>();
    let mut conns = Vec::with_capacity(opts.connections);
    for _ in 0..opts.connections.max(1) {
        conns.push(connect(&target, &opts.key, atx.clone()).await?);
    }
    drop(atx);
    // The population first (it takes a moment for many players), then the
    // hunt, timed from the moment the run starts.
    let model = Model::new(Arc::new(sc.clone()), opts.seed, true);
    let wall_now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let t0 = TInstant::now() + Duration::from_millis(300);
    // The hunt, timed from now.
    let start_ms = wall_now + 300;
    let mut def = json!({
        "id": hunt_id,
        "name": sc.hunt.name,
        "closes_at": start_ms + i64::from(sc.hunt.closes_at_secs) * 1000,
        "clues": sc.hunt.clues.iter().map(|c| json!({"id": c.id, "points": c.points})).collect::<Vec<_>>(),
        "products": sc.hunt.products.iter().map(|p| json!({
            "sku": p.sku, "stock": p.stock, "per_player_limit": p.per_player_limit, "min_score": p.min_score,
        })).collect::<Vec<_>>(),
    });
    if sc.hunt.opens_at_secs > 0 {
        def["opens_at"] = json!(start_ms + i64::from(sc.hunt.opens_at_secs) * 1000);
    }
    let (status, body) = http(&target, "POST", "/v1/hunts", &design_key, Some(&def)).await?;
    if !(200..300).contains(&status) {
        return Err(SimError::Live(format!(
            "defining hunt {hunt_id:?} failed with HTTP {status}: {body}"
        )));
    }

    let (rtx, mut rrx) = mpsc::unbounded_channel::<(Tick, usize, u64, Result<(), String>)>();

    let wire = Wire::new(&names);
    let mut d = Driver {
        sc,
        model,
        rec: Recorder::new(sc),
        names,
        pending: HashMap::new(),
        events: OpStats::new(),
        claims: OpStats::new(),
        events_offered: 0,
        events_accepted: 0,
        t0,
        ticks,
        last_answer: TInstant::now(),
    };
    tokio::time::sleep_until(d.t0).await;
    let started = Instant::now();
    let mut next_id: u64 = 1;
    let mut max_lag = Duration::ZERO;
    let mut rr = 0usize;
    let batch = opts.batch.max(1);
    for t in 0..ticks {
        let tick_start = d.t0 + Duration::from_secs(u64::from(t));
        let plan = d.model.plan(t);
        for &(p, add) in &plan.restocks {
            let (target, key, tx) = (target.clone(), design_key.clone(), rtx.clone());
            let path = format!("/v1/hunts/{}/products/{}/stock", d.names.hunt, d.names.skus[p]);
            tokio::spawn(async move {
                let r = match http(&target, "POST", &path, &key, Some(&json!({ "add": add }))).await {
                    Ok((200..=299, _)) => Ok(()),
                    Ok((status, body)) => Err(format!("restock_http_{status}: {body}")),
                    Err(e) => Err(e.to_string()),
                };
                let _ = tx.send((t, p, add, r));
            });
        }
        // This second's requests, spread evenly over it.
        let mut reqs: Vec<(f64, String, Pending, Op)> = Vec::new();
        let nb = plan.events.len().div_ceil(batch);
        for (i, chunk) in plan.events.chunks(batch).enumerate() {
            let frac = (i as f64 + 0.5) / nb as f64;
            let mut body = String::with_capacity(chunk.len() * 80 + 32);
            body.push_str("{\"op\":\"events\",\"events\":[");
            for (k, e) in chunk.iter().enumerate() {
                if k > 0 {
                    body.push(',');
                }
                wire.push_event(&mut body, &d.names, e);
            }
            body.push_str("]}");
            let finds: Vec<PlannedEvent> = chunk
                .iter()
                .filter(|e| matches!(e.kind, EventPlan::Clue { .. }))
                .copied()
                .collect();
            reqs.push((
                frac,
                body,
                Pending {
                    intended: tick_start + Duration::from_secs_f64(frac),
                    payload: Payload::Events {
                        planned: finds,
                        count: chunk.len() as u64,
                    },
                },
                Op::Events,
            ));
        }
        let nc = plan.claims.len();
        for (i, c) in plan.claims.iter().enumerate() {
            let frac = (i as f64 + 0.5) / nc as f64;
            let v = json!({
                "op": "claim",
                "claim_id": d.names.claim_id(c.claim_no),
                "player": d.names.player(c.player),
                "hunt": d.names.hunt,
                "sku": d.names.skus[c.product as usize],
                "customs": serde_json::from_str::<Value>(&Names::customs(c.player)).unwrap_or(Value::Null),
            });
            reqs.push((
                frac,
                v.to_string(),
                Pending {
                    intended: tick_start + Duration::from_secs_f64(frac),
                    payload: Payload::Claim(*c),
                },
                Op::Claim,
            ));
        }
        reqs.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (_, body, pending, op) in reqs {
            // Wait for the intended time, handling answers meanwhile.
            loop {
                if TInstant::now() >= pending.intended {
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep_until(pending.intended) => break,
                    Some(a) = arx.recv() => d.answer(a),
                }
            }
            max_lag = max_lag.max(TInstant::now().saturating_duration_since(pending.intended));
            let id = next_id;
            next_id += 1;
            // `{"op":...}` → `{"id":N,"op":...}`
            let frame = format!("{{\"id\":{id},{}", &body[1..]);
            match op {
                Op::Events => {
                    d.events.offered += 1;
                    if let Payload::Events { count, planned } = &pending.payload {
                        d.events_offered += count;
                        d.rec.events(t, *count, planned.len() as u64, 0);
                    }
                }
                Op::Claim => {
                    d.claims.offered += 1;
                    d.rec.claim_sent(t);
                }
            }
            d.pending.insert(id, pending);
            let conn = &conns[rr % conns.len()];
            rr += 1;
            if conn.tx.send(frame).is_err() {
                return Err(SimError::Live("a WebSocket connection closed during the run".into()));
            }
        }
        d.rec.telemetry_aggregated(t, plan.telemetry_aggregated);
        while let Ok((rt, p, add, r)) = rrx.try_recv() {
            match r {
                Ok(()) => d.rec.restock(rt, p, &d.names.skus[p], add),
                Err(code) => d.rec.error(rt, &code),
            }
        }
        // Until the end of this second, handle answers.
        let tick_end = tick_start + Duration::from_secs(1);
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(tick_end) => break,
                Some(a) = arx.recv() => d.answer(a),
            }
        }
        d.rec.end_tick(t, d.model.active_players());
        progress(t + 1, ticks);
    }
    // Drain: answers still on their way.
    let deadline = TInstant::now() + opts.drain;
    while !d.pending.is_empty() {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => break,
            a = arx.recv() => match a {
                Some(a) => d.answer(a),
                None => break,
            },
        }
    }
    let run_secs = started.elapsed().as_secs_f64();
    // Offered rates over the seconds played; accepted rates until the last answer.
    let send_secs = f64::from(ticks);
    let answer_secs = d
        .last_answer
        .saturating_duration_since(d.t0)
        .as_secs_f64()
        .max(send_secs);
    drop(rtx);
    while let Some((rt, p, add, r)) = rrx.recv().await {
        match r {
            Ok(()) => d.rec.restock(rt, p, &d.names.skus[p], add),
            Err(code) => d.rec.error(rt, &code),
        }
    }
    let (mut ev_missing, mut cl_missing) = (0u64, 0u64);
    for p in d.pending.values() {
        match p.payload {
            Payload::Events { .. } => ev_missing += 1,
            Payload::Claim(_) => cl_missing += 1,
        }
    }
    for c in conns {
        drop(c.tx);
        for t in c.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
    }

    // Server-side checks.
    let mut checks = d.rec.checks(sc, &|p| d.names.player(p));
    let hunt_path = format!("/v1/hunts/{}", d.names.hunt);
    match http(&target, "GET", &hunt_path, &opts.key, None).await {
        Ok((200, v)) => {
            let mut diffs = Vec::new();
            for (i, p) in sc.hunt.products.iter().enumerate() {
                let server = v["products"]
                    .as_array()
                    .and_then(|a| a.iter().find(|x| x["sku"] == json!(p.sku)))
                    .cloned()
                    .unwrap_or(Value::Null);
                let granted = server["granted"].as_u64().unwrap_or(0);
                let seen = d.rec.products[i].granted;
                if granted < seen || granted > seen + cl_missing {
                    diffs.push(format!(
                        "{:?}: answers granted {seen}, the server counts {granted} ({cl_missing} claims unanswered)",
                        p.sku
                    ));
                }
                let added = server["added"].as_u64().unwrap_or(0);
                if added != d.rec.products[i].added {
                    diffs.push(format!(
                        "{:?}: restocked {}, the server added {added}",
                        p.sku, d.rec.products[i].added
                    ));
                }
            }
            checks.push(if diffs.is_empty() {
                Check::new(
                    "answers_match_server_state",
                    true,
                    "grants and restocks per product match the server's stock ledger",
                )
            } else {
                Check::new("answers_match_server_state", false, diffs.join("; "))
            });
        }
        Ok((status, v)) => checks.push(Check::new(
            "answers_match_server_state",
            false,
            format!("GET {hunt_path} answered HTTP {status}: {v}"),
        )),
        Err(e) => checks.push(Check::new("answers_match_server_state", false, e.to_string())),
    }
    let mut server_checks = Vec::new();
    match http(&target, "GET", "/v1/admin/consistency", &admin_key, None).await {
        Ok((200, v)) => {
            for c in v["checks"].as_array().into_iter().flatten() {
                server_checks.push(Check::new(
                    c["name"].as_str().unwrap_or("?"),
                    c["ok"].as_bool().unwrap_or(false),
                    c["detail"].as_str().unwrap_or(""),
                ));
            }
            let ok = v["ok"].as_bool().unwrap_or(false);
            checks.push(Check::new(
                "server_consistency",
                ok,
                if ok {
                    format!(
                        "the server's consistency check passed at journal sequence {} (live state, projection and journal replay agree)",
                        v["journal_seq"]
                    )
                } else {
                    server_checks
                        .iter()
                        .filter(|c| !c.ok)
                        .map(|c| format!("{}: {}", c.name, c.detail))
                        .collect::<Vec<_>>()
                        .join("; ")
                },
            ));
        }
        Ok((403, _)) | Ok((401, _)) => server_checks.push(Check::new(
            "server_consistency",
            true,
            "skipped: the key is not an admin key (pass --admin-key to include the server's replay check)",
        )),
        Ok((status, v)) => checks.push(Check::new(
            "server_consistency",
            false,
            format!("GET /v1/admin/consistency answered HTTP {status}: {v}"),
        )),
        Err(e) => checks.push(Check::new("server_consistency", false, e.to_string())),
    }
    let board_path = format!("/v1/hunts/{}/leaderboard?limit=10", d.names.hunt);
    let leaderboard: Vec<(String, u64)> = match http(&target, "GET", &board_path, &opts.key, None).await {
        Ok((200, v)) => v["entries"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                (
                    e["player"].as_str().unwrap_or("").to_owned(),
                    e["score"].as_u64().unwrap_or(0),
                )
            })
            .collect(),
        _ => Vec::new(),
    };

    let _ = run_secs;
    let end = ticks.saturating_sub(1);
    let n = sc.population.players;
    let by_player: Vec<(u32, u64)> = (0..n)
        .filter(|p| d.model.arrived_by(*p, end))
        .map(|p| (p, d.model.known_score(p)))
        .collect();
    let live = LiveReport {
        url: target.ws_url.clone(),
        connections: conns_len(opts),
        run_secs: r4(answer_secs),
        ops: vec![
            op_load("events", &d.events, ev_missing, send_secs, answer_secs),
            op_load("claim", &d.claims, cl_missing, send_secs, answer_secs),
        ],
        events_offered: d.events_offered,
        events_accepted: d.events_accepted,
        events_offered_per_sec: r4(d.events_offered as f64 / send_secs),
        events_accepted_per_sec: r4(d.events_accepted as f64 / answer_secs),
        sender_max_lag_ms: r4(max_lag.as_secs_f64() * 1000.0),
        errors: d.rec.errors.clone(),
        server_checks,
    };
    let notes = vec![
        format!(
            "Live run against {} ({} connections), open loop at the scenario's rate for {} s; hunt {:?}.",
            target.ws_url, live.connections, ticks, d.names.hunt
        ),
        "Every event, telemetry included, was sent to the server. Latencies are measured from each request's intended send time.".to_owned(),
        "Scores are what the clients saw acknowledged; the leaderboard is the server's.".to_owned(),
    ];
    let client = d.model.stats().clone();
    let model = &d.model;
    Ok(assemble::build(ReportInput {
        sc: d.sc,
        seed: opts.seed,
        mode: "live",
        hunt_id: &d.names.hunt,
        recorder: &d.rec,
        client: &client,
        segment_of: &|p| model.segment(p),
        scores: Scores {
            source: "clients",
            by_player,
            leaderboard,
        },
        checks,
        notes,
        live: Some(live),
        ticks_run: ticks,
    }))
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ascii")
}

fn conns_len(opts: &LiveOptions) -> usize {
    opts.connections.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = parse_url("ws://127.0.0.1:8787/v1/ws").unwrap();
        assert_eq!(t.host_port, "127.0.0.1:8787");
        assert_eq!(t.ws_url, "ws://127.0.0.1:8787/v1/ws");
        assert_eq!(parse_url("ws://localhost").unwrap().ws_url, "ws://localhost:80/v1/ws");
        assert!(parse_url("http://x").is_err());
        assert!(parse_url("wss://x").is_err());
        assert_eq!(dechunk("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), "hello world");
    }
}
