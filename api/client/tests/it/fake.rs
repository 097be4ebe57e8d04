//! A scripted WebSocket server: each accepted connection is handed to the
//! test. And [`serve_map`], an HTTP server answering every request with one
//! JSON body (a cluster map).

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

pub struct Fake {
    listener: TcpListener,
}

pub struct Conn {
    ws: WebSocketStream<TcpStream>,
}

impl Fake {
    pub async fn bind() -> Fake {
        Fake {
            listener: TcpListener::bind("127.0.0.1:0").await.unwrap(),
        }
    }

    pub fn url(&self) -> String {
        format!("ws://{}/v1/ws", self.listener.local_addr().unwrap())
    }

    /// The base HTTP URL a cluster map would name this server by.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.listener.local_addr().unwrap())
    }

    /// The next connection; its `Authorization` header must be `Bearer good-key`
    /// or the upgrade is refused with 401 (and `None` is returned).
    #[allow(clippy::result_large_err, reason = "the callback's type is tungstenite's")]
    pub async fn accept(&self) -> Option<Conn> {
        let (tcp, _) = self.listener.accept().await.unwrap();
        let check = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
            if req
                .headers()
                .get("Authorization")
                .is_some_and(|v| v == "Bearer good-key")
            {
                Ok(resp)
            } else {
                let mut refusal = ErrorResponse::new(None);
                *refusal.status_mut() = tokio_tungstenite::tungstenite::http::StatusCode::UNAUTHORIZED;
                Err(refusal)
            }
        };
        let ws = tokio_tungstenite::accept_hdr_async(tcp, check).await.ok()?;
        Some(Conn { ws })
    }
}

impl Conn {
    /// The next text frame as JSON.
    pub async fn recv(&mut self) -> Value {
        loop {
            match self.ws.next().await.expect("open").expect("frame") {
                Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
                _ => continue,
            }
        }
    }

    pub async fn send(&mut self, v: Value) {
        self.ws.send(Message::text(v.to_string())).await.unwrap();
    }
}

/// Serves `body(its own base URL)` as `200 application/json` to every HTTP
/// request, until the test ends; its base URL.
pub async fn serve_map(body: impl FnOnce(&str) -> Value) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let body = body(&url).to_string();
    tokio::spawn(async move {
        loop {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let body = body.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tcp.write_all(resp.as_bytes()).await;
                let _ = tcp.shutdown().await;
            });
        }
    });
    url
}
