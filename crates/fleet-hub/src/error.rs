//! What can stop a hub operation. A hub that cannot be reached is a runtime condition
//! (fuzzing goes on, status says "degraded"); the others need a person.

use std::io;
use std::path::PathBuf;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The hub's URL or credentials cannot make a store (bad endpoint, missing directory).
    #[error("cannot open hub {url}: {reason}")]
    Open { url: String, reason: String },

    /// The store did not answer usefully within the retry budget: network down, server
    /// paused, timeouts, 5xx. Nothing local was lost; the next sync carries on.
    #[error("hub {url} unreachable: {op} {key} failed after {attempts} attempt(s): {source}")]
    Unreachable {
        url: String,
        op: &'static str,
        key: String,
        attempts: u32,
        #[source]
        source: BoxError,
    },

    /// The store answered, and said no (permissions, unsupported operation): retrying
    /// will not help until someone changes the bucket or the credentials.
    #[error("hub {url} refused {op} {key}: {source}")]
    Denied {
        url: String,
        op: &'static str,
        key: String,
        #[source]
        source: BoxError,
    },

    /// Another fuzzfleet has moved the hub to a layout this build does not know.
    #[error(
        "hub {url} uses layout {found}, newer than layout {supported} which this fuzzfleet \
         understands; nothing was written (upgrade fuzzfleet on this node)"
    )]
    NewerLayout {
        url: String,
        found: u32,
        supported: u32,
    },

    /// An object the hub needs to work at all (its `meta.json`) is unreadable.
    #[error("hub object {key} is unusable: {reason}")]
    BadObject { key: String, reason: String },

    /// A directory hub holds something fuzzfleet will not write through or read at this
    /// key (a link on the way, a directory where the object belongs). Not a fault of the
    /// hub as a whole: the rest goes on, and a person removes what is there.
    #[error(transparent)]
    Refused(#[from] crate::keys::Refusal),

    /// The local side: the state dir's corpus, crashes or hub state.
    #[error("hub sync cannot use {path}: {source}")]
    Local {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl HubError {
    /// True when the hub itself is the problem and the node should show it as
    /// "degraded" and try again later; false for problems a person must fix first.
    pub fn is_degraded(&self) -> bool {
        matches!(self, HubError::Unreachable { .. } | HubError::Denied { .. })
    }

    pub(crate) fn local(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> HubError {
        let path = path.into();
        move |source| HubError::Local { path, source }
    }
}
