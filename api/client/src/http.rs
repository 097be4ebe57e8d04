//! [`HttpClient`]: the HTTP API over `reqwest`, one typed method per
//! endpoint, the streamed audit export as a byte stream, and
//! [`HttpClient::raw`] for callers (tests) that send arbitrary bytes.

use crate::error::{decode_owned, ClientError};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use reqwest::header::{HeaderMap, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, Url};
use serde::Serialize;
use std::time::Duration;
use trove_protocol::{
    AuditClaimsPage, AuditClaimsParams, AuditReport, ClaimReply, ClaimRequest, ClusterMap, ConsistencyReport,
    DefineHuntReply, ErrorReply, EventsReply, EventsRequest, ExportParams, Health, HuntDefinition, HuntList, HuntReply,
    LeaderboardParams, LeaderboardReply, PlayerReply, Readiness, ReportParams, SnapshotReply, StockReply, StockRequest,
};

/// An HTTP client for one server and one key. Cheap to clone (clones share
/// the connection pool).
#[derive(Clone, Debug)]
pub struct HttpClient {
    http: reqwest::Client,
    base: Url,
    key: Option<String>,
}

/// An answer as bytes, for [`HttpClient::raw`].
#[derive(Clone, Debug)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    /// The whole body (de-chunked).
    pub body: Bytes,
}

impl HttpClient {
    /// A client for `base` (`http://HOST:PORT`) sending `key` as
    /// `Authorization: Bearer KEY` (none for `None`), with a 60 s request
    /// timeout and pooled connections.
    pub fn new(base: &str, key: Option<&str>) -> Result<HttpClient, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        HttpClient::with_client(http, base, key)
    }

    /// Like [`HttpClient::new`] but with a fresh connection per request (no
    /// idle connections kept), for callers that kill and restart servers.
    pub fn unpooled(base: &str, key: Option<&str>) -> Result<HttpClient, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(0)
            .build()?;
        HttpClient::with_client(http, base, key)
    }

    /// A client that uses `http` as configured (timeouts, pooling).
    pub fn with_client(http: reqwest::Client, base: &str, key: Option<&str>) -> Result<HttpClient, ClientError> {
        let base = Url::parse(base).map_err(|e| ClientError::Url(format!("{base}: {e}")))?;
        Ok(HttpClient {
            http,
            base,
            key: key.map(str::to_owned),
        })
    }

    /// The same server and connection pool with another key.
    pub fn with_key(&self, key: Option<&str>) -> HttpClient {
        HttpClient {
            key: key.map(str::to_owned),
            ..self.clone()
        }
    }

    /// `base` joined with `segments`, each percent-encoded as one path segment.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    fn request(&self, method: Method, url: Url, key: Option<&str>) -> reqwest::RequestBuilder {
        let req = self.http.request(method, url);
        match key {
            Some(k) => req.header(AUTHORIZATION, format!("Bearer {k}")),
            None => req,
        }
    }

    async fn call<T: serde::Deserialize<'static>>(&self, req: reqwest::RequestBuilder) -> Result<T, ClientError> {
        let resp = req.send().await?;
        let status = resp.status();
        let body = resp.bytes().await?;
        if status.is_success() {
            Ok(decode_owned(&body)?)
        } else {
            Err(error_of(status.as_u16(), &body))
        }
    }

    async fn get<T: serde::Deserialize<'static>>(&self, segments: &[&str]) -> Result<T, ClientError> {
        self.call(self.request(Method::GET, self.url(segments), self.key.as_deref()))
            .await
    }

    async fn get_query<T: serde::Deserialize<'static>>(
        &self,
        segments: &[&str],
        query: &impl Serialize,
    ) -> Result<T, ClientError> {
        let mut url = self.url(segments);
        let q = serde_urlencoded::to_string(query).map_err(|e| ClientError::Url(e.to_string()))?;
        url.set_query((!q.is_empty()).then_some(q.as_str()));
        self.call(self.request(Method::GET, url, self.key.as_deref())).await
    }

    async fn post<T: serde::Deserialize<'static>>(
        &self,
        segments: &[&str],
        body: &impl Serialize,
    ) -> Result<T, ClientError> {
        let req = self
            .request(Method::POST, self.url(segments), self.key.as_deref())
            .header(CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(body)?);
        self.call(req).await
    }

    /// `POST /v1/hunts`: defines a hunt (`created: false` for an identical re-post).
    pub async fn define_hunt(&self, def: &HuntDefinition<'_>) -> Result<DefineHuntReply<'static>, ClientError> {
        self.post(&["v1", "hunts"], def).await
    }

    /// `GET /v1/hunts`: every hunt id.
    pub async fn hunts(&self) -> Result<HuntList, ClientError> {
        self.get(&["v1", "hunts"]).await
    }

    /// `GET /v1/hunts/{hunt}`: the definition with its durable stock ledger.
    pub async fn hunt(&self, hunt: &str) -> Result<HuntReply<'static>, ClientError> {
        self.get(&["v1", "hunts", hunt]).await
    }

    /// `POST /v1/hunts/{hunt}/products/{sku}/stock`: adds `add` units.
    pub async fn add_stock(&self, hunt: &str, sku: &str, add: u64) -> Result<StockReply<'static>, ClientError> {
        self.post(&["v1", "hunts", hunt, "products", sku, "stock"], &StockRequest { add })
            .await
    }

    /// `GET /v1/hunts/{hunt}/players/{player}`.
    pub async fn player(&self, hunt: &str, player: &str) -> Result<PlayerReply<'static>, ClientError> {
        self.get(&["v1", "hunts", hunt, "players", player]).await
    }

    /// `GET /v1/hunts/{hunt}/leaderboard`.
    pub async fn leaderboard(
        &self,
        hunt: &str,
        params: &LeaderboardParams,
    ) -> Result<LeaderboardReply<'static>, ClientError> {
        self.get_query(&["v1", "hunts", hunt, "leaderboard"], params).await
    }

    /// `POST /v1/events`: an events batch.
    pub async fn events(&self, req: &EventsRequest<'_>) -> Result<EventsReply, ClientError> {
        self.post(&["v1", "events"], req).await
    }

    /// `POST /v1/claims`: a claim (granted and rejected are both answers).
    pub async fn claim(&self, req: &ClaimRequest<'_>) -> Result<ClaimReply<'static>, ClientError> {
        self.post(&["v1", "claims"], req).await
    }

    /// `GET /v1/cluster`: the partition map as the answering node sees it
    /// (a server in cluster mode; any key).
    pub async fn cluster(&self) -> Result<ClusterMap, ClientError> {
        self.get(&["v1", "cluster"]).await
    }

    /// `GET /v1/admin/consistency`: the typed report (`ok` is the verdict).
    pub async fn consistency(&self) -> Result<ConsistencyReport, ClientError> {
        self.get(&["v1", "admin", "consistency"]).await
    }

    /// `POST /v1/admin/snapshot`: writes a snapshot now.
    pub async fn snapshot(&self) -> Result<SnapshotReply, ClientError> {
        let req = self.request(
            Method::POST,
            self.url(&["v1", "admin", "snapshot"]),
            self.key.as_deref(),
        );
        self.call(req).await
    }

    /// `GET /v1/audit/claims`: one page of the audit claim trail.
    pub async fn audit_claims(&self, params: &AuditClaimsParams) -> Result<AuditClaimsPage, ClientError> {
        self.get_query(&["v1", "audit", "claims"], params).await
    }

    /// `GET /v1/audit/report`: counts over a window.
    pub async fn audit_report(&self, params: &ReportParams) -> Result<AuditReport, ClientError> {
        self.get_query(&["v1", "audit", "report"], params).await
    }

    /// `GET /v1/audit/export`: the export as it streams. Bad parameters are an
    /// `Err` before any byte; a failure mid-stream ends the stream with an
    /// `Err` (the server aborts the body: no footer).
    pub async fn audit_export(
        &self,
        params: &ExportParams,
    ) -> Result<impl Stream<Item = Result<Bytes, ClientError>> + Send + use<>, ClientError> {
        let mut url = self.url(&["v1", "audit", "export"]);
        let q = serde_urlencoded::to_string(params).map_err(|e| ClientError::Url(e.to_string()))?;
        url.set_query((!q.is_empty()).then_some(q.as_str()));
        let resp = self.request(Method::GET, url, self.key.as_deref()).send().await?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.bytes().await?;
            return Err(error_of(status.as_u16(), &body));
        }
        Ok(resp.bytes_stream().map(|chunk| chunk.map_err(ClientError::from)))
    }

    /// `GET /v1/openapi.json`: the OpenAPI document.
    pub async fn openapi(&self) -> Result<serde_json::Value, ClientError> {
        self.get(&["v1", "openapi.json"]).await
    }

    /// `GET /readyz`: ready, or why not (a `503` is an answer here, not an error).
    pub async fn readyz(&self) -> Result<Readiness, ClientError> {
        let resp = self.request(Method::GET, self.url(&["readyz"]), None).send().await?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await?;
        match status {
            200 | 503 => Ok(decode_owned(&body)?),
            _ => Err(error_of(status, &body)),
        }
    }

    /// `GET /healthz`: liveness.
    pub async fn healthz(&self) -> Result<Health, ClientError> {
        self.call(self.request(Method::GET, self.url(&["healthz"]), None)).await
    }

    /// `GET /metrics`: the Prometheus text.
    pub async fn metrics(&self) -> Result<String, ClientError> {
        let resp = self.request(Method::GET, self.url(&["metrics"]), None).send().await?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await?;
        if status == 200 {
            Ok(String::from_utf8_lossy(&body).into_owned())
        } else {
            Err(error_of(status, &body))
        }
    }

    /// Any request: `method` on `path` (with its query, e.g.
    /// `/v1/audit/claims?after=0`) with `key` (not the client's) and `body`
    /// sent as is (`Content-Type: application/json` when there is one). For
    /// tests that send malformed input; any status is an answer.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Result<RawResponse, ClientError> {
        let method = Method::from_bytes(method.as_bytes()).map_err(|e| ClientError::Url(e.to_string()))?;
        let url = self
            .base
            .join(path)
            .map_err(|e| ClientError::Url(format!("{path}: {e}")))?;
        let mut req = self.request(method, url, key);
        if let Some(b) = body {
            req = req.header(CONTENT_TYPE, "application/json").body(b);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await?;
        Ok(RawResponse { status, headers, body })
    }
}

/// The contract's error body as [`ClientError::Server`], else the status and text.
fn error_of(status: u16, body: &[u8]) -> ClientError {
    match decode_owned::<ErrorReply>(body) {
        Ok(e) => ClientError::server(e.error, Some(status)),
        Err(_) => ClientError::Status {
            status,
            body: String::from_utf8_lossy(body).into_owned(),
        },
    }
}
