//! Runs the real `trove` binary on a temporary data folder and a free port,
//! and talks to it over real sockets: HTTP through `trove_client::HttpClient`
//! (raw bytes in, status and JSON out) and, for tests that send malformed
//! frames or inspect raw JSON, tokio-tungstenite for WebSocket ([`Ws`], in
//! JSON or, with [`Ws::connect_codec`], MessagePack: frames are read into and
//! written from `serde_json::Value`s either way).

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use trove_client::HttpClient;
use trove_protocol::Codec;

pub const ADMIN: &str = "admin-key-0001";
pub const GAME: &str = "game-key-00001";
pub const GAME2: &str = "game-key-00002";
pub const DESIGNER: &str = "designer-key-01";
pub const AUDITOR: &str = "auditor-key-001";

pub fn keys_env() -> String {
    format!("admin:{ADMIN},game:{GAME},game:{GAME2},designer:{DESIGNER},auditor:{AUDITOR}")
}

pub struct Server {
    pub child: Child,
    pub addr: String,
    pub data: PathBuf,
    pub log: PathBuf,
}

impl Server {
    /// Starts a server on a fresh temporary folder (kept alive by the returned guard).
    pub async fn start() -> (Server, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Server::start_on(dir.path()).await;
        (s, dir)
    }

    /// Starts a server on `root/data` with the test keys, waits until ready.
    pub async fn start_on(root: &Path) -> Server {
        let s = Server::spawn(root, &[("TROVE_KEYS", &keys_env())]).expect("server starts");
        s.wait_ready(Duration::from_secs(60)).await;
        s
    }

    /// Starts a server on `root/data` listening on `listen` (e.g. the address
    /// of a server that was killed), waits until ready.
    pub async fn start_at(root: &Path, listen: &str) -> Server {
        let s = Server::spawn_at(root, listen, &[("TROVE_KEYS", &keys_env())]).expect("server starts");
        s.wait_ready(Duration::from_secs(60)).await;
        s
    }

    /// Starts the binary and waits for its listening line (not for readiness).
    pub fn spawn(root: &Path, env: &[(&str, &str)]) -> Result<Server, String> {
        Server::spawn_at(root, "127.0.0.1:0", env)
    }

    /// [`Server::spawn`] on a given listen address.
    pub fn spawn_at(root: &Path, listen: &str, env: &[(&str, &str)]) -> Result<Server, String> {
        let data = root.join("data");
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let log = root.join(format!(
            "server-{}.log",
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_trove"));
        cmd.arg("serve")
            .arg("--data")
            .arg(&data)
            .arg("--listen")
            .arg(listen)
            .arg("--log-level")
            .arg("info")
            .env_remove("TROVE_KEYS")
            .env_remove("TROVE_CONFIG")
            .env_remove("TROVE_DATA")
            .env_remove("TROVE_LISTEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(&log).expect("log file")));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().map_err(|e| e.to_string())?;
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut line = String::new();
            while r.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                if let Some(addr) = line.trim().strip_prefix("trove listening on http://") {
                    let _ = tx.send(addr.to_owned());
                }
                line.clear();
            }
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => Ok(Server { child, addr, data, log }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(std::fs::read_to_string(&log).unwrap_or_default())
            }
        }
    }

    pub async fn wait_ready(&self, limit: Duration) {
        let started = Instant::now();
        loop {
            if let Ok((200, _)) = try_http(&self.addr, "GET", "/readyz", None, None).await {
                return;
            }
            assert!(
                started.elapsed() < limit,
                "server not ready after {limit:?}; log:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A typed HTTP client of this server with `key`.
    pub fn client(&self, key: Option<&str>) -> HttpClient {
        HttpClient::unpooled(&format!("http://{}", self.addr), key).expect("http client")
    }

    /// The WebSocket URL of this server.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/v1/ws", self.addr)
    }

    pub async fn http(&self, method: &str, path: &str, key: Option<&str>, body: Option<&Value>) -> (u16, Value) {
        let body = body.map(|b| b.to_string().into_bytes());
        let (status, bytes) = try_http(&self.addr, method, path, key, body.as_deref())
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let v = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, v)
    }

    pub async fn http_raw(&self, method: &str, path: &str, key: Option<&str>, body: &[u8]) -> (u16, Vec<u8>) {
        try_http(&self.addr, method, path, key, Some(body)).await.expect("http")
    }

    pub async fn ws(&self, key: &str) -> Ws {
        Ws::connect(&self.addr, key).await.expect("websocket connects")
    }

    /// SIGKILL: no shutdown work at all.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            if started.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                panic!("server did not exit after SIGTERM; log:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub async fn define_example_hunt(&self, id: &str, stock: u64, per_player_limit: u32) {
        let (st, body) = self
            .http(
                "POST",
                "/v1/hunts",
                Some(DESIGNER),
                Some(&hunt_def(id, stock, per_player_limit)),
            )
            .await;
        assert!(st == 201 || st == 200, "define hunt: {st} {body}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn hunt_def(id: &str, stock: u64, per_player_limit: u32) -> Value {
    json!({
        "id": id,
        "name": format!("Hunt {id}"),
        "opens_at": "2020-01-01T00:00:00Z",
        "closes_at": 4102444800000u64,
        "clues": [{"id": "c1", "points": 10}, {"id": "c2", "points": 20}, {"id": "c3", "points": 50}],
        "products": [
            {"sku": "mug", "stock": stock, "per_player_limit": per_player_limit, "min_score": 0},
            {"sku": "hoodie", "stock": 1, "per_player_limit": 1, "min_score": 30}
        ]
    })
}

/// One HTTP request on a fresh connection, through `trove_client`'s `raw`:
/// the status and the whole (de-chunked) body.
pub async fn try_http(
    addr: &str,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&[u8]>,
) -> Result<(u16, Vec<u8>), String> {
    let client = HttpClient::unpooled(&format!("http://{addr}"), None).map_err(|e| e.to_string())?;
    let resp = client
        .raw(method, path, key, body.map(<[u8]>::to_vec))
        .await
        .map_err(|e| e.to_string())?;
    Ok((resp.status, resp.body.to_vec()))
}

type WsStream = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// A WebSocket client that matches replies to requests by id and keeps pushes.
pub struct Ws {
    pub stream: WsStream,
    /// The connection's encoding; a frame of the other kind from the server fails the test.
    pub codec: Codec,
    /// The `Sec-WebSocket-Protocol` the server answered with.
    pub protocol: Option<String>,
    next_id: i64,
    pub pushes: VecDeque<Value>,
    /// Replies that arrived while waiting for another id.
    replies: Vec<Value>,
}

impl Ws {
    pub async fn connect(addr: &str, key: &str) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
        let mut req = format!("ws://{addr}/v1/ws").into_client_request()?;
        req.headers_mut()
            .insert("Authorization", format!("Bearer {key}").parse().unwrap());
        Ws::connect_request(req).await
    }

    pub async fn connect_request(
        req: tokio_tungstenite::tungstenite::handshake::client::Request,
    ) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
        let (stream, response) = tokio::time::timeout(Duration::from_secs(10), tokio_tungstenite::connect_async(req))
            .await
            .map_err(|_| tokio_tungstenite::tungstenite::Error::ConnectionClosed)??;
        let protocol = response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .map(|v| v.to_str().unwrap().to_owned());
        let codec = protocol.as_deref().map_or(Codec::Json, |p| {
            Codec::from_subprotocol(p).expect("a known subprotocol")
        });
        Ok(Ws {
            stream,
            codec,
            protocol,
            next_id: 1,
            pushes: VecDeque::new(),
            replies: Vec::new(),
        })
    }

    /// Connects with `protocols` offered in `Sec-WebSocket-Protocol` (as one header).
    pub async fn connect_codec(
        addr: &str,
        key: &str,
        protocols: &str,
    ) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
        let mut req = format!("ws://{addr}/v1/ws").into_client_request()?;
        req.headers_mut()
            .insert("Authorization", format!("Bearer {key}").parse().unwrap());
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", protocols.parse().unwrap());
        Ws::connect_request(req).await
    }

    /// Sends `v` as one frame in the connection's codec.
    pub async fn send_value(&mut self, v: &Value) {
        let msg = match self.codec.encode(v).expect("encodes") {
            trove_protocol::Frame::Text(t) => Message::text(t),
            trove_protocol::Frame::Binary(b) => Message::binary(b),
        };
        self.stream.send(msg).await.expect("send");
    }

    pub async fn send_text(&mut self, text: String) {
        self.stream.send(Message::text(text)).await.expect("send");
    }

    /// The next JSON frame (reply or push), or None on close/timeout.
    pub async fn next_frame(&mut self, limit: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let m = tokio::time::timeout_at(deadline, self.stream.next()).await.ok()??;
            match m.ok()? {
                Message::Text(t) => {
                    assert_eq!(self.codec, Codec::Json, "a text frame on a MessagePack connection: {t}");
                    return Some(serde_json::from_str(&t).expect("server sends JSON"));
                }
                Message::Binary(b) => {
                    assert_eq!(self.codec, Codec::MessagePack, "a binary frame on a JSON connection");
                    return Some(Codec::MessagePack.decode(&b).expect("server sends MessagePack"));
                }
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// Sends `req` with a fresh id and waits for the reply with that id.
    pub async fn call(&mut self, mut req: Value) -> Value {
        self.try_call(&mut req, Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("no reply to {req}"))
    }

    pub async fn try_call(&mut self, req: &mut Value, limit: Duration) -> Option<Value> {
        let id = self.next_id;
        self.next_id += 1;
        req["id"] = json!(id);
        let msg = match self.codec.encode(&*req).ok()? {
            trove_protocol::Frame::Text(t) => Message::text(t),
            trove_protocol::Frame::Binary(b) => Message::binary(b),
        };
        self.stream.send(msg).await.ok()?;
        self.reply_to(json!(id), limit).await
    }

    /// Waits for the reply carrying `id` (a JSON value, may be null).
    pub async fn reply_to(&mut self, id: Value, limit: Duration) -> Option<Value> {
        if let Some(i) = self.replies.iter().position(|r| r["id"] == id) {
            return Some(self.replies.remove(i));
        }
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let v = self.next_frame(left).await?;
            if v.get("push").is_some() {
                self.pushes.push_back(v);
            } else if v["id"] == id {
                return Some(v);
            } else {
                self.replies.push(v);
            }
        }
    }

    /// The next push (buffered or new).
    pub async fn next_push(&mut self, limit: Duration) -> Option<Value> {
        if let Some(p) = self.pushes.pop_front() {
            return Some(p);
        }
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let v = self.next_frame(left).await?;
            if v.get("push").is_some() {
                return Some(v);
            }
            self.replies.push(v);
        }
    }

    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }
}

pub fn claim(claim_id: &str, player: &str, hunt: &str, sku: &str) -> Value {
    json!({"op": "claim", "claim_id": claim_id, "player": player, "hunt": hunt, "sku": sku,
           "customs": {"name": format!("Player {player}"), "country": "NL", "declared_value_eur": 12.5}})
}

pub fn clue(player: &str, hunt: &str, clue: &str) -> Value {
    json!({"player": player, "hunt": hunt, "type": "clue_found", "clue": clue})
}

/// What an offline `trove` command printed, and its exit status.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs an offline `trove` command (export, verify, compact, ...) to its end,
/// without the environment variables that would change its defaults.
pub fn trove(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_trove"))
        .args(args)
        .env_remove("TROVE_DATA")
        .env_remove("TROVE_RETENTION")
        .output()
        .expect("run trove");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
