//! A blocking client of the API, for `status --node`, the TUI and the fleet view: one
//! method per document, each returning the typed document the server serves.

use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::docs::{BucketDoc, CrashesDoc, ErrorDoc, NodeDoc, SeriesDoc, StatusDoc};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{url}: {source}")]
    Http {
        url: String,
        #[source]
        source: Box<ureq::Error>,
    },
    #[error("{url}: HTTP {status}: {message}")]
    Status {
        url: String,
        status: u16,
        message: String,
    },
    #[error("{url}: the answer is not the expected document: {source}")]
    Decode {
        url: String,
        #[source]
        source: Box<ureq::Error>,
    },
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

/// One node's API.
#[derive(Clone, Debug)]
pub struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Client {
    /// `base_url` like `http://127.0.0.1:7878`; `token` is sent as a bearer token.
    pub fn new(base_url: &str, token: Option<String>) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            base: base_url.trim_end_matches('/').to_string(),
            token,
            agent,
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn status(&self) -> Result<StatusDoc, ClientError> {
        self.get_json("/api/v1/status")
    }

    /// The target's series over the server's default window (the last 24 h).
    pub fn series(&self, target: &str) -> Result<SeriesDoc, ClientError> {
        self.get_json(&format!("/api/v1/targets/{}/series", encode(target)))
    }

    /// The target's series since `since_ms` (milliseconds since the Unix epoch).
    pub fn series_since(&self, target: &str, since_ms: i64) -> Result<SeriesDoc, ClientError> {
        self.get_json(&format!(
            "/api/v1/targets/{}/series?since={since_ms}",
            encode(target)
        ))
    }

    pub fn crashes(&self) -> Result<CrashesDoc, ClientError> {
        self.get_json("/api/v1/crashes")
    }

    pub fn bucket(&self, id: &str) -> Result<BucketDoc, ClientError> {
        self.get_json(&format!("/api/v1/crashes/{}", encode(id)))
    }

    pub fn node(&self) -> Result<NodeDoc, ClientError> {
        self.get_json("/api/v1/node")
    }

    /// Every node of the fleet, from a server started with `serve --all-nodes`.
    pub fn fleet(&self) -> Result<crate::FleetDoc, ClientError> {
        self.get_json("/api/v1/fleet")
    }

    /// Any path, for what has no method yet: the status code and the body.
    pub fn get_raw(&self, path: &str) -> Result<(u16, Vec<u8>), ClientError> {
        let url = format!("{}{path}", self.base);
        let mut resp = self.call(&url)?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(256 << 20)
            .read_to_vec()
            .map_err(|e| ClientError::Decode {
                url,
                source: Box::new(e),
            })?;
        Ok((status, body))
    }

    fn call(&self, url: &str) -> Result<ureq::http::Response<ureq::Body>, ClientError> {
        let mut req = self.agent.get(url);
        if let Some(t) = &self.token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        req.call().map_err(|e| ClientError::Http {
            url: url.to_string(),
            source: Box::new(e),
        })
    }

    fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let mut resp = self.call(&url)?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            let message = resp
                .body_mut()
                .read_json::<ErrorDoc>()
                .map(|e| e.error)
                .unwrap_or_else(|_| "no error document".into());
            return Err(ClientError::Status {
                url,
                status,
                message,
            });
        }
        resp.body_mut()
            .with_config()
            .limit(64 << 20)
            .read_json()
            .map_err(|e| ClientError::Decode {
                url,
                source: Box::new(e),
            })
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
