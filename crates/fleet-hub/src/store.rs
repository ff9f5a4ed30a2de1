//! The object store under the hub: opening it from `[hub] url`, and every request it gets,
//! each bounded in time, retried with exponential backoff when the failure is transient,
//! and counted so benchmarks and status can say what a sync cost. An S3 hub goes through
//! `object_store`; a directory hub through the crate's own `dirstore`, which never
//! follows a link and reads only regular files.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use fleet_config::HubUrl;
use futures::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{
    ClientOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig,
};

use crate::HubError;
use crate::dirstore::DirStore;
use crate::keys::Refusal;

mod dir;
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

/// Where the objects are.
enum Backend {
    Dir(Arc<DirStore>),
    Object(Arc<dyn ObjectStore>),
}

/// Keys found by a listing, and entries it refused (a directory hub's links, FIFOs…).
#[derive(Debug, Default)]
pub(crate) struct Listing {
    pub(crate) keys: Vec<Path>,
    pub(crate) refused: Vec<Refusal>,
}

impl Listing {
    fn of(keys: Vec<Path>) -> Self {
        Self {
            keys,
            refused: Vec::new(),
        }
    }
}

/// The opened store, its URL for messages, and its counters.
pub(crate) struct Store {
    backend: Backend,
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
        let backend = match url {
            HubUrl::Dir(dir) => {
                if !dir.is_dir() {
                    return Err(open_err(format!(
                        "directory {} does not exist (create it, or mount the share)",
                        dir.display()
                    )));
                }
                Backend::Dir(Arc::new(DirStore::new(dir.clone())))
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
                Backend::Object(if prefix.is_empty() {
                    Arc::new(s3)
                } else {
                    Arc::new(PrefixStore::new(s3, Path::from(prefix.as_str())))
                })
            }
        };
        let dir = match url {
            HubUrl::Dir(dir) => Some(dir.clone()),
            HubUrl::S3 { .. } => None,
        };
        Ok(Self {
            backend,
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
        let inner = match &self.backend {
            Backend::Object(inner) => inner,
            Backend::Dir(dir) => return self.dir_get(dir, key, max_bytes).await,
        };
        let res = self
            .retrying(Op::Get, key, || async {
                let got = inner.get(key).await?;
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
        let inner = match &self.backend {
            Backend::Object(inner) => inner,
            Backend::Dir(dir) => return self.dir_put(dir, key, bytes, false).await.map(drop),
        };
        let res = self
            .retrying(Op::Put, key, || {
                inner.put(key, PutPayload::from_bytes(bytes.clone()))
            })
            .await?;
        res.map(|_| ()).map_err(|e| self.denied(Op::Put, key, e))
    }

    /// Writes `bytes` only if nothing is at `key`: false if something already was.
    /// A store without conditional writes gets a plain write (the race it cannot
    /// close only matters when two nodes create a hub in the same instant).
    pub(crate) async fn put_new(&self, key: &Path, bytes: Bytes) -> Result<bool, HubError> {
        let inner = match &self.backend {
            Backend::Object(inner) => inner,
            Backend::Dir(dir) => return self.dir_put(dir, key, bytes, true).await,
        };
        let res = self
            .retrying(Op::Put, key, || {
                inner.put_opts(
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

    /// Whether an object is at `key`. In a directory hub, anything but a regular file
    /// there is an error naming the key ([`HubError::Refused`]).
    pub(crate) async fn exists(&self, key: &Path) -> Result<bool, HubError> {
        let inner = match &self.backend {
            Backend::Object(inner) => inner,
            Backend::Dir(dir) => return self.dir_exists(dir, key).await,
        };
        match self.retrying(Op::Head, key, || inner.head(key)).await? {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.denied(Op::Head, key, e)),
        }
    }

    /// The "directories" right under `prefix` (one listing request per page).
    pub(crate) async fn list_dirs(&self, prefix: &Path) -> Result<Listing, HubError> {
        let inner = match &self.backend {
            Backend::Object(inner) => inner,
            Backend::Dir(dir) => return self.dir_list(dir, prefix, false).await,
        };
        let res = self
            .retrying(Op::List, prefix, || inner.list_with_delimiter(Some(prefix)))
            .await?;
        let listed = res.map_err(|e| self.denied(Op::List, prefix, e))?;
        let n = (listed.common_prefixes.len() + listed.objects.len()) as u64;
        self.count(Op::List, n / LIST_PAGE);
        Ok(Listing::of(listed.common_prefixes))
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
    ) -> Result<Listing, HubError> {
        let inner = match &self.backend {
            Backend::Object(inner) => inner,
            Backend::Dir(dir) => {
                let mut listed = self.dir_list(dir, prefix, true).await?;
                if let Some(offset) = offset {
                    listed.keys.retain(|k| k > offset);
                }
                return Ok(listed);
            }
        };
        let attempts = self.opts.attempts.max(1);
        let mut backoff = self.opts.backoff_initial;
        let mut keys: Vec<Path> = Vec::new();
        let mut failures = 0;
        loop {
            self.count(Op::List, 1);
            let start = keys.last().or(offset).cloned();
            let mut stream = match &start {
                Some(start) => inner.list_with_offset(Some(prefix), start),
                None => inner.list(Some(prefix)),
            };
            let mut got = 0u64;
            let err: Box<dyn std::error::Error + Send + Sync> = loop {
                match tokio::time::timeout(self.opts.request_timeout, stream.next()).await {
                    Err(_) => {
                        break format!("no answer within {:?}", self.opts.request_timeout).into();
                    }
                    Ok(None) => return Ok(Listing::of(keys)),
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
    /// A directory hub's object that is not a regular file, or reached through a link:
    /// why it was not read.
    Refused(String),
    /// A directory hub's object not read within the request limit: skipped, so one
    /// object that never answers cannot hold up a sync.
    Stalled(Duration),
}

impl Got {
    /// Why an object this get did not return is refused (`None` for bytes or missing).
    pub(crate) fn refusal(&self, max: u64) -> Option<String> {
        match self {
            Got::Bytes(_) | Got::Missing => None,
            Got::TooLarge(n) => Some(format!("{n} bytes, larger than the {max}-byte limit")),
            Got::Refused(reason) => Some(reason.clone()),
            Got::Stalled(limit) => Some(format!("not read within {limit:?}; skipped")),
        }
    }
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
