//! Pushing: local entries the hub does not hold yet, objects first, then their batch.

use bytes::Bytes;
use fleet_config::TargetName;
use fleet_store::Layout;
use futures::StreamExt;

use super::{BATCH_VERSION, Batch, BatchCrash, TargetSync};
use crate::HubError;
use crate::keys::{self, CrashName, Refusal, Sha1Name};
use crate::local::{self, Known};
use crate::store::Store;

/// What pushing one local entry came to.
enum Pushed {
    Corpus(Sha1Name),
    Crash(CrashName, Option<Sha1Name>),
    Skipped,
    /// The hub would not take it (a directory hub with a link on the way): reported,
    /// and offered again next sync.
    Refused(Refusal),
}

enum Job {
    Corpus(Sha1Name),
    Crash(CrashName),
}
impl TargetSync<'_> {
    pub(super) async fn push(
        &mut self,
        target: &TargetName,
        known: &mut Known,
    ) -> Result<(), HubError> {
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
                    Ok(Pushed::Refused(r)) => self.report.refused.push(r),
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
                match self.commit_batch(target, done, known).await {
                    Ok(()) => {}
                    // The node's log cannot be written (a link planted on its way): what
                    // was put stays unnamed, and is offered again next sync.
                    Err(HubError::Refused(r)) => {
                        self.report.refused.push(r);
                        return failed.map_or(Ok(()), Err);
                    }
                    Err(e) => return Err(e),
                }
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
                Pushed::Skipped | Pushed::Refused(_) => {}
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
                Pushed::Skipped | Pushed::Refused(_) => {}
            }
        }
        known.flush(self.hub_id)?;
        self.state.target(target).last_seq = Some(seq);
        self.state.save(self.layout)
    }
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
                let key = keys::corpus(self.target, &sha);
                match self.store.put(&key, Bytes::from(bytes)).await {
                    Ok(()) => Ok(Pushed::Corpus(sha)),
                    Err(e) => refused(e),
                }
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
                    let key = keys::crash_report(self.target, &name);
                    if let Err(e) = self.store.put(&key, Bytes::from(report)).await {
                        return refused(e);
                    }
                }
                let key = keys::crash_input(self.target, &name);
                match self.store.put(&key, Bytes::from(input)).await {
                    Ok(()) => Ok(Pushed::Crash(name, report_sha)),
                    Err(e) => refused(e),
                }
            }
        }
    }
}

/// A put the hub refused is one entry skipped; any other failure stops the push.
fn refused(e: HubError) -> Result<Pushed, HubError> {
    match e {
        HubError::Refused(r) => Ok(Pushed::Refused(r)),
        e => Err(e),
    }
}
