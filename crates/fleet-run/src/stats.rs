//! Live figures of one target, folded from its workers' status lines: execs summed over
//! every worker run (a restarted worker starts counting from zero again), coverage and
//! features as the maximum, and the rate as execs counted over wall time (see
//! [`RateWindow`]), so a target that restarts every few seconds, before libFuzzer prints
//! a rate, still shows one.

use std::collections::{HashMap, HashSet, VecDeque};

use fleet_engine::libfuzzer::StatusEvent;
use fleet_store::{Sample, TargetRates, TargetRecord};

use crate::events::RunId;
use crate::output::Status;

#[derive(Clone, Copy, Debug, Default)]
struct RunFigures {
    execs: u64,
    exec_per_sec: f64,
    rss_mb: Option<u64>,
    /// When `execs` was printed.
    status_at_ms: Option<i64>,
    /// The features this run's process counted last.
    features: Option<u64>,
    /// The features it counted first: its replay of the corpus it started from.
    first_features: Option<u64>,
}

impl RunFigures {
    /// Execs of this run by `at_ms`: the last count printed, plus the run's own rate for
    /// the time since (libFuzzer prints counts only at powers of two and on new
    /// coverage, so a fast worker's count can stand still for minutes).
    fn execs_by(&self, at_ms: i64) -> f64 {
        let since_s = self
            .status_at_ms
            .map_or(0.0, |t| (at_ms - t).max(0) as f64 / 1000.0);
        self.execs as f64 + self.exec_per_sec * since_s
    }
}

/// How far back the live rate looks.
pub const RATE_WINDOW_MS: i64 = 30_000;
/// A window shorter than this gives no rate of its own yet (libFuzzer's printed rates
/// stand in).
pub const RATE_MIN_SPAN_MS: i64 = 4_000;

/// Samples of a target's execs (counted and estimated) while it has workers: the rate is
/// their growth over wall time, across any number of worker restarts.
#[derive(Debug, Default)]
pub struct RateWindow {
    samples: VecDeque<(i64, f64)>,
}

impl RateWindow {
    /// Adds a sample; samples older than the window are dropped.
    pub fn push(&mut self, at_ms: i64, execs: f64) {
        // A count can only grow; a smaller estimate (a run's exact final count below
        // its estimate) holds at the last value rather than run backwards.
        let execs = self.samples.back().map_or(execs, |&(_, e)| e.max(execs));
        self.samples.push_back((at_ms, execs));
        while self
            .samples
            .front()
            .is_some_and(|&(t, _)| at_ms - t > RATE_WINDOW_MS)
        {
            self.samples.pop_front();
        }
    }

    /// The target has no workers: the next rate starts from scratch.
    pub fn clear(&mut self) {
        self.samples.clear();
    }

    /// Execs per second over the window, once it spans [`RATE_MIN_SPAN_MS`].
    pub fn rate(&self) -> Option<f64> {
        let (&(t0, e0), &(t1, e1)) = (self.samples.front()?, self.samples.back()?);
        let span = t1 - t0;
        (span >= RATE_MIN_SPAN_MS).then(|| (e1 - e0).max(0.0) * 1000.0 / span as f64)
    }
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
    /// The features the target's first run of this campaign counted once it had read
    /// the corpus (its `INITED` line): where its growth in this campaign starts.
    loaded_features: Option<u64>,
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
    /// Crash reports seen with no artifact after them (a worker cut off while writing).
    pub lost_findings: u64,
    window: RateWindow,
    /// The rate now (0 without workers), the last one it had while running, and what
    /// this campaign run counted: execs, and wall time with workers (the stretches that
    /// ended, and since when the one going on runs).
    rate_now: f64,
    last_rate: f64,
    /// The average an earlier campaign run recorded: still the target's average while
    /// this run has not fuzzed it (a target that waits a whole run keeps its figure).
    resumed_average: f64,
    run_started_execs: u64,
    run_wall_ms: i64,
    busy_since: Option<i64>,
    /// The runs started and not ended.
    busy: HashSet<RunId>,
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
            loaded_features: None,
            last_new_coverage_at: p.last_new_coverage_at,
            restarts: p.restarts.max(0) as u64,
            fuzz_ms: p.fuzz_ms.max(0) as u64,
            slot_ms: p.slot_ms.max(0) as u64,
            findings_changed: false,
            corpus: (p.corpus_files.max(0) as u64, p.corpus_bytes.max(0) as u64),
            lost_findings: 0,
            window: RateWindow::default(),
            rate_now: 0.0,
            last_rate: 0.0,
            resumed_average: 0.0,
            run_started_execs: p.execs.max(0) as u64,
            run_wall_ms: 0,
            busy_since: None,
            busy: HashSet::new(),
        }
    }

    /// Carries over what an earlier run recorded of the rates and lost reports.
    pub fn resume_rates(&mut self, previous: Option<TargetRates>) {
        if let Some(r) = previous {
            self.last_rate = r.last_execs_per_sec;
            self.resumed_average = r.avg_execs_per_sec;
            self.lost_findings = r.lost_findings.max(0) as u64;
        }
    }

    /// Takes a rate sample (every flush): `workers` running now, at `at_ms`.
    pub fn sample_rate(&mut self, workers: i64, at_ms: i64) {
        if workers == 0 {
            self.window.clear();
            self.rate_now = 0.0;
            return;
        }
        let estimate =
            self.finished_execs as f64 + self.runs.values().map(|r| r.execs_by(at_ms)).sum::<f64>();
        self.window.push(at_ms, estimate);
        self.rate_now = self
            .window
            .rate()
            .unwrap_or_else(|| self.runs.values().map(|r| r.exec_per_sec).sum());
        self.last_rate = self.rate_now;
    }

    /// The average of the last campaign run that fuzzed the target: its execs over the
    /// wall time it had workers, from the first run's start to the last one's end, at
    /// `at_ms` (until this run fuzzes it, the one an earlier run kept). Timed by the runs
    /// themselves, not by samples: a run shorter than the flush has its average too.
    pub fn average_rate(&self, at_ms: i64) -> f64 {
        let wall = self.run_wall_ms + self.busy_since.map_or(0, |s| (at_ms - s).max(0));
        if wall == 0 {
            return self.resumed_average;
        }
        average(self.execs().saturating_sub(self.run_started_execs), wall)
    }

    /// The rates and lost reports `status` reads beside the record.
    pub fn rates(&self, at_ms: i64) -> TargetRates {
        TargetRates {
            name: self.name.clone(),
            last_execs_per_sec: self.last_rate,
            avg_execs_per_sec: self.average_rate(at_ms),
            lost_findings: self.lost_findings as i64,
            updated_at: at_ms,
        }
    }

    /// Worker run `run` started at `at_ms`.
    pub fn run_started(&mut self, run: RunId, at_ms: i64) {
        if self.busy.is_empty() {
            self.busy_since = Some(at_ms);
        }
        self.busy.insert(run);
        self.runs.insert(run, RunFigures::default());
        self.state = "running".into();
        self.message = None;
    }

    /// Folds a status line of worker run `run` in.
    pub fn observe(&mut self, run: RunId, status: &Status, at_ms: i64) {
        let figures = self.runs.entry(run).or_default();
        figures.execs = figures.execs.max(status.execs);
        figures.exec_per_sec = status.exec_per_sec as f64;
        figures.features = figures.features.max(status.ft);
        if figures.first_features.is_none() {
            figures.first_features = status.ft;
        }
        if status.event == StatusEvent::Inited && self.loaded_features.is_none() {
            self.loaded_features = status.ft;
        }
        figures.status_at_ms = Some(at_ms);
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

    /// The features a replay counted over the target's whole corpus (after an AFL++ or a
    /// value-profile run, whose own counts are not in this unit): what those runs added
    /// shows in the target's figure without waiting for the next plain run.
    pub fn observe_corpus(&mut self, features: u64, at_ms: i64) {
        if self.features.is_none_or(|f| features > f) {
            self.features = Some(features);
            self.last_new_coverage_at = Some(at_ms);
        }
    }

    /// What worker run `run` found beyond the corpus it started from, as its own process
    /// counts features: its last count less its first (the replay of the corpus at its
    /// start). A value-profile run's count includes comparison features, a unit of its
    /// own: the campaign does not pass it here, and pays such a run by a replay.
    pub fn run_gain(&self, run: RunId) -> Option<u64> {
        let f = self.runs.get(&run)?;
        Some(f.features?.saturating_sub(f.first_features?))
    }

    /// Another engine's figures for run `run` (AFL++'s `fuzzer_stats`): its executions
    /// and rate, which join the target's like a libFuzzer worker's.
    pub fn observe_engine(&mut self, run: RunId, execs: u64, exec_per_sec: f64, at_ms: i64) {
        let figures = self.runs.entry(run).or_default();
        figures.execs = figures.execs.max(execs);
        figures.exec_per_sec = exec_per_sec;
        figures.status_at_ms = Some(at_ms);
    }

    /// The exact count a worker run printed at exit.
    pub fn observe_final(&mut self, run: RunId, execs: u64) {
        let figures = self.runs.entry(run).or_default();
        figures.execs = figures.execs.max(execs);
    }

    /// A worker run ended: its execs join the total.
    /// Worker run `run` ended at `at_ms`.
    pub fn run_ended(&mut self, run: RunId, at_ms: i64) {
        if let Some(f) = self.runs.remove(&run) {
            self.finished_execs += f.execs;
        }
        if self.busy.remove(&run)
            && self.busy.is_empty()
            && let Some(since) = self.busy_since.take()
        {
            self.run_wall_ms += (at_ms - since).max(0);
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

    pub fn features(&self) -> Option<u64> {
        self.features
    }

    pub fn loaded_features(&self) -> Option<u64> {
        self.loaded_features
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
            execs_per_sec: self.rate_now,
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

/// Execs per second over `wall_ms` (0 when no time has passed).
pub fn average(execs: u64, wall_ms: i64) -> f64 {
    if wall_ms <= 0 {
        0.0
    } else {
        execs as f64 * 1000.0 / wall_ms as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(execs: u64, rate: u64) -> Status {
        Status {
            event: StatusEvent::Pulse,
            execs,
            cov: Some(10),
            ft: Some(20),
            corpus_files: None,
            corpus_bytes: None,
            focus: None,
            lim: None,
            units: None,
            exec_per_sec: rate,
            rss_mb: None,
            unit: None,
        }
    }

    #[test]
    fn a_runs_gain_is_its_own_count_beyond_its_first() {
        let ft = |n| Status {
            ft: Some(n),
            ..status(1, 1)
        };
        let mut t = TargetLive::resume("t", None);
        t.run_started(1, 0);
        t.observe(1, &ft(300), 0);
        t.observe(1, &ft(350), 1_000);
        assert_eq!(t.run_gain(1), Some(50));
        // A second run that starts from less (a corpus subset): its gain is over its own
        // first count, not zero against the target's larger figure.
        t.run_started(2, 2_000);
        t.observe(2, &ft(200), 2_000);
        t.observe(2, &ft(220), 3_000);
        assert_eq!(t.run_gain(2), Some(20));
        assert_eq!(t.features(), Some(350));
        // A replay of the whole corpus raises the figure, and only ever raises it.
        t.observe_corpus(340, 3_500);
        assert_eq!(t.features(), Some(350));
        t.observe_corpus(400, 4_000);
        assert_eq!(t.features(), Some(400));
        // A run that printed no count has no gain to pay.
        t.run_started(3, 4_000);
        assert_eq!(t.run_gain(3), None);
    }

    #[test]
    fn what_the_first_run_loaded_is_the_targets_start() {
        let line = |event, n| Status {
            event,
            ft: Some(n),
            ..status(1, 1)
        };
        let mut t = TargetLive::resume("t", None);
        assert_eq!(t.loaded_features(), None);
        // A pulse while the corpus loads is not the loaded count; INITED is.
        t.run_started(1, 0);
        t.observe(1, &line(StatusEvent::Pulse, 120), 0);
        t.observe(1, &line(StatusEvent::Inited, 300), 500);
        t.observe(1, &line(StatusEvent::New, 320), 1_000);
        assert_eq!(t.loaded_features(), Some(300));
        // A later run's INITED, from a corpus that grew, does not move it.
        t.run_started(2, 2_000);
        t.observe(2, &line(StatusEvent::Inited, 320), 2_000);
        assert_eq!((t.loaded_features(), t.features()), (Some(300), Some(320)));
    }

    #[test]
    fn a_window_needs_a_few_seconds_and_never_runs_backwards() {
        let mut w = RateWindow::default();
        w.push(0, 0.0);
        w.push(2_000, 2_000.0);
        assert_eq!(w.rate(), None);
        w.push(4_000, 4_000.0);
        assert_eq!(w.rate(), Some(1000.0));
        w.push(6_000, 3_000.0);
        assert!((w.rate().unwrap() - 4000.0 / 6.0).abs() < 1e-6);
        // Everything older than the window is gone: no rate until it spans again.
        w.push(40_000, 10_000.0);
        assert_eq!(w.rate(), None);
        w.push(45_000, 15_000.0);
        assert_eq!(w.rate(), Some(1000.0));
        w.clear();
        assert_eq!(w.rate(), None);
    }

    #[test]
    fn a_target_that_restarts_before_printing_a_rate_still_has_one() {
        // Each worker run crashes after 3 s and 3000 execs, printing no rate at all:
        // only INITED (rate 0) and the final count.
        let mut t = TargetLive::resume("t", None);
        let mut at = 0;
        for run in 1..=10u64 {
            t.run_started(run, at);
            t.observe(run, &status(2, 0), at);
            t.sample_rate(1, at);
            at += 2_000;
            t.sample_rate(1, at);
            at += 1_000;
            t.observe_final(run, 3_000);
            t.run_ended(run, at);
        }
        t.run_started(11, at);
        t.sample_rate(1, at);
        let rate = t.record(1, at).execs_per_sec;
        assert!((900.0..=1100.0).contains(&rate), "{rate}");
        assert!((900.0..=1100.0).contains(&t.average_rate(at)));
    }

    #[test]
    fn after_a_stop_the_rate_is_zero_and_the_last_and_average_remain() {
        let mut t = TargetLive::resume("t", None);
        t.run_started(1, 0);
        for i in 0..10 {
            t.observe(1, &status(i * 5_000, 2_500), i as i64 * 2_000);
            t.sample_rate(1, i as i64 * 2_000);
        }
        assert!((t.record(1, 18_000).execs_per_sec - 2_500.0).abs() < 1.0);
        t.run_ended(1, 18_000);
        t.stop();
        t.sample_rate(0, 20_000);
        let rates = t.rates(20_000);
        assert_eq!(t.record(0, 20_000).execs_per_sec, 0.0);
        assert!((rates.last_execs_per_sec - 2_500.0).abs() < 1.0);
        assert!((rates.avg_execs_per_sec - 2_500.0).abs() < 1.0);
    }

    /// A target that waited through a whole run (its turn never came) keeps the last
    /// rate and the average of the run that fuzzed it: it read "last 1.0M/s, avg 0/s".
    #[test]
    fn a_run_that_never_fuzzed_a_target_keeps_its_earlier_average() {
        let earlier = TargetRates {
            name: "t".into(),
            last_execs_per_sec: 1_000_000.0,
            avg_execs_per_sec: 986_000.0,
            lost_findings: 0,
            updated_at: 0,
        };
        let mut t = TargetLive::resume("t", None);
        t.resume_rates(Some(earlier));
        for at in (0..=60_000).step_by(2_000) {
            t.sample_rate(0, at);
        }
        let rates = t.rates(60_000);
        assert_eq!(rates.last_execs_per_sec, 1_000_000.0);
        assert_eq!(rates.avg_execs_per_sec, 986_000.0);
        // Once this run fuzzes it, the average is this run's.
        t.run_started(1, 60_000);
        for i in 0..10 {
            t.observe(1, &status(i * 5_000, 2_500), 60_000 + i as i64 * 2_000);
            t.sample_rate(1, 60_000 + i as i64 * 2_000);
        }
        let avg = t.rates(78_000).avg_execs_per_sec;
        assert!((avg - 2_500.0).abs() < 1.0, "{avg}");
    }

    /// A run shorter than one flush, with no rate sample at all, has its average: it
    /// read "last 47k/s · avg 0/s" after a 5-second campaign.
    #[test]
    fn a_run_shorter_than_a_flush_has_an_average() {
        let mut t = TargetLive::resume("t", None);
        t.run_started(1, 1_000);
        t.observe_final(1, 6_000);
        t.run_ended(1, 2_500);
        // The idle seconds after it do not lower it.
        assert!((t.average_rate(10_000) - 4_000.0).abs() < 1.0);
        assert!((t.average_rate(60_000) - 4_000.0).abs() < 1.0);
        // Two runs at once are one stretch of time with workers.
        t.run_started(2, 100_000);
        t.run_started(3, 100_500);
        t.observe_final(2, 4_000);
        t.observe_final(3, 4_000);
        t.run_ended(2, 101_000);
        t.run_ended(3, 102_000);
        // 14,000 execs over 1.5 s and 2 s.
        assert!((t.average_rate(200_000) - 4_000.0).abs() < 1.0);
    }

    #[test]
    fn a_fast_worker_between_powers_of_two_keeps_its_rate() {
        // libFuzzer printed #1048576 at 10 s; the next line comes at #2097152.
        let mut t = TargetLive::resume("t", None);
        t.run_started(1, 0);
        t.observe(1, &status(1 << 20, 100_000), 0);
        for at in (0..=20_000).step_by(2_000) {
            t.sample_rate(1, at);
        }
        let rate = t.record(1, 20_000).execs_per_sec;
        assert!((rate - 100_000.0).abs() < 1.0, "{rate}");
    }
}
