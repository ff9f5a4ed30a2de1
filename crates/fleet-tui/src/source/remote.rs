//! A remote node through its agent's HTTP API (`/api/v1/status`, `/api/v1/node`,
//! `/api/v1/targets/{name}/series`): a small blocking client, kept in this one module
//! so it can be swapped for the serve crate's client.

use std::time::Duration;

use serde::de::DeserializeOwned;

use super::{HISTORY_WINDOW, HistoryBook, Source, now_ms};
use crate::model::NodeData;
use crate::wire::{NodeWire, SeriesWire, StatusWire};

/// A dead node must not hold a poller (or a one-shot `status`) for long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a node did not answer with a document.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("{url}: HTTP {status}{}", if body.is_empty() { String::new() } else { format!(": {body}") })]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("{url}: {reason}")]
    Transport { url: String, reason: String },
    #[error("{url}: not the expected JSON: {reason}")]
    Decode { url: String, reason: String },
}

/// One agent's API: base URL and bearer token.
#[derive(Clone, Debug)]
pub struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Client {
    /// `base`: `http://host:port` (a trailing `/` is fine); `token`: sent as
    /// `Authorization: Bearer` when given.
    pub fn new(base: &str, token: Option<String>) -> Self {
        Client {
            base: base.trim_end_matches('/').to_string(),
            token,
            agent: ureq::AgentBuilder::new()
                .timeout_connect(CONNECT_TIMEOUT)
                .timeout(REQUEST_TIMEOUT)
                .build(),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The status document exactly as the node sent it (`status --json` passes it on).
    pub fn status_json(&self) -> Result<serde_json::Value, RemoteError> {
        self.get("/api/v1/status")
    }

    pub fn status(&self) -> Result<StatusWire, RemoteError> {
        self.get("/api/v1/status")
    }

    pub fn node(&self) -> Result<NodeWire, RemoteError> {
        self.get("/api/v1/node")
    }

    pub fn series(&self, target: &str, since_ms: i64) -> Result<SeriesWire, RemoteError> {
        self.get(&format!(
            "/api/v1/targets/{}/series?since={since_ms}",
            percent_encode(target)
        ))
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, RemoteError> {
        let url = format!("{}{path}", self.base);
        let mut req = self.agent.get(&url);
        if let Some(token) = &self.token {
            req = req.set("Authorization", &format!("Bearer {token}"));
        }
        match req.call() {
            Ok(resp) => resp.into_json().map_err(|e| RemoteError::Decode {
                url,
                reason: e.to_string(),
            }),
            Err(ureq::Error::Status(status, resp)) => {
                let body = resp.into_string().unwrap_or_default();
                Err(RemoteError::Status {
                    url,
                    status,
                    body: body.trim().chars().take(200).collect(),
                })
            }
            Err(ureq::Error::Transport(t)) => Err(RemoteError::Transport {
                url,
                reason: transport_reason(&t),
            }),
        }
    }
}

/// The useful part of a transport error: "connection refused", "timed out", …
fn transport_reason(t: &ureq::Transport) -> String {
    match (t.message(), std::error::Error::source(t)) {
        (Some(m), Some(s)) => format!("{m}: {s}"),
        (Some(m), None) => m.to_string(),
        (None, Some(s)) => format!("{}: {s}", t.kind()),
        (None, None) => t.kind().to_string(),
    }
}

/// Target names are validated (no `/`), but a path segment is encoded all the same.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// "http://10.0.0.5:7878/x" → "10.0.0.5:7878".
pub fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest).to_string()
}

/// How the view's errors of a node that did not answer begin.
pub const UNREACHABLE: &str = "unreachable: ";

/// A remote node in the live view.
#[derive(Debug)]
pub struct RemoteSource {
    name: String,
    client: Client,
    book: HistoryBook,
    /// The node's own name, asked once it answers, when none was configured.
    told_name: Option<String>,
    ask_name: bool,
}

impl RemoteSource {
    /// `name`: the configured node name; without one, the URL's host:port is shown
    /// until the node tells its own.
    pub fn new(name: Option<String>, client: Client) -> Self {
        RemoteSource {
            ask_name: name.is_none(),
            name: name.unwrap_or_else(|| host_port(client.base())),
            client,
            book: HistoryBook::default(),
            told_name: None,
        }
    }

    fn read(&mut self) -> Result<NodeData, RemoteError> {
        let status = self.client.status()?;
        if self.ask_name && self.told_name.is_none() {
            // Optional: an agent without `/node` still shows under the configured name.
            self.told_name = self.client.node().ok().and_then(|n| n.name);
        }
        let mut data = status.to_node_data();
        let first = now_ms() - HISTORY_WINDOW.as_millis() as i64;
        for t in &data.targets {
            let since = self.book.last_t_ms(&t.name).map_or(first, |t| t + 1);
            // A target whose series fails still shows its current figures.
            if let Ok(series) = self.client.series(&t.name, since) {
                self.book
                    .add(&t.name, series.points.iter().filter_map(|p| p.to_point()));
            }
        }
        self.book.attach(&mut data);
        Ok(data)
    }
}

impl Source for RemoteSource {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn origin(&self) -> String {
        self.client.base().to_string()
    }

    fn poll(&mut self) -> (Option<String>, Result<NodeData, String>) {
        let result = self.read().map_err(|e| format!("{UNREACHABLE}{e}"));
        (self.told_name.clone(), result)
    }
}
