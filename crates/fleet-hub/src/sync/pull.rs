//! Pulling: reading other nodes' new batches and fetching what they name, checked.

use bytes::Bytes;
use fleet_config::{NodeName, TargetName};
use fleet_store::Layout;
use futures::StreamExt;
use object_store::path::Path;

use super::{BATCH_VERSION, Batch, MAX_BATCH_BYTES, PulledCrash, TargetSync};
use crate::HubError;
use crate::keys::{self, CrashName, Refusal, Sha1Name};
use crate::local::{self, Known};
use crate::store::{Got, Store};

/// What fetching one named object came to.
enum Fetched {
    Corpus(Sha1Name),
    Crash {
        name: CrashName,
        /// SHA-1 of the local report after the fetch, if there is one.
        local_report: Option<Sha1Name>,
        pulled: Option<PulledCrash>,
        refused: Option<Refusal>,
    },
    Refused(Refusal),
}

impl TargetSync<'_> {
    pub(super) async fn pull(
        &mut self,
        target: &TargetName,
        known: &mut Known,
    ) -> Result<(), HubError> {
        let listed = self.store.list_dirs(&keys::log_dir(target)).await?;
        self.report.refused.extend(listed.refused);
        for dir in listed.keys {
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
        self.report.refused.extend(listed.refused);
        let mut batches = Vec::new();
        for key in listed.keys {
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
            refused => {
                let reason = refused.refusal(MAX_BATCH_BYTES).unwrap_or_default();
                self.report.refused.push(Refusal::new(key, reason));
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
                Fetched::Crash {
                    name,
                    local_report,
                    pulled,
                    refused,
                } => {
                    self.report.pulled_crashes.extend(pulled);
                    self.report.refused.extend(refused);
                    known.add_crash(name, local_report);
                }
                Fetched::Refused(r) => self.report.refused.push(r),
            }
        }
        Ok(())
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
        // The input is fetched and checked before anything is written, so a bad input
        // leaves no orphan report behind.
        let input_bytes = if input.exists() {
            None
        } else {
            let key = keys::crash_input(self.target, &name);
            match self.fetch_verified(&key, &name.sha1).await? {
                Verified::Bytes(bytes) => Some(bytes),
                Verified::Refused(r) => return Ok(Fetched::Refused(r)),
            }
        };
        // Reports are not content-addressed: a later reproduction replaces one, so the
        // batch's report_sha1 only says a report exists. A node's own report is kept.
        // The report lands before the input: whoever sees the input finds it there.
        let mut refused = None;
        if report_sha.is_some() && !report.exists() {
            let key = keys::crash_report(self.target, &name);
            let max = self.store.opts().max_object_bytes;
            match self.store.get(&key, max).await? {
                Got::Bytes(bytes) => local::place(self.layout, &report, &bytes)?,
                Got::Missing => {
                    refused = Some(Refusal::new(
                        &key,
                        "named by a batch but missing from the hub",
                    ));
                }
                other => {
                    refused = Some(Refusal::new(&key, other.refusal(max).unwrap_or_default()));
                }
            }
        }
        let mut pulled = None;
        if let Some(bytes) = input_bytes {
            local::place(self.layout, &input, &bytes)?;
            pulled = Some(PulledCrash {
                target: self.target.clone(),
                kind: name.kind,
                sha1: name.sha1.to_string(),
                node: self.node.clone(),
                input,
                report: report.exists().then(|| report.clone()),
            });
        }
        // What is local now is what there is nothing to push for.
        let local_report = local::read_optional(&report)?.map(|b| Sha1Name::of(&b));
        Ok(Fetched::Crash {
            name,
            local_report,
            pulled,
            refused,
        })
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
            other => refuse(other.refusal(max).unwrap_or_default()),
        }
    }
}

enum Verified {
    Bytes(Bytes),
    Refused(Refusal),
}
