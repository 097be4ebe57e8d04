//! [`Target`]: the server the live mode drives, from `--url`. The WebSocket
//! URL is parsed with `http::Uri` (through tungstenite); the HTTP base of the
//! same server is derived from it.

use crate::error::SimError;
use tokio_tungstenite::tungstenite::http::Uri;

/// Where the server is: its WebSocket endpoint and the HTTP base of the same
/// host and port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    /// The WebSocket URL, normalized with the port: `ws://HOST:PORT/PATH`.
    pub(crate) ws_url: String,
    /// `http://HOST:PORT`, for the designer and admin calls.
    pub(crate) http_base: String,
}

impl Target {
    /// Reads a `ws://HOST[:PORT][/PATH]` URL (port default 80, path default
    /// `/v1/ws`); refuses `wss://` and anything else.
    pub(crate) fn parse(url: &str) -> Result<Target, SimError> {
        if url.starts_with("wss://") {
            return Err(SimError::Live(
                "wss:// is not supported by trove-sim; point it at the server's plain ws:// listener".into(),
            ));
        }
        let shape = || SimError::Live(format!("--url must look like ws://HOST:PORT/v1/ws, not {url:?}"));
        if !url.starts_with("ws://") {
            return Err(shape());
        }
        let uri: Uri = url.parse().map_err(|_| shape())?;
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| SimError::Live(format!("--url {url:?} has no host")))?;
        let port = uri.port_u16().unwrap_or(80);
        let path = match uri.path_and_query().map(|p| p.as_str()) {
            None | Some("" | "/") => "/v1/ws",
            Some(p) => p,
        };
        Ok(Target {
            ws_url: format!("ws://{host}:{port}{path}"),
            http_base: format!("http://{host}:{port}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = Target::parse("ws://127.0.0.1:8787/v1/ws").unwrap();
        assert_eq!(t.ws_url, "ws://127.0.0.1:8787/v1/ws");
        assert_eq!(t.http_base, "http://127.0.0.1:8787");
        assert_eq!(
            Target::parse("ws://localhost").unwrap().ws_url,
            "ws://localhost:80/v1/ws"
        );
        assert_eq!(Target::parse("ws://[::1]:9/x").unwrap().ws_url, "ws://[::1]:9/x");
        assert!(Target::parse("http://x").is_err());
        assert!(Target::parse("ws://").is_err());
        let e = Target::parse("wss://x").unwrap_err().to_string();
        assert!(e.contains("wss:// is not supported"), "{e}");
    }
}
