//! The resource guard of a campaign: per-worker memory limits (a cgroup where one can be
//! made, else libFuzzer's limit plus an RSS watch), disk pressure on the state dir
//! (warning, then pause and prune until space returns), and alerts about the machine
//! (other processes' CPU, load, available memory). The dispatcher owns one [`Guard`] and
//! calls it from a few hooks; alerts go to the log, `status`, `/metrics` and the webhook.

pub mod alerts;
pub mod cgroup;
pub mod disk;
pub mod machine;
pub mod memwatch;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use fleet_store::{Db, Layout, now_ms};

pub use alerts::{Alert, Report};
pub use cgroup::Mechanism;
pub use memwatch::{Limits, MemoryOutcome, MemoryWatch};

use crate::events::RunId;

pub use fleet_docs::resources::{RESOURCES_META, ResourcesStatus, TargetMemory, load_status};

/// How often the machine and the disk are sampled.
const CHECK_EVERY: Duration = Duration::from_secs(5);
/// `FUZZFLEET_MEMORY_LIMIT=rss-watch` makes a campaign use the RSS watch even where a
/// cgroup could be made (to compare the mechanisms, or where cgroups misbehave);
/// `=off` leaves libFuzzer's own `-rss_limit_mb` (at the full limit) alone, as before
/// fuzzfleet guarded memory (the baseline of the `memwatch` benchmark).
pub const FORCE_ENV: &str = "FUZZFLEET_MEMORY_LIMIT";
/// A load average above this many times the cores is "far above" them.
const LOAD_FACTOR: f64 = 2.0;

/// Which memory limit a campaign uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryMode {
    /// A cgroup where one can be made, else the RSS watch.
    Auto,
    RssWatch,
    /// libFuzzer's own limit only (no watch, no cgroup).
    Off,
}

/// What the campaign is told to guard, from `[alerts]`.
#[derive(Clone, Debug)]
pub struct ResourceSpec {
    pub cpu_percent: u8,
    pub mem_percent: u8,
    pub disk_percent: u8,
    pub disk_critical_percent: u8,
    /// How long CPU, load and memory conditions must hold (or be gone).
    pub sustain: Duration,
    pub webhook: Option<String>,
    pub digest_after: usize,
    /// How worker memory is limited.
    pub memory: MemoryMode,
}

impl Default for ResourceSpec {
    fn default() -> Self {
        let a = fleet_config::AlertsPlan::default();
        ResourceSpec {
            cpu_percent: a.cpu_percent,
            mem_percent: a.mem_percent,
            disk_percent: a.disk_percent,
            disk_critical_percent: a.disk_critical_percent,
            sustain: a.sustain,
            webhook: None,
            digest_after: a.digest_after as usize,
            memory: MemoryMode::Auto,
        }
    }
}

impl ResourceSpec {
    pub fn from_plan(a: &fleet_config::AlertsPlan) -> Self {
        ResourceSpec {
            cpu_percent: a.cpu_percent,
            mem_percent: a.mem_percent,
            disk_percent: a.disk_percent,
            disk_critical_percent: a.disk_critical_percent,
            sustain: a.sustain,
            webhook: a.webhook.as_ref().map(|u| u.to_string()),
            digest_after: a.digest_after as usize,
            memory: match std::env::var(FORCE_ENV).as_deref() {
                Ok("rss-watch") => MemoryMode::RssWatch,
                Ok("off") => MemoryMode::Off,
                _ => MemoryMode::Auto,
            },
        }
    }
}

/// The campaign's resource guard.
pub struct Guard {
    spec: ResourceSpec,
    layout: Layout,
    mechanism: Mechanism,
    group: Option<cgroup::Group>,
    alerts: alerts::Alerts,
    cpu: alerts::Sustained,
    load: alerts::Sustained,
    mem: alerts::Sustained,
    disk: disk::Level,
    machine: machine::Sampler,
    last_check: Option<Instant>,
    paused: bool,
    /// Pruned during the current pause.
    pruned: bool,
    notifier: Option<crate::notify::Notifier>,
    /// Runs fuzzfleet asked to dump their input for memory: their next `crash-`
    /// artifact is an out-of-memory input.
    dumping: HashMap<RunId, (u64, u64)>,
    memory: BTreeMap<String, TargetMemory>,
    dirty: bool,
    /// Database errors met since the campaign last took them (it says and counts them).
    errors: Vec<String>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("mechanism", &self.mechanism)
            .field("paused", &self.paused)
            .finish_non_exhaustive()
    }
}

impl Guard {
    /// Sets up the memory mechanism and the webhook; returns notes for the log.
    pub fn new(spec: ResourceSpec, layout: Layout) -> (Guard, Vec<String>) {
        let mut notes = Vec::new();
        let group = if spec.memory == MemoryMode::Auto {
            match cgroup::probe() {
                Ok(g) => Some(g),
                Err(e) => {
                    notes.push(format!(
                        "worker memory: {e}; using libFuzzer's -rss_limit_mb and an RSS watch of each worker's process group"
                    ));
                    None
                }
            }
        } else {
            None
        };
        let mechanism = match group.as_ref().map(|g| g.version) {
            Some(cgroup::Version::V2) => Mechanism::CgroupV2,
            Some(cgroup::Version::V1) => Mechanism::CgroupV1,
            None => Mechanism::RssWatch,
        };
        let notifier = spec.webhook.clone().and_then(|url| {
            crate::notify::Notifier::spawn(
                url,
                spec.digest_after,
                Box::new(|d| {
                    if let crate::notify::Delivery::Failed { error, .. } = d {
                        tracing::warn!("resource alert webhook failed: {error}");
                    }
                }),
            )
            .map_err(|e| notes.push(format!("cannot start the alert webhook: {e}")))
            .ok()
        });
        let guard = Guard {
            spec,
            layout,
            mechanism,
            group,
            alerts: alerts::Alerts::default(),
            cpu: alerts::Sustained::default(),
            load: alerts::Sustained::default(),
            mem: alerts::Sustained::default(),
            disk: disk::Level::Ok,
            machine: machine::Sampler::default(),
            last_check: None,
            paused: false,
            pruned: false,
            notifier,
            dumping: HashMap::new(),
            memory: BTreeMap::new(),
            dirty: true,
            errors: Vec::new(),
        };
        (guard, notes)
    }

    /// How worker memory is limited (`None`: only by libFuzzer, `FUZZFLEET_MEMORY_LIMIT=off`).
    pub fn mechanism(&self) -> Option<Mechanism> {
        (self.spec.memory != MemoryMode::Off).then_some(self.mechanism)
    }

    /// Fuzzing is paused for lack of disk space: no worker may start.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// The limits of a worker run of `target` about to start in `slot`: libFuzzer's
    /// `-rss_limit_mb`, and the watch (with its cgroup, when there is one) to start.
    pub fn worker_memory(
        &mut self,
        target: &str,
        slot: usize,
        run: RunId,
        rss_limit_mb: u64,
    ) -> (u64, Option<MemoryWatch>) {
        if self.spec.memory == MemoryMode::Off {
            return (rss_limit_mb, None);
        }
        let limits = Limits::for_hard(rss_limit_mb);
        let cgroup = self.group.as_ref().and_then(|g| {
            g.worker(&format!("w{slot}-r{run}"), limits.hard_mb)
                .map_err(|e| tracing::warn!("no cgroup for worker {slot}: {e}"))
                .ok()
        });
        let m = self
            .memory
            .entry(target.to_string())
            .or_insert_with(|| TargetMemory {
                target: target.to_string(),
                ..TargetMemory::default()
            });
        if m.limit_mb != limits.hard_mb {
            m.limit_mb = limits.hard_mb;
            m.libfuzzer_limit_mb = limits.libfuzzer_mb;
            self.dirty = true;
        }
        (limits.libfuzzer_mb, Some(MemoryWatch { limits, cgroup }))
    }

    /// The watch asked run `run` to dump its input (it neared its limit).
    pub fn memory_limit_reached(&mut self, run: RunId, used_mb: u64, limit_mb: u64) {
        self.dumping.insert(run, (used_mb, limit_mb));
    }

    /// An artifact of `run`: a `crash-` input dumped on fuzzfleet's request is renamed
    /// `oom-` (it is an out-of-memory input) and its report says so.
    pub fn artifact(&mut self, run: RunId, path: PathBuf, report: String) -> (PathBuf, String) {
        let Some(&(used, limit)) = self.dumping.get(&run) else {
            return (path, report);
        };
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            return (path, report);
        };
        let Some(hash) = name.strip_prefix("crash-") else {
            return (path, report);
        };
        let renamed = path.with_file_name(format!("oom-{hash}"));
        if std::fs::rename(&path, &renamed).is_err() {
            return (path, report);
        }
        let header = format!(
            "==fuzzfleet== ERROR: libFuzzer: out-of-memory (used: {used}Mb; exceeds: {limit}Mb): \
             fuzzfleet's memory watch stopped the worker near its limit and libFuzzer dumped the running input"
        );
        (renamed, format!("{header}\n{report}"))
    }

    /// A worker run of `target` ended; its memory outcome is folded in. Returns what to
    /// log when it was stopped at its limit, and whether to tell the user too (only when
    /// no input could be kept: a dumped one is an `oom` finding, announced as such).
    pub fn worker_ended(
        &mut self,
        target: &str,
        run: RunId,
        outcome: Option<&MemoryOutcome>,
    ) -> Option<(String, bool)> {
        let dumped = self.dumping.remove(&run).is_some();
        let o = outcome?;
        let m = self.memory.get_mut(target)?;
        if o.peak_mb > m.peak_mb {
            m.peak_mb = o.peak_mb;
            self.dirty = true;
        }
        if !(dumped || o.killed_at_limit) {
            return None;
        }
        m.oom_stops += 1;
        self.dirty = true;
        Some(if o.killed_at_limit && !dumped {
            (
                format!(
                    "{target}: worker killed at its {} MB memory limit ({}) before an input could be dumped",
                    m.limit_mb, self.mechanism
                ),
                true,
            )
        } else {
            (
                format!(
                    "{target}: worker stopped near its {} MB memory limit (peak {} MB), its input kept as an oom finding; restarted",
                    m.limit_mb, o.peak_mb
                ),
                false,
            )
        })
    }

    /// Samples the disk and the machine (every few seconds; cheap otherwise). `workers`
    /// are the running workers' leader pids. Returns the alerts raised and recovered.
    pub fn check(&mut self, now: Instant, workers: &[i32], db: &Db) -> Vec<Report> {
        if self
            .last_check
            .is_some_and(|t| now.duration_since(t) < CHECK_EVERY)
        {
            return Vec::new();
        }
        self.last_check = Some(now);
        let mut out = Vec::new();
        self.check_disk(&mut out);
        self.check_machine(now, workers, &mut out);
        if !out.is_empty() {
            self.dirty = true;
        }
        for r in &out {
            if let Err(e) = db.log_event(now_ms(), None, "alert", &r.text()) {
                self.errors.push(format!("cannot record an alert: {e}"));
            }
            if let Some(n) = &self.notifier {
                n.alert(format!("fuzzfleet: {}", r.text()));
            }
        }
        self.publish(db);
        out
    }

    fn check_disk(&mut self, out: &mut Vec<Report>) {
        let Ok((used, free)) = disk::usage(self.layout.root()) else {
            return;
        };
        let s = &self.spec;
        let level = disk::level(used, s.disk_percent, s.disk_critical_percent, self.disk);
        let what = format!(
            "state dir filesystem {used:.1}% used, {} MB free ({})",
            free >> 20,
            self.layout.root().display()
        );
        if level >= disk::Level::Warning {
            out.extend(self.alerts.raise(
                "disk",
                "warning",
                format!("{what}; warning at {}%", s.disk_percent),
            ));
        } else {
            out.extend(self.alerts.recover("disk", what.clone()));
        }
        if level == disk::Level::Critical {
            let first = self.alerts.raise(
                "disk-critical",
                "critical",
                format!(
                    "{what}; fuzzing paused at {}% until space returns",
                    s.disk_critical_percent
                ),
            );
            if first.is_some() {
                self.paused = true;
                self.pruned = false;
            }
            out.extend(first);
        } else if self.alerts.is_active("disk-critical") {
            self.paused = false;
            out.extend(
                self.alerts
                    .recover("disk-critical", format!("{what}; fuzzing resumed")),
            );
        }
        self.disk = level;
    }

    /// Whether the pause still waits for its prune.
    pub fn wants_prune(&self) -> bool {
        self.paused && !self.pruned
    }

    /// Prunes what fuzzfleet can recreate; call while paused with every worker stopped.
    /// Its database errors join the ones [`Guard::take_errors`] hands the campaign.
    pub fn prune(&mut self, db: &Db) -> disk::Pruned {
        self.pruned = true;
        let mut p = disk::prune(&self.layout, db, now_ms());
        self.errors.append(&mut p.errors);
        p
    }

    fn check_machine(&mut self, now: Instant, workers: &[i32], out: &mut Vec<Report>) {
        let r = self.machine.sample(workers);
        let hold = self.spec.sustain;
        if let Some(cpu) = r.others_cpu_percent {
            let over = cpu > f64::from(self.spec.cpu_percent);
            match self.cpu.observe(over, now, hold) {
                Some(true) => out.extend(self.alerts.raise(
                    "cpu",
                    "warning",
                    format!(
                        "processes other than the workers use {cpu:.0}% of the CPU (over {}% for {})",
                        self.spec.cpu_percent,
                        humantime::format_duration(hold)
                    ),
                )),
                Some(false) => out.extend(self.alerts.recover(
                    "cpu",
                    format!("other processes use {cpu:.0}% of the CPU"),
                )),
                None => {}
            }
        }
        let far = r.load1 > LOAD_FACTOR * r.cores as f64;
        match self.load.observe(far, now, hold) {
            Some(true) => out.extend(self.alerts.raise(
                "load",
                "warning",
                format!(
                    "load average {:.1} on {} cores (over {LOAD_FACTOR}x the cores for {})",
                    r.load1,
                    r.cores,
                    humantime::format_duration(hold)
                ),
            )),
            Some(false) => out.extend(self.alerts.recover(
                "load",
                format!("load average {:.1} on {} cores", r.load1, r.cores),
            )),
            None => {}
        }
        let over = r.mem_used_percent > f64::from(self.spec.mem_percent);
        match self.mem.observe(over, now, hold) {
            Some(true) => out.extend(self.alerts.raise(
                "memory",
                "warning",
                format!(
                    "{:.0}% of memory in use, {} MB available (over {}% for {})",
                    r.mem_used_percent,
                    r.mem_available_bytes >> 20,
                    self.spec.mem_percent,
                    humantime::format_duration(hold)
                ),
            )),
            Some(false) => out.extend(self.alerts.recover(
                "memory",
                format!(
                    "{:.0}% of memory in use, {} MB available",
                    r.mem_used_percent,
                    r.mem_available_bytes >> 20
                ),
            )),
            None => {}
        }
    }

    pub fn status(&self) -> ResourcesStatus {
        ResourcesStatus {
            memory_limit: match self.mechanism() {
                Some(m) => m.to_string(),
                None => "libfuzzer".into(),
            },
            paused: self.paused,
            alerts: self.alerts.list(),
            memory: self.memory.values().cloned().collect(),
        }
    }

    /// The database errors met since the last call, for the campaign to say and count.
    pub fn take_errors(&mut self) -> Vec<String> {
        std::mem::take(&mut self.errors)
    }

    /// Writes the state for `status` when it changed.
    pub fn publish(&mut self, db: &Db) {
        if !self.dirty {
            return;
        }
        let json = serde_json::to_string(&self.status()).expect("the resources status serializes");
        match db.put_meta(RESOURCES_META, &json, now_ms()) {
            Ok(()) => self.dirty = false,
            Err(e) => self
                .errors
                .push(format!("cannot save the resources status: {e}")),
        }
    }

    /// The campaign ends: the alerts end with it, the cgroups go, the webhook drains.
    pub fn finish(&mut self, db: &Db, wait: Duration) {
        self.paused = false;
        self.alerts = alerts::Alerts::default();
        self.dirty = true;
        self.publish(db);
        // No worker runs now: whatever is still our child was orphaned by one.
        let killed = crate::process::kill_orphans();
        if killed > 0
            && let Err(e) = db.log_event(
                now_ms(),
                None,
                "orphans",
                &format!("killed {killed} processes the workers left behind"),
            )
        {
            self.errors
                .push(format!("cannot record the orphans killed: {e}"));
        }
        if let Some(g) = &self.group {
            g.remove();
        }
        if let Some(n) = self.notifier.take()
            && let Some(e) = n.finish(wait)
        {
            self.errors.push(format!("alert webhook: {e}"));
        }
    }
}

/// For tests that need root or a machine feature: fleet-testkit's one rule (a failure
/// under `FUZZFLEET_CI=1`, else a SKIPPED line).
#[cfg(test)]
pub(crate) fn require_or_skip(why: &str) {
    fleet_testkit::missing(why);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (issue 16.1): a prune's failed sample deletion and compaction were
    /// dropped by `if let Ok`, so a broken samples table went unseen while the disk filled.
    #[test]
    fn a_prune_hands_its_database_errors_to_the_campaign() {
        let dir = fleet_testkit::temp_dir();
        let layout = Layout::new(dir.path());
        let db = Db::open(&layout.db_path()).unwrap();
        // The real failure: another connection drops the table the prune writes.
        rusqlite::Connection::open(layout.db_path())
            .unwrap()
            .execute_batch("DROP TABLE samples")
            .unwrap();
        let spec = ResourceSpec {
            memory: MemoryMode::Off,
            ..ResourceSpec::default()
        };
        let (mut guard, _) = Guard::new(spec, layout);
        let p = guard.prune(&db);
        assert_eq!(p.samples, 0);
        assert!(p.errors.is_empty(), "moved to the guard: {:?}", p.errors);
        let errors = guard.take_errors();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].starts_with("cannot prune old stats samples: ")
                && errors[0].contains("samples"),
            "{errors:?}"
        );
        assert!(
            errors[1].starts_with("cannot compact stats samples: "),
            "{errors:?}"
        );
        assert!(guard.take_errors().is_empty(), "each handed over once");
    }
}
