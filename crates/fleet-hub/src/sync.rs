//! One sync of one state dir with the hub: pull what other nodes logged since the
//! cursors, then push what the hub does not hold yet, a batch at a time.
//!
//! Order of writes, so a reader never meets a name whose object is missing: every
//! object of a batch is put first, then the batch naming them, then the local journal
//! and state. An interruption anywhere leaves objects nobody names yet (pushed again
//! next time) or a batch that is already complete; never a dangling name.

use std::time::{Duration, Instant};

use bytes::Bytes;
use fleet_config::{NodeName, TargetName};
use fleet_engine::FindingKind;
use fleet_store::Layout;
use futures::StreamExt;
use object_store::path::Path;
use serde::{Deserialize, Serialize};

use crate::keys::{self, CrashName, Refusal, Sha1Name};
use crate::local::{self, Known, State, SyncLock};
use crate::store::{Got, RequestCounts, Store};
use crate::{HubError, meta};

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
    /// Hub keys not used, each with why (bad names, bad hashes, oversized objects).
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

/// What fetching one named object came to.
enum Fetched {
    Corpus(Sha1Name),
    Crash(CrashName, Option<Sha1Name>, Option<PulledCrash>),
    Refused(Refusal),
}

/// What pushing one local entry came to.
enum Pushed {
    Corpus(Sha1Name),
    Crash(CrashName, Option<Sha1Name>),
    Skipped,
}

enum Job {
    Corpus(Sha1Name),
    Crash(CrashName),
}

impl TargetSync<'_> {
    async fn target(&mut self, target: &TargetName) -> Result<(), HubError> {
        let mut known = Known::load(self.layout, target, self.hub_id)?;
        // Our own last batch gone while the hub kept its identity: the hub lost data
        // (restored from an old copy, logs deleted). Offer everything again.
        if let Some(seq) = self.state.target(target).last_seq
            && !known.is_empty()
            && !self
                .store
                .exists(&keys::batch(target, self.node, seq))
                .await?
        {
            known.reset(self.hub_id)?;
            self.report.hub_reset = true;
        }
        self.pull(target, &mut known).await?;
        self.push(target, &mut known).await
    }

    // ---- pull ----

    async fn pull(&mut self, target: &TargetName, known: &mut Known) -> Result<(), HubError> {
        let dirs = self.store.list_dirs(&keys::log_dir(target)).await?;
        for dir in dirs {
            let node = match keys::parse_node(&dir) {
                Ok(n) => n,
                Err(refusal) => {
                    self.report.refused.push(refusal);
                    continue;
                }
            };
            if &node == self.node {
                continue;
            }
            self.pull_node(target, &node, known).await?;
        }
        Ok(())
    }

    async fn pull_node(
        &mut self,
        target: &TargetName,
        node: &NodeName,
        known: &mut Known,
    ) -> Result<(), HubError> {
        let cursor = self.state.target(target).cursors.get(node).copied();
        let offset = cursor.map(|seq| keys::batch(target, node, seq));
        let dir = keys::node_log_dir(target, node);
        let listed = self.store.list_after(&dir, offset.as_ref()).await?;
        let mut batches = Vec::new();
        for key in listed {
            let name = keys::last_segment(&key);
            if key != dir.clone().join(name) {
                self.report.refused.push(Refusal::new(
                    &key,
                    "not a batch: nested below the node's log",
                ));
                continue;
            }
            match keys::parse_batch_name(name) {
                Ok(seq) if cursor.is_none_or(|c| seq > c) => batches.push((seq, key)),
                Ok(_) => {}
                Err(reason) => self.report.refused.push(Refusal::new(&key, reason)),
            }
        }
        batches.sort();
        for (seq, key) in batches {
            self.pull_batch(target, node, seq, &key, known).await?;
            known.flush(self.hub_id)?;
            self.state.target(target).cursors.insert(node.clone(), seq);
            self.state.save(self.layout)?;
        }
        Ok(())
    }

    async fn pull_batch(
        &mut self,
        target: &TargetName,
        node: &NodeName,
        seq: u64,
        key: &Path,
        known: &mut Known,
    ) -> Result<(), HubError> {
        let bytes = match self.store.get(key, MAX_BATCH_BYTES).await? {
            Got::Bytes(b) => b,
            // Listed, then gone: a hub being wiped. The next sync sees what remains.
            Got::Missing => return Ok(()),
            Got::TooLarge(n) => {
                self.report.refused.push(Refusal::new(
                    key,
                    format!("{n} bytes, too large for a batch"),
                ));
                return Ok(());
            }
        };
        let batch: Batch = match serde_json::from_slice(&bytes) {
            Ok(b) => b,
            Err(e) => {
                self.report
                    .refused
                    .push(Refusal::new(key, format!("not a batch: {e}")));
                return Ok(());
            }
        };
        if batch.version > BATCH_VERSION {
            self.report.refused.push(Refusal::new(
                key,
                format!(
                    "batch version {} is newer than {BATCH_VERSION}",
                    batch.version
                ),
            ));
            return Ok(());
        }
        if batch.target != target.as_str() || batch.node != node.as_str() || batch.seq != seq {
            self.report.refused.push(Refusal::new(
                key,
                format!(
                    "batch says target {:?}, node {:?}, seq {}: not where it is stored",
                    batch.target, batch.node, batch.seq
                ),
            ));
            return Ok(());
        }

        let mut jobs = Vec::new();
        for name in &batch.corpus {
            let sha = match Sha1Name::new(name) {
                Ok(s) => s,
                Err(reason) => {
                    self.report
                        .refused
                        .push(Refusal::new(key, format!("corpus entry: {reason}")));
                    continue;
                }
            };
            if known.corpus.contains(&sha) {
                continue;
            }
            if self
                .layout
                .corpus_dir(target.as_str())
                .join(sha.as_str())
                .exists()
            {
                known.add_corpus(sha);
            } else {
                jobs.push(FetchJob::Corpus(sha));
            }
        }
        for entry in &batch.crashes {
            let parsed = entry.name.parse::<CrashName>().and_then(|name| {
                let report = entry
                    .report_sha1
                    .as_deref()
                    .map(Sha1Name::new)
                    .transpose()?;
                Ok((name, report))
            });
            let (name, report_sha) = match parsed {
                Ok(p) => p,
                Err(reason) => {
                    self.report
                        .refused
                        .push(Refusal::new(key, format!("finding entry: {reason}")));
                    continue;
                }
            };
            if known.crashes.get(&name) == Some(&report_sha) {
                continue;
            }
            jobs.push(FetchJob::Crash(name, report_sha));
        }

        let concurrency = self.store.opts().concurrency.max(1);
        let ctx = FetchCtx {
            store: self.store,
            layout: self.layout,
            target,
            node,
        };
        let mut fetches = futures::stream::iter(jobs)
            .map(|job| ctx.fetch(job))
            .buffer_unordered(concurrency);
        while let Some(fetched) = fetches.next().await {
            match fetched? {
                Fetched::Corpus(sha) => {
                    self.report.pulled_corpus += 1;
                    known.add_corpus(sha);
                }
                Fetched::Crash(name, report_sha, pulled) => {
                    self.report.pulled_crashes.extend(pulled);
                    known.add_crash(name, report_sha);
                }
                Fetched::Refused(r) => self.report.refused.push(r),
            }
        }
        Ok(())
    }

    // ---- push ----

    async fn push(&mut self, target: &TargetName, known: &mut Known) -> Result<(), HubError> {
        let mut jobs: Vec<Job> = local::corpus_names(self.layout, target)?
            .into_iter()
            .filter(|sha| !known.corpus.contains(sha))
            .map(Job::Corpus)
            .collect();
        for name in local::crash_names(self.layout, target)? {
            match known.crashes.get(&name) {
                None => jobs.push(Job::Crash(name)),
                Some(pushed_report) => {
                    // A report that appeared or changed since (reproduction adds one).
                    let path = self.layout.finding_report(
                        target.as_str(),
                        name.kind.as_str(),
                        name.sha1.as_str(),
                    );
                    if let Some(bytes) = local::read_optional(&path)?
                        && pushed_report.as_ref() != Some(&Sha1Name::of(&bytes))
                    {
                        jobs.push(Job::Crash(name));
                    }
                }
            }
        }
        let batch_max = self.store.opts().batch_max.max(1);
        let concurrency = self.store.opts().concurrency.max(1);
        let mut jobs = jobs.into_iter().peekable();
        while jobs.peek().is_some() {
            let chunk: Vec<Job> = jobs.by_ref().take(batch_max).collect();
            let ctx = PushCtx {
                store: self.store,
                layout: self.layout,
                target,
            };
            let mut puts = futures::stream::iter(chunk)
                .map(|job| ctx.push(job))
                .buffer_unordered(concurrency);
            let mut done = Vec::new();
            let mut failed = None;
            while let Some(pushed) = puts.next().await {
                match pushed {
                    Ok(Pushed::Skipped) => self.report.skipped_local += 1,
                    Ok(p) => done.push(p),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            drop(puts);
            // What did get through is named now, so a failure later in the chunk does not
            // cost it again (when the hub takes the batch at all).
            if !done.is_empty() {
                self.commit_batch(target, done, known).await?;
            }
            if let Some(e) = failed {
                return Err(e);
            }
        }
        Ok(())
    }

    async fn commit_batch(
        &mut self,
        target: &TargetName,
        done: Vec<Pushed>,
        known: &mut Known,
    ) -> Result<(), HubError> {
        let now = fleet_store::now_ms();
        // Rising across hub resets and lost state dirs alike: the clock starts it high.
        let seq = self
            .state
            .target(target)
            .last_seq
            .map_or(0, |s| s + 1)
            .max(u64::try_from(now).unwrap_or(0));
        let mut batch = Batch {
            version: BATCH_VERSION,
            target: target.to_string(),
            node: self.node.to_string(),
            seq,
            time: fleet_store::rfc3339(now),
            corpus: Vec::new(),
            crashes: Vec::new(),
        };
        for p in &done {
            match p {
                Pushed::Corpus(sha) => batch.corpus.push(sha.to_string()),
                Pushed::Crash(name, report) => batch.crashes.push(BatchCrash {
                    name: name.to_string(),
                    report_sha1: report.as_ref().map(Sha1Name::to_string),
                }),
                Pushed::Skipped => {}
            }
        }
        batch.corpus.sort();
        let bytes = serde_json::to_vec(&batch).expect("batch serializes");
        self.store
            .put(&keys::batch(target, self.node, seq), Bytes::from(bytes))
            .await?;
        for p in done {
            match p {
                Pushed::Corpus(sha) => {
                    self.report.pushed_corpus += 1;
                    known.add_corpus(sha);
                }
                Pushed::Crash(name, report) => {
                    self.report.pushed_crashes += 1;
                    known.add_crash(name, report);
                }
                Pushed::Skipped => {}
            }
        }
        known.flush(self.hub_id)?;
        self.state.target(target).last_seq = Some(seq);
        self.state.save(self.layout)
    }
}

enum FetchJob {
    Corpus(Sha1Name),
    Crash(CrashName, Option<Sha1Name>),
}

/// What a concurrent fetch needs, borrowed so many can run at once.
struct FetchCtx<'a> {
    store: &'a Store,
    layout: &'a Layout,
    target: &'a TargetName,
    node: &'a NodeName,
}

impl FetchCtx<'_> {
    async fn fetch(&self, job: FetchJob) -> Result<Fetched, HubError> {
        match job {
            FetchJob::Corpus(sha) => {
                let key = keys::corpus(self.target, &sha);
                let bytes = match self.fetch_verified(&key, &sha).await? {
                    Verified::Bytes(bytes) => bytes,
                    Verified::Refused(r) => return Ok(Fetched::Refused(r)),
                };
                let dest = self
                    .layout
                    .corpus_dir(self.target.as_str())
                    .join(sha.as_str());
                local::place(self.layout, &dest, &bytes)?;
                Ok(Fetched::Corpus(sha))
            }
            FetchJob::Crash(name, report_sha) => self.fetch_crash(name, report_sha).await,
        }
    }

    async fn fetch_crash(
        &self,
        name: CrashName,
        report_sha: Option<Sha1Name>,
    ) -> Result<Fetched, HubError> {
        let (t, kind, sha) = (self.target.as_str(), name.kind.as_str(), name.sha1.as_str());
        let input = self.layout.finding_input(t, kind, sha);
        let report = self.layout.finding_report(t, kind, sha);
        // The report first: whoever sees the input appear finds its report already there.
        // A node's own report of the same finding is never replaced.
        if let Some(report_sha) = &report_sha
            && !report.exists()
        {
            let key = keys::crash_report(self.target, &name);
            match self.fetch_verified(&key, report_sha).await? {
                Verified::Bytes(bytes) => local::place(self.layout, &report, &bytes)?,
                Verified::Refused(r) => return Ok(Fetched::Refused(r)),
            }
        }
        let mut pulled = None;
        if !input.exists() {
            let key = keys::crash_input(self.target, &name);
            match self.fetch_verified(&key, &name.sha1).await? {
                Verified::Bytes(bytes) => local::place(self.layout, &input, &bytes)?,
                Verified::Refused(r) => return Ok(Fetched::Refused(r)),
            }
            pulled = Some(PulledCrash {
                target: self.target.clone(),
                kind: name.kind,
                sha1: name.sha1.to_string(),
                node: self.node.clone(),
                input,
                report: report.exists().then_some(report),
            });
        }
        Ok(Fetched::Crash(name, report_sha, pulled))
    }

    /// The object's bytes if their SHA-1 is `expected`; a refusal if the hub's object is
    /// missing, oversized or not what its name says; `Err` if the hub could not be read.
    async fn fetch_verified(&self, key: &Path, expected: &Sha1Name) -> Result<Verified, HubError> {
        let max = self.store.opts().max_object_bytes;
        let refuse = |reason: String| Ok(Verified::Refused(Refusal::new(key, reason)));
        match self.store.get(key, max).await? {
            Got::Bytes(bytes) => {
                let actual = Sha1Name::of(&bytes);
                if &actual == expected {
                    Ok(Verified::Bytes(bytes))
                } else {
                    refuse(format!("content has SHA-1 {actual}, expected {expected}"))
                }
            }
            Got::Missing => refuse("named by a batch but missing from the hub".to_owned()),
            Got::TooLarge(n) => refuse(format!("{n} bytes, larger than the {max}-byte limit")),
        }
    }
}

enum Verified {
    Bytes(Bytes),
    Refused(Refusal),
}

struct PushCtx<'a> {
    store: &'a Store,
    layout: &'a Layout,
    target: &'a TargetName,
}

impl PushCtx<'_> {
    async fn push(&self, job: Job) -> Result<Pushed, HubError> {
        match job {
            Job::Corpus(sha) => {
                let path = self
                    .layout
                    .corpus_dir(self.target.as_str())
                    .join(sha.as_str());
                // Gone (a merge replaced the corpus) or not yet whole: next time.
                let Some(bytes) = local::read_optional(&path)? else {
                    return Ok(Pushed::Skipped);
                };
                if Sha1Name::of(&bytes) != sha {
                    return Ok(Pushed::Skipped);
                }
                self.store
                    .put(&keys::corpus(self.target, &sha), Bytes::from(bytes))
                    .await?;
                Ok(Pushed::Corpus(sha))
            }
            Job::Crash(name) => {
                let (t, kind, sha) = (self.target.as_str(), name.kind.as_str(), name.sha1.as_str());
                let Some(input) = local::read_optional(&self.layout.finding_input(t, kind, sha))?
                else {
                    return Ok(Pushed::Skipped);
                };
                if Sha1Name::of(&input) != name.sha1 {
                    return Ok(Pushed::Skipped);
                }
                let report = local::read_optional(&self.layout.finding_report(t, kind, sha))?;
                let report_sha = report.as_deref().map(Sha1Name::of);
                if let Some(report) = report {
                    self.store
                        .put(&keys::crash_report(self.target, &name), Bytes::from(report))
                        .await?;
                }
                self.store
                    .put(&keys::crash_input(self.target, &name), Bytes::from(input))
                    .await?;
                Ok(Pushed::Crash(name, report_sha))
            }
        }
    }
}
