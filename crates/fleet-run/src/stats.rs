//! Live figures of one target, folded from its workers' status lines: execs summed over
//! every worker run (a restarted worker starts counting from zero again), rates summed
//! over the running ones, coverage and features as the maximum.

use std::collections::HashMap;

use fleet_store::{Sample, TargetRecord};

use crate::events::RunId;
use crate::output::Status;

#[derive(Clone, Copy, Debug, Default)]
struct RunFigures {
    execs: u64,
    exec_per_sec: f64,
    rss_mb: Option<u64>,
}

/// One target's figures while the campaign runs.
#[derive(Debug)]
pub struct TargetLive {
    name: String,
    state: String,
    message: Option<String>,
    runs: HashMap<RunId, RunFigures>,
    finished_execs: u64,
    coverage: Option<u64>,
    features: Option<u64>,
    last_new_coverage_at: Option<i64>,
    pub restarts: u64,
    /// Worker time inside libFuzzer's loop, and worker-slot time assigned to the target:
    /// their ratio is the target's uptime.
    pub fuzz_ms: u64,
    pub slot_ms: u64,
    /// Set when a finding was kept since the last flush.
    pub findings_changed: bool,
    /// Files and bytes in the corpus directory at its last count.
    pub corpus: (u64, u64),
}

impl TargetLive {
    /// Starts from what an earlier run recorded, so totals survive restarts.
    pub fn resume(name: &str, previous: Option<TargetRecord>) -> Self {
        let p = previous.unwrap_or_default();
        Self {
            name: name.to_string(),
            state: "waiting".into(),
            message: None,
            runs: HashMap::new(),
            finished_execs: p.execs.max(0) as u64,
            coverage: p.coverage.map(|c| c as u64),
            features: p.features.map(|f| f as u64),
            last_new_coverage_at: p.last_new_coverage_at,
            restarts: p.restarts.max(0) as u64,
            fuzz_ms: p.fuzz_ms.max(0) as u64,
            slot_ms: p.slot_ms.max(0) as u64,
            findings_changed: false,
            corpus: (p.corpus_files.max(0) as u64, p.corpus_bytes.max(0) as u64),
        }
    }

    pub fn run_started(&mut self, run: RunId) {
        self.runs.insert(run, RunFigures::default());
        self.state = "running".into();
        self.message = None;
    }

    /// Folds a status line of worker run `run` in.
    pub fn observe(&mut self, run: RunId, status: &Status, at_ms: i64) {
        let figures = self.runs.entry(run).or_default();
        figures.execs = figures.execs.max(status.execs);
        figures.exec_per_sec = status.exec_per_sec as f64;
        if status.rss_mb.is_some() {
            figures.rss_mb = status.rss_mb;
        }
        let grew = |old: Option<u64>, new: Option<u64>| match (old, new) {
            (Some(o), Some(n)) => n > o,
            (None, Some(_)) => true,
            _ => false,
        };
        if grew(self.coverage, status.cov) || grew(self.features, status.ft) {
            self.last_new_coverage_at = Some(at_ms);
        }
        self.coverage = self.coverage.max(status.cov);
        self.features = self.features.max(status.ft);
    }

    /// The exact count a worker run printed at exit.
    pub fn observe_final(&mut self, run: RunId, execs: u64) {
        let figures = self.runs.entry(run).or_default();
        figures.execs = figures.execs.max(execs);
    }

    /// A worker run ended: its execs join the total.
    pub fn run_ended(&mut self, run: RunId) {
        if let Some(f) = self.runs.remove(&run) {
            self.finished_execs += f.execs;
        }
        if self.runs.is_empty() && self.state == "running" {
            self.state = "waiting".into();
        }
    }

    pub fn fail(&mut self, message: String) {
        self.state = "failed".into();
        self.message = Some(message);
    }

    /// The campaign stopped: a target that did not fail is now stopped.
    pub fn stop(&mut self) {
        if self.state != "failed" {
            self.state = "stopped".into();
        }
    }

    pub fn execs(&self) -> u64 {
        self.finished_execs + self.runs.values().map(|r| r.execs).sum::<u64>()
    }

    /// The record `status` reads.
    pub fn record(&self, workers: i64, at_ms: i64) -> TargetRecord {
        let (corpus_files, corpus_bytes) = self.corpus;
        TargetRecord {
            name: self.name.clone(),
            state: self.state.clone(),
            message: self.message.clone(),
            workers,
            execs: self.execs() as i64,
            execs_per_sec: self.runs.values().map(|r| r.exec_per_sec).sum(),
            coverage: self.coverage.map(|c| c as i64),
            features: self.features.map(|f| f as i64),
            corpus_files: corpus_files as i64,
            corpus_bytes: corpus_bytes as i64,
            rss_mb: self
                .runs
                .values()
                .filter_map(|r| r.rss_mb)
                .max()
                .map(|r| r as i64),
            last_new_coverage_at: self.last_new_coverage_at,
            fuzz_ms: self.fuzz_ms as i64,
            slot_ms: self.slot_ms as i64,
            restarts: self.restarts as i64,
            updated_at: at_ms,
        }
    }

    /// A raw history sample from a record.
    pub fn sample(record: &TargetRecord, at_ms: i64) -> Sample {
        let span = fleet_store::RAW_SPAN_S;
        Sample {
            target: record.name.clone(),
            ts: at_ms - at_ms.rem_euclid(span * 1000),
            span_s: span,
            workers: record.workers,
            execs: record.execs,
            execs_per_sec: record.execs_per_sec,
            coverage: record.coverage,
            features: record.features,
            corpus_files: Some(record.corpus_files),
            corpus_bytes: Some(record.corpus_bytes),
            rss_mb: record.rss_mb,
        }
    }
}
