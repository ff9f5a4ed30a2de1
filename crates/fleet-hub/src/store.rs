//! The object store under the hub: opening it from `[hub] url`, and every request it gets,
//! each bounded in time, retried with exponential backoff when the failure is transient,
//! and counted so benchmarks and status can say what a sync cost.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use fleet_config::HubUrl;
use futures::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{
    ClientOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig,
};

use crate::HubError;
use crate::options::{HubOptions, S3Config, is_loopback_http};

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

    /// The requests made between `before` and `self`.
    pub fn since(&self, before: &RequestCounts) -> RequestCounts {
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
    ///
    /// A listing is many pages: the time limit applies to each page, not to the whole,
    /// and a listing that fails part-way resumes after the last key it got (S3 lists in
    /// key order) with its attempts renewed as long as pages keep arriving.
    pub(crate) async fn list_after(
        &self,
        prefix: &Path,
        offset: Option<&Path>,
    ) -> Result<Vec<Path>, HubError> {
        let attempts = self.opts.attempts.max(1);
        let resumable = self.dir.is_none();
        let mut backoff = self.opts.backoff_initial;
        let mut keys: Vec<Path> = Vec::new();
        let mut failures = 0;
        loop {
            self.count(Op::List, 1);
            if !resumable {
                keys.clear();
            }
            let start = keys.last().or(offset).cloned();
            let mut stream = match &start {
                Some(start) => self.inner.list_with_offset(Some(prefix), start),
                None => self.inner.list(Some(prefix)),
            };
            let mut got = 0u64;
            let err: Box<dyn std::error::Error + Send + Sync> = loop {
                match tokio::time::timeout(self.opts.request_timeout, stream.next()).await {
                    Err(_) => {
                        break format!("no answer within {:?}", self.opts.request_timeout).into();
                    }
                    Ok(None) => return Ok(keys),
                    Ok(Some(Ok(meta))) => {
                        keys.push(meta.location);
                        got += 1;
                        if got.is_multiple_of(LIST_PAGE) {
                            self.count(Op::List, 1);
                        }
                    }
                    Ok(Some(Err(e))) => match classify(&e) {
                        Class::Transient => break Box::new(e),
                        Class::Answer | Class::Denied => {
                            return Err(self.denied(Op::List, prefix, e));
                        }
                    },
                }
            };
            failures = if got > 0 { 1 } else { failures + 1 };
            if failures >= attempts {
                return Err(HubError::Unreachable {
                    url: self.url.clone(),
                    op: Op::List.name(),
                    key: prefix.to_string(),
                    attempts: failures,
                    source: err,
                });
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(self.opts.backoff_max);
        }
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
