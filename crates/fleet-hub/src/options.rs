//! How a hub is reached: retry and size limits, and S3 credentials and endpoint.

use std::time::Duration;

/// How the hub is reached and how hard a sync tries before calling it unreachable.
#[derive(Debug, Clone)]
pub struct HubOptions {
    /// S3 settings; `None` reads them from the environment when the hub is opened
    /// ([`S3Config::from_env`]). Ignored for a directory hub.
    pub s3: Option<S3Config>,
    /// One request's limit, connection included.
    pub request_timeout: Duration,
    /// Attempts per request, the first included (at least 1).
    pub attempts: u32,
    /// The wait before the first retry; it doubles on each retry up to `backoff_max`.
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// Requests in flight at once while pushing or pulling objects.
    pub concurrency: usize,
    /// At most this many new keys per batch: a long first sync saves its progress
    /// batch by batch, so an interruption costs one batch of work.
    pub batch_max: usize,
    /// Largest object a sync will download: a corpus entry, finding input or report
    /// larger than this is refused rather than written to the local disk.
    pub max_object_bytes: u64,
}

impl Default for HubOptions {
    fn default() -> Self {
        Self {
            s3: None,
            request_timeout: Duration::from_secs(30),
            attempts: 4,
            backoff_initial: Duration::from_millis(250),
            backoff_max: Duration::from_secs(4),
            concurrency: 8,
            batch_max: 1000,
            max_object_bytes: 64 << 20,
        }
    }
}

/// Credentials and endpoint of an S3-compatible store.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct S3Config {
    /// `None`: AWS itself, by region.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// `None`: object_store's own chain (web identity, ECS, instance metadata).
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    /// Plain HTTP to a non-loopback endpoint; a loopback `http://` endpoint is always
    /// allowed (a local MinIO or test server).
    pub allow_http: bool,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets: this lands in logs.
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "…"),
            )
            .field("session_token", &self.session_token.as_ref().map(|_| "…"))
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

impl S3Config {
    /// Reads `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
    /// `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT`), `AWS_REGION` (or `AWS_DEFAULT_REGION`)
    /// and `AWS_ALLOW_HTTP` (`true`/`1`).
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self {
            endpoint: var("AWS_ENDPOINT_URL").or_else(|| var("AWS_ENDPOINT")),
            region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")),
            access_key_id: var("AWS_ACCESS_KEY_ID"),
            secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
            session_token: var("AWS_SESSION_TOKEN"),
            allow_http: var("AWS_ALLOW_HTTP").is_some_and(|v| v == "true" || v == "1"),
        }
    }
}

pub(crate) fn is_loopback_http(endpoint: &str) -> bool {
    let Some(rest) = endpoint.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split('/').next().unwrap_or_default();
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http_is_allowed_without_asking() {
        for ok in [
            "http://127.0.0.1:9000",
            "http://localhost:9000/",
            "http://[::1]:9000",
            "http://127.1.2.3",
        ] {
            assert!(is_loopback_http(ok), "{ok}");
        }
        for no in [
            "https://127.0.0.1:9000",
            "http://10.0.0.5:9000",
            "http://minio.example:9000",
            "http://127.0.0.1.example:80",
        ] {
            assert!(!is_loopback_http(no), "{no}");
        }
    }

    #[test]
    fn s3_config_debug_hides_secrets() {
        let c = S3Config {
            secret_access_key: Some("hunter2".into()),
            session_token: Some("tok".into()),
            ..S3Config::default()
        };
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("tok\""),
            "{shown}"
        );
    }
}
