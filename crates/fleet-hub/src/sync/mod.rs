//! One sync of one state dir with the hub: pull what other nodes logged since the
//! cursors, then push what the hub does not hold yet, a batch at a time.
//!
//! Order of writes, so a reader never meets a name whose object is missing: every
//! object of a batch is put first, then the batch naming them, then the local journal
//! and state. An interruption anywhere leaves objects nobody names yet (pushed again
//! next time) or a batch that is already complete; never a dangling name.

use std::time::{Duration, Instant};

use fleet_config::{NodeName, TargetName};
use fleet_engine::FindingKind;
use fleet_store::Layout;
use serde::{Deserialize, Serialize};

use crate::keys::{self, Refusal};
use crate::local::{Known, State, SyncLock};
use crate::store::{RequestCounts, Store};
use crate::{HubError, meta};

mod pull;
mod push;

/// Version of the batch object format.
const BATCH_VERSION: u32 = 1;
/// A batch holds at most `batch_max` names of ~60 bytes; anything far larger is not one.
const MAX_BATCH_BYTES: u64 = 16 << 20;

/// What one sync did.
#[derive(Debug, Default, Clone)]
pub struct SyncReport {
    /// Corpus entries put into the hub.
    pub pushed_corpus: usize,
    /// Findings put into the hub (input and report, or a report that changed).
    pub pushed_crashes: usize,
    /// Corpus entries written into the local corpus dirs.
    pub pulled_corpus: usize,
    /// Findings written into the local crashes dirs (the caller records them).
    pub pulled_crashes: Vec<PulledCrash>,
    /// Local files left for the next sync: their content does not match their name yet
    /// (a fuzzer still writing them).
    pub skipped_local: usize,
    /// Hub keys not used, each with why (bad names, bad hashes, oversized objects; in a
    /// directory hub, links and anything not a regular file; objects not read in time).
    /// Each was skipped: the rest of the sync went on.
    pub refused: Vec<Refusal>,
    /// The hub had lost what this node had pushed (wiped, replaced): everything local
    /// was offered again.
    pub hub_reset: bool,
    /// Requests this sync made.
    pub requests: RequestCounts,
    pub elapsed: Duration,
}

impl SyncReport {
    pub fn pushed(&self) -> usize {
        self.pushed_corpus + self.pushed_crashes
    }

    pub fn pulled(&self) -> usize {
        self.pulled_corpus + self.pulled_crashes.len()
    }
}

/// A finding another node found, now in the local crashes dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledCrash {
    pub target: TargetName,
    pub kind: FindingKind,
    pub sha1: String,
    /// The node whose batch named it.
    pub node: NodeName,
    pub input: std::path::PathBuf,
    /// The report beside it, if the hub had one.
    pub report: Option<std::path::PathBuf>,
}

/// `v1/log/<target>/<node>/<seq>.json`.
#[derive(Debug, Serialize, Deserialize)]
struct Batch {
    version: u32,
    target: String,
    node: String,
    seq: u64,
    time: String,
    #[serde(default)]
    corpus: Vec<String>,
    #[serde(default)]
    crashes: Vec<BatchCrash>,
}

#[derive(Debug, Serialize, Deserialize)]
struct BatchCrash {
    name: String,
    /// SHA-1 of the report put beside the input, if there is one.
    report_sha1: Option<String>,
}

pub(crate) async fn run(
    store: &Store,
    layout: &Layout,
    node: &NodeName,
    targets: &[TargetName],
) -> Result<SyncReport, HubError> {
    let started = Instant::now();
    let before = store.counts();
    let mut report = SyncReport::default();
    let result = run_inner(store, layout, node, targets, &mut report).await;
    report.requests = store.counts().since(&before);
    report.elapsed = started.elapsed();
    result.map(|()| report)
}

async fn run_inner(
    store: &Store,
    layout: &Layout,
    node: &NodeName,
    targets: &[TargetName],
    report: &mut SyncReport,
) -> Result<(), HubError> {
    store.check_available()?;
    let _lock = SyncLock::acquire(layout)?;
    let mut state = State::load(layout)?;
    let meta = meta::ensure(store, node.as_str()).await?;
    let hub_id = meta.hub_id;
    if state.hub_id.as_deref() != Some(hub_id.as_str()) {
        // A new hub (or the same URL wiped): other nodes' batches are new to us, and the
        // journals, written for the old hub_id, no longer count. Own sequence numbers go
        // on rising so no reader's cursor can skip a batch.
        report.hub_reset = state.hub_id.is_some();
        for t in state.targets.values_mut() {
            t.cursors.clear();
        }
        state.hub_id = Some(hub_id.clone());
        state.save(layout)?;
    }
    let mut sync = TargetSync {
        store,
        layout,
        node,
        hub_id: &hub_id,
        state: &mut state,
        report,
    };
    for target in targets {
        sync.target(target).await?;
    }
    Ok(())
}

struct TargetSync<'a> {
    store: &'a Store,
    layout: &'a Layout,
    node: &'a NodeName,
    hub_id: &'a str,
    state: &'a mut State,
    report: &'a mut SyncReport,
}

impl TargetSync<'_> {
    async fn target(&mut self, target: &TargetName) -> Result<(), HubError> {
        let mut known = Known::load(self.layout, target, self.hub_id)?;
        // Our own last batch gone while the hub kept its identity: the hub lost data
        // (restored from an old copy, logs deleted). Offer everything again.
        if let Some(seq) = self.state.target(target).last_seq
            && !known.is_empty()
        {
            match self
                .store
                .exists(&keys::batch(target, self.node, seq))
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    known.reset(self.hub_id)?;
                    self.report.hub_reset = true;
                }
                // Something planted where the batch should be (a link, a directory):
                // reported; whether the hub lost data cannot be told from it.
                Err(HubError::Refused(refusal)) => self.report.refused.push(refusal),
                Err(e) => return Err(e),
            }
        }
        self.pull(target, &mut known).await?;
        self.push(target, &mut known).await
    }
}
