//! The crash pipeline on a state dir: each finding is reproduced against its target's
//! binary, given a signature and routed to a bucket (one bug); buckets get their input
//! minimized, are re-tested when a target's binary changes (fixed, regressed), and
//! follow the manual merge/split rules. The campaign runs a [`Pipeline`] on a thread of
//! its own ([`TriageThread`]); the CLI runs one for `crashes repro/minimize/merge/split`
//! and `regress`.
//!
//! Everything that decides a bucket is `fleet-crash`'s, and pure: the same crashes give
//! the same buckets in any order. This module only feeds it and keeps the results.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use fleet_crash::{
    Buckets, Crash, CrashKind, InputKey, Kept, MinimizeOptions, MinimizeOutcome, Report, Repro,
    Rules, SignatureConfig, TargetRunner, parse_report,
};
use fleet_engine::libfuzzer::ExtraFlag;
use fleet_engine::libfuzzer::Limits;
use fleet_store::{BucketPut, Db, FindingRecord, Layout, StoreError, Triage, now_ms, sha1_hex};

/// The `meta` key holding the merge/split rules (versioned JSON).
pub const RULES_META: &str = "crash-rules";
/// `findings.repro` of a finding filed under a known, always-reproducing bug from the
/// fuzzer's own report, without running it again.
pub const REPRO_KNOWN: &str = "known";
/// What libFuzzer's `-minimize_crash=1` prints when the input it was given does not
/// crash (FuzzerDriver.cpp, `MinimizeCrashInput`).
const LIBFUZZER_DID_NOT_CRASH: &str = "did not crash";
/// `findings.repro` of a recoverable sanitizer report: seen while the target went on, not
/// something to run again.
pub const REPRO_RECOVERED: &str = "recovered";
/// `findings.repro` of a finding filed from the fuzzer's report, not reproduced yet.
pub const REPRO_PENDING: &str = "pending";

#[derive(Debug, thiserror::Error)]
pub enum TriageError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Run(#[from] fleet_crash::RunError),
    #[error("{0}")]
    Rule(#[from] fleet_crash::RuleError),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// The id names no bucket (a usage error).
    #[error("no bucket {0} (see `fuzzfleet crashes list`)")]
    NoBucket(String),
    /// The bucket's target cannot be run here (a usage error).
    #[error("{0}")]
    NotRunnable(String),
    #[error("{0}")]
    Other(String),
}

type Result<T> = std::result::Result<T, TriageError>;

/// How one target's binary is run for triage.
#[derive(Clone, Debug)]
pub struct TriageTarget {
    pub binary: PathBuf,
    pub limits: Limits,
    pub extra_args: Vec<ExtraFlag>,
    pub env: Vec<(String, String)>,
}

impl From<&crate::CampaignTarget> for TriageTarget {
    /// A campaign target as triage runs it: its binary, limits, flags and environment.
    fn from(t: &crate::CampaignTarget) -> Self {
        TriageTarget {
            binary: t.binary.clone(),
            limits: Limits {
                rss_limit_mb: t.rss_limit_mb,
                malloc_limit_mb: None,
                timeout_s: t.timeout_s,
            },
            extra_args: t.extra_args.clone(),
            env: t.env.clone(),
        }
    }
}

/// The pipeline's settings (`[crashes]`).
#[derive(Clone, Debug)]
pub struct TriageConfig {
    pub keep_inputs: usize,
    pub repro_runs: u32,
    pub minimize: MinimizeOptions,
    /// Niceness of reproduction and minimization runs (`None`: inherit). A campaign
    /// uses [`BACKGROUND_NICE`]; a command the user waits for runs at normal priority.
    pub nice: Option<i32>,
    /// The severity of recoverable sanitizer reports (`[crashes] recoverable_severity`).
    pub recoverable_severity: fleet_crash::Severity,
}

/// The niceness of a campaign's triage runs: with every core fuzzing, a nice-10 process
/// gets about a tenth of a core (CFS weights 110 : 1024), the background share a campaign
/// allows itself; nice 19 (1.4 %) starved reproduction for minutes on a busy node.
pub const BACKGROUND_NICE: i32 = 10;

impl Default for TriageConfig {
    fn default() -> Self {
        TriageConfig {
            keep_inputs: fleet_crash::DEFAULT_KEEP_INPUTS,
            repro_runs: fleet_crash::DEFAULT_RUNS,
            minimize: MinimizeOptions {
                budget: Duration::from_secs(60),
                ..MinimizeOptions::default()
            },
            nice: None,
            recoverable_severity: fleet_crash::recoverable_severity(None),
        }
    }
}

/// Something the pipeline did that its user hears about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TriageEvent {
    /// The first crash of a new bug.
    NewBucket {
        id: String,
        target: String,
        title: String,
        severity: String,
        repro: String,
    },
    /// A finding was filed under an existing bucket.
    Filed {
        id: String,
        target: String,
        finding: i64,
        repro: String,
    },
    /// A bucket's input was minimized (`to` bytes from `from`), or every smaller input
    /// crashed differently (`to` is `None`: the input is kept as the minimal one).
    Minimized {
        id: String,
        target: String,
        from: u64,
        to: Option<u64>,
    },
    /// A bucket's input did not crash when minimization ran it: not minimized.
    NotMinimized { id: String, target: String },
    /// A bucket no longer reproduces with the target's new build.
    Fixed {
        id: String,
        target: String,
        title: String,
        build: String,
    },
    /// A fixed bucket crashes again.
    Regressed {
        id: String,
        target: String,
        title: String,
        build: String,
    },
    /// A stopping campaign's triage is done: findings filed and new bugs reproduced
    /// since it began, and reproductions `left` for the next run.
    Drained {
        filed: usize,
        reproduced: usize,
        left: usize,
    },
    /// Something went wrong with one finding or bucket; the pipeline goes on.
    Error { message: String },
}

impl TriageEvent {
    /// The webhook text for events that are news (new and regressed bugs).
    pub fn alert_text(&self) -> Option<String> {
        match self {
            TriageEvent::NewBucket {
                id,
                target,
                title,
                severity,
                repro,
            } => Some(format!(
                "New bug in {target} [{severity}, repro {repro}]: {title} (bucket {id})"
            )),
            TriageEvent::Regressed {
                id,
                target,
                title,
                build,
            } => Some(format!(
                "Regressed in {target} (build {}): {title} (bucket {id})",
                short(build)
            )),
            _ => None,
        }
    }
}

/// The slow part of triaging one finding, queued by the campaign's triage thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// A new bug's first finding, filed from its report: run it to learn its repro.
    Reproduce(i64),
    /// A finding with no usable report: run it to get one, then file it.
    Describe(i64),
}

impl Work {
    pub fn finding(self) -> i64 {
        match self {
            Work::Reproduce(id) | Work::Describe(id) => id,
        }
    }
}

fn short(build: &str) -> &str {
    &build[..build.len().min(12)]
}

/// Content hashes of binaries, recomputed only when a file's size or mtime changes.
#[derive(Default)]
struct BuildIds {
    cache: HashMap<PathBuf, (u64, SystemTime, String)>,
}

impl BuildIds {
    fn of(&mut self, path: &Path) -> Option<String> {
        let meta = fs::metadata(path).ok()?;
        let key = (meta.len(), meta.modified().ok()?);
        if let Some((len, mtime, id)) = self.cache.get(path)
            && (*len, *mtime) == key
        {
            return Some(id.clone());
        }
        let id = sha1_hex(&fs::read(path).ok()?);
        self.cache
            .insert(path.to_path_buf(), (key.0, key.1, id.clone()));
        Some(id)
    }
}

/// The pipeline over one state dir.
pub struct Pipeline {
    layout: Layout,
    db: Db,
    targets: BTreeMap<String, TriageTarget>,
    config: TriageConfig,
    rules: Rules,
    /// `updated_at` of the rules this pipeline holds (another process may change them).
    rules_at: i64,
    buckets: Buckets,
    builds: BuildIds,
    signature: SignatureConfig,
}

impl Pipeline {
    /// Opens the pipeline: loads the rules and rebuilds the buckets from every triaged
    /// finding (the stored rows are rewritten, so they always match the rules).
    pub fn open(
        layout: Layout,
        targets: BTreeMap<String, TriageTarget>,
        config: TriageConfig,
    ) -> Result<Pipeline> {
        let db = Db::open(&layout.db_path())?;
        let mut p = Pipeline {
            layout,
            db,
            targets,
            buckets: Buckets::new(config.keep_inputs),
            config,
            rules: Rules::new(),
            rules_at: -1,
            builds: BuildIds::default(),
            signature: SignatureConfig::default(),
        };
        p.reload_rules()?;
        Ok(p)
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The target's binary's build id, if the target is known and its binary readable.
    pub fn build_id(&mut self, target: &str) -> Option<String> {
        let binary = self.targets.get(target)?.binary.clone();
        self.builds.of(&binary)
    }

    /// Re-reads the rules if another process changed them, rebuilding the buckets.
    /// Returns whether they changed.
    pub fn reload_rules_if_changed(&mut self) -> Result<bool> {
        let at = self.db.meta(RULES_META)?.map_or(0, |(_, at)| at);
        if at == self.rules_at {
            return Ok(false);
        }
        self.reload_rules()?;
        Ok(true)
    }

    fn reload_rules(&mut self) -> Result<()> {
        let (rules, at) = match self.db.meta(RULES_META)? {
            Some((json, at)) => (
                serde_json::from_str(&json).map_err(|e| {
                    TriageError::Other(format!("the stored merge/split rules do not parse: {e}"))
                })?,
                at,
            ),
            None => (Rules::new(), 0),
        };
        self.rules = rules;
        self.rules_at = at;
        self.rebuild()
    }

    /// Rebuilds every bucket from the stored crashes under the current rules and rewrites
    /// the bucket rows and each finding's bucket.
    fn rebuild(&mut self) -> Result<()> {
        let stored = self.db.triaged_crashes()?;
        let mut crashes = Vec::with_capacity(stored.len());
        for (id, json) in stored {
            match serde_json::from_str::<Crash>(&json) {
                Ok(c) => crashes.push((id, c)),
                Err(e) => {
                    return Err(TriageError::Other(format!(
                        "finding {id}'s stored crash does not parse: {e}"
                    )));
                }
            }
        }
        self.buckets = Buckets::rebuild(
            self.config.keep_inputs,
            &self.rules,
            crashes.iter().map(|(_, c)| c),
        );
        let rules = &self.rules;
        let buckets = &self.buckets;
        self.db.batch(|db| {
            for (id, crash) in &crashes {
                db.set_finding_bucket(*id, rules.route(crash).as_str())?;
            }
            let mut keep = Vec::new();
            for b in buckets.iter() {
                put_bucket(db, b)?;
                keep.push(b.id.to_string());
            }
            db.retain_buckets(&keep)?;
            Ok(())
        })?;
        Ok(())
    }

    fn save_rules(&mut self) -> Result<()> {
        let json = serde_json::to_string(&self.rules).expect("rules serialize");
        // Strictly rising, so a reader comparing times always sees the change.
        let at = now_ms().max(self.rules_at + 1);
        self.db.put_meta(RULES_META, &json, at)?;
        self.rules_at = at;
        self.rebuild()
    }

    /// `crashes merge FROM INTO`: FROM's crashes go to INTO from now on.
    pub fn merge(&mut self, from: &str, into: &str) -> Result<String> {
        let from = self.existing(from)?;
        let into = self.existing(into)?;
        self.rules.merge(from, into.clone())?;
        self.save_rules()?;
        Ok(into.to_string())
    }

    /// `crashes split ID`: undoes a merge of ID (or of the buckets merged into ID), else
    /// splits ID's crashes by panic or crash line. Returns the buckets ID's crashes are in
    /// now.
    pub fn split(&mut self, id: &str) -> Result<Vec<String>> {
        // A bucket merged away has no crashes of its own to show, but can be split back out.
        let bucket = match id.parse::<fleet_crash::BucketId>() {
            Ok(b) if self.rules.merges().contains_key(&b) => b,
            _ => self.existing(id)?,
        };
        let members: Vec<_> = self
            .buckets
            .get(&bucket)
            .map(|b| b.members.iter().cloned().collect())
            .unwrap_or_default();
        // Buckets merged into this one (directly or through a chain) come apart first.
        let merged_in: Vec<fleet_crash::BucketId> = self
            .rules
            .merges()
            .keys()
            .filter(|from| **from != bucket && self.rules.resolve(from) == bucket)
            .cloned()
            .collect();
        if self.rules.merges().contains_key(&bucket) {
            self.rules.unmerge(&bucket)?;
        } else if !merged_in.is_empty() {
            for from in &merged_in {
                self.rules.unmerge(from)?;
            }
        } else {
            self.rules
                .split(bucket.clone(), fleet_crash::SplitBy::Line)?;
        }
        self.save_rules()?;
        let mut now: Vec<String> = self
            .buckets
            .iter()
            .filter(|b| {
                b.id == bucket
                    || merged_in.contains(&b.id)
                    || b.members.iter().any(|m| members.contains(m))
            })
            .map(|b| b.id.to_string())
            .collect();
        now.sort();
        now.dedup();
        Ok(now)
    }

    fn existing(&self, id: &str) -> Result<fleet_crash::BucketId> {
        let parsed: fleet_crash::BucketId = id
            .parse()
            .map_err(|_| TriageError::NoBucket(id.to_owned()))?;
        if self.buckets.get(&parsed).is_none() {
            return Err(TriageError::NoBucket(id.to_owned()));
        }
        Ok(parsed)
    }

    fn runner(&self, target: &str) -> Option<TargetRunner> {
        let t = self.targets.get(target)?;
        let mut runner = TargetRunner::new(&t.binary, t.limits);
        runner.extra_args = t.extra_args.clone();
        runner.env = t
            .env
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect();
        runner.run_limits.nice = self.config.nice;
        let scratch = self.layout.root().join("tmp").join("triage");
        if fs::create_dir_all(&scratch).is_ok() {
            runner.scratch_dir = Some(scratch);
        }
        Some(runner)
    }

    /// Triages every finding not triaged yet, oldest first, then reproduces those filed
    /// but not yet reproduced (a stop came between the two).
    pub fn triage_pending(&mut self, on_event: &mut dyn FnMut(TriageEvent)) -> Result<usize> {
        let pending = self.db.pending_findings()?;
        let n = pending.len();
        for f in pending {
            if let Some(work) = self.file_record(&f, on_event)? {
                self.work(work, on_event)?;
            }
        }
        for f in self.db.unreproduced_findings()? {
            self.reproduce_filed(&f)?;
        }
        Ok(n)
    }

    /// Triages finding `id` at once, reproduction included (no-op when it is already
    /// triaged or unknown).
    pub fn triage(&mut self, id: i64, on_event: &mut dyn FnMut(TriageEvent)) -> Result<()> {
        if let Some(work) = self.file_finding(id, on_event)? {
            self.work(work, on_event)?;
        }
        Ok(())
    }

    /// Files finding `id` from the fuzzer's own report, running nothing: a copy of a
    /// known bug is done; a new bug is filed (news within seconds) and its reproduction
    /// is returned as work to do; a finding without a usable report is returned as work
    /// too (it is run to get one) and stays pending until then.
    pub fn file_finding(
        &mut self,
        id: i64,
        on_event: &mut dyn FnMut(TriageEvent),
    ) -> Result<Option<Work>> {
        match self.db.finding(id)? {
            Some(f) if f.bucket.is_none() && f.kind != "slow" => self.file_record(&f, on_event),
            _ => Ok(None),
        }
    }

    fn file_record(
        &mut self,
        f: &FindingRecord,
        on_event: &mut dyn FnMut(TriageEvent),
    ) -> Result<Option<Work>> {
        if f.kind == fleet_crash::RECOVERABLE_KIND {
            self.file_recovered(f, on_event)?;
            return Ok(None);
        }
        // The recorded report, else one that arrived after a sweep took the input in.
        let Some(report) = f
            .report_path
            .as_deref()
            .and_then(|p| fs::read_to_string(p).ok())
            .or_else(|| {
                fs::read_to_string(self.layout.finding_report(&f.target, &f.kind, &f.sha1)).ok()
            })
            .as_deref()
            .and_then(parse_report)
        else {
            return Ok(Some(Work::Describe(f.id)));
        };
        let Ok(bytes) = fs::read(&f.input_path) else {
            on_event(TriageEvent::Error {
                message: format!("finding {} has no input at {}", f.id, f.input_path),
            });
            return Ok(None);
        };
        let crash = Crash::new(&f.target, InputKey::of(&bytes), &report, &self.signature);
        let known = self.buckets.get(&self.rules.route(&crash)).is_some();
        let build = self.build_id(&f.target);
        if known {
            // The 10 000th copy of a bug costs a database write, whatever its repro.
            self.file(f, crash, REPRO_KNOWN, build, on_event)?;
            return Ok(None);
        }
        self.file(f, crash, REPRO_PENDING, build, on_event)?;
        Ok(Some(Work::Reproduce(f.id)))
    }

    /// Files a recoverable sanitizer report the target survived: from its report alone
    /// (its "input" is the report; there is nothing to run), at the configured severity,
    /// with repro `recovered`; it is never reproduced, minimized or re-tested.
    fn file_recovered(
        &mut self,
        f: &FindingRecord,
        on_event: &mut dyn FnMut(TriageEvent),
    ) -> Result<()> {
        let Ok(text) = fs::read_to_string(&f.input_path) else {
            on_event(TriageEvent::Error {
                message: format!("finding {} has no report at {}", f.id, f.input_path),
            });
            return Ok(());
        };
        let report = parse_report(&text).unwrap_or_else(|| fallback_report(&f.kind));
        let mut crash = Crash::new(
            &f.target,
            InputKey::of(f.sha1.as_bytes()),
            &report,
            &self.signature,
        );
        crash.severity = self.config.recoverable_severity;
        let build = self.build_id(&f.target);
        self.file(f, crash, REPRO_RECOVERED, build, on_event)
    }

    /// Does the slow part of triaging a finding: runs its input.
    pub fn work(&mut self, work: Work, on_event: &mut dyn FnMut(TriageEvent)) -> Result<()> {
        let Some(f) = self.db.finding(work.finding())? else {
            return Ok(());
        };
        match work {
            Work::Reproduce(_) => self.reproduce_filed(&f),
            Work::Describe(_) if f.bucket.is_none() => self.describe(&f, on_event),
            Work::Describe(_) => Ok(()),
        }
    }

    /// Files a finding whose report was not captured: its input is run to get one.
    fn describe(&mut self, f: &FindingRecord, on_event: &mut dyn FnMut(TriageEvent)) -> Result<()> {
        let repro = self.run_for_report(f.id)?;
        self.file_described(f.id, repro.as_deref(), on_event)
    }

    /// The slow half of describing a finding with no usable report: runs its input and
    /// keeps the output as its report. Returns the repro, or `None` when the target
    /// cannot run here (a finding pulled from another node's target).
    pub fn run_for_report(&mut self, id: i64) -> Result<Option<String>> {
        let Some(f) = self.db.finding(id)? else {
            return Ok(None);
        };
        let input = PathBuf::from(&f.input_path);
        let Some(runner) = self.runner(&f.target).filter(|_| input.is_file()) else {
            return Ok(None);
        };
        let r = runner.reproduce(&input, self.config.repro_runs, None)?;
        self.keep_output(&f, r.output.as_deref());
        Ok(Some(r.repro.as_str().to_owned()))
    }

    /// The fast half: files the finding from the report its run left (or, with none,
    /// under its kind's frameless bucket) with the repro that run found.
    pub fn file_described(
        &mut self,
        id: i64,
        repro: Option<&str>,
        on_event: &mut dyn FnMut(TriageEvent),
    ) -> Result<()> {
        let Some(f) = self.db.finding(id)?.filter(|f| f.bucket.is_none()) else {
            return Ok(());
        };
        let Ok(bytes) = fs::read(&f.input_path) else {
            on_event(TriageEvent::Error {
                message: format!("finding {} has no input at {}", f.id, f.input_path),
            });
            return Ok(());
        };
        let report = fs::read_to_string(self.layout.finding_report(&f.target, &f.kind, &f.sha1))
            .ok()
            .or_else(|| {
                f.report_path
                    .as_deref()
                    .and_then(|p| fs::read_to_string(p).ok())
            })
            .as_deref()
            .and_then(parse_report)
            .unwrap_or_else(|| fallback_report(&f.kind));
        let build = self.build_id(&f.target);
        let crash = Crash::new(&f.target, InputKey::of(&bytes), &report, &self.signature);
        self.file(&f, crash, repro.unwrap_or(REPRO_PENDING), build, on_event)
    }

    /// Rebuilds the buckets from the database (another pipeline filed since this one
    /// loaded them).
    pub fn refresh(&mut self) -> Result<()> {
        self.reload_rules()
    }

    /// Whether `id` names a bucket this pipeline holds.
    pub fn knows(&self, id: &str) -> bool {
        self.existing(id).is_ok()
    }

    /// Files a finding without a report under its kind's frameless bucket, running
    /// nothing (its target's reproductions are backed up); it is reproduced later.
    pub fn file_unreported(
        &mut self,
        id: i64,
        on_event: &mut dyn FnMut(TriageEvent),
    ) -> Result<()> {
        let Some(f) = self.db.finding(id)?.filter(|f| f.bucket.is_none()) else {
            return Ok(());
        };
        let Ok(bytes) = fs::read(&f.input_path) else {
            return Ok(());
        };
        let crash = Crash::new(
            &f.target,
            InputKey::of(&bytes),
            &fallback_report(&f.kind),
            &self.signature,
        );
        let build = self.build_id(&f.target);
        self.file(&f, crash, REPRO_PENDING, build, on_event)
    }

    /// Reproduces a finding already filed from the fuzzer's report: records how often it
    /// replays and the full symbolized report. Its bucket stays the one the crash had
    /// when it was found (a crash that does not replay is still that bug).
    pub fn reproduce_filed(&mut self, f: &FindingRecord) -> Result<()> {
        if f.bucket.is_none() {
            return Ok(());
        }
        let input = PathBuf::from(&f.input_path);
        // A target this machine cannot run (an operator's machine collecting the fleet's
        // findings): not tried here, so still pending.
        let Some(runner) = self.runner(&f.target).filter(|_| input.is_file()) else {
            return Ok(());
        };
        let r = runner.reproduce(&input, self.config.repro_runs, None)?;
        self.keep_output(f, r.output.as_deref());
        self.db.set_repro(f.id, r.repro.as_str())?;
        Ok(())
    }

    /// Writes a reproduction's output as the finding's report, followed by what the
    /// fuzzer printed when it found the input.
    fn keep_output(&self, f: &FindingRecord, output: Option<&str>) {
        let Some(output) = output else {
            return;
        };
        let path = self.layout.finding_report(&f.target, &f.kind, &f.sha1);
        let old = fs::read_to_string(&path).unwrap_or_default();
        if fleet_store::write_atomic(&path, with_first_report(output, &old).as_bytes()).is_ok() {
            // A finding kept without a report has one now.
            let _ = self.db.set_report_path(&f.target, &f.kind, &f.sha1, &path);
        }
    }

    /// Files one crash: stores it, adds it to its bucket, drops an input the bucket
    /// does not keep, and reports what is news.
    fn file(
        &mut self,
        f: &FindingRecord,
        crash: Crash,
        repro: &str,
        build: Option<String>,
        on_event: &mut dyn FnMut(TriageEvent),
    ) -> Result<()> {
        // Another process may have changed the rules since this pipeline loaded them.
        self.reload_rules_if_changed()?;
        let added = self.buckets.add(&self.rules, &crash);
        let bucket = self
            .buckets
            .get(&added.bucket)
            .expect("a bucket exists after add")
            .clone();
        let json = serde_json::to_string(&crash).expect("crash serializes");
        self.db.batch(|db| {
            db.set_triage(
                f.id,
                &Triage {
                    repro,
                    crash: &json,
                    bucket: added.bucket.as_str(),
                    build_id: build.as_deref(),
                },
            )?;
            put_bucket(db, &bucket)
        })?;
        // Inputs the bucket does not keep are only counted: a shallow bug found a
        // million times cannot fill the disk.
        let drop_input = |sha1: &str| {
            if let Some(other) = self.db.finding_by_sha1(&f.target, sha1)? {
                let _ = fs::remove_file(&other.input_path);
                self.db.set_dropped(&f.target, sha1)?;
            }
            Ok::<_, TriageError>(())
        };
        match &added.kept {
            Kept::No => drop_input(&f.sha1)?,
            Kept::Yes {
                evicted: Some(evicted),
            } => drop_input(&evicted.sha1)?,
            _ => {}
        }
        let id = added.bucket.to_string();
        let record = self.db.bucket(&id)?;
        if added.new_bucket {
            on_event(TriageEvent::NewBucket {
                id: id.clone(),
                target: f.target.clone(),
                title: bucket.title.clone(),
                severity: bucket.severity.to_string(),
                repro: repro.to_owned(),
            });
            self.db.set_bucket_notified(&id, now_ms())?;
            if let Some(b) = &build {
                self.db.set_bucket_tested(&id, b)?;
            }
        } else {
            on_event(TriageEvent::Filed {
                id: id.clone(),
                target: f.target.clone(),
                finding: f.id,
                repro: repro.to_owned(),
            });
            // A new crash of a fixed bug: it is back.
            if let Some(r) = &record
                && r.state == "fixed"
                && repro != Repro::Never.as_str()
            {
                let build = build.clone().unwrap_or_default();
                self.db
                    .set_bucket_state(&id, "regressed", Some(&build), now_ms())?;
                on_event(TriageEvent::Regressed {
                    id: id.clone(),
                    target: f.target.clone(),
                    title: bucket.title.clone(),
                    build,
                });
            }
        }
        Ok(())
    }

    /// Buckets whose representative is not minimized yet, for the background queue.
    pub fn unminimized(&self) -> Result<Vec<String>> {
        Ok(self
            .db
            .buckets()?
            .into_iter()
            .filter(|b| b.minimized_of.as_deref() != Some(b.representative.as_str()))
            // A recovered report has no input to minimize.
            .filter(|b| b.repro != REPRO_RECOVERED)
            .filter(|b| self.targets.contains_key(&b.target))
            .map(|b| b.id)
            .collect())
    }

    /// Minimizes bucket `id`'s representative input (time-boxed, low priority); the
    /// result must reproduce the bucket's signature. Both inputs are kept.
    pub fn minimize(&mut self, id: &str, on_event: &mut dyn FnMut(TriageEvent)) -> Result<()> {
        let Some(record) = self.db.bucket(id)? else {
            return Err(TriageError::NoBucket(id.to_owned()));
        };
        not_recovered(&record)?;
        let bucket_id = self.existing(id)?;
        let signature = self
            .buckets
            .get(&bucket_id)
            .expect("existing")
            .signature
            .clone();
        let Some(finding) = self
            .db
            .finding_by_sha1(&record.target, &record.representative)?
        else {
            return Err(TriageError::Other(format!(
                "bucket {id}'s input {} is not recorded",
                record.representative
            )));
        };
        let Some(runner) = self.runner(&record.target) else {
            return Err(TriageError::NotRunnable(format!(
                "target {} is not in the config or not built here (run `fuzzfleet build {}`)",
                record.target, record.target
            )));
        };
        let out = self.layout.bucket_minimized(&record.target, id);
        fs::create_dir_all(self.layout.minimized_dir(&record.target)).map_err(|source| {
            TriageError::Io {
                what: "cannot create",
                path: self.layout.minimized_dir(&record.target),
                source,
            }
        })?;
        let input = PathBuf::from(&finding.input_path);
        let m = runner.minimize(&input, &out, &signature, &self.config.minimize)?;
        let to = match &m.outcome {
            // The campaign is stopping: the bucket stays unminimized for another time.
            MinimizeOutcome::Cancelled => return Ok(()),
            MinimizeOutcome::Minimized { path, len, .. } => {
                self.db.set_bucket_minimized(
                    id,
                    &path.to_string_lossy(),
                    &record.representative,
                )?;
                Some(*len)
            }
            // libFuzzer ran the input and it did not crash: nothing was minimized, and
            // the bucket says so rather than "minimized" (the path stays empty, so it is
            // not tried again until a new representative comes).
            MinimizeOutcome::NotSmaller if m.output.contains(LIBFUZZER_DID_NOT_CRASH) => {
                self.db
                    .set_bucket_minimized(id, "", &record.representative)?;
                on_event(TriageEvent::NotMinimized {
                    id: id.to_owned(),
                    target: record.target.clone(),
                });
                return Ok(());
            }
            // Nothing smaller: the input is its own minimized form.
            MinimizeOutcome::NotSmaller => {
                self.db
                    .set_bucket_minimized(id, &finding.input_path, &record.representative)?;
                Some(m.original_len)
            }
            // Every smaller input libFuzzer found crashes differently (another bug): the
            // input itself is the smallest known one with this signature.
            MinimizeOutcome::Discarded { .. } => {
                self.db
                    .set_bucket_minimized(id, &finding.input_path, &record.representative)?;
                None
            }
        };
        on_event(TriageEvent::Minimized {
            id: id.to_owned(),
            target: record.target.clone(),
            from: m.original_len,
            to,
        });
        Ok(())
    }

    /// Re-runs every bucket of `target` not yet tested against the target's current
    /// build: an open bucket that no longer reproduces is fixed in that build; a fixed one
    /// that crashes again has regressed.
    pub fn retest(&mut self, target: &str, on_event: &mut dyn FnMut(TriageEvent)) -> Result<()> {
        let Some(build) = self.build_id(target) else {
            return Ok(());
        };
        let Some(runner) = self.runner(target) else {
            return Ok(());
        };
        let buckets: Vec<_> = self
            .db
            .buckets()?
            .into_iter()
            .filter(|b| b.target == target && b.tested_build.as_deref() != Some(build.as_str()))
            .filter(|b| b.repro != REPRO_RECOVERED)
            .collect();
        for record in buckets {
            let Ok(id) = record.id.parse::<fleet_crash::BucketId>() else {
                continue;
            };
            let Some(bucket) = self.buckets.get(&id) else {
                continue;
            };
            let signature = bucket.signature.clone();
            let input = match self
                .db
                .finding_by_sha1(target, &record.representative)?
                .filter(|f| !f.dropped)
            {
                Some(f) => PathBuf::from(f.input_path),
                None => continue,
            };
            let r = runner.reproduce(&input, self.config.repro_runs, Some(&signature))?;
            let crashes = r.repro != Repro::Never;
            match (record.state.as_str(), crashes) {
                ("fixed", true) => {
                    self.db
                        .set_bucket_state(&record.id, "regressed", Some(&build), now_ms())?;
                    on_event(TriageEvent::Regressed {
                        id: record.id.clone(),
                        target: target.to_owned(),
                        title: record.title.clone(),
                        build: build.clone(),
                    });
                }
                ("open" | "regressed", false) => {
                    self.db
                        .set_bucket_state(&record.id, "fixed", Some(&build), now_ms())?;
                    on_event(TriageEvent::Fixed {
                        id: record.id.clone(),
                        target: target.to_owned(),
                        title: record.title.clone(),
                        build: build.clone(),
                    });
                }
                _ => {}
            }
            self.db.set_bucket_tested(&record.id, &build)?;
        }
        Ok(())
    }

    /// Runs bucket `id`'s input `runs` times against the target's current build (the
    /// minimized input when there is one, else the representative), expecting the
    /// bucket's signature. Returns the input run and what happened.
    pub fn repro(&mut self, id: &str, runs: u32) -> Result<(PathBuf, fleet_crash::Reproduction)> {
        let bucket_id = self.existing(id)?;
        let bucket = self.buckets.get(&bucket_id).expect("existing").clone();
        let Some(record) = self.db.bucket(id)? else {
            return Err(TriageError::NoBucket(id.to_owned()));
        };
        not_recovered(&record)?;
        let Some(runner) = self.runner(&record.target) else {
            return Err(TriageError::NotRunnable(format!(
                "target {} is not in the config or not built here (run `fuzzfleet build {}`)",
                record.target, record.target
            )));
        };
        let representative = self
            .db
            .finding_by_sha1(&record.target, &record.representative)?
            .filter(|f| !f.dropped)
            .map(|f| PathBuf::from(f.input_path));
        let input = record
            .minimized_path
            .as_deref()
            .filter(|p| !p.is_empty() && Path::new(p).is_file())
            .map(PathBuf::from)
            .or(representative)
            .ok_or_else(|| TriageError::Other(format!("bucket {id}'s input is not on disk")))?;
        let r = runner.reproduce(&input, runs, Some(&bucket.signature))?;
        Ok((input, r))
    }

    /// Overrides `[crashes] minimize_budget` (for `crashes minimize --budget`).
    pub fn set_minimize_budget(&mut self, budget: Duration) {
        self.config.minimize.budget = budget;
        self.config.minimize.step_time = self.config.minimize.step_time.min(budget);
    }

    /// The buckets as the crash library holds them (for SARIF export).
    pub fn crash_buckets(&self) -> Vec<&fleet_crash::Bucket> {
        self.buckets.iter().collect()
    }

    /// The target names the pipeline can run.
    pub fn target_names(&self) -> Vec<String> {
        self.targets.keys().cloned().collect()
    }
}

/// A recovered sanitizer report has no input: nothing to run (a usage error to ask).
fn not_recovered(record: &fleet_store::BucketRecord) -> Result<()> {
    if record.repro == REPRO_RECOVERED {
        return Err(TriageError::NotRunnable(format!(
            "bucket {} is a report the target recovered from ({}): it has no input to run; its report is in `fuzzfleet crashes show {}`",
            record.id, record.kind, record.id
        )));
    }
    Ok(())
}

fn put_bucket(db: &Db, b: &fleet_crash::Bucket) -> std::result::Result<(), StoreError> {
    let data = serde_json::to_string(b).expect("bucket serializes");
    db.put_bucket(&BucketPut {
        id: b.id.as_str(),
        target: &b.target,
        kind: &b.kind.to_string(),
        signature: &b.signature.to_string(),
        title: &b.title,
        severity: b.severity.as_str(),
        representative: &b.representative().sha1,
        data: &data,
    })
}

/// What separates a reproduction's output from the fuzzer's own report in a finding's
/// report file.
pub const FIRST_REPORT_MARK: &str = "\n--- as the fuzzer first reported it ---\n";

/// A reproduction's `output` followed by the mark and the fuzzer's first report, taken
/// from `old` (the report file so far): all of it, or, when an earlier reproduction
/// already wrote the file, its part from the mark on (empty when the fuzzer reported
/// nothing). A later reproduction never loses the first report, nor passes an earlier
/// reproduction's output off as it.
pub fn with_first_report(output: &str, old: &str) -> String {
    match old.find(FIRST_REPORT_MARK) {
        Some(at) => format!("{output}{}", &old[at..]),
        None => format!("{output}{FIRST_REPORT_MARK}{old}"),
    }
}

/// A report for a finding nothing could describe (it did not replay and the fuzzer's
/// output had no report): its kind from libFuzzer's artifact name, no frames, so such
/// findings of one target and kind share one bucket.
fn fallback_report(kind: &str) -> Report {
    let kind = match kind {
        "timeout" => CrashKind::Timeout,
        "oom" => CrashKind::OutOfMemory,
        "leak" => CrashKind::Leak,
        _ => CrashKind::DeadlySignal,
    };
    Report {
        kind,
        tool: "fuzzfleet".into(),
        description: "no crash report was captured".into(),
        frames: Vec::new(),
        panic: None,
        summary: None,
    }
}

pub use crate::triage_thread::{TriageThread, WORK_PER_TARGET, WorkQueue};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reproduction_keeps_the_fuzzers_first_report_however_often_it_runs() {
        let first = with_first_report("repro 1", "fuzzer said");
        assert_eq!(first, format!("repro 1{FIRST_REPORT_MARK}fuzzer said"));
        let second = with_first_report("repro 2", &first);
        assert_eq!(second, format!("repro 2{FIRST_REPORT_MARK}fuzzer said"));
        // The fuzzer reported nothing: a second reproduction does not take the first
        // one's output for the fuzzer's.
        let none = with_first_report("repro 1", "");
        assert_eq!(none, format!("repro 1{FIRST_REPORT_MARK}"));
        assert_eq!(
            with_first_report("repro 2", &none),
            format!("repro 2{FIRST_REPORT_MARK}")
        );
    }
}
