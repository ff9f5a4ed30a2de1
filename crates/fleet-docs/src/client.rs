//! The one HTTP client of fuzzfleet: reads the documents of a node's API (`status`,
//! `crashes`, series, node, fleet) with its bearer token, over `http://` or `https://`
//! (rustls, the system's roots), and posts the webhook's messages. It is async and runs
//! on the caller's tokio runtime; [`BlockingClient`] is the same client for synchronous
//! callers (the live view's pollers, `status --node`, tests), waiting on the process's
//! I/O runtime ([`crate::runtime`]). Every request goes through one `reqwest` client, so
//! the process keeps one connection pool and one TLS configuration.

use std::sync::OnceLock;
use std::time::Duration;

pub use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use crate::api::{BucketDoc, ErrorDoc, FleetDoc, NodeDoc, SeriesDoc};
use crate::report::{CrashesDoc, StatusDoc};

/// A dead node must not hold a poller (or a one-shot `status`) for long.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The whole request, answer read included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The most a document may weigh.
const MAX_DOC_BYTES: usize = 64 << 20;
/// The most [`Client::get_raw`] reads (crash inputs, pages).
const MAX_RAW_BYTES: usize = 256 << 20;

/// Why a node (or the webhook's receiver) did not answer with what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No answer: refused, timed out, TLS failed, a bad URL.
    #[error("{url}: {reason}")]
    Transport { url: String, reason: String },
    /// An answer with an error status; `message` is the error document's text (or the
    /// start of the body).
    #[error("{url}: HTTP {status}{}", if message.is_empty() { String::new() } else { format!(": {message}") })]
    Status {
        url: String,
        status: u16,
        message: String,
    },
    /// An answer that is not the expected document.
    #[error("{url}: not the expected JSON: {reason}")]
    Decode { url: String, reason: String },
}

impl ClientError {
    /// The HTTP status the server answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The process's one `reqwest` client (cheap to clone: it is a handle to the pool).
pub fn http() -> reqwest::Client {
    static HTTP: OnceLock<reqwest::Client> = OnceLock::new();
    HTTP.get_or_init(|| {
        reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("fuzzfleet/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client's TLS configuration loads")
    })
    .clone()
}

/// The useful part of a transport error, without the URL (the caller names it):
/// "error sending request: … Connection refused (os error 111)", "timed out".
fn transport_reason(e: reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        causes.push(s.to_string());
        source = s.source();
    }
    let mut parts = vec![e.without_url().to_string()];
    for c in causes {
        if !parts.iter().any(|p| p.contains(&c)) {
            parts.push(c);
        }
    }
    parts.join(": ")
}

/// POSTs `body` as JSON to `url` (the webhook): the status the receiver answered.
pub async fn post_json(
    url: &str,
    body: &serde_json::Value,
    timeout: Duration,
) -> Result<StatusCode, ClientError> {
    let resp = http()
        .post(url)
        .timeout(timeout)
        .json(body)
        .send()
        .await
        .map_err(|e| ClientError::Transport {
            url: url.to_string(),
            reason: transport_reason(e),
        })?;
    Ok(resp.status())
}

/// One node's API: base URL and bearer token.
#[derive(Clone, Debug)]
pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    /// `base_url` like `http://127.0.0.1:7878` or `https://node:7878` (a trailing `/` is
    /// fine); `token` is sent as `Authorization: Bearer` when given.
    pub fn new(base_url: &str, token: Option<String>) -> Self {
        Client {
            base: base_url.trim_end_matches('/').to_string(),
            token,
            http: http(),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub async fn status(&self) -> Result<StatusDoc, ClientError> {
        self.get_json("/api/v1/status").await
    }

    /// The status document exactly as the node sent it (`status --node --json` passes
    /// it on).
    pub async fn status_json(&self) -> Result<serde_json::Value, ClientError> {
        self.get_json("/api/v1/status").await
    }

    /// The target's series over the server's default window (the last 24 h).
    pub async fn series(&self, target: &str) -> Result<SeriesDoc, ClientError> {
        self.get_json(&format!("/api/v1/targets/{}/series", encode(target)))
            .await
    }

    /// The target's series since `since_ms` (milliseconds since the Unix epoch).
    pub async fn series_since(
        &self,
        target: &str,
        since_ms: i64,
    ) -> Result<SeriesDoc, ClientError> {
        self.get_json(&format!(
            "/api/v1/targets/{}/series?since={since_ms}",
            encode(target)
        ))
        .await
    }

    pub async fn crashes(&self) -> Result<CrashesDoc, ClientError> {
        self.get_json("/api/v1/crashes").await
    }

    pub async fn bucket(&self, id: &str) -> Result<BucketDoc, ClientError> {
        self.get_json(&format!("/api/v1/crashes/{}", encode(id)))
            .await
    }

    pub async fn node(&self) -> Result<NodeDoc, ClientError> {
        self.get_json("/api/v1/node").await
    }

    /// Every node of the fleet, from a server started with `serve --all-nodes`.
    pub async fn fleet(&self) -> Result<FleetDoc, ClientError> {
        self.get_json("/api/v1/fleet").await
    }

    /// Any path, for what has no method: the status code and the body.
    pub async fn get_raw(&self, path: &str) -> Result<(u16, Vec<u8>), ClientError> {
        let url = format!("{}{path}", self.base);
        let resp = self.call(&url).await?;
        let status = resp.status().as_u16();
        let body = read_body(resp, &url, MAX_RAW_BYTES).await?;
        Ok((status, body))
    }

    async fn call(&self, url: &str) -> Result<reqwest::Response, ClientError> {
        let mut req = self.http.get(url).timeout(REQUEST_TIMEOUT);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        req.send().await.map_err(|e| ClientError::Transport {
            url: url.to_string(),
            reason: transport_reason(e),
        })
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let resp = self.call(&url).await?;
        let status = resp.status().as_u16();
        let body = read_body(resp, &url, MAX_DOC_BYTES).await?;
        if !(200..300).contains(&status) {
            let message = match serde_json::from_slice::<ErrorDoc>(&body) {
                Ok(e) => e.error,
                Err(_) => String::from_utf8_lossy(&body)
                    .trim()
                    .chars()
                    .take(200)
                    .collect(),
            };
            return Err(ClientError::Status {
                url,
                status,
                message,
            });
        }
        serde_json::from_slice(&body).map_err(|e| ClientError::Decode {
            url,
            reason: e.to_string(),
        })
    }
}

/// The body, up to `limit` bytes (more is an error, not a truncated document).
async fn read_body(
    mut resp: reqwest::Response,
    url: &str,
    limit: usize,
) -> Result<Vec<u8>, ClientError> {
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return Err(ClientError::Decode {
                        url: url.to_string(),
                        reason: format!("the answer is larger than {limit} bytes"),
                    });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => {
                return Err(ClientError::Transport {
                    url: url.to_string(),
                    reason: transport_reason(e),
                });
            }
        }
    }
}

/// [`Client`] for synchronous callers: each call waits for the request on the process's
/// I/O runtime ([`crate::runtime`]). Call it from plain threads, never from async code.
#[derive(Clone, Debug)]
pub struct BlockingClient {
    inner: Client,
}

impl BlockingClient {
    /// As [`Client::new`].
    pub fn new(base_url: &str, token: Option<String>) -> Self {
        BlockingClient {
            inner: Client::new(base_url, token),
        }
    }

    /// The async client, for use inside a runtime.
    pub fn client(&self) -> &Client {
        &self.inner
    }

    pub fn base_url(&self) -> &str {
        self.inner.base_url()
    }

    /// The same as [`BlockingClient::base_url`] (the live view's name for it).
    pub fn base(&self) -> &str {
        self.inner.base_url()
    }

    pub fn status(&self) -> Result<StatusDoc, ClientError> {
        crate::runtime::block_on(self.inner.status())
    }

    pub fn status_json(&self) -> Result<serde_json::Value, ClientError> {
        crate::runtime::block_on(self.inner.status_json())
    }

    pub fn series(&self, target: &str) -> Result<SeriesDoc, ClientError> {
        crate::runtime::block_on(self.inner.series(target))
    }

    pub fn series_since(&self, target: &str, since_ms: i64) -> Result<SeriesDoc, ClientError> {
        crate::runtime::block_on(self.inner.series_since(target, since_ms))
    }

    pub fn crashes(&self) -> Result<CrashesDoc, ClientError> {
        crate::runtime::block_on(self.inner.crashes())
    }

    pub fn bucket(&self, id: &str) -> Result<BucketDoc, ClientError> {
        crate::runtime::block_on(self.inner.bucket(id))
    }

    pub fn node(&self) -> Result<NodeDoc, ClientError> {
        crate::runtime::block_on(self.inner.node())
    }

    pub fn fleet(&self) -> Result<FleetDoc, ClientError> {
        crate::runtime::block_on(self.inner.fleet())
    }

    pub fn get_raw(&self, path: &str) -> Result<(u16, Vec<u8>), ClientError> {
        crate::runtime::block_on(self.inner.get_raw(path))
    }
}

/// Percent-encodes all but unreserved characters of one path segment.
fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A node that is down is named with the URL asked and why, as the views print it
    /// (`unreachable: http://…/api/v1/status: … Connection refused`).
    #[test]
    fn a_refused_connection_names_the_url_and_the_cause() {
        // Nothing listens on port 1 of loopback.
        let err = BlockingClient::new("http://127.0.0.1:1/", None)
            .status()
            .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ClientError::Transport { .. }), "{text}");
        assert_eq!(err.status(), None);
        assert!(
            text.starts_with("http://127.0.0.1:1/api/v1/status: "),
            "{text}"
        );
        assert!(text.contains("Connection refused"), "{text}");
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(encode("a-b_c.d~"), "a-b_c.d~");
        assert_eq!(encode("a/b c"), "a%2Fb%20c");
    }
}
