//! A directory hub's requests: each runs `dirstore` on tokio's blocking pool within the
//! request limit, is counted like an S3 request, and turns what `dirstore` refused into
//! refusals naming the key (an object read) or [`HubError::Refused`] (a write).

use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path;

use super::{Got, LIST_PAGE, Listing, Op, Store};
use crate::HubError;
use crate::dirstore::{DirError, DirGot, DirStore};
use crate::keys::Refusal;

/// What a directory-hub operation came to.
enum DirOutcome<T> {
    Done(T),
    /// The key's object (or a directory on its way) is not something fuzzfleet uses.
    Refused(String),
    /// No answer within the request's limit (its thread is left to finish alone).
    Stalled,
}

impl Store {
    /// Runs one directory-hub operation on the blocking pool, within the request limit.
    async fn dir_op<T, F>(
        &self,
        store: &Arc<DirStore>,
        op: Op,
        key: &Path,
        f: F,
    ) -> Result<DirOutcome<T>, HubError>
    where
        T: Send + 'static,
        F: FnOnce(&DirStore) -> Result<T, DirError> + Send + 'static,
    {
        self.count(op, 1);
        let store = Arc::clone(store);
        let task = tokio::task::spawn_blocking(move || f(&store));
        let failed = |source: Box<dyn std::error::Error + Send + Sync>| HubError::Unreachable {
            url: self.url.clone(),
            op: op.name(),
            key: key.to_string(),
            attempts: 1,
            source,
        };
        match tokio::time::timeout(self.opts.request_timeout, task).await {
            Err(_) => Ok(DirOutcome::Stalled),
            Ok(Err(joined)) => Err(failed(Box::new(joined))),
            Ok(Ok(Ok(v))) => Ok(DirOutcome::Done(v)),
            Ok(Ok(Err(DirError::Refused(reason)))) => Ok(DirOutcome::Refused(reason)),
            Ok(Ok(Err(DirError::Io(e)))) => Err(match e.kind() {
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                    HubError::Denied {
                        url: self.url.clone(),
                        op: op.name(),
                        key: key.to_string(),
                        source: Box::new(e),
                    }
                }
                _ => failed(Box::new(e)),
            }),
        }
    }

    fn stalled(&self, op: Op, key: &Path) -> HubError {
        HubError::Unreachable {
            url: self.url.clone(),
            op: op.name(),
            key: key.to_string(),
            attempts: 1,
            source: format!("no answer within {:?}", self.opts.request_timeout).into(),
        }
    }

    pub(super) async fn dir_get(
        &self,
        dir: &Arc<DirStore>,
        key: &Path,
        max_bytes: u64,
    ) -> Result<Got, HubError> {
        let k = key.clone();
        let got = self
            .dir_op(dir, Op::Get, key, move |d| d.get(&k, max_bytes))
            .await?;
        Ok(match got {
            DirOutcome::Done(DirGot::Bytes(b)) => Got::Bytes(b),
            DirOutcome::Done(DirGot::Missing) => Got::Missing,
            DirOutcome::Done(DirGot::TooLarge(n)) => Got::TooLarge(n),
            DirOutcome::Refused(reason) => Got::Refused(reason),
            DirOutcome::Stalled => Got::Stalled(self.opts.request_timeout),
        })
    }

    /// Whether a regular file is at `key`; anything else there is refused.
    pub(super) async fn dir_exists(
        &self,
        dir: &Arc<DirStore>,
        key: &Path,
    ) -> Result<bool, HubError> {
        let k = key.clone();
        match self
            .dir_op(dir, Op::Head, key, move |d| d.exists(&k))
            .await?
        {
            DirOutcome::Done(found) => Ok(found),
            DirOutcome::Refused(reason) => Err(HubError::Refused(Refusal::new(key, reason))),
            DirOutcome::Stalled => Err(self.stalled(Op::Head, key)),
        }
    }

    /// A directory-hub write: `only_new` keeps what is there and answers false.
    pub(super) async fn dir_put(
        &self,
        dir: &Arc<DirStore>,
        key: &Path,
        bytes: Bytes,
        only_new: bool,
    ) -> Result<bool, HubError> {
        let k = key.clone();
        match self
            .dir_op(dir, Op::Put, key, move |d| d.put(&k, &bytes, only_new))
            .await?
        {
            DirOutcome::Done(placed) => Ok(placed),
            DirOutcome::Refused(reason) => Err(HubError::Refused(Refusal::new(key, reason))),
            DirOutcome::Stalled => Err(self.stalled(Op::Put, key)),
        }
    }

    /// A directory-hub listing; a prefix that is itself refused (a link) is one refusal.
    pub(super) async fn dir_list(
        &self,
        dir: &Arc<DirStore>,
        prefix: &Path,
        recursive: bool,
    ) -> Result<Listing, HubError> {
        let p = prefix.clone();
        match self
            .dir_op(dir, Op::List, prefix, move |d| d.list(&p, recursive))
            .await?
        {
            DirOutcome::Done(listed) => {
                self.count(Op::List, listed.keys.len() as u64 / LIST_PAGE);
                Ok(Listing {
                    keys: listed.keys,
                    refused: listed.refused,
                })
            }
            DirOutcome::Refused(reason) => Ok(Listing {
                keys: Vec::new(),
                refused: vec![Refusal::new(prefix, reason)],
            }),
            DirOutcome::Stalled => Err(self.stalled(Op::List, prefix)),
        }
    }
}
