//! The campaign dispatcher: one loop that owns every piece of campaign state (worker
//! slots, tier positions, live stats) and reacts to one event queue (worker messages,
//! signals) and its own deadlines (tier budgets, stop grace, stats flushes).
//!
//! Its decisions are made by a pure state machine, [`core::Core`]; this module is the
//! executor that does the I/O they call for and feeds the outcomes back.

mod aflpp_runs;
mod builds;
pub mod core;
mod replay;
mod strategy_files;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use fleet_store::{Db, Layout, StoreError, now_ms};
use nix::sys::signal::Signal;

use self::core::{
    Action, Core, CoreSpec, Exit, Gain, Input, Measure, PortfolioSpec, ROTATION_ROW, SHARES_ROW,
    Saved, SharesSpec, TICK, bandit_row,
};
use crate::events::{Event, RunId, WorkerExit, WorkerMsg};
use crate::findings::{self, Kept};
use crate::minimize::{self, MinimizeOutcome};
use crate::output::{self, ExtraFlag, LibFuzzerOptions};
use crate::portfolio::bandit::{self, Arm, Bandit, Why};
use crate::portfolio::share::{self, ShareState};
use crate::schedule::{TierSpec, TierState};
use crate::stats::TargetLive;
use crate::worker::{self, Worker, WorkerSpec};
use crate::{corpus, process, resources};
use fleet_engine::libfuzzer::strategy::{RecommendedDict, Strategy};

/// How often stats, samples and the schedule reach the database (a sample row per 10 s
/// is kept; flushes within the same 10 s replace it).
const FLUSH_EVERY: Duration = Duration::from_secs(2);
/// How often corpus directories are counted (a scan of every entry).
const CORPUS_SCAN_EVERY: Duration = Duration::from_secs(10);
/// How often old samples are folded.
const COMPACT_EVERY: Duration = Duration::from_secs(3600);
/// How long a stopping campaign waits for the triage thread's current step.
const TRIAGE_FINAL_WAIT: Duration = Duration::from_secs(2);
/// After the triage deadline, how long a reproduction still running may take to notice.
const TRIAGE_DRAIN_SLACK: Duration = Duration::from_secs(2);
/// How long a stopping campaign waits for queued webhook messages.
const WEBHOOK_FINAL_WAIT: Duration = Duration::from_secs(5);
/// How long a stopping campaign waits for a corpus minimization to end its step.
const MINIMIZER_WAIT: Duration = Duration::from_secs(10);
/// How long a stopping campaign waits for its AFL++ runs' replays, cancelled (their
/// binaries get SIGTERM, then SIGKILL after a grace within this).
const REPLAY_WAIT: Duration = Duration::from_secs(10);
/// How long a stopping campaign waits for its last hub sync.
const HUB_FINAL_SYNC_WAIT: Duration = Duration::from_secs(4);
/// How often a stop held back for a failure report is looked at.
const DEFERRED_POLL: Duration = Duration::from_millis(50);

/// One target as the campaign runs it.
#[derive(Clone, Debug)]
pub struct CampaignTarget {
    pub name: String,
    pub binary: PathBuf,
    pub seeds: Option<PathBuf>,
    pub dict: Option<PathBuf>,
    pub rss_limit_mb: u64,
    pub timeout_s: u64,
    pub max_len: Option<usize>,
    /// Validated extra libFuzzer flags from the config.
    pub extra_args: Vec<ExtraFlag>,
    /// Extra environment (e.g. `ASAN_OPTIONS` for ASan-built Rust targets).
    pub env: Vec<(String, String)>,
    /// Its AFL++ build, when it has one: a second engine the portfolio can run.
    pub afl: Option<AflTarget>,
}

/// A target's AFL++ build: `afl-fuzz`, the instrumented binary (AFL++'s driver linked
/// in place of libFuzzer) and its CmpLog build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AflTarget {
    pub afl_fuzz: PathBuf,
    pub binary: PathBuf,
    pub cmplog: Option<PathBuf>,
}

/// Everything a campaign needs, validated.
#[derive(Clone, Debug)]
pub struct CampaignSpec {
    pub layout: Layout,
    pub targets: BTreeMap<String, CampaignTarget>,
    pub tiers: Vec<TierSpec>,
    /// Worker slots: never more workers than this at once. When the tiers need more
    /// together, they take turns of `tier_slice`.
    pub slots: usize,
    pub tier_slice: Duration,
    /// Stop after this long (`--for`).
    pub run_for: Option<Duration>,
    /// Run one cycle of every tier, then stop (`--once`).
    pub once: bool,
    /// Time between SIGTERM and SIGKILL when stopping a worker.
    pub grace: Duration,
    pub max_log_bytes: u64,
    /// Automatic corpus minimization; `None`: off.
    pub minimize: Option<AutoMinimize>,
    /// Sync with a hub during the campaign; `None`: no hub.
    pub hub: Option<HubSpec>,
    /// Memory limits, disk pressure and machine alerts.
    pub resources: resources::ResourceSpec,
    /// Reproduce, bucket and minimize findings as they come, and notify; `None`: off
    /// (findings are kept and listed, triaged by the next campaign or `crashes` command).
    pub triage: Option<TriageSpec>,
    /// SIGHUP stops the campaign with [`StopReason::Reload`] (the agent reloads its
    /// config); otherwise it stops it like SIGTERM (a closed terminal).
    pub reload_on_hup: bool,
    /// How often a one-line [`Notice::Progress`] summary is given; `None`: never.
    pub progress_every: Option<Duration>,
    /// Each worker run's libFuzzer strategies chosen by a bandit per target
    /// (`--strategies portfolio`, the default); `false`: every run is plain libFuzzer.
    pub portfolio: bool,
    /// How core time is given to targets (`schedule`).
    pub schedule: fleet_config::Schedule,
}

/// The longest slice of the coverage-following schedule; a smaller budget (a smoke run's
/// `--budget 10s`) makes it that short.
const SHARE_SLICE: Duration = Duration::from_secs(300);

/// What the core schedules under `schedule`: the tiers as configured (`fixed`), one tier
/// of every target in equal slices (`equal`), or no tiers and the shares of every
/// target, a tier's budget weighing its targets (`coverage`).
fn schedule_of(spec: &CampaignSpec) -> (Vec<TierSpec>, Option<SharesSpec>) {
    use fleet_config::Schedule;
    let shortest = spec
        .tiers
        .iter()
        .map(|t| t.budget)
        .min()
        .unwrap_or(SHARE_SLICE);
    let mut names: Vec<String> = Vec::new();
    for t in &spec.tiers {
        for name in &t.targets {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    match spec.schedule {
        Schedule::Fixed => (spec.tiers.clone(), None),
        Schedule::Equal => {
            let slice = spec.tier_slice.min(shortest);
            let all = TierSpec {
                name: "(equal)".into(),
                targets: names,
                // Never spent: the slices go round for as long as the run lasts.
                budget: Duration::from_secs(100 * 365 * 86_400),
                slice: Some(slice),
                workers: spec.slots,
            };
            (vec![all], None)
        }
        Schedule::Coverage => {
            let weight = |name: &str| {
                spec.tiers
                    .iter()
                    .filter(|t| t.targets.iter().any(|n| n == name))
                    .map(|t| t.budget.as_secs_f64() / shortest.as_secs_f64().max(1.0))
                    .fold(0.0, f64::max)
                    .max(f64::MIN_POSITIVE)
            };
            let targets = names
                .iter()
                .map(|name| share::TargetSpec {
                    name: name.clone(),
                    weight: weight(name),
                    cap: None,
                    // Set once the saved schedule is read ([`builds::identify`]).
                    binary_hash: String::new(),
                    binary_stamp: String::new(),
                })
                .collect();
            let params = share::Params {
                slice: SHARE_SLICE.min(shortest),
                ..share::Params::default()
            };
            (Vec::new(), Some(SharesSpec { targets, params }))
        }
    }
}

pub use fleet_docs::report::{ERRORS_META, PORTFOLIO_META};

/// The crash pipeline of a campaign and where its news goes.
#[derive(Clone, Debug)]
pub struct TriageSpec {
    pub config: crate::triage::TriageConfig,
    /// A Slack-style webhook for new and regressed bugs.
    pub webhook: Option<String>,
    /// More alerts than this within a minute become one digest.
    pub digest_after: usize,
    /// How long a stopping campaign triages what it found before it exits
    /// (`[crashes] triage_deadline`); a second Ctrl-C cuts it short.
    pub final_deadline: Duration,
}

/// The hub a campaign syncs with, as whom, and how often.
#[derive(Clone, Debug)]
pub struct HubSpec {
    pub url: fleet_config::HubUrl,
    pub node: fleet_config::NodeName,
    pub every: Duration,
}

/// When a campaign minimizes a corpus by itself: once it has `growth` times the files it
/// had after its last minimization (or at the start), and at least `min_files`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AutoMinimize {
    pub growth: u64,
    pub min_files: u64,
}

/// Why a campaign ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// SIGINT or SIGTERM.
    Signal,
    /// `--for` elapsed.
    TimeUp,
    /// `--once` and every tier completed its cycle.
    CycleDone,
    /// Every target failed to start.
    NothingToRun,
    /// SIGHUP with `reload_on_hup`: the caller reloads its config and starts again.
    Reload,
}

/// What the campaign tells its user as it goes (the CLI prints these).
#[derive(Clone, Debug)]
pub enum Notice {
    TargetStarted {
        target: String,
        workers: usize,
    },
    Finding {
        target: String,
        kind: String,
        id: i64,
        new: bool,
    },
    SeedSetAside {
        target: String,
        sha1: String,
    },
    TargetFailed {
        target: String,
        message: String,
    },
    Restarted {
        target: String,
        slot: usize,
        how: String,
    },
    PrivateTmpUnavailable {
        error: String,
    },
    EngineOutput {
        target: String,
        error: String,
    },
    Minimized {
        target: String,
        outcome: Result<MinimizeOutcome, String>,
    },
    /// The coverage-following schedule's next slice: these targets on these many workers
    /// (why is in the log and `status`).
    Slice {
        run: Vec<(String, usize)>,
        slice: Duration,
    },
    /// The tiers need more workers than the node has: these run for this turn, the
    /// others wait for theirs.
    TierTurn {
        running: Vec<String>,
        waiting: Vec<String>,
        turn: Duration,
    },
    HubSynced {
        pushed: usize,
        pulled: usize,
        error: Option<String>,
        /// Hub objects refused this round (a link, a FIFO, …), one line each.
        skipped: Vec<String>,
    },
    /// The crash pipeline's news: a new bug, a finding filed, a minimized input, a bug
    /// fixed or regressed by a new build.
    Triage(crate::triage::TriageEvent),
    /// What happened to webhook messages.
    Webhook(crate::notify::Delivery),
    /// A finding another node pushed to the hub, now recorded here.
    PulledFinding {
        target: String,
        kind: String,
        id: i64,
    },
    Stopping {
        reason: StopReason,
    },
    /// The periodic one-line summary (`progress_every`).
    Progress(Progress),
    /// The workers stopped; what they found is triaged for up to `deadline`.
    FinalTriage {
        deadline: Duration,
    },
    /// A second Ctrl-C: the rest of the final triage is left for the next run.
    FinalTriageSkipped,
    Error {
        message: String,
    },
    /// The resource guard: an alert or its recovery, a worker stopped at its memory
    /// limit, the disk pause, how memory is limited.
    Resource {
        message: String,
    },
}

/// What the campaign did since the last progress line, and what it does next.
#[derive(Clone, Debug, PartialEq)]
pub struct Progress {
    /// Targets that had workers since the last line (a line that falls between two
    /// runs still names what ran).
    pub running: Vec<String>,
    /// The most workers that ran at once since the last line.
    pub workers: usize,
    /// Execs per second since the last line, over all targets.
    pub execs_per_sec: f64,
    /// Features gained since the last line, over all targets.
    pub new_features: u64,
    /// New bugs (buckets) and crash artifacts since the last line.
    pub new_bugs: usize,
    pub artifacts: usize,
    /// The schedule's next step and when, e.g. `("tier1 moves to its next target", 3h)`.
    pub next: Option<(String, Duration)>,
}

/// The outcome of a campaign.
#[derive(Clone, Debug)]
pub struct Summary {
    pub reason: StopReason,
    pub new_findings: usize,
    pub failed: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot prepare {what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

/// What the core learns from `target`'s dictionary: that the strategies using it may
/// run, and whether those using the harvested constants alone may (nothing while it is
/// empty).
fn dict_ready(target: &str, dict: &RecommendedDict) -> Option<Input> {
    (!dict.is_empty()).then(|| Input::DictReady {
        target: target.to_string(),
        harvested: dict.harvested_len() > 0,
    })
}

/// How long a stopping campaign triages what it found: the configured deadline; zero
/// (file, run nothing) when SIGTERM stopped it — a supervisor such as systemd that wants
/// the process gone; `None` (skip it) after a second Ctrl-C.
pub(crate) fn final_triage_deadline(
    configured: Option<Duration>,
    stop_signal: Option<i32>,
    hurry: bool,
) -> Option<Duration> {
    if hurry {
        return None;
    }
    Some(match configured {
        Some(d) if stop_signal != Some(libc::SIGTERM) => d,
        _ => Duration::ZERO,
    })
}

/// Runs a campaign until it is stopped, `--for` elapses, or `--once` completes.
pub fn run(spec: CampaignSpec, notify: &mut dyn FnMut(Notice)) -> Result<Summary, CampaignError> {
    let (tx, rx) = mpsc::channel();
    let _signals = process::forward_signals(tx.clone()).map_err(|source| CampaignError::Io {
        what: "signal handling".into(),
        source,
    })?;
    if let Err(e) = process::become_subreaper() {
        notify(Notice::Error {
            message: format!("cannot become a child subreaper ({e}); orphans go to init"),
        });
    }
    let mut c = Campaign::new(spec, tx, notify)?;
    c.prepare()?;
    Ok(c.dispatch(rx))
}

/// A worker process the executor started, and what it found.
struct Proc {
    worker: Worker,
    target: String,
    slot: usize,
    /// Hashes of the findings this run produced (a crash before INITED names the seed).
    found: Vec<String>,
    /// New findings (not copies of known inputs) of this run.
    new_found: u64,
    /// The strategies in effect, when the portfolio chose an arm.
    arm: Option<Arm>,
    /// When it started: the run's gain is over its time.
    started: Instant,
    /// An AFL++ run's files and what was taken from them.
    afl: Option<aflpp_runs::AflRun>,
    /// A libFuzzer run with value profile: its features count comparisons too, a unit
    /// of its own, so they are not the target's figure.
    value_profile: bool,
    /// A libFuzzer run whose own count of features is not its pay (value profile, a
    /// corpus subset, a `max_len`: [`Strategy::needs_run_corpus`]): a replay of what it
    /// added pays it, as an AFL++ run is paid.
    replayed: bool,
    /// What such a run's own corpus and the target's exchanged while it ran, and the
    /// entries the run added to the target's.
    exchange: strategy_files::Exchange,
    own_added: HashSet<String>,
    /// A stop held back while the worker writes a failure report: the signal, and when
    /// the wait ends whatever the report does ([`REPORT_WAIT`] after the first).
    deferred: Option<(Signal, Instant)>,
}

/// How long a stop waits for a worker to finish writing a failure report (its input
/// and the report's end) before it signals anyway: a symbolized sanitizer report of a
/// large binary takes seconds.
const REPORT_WAIT: Duration = Duration::from_secs(10);

/// The executor: it owns the campaign's I/O (worker processes, the database, the files,
/// the background threads, the user's notices) and does what the [`Core`] decides.
struct Campaign<'n> {
    spec: CampaignSpec,
    db: Db,
    tx: Sender<Event>,
    notify: &'n mut dyn FnMut(Notice),
    core: Core,
    procs: HashMap<RunId, Proc>,
    live: BTreeMap<String, TargetLive>,
    hide_tmp: bool,
    /// A second Ctrl-C during the final triage.
    hurry: bool,
    /// The last progress line, and what it counted then.
    progress_at: Instant,
    progress_features: BTreeMap<String, u64>,
    /// Execs over all targets at the last line.
    progress_execs: u64,
    /// Targets that ran since the last line, and the most workers at once.
    progress_ran: BTreeSet<String>,
    progress_workers: usize,
    progress_bugs: usize,
    progress_artifacts: usize,
    /// Whether the disk pause is on, as last told to the core and the triage thread.
    paused: bool,
    new_findings: usize,
    last_flush: Instant,
    last_corpus_scan: Option<Instant>,
    last_compact: Instant,
    hub: Option<crate::hubsync::SyncThread>,
    triage: Option<crate::triage::TriageThread>,
    notifier: Option<crate::notify::Notifier>,
    resources: resources::Guard,
    /// Errors said once, their repeats counted.
    errors: crate::repeats::Repeats,
    /// Corpus minimizations running in the background, by target.
    minimizers: BTreeMap<String, crate::background::Background<()>>,
    /// Ended AFL++ runs' replays running in the background, by run.
    replays: BTreeMap<RunId, replay::Replay>,
    /// Each target's recommended dictionary, accumulated from its runs' final output.
    dicts: BTreeMap<String, RecommendedDict>,
    /// Targets whose binary's constants are still to be harvested, one per tick once
    /// the first workers run: reading a large binary must not delay them.
    to_harvest: VecDeque<String>,
    /// The bandits changed since `status` last got them.
    portfolio_dirty: bool,
    /// New bugs per target in this run, for the schedule's measure of each slice.
    bugs: BTreeMap<String, u64>,
    /// Every error of this run (said or repeated), the last one, and the count `status`
    /// last got.
    error_count: u64,
    last_error: Option<String>,
    /// When the last error happened (ms since the epoch).
    last_error_at: Option<i64>,
    published_errors: u64,
}

impl<'n> Campaign<'n> {
    fn new(
        spec: CampaignSpec,
        tx: Sender<Event>,
        notify: &'n mut dyn FnMut(Notice),
    ) -> Result<Self, CampaignError> {
        let db = Db::open(&spec.layout.db_path())?;
        let now = Instant::now();
        let mut saved = Saved::default();
        let (core_tiers, mut shares) = schedule_of(&spec);
        if let Some(sh) = &mut shares {
            if let Some(row) = db.load_schedule(SHARES_ROW)? {
                saved.shares = Some(ShareState::from_json(Some(&row.state)));
            }
            builds::identify(
                &mut sh.targets,
                |name| spec.targets.get(name).map(|t| t.binary.as_path()),
                saved.shares.as_mut(),
            );
        }
        if let Some(row) = db.load_schedule(ROTATION_ROW)? {
            saved.rotation = Some(serde_json::from_str(&row.state).unwrap_or_default());
        }
        for t in &core_tiers {
            let row = db.load_schedule(&t.name)?;
            saved.tiers.insert(
                t.name.clone(),
                TierState::from_json(row.as_ref().map(|r| r.state.as_str())),
            );
        }
        let portfolio = if spec.portfolio {
            for name in spec.targets.keys() {
                // A bandit that does not parse (a newer format) starts afresh.
                if let Some(row) = db.load_schedule(&bandit_row(name))?
                    && let Some(b) = Bandit::from_json(&row.state)
                {
                    saved.bandits.insert(name.clone(), b);
                }
            }
            Some(PortfolioSpec {
                arms: spec
                    .targets
                    .values()
                    .map(|t| {
                        (
                            t.name.clone(),
                            bandit::default_arms(t.dict.is_some(), t.afl.is_some()),
                        )
                    })
                    .collect(),
                params: bandit::Params::default(),
                run_length: self::core::RUN_LENGTH,
                first_run_length: self::core::FIRST_RUN_LENGTH,
                seed: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64),
            })
        } else {
            None
        };
        // Every reader of the state shows each target's place in these tiers; under the
        // other schedules the tiers are no clock, and their places are not shown.
        let clock: &[TierSpec] = if spec.schedule == fleet_config::Schedule::Fixed {
            &spec.tiers
        } else {
            &[]
        };
        let tiers_json = serde_json::to_string(
            &clock
                .iter()
                .map(|t| crate::report::TierBudget {
                    name: t.name.clone(),
                    budget: t.budget,
                    targets: t.targets.clone(),
                })
                .collect::<Vec<_>>(),
        )
        .expect("tiers serialize");
        db.put_meta(crate::report::TIERS_META, &tiers_json, now_ms())?;
        let mut live = BTreeMap::new();
        for name in spec.targets.keys() {
            let previous = db.target(name)?;
            let mut l = TargetLive::resume(name, previous);
            l.resume_rates(db.target_rates(name)?);
            live.insert(name.clone(), l);
        }
        let (guard, notes) = resources::Guard::new(spec.resources.clone(), spec.layout.clone());
        notify(Notice::Resource {
            message: match guard.mechanism() {
                Some(m) => format!(
                    "worker memory limited by {m} (libFuzzer's -rss_limit_mb at 7/8 of each target's rss_limit_mb)"
                ),
                None => "worker memory limited by libFuzzer's -rss_limit_mb alone".into(),
            },
        });
        for message in notes {
            notify(Notice::Resource { message });
        }
        let core = Core::new(
            CoreSpec {
                tiers: core_tiers,
                shares,
                slots: spec.slots,
                tier_slice: spec.tier_slice,
                run_for: spec.run_for,
                once: spec.once,
                grace: spec.grace,
                minimize: spec.minimize,
                reload_on_hup: spec.reload_on_hup,
                portfolio,
            },
            saved,
            now,
        );
        let execs = live.values().map(TargetLive::execs).sum();
        Ok(Self {
            spec,
            db,
            tx,
            notify,
            core,
            procs: HashMap::new(),
            live,
            // Every worker gets a private /tmp wherever the state dir is (what it needs
            // under /tmp is bound back inside); where mount namespaces are refused, the
            // first spawn says so and the workers get TMPDIR only.
            hide_tmp: true,
            hurry: false,
            progress_at: now,
            progress_features: BTreeMap::new(),
            progress_execs: execs,
            progress_ran: BTreeSet::new(),
            progress_workers: 0,
            progress_bugs: 0,
            progress_artifacts: 0,
            paused: false,
            new_findings: 0,
            last_flush: now,
            last_corpus_scan: None,
            last_compact: now - COMPACT_EVERY,
            hub: None,
            triage: None,
            notifier: None,
            resources: guard,
            errors: crate::repeats::Repeats::default(),
            minimizers: BTreeMap::new(),
            replays: BTreeMap::new(),
            dicts: BTreeMap::new(),
            to_harvest: VecDeque::new(),
            portfolio_dirty: true,
            bugs: BTreeMap::new(),
            error_count: 0,
            last_error: None,
            last_error_at: None,
            published_errors: 0,
        })
    }

    /// Creates each target's dirs, imports seeds, and takes in artifacts a previous run
    /// left behind (a `kill -9` between libFuzzer's write and our move).
    fn prepare(&mut self) -> Result<(), CampaignError> {
        let layout = self.spec.layout.clone();
        for t in self.spec.targets.values() {
            // Before the corpus dir is made: a swap cut off between its renames left the
            // corpus in the merge dir only.
            minimize::recover(&layout, &t.name).map_err(|source| CampaignError::Io {
                what: format!("the corpus of {} after an interrupted minimization", t.name),
                source,
            })?;
            for dir in [layout.corpus_dir(&t.name), layout.incoming_dir(&t.name)] {
                std::fs::create_dir_all(&dir).map_err(|source| CampaignError::Io {
                    what: dir.display().to_string(),
                    source,
                })?;
            }
            corpus::repair(&layout.corpus_dir(&t.name)).map_err(|source| CampaignError::Io {
                what: format!("the corpus of {}", t.name),
                source,
            })?;
            if let Some(seeds) = &t.seeds {
                corpus::import_dir(
                    seeds,
                    &layout.corpus_dir(&t.name),
                    &layout.quarantine_dir(&t.name),
                )
                .map_err(|source| CampaignError::Io {
                    what: format!("seeds {}", seeds.display()),
                    source,
                })?;
            }
        }
        let names: Vec<String> = self.spec.targets.keys().cloned().collect();
        let now = Instant::now();
        if let Err(e) = replay::clear_left(&layout) {
            self.error(format!("cannot remove what interrupted replays left: {e}"));
        }
        for name in &names {
            // What runs on a corpus of their own found before a `kill -9` is kept.
            strategy_files::recover(&layout, name).map_err(|source| CampaignError::Io {
                what: format!("the corpus of {}'s interrupted strategy runs", name),
                source,
            })?;
            aflpp_runs::recover(&layout, name).map_err(|source| CampaignError::Io {
                what: format!("what {name}'s interrupted AFL++ runs found"),
                source,
            })?;
            let dict = strategy_files::load_dict(&layout, name);
            if self.spec.portfolio {
                self.to_harvest.push_back(name.clone());
            }
            if let Some(ready) = dict_ready(name, &dict) {
                self.apply(ready, now);
            }
            self.dicts.insert(name.clone(), dict);
        }
        for name in names {
            self.sweep(&name, false, None);
            let files = corpus::size(&layout.corpus_dir(&name)).0;
            // The start's count is what a minimization's growth is measured from.
            self.apply(
                Input::CorpusCounted {
                    target: name,
                    files,
                },
                now,
            );
        }
        Ok(())
    }

    /// Gives the core one input and does what it decides, feeding back what happened.
    fn apply(&mut self, input: Input, now: Instant) {
        let mut queue: VecDeque<Action> = self.core.handle(input, now).into();
        while let Some(action) = queue.pop_front() {
            if let Some(next) = self.execute(action) {
                // What follows from it comes before the rest, as if done in place.
                for a in self.core.handle(next, Instant::now()).into_iter().rev() {
                    queue.push_front(a);
                }
            }
        }
    }

    /// Sends the stops held back for a report once the report is written (its input is
    /// on disk) or the wait is over.
    fn release_deferred(&mut self, now: Instant) {
        let hurry = self.core.hurry();
        for p in self.procs.values_mut() {
            if let Some((signal, until)) = p.deferred
                && (hurry || now >= until || !p.worker.writing_report())
            {
                p.deferred = None;
                p.worker.signal(signal);
            }
        }
    }

    /// Does one action; returns what happened when the core must hear of it.
    fn execute(&mut self, action: Action) -> Option<Input> {
        match action {
            Action::Spawn {
                slot,
                run,
                target,
                max_total_time,
                arm,
                why,
            } => self.spawn(slot, run, target, max_total_time, arm, why),
            Action::Signal { run, signal } => {
                let now = Instant::now();
                let hurry = self.core.hurry();
                if let Some(p) = self.procs.get_mut(&run) {
                    // A worker writing a failure report is not interrupted (the input
                    // would be lost): it ends by itself once the input is written, or
                    // is signalled when the wait is over. A second Ctrl-C waits for
                    // nothing.
                    let until = p.deferred.map_or(now + REPORT_WAIT, |(_, u)| u);
                    if !hurry && now < until && p.worker.writing_report() {
                        let strongest = match p.deferred {
                            Some((Signal::SIGKILL, _)) => Signal::SIGKILL,
                            _ => signal,
                        };
                        p.deferred = Some((strongest, until));
                    } else {
                        p.deferred = None;
                        p.worker.signal(signal);
                    }
                }
                None
            }
            Action::Credit {
                target,
                slot_ms,
                fuzz_ms,
            } => {
                if let Some(live) = self.live.get_mut(&target) {
                    live.slot_ms += slot_ms;
                    live.fuzz_ms += fuzz_ms;
                }
                None
            }
            Action::Save { row, state } => {
                self.portfolio_dirty |= row.starts_with("(bandit)") || row == SHARES_ROW;
                if let Err(e) = self.db.save_schedule(&row, &state, now_ms()) {
                    self.error(format!("cannot save the schedule ({row}): {e}"));
                }
                None
            }
            Action::Notice(notice) => {
                match &notice {
                    Notice::TargetFailed { target, message } => {
                        if let Some(live) = self.live.get_mut(target) {
                            live.fail(message.clone());
                        }
                    }
                    Notice::Restarted { target, .. } => {
                        if let Some(live) = self.live.get_mut(target) {
                            live.restarts += 1;
                        }
                    }
                    _ => {}
                }
                (self.notify)(notice);
                None
            }
            Action::Log {
                target,
                kind,
                message,
            } => {
                self.log_event(target.as_deref(), kind, &message);
                None
            }
            Action::Minimize { target } => self.start_minimization(target),
            Action::CountCorpus { target } => {
                let size = corpus::size(&self.spec.layout.corpus_dir(&target));
                if let Some(live) = self.live.get_mut(&target) {
                    live.corpus = size;
                }
                Some(Input::CorpusCounted {
                    target,
                    files: size.0,
                })
            }
        }
    }

    fn dispatch(mut self, rx: Receiver<Event>) -> Summary {
        if let Some(h) = self.spec.hub.clone() {
            let targets: Vec<fleet_config::TargetName> = self
                .spec
                .targets
                .keys()
                .filter_map(|t| fleet_config::TargetName::new(t.as_str()).ok())
                .collect();
            match crate::hubsync::SyncThread::spawn(
                h.url,
                self.spec.layout.clone(),
                h.node,
                targets,
                h.every,
                self.tx.clone(),
            ) {
                Ok(t) => self.hub = Some(t),
                Err(e) => self.error(format!("cannot start hub sync: {e}")),
            }
        }
        self.start_triage();
        self.progress_features = self
            .live
            .iter()
            .map(|(n, l)| (n.clone(), l.features().unwrap_or(0)))
            .collect();
        let now = Instant::now();
        // What the targets have before the first slice, which is measured from it.
        self.measure(now);
        self.apply(Input::Start, now);
        let mut last_tick = now;
        loop {
            // Wake for a due restart as for any other deadline, not on the next tick.
            let wait = self.core.next_restart().map_or(TICK, |t| {
                t.saturating_duration_since(Instant::now()).min(TICK)
            });
            // A held-back stop is looked at often: the report it waits for takes
            // milliseconds to seconds.
            let wait = match self.procs.values().any(|p| p.deferred.is_some()) {
                true => wait.min(DEFERRED_POLL),
                false => wait,
            };
            match rx.recv_timeout(wait) {
                Ok(ev) => self.handle(ev),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            let now = Instant::now();
            self.release_deferred(now);
            if self.core.done(now) {
                break;
            }
            if self.core.next_restart().is_some_and(|t| now >= t) {
                self.apply(Input::Wake, now);
            }
            if now.duration_since(last_tick) >= TICK {
                last_tick = now;
                self.tick(now);
            }
        }
        self.finish(&rx)
    }

    /// Starts the webhook notifier and the triage thread; both report through the event
    /// queue, so their news is printed and forwarded here.
    fn start_triage(&mut self) {
        let Some(spec) = self.spec.triage.clone() else {
            return;
        };
        if let Some(url) = spec.webhook.clone() {
            let tx = self.tx.clone();
            match crate::notify::Notifier::spawn(
                url,
                spec.digest_after,
                Box::new(move |d| {
                    let _ = tx.send(Event::Webhook(d));
                }),
            ) {
                Ok(n) => self.notifier = Some(n),
                Err(e) => self.error(format!("cannot start the webhook notifier: {e}")),
            }
        }
        let targets = self
            .spec
            .targets
            .values()
            .map(|t| (t.name.clone(), crate::triage::TriageTarget::from(t)))
            .collect();
        let tx = self.tx.clone();
        match crate::triage::TriageThread::spawn(
            self.spec.layout.clone(),
            targets,
            spec.config,
            Box::new(move |e| {
                let _ = tx.send(Event::Triage(e));
            }),
        ) {
            Ok(t) => self.triage = Some(t),
            Err(e) => self.error(format!("cannot start crash triage: {e}")),
        }
    }

    fn handle(&mut self, ev: Event) {
        match ev {
            // Said once while it repeats, like the campaign's own errors.
            Event::Triage(crate::triage::TriageEvent::Error { message }) => {
                self.error(format!("triage: {message}"))
            }
            Event::Triage(e) => {
                if let Some(text) = e.alert_text()
                    && let Some(n) = &self.notifier
                {
                    n.alert(text);
                }
                if matches!(e, crate::triage::TriageEvent::NewBucket { .. }) {
                    self.progress_bugs += 1;
                }
                if let crate::triage::TriageEvent::NewBucket { target, .. }
                | crate::triage::TriageEvent::Regressed { target, .. } = &e
                    && let Some(live) = self.live.get_mut(target)
                {
                    live.findings_changed = true;
                    *self.bugs.entry(target.clone()).or_default() += 1;
                }
                (self.notify)(Notice::Triage(e));
            }
            Event::Webhook(d) => (self.notify)(Notice::Webhook(d)),
            Event::Signal(sig) => self.apply(Input::Signal(sig), Instant::now()),
            Event::Minimized { target, outcome } => self.minimized(target, outcome),
            Event::Replayed {
                run,
                target,
                arm,
                cpu,
                features,
                new_bugs,
            } => {
                // Its thread ends as it hands the count over.
                if let Some(r) = self.replays.remove(&run)
                    && let Err(e) = r.join(REPLAY_WAIT)
                {
                    self.error(format!("replay of {target}: {e}"));
                }
                match features {
                    Ok((before, after)) => {
                        // The whole corpus, counted in the target's unit.
                        if let Some(live) = self.live.get_mut(&target) {
                            live.observe_corpus(after, now_ms());
                        }
                        let gain = Gain {
                            cpu,
                            new_features: after.saturating_sub(before),
                            new_bugs,
                        };
                        let gain = Some(gain);
                        self.apply(Input::Pay { target, arm, gain }, Instant::now());
                    }
                    Err(e) => {
                        self.error(format!(
                            "{target}: cannot count what a run added (it is not paid): {e}"
                        ));
                        let gain = None;
                        self.apply(Input::Pay { target, arm, gain }, Instant::now());
                    }
                }
            }
            Event::HubSynced(o) => {
                for (target, kind, id, new) in o.findings {
                    if new {
                        self.new_findings += 1;
                        if let Some(t) = &self.triage {
                            t.finding(id);
                        }
                        (self.notify)(Notice::PulledFinding { target, kind, id });
                    }
                }
                (self.notify)(Notice::HubSynced {
                    pushed: o.pushed,
                    pulled: o.pulled,
                    error: o.error,
                    skipped: o.skipped,
                });
            }
            Event::Worker(run, msg) => self.worker_msg(run, msg),
        }
    }

    fn worker_msg(&mut self, run: RunId, msg: WorkerMsg) {
        let Some((target, value_profile)) = self
            .procs
            .get(&run)
            .map(|p| (p.target.clone(), p.value_profile))
        else {
            return;
        };
        match msg {
            WorkerMsg::Inited => self.apply(Input::Inited { run }, Instant::now()),
            WorkerMsg::Status(mut status) => {
                if value_profile {
                    // Not the unit of the target's features (see `Proc::value_profile`).
                    status.ft = None;
                }
                if let Some(live) = self.live.get_mut(&target) {
                    live.observe(run, &status, now_ms());
                }
            }
            WorkerMsg::MemoryLimit { used_mb, limit_mb } => {
                self.resources.memory_limit_reached(run, used_mb, limit_mb)
            }
            WorkerMsg::Artifact { path, report } => {
                let (path, report) = self.resources.artifact(run, path, report);
                // libFuzzer prints the path as it wrote it; the file is complete by now.
                let path = if path.is_absolute() {
                    path
                } else {
                    self.spec
                        .layout
                        .incoming_dir(&target)
                        .join(path.file_name().unwrap_or_default())
                };
                if path.exists() {
                    let kept = findings::intake(
                        &self.spec.layout,
                        &self.db,
                        &target,
                        &path,
                        Some(&report),
                        now_ms(),
                    );
                    self.kept(&target, Some(run), kept);
                } else {
                    // Swept before its report was complete (a timeout's stack comes after
                    // its file): the report joins the finding the sweep made.
                    findings::late_report(&self.spec.layout, &self.db, &target, &path, &report);
                }
            }
            WorkerMsg::FinalExecs(n) => {
                if let Some(live) = self.live.get_mut(&target) {
                    live.observe_final(run, n);
                }
            }
            WorkerMsg::ParseError(error) => (self.notify)(Notice::EngineOutput { target, error }),
            msg @ (WorkerMsg::LostReport { .. } | WorkerMsg::Recoverable { .. }) => {
                self.report_without_artifact(&target, msg)
            }
            WorkerMsg::Exited(exit) => self.exited(run, exit),
        }
    }

    fn kept(
        &mut self,
        target: &str,
        run: Option<RunId>,
        kept: Result<Kept, findings::IntakeError>,
    ) {
        match kept {
            Ok(k) => {
                self.progress_artifacts += 1;
                if let Some(p) = run.and_then(|r| self.procs.get_mut(&r)) {
                    p.found.push(k.sha1.clone());
                    p.new_found += u64::from(k.new);
                }
                if k.new {
                    self.new_findings += 1;
                    if let Some(t) = &self.triage {
                        t.finding(k.id);
                    }
                }
                if let Some(live) = self.live.get_mut(target) {
                    live.findings_changed = true;
                }
                (self.notify)(Notice::Finding {
                    target: target.to_string(),
                    kind: k.kind.to_string(),
                    id: k.id,
                    new: k.new,
                });
            }
            Err(e) => self.error(e.to_string()),
        }
    }

    fn sweep(&mut self, target: &str, settled_only: bool, run: Option<RunId>) {
        let results = findings::sweep(&self.spec.layout, &self.db, target, settled_only, now_ms());
        for r in results {
            self.kept(target, run, r);
        }
    }

    fn exited(&mut self, run: RunId, exit: WorkerExit) {
        let Some(target) = self.procs.get(&run).map(|p| p.target.clone()) else {
            return;
        };
        // Artifacts written just before the end belong to this run. Another worker of the
        // target may be writing its artifact right now (a timeout prints its stack after
        // the file): only settled files are swept while one runs.
        let others = self.core.others_running(&target, run);
        self.sweep(&target, others, Some(run));
        let Some(mut p) = self.procs.remove(&run) else {
            return;
        };
        p.worker.reap();
        let afl_fuzzed = p.afl.as_ref().is_some_and(|a| a.fuzzing);
        let mut paid_later = false;
        if let Some(afl) = p.afl.take() {
            paid_later = self.end_afl_run(run, &target, &mut p, afl, exit.at);
        }
        if let Some((message, tell)) =
            self.resources
                .worker_ended(&target, run, exit.memory.as_ref())
        {
            self.log_event(Some(&target), "memory-limit", &message);
            if tell {
                (self.notify)(Notice::Resource { message });
            }
        }
        // What the run gained: the features its process counted beyond the corpus it
        // started from, new bugs weighted, over its time (a worker is one process on one
        // core: wall time is its CPU time).
        let saw_inited = exit.saw_inited || afl_fuzzed;
        // An AFL++ run, and a run whose own count is in another unit, are paid once the
        // replay of their finds says what they added, in the unit every run is paid in.
        let gain = (saw_inited && !afl_fuzzed && !p.replayed).then(|| Gain {
            cpu: exit.at.saturating_duration_since(p.started),
            new_features: self
                .live
                .get(&target)
                .and_then(|l| l.run_gain(run))
                .unwrap_or(0),
            new_bugs: p.new_found,
        });
        if let Some(live) = self.live.get_mut(&target) {
            live.run_ended(run, now_ms());
        }
        let mut added = self.take_back(&target, run, p.slot, p.arm.is_some());
        added.extend(std::mem::take(&mut p.own_added));
        if p.replayed
            && saw_inited
            && let Some(arm) = p.arm.clone()
        {
            let cpu = exit.at.saturating_duration_since(p.started);
            paid_later = self.replay(run, &target, arm, cpu, p.new_found, added);
        }
        // A run that never fuzzed and crashed: its crashing seeds are set aside, and it
        // restarts without them (the core fails the target when there were none).
        let mut set_aside = 0;
        if !saw_inited && self.core.stopping().is_none() {
            let corpus = self.spec.layout.corpus_dir(&target);
            let quarantine = self.spec.layout.quarantine_dir(&target);
            for sha1 in &p.found {
                if corpus::quarantine(&corpus, &quarantine, sha1).unwrap_or(false) {
                    set_aside += 1;
                    self.log_event(Some(&target), "seed-set-aside", sha1);
                    (self.notify)(Notice::SeedSetAside {
                        target: target.clone(),
                        sha1: sha1.clone(),
                    });
                }
            }
        }
        let input = Input::Exited {
            run,
            exit: Exit {
                code: exit.code,
                signal: exit.signal,
                saw_inited,
                tail: exit.tail,
                crashed: !p.found.is_empty(),
                set_aside,
                gain,
                paid_later,
            },
        };
        self.apply(input, exit.at);
    }

    /// Harvests the constants of the next target waiting for it ([`Self::to_harvest`]),
    /// and lets the core choose the strategies that use them.
    fn harvest_next(&mut self, now: Instant) {
        let Some(target) = self.to_harvest.pop_front() else {
            return;
        };
        let mut dict = self.dicts.remove(&target).unwrap_or_default();
        let changed = self.harvest_constants(&target, &mut dict);
        let ready = if changed {
            dict_ready(&target, &dict)
        } else {
            None
        };
        self.dicts.insert(target, dict);
        if let Some(ready) = ready {
            self.apply(ready, now);
        }
    }

    /// Puts the constants `target`'s binary compares with into its dictionary (its
    /// build's own: a new build replaces them) and saves the dictionary when they changed;
    /// returns whether it did.
    fn harvest_constants(&mut self, target: &str, dict: &mut RecommendedDict) -> bool {
        let Some(t) = self.spec.targets.get(target) else {
            return false;
        };
        let constants = match strategy_files::harvest(&t.binary) {
            Ok(c) => c,
            Err(e) => {
                let message = format!(
                    "{target}: cannot read {} for the constants it compares with: {e}",
                    t.binary.display()
                );
                self.error(message);
                return false;
            }
        };
        if !dict.set_harvested(&constants) {
            return false;
        }
        let user = t.dict.clone();
        let layout = self.spec.layout.clone();
        match strategy_files::save_dict(&layout, target, dict, user.as_deref()) {
            Ok(()) => {
                let message = format!(
                    "{} constants harvested from the binary's comparisons",
                    constants.len()
                );
                self.log_event(Some(target), "dictionary-harvest", &message);
                true
            }
            Err(e) => {
                self.error(format!("{target}: cannot save its dictionary: {e}"));
                false
            }
        }
    }

    /// A run ended: the recommended dictionary it printed joins its target's, and what
    /// it wrote to a corpus of its own (a run paid by a replay) joins the target's
    /// corpus. Returns the names of the entries it added there.
    fn take_back(
        &mut self,
        target: &str,
        run: RunId,
        slot: usize,
        portfolio: bool,
    ) -> HashSet<String> {
        if !portfolio {
            return HashSet::new();
        }
        let layout = self.spec.layout.clone();
        let added = match strategy_files::finish_run(&layout, target, run) {
            Ok(names) => names.into_iter().collect(),
            Err(e) => {
                self.error(format!(
                    "{target}: cannot take in a strategy run's corpus: {e}"
                ));
                HashSet::new()
            }
        };
        self.absorb_dict(target, slot);
        added
    }

    /// Adds the recommended dictionary a run's log ends with to the target's.
    fn absorb_dict(&mut self, target: &str, slot: usize) {
        let layout = self.spec.layout.clone();
        let log = layout.worker_log(target, slot);
        let Some(dict) = self.dicts.get_mut(target) else {
            return;
        };
        match strategy_files::absorb_log(dict, &log) {
            Ok(0) => {}
            Ok(added) => {
                let user = self.spec.targets.get(target).and_then(|t| t.dict.clone());
                let saved = strategy_files::save_dict(&layout, target, dict, user.as_deref());
                match saved {
                    Ok(()) => {
                        let message = format!("{added} new entries ({} in all)", dict.len());
                        let ready = dict_ready(target, dict);
                        self.log_event(Some(target), "recommended-dictionary", &message);
                        if let Some(ready) = ready {
                            self.apply(ready, Instant::now());
                        }
                    }
                    Err(e) => self.error(format!(
                        "{target}: cannot save the recommended dictionary: {e}"
                    )),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => self.error(format!("{target}: cannot read {}: {e}", log.display())),
        }
    }

    fn spawn(
        &mut self,
        slot: usize,
        run: RunId,
        target: String,
        max_total_time: Option<Duration>,
        arm: Option<Arm>,
        why: Option<Why>,
    ) -> Option<Input> {
        let Some(t) = self.spec.targets.get(&target) else {
            return Some(Input::SpawnFailed {
                run,
                message: format!("{target} is not a target of this campaign"),
            });
        };
        let layout = &self.spec.layout;
        let mut opts = LibFuzzerOptions::new(
            &t.binary,
            layout.corpus_dir(&target),
            layout.incoming_dir(&target),
        );
        let (rss_limit_mb, memory) =
            self.resources
                .worker_memory(&target, slot, run, t.rss_limit_mb);
        opts.rss_limit_mb = rss_limit_mb;
        opts.timeout_s = t.timeout_s;
        opts.dict = t.dict.clone();
        opts.max_len = t.max_len;
        opts.extra_args = t.extra_args.clone();
        // The exact execution count at exit; status lines alone undercount.
        opts.print_final_stats = true;
        opts.env = t.env.iter().map(|(k, v)| (k.into(), v.into())).collect();
        opts.max_total_time = max_total_time;
        if let (Some(a), Some(afl)) = (&arm, &t.afl)
            && a.engine == bandit::AFLPP
        {
            let (target_spec, afl) = (t.clone(), afl.clone());
            let cmplog = a.strategy == "cmplog";
            return match aflpp_runs::prepare(
                layout,
                &target_spec,
                &afl,
                run,
                cmplog,
                max_total_time,
            ) {
                Ok((cmd, afl_run)) => {
                    let label = a.label();
                    self.log_event(Some(&target), "strategy", &format!("run {run}: {label}"));
                    self.start(slot, run, target, cmd, memory, arm, Some(afl_run))
                }
                Err(e) => Some(Input::SpawnFailed {
                    run,
                    message: format!("cannot prepare an AFL++ run of {target}: {e}"),
                }),
            };
        }
        // The arm's strategies, as far as the target's own settings leave them; what was
        // in effect is recorded with the run.
        let mut arm = arm;
        let before = opts.clone();
        if let Some(a) = arm.as_mut() {
            let applied = a
                .strategy
                .parse::<Strategy>()
                .map_err(|e| e.to_string())
                .and_then(|s| {
                    let files = strategy_files::prepare(layout, &target, run, &s, run)
                        .map_err(|e| e.to_string())?;
                    s.apply(&mut opts, &files).map_err(|e| e.to_string())
                });
            match applied {
                Ok(effective) => a.strategy = effective.to_string(),
                Err(e) => {
                    // The run goes ahead as plain libFuzzer; its arm is not paid for it.
                    let message = format!("{target}: strategy {} not applied: {e}", a.strategy);
                    self.error(message);
                    opts = before;
                    arm = None;
                }
            }
        }
        if let Some(a) = &arm {
            let why = match &why {
                Some(Why::Start) => "first run of the target".to_string(),
                Some(Why::Beside) => "beside the first run, for its first seconds".to_string(),
                Some(Why::Untried) => "not tried yet".to_string(),
                Some(Why::WarmingUp) => "second run before it is judged".to_string(),
                Some(Why::Exploring) => "exploring".to_string(),
                Some(Why::Sampled { rate, .. }) => {
                    format!("{} new features/cpu-s", bandit::fmt_rate(*rate))
                }
                None => String::new(),
            };
            let strategy = a.strategy.clone();
            self.log_event(
                Some(&target),
                "strategy",
                &format!("run {run}: {strategy} ({why})"),
            );
        }
        let cmd = output::worker_command(&opts);
        self.start(slot, run, target, cmd, memory, arm, None)
    }

    /// The AFL++ runs' turn each tick: a run that has started fuzzing is announced
    /// (afl-fuzz prints no INITED; its `fuzzer_stats` file is the sign), its figures
    /// join the target's, and what it found so far is taken in.
    fn watch_afl_runs(&mut self) {
        let runs: Vec<RunId> = self
            .procs
            .iter()
            .filter(|(_, p)| p.afl.is_some())
            .map(|(r, _)| *r)
            .collect();
        for run in runs {
            let Some(p) = self.procs.get_mut(&run) else {
                continue;
            };
            let target = p.target.clone();
            let Some(afl) = p.afl.as_mut() else {
                continue;
            };
            let stats = afl.stats();
            let started = stats.is_some() && !afl.fuzzing;
            afl.fuzzing |= stats.is_some();
            let taken = afl.take(&self.spec.layout, &target, aflpp_runs::SETTLE);
            if let Err(e) = afl.feed(&self.spec.layout, &target) {
                self.error(format!(
                    "{target}: cannot give an AFL++ run the corpus's new entries: {e}"
                ));
            }
            if let (Some(s), Some(live)) = (&stats, self.live.get_mut(&target)) {
                live.observe_engine(run, s.execs_done, s.execs_per_sec, now_ms());
            }
            if started {
                self.apply(Input::Inited { run }, Instant::now());
            }
            match taken {
                Ok((_, artifacts)) => {
                    for path in artifacts {
                        let kept = findings::intake(
                            &self.spec.layout,
                            &self.db,
                            &target,
                            &path,
                            None,
                            now_ms(),
                        );
                        self.kept(&target, Some(run), kept);
                    }
                }
                Err(e) => self.error(format!(
                    "{target}: cannot take in an AFL++ run's finds: {e}"
                )),
            }
        }
    }

    /// An AFL++ run ended: the rest of its finds are taken in, its files go, and what it
    /// added is counted the way libFuzzer counts features — its binary replays the
    /// corpus, now with the run's finds, on a background worker ([`replay::Replay`]) —
    /// to pay its arm. Returns whether that replay started.
    fn end_afl_run(
        &mut self,
        run: RunId,
        target: &str,
        p: &mut Proc,
        mut afl: aflpp_runs::AflRun,
        at: Instant,
    ) -> bool {
        let taken = afl.take(&self.spec.layout, target, Duration::ZERO);
        let fuzzed = afl.fuzzing;
        let added: HashSet<String> = afl.added.drain(..).collect();
        if let Err(e) = afl.remove() {
            self.error(format!("{target}: cannot remove an AFL++ run's files: {e}"));
        }
        match taken {
            Ok((added, artifacts)) => {
                let label = p.arm.as_ref().map_or("aflpp".into(), Arm::label);
                let message = format!(
                    "run ended ({label}): {} new corpus entries and {} crashing inputs in its last scan, {} crashing inputs in all",
                    added,
                    artifacts.len(),
                    p.found.len() + artifacts.len()
                );
                self.log_event(Some(target), "aflpp", &message);
                for path in artifacts {
                    let kept = findings::intake(
                        &self.spec.layout,
                        &self.db,
                        target,
                        &path,
                        None,
                        now_ms(),
                    );
                    if let Ok(k) = &kept {
                        p.found.push(k.sha1.clone());
                        p.new_found += u64::from(k.new);
                    }
                    self.kept(target, None, kept);
                }
            }
            Err(e) => self.error(format!(
                "{target}: cannot take in an AFL++ run's finds: {e}"
            )),
        }
        let (Some(arm), true) = (p.arm.clone(), fuzzed) else {
            return false;
        };
        let cpu = at.saturating_duration_since(p.started);
        self.replay(run, target, arm, cpu, p.new_found, added)
    }

    /// Exchanges entries between the runs with a corpus of their own and their target's
    /// corpus, so the workers of a target reload each other's finds while they run.
    fn share_own_corpora(&mut self) {
        let layout = self.spec.layout.clone();
        let mut failed = Vec::new();
        for (run, p) in self.procs.iter_mut().filter(|(_, p)| p.replayed) {
            match p.exchange.run(&layout, &p.target, *run, aflpp_runs::SETTLE) {
                Ok(added) => p.own_added.extend(added),
                Err(e) => failed.push(format!(
                    "{}: cannot take in what a strategy run found so far: {e}",
                    p.target
                )),
            }
        }
        for message in failed {
            self.error(message);
        }
    }

    /// Starts the replay that pays run `run` of `target` (an AFL++ run, a libFuzzer run
    /// that wrote to a corpus of its own) for the corpus entries it `added`; its count
    /// comes back as an event. Returns whether it started (the arm's pay comes then).
    fn replay(
        &mut self,
        run: RunId,
        target: &str,
        arm: Arm,
        cpu: Duration,
        new_bugs: u64,
        added: HashSet<String>,
    ) -> bool {
        let Some(t) = self.spec.targets.get(target) else {
            return false;
        };
        let tx = self.tx.clone();
        let target = target.to_string();
        let spawned = replay::Replay::spawn(
            t.clone(),
            self.spec.layout.clone(),
            run,
            added,
            move |features| {
                let _ = tx.send(Event::Replayed {
                    run,
                    target,
                    arm,
                    cpu,
                    features,
                    new_bugs,
                });
            },
        );
        match spawned {
            Ok(r) => {
                self.replays.insert(run, r);
                true
            }
            Err(e) => {
                self.error(format!("cannot start a replay: {e}"));
                false
            }
        }
    }

    /// Starts worker run `run` of `target` in `slot` with `cmd` (either engine's), its
    /// output to the slot's log, in a private /tmp where the machine allows one.
    #[allow(clippy::too_many_arguments)]
    fn start(
        &mut self,
        slot: usize,
        run: RunId,
        target: String,
        cmd: fleet_engine::EngineCommand,
        memory: Option<resources::MemoryWatch>,
        arm: Option<Arm>,
        afl: Option<aflpp_runs::AflRun>,
    ) -> Option<Input> {
        let layout = &self.spec.layout;
        let t = self.spec.targets.get(&target)?;
        let mut wspec = WorkerSpec {
            program: cmd.program,
            args: cmd.args,
            env: cmd.env,
            log_path: layout.worker_log(&target, slot),
            tmp_dir: layout.worker_tmp(slot),
            hide_tmp: self.hide_tmp,
            visible: [layout.root(), t.binary.as_path()]
                .into_iter()
                .chain(t.dict.as_deref())
                .chain(t.afl.iter().flat_map(|a| {
                    [a.afl_fuzz.as_path(), a.binary.as_path()]
                        .into_iter()
                        .chain(a.cmplog.as_deref())
                }))
                .map(std::path::Path::to_path_buf)
                .collect(),
            keep_tmp: worker::keep_tmp_requested(),
            max_log_bytes: self.spec.max_log_bytes,
            memory,
        };
        let binary = wspec.program.clone();
        // The strategy in effect (the arm's, as far as the target's settings left it).
        let strategy = arm
            .as_ref()
            .filter(|a| afl.is_none() && a.engine == bandit::LIBFUZZER)
            .and_then(|a| a.strategy.parse::<Strategy>().ok());
        let value_profile = strategy.as_ref().is_some_and(|s| s.value_profile);
        let replayed = strategy.as_ref().is_some_and(Strategy::needs_run_corpus);
        // What the target's corpus holds now, such a run reads at its start: only what
        // comes later is given to it; a run from the constants is given nothing.
        let exchange = if strategy
            .as_ref()
            .is_some_and(Strategy::starts_from_constants)
        {
            strategy_files::Exchange::apart()
        } else if replayed {
            strategy_files::Exchange::starting(layout, &target).unwrap_or_else(|e| {
                self.error(format!("{target}: cannot list the corpus for a run: {e}"));
                strategy_files::Exchange::default()
            })
        } else {
            strategy_files::Exchange::default()
        };
        let mut result = worker::spawn(run, &wspec, self.tx.clone());
        if let (Err(e), true) = (&result, wspec.hide_tmp) {
            wspec.hide_tmp = false;
            let without = worker::spawn(run, &wspec, self.tx.clone());
            if without.is_ok() {
                // The private /tmp was what failed (mount namespaces refused here):
                // workers get TMPDIR only, said once.
                (self.notify)(Notice::PrivateTmpUnavailable {
                    error: e.to_string(),
                });
                self.hide_tmp = false;
            }
            result = without;
        }
        match result {
            Ok(worker) => {
                if let Some(live) = self.live.get_mut(&target) {
                    live.run_started(run, now_ms());
                }
                self.procs.insert(
                    run,
                    Proc {
                        worker,
                        target,
                        slot,
                        found: Vec::new(),
                        new_found: 0,
                        arm,
                        started: Instant::now(),
                        value_profile,
                        replayed,
                        exchange,
                        own_added: HashSet::new(),
                        afl,
                        deferred: None,
                    },
                );
                None
            }
            Err(e) => Some(Input::SpawnFailed {
                run,
                message: format!("cannot start {}: {e}", Path::new(&binary).display()),
            }),
        }
    }

    /// Minimizes a corpus on a background worker; its end comes back as an event. A
    /// stopping campaign stops it between steps (the corpus stays as it was).
    fn start_minimization(&mut self, name: String) -> Option<Input> {
        let target = self.spec.targets.get(&name).cloned()?;
        let layout = self.spec.layout.clone();
        let tx = self.tx.clone();
        let target_name = name.clone();
        let spawned = minimize::spawn(layout, target, move |outcome| {
            let _ = tx.send(Event::Minimized {
                target: target_name,
                outcome: outcome.map_err(|e| e.to_string()),
            });
        });
        match spawned {
            Ok(worker) => {
                self.minimizers.insert(name, worker);
                None
            }
            Err(e) => {
                self.error(format!("cannot start a corpus minimization: {e}"));
                let files = self.live.get(&name).map_or(0, |l| l.corpus.0);
                Some(Input::Minimized {
                    target: name,
                    files,
                })
            }
        }
    }

    fn minimized(&mut self, target: String, outcome: Result<MinimizeOutcome, String>) {
        if let Some(worker) = self.minimizers.remove(&target)
            && let Err(e) = worker.join(MINIMIZER_WAIT)
        {
            self.error(format!("corpus minimization of {target}: {e}"));
        }
        // What crashed in the merge, waiting in the incoming dir: findings now.
        self.sweep(&target, false, None);
        let files = match &outcome {
            Ok(o) if o.replaced => o.files_after,
            Ok(o) => o.files_before,
            // A failed merge is not retried until the corpus has grown again.
            Err(_) => self.live.get(&target).map_or(0, |l| l.corpus.0),
        };
        if let Some(live) = self.live.get_mut(&target) {
            live.corpus.0 = files;
        }
        let message = match &outcome {
            Ok(o) => format!(
                "{} -> {} files, {} -> {} features, {}",
                o.files_before,
                o.files_after,
                o.features_before,
                o.features_after,
                if o.replaced {
                    "replaced"
                } else {
                    "kept the old corpus"
                }
            ),
            Err(e) => e.clone(),
        };
        self.log_event(Some(&target), "minimize", &message);
        (self.notify)(Notice::Minimized {
            target: target.clone(),
            outcome,
        });
        self.apply(Input::Minimized { target, files }, Instant::now());
    }

    fn tick(&mut self, now: Instant) {
        self.apply(Input::Tick, now);
        if self.core.stopping().is_some() {
            return;
        }
        let running: BTreeSet<String> =
            self.core.running().map(|(_, _, t)| t.to_string()).collect();
        for target in &running {
            self.sweep(target, true, None);
        }
        self.watch_afl_runs();
        self.share_own_corpora();
        self.harvest_next(now);
        self.guard_resources(now);
        if now.duration_since(self.last_flush) >= FLUSH_EVERY {
            self.last_flush = now;
            self.flush(now);
            let live_pids: HashSet<i32> =
                self.procs.values().map(|p| p.worker.pid.as_raw()).collect();
            process::reap_orphans(&live_pids);
        }
        let mut workers = 0;
        for (_, _, target) in self.core.running() {
            workers += 1;
            if !self.progress_ran.contains(target) {
                self.progress_ran.insert(target.to_string());
            }
        }
        self.progress_workers = self.progress_workers.max(workers);
        if self.core.stopping().is_none()
            && self
                .spec
                .progress_every
                .is_some_and(|every| now.duration_since(self.progress_at) >= every)
        {
            self.progress(now);
        }
        if now.duration_since(self.last_compact) >= COMPACT_EVERY {
            self.last_compact = now;
            if let Err(e) = self.db.compact_samples(now_ms()) {
                self.error(e.to_string());
            }
        }
    }

    /// Writes every target's figures, a sample for each running one, and the schedule.
    fn flush(&mut self, now: Instant) {
        self.measure(now);
        self.apply(Input::Checkpoint, now);
        self.flush_figures(now);
    }

    /// Tells the core what each target has now: the schedule measures slices by it.
    fn measure(&mut self, now: Instant) {
        let measured: Vec<(String, Measure)> = self
            .live
            .iter()
            .map(|(t, l)| {
                let measure = Measure {
                    features: l.features(),
                    loaded: l.loaded_features(),
                    bugs: self.bugs.get(t).copied().unwrap_or(0),
                };
                (t.clone(), measure)
            })
            .collect();
        for (target, measure) in measured {
            self.apply(Input::Measured { target, measure }, now);
        }
    }

    /// Writes every target's figures and a sample for each running one.
    fn flush_figures(&mut self, now: Instant) {
        let mut workers: BTreeMap<String, i64> = BTreeMap::new();
        for (_, _, target) in self.core.running() {
            *workers.entry(target.to_string()).or_default() += 1;
        }
        let at = now_ms();
        let rescan = self
            .last_corpus_scan
            .is_none_or(|t| now.duration_since(t) >= CORPUS_SCAN_EVERY);
        if rescan {
            self.last_corpus_scan = Some(now);
        }
        let layout = &self.spec.layout;
        let live = &mut self.live;
        let result = self.db.batch(|db| {
            for (name, l) in live.iter_mut() {
                let n = workers.get(name.as_str()).copied().unwrap_or(0);
                if rescan {
                    l.corpus = corpus::size(&layout.corpus_dir(name));
                }
                l.sample_rate(n, at);
                let record = l.record(n, at);
                db.put_target(&record)?;
                db.put_target_rates(&l.rates(at))?;
                if n > 0 {
                    db.put_sample(&TargetLive::sample(&record, at))?;
                }
            }
            Ok(())
        });
        if let Err(e) = result {
            self.error(e.to_string());
        }
        self.publish_errors();
        self.publish_portfolio();
        if rescan {
            let counts: Vec<(String, u64)> = self
                .live
                .iter()
                .map(|(n, l)| (n.clone(), l.corpus.0))
                .collect();
            for (target, files) in counts {
                self.apply(Input::CorpusCounted { target, files }, now);
            }
        }
    }

    /// The resource guard's turn: alerts, and the disk pause (workers stopped, schedule
    /// kept, recreatable files pruned once they are gone) until space returns.
    fn guard_resources(&mut self, now: Instant) {
        let pids: Vec<i32> = self.procs.values().map(|p| p.worker.pid.as_raw()).collect();
        for r in self.resources.check(now, &pids, &self.db) {
            (self.notify)(Notice::Resource { message: r.text() });
        }
        let paused = self.resources.paused();
        if paused != self.paused {
            self.paused = paused;
            if let Some(t) = &self.triage {
                t.pause(paused);
            }
            self.apply(Input::DiskPaused(paused), now);
        }
        if paused && pids.is_empty() && self.resources.wants_prune() {
            let p = self.resources.prune(&self.db);
            (self.notify)(Notice::Resource {
                message: format!(
                    "disk full: pruned {} files ({} KB: rotated worker logs, worker temp dirs) and {} old stats samples; corpora and findings untouched",
                    p.files,
                    p.bytes >> 10,
                    p.samples
                ),
            });
        }
        self.resources.publish(&self.db);
        for message in self.resources.take_errors() {
            self.error(message);
        }
    }

    fn finish(mut self, rx: &Receiver<Event>) -> Summary {
        let reason = self.core.stopping().unwrap_or(StopReason::Signal);
        let names: Vec<String> = self.spec.targets.keys().cloned().collect();
        for name in &names {
            self.sweep(name, false, None);
        }
        // Workers whose exit was never reported (a stuck process) are not waited for,
        // but their time is accounted and their state shown as stopped.
        let now = Instant::now();
        self.apply(Input::Finish, now);
        self.last_corpus_scan = None;
        for (run, p) in std::mem::take(&mut self.procs) {
            if let Some(live) = self.live.get_mut(&p.target) {
                live.run_ended(run, now_ms());
            }
        }
        for live in self.live.values_mut() {
            live.stop();
        }
        self.flush(now);
        // A worker stopped mid-write leaves an entry whose name is not its content's hash;
        // no worker writes now, so it is renamed to what it holds before the last sync.
        for name in &names {
            if let Err(e) = corpus::repair(&self.spec.layout.corpus_dir(name)) {
                self.error(format!("cannot check the corpus of {name}: {e}"));
            }
        }
        // A replay still running is cancelled: the run it measures is not paid.
        let replays = std::mem::take(&mut self.replays);
        for r in replays.values() {
            r.stop();
        }
        let until = Instant::now() + REPLAY_WAIT;
        for (run, r) in replays {
            if let Err(e) = r.join(until.saturating_duration_since(Instant::now())) {
                self.error(format!("replay of run {run}: {e}"));
            }
        }
        // A minimization still running stops between its steps; its corpus stays.
        for (target, worker) in std::mem::take(&mut self.minimizers) {
            worker.stop();
            if let Err(e) = worker.join(MINIMIZER_WAIT) {
                self.error(format!("corpus minimization of {target}: {e}"));
            }
        }
        if let Some(triage) = self.triage.take() {
            self.final_triage(triage, rx);
        }
        if let Some(hub) = self.hub.take() {
            // The last findings reach the hub, within the stop's time limit.
            if let Some(e) = hub.finish(HUB_FINAL_SYNC_WAIT) {
                self.error(format!("hub sync: {e}"));
            }
            // A last round that failed is said.
            while let Ok(ev) = rx.try_recv() {
                if let Event::HubSynced(o) = ev
                    && let Some(e) = o.error
                {
                    self.error(format!("hub: {e}"));
                }
            }
        }
        if let Some(n) = self.notifier.take()
            && let Some(e) = n.finish(WEBHOOK_FINAL_WAIT)
        {
            self.error(format!("webhook: {e}"));
        }
        self.resources.finish(&self.db, HUB_FINAL_SYNC_WAIT);
        for message in self.resources.take_errors() {
            self.error(message);
        }
        self.publish_errors();
        Summary {
            reason,
            new_findings: self.new_findings,
            failed: self.core.failed().clone(),
        }
    }
}

impl Campaign<'_> {
    /// Says an error, once while it repeats (then its count), and counts it for
    /// `status` (published with the next flush).
    fn error(&mut self, message: String) {
        self.error_count += 1;
        self.last_error = Some(message.clone());
        self.last_error_at = Some(now_ms());
        for line in self.errors.admit(&message, Instant::now()) {
            (self.notify)(Notice::Error { message: line });
        }
    }

    /// Writes what each target's bandit favours now and why where `status` reads it.
    fn publish_portfolio(&mut self) {
        if !self.portfolio_dirty {
            return;
        }
        let bandits: BTreeMap<&String, Vec<bandit::ArmView>> = self
            .core
            .bandits()
            .iter()
            .map(|(t, b)| (t, b.explain()))
            .collect();
        let doc = serde_json::json!({
            "shares": self.core.shares(),
            "bandits": bandits,
        });
        let json = doc.to_string();
        match self.db.put_meta(PORTFOLIO_META, &json, now_ms()) {
            Ok(()) => self.portfolio_dirty = false,
            Err(e) => self.error(format!("cannot save the strategies' payoffs: {e}")),
        }
    }

    /// Writes the errors counted so far where `status` reads them, when there are new ones.
    fn publish_errors(&mut self) {
        if self.error_count == self.published_errors {
            return;
        }
        let doc = serde_json::json!({
            "count": self.error_count,
            "last": self.last_error,
            "last_at": self.last_error_at.map(fleet_store::rfc3339),
        });
        match self.db.put_meta(ERRORS_META, &doc.to_string(), now_ms()) {
            Ok(()) => self.published_errors = self.error_count,
            // Said once while it repeats; the count is published with a later flush.
            Err(e) => {
                let line = format!("cannot save the error count: {e}");
                for line in self.errors.admit(&line, Instant::now()) {
                    (self.notify)(Notice::Error { message: line });
                }
            }
        }
    }

    /// Records an event in the database; a failure is said (once while it repeats).
    fn log_event(&mut self, target: Option<&str>, kind: &str, message: &str) {
        if let Err(e) = self.db.log_event(now_ms(), target, kind, message) {
            self.error(format!("cannot record a {kind} event: {e}"));
        }
    }

    /// Gives the periodic one-line summary and starts counting again.
    fn progress(&mut self, now: Instant) {
        let secs = now.duration_since(self.progress_at).as_secs_f64();
        self.progress_at = now;
        let mut new_features = 0;
        for (name, live) in &self.live {
            let now_features = live.features().unwrap_or(0);
            let before = self
                .progress_features
                .insert(name.clone(), now_features)
                .unwrap_or(now_features);
            new_features += now_features.saturating_sub(before);
        }
        let execs: u64 = self.live.values().map(TargetLive::execs).sum();
        let before = std::mem::replace(&mut self.progress_execs, execs);
        let execs_per_sec = if secs > 0.0 {
            execs.saturating_sub(before) as f64 / secs
        } else {
            0.0
        };
        let p = Progress {
            running: std::mem::take(&mut self.progress_ran).into_iter().collect(),
            workers: std::mem::take(&mut self.progress_workers),
            execs_per_sec,
            new_features,
            new_bugs: std::mem::take(&mut self.progress_bugs),
            artifacts: std::mem::take(&mut self.progress_artifacts),
            next: self.core.next_step(now),
        };
        (self.notify)(Notice::Progress(p));
    }

    /// The workers are gone: what they found is filed and new bugs reproduced, within
    /// the deadline, before the campaign ends; a second Ctrl-C cuts it short. What is not
    /// done is taken up by the next campaign or `crashes triage`.
    fn final_triage(&mut self, triage: crate::triage::TriageThread, rx: &Receiver<Event>) {
        let configured = self.spec.triage.as_ref().map(|t| t.final_deadline);
        if let Some(deadline) = final_triage_deadline(
            configured,
            self.core.stop_signal(),
            self.hurry || self.core.hurry(),
        ) {
            if !deadline.is_zero() {
                (self.notify)(Notice::FinalTriage { deadline });
            }
            let until = Instant::now() + deadline;
            triage.drain(until);
            while !triage.is_finished() && Instant::now() < until + TRIAGE_DRAIN_SLACK {
                match rx.recv_timeout(TICK) {
                    Ok(Event::Signal(sig)) if sig != libc::SIGHUP => {
                        self.hurry = true;
                        (self.notify)(Notice::FinalTriageSkipped);
                        break;
                    }
                    Ok(ev @ (Event::Triage(_) | Event::Webhook(_))) => self.handle(ev),
                    Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
        }
        for e in triage.finish(TRIAGE_FINAL_WAIT) {
            // A reproduction cut off at the stop is left for the next run (the stop's
            // summary counts it); a panic is an error.
            if matches!(e, crate::background::JoinError::Panicked { .. }) {
                self.error(format!("triage: {e}"));
            }
        }
        // News the pipeline sent while the loop was ending still reaches the user and
        // the webhook (a bug is announced once: now or never).
        while let Ok(ev) = rx.try_recv() {
            if matches!(ev, Event::Triage(_) | Event::Webhook(_)) {
                self.handle(ev);
            }
        }
    }

    /// A report the worker's output ended without an artifact for, or one the target
    /// recovered from. The first is a finding lost (its worker was stopped while writing
    /// it): said, logged and counted. The second is kept as a finding of its own kind.
    fn report_without_artifact(&mut self, target: &str, msg: WorkerMsg) {
        match msg {
            WorkerMsg::LostReport { report } => {
                let message = format!(
                    "{target}: finding lost: a failure report with no input written after it (the worker ended while writing it): {}",
                    fleet_engine::libfuzzer::headline(&report)
                );
                self.log_event(Some(target), "lost-finding", &message);
                if let Some(live) = self.live.get_mut(target) {
                    live.lost_findings += 1;
                }
                self.error(message);
            }
            WorkerMsg::Recoverable {
                location,
                message,
                report,
            } => {
                let class = fleet_crash::classify_recoverable(&location, &message);
                let kept = findings::intake_recoverable(
                    &self.spec.layout,
                    &self.db,
                    target,
                    &class.key,
                    &report,
                    now_ms(),
                );
                self.kept(target, None, kept);
            }
            _ => {}
        }
    }
}

/// A target as unit tests run it: `binary`, small limits, nothing else set.
#[cfg(test)]
pub(crate) fn test_target(name: &str, binary: impl Into<PathBuf>) -> CampaignTarget {
    CampaignTarget {
        name: name.into(),
        binary: binary.into(),
        seeds: None,
        dict: None,
        rss_limit_mb: 2048,
        timeout_s: 5,
        max_len: None,
        extra_args: Vec::new(),
        env: Vec::new(),
        afl: None,
    }
}

/// A state dir for a unit test under the repository's `target/test-tmp` (never the
/// machine's `/tmp`), with target `t`'s corpus dir made.
#[cfg(test)]
pub(crate) fn test_layout(name: &str) -> (tempfile::TempDir, Layout) {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-tmp");
    std::fs::create_dir_all(&base).unwrap();
    let dir = tempfile::Builder::new()
        .prefix(name)
        .tempdir_in(base)
        .unwrap();
    let layout = Layout::new(dir.path());
    std::fs::create_dir_all(layout.corpus_dir("t")).unwrap();
    (dir, layout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_triages_for_its_deadline_sigterm_files_only_and_a_second_ctrl_c_skips() {
        let thirty = Some(Duration::from_secs(30));
        assert_eq!(final_triage_deadline(thirty, None, false), thirty);
        assert_eq!(
            final_triage_deadline(thirty, Some(libc::SIGINT), false),
            thirty
        );
        assert_eq!(
            final_triage_deadline(thirty, Some(libc::SIGTERM), false),
            Some(Duration::ZERO)
        );
        assert_eq!(
            final_triage_deadline(thirty, Some(libc::SIGINT), true),
            None
        );
        assert_eq!(
            final_triage_deadline(None, None, false),
            Some(Duration::ZERO)
        );
    }
}
