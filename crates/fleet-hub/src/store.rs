//! The object store under the hub: opening it from `[hub] url`, and every request it gets,
//! each bounded in time, retried with exponential backoff when the failure is transient,
//! and counted so benchmarks and status can say what a sync cost.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use fleet_config::HubUrl;
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{
    ClientOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig,
};

use crate::HubError;

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

fn is_loopback_http(endpoint: &str) -> bool {
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

/// Requests made so far, by kind. A listing counts one request per page of 1000 keys
/// (the S3 page size), as S3 bills it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestCounts {
    pub get: u64,
    pub put: u64,
    pub head: u64,
    pub list: u64,
}

impl RequestCounts {
    pub fn total(&self) -> u64 {
        self.get + self.put + self.head + self.list
    }

    pub(crate) fn since(&self, before: &RequestCounts) -> RequestCounts {
        RequestCounts {
            get: self.get - before.get,
            put: self.put - before.put,
            head: self.head - before.head,
            list: self.list - before.list,
        }
    }
}

#[derive(Default)]
struct Counters {
    get: AtomicU64,
    put: AtomicU64,
    head: AtomicU64,
    list: AtomicU64,
}

#[derive(Clone, Copy)]
enum Op {
    Get,
    Put,
    Head,
    List,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Put => "put",
            Op::Head => "head",
            Op::List => "list",
        }
    }
}

const LIST_PAGE: u64 = 1000;

/// The opened store, its URL for messages, and its counters.
pub(crate) struct Store {
    inner: Arc<dyn ObjectStore>,
    /// A directory hub's directory, checked before each sync.
    dir: Option<std::path::PathBuf>,
    url: String,
    counters: Counters,
    opts: HubOptions,
}

impl Store {
    pub(crate) fn open(url: &HubUrl, opts: HubOptions) -> Result<Self, HubError> {
        let shown = url.to_string();
        let open_err = |reason: String| HubError::Open {
            url: shown.clone(),
            reason,
        };
        let inner: Arc<dyn ObjectStore> = match url {
            HubUrl::Dir(dir) => {
                if !dir.is_dir() {
                    return Err(open_err(format!(
                        "directory {} does not exist (create it, or mount the share)",
                        dir.display()
                    )));
                }
                // fsync: an object must be durable before the batch that names it is.
                let fs = LocalFileSystem::new_with_prefix(dir)
                    .map_err(|e| open_err(e.to_string()))?
                    .with_fsync(true);
                Arc::new(fs)
            }
            HubUrl::S3 { bucket, prefix } => {
                let s3 = opts.s3.clone().unwrap_or_else(S3Config::from_env);
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_region(s3.region.as_deref().unwrap_or("us-east-1"))
                    // Retries are ours (counted, bounded by `HubOptions`).
                    .with_retry(RetryConfig {
                        max_retries: 0,
                        retry_timeout: opts.request_timeout,
                        ..RetryConfig::default()
                    })
                    .with_client_options(
                        ClientOptions::new()
                            .with_timeout(opts.request_timeout)
                            .with_connect_timeout(
                                opts.request_timeout.min(Duration::from_secs(10)),
                            ),
                    );
                if let Some(endpoint) = &s3.endpoint {
                    let allow_http = s3.allow_http || is_loopback_http(endpoint);
                    if endpoint.starts_with("http://") && !allow_http {
                        return Err(open_err(format!(
                            "endpoint {endpoint} is plain HTTP to a non-loopback host \
                             (set AWS_ALLOW_HTTP=true if that is really wanted)"
                        )));
                    }
                    builder = builder.with_endpoint(endpoint).with_allow_http(allow_http);
                }
                if let Some(v) = &s3.access_key_id {
                    builder = builder.with_access_key_id(v);
                }
                if let Some(v) = &s3.secret_access_key {
                    builder = builder.with_secret_access_key(v);
                }
                if let Some(v) = &s3.session_token {
                    builder = builder.with_token(v);
                }
                let s3 = builder.build().map_err(|e| open_err(e.to_string()))?;
                if prefix.is_empty() {
                    Arc::new(s3)
                } else {
                    Arc::new(PrefixStore::new(s3, Path::from(prefix.as_str())))
                }
            }
        };
        let dir = match url {
            HubUrl::Dir(dir) => Some(dir.clone()),
            HubUrl::S3 { .. } => None,
        };
        Ok(Self {
            inner,
            dir,
            url: shown,
            counters: Counters::default(),
            opts,
        })
    }

    /// A directory hub whose directory vanished (a share unmounted) is unreachable:
    /// writing on would fill the mount point on the local disk instead.
    pub(crate) fn check_available(&self) -> Result<(), HubError> {
        match &self.dir {
            Some(dir) if !dir.is_dir() => Err(HubError::Unreachable {
                url: self.url.clone(),
                op: "open",
                key: String::new(),
                attempts: 1,
                source: format!("directory {} is missing (share unmounted?)", dir.display()).into(),
            }),
            _ => Ok(()),
        }
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn opts(&self) -> &HubOptions {
        &self.opts
    }

    pub(crate) fn counts(&self) -> RequestCounts {
        let c = &self.counters;
        RequestCounts {
            get: c.get.load(Ordering::Relaxed),
            put: c.put.load(Ordering::Relaxed),
            head: c.head.load(Ordering::Relaxed),
            list: c.list.load(Ordering::Relaxed),
        }
    }

    fn count(&self, op: Op, n: u64) {
        let c = match op {
            Op::Get => &self.counters.get,
            Op::Put => &self.counters.put,
            Op::Head => &self.counters.head,
            Op::List => &self.counters.list,
        };
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// Runs `attempt` until it succeeds, fails for good, or the attempts run out.
    /// `Ok(Err(e))` is an answer from the store that retrying cannot change (not found,
    /// already exists), handed back for the caller to interpret.
    async fn retrying<T, F, Fut>(
        &self,
        op: Op,
        key: &Path,
        mut attempt: F,
    ) -> Result<Result<T, object_store::Error>, HubError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, object_store::Error>>,
    {
        let attempts = self.opts.attempts.max(1);
        let mut backoff = self.opts.backoff_initial;
        let mut n = 0;
        loop {
            n += 1;
            self.count(op, 1);
            let outcome = tokio::time::timeout(self.opts.request_timeout, attempt()).await;
            let err: Box<dyn std::error::Error + Send + Sync> = match outcome {
                Ok(Ok(v)) => return Ok(Ok(v)),
                Ok(Err(e)) => match classify(&e) {
                    Class::Answer => return Ok(Err(e)),
                    Class::Denied => {
                        return Err(HubError::Denied {
                            url: self.url.clone(),
                            op: op.name(),
                            key: key.to_string(),
                            source: Box::new(e),
                        });
                    }
                    Class::Transient => Box::new(e),
                },
                Err(_) => format!("no answer within {:?}", self.opts.request_timeout).into(),
            };
            if n >= attempts {
                return Err(HubError::Unreachable {
                    url: self.url.clone(),
                    op: op.name(),
                    key: key.to_string(),
                    attempts: n,
                    source: err,
                });
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(self.opts.backoff_max);
        }
    }

    /// The object's bytes, or `None` if there is none. An object larger than `max_bytes`
    /// is refused before its body is read.
    pub(crate) async fn get(&self, key: &Path, max_bytes: u64) -> Result<Got, HubError> {
        let res = self
            .retrying(Op::Get, key, || async {
                let got = self.inner.get(key).await?;
                if got.meta.size > max_bytes {
                    return Ok(Got::TooLarge(got.meta.size));
                }
                Ok(Got::Bytes(got.bytes().await?))
            })
            .await?;
        match res {
            Ok(got) => Ok(got),
            Err(object_store::Error::NotFound { .. }) => Ok(Got::Missing),
            Err(e) => Err(self.denied(Op::Get, key, e)),
        }
    }

    pub(crate) async fn put(&self, key: &Path, bytes: Bytes) -> Result<(), HubError> {
        let res = self
            .retrying(Op::Put, key, || {
                self.inner.put(key, PutPayload::from_bytes(bytes.clone()))
            })
            .await?;
        res.map(|_| ()).map_err(|e| self.denied(Op::Put, key, e))
    }

    /// Writes `bytes` only if nothing is at `key`: false if something already was.
    /// A store without conditional writes gets a plain write (the race it cannot
    /// close only matters when two nodes create a hub in the same instant).
    pub(crate) async fn put_new(&self, key: &Path, bytes: Bytes) -> Result<bool, HubError> {
        let res = self
            .retrying(Op::Put, key, || {
                self.inner.put_opts(
                    key,
                    PutPayload::from_bytes(bytes.clone()),
                    PutOptions::from(PutMode::Create),
                )
            })
            .await?;
        match res {
            Ok(_) => Ok(true),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Ok(false),
            Err(
                object_store::Error::NotImplemented { .. }
                | object_store::Error::NotSupported { .. },
            ) => self.put(key, bytes).await.map(|()| true),
            Err(e) => Err(self.denied(Op::Put, key, e)),
        }
    }

    pub(crate) async fn exists(&self, key: &Path) -> Result<bool, HubError> {
        match self
            .retrying(Op::Head, key, || self.inner.head(key))
            .await?
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.denied(Op::Head, key, e)),
        }
    }

    /// The "directories" right under `prefix` (one listing request per page).
    pub(crate) async fn list_dirs(&self, prefix: &Path) -> Result<Vec<Path>, HubError> {
        let res = self
            .retrying(Op::List, prefix, || {
                self.inner.list_with_delimiter(Some(prefix))
            })
            .await?;
        let listed = res.map_err(|e| self.denied(Op::List, prefix, e))?;
        let n = (listed.common_prefixes.len() + listed.objects.len()) as u64;
        self.count(Op::List, n / LIST_PAGE);
        Ok(listed.common_prefixes)
    }

    /// Every key under `prefix` that sorts after `offset`: stores that can (S3) start the
    /// listing there, so the cost follows what is new, not what is old.
    pub(crate) async fn list_after(
        &self,
        prefix: &Path,
        offset: Option<&Path>,
    ) -> Result<Vec<Path>, HubError> {
        let res = self
            .retrying(Op::List, prefix, || async {
                let stream = match offset {
                    Some(offset) => self.inner.list_with_offset(Some(prefix), offset),
                    None => self.inner.list(Some(prefix)),
                };
                stream.map_ok(|m| m.location).try_collect::<Vec<_>>().await
            })
            .await?;
        let keys = res.map_err(|e| self.denied(Op::List, prefix, e))?;
        self.count(Op::List, keys.len() as u64 / LIST_PAGE);
        Ok(keys)
    }

    fn denied(&self, op: Op, key: &Path, e: object_store::Error) -> HubError {
        HubError::Denied {
            url: self.url.clone(),
            op: op.name(),
            key: key.to_string(),
            source: Box::new(e),
        }
    }
}

/// What a get found.
pub(crate) enum Got {
    Bytes(Bytes),
    Missing,
    TooLarge(u64),
}

enum Class {
    /// A definite answer about the object (absent, present, condition failed).
    Answer,
    /// The store refuses: retrying will not help.
    Denied,
    /// Network, timeout, server error: worth another try.
    Transient,
}

fn classify(e: &object_store::Error) -> Class {
    use object_store::Error as E;
    match e {
        E::NotFound { .. }
        | E::AlreadyExists { .. }
        | E::Precondition { .. }
        | E::NotModified { .. }
        | E::NotImplemented { .. }
        | E::NotSupported { .. } => Class::Answer,
        E::PermissionDenied { .. } | E::Unauthenticated { .. } | E::InvalidPath { .. } => {
            Class::Denied
        }
        _ => Class::Transient,
    }
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
