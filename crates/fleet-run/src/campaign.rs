//! The campaign dispatcher: one loop that owns every piece of campaign state (worker
//! slots, tier positions, live stats) and reacts to one event queue (worker messages,
//! signals) and its own deadlines (tier budgets, stop grace, stats flushes).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use fleet_store::{Db, Layout, StoreError, now_ms};
use nix::sys::signal::Signal;

use crate::events::{Event, RunId, WorkerExit, WorkerMsg};
use crate::findings::{self, Kept};
use crate::minimize::{self, MinimizeOutcome};
use crate::output::{self, ExitKind, ExtraFlag, LibFuzzerOptions};
use crate::schedule::{Assignment, Rotation, TierSpec, TierState};
use crate::stats::TargetLive;
use crate::worker::{self, Worker, WorkerSpec};
use crate::{corpus, process, resources};

/// How often settled artifacts are swept and deadlines checked without an event.
const TICK: Duration = Duration::from_secs(1);
/// How often stats, samples and the schedule reach the database (a sample row per 10 s
/// is kept; flushes within the same 10 s replace it).
const FLUSH_EVERY: Duration = Duration::from_secs(2);
/// How often corpus directories are counted (a scan of every entry).
const CORPUS_SCAN_EVERY: Duration = Duration::from_secs(10);
/// How often old samples are folded.
const COMPACT_EVERY: Duration = Duration::from_secs(3600);
/// A worker that ended sooner than this after starting waits this long before its
/// restart, so a target that exits at once cannot spin the machine.
const QUICK_EXIT: Duration = Duration::from_secs(1);
/// How long a stopping campaign waits for the triage thread's current step.
const TRIAGE_FINAL_WAIT: Duration = Duration::from_secs(2);
/// After the triage deadline, how long a reproduction still running may take to notice.
const TRIAGE_DRAIN_SLACK: Duration = Duration::from_secs(2);
/// How long a stopping campaign waits for queued webhook messages.
const WEBHOOK_FINAL_WAIT: Duration = Duration::from_secs(5);
/// How long a stopping campaign waits for its last hub sync.
const HUB_FINAL_SYNC_WAIT: Duration = Duration::from_secs(4);
/// After the stop grace, how much longer shutdown waits for process exits to be reported.
const SHUTDOWN_SLACK: Duration = Duration::from_secs(3);

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
}

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

/// A target that has run this long without a break is paused for its minimization;
/// others are minimized while they wait for their turn.
const PAUSE_FOR_MINIMIZE_AFTER: Duration = Duration::from_secs(1800);

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
    /// Targets with workers now.
    pub running: Vec<String>,
    pub workers: usize,
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

struct Running {
    worker: Worker,
    target: String,
    inited_at: Option<Instant>,
    /// Hashes of the findings this run produced (a crash before INITED names the seed).
    found: Vec<String>,
    /// When the slot's assignment ends, if the worker was told to end by itself then
    /// (`-max_total_time`).
    ends_at: Option<Instant>,
}

/// The shortest turn a worker is told to end by itself (`-max_total_time`); a shorter one
/// is left to the campaign's stop.
const MIN_SELF_ENDED_TURN: Duration = Duration::from_secs(1);

/// The `-max_total_time` of a worker whose slot's assignment ends at `end`, so libFuzzer
/// ends its loop itself — between inputs, never in the middle of writing a crash, with
/// its final stats and recommended dictionary printed — just before the campaign would
/// stop it. libFuzzer ends once the whole seconds since its start *exceed* the value
/// (FuzzerLoop.cpp, `TimedOut`), so a worker given N ends N + 1 s after it started: N is
/// the whole seconds left, less one. `None`: no known end, or too close to bother.
pub(crate) fn self_ended_turn(end: Option<Instant>, now: Instant) -> Option<Duration> {
    let left = end?.checked_duration_since(now)?;
    let secs = left.as_secs().checked_sub(1)?;
    (secs >= MIN_SELF_ENDED_TURN.as_secs()).then(|| Duration::from_secs(secs))
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

/// Whether a worker's exit is the end of its turn it was told to take (`-max_total_time`
/// reached: exit 0 after fuzzing, at most a little early), not a reason to restart it.
pub(crate) fn ended_its_turn(
    code: Option<i32>,
    saw_inited: bool,
    ends_at: Option<Instant>,
    now: Instant,
) -> bool {
    code == Some(0) && saw_inited && ends_at.is_some_and(|e| now + Duration::from_secs(2) >= e)
}

#[derive(Default)]
struct Slot {
    /// What this slot should be running.
    target: Option<String>,
    worker: Option<Running>,
    stop_deadline: Option<Instant>,
    restart_at: Option<Instant>,
    /// Time up to which this slot's time is credited to its target (see `account`).
    accounted_at: Option<Instant>,
}

struct TierRun {
    spec: TierSpec,
    state: TierState,
    current: Vec<Assignment>,
    until: Option<Instant>,
    credited_at: Instant,
    /// The worker slots this tier owns; empty while it waits for its turn.
    slots: Vec<usize>,
}

/// Tiers taking turns (see [`Rotation`]).
struct TurnRun {
    rotation: Rotation,
    /// When the current turn ends.
    until: Instant,
    credited_at: Instant,
    /// The running tiers as last announced.
    announced: Vec<usize>,
}

/// The schedule table's row for the rotation's state (tier names cannot have parentheses).
const ROTATION_ROW: &str = "(rotation)";

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

struct Campaign<'n> {
    spec: CampaignSpec,
    db: Db,
    tx: Sender<Event>,
    notify: &'n mut dyn FnMut(Notice),
    slots: Vec<Slot>,
    tiers: Vec<TierRun>,
    runs: HashMap<RunId, usize>,
    next_run: RunId,
    live: BTreeMap<String, TargetLive>,
    failed: BTreeMap<String, String>,
    hide_tmp: bool,
    started: Instant,
    stopping: Option<(StopReason, Instant)>,
    /// A second Ctrl-C came: no more grace, no triage at the end.
    hurry: bool,
    /// The signal that stopped the campaign, if one did.
    stop_signal: Option<i32>,
    /// Targets just given workers, announced when the first of them is fuzzing.
    starting: BTreeMap<String, usize>,
    /// The last progress line, and what it counted then.
    progress_at: Instant,
    progress_features: BTreeMap<String, u64>,
    progress_bugs: usize,
    progress_artifacts: usize,
    /// Whether the triage thread was last told the disk is full.
    triage_paused: bool,
    new_findings: usize,
    last_flush: Instant,
    last_corpus_scan: Option<Instant>,
    last_compact: Instant,
    /// Targets whose corpus is being minimized (or waits for its workers to stop first),
    /// with whether the background job has started.
    minimizing: BTreeMap<String, bool>,
    /// Corpus files after each target's last minimization (or at the start).
    minimized_at_files: BTreeMap<String, u64>,
    /// Since when each target has had workers without a break.
    assigned_since: BTreeMap<String, Instant>,
    hub: Option<crate::hubsync::SyncThread>,
    triage: Option<crate::triage::TriageThread>,
    notifier: Option<crate::notify::Notifier>,
    resources: resources::Guard,
    turns: Option<TurnRun>,
    /// Errors said once, their repeats counted.
    errors: crate::repeats::Repeats,
    /// Errors met where `error` could not be called (a tier borrowed), said next tick.
    unsaid: Vec<String>,
}

impl<'n> Campaign<'n> {
    fn new(
        spec: CampaignSpec,
        tx: Sender<Event>,
        notify: &'n mut dyn FnMut(Notice),
    ) -> Result<Self, CampaignError> {
        let db = Db::open(&spec.layout.db_path())?;
        let now = Instant::now();
        let mut rotation = Rotation::needed(spec.slots, &spec.tiers, spec.tier_slice);
        if let Some(r) = &mut rotation
            && let Some(saved) = db.load_schedule(ROTATION_ROW)?
        {
            // Turns resume where they were: time had is kept by tier name.
            let had: BTreeMap<String, u64> = serde_json::from_str(&saved.state).unwrap_or_default();
            // A tier new to the rotation joins level with the one furthest behind, not
            // with none of the others' history.
            let least = spec
                .tiers
                .iter()
                .filter_map(|t| had.get(&t.name).copied())
                .min()
                .unwrap_or(0);
            for (i, t) in spec.tiers.iter().enumerate() {
                r.ran_ms[i] = had.get(&t.name).copied().unwrap_or(least);
            }
        }
        let mut slot_count = 0;
        let mut tiers = Vec::new();
        for t in &spec.tiers {
            let saved = db.load_schedule(&t.name)?;
            let mut state = TierState::from_json(saved.as_ref().map(|r| r.state.as_str()));
            t.resume(&mut state);
            let mut t = t.clone();
            let owned = if rotation.is_some() {
                // Slots are handed out turn by turn; a tier never gets more than exist.
                t.workers = t.workers.min(spec.slots);
                Vec::new()
            } else {
                (slot_count..slot_count + t.workers).collect()
            };
            slot_count += owned.len();
            tiers.push(TierRun {
                spec: t,
                state,
                current: Vec::new(),
                until: None,
                credited_at: now,
                slots: owned,
            });
        }
        if rotation.is_some() {
            slot_count = spec.slots;
        }
        let slots = (0..slot_count).map(|_| Slot::default()).collect();
        let turns = rotation.map(|rotation| TurnRun {
            rotation,
            until: now,
            credited_at: now,
            announced: Vec::new(),
        });
        // Every reader of the state shows each target's place in these tiers.
        let tiers_json = serde_json::to_string(
            &spec
                .tiers
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
        // Every worker gets a private /tmp wherever the state dir is (what it needs under
        // /tmp is bound back inside); where mount namespaces are refused, the first
        // spawn says so and the workers get TMPDIR only.
        let hide_tmp = true;
        Ok(Self {
            spec,
            db,
            tx,
            notify,
            slots,
            tiers,
            runs: HashMap::new(),
            next_run: 1,
            live,
            failed: BTreeMap::new(),
            hide_tmp,
            started: now,
            stopping: None,
            hurry: false,
            stop_signal: None,
            starting: BTreeMap::new(),
            progress_at: now,
            progress_features: BTreeMap::new(),
            progress_bugs: 0,
            progress_artifacts: 0,
            triage_paused: false,
            new_findings: 0,
            last_flush: now,
            last_corpus_scan: None,
            minimizing: BTreeMap::new(),
            minimized_at_files: BTreeMap::new(),
            assigned_since: BTreeMap::new(),
            hub: None,
            triage: None,
            notifier: None,
            resources: guard,
            last_compact: now - COMPACT_EVERY,
            turns,
            errors: crate::repeats::Repeats::default(),
            unsaid: Vec::new(),
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
        for name in &names {
            self.sweep(name, false, None);
            let files = corpus::size(&layout.corpus_dir(name)).0;
            self.minimized_at_files.insert(name.clone(), files);
        }
        Ok(())
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
        if self.turns.is_some() {
            self.take_turns(now);
        } else {
            for i in 0..self.tiers.len() {
                self.decide(i, now);
            }
        }
        self.check_all_idle();
        let mut last_tick = now;
        loop {
            // Wake for a due restart as for any other deadline, not on the next tick.
            let wait = self
                .slots
                .iter()
                .filter_map(|s| s.restart_at)
                .min()
                .map_or(TICK, |t| {
                    t.saturating_duration_since(Instant::now()).min(TICK)
                });
            match rx.recv_timeout(wait) {
                Ok(ev) => self.handle(ev),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            let now = Instant::now();
            if let Some((_, deadline)) = self.stopping
                && (self.slots.iter().all(|s| s.worker.is_none())
                    || now > deadline + SHUTDOWN_SLACK)
            {
                break;
            }
            if self.stopping.is_none() {
                self.restart_due(now);
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
                }
                (self.notify)(Notice::Triage(e));
            }
            Event::Webhook(d) => (self.notify)(Notice::Webhook(d)),
            Event::Signal(sig) => match self.stopping {
                None if sig == libc::SIGHUP && self.spec.reload_on_hup => {
                    self.begin_stop(StopReason::Reload)
                }
                None => {
                    self.stop_signal = Some(sig);
                    self.begin_stop(StopReason::Signal)
                }
                // A reload asked twice is one reload.
                Some(_) if sig == libc::SIGHUP => {}
                // A second Ctrl-C: no more grace, and no triage at the end.
                Some(_) => {
                    self.hurry = true;
                    for s in &self.slots {
                        if let Some(r) = &s.worker {
                            r.worker.signal(Signal::SIGKILL);
                        }
                    }
                }
            },
            Event::Minimized { target, outcome } => self.minimized(target, outcome),
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
            Event::Worker(run, msg) => {
                let Some(&slot) = self.runs.get(&run) else {
                    return;
                };
                self.worker_msg(slot, run, msg);
            }
        }
    }

    fn worker_msg(&mut self, slot: usize, run: RunId, msg: WorkerMsg) {
        let Some(target) = self.slots[slot].worker.as_ref().map(|r| r.target.clone()) else {
            return;
        };
        match msg {
            WorkerMsg::Inited => {
                if let Some(r) = &mut self.slots[slot].worker {
                    r.inited_at = Some(Instant::now());
                }
                if let Some(workers) = self.starting.remove(&target) {
                    (self.notify)(Notice::TargetStarted { target, workers });
                }
            }
            WorkerMsg::Status(status) => {
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
                    self.kept(&target, Some(slot), kept);
                } else {
                    // Swept before its report was complete (a timeout's stack comes after
                    // its file): the report joins the finding the sweep made.
                    findings::late_report(&self.spec.layout, &target, &path, &report);
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
            WorkerMsg::Exited(exit) => self.exited(slot, run, exit),
        }
    }

    fn kept(
        &mut self,
        target: &str,
        slot: Option<usize>,
        kept: Result<Kept, findings::IntakeError>,
    ) {
        match kept {
            Ok(k) => {
                self.progress_artifacts += 1;
                if let Some(r) = slot.and_then(|s| self.slots[s].worker.as_mut()) {
                    r.found.push(k.sha1.clone());
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

    fn sweep(&mut self, target: &str, settled_only: bool, slot: Option<usize>) {
        let results = findings::sweep(&self.spec.layout, &self.db, target, settled_only, now_ms());
        for r in results {
            self.kept(target, slot, r);
        }
    }

    fn exited(&mut self, slot: usize, run: RunId, exit: WorkerExit) {
        self.runs.remove(&run);
        // Artifacts written just before the end belong to this run.
        let target = self.slots[slot]
            .worker
            .as_ref()
            .map(|r| r.target.clone())
            .unwrap_or_default();
        // Another worker of the target may be writing its artifact right now (a timeout
        // prints its stack after the file): only settled files are swept while one runs.
        let others = self
            .slots
            .iter()
            .enumerate()
            .any(|(i, s)| i != slot && s.worker.as_ref().is_some_and(|r| r.target == target));
        self.sweep(&target, others, Some(slot));
        let Some(running) = self.slots[slot].worker.take() else {
            return;
        };
        running.worker.reap();
        if let Some((message, tell)) =
            self.resources
                .worker_ended(&target, run, exit.memory.as_ref())
        {
            self.log_event(Some(&target), "memory-limit", &message);
            if tell {
                (self.notify)(Notice::Resource { message });
            }
        }
        let now = exit.at;
        self.account_slot(slot, Some(&running), now);
        if let Some(live) = self.live.get_mut(&target) {
            live.run_ended(run);
        }
        let s = &mut self.slots[slot];
        let was_stopping = s.stop_deadline.take().is_some();
        if self.stopping.is_some() {
            return;
        }
        if was_stopping {
            // A planned stop: start whatever the slot should run now.
            if s.target.is_some() {
                self.spawn(slot);
            }
            return;
        }
        if ended_its_turn(exit.code, exit.saw_inited, running.ends_at, now) {
            // Its turn is over: the next decision (due now) says what the slot runs next;
            // if it keeps the same target, the slot starts it again then.
            self.slots[slot].restart_at = running.ends_at;
            return;
        }
        let how = output::classify_exit(exit.code, exit.signal);
        if !exit.saw_inited {
            let corpus = self.spec.layout.corpus_dir(&target);
            let quarantine = self.spec.layout.quarantine_dir(&target);
            let mut set_aside = 0;
            for sha1 in &running.found {
                if corpus::quarantine(&corpus, &quarantine, sha1).unwrap_or(false) {
                    set_aside += 1;
                    self.log_event(Some(&target), "seed-set-aside", sha1);
                    (self.notify)(Notice::SeedSetAside {
                        target: target.clone(),
                        sha1: sha1.clone(),
                    });
                }
            }
            if set_aside == 0 {
                let message = failure_message(&how, &exit.tail, !running.found.is_empty());
                self.fail_target(&target, message);
                return;
            }
        }
        if let Some(live) = self.live.get_mut(&target) {
            live.restarts += 1;
        }
        self.log_event(Some(&target), "restart", &how.to_string());
        (self.notify)(Notice::Restarted {
            target: target.clone(),
            slot,
            how: how.to_string(),
        });
        // Only a worker that never got to fuzz waits before its restart: one that fuzzed
        // and hit a bug goes straight back (a recurring bug must not cost uptime).
        if !exit.saw_inited && now.duration_since(running.worker.started) < QUICK_EXIT {
            self.slots[slot].restart_at = Some(Instant::now() + QUICK_EXIT);
        } else {
            self.spawn(slot);
        }
    }

    fn fail_target(&mut self, target: &str, message: String) {
        self.starting.remove(target);
        self.log_event(Some(target), "failed", &message);
        (self.notify)(Notice::TargetFailed {
            target: target.to_string(),
            message: message.clone(),
        });
        if let Some(live) = self.live.get_mut(target) {
            live.fail(message.clone());
        }
        self.failed.insert(target.to_string(), message);
        // Every tier running the target moves on without it.
        let now = Instant::now();
        let tiers: Vec<usize> = (0..self.tiers.len())
            .filter(|&i| self.tiers[i].current.iter().any(|a| a.target == target))
            .collect();
        for i in tiers {
            self.decide(i, now);
        }
        self.check_all_idle();
    }

    fn check_all_idle(&mut self) {
        if self.stopping.is_none() && self.slots.iter().all(|s| s.target.is_none()) {
            // A waiting tier may have something to run: the turn ends early. One whose
            // targets are being minimized runs when the minimization ends.
            if self.turns.is_some()
                && (self.take_turns(Instant::now()) || !self.minimizing.is_empty())
            {
                return;
            }
            let all_finished = self.tiers.iter().all(|t| t.state.finished);
            self.begin_stop(if all_finished && self.spec.once {
                StopReason::CycleDone
            } else {
                StopReason::NothingToRun
            });
        }
    }

    fn credit(&mut self, tier: usize, now: Instant) {
        let paused = self.resources.paused();
        let t = &mut self.tiers[tier];
        // Time paused for a full disk is not spent from any target's budget.
        let elapsed = if paused {
            Duration::ZERO
        } else {
            now.duration_since(t.credited_at)
        };
        t.state.credit(&t.current, elapsed);
        t.credited_at = now;
    }

    /// Credits slot `s`'s time since it was last accounted to its target: all of it as
    /// slot time, the part after libFuzzer's INITED as fuzzing time (uptime's numerator).
    fn account_slot(&mut self, s: usize, running: Option<&Running>, now: Instant) {
        let slot = &self.slots[s];
        let running = running.or(slot.worker.as_ref());
        let since = slot.accounted_at.unwrap_or(now);
        let target = running
            .map(|r| r.target.clone())
            .or_else(|| slot.target.clone());
        if let Some(live) = target.and_then(|t| self.live.get_mut(&t)) {
            live.slot_ms += now.saturating_duration_since(since).as_millis() as u64;
            if let Some(inited) = running.and_then(|r| r.inited_at) {
                live.fuzz_ms += now.saturating_duration_since(since.max(inited)).as_millis() as u64;
            }
        }
        let assigned = self.slots[s].target.is_some() || self.slots[s].worker.is_some();
        self.slots[s].accounted_at = assigned.then_some(now);
    }

    fn account(&mut self, now: Instant) {
        for s in 0..self.slots.len() {
            self.account_slot(s, None, now);
        }
    }

    /// Targets the schedule must skip now: failed ones and those being minimized.
    fn not_runnable(&self) -> BTreeSet<String> {
        self.failed
            .keys()
            .chain(self.minimizing.keys())
            .cloned()
            .collect()
    }

    /// Asks the schedule what tier `i` runs now and moves its slots accordingly.
    fn decide(&mut self, i: usize, now: Instant) {
        self.account(now);
        self.credit(i, now);
        let skip = self.not_runnable();
        let t = &mut self.tiers[i];
        if t.slots.is_empty() {
            // Waiting for its turn (or a tier without workers): nothing runs.
            t.current.clear();
            t.until = None;
            return;
        }
        let decision = t.spec.decide(&mut t.state, &skip, self.spec.once);
        t.until = decision.for_duration.map(|d| now + d);
        t.current = decision.run;
        if let Err(e) = self
            .db
            .save_schedule(&t.spec.name, &t.state.to_json(), now_ms())
        {
            self.unsaid
                .push(format!("cannot save tier {}'s schedule: {e}", t.spec.name));
        }
        if t.current.is_empty()
            && let Some(turns) = &mut self.turns
        {
            // Nothing left to run in its turn: the others need not wait for the slice.
            turns.until = now;
        }
        // The slots' wanted targets, keeping a slot on its target where possible.
        let range = t.slots.clone();
        let mut wanted: Vec<String> = t
            .current
            .iter()
            .flat_map(|a| std::iter::repeat_n(a.target.clone(), a.workers))
            .collect();
        let mut changed = Vec::new();
        for &s in &range {
            let keep = self.slots[s]
                .target
                .as_ref()
                .and_then(|cur| wanted.iter().position(|w| w == cur));
            match keep {
                Some(pos) => {
                    wanted.remove(pos);
                }
                None => changed.push(s),
            }
        }
        let started: BTreeSet<String> = wanted.iter().cloned().collect();
        for s in changed {
            let next = if wanted.is_empty() {
                None
            } else {
                Some(wanted.remove(0))
            };
            self.slots[s].target = next.clone();
            self.slots[s].restart_at = None;
            if self.slots[s].worker.is_some() {
                self.stop_slot(s, now);
            } else if next.is_some() {
                self.spawn(s);
            }
        }
        for target in started {
            let workers = self.tiers[i]
                .current
                .iter()
                .find(|a| a.target == target)
                .map_or(0, |a| a.workers);
            // Announced once a worker is fuzzing: a target that cannot start says only
            // that it failed.
            self.starting.insert(target, workers);
        }
    }

    /// Ends the current turn of the tiers and starts the next: the tiers with the least
    /// time so far that fit, and that have something to run. Tiers that keep running
    /// keep their slots and workers. True when some tier runs this turn.
    fn take_turns(&mut self, now: Instant) -> bool {
        if self.turns.is_none() {
            return false;
        }
        let active = self.tiers_holding_slots();
        self.save_turns(now);
        let skip = self.not_runnable();
        // What each tier would run now. Asked of its schedule itself: deciding changes a
        // state only to mark a `--once` cycle finished or to start the next cycle, both
        // of which must stick (a tier whose turn and budget end together is never asked
        // again by `decide`, and `--once` ends only when every tier is finished).
        let once = self.spec.once;
        let mut wants = Vec::with_capacity(self.tiers.len());
        for t in &mut self.tiers {
            let before = t.state.clone();
            let runs = !t.spec.decide(&mut t.state, &skip, once).run.is_empty();
            if t.state != before
                && let Err(e) = self
                    .db
                    .save_schedule(&t.spec.name, &t.state.to_json(), now_ms())
            {
                self.unsaid
                    .push(format!("cannot save tier {}'s schedule: {e}", t.spec.name));
            }
            wants.push(if runs { t.spec.workers } else { 0 });
        }
        let Some(turns) = self.turns.as_mut() else {
            return false;
        };
        let chosen = turns.rotation.choose(&wants);
        let turn = turns.rotation.turn(
            &self
                .tiers
                .iter()
                .map(|t| t.spec.clone())
                .collect::<Vec<_>>(),
            &chosen,
        );
        turns.until = now + turn;
        let running: Vec<usize> = chosen.iter().map(|c| c.0).collect();
        let announce = running != turns.announced && !running.is_empty();
        turns.announced = running.clone();
        // Tiers whose turn is over give their slots back.
        for &i in &active {
            if !running.contains(&i) {
                self.account(now);
                self.credit(i, now);
                let t = &mut self.tiers[i];
                t.slots.clear();
                t.current.clear();
                t.until = None;
                if let Err(e) = self
                    .db
                    .save_schedule(&t.spec.name, &t.state.to_json(), now_ms())
                {
                    self.unsaid
                        .push(format!("cannot save tier {}'s schedule: {e}", t.spec.name));
                }
            }
        }
        let mut free: Vec<usize> = (0..self.slots.len())
            .filter(|s| !self.tiers.iter().any(|t| t.slots.contains(s)))
            .collect();
        let mut starting = Vec::new();
        for &(i, w) in &chosen {
            if self.tiers[i].slots.is_empty() {
                self.tiers[i].slots = free.drain(..w.min(free.len())).collect();
                starting.push(i);
            }
        }
        // Slots nobody owns now stop their workers.
        for s in free {
            if self.slots[s].target.is_some() || self.slots[s].worker.is_some() {
                self.account_slot(s, None, now);
                self.slots[s].target = None;
                self.slots[s].restart_at = None;
                self.stop_slot(s, now);
            }
        }
        for i in starting {
            self.tiers[i].credited_at = now;
            self.decide(i, now);
        }
        if announce {
            let name = |i: usize| self.tiers[i].spec.name.clone();
            (self.notify)(Notice::TierTurn {
                running: running.iter().map(|&i| name(i)).collect(),
                waiting: (0..self.tiers.len())
                    .filter(|i| !running.contains(i) && wants[*i] > 0)
                    .map(name)
                    .collect(),
                turn,
            });
        }
        !running.is_empty()
    }

    /// The tiers whose turn it is: those holding slots.
    fn tiers_holding_slots(&self) -> Vec<usize> {
        (0..self.tiers.len())
            .filter(|&i| !self.tiers[i].slots.is_empty())
            .collect()
    }

    /// Credits the running tiers' time to the rotation and saves it, so that a stop or a
    /// restart (a reload, a deploy) never loses a turn's time: a run restarted every
    /// half hour must not start the same tiers every time.
    fn save_turns(&mut self, now: Instant) {
        let paused = self.resources.paused();
        let active = self.tiers_holding_slots();
        let Some(turns) = self.turns.as_mut() else {
            return;
        };
        if !paused {
            turns
                .rotation
                .credit(&active, now.saturating_duration_since(turns.credited_at));
        }
        turns.credited_at = now;
        let had: BTreeMap<&str, u64> = self
            .tiers
            .iter()
            .zip(&turns.rotation.ran_ms)
            .map(|(t, ms)| (t.spec.name.as_str(), *ms))
            .collect();
        let saved = self.db.save_schedule(
            ROTATION_ROW,
            &serde_json::to_string(&had).expect("a map of strings to integers"),
            now_ms(),
        );
        if let Err(e) = saved {
            self.error(format!("cannot save the tiers' turns: {e}"));
        }
    }

    fn stop_slot(&mut self, s: usize, now: Instant) {
        let slot = &mut self.slots[s];
        if let Some(r) = &slot.worker
            && slot.stop_deadline.is_none()
        {
            r.worker.signal(Signal::SIGTERM);
            slot.stop_deadline = Some(now + self.spec.grace);
        }
    }

    fn spawn(&mut self, s: usize) {
        let Some(target) = self.slots[s].target.clone() else {
            return;
        };
        if self.resources.paused() {
            // No worker starts while the disk is full; `restart_due` retries.
            self.slots[s].restart_at = Some(Instant::now() + TICK);
            return;
        }
        self.slots[s].accounted_at.get_or_insert_with(Instant::now);
        let Some(t) = self.spec.targets.get(&target) else {
            return;
        };
        let layout = &self.spec.layout;
        let mut opts = LibFuzzerOptions::new(
            &t.binary,
            layout.corpus_dir(&target),
            layout.incoming_dir(&target),
        );
        let (rss_limit_mb, memory) =
            self.resources
                .worker_memory(&target, s, self.next_run, t.rss_limit_mb);
        opts.rss_limit_mb = rss_limit_mb;
        opts.timeout_s = t.timeout_s;
        opts.dict = t.dict.clone();
        opts.max_len = t.max_len;
        opts.extra_args = t.extra_args.clone();
        // The exact execution count at exit; status lines alone undercount.
        opts.print_final_stats = true;
        opts.env = t.env.iter().map(|(k, v)| (k.into(), v.into())).collect();
        let ends_at = self.slot_end(s);
        opts.max_total_time = self_ended_turn(ends_at, Instant::now());
        let ends_at = ends_at.filter(|_| opts.max_total_time.is_some());
        let cmd = output::worker_command(&opts);
        let mut wspec = WorkerSpec {
            program: cmd.program,
            args: cmd.args,
            env: cmd.env,
            log_path: layout.worker_log(&target, s),
            tmp_dir: layout.worker_tmp(s),
            hide_tmp: self.hide_tmp,
            visible: [layout.root(), t.binary.as_path()]
                .into_iter()
                .chain(t.dict.as_deref())
                .map(std::path::Path::to_path_buf)
                .collect(),
            keep_tmp: worker::keep_tmp_requested(),
            max_log_bytes: self.spec.max_log_bytes,
            memory,
        };
        let run = self.next_run;
        self.next_run += 1;
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
                self.runs.insert(run, s);
                if let Some(live) = self.live.get_mut(&target) {
                    live.run_started(run);
                }
                self.slots[s].worker = Some(Running {
                    worker,
                    target,
                    inited_at: None,
                    found: Vec::new(),
                    ends_at,
                });
            }
            Err(e) => {
                let message = format!("cannot start {}: {e}", t.binary.display());
                self.fail_target(&target, message);
            }
        }
    }

    fn track_assignments(&mut self, now: Instant) {
        let assigned: BTreeSet<&String> = self
            .slots
            .iter()
            .filter_map(|s| s.target.as_ref())
            .collect();
        let layout = &self.spec.layout;
        let live = &mut self.live;
        self.assigned_since.retain(|t, _| {
            let keep = assigned.contains(t);
            if !keep && let Some(l) = live.get_mut(t) {
                // Its turn ended: count its corpus now, so a minimization need not wait
                // for the next periodic count.
                l.corpus = corpus::size(&layout.corpus_dir(t));
            }
            keep
        });
        for t in assigned {
            self.assigned_since.entry(t.clone()).or_insert(now);
        }
    }

    /// Picks corpora that grew enough for a minimization and runs each one once its
    /// target's workers are gone (a merge must not race workers rewriting the corpus).
    fn start_minimizations(&mut self, now: Instant) {
        let Some(auto) = self.spec.minimize else {
            return;
        };
        let mut moved = false;
        for (name, live) in &self.live {
            let files = live.corpus.0;
            let since = self
                .minimized_at_files
                .get(name)
                .copied()
                .unwrap_or(0)
                .max(1);
            let grown = files >= auto.min_files && files >= auto.growth.saturating_mul(since);
            let can_pause = self
                .assigned_since
                .get(name)
                .is_none_or(|t| now.duration_since(*t) >= PAUSE_FOR_MINIMIZE_AFTER);
            if grown
                && can_pause
                && !self.failed.contains_key(name)
                && !self.minimizing.contains_key(name)
            {
                self.minimizing.insert(name.clone(), false);
                moved = true;
            }
        }
        if moved {
            // The schedule now skips them: their workers stop, their tiers move on.
            let tiers: Vec<usize> = (0..self.tiers.len())
                .filter(|&i| {
                    self.tiers[i]
                        .current
                        .iter()
                        .any(|a| self.minimizing.contains_key(&a.target))
                })
                .collect();
            for i in tiers {
                self.decide(i, now);
            }
        }
        let ready: Vec<String> = self
            .minimizing
            .iter()
            .filter(|(t, started)| {
                !**started
                    && !self
                        .slots
                        .iter()
                        .any(|s| s.worker.as_ref().is_some_and(|r| &r.target == *t))
            })
            .map(|(t, _)| t.clone())
            .collect();
        for name in ready {
            let Some(target) = self.spec.targets.get(&name).cloned() else {
                continue;
            };
            self.minimizing.insert(name.clone(), true);
            let layout = self.spec.layout.clone();
            let tx = self.tx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("minimize-{name}"))
                .spawn(move || {
                    let outcome = minimize::minimize(&layout, &target, &mut |_| {})
                        .map_err(|e| e.to_string());
                    let _ = tx.send(Event::Minimized {
                        target: name,
                        outcome,
                    });
                });
            if let Err(e) = spawned {
                self.error(format!("cannot start a corpus minimization: {e}"));
            }
        }
    }

    fn minimized(&mut self, target: String, outcome: Result<MinimizeOutcome, String>) {
        self.minimizing.remove(&target);
        // What crashed in the merge, waiting in the incoming dir: findings now.
        self.sweep(&target, false, None);
        let files = match &outcome {
            Ok(o) if o.replaced => o.files_after,
            Ok(o) => o.files_before,
            // A failed merge is not retried until the corpus has grown again.
            Err(_) => self.live.get(&target).map_or(0, |l| l.corpus.0),
        };
        self.minimized_at_files.insert(target.clone(), files);
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
        if self.stopping.is_none() {
            let now = Instant::now();
            let tiers: Vec<usize> = (0..self.tiers.len())
                .filter(|&i| self.tiers[i].spec.targets.contains(&target))
                .collect();
            for i in tiers {
                self.decide(i, now);
            }
            // With tiers taking turns, every slot may be idle waiting for this one.
            self.check_all_idle();
        }
    }

    /// Starts the workers whose restart wait is over.
    fn restart_due(&mut self, now: Instant) {
        for s in 0..self.slots.len() {
            if self.slots[s].restart_at.is_some_and(|t| now >= t) && self.slots[s].worker.is_none()
            {
                self.slots[s].restart_at = None;
                self.spawn(s);
            }
        }
    }

    fn begin_stop(&mut self, reason: StopReason) {
        let now = Instant::now();
        // Account every slot while it still knows its target: the time up to the stop
        // belongs in uptime's denominator.
        self.account(now);
        let deadline = now + self.spec.grace;
        self.stopping = Some((reason, deadline));
        (self.notify)(Notice::Stopping { reason });
        for i in 0..self.tiers.len() {
            self.credit(i, now);
        }
        self.save_turns(now);
        for s in 0..self.slots.len() {
            self.slots[s].target = None;
            self.stop_slot(s, now);
        }
    }

    fn tick(&mut self, now: Instant) {
        for message in std::mem::take(&mut self.unsaid) {
            self.error(message);
        }
        for s in 0..self.slots.len() {
            if let (Some(deadline), Some(r)) = (self.slots[s].stop_deadline, &self.slots[s].worker)
                && now >= deadline
            {
                r.worker.signal(Signal::SIGKILL);
            }
        }
        if self.stopping.is_some() {
            return;
        }
        if self
            .spec
            .run_for
            .is_some_and(|d| now.duration_since(self.started) >= d)
        {
            self.begin_stop(StopReason::TimeUp);
            return;
        }
        // The turn first: a tier whose turn ends does not start its next target first.
        if self.turns.as_ref().is_some_and(|t| now >= t.until) {
            self.take_turns(now);
        }
        for i in 0..self.tiers.len() {
            if self.tiers[i].until.is_some_and(|u| now >= u) {
                self.decide(i, now);
            }
        }
        self.check_all_idle();
        let running: BTreeSet<String> = self
            .slots
            .iter()
            .filter_map(|s| s.worker.as_ref().map(|r| r.target.clone()))
            .collect();
        for target in &running {
            self.sweep(target, true, None);
        }
        self.track_assignments(now);
        self.start_minimizations(now);
        self.guard_resources(now);
        if now.duration_since(self.last_flush) >= FLUSH_EVERY {
            self.last_flush = now;
            self.flush(now);
            let live_pids: HashSet<i32> = self
                .slots
                .iter()
                .filter_map(|s| s.worker.as_ref().map(|r| r.worker.pid.as_raw()))
                .collect();
            process::reap_orphans(&live_pids);
        }
        if self.stopping.is_none()
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
        self.account(now);
        for i in 0..self.tiers.len() {
            self.credit(i, now);
        }
        self.save_turns(now);
        let mut workers: BTreeMap<&str, i64> = BTreeMap::new();
        for s in &self.slots {
            if let Some(r) = &s.worker {
                *workers.entry(r.target.as_str()).or_default() += 1;
            }
        }
        let at = now_ms();
        let rescan = self
            .last_corpus_scan
            .is_none_or(|t| now.duration_since(t) >= CORPUS_SCAN_EVERY);
        if rescan {
            self.last_corpus_scan = Some(now);
        }
        let layout = &self.spec.layout;
        let tiers = &self.tiers;
        let live = &mut self.live;
        let result = self.db.batch(|db| {
            for t in tiers {
                db.save_schedule(&t.spec.name, &t.state.to_json(), at)?;
            }
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
    }

    /// The resource guard's turn: alerts, and the disk pause (workers stopped, schedule
    /// kept, recreatable files pruned once they are gone) until space returns.
    fn guard_resources(&mut self, now: Instant) {
        let pids: Vec<i32> = self
            .slots
            .iter()
            .filter_map(|s| s.worker.as_ref().map(|r| r.worker.pid.as_raw()))
            .collect();
        for r in self.resources.check(now, &pids, &self.db) {
            (self.notify)(Notice::Resource { message: r.text() });
        }
        let paused = self.resources.paused();
        if paused != self.triage_paused {
            self.triage_paused = paused;
            if let Some(t) = &self.triage {
                t.pause(paused);
            }
        }
        if paused {
            for s in 0..self.slots.len() {
                self.stop_slot(s, now);
            }
            if pids.is_empty() && self.resources.wants_prune() {
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
        }
        self.resources.publish(&self.db);
    }

    fn finish(mut self, rx: &Receiver<Event>) -> Summary {
        let reason = self.stopping.map_or(StopReason::Signal, |(r, _)| r);
        let names: Vec<String> = self.spec.targets.keys().cloned().collect();
        for name in &names {
            self.sweep(name, false, None);
        }
        // Workers whose exit was never reported (a stuck process) are not waited for,
        // but their time is accounted and their state shown as stopped.
        let now = Instant::now();
        self.account(now);
        self.last_corpus_scan = None;
        for s in 0..self.slots.len() {
            if let Some(r) = self.slots[s].worker.take()
                && let Some(live) = self.live.get_mut(&r.target)
            {
                live.run_ended(r.worker.run);
            }
        }
        for live in self.live.values_mut() {
            live.stop();
        }
        self.flush(now);
        // A worker stopped mid-write leaves an entry whose name is not its content's hash;
        // no worker writes now, so it is renamed to what it holds before the last sync.
        for name in &names {
            let _ = corpus::repair(&self.spec.layout.corpus_dir(name));
        }
        if let Some(triage) = self.triage.take() {
            self.final_triage(triage, rx);
        }
        if let Some(hub) = self.hub.take() {
            // The last findings reach the hub, within the stop's time limit.
            hub.finish(HUB_FINAL_SYNC_WAIT);
        }
        if let Some(n) = self.notifier.take() {
            n.finish(WEBHOOK_FINAL_WAIT);
        }
        self.resources.finish(&self.db, HUB_FINAL_SYNC_WAIT);
        Summary {
            reason,
            new_findings: self.new_findings,
            failed: self.failed,
        }
    }
}

impl Campaign<'_> {
    /// Says an error, once while it repeats (then its count).
    fn error(&mut self, message: String) {
        for line in self.errors.admit(&message, Instant::now()) {
            (self.notify)(Notice::Error { message: line });
        }
    }

    /// Records an event in the database; a failure is said (once while it repeats).
    fn log_event(&mut self, target: Option<&str>, kind: &str, message: &str) {
        if let Err(e) = self.db.log_event(now_ms(), target, kind, message) {
            self.error(format!("cannot record a {kind} event: {e}"));
        }
    }

    /// When slot `s`'s current assignment ends: its tier's next decision, the end of the
    /// tiers' turn, or `--for`, whichever comes first.
    fn slot_end(&self, s: usize) -> Option<Instant> {
        let tier = self
            .tiers
            .iter()
            .find(|t| t.slots.contains(&s))
            .and_then(|t| t.until);
        let turn = self.turns.as_ref().map(|t| t.until);
        let run = self.spec.run_for.map(|d| self.started + d);
        [tier, turn, run].into_iter().flatten().min()
    }

    /// Gives the periodic one-line summary and starts counting again.
    fn progress(&mut self, now: Instant) {
        self.progress_at = now;
        let mut running = BTreeSet::new();
        let mut workers = 0;
        for s in &self.slots {
            if let Some(r) = &s.worker {
                running.insert(r.target.clone());
                workers += 1;
            }
        }
        let mut new_features = 0;
        for (name, live) in &self.live {
            let now_features = live.features().unwrap_or(0);
            let before = self
                .progress_features
                .insert(name.clone(), now_features)
                .unwrap_or(now_features);
            new_features += now_features.saturating_sub(before);
        }
        let execs_per_sec = running
            .iter()
            .filter_map(|t| self.live.get(t))
            .map(TargetLive::rate_now)
            .sum();
        let mut next: Option<(String, Duration)> = self
            .tiers
            .iter()
            .filter(|t| !t.slots.is_empty())
            .filter_map(|t| {
                let until = t.until?;
                Some((
                    format!("{} moves on", t.spec.name),
                    until.saturating_duration_since(now),
                ))
            })
            .min_by_key(|(_, d)| *d);
        if let Some(turns) = &self.turns {
            let d = turns.until.saturating_duration_since(now);
            if next.as_ref().is_none_or(|(_, n)| d < *n) {
                next = Some(("the tiers' turn ends".into(), d));
            }
        }
        let p = Progress {
            running: running.into_iter().collect(),
            workers,
            execs_per_sec,
            new_features,
            new_bugs: std::mem::take(&mut self.progress_bugs),
            artifacts: std::mem::take(&mut self.progress_artifacts),
            next,
        };
        (self.notify)(Notice::Progress(p));
    }

    /// The workers are gone: what they found is filed and new bugs reproduced, within
    /// the deadline, before the campaign ends; a second Ctrl-C cuts it short. What is not
    /// done is taken up by the next campaign or `crashes triage`.
    fn final_triage(&mut self, triage: crate::triage::TriageThread, rx: &Receiver<Event>) {
        let configured = self.spec.triage.as_ref().map(|t| t.final_deadline);
        if let Some(deadline) = final_triage_deadline(configured, self.stop_signal, self.hurry) {
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
        triage.finish(TRIAGE_FINAL_WAIT);
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

fn failure_message(how: &ExitKind, tail: &[String], crashed: bool) -> String {
    let what = if crashed {
        "crashes on start-up before any input could be set aside"
    } else {
        "exited before libFuzzer's INITED"
    };
    let last: Vec<&str> = tail
        .iter()
        .rev()
        .filter(|l| !l.trim().is_empty())
        .take(6)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{what} ({how}): {}", last.join(" | "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_ends_its_own_turn_just_before_the_campaign_would_stop_it() {
        let now = Instant::now();
        assert_eq!(self_ended_turn(None, now), None);
        assert_eq!(
            self_ended_turn(Some(now + Duration::from_millis(1_900)), now),
            None
        );
        // 2.5 s left: told 1, libFuzzer ends once 2 whole seconds have passed.
        assert_eq!(
            self_ended_turn(Some(now + Duration::from_millis(2_500)), now),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            self_ended_turn(Some(now + Duration::from_millis(10_900)), now),
            Some(Duration::from_secs(9))
        );
        assert_eq!(
            self_ended_turn(Some(now), now + Duration::from_secs(1)),
            None
        );
    }

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

    #[test]
    fn only_a_clean_exit_at_the_end_of_its_turn_is_not_a_restart() {
        let now = Instant::now();
        let end = Some(now + Duration::from_millis(900));
        assert!(ended_its_turn(Some(0), true, end, now));
        // A crash, a run that never fuzzed, or an exit long before its end: restarted.
        assert!(!ended_its_turn(Some(77), true, end, now));
        assert!(!ended_its_turn(Some(0), false, end, now));
        assert!(!ended_its_turn(
            Some(0),
            true,
            Some(now + Duration::from_secs(60)),
            now
        ));
        assert!(!ended_its_turn(Some(0), true, None, now));
    }
}
