//! The campaign's decisions, as a pure state machine: which target each worker slot
//! runs, when a tier moves on or the tiers take turns, when a worker is restarted, set
//! aside or its target failed, when a corpus is minimized, and how a stop proceeds.
//!
//! [`Core::handle`] takes one [`Input`] and the time, and returns the [`Action`]s to take
//! (start a worker, signal one, save the schedule, tell the user, ...). It never reads a
//! clock, touches a file, the database or a process: the executor in the parent module
//! does all of that and feeds what happened back as inputs. So every rule here is
//! unit-tested with a fake clock (the tests at the end of this file).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::{AutoMinimize, Notice, StopReason};
use crate::events::RunId;
use crate::output::{ExitKind, classify_exit};
use crate::portfolio::Rng;
use crate::portfolio::bandit::{self, Arm, Bandit, Choice, RunResult, Why};
use crate::portfolio::share::{self, ShareState, ShareView, SliceResult};
use crate::schedule::{Assignment, Rotation, TierSpec, TierState};
use fleet_engine::libfuzzer::strategy::Strategy;

/// How often the executor ticks the core without an event.
pub const TICK: Duration = Duration::from_secs(1);
/// A worker that ended sooner than this after starting waits this long before its
/// restart, so a target that exits at once cannot spin the machine.
pub const QUICK_EXIT: Duration = Duration::from_secs(1);
/// After the stop grace, how much longer shutdown waits for process exits to be reported.
pub const SHUTDOWN_SLACK: Duration = Duration::from_secs(3);
/// A target that has run this long without a break is paused for its minimization;
/// others are minimized while they wait for their turn.
pub const PAUSE_FOR_MINIMIZE_AFTER: Duration = Duration::from_secs(1800);
/// The shortest turn a worker is told to end by itself (`-max_total_time`); a shorter one
/// is left to the campaign's stop.
const MIN_SELF_ENDED_TURN: Duration = Duration::from_secs(1);
/// The schedule table's row for the rotation's state (tier names cannot have parentheses).
pub const ROTATION_ROW: &str = "(rotation)";

/// The parts of the campaign's spec its decisions depend on.
#[derive(Clone, Debug)]
pub struct CoreSpec {
    pub tiers: Vec<TierSpec>,
    /// Worker slots: never more workers than this at once.
    pub slots: usize,
    pub tier_slice: Duration,
    pub run_for: Option<Duration>,
    pub once: bool,
    pub grace: Duration,
    pub minimize: Option<AutoMinimize>,
    pub reload_on_hup: bool,
    /// Each worker run's engine and strategies chosen by a bandit per target; `None`:
    /// every run is plain libFuzzer (`--strategies plain`).
    pub portfolio: Option<PortfolioSpec>,
    /// The schedule that follows coverage (`schedule = "coverage"`): every slot is given
    /// by [`share`]'s plan, slice by slice, and `tiers` is empty. `None`: the tiers'
    /// clock (`fixed`, or `equal` as one tier of all targets).
    pub shares: Option<SharesSpec>,
}

/// The targets of the coverage-following schedule and its knobs.
#[derive(Clone, Debug)]
pub struct SharesSpec {
    pub targets: Vec<share::TargetSpec>,
    pub params: share::Params,
}

/// The schedule row the coverage-following schedule is saved in.
pub const SHARES_ROW: &str = "(shares)";

/// The strategy portfolio: each target's arms and the bandit's knobs.
#[derive(Clone, Debug)]
pub struct PortfolioSpec {
    pub arms: BTreeMap<String, Vec<Arm>>,
    pub params: bandit::Params,
    /// The seed of the bandit's draws.
    pub seed: u64,
    /// How long one run lasts: it ends by itself then (`-max_total_time`, so libFuzzer
    /// prints its recommended dictionary), is paid, and the next run gets a new choice.
    pub run_length: Duration,
    /// How long a run lasts while the target's bandit has arms it never tried.
    pub first_run_length: Duration,
}

/// A portfolio run's length by default: long enough that loading the corpus is a small
/// part of it, short enough that the bandit learns within an hour.
pub const RUN_LENGTH: Duration = Duration::from_secs(300);
/// A run's length while its target has arms that ran fewer than
/// [`bandit::WARM_UP_RUNS`] times: every arm measured within minutes. A minute: the
/// harvested-constants arm, which solves `plant_checksum`, missed it in the four
/// 30-second runs it had in two `findbugs` trials, where one-minute runs found it in 4 of 5
/// (docs/benchmarks.md).
pub const FIRST_RUN_LENGTH: Duration = Duration::from_secs(60);

/// A target's figures as the executor last counted them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Measure {
    /// Its features as its workers count them; `None` before any run of it reported.
    pub features: Option<u64>,
    /// What the first run of this campaign counted once it had read the corpus
    /// (libFuzzer's `INITED` line): the coverage the target started from.
    pub loaded: Option<u64>,
    pub bugs: u64,
}

/// The arms whose runs cannot be what breaks a target's start (no file, no flag
/// libFuzzer refuses), so a run of them that dies before `INITED` fails the target, not
/// a strategy; the first of them a target has is its first run's in a campaign, its
/// start-up check ([`START_RUN_LENGTH`]).
pub const START_ARMS: [&str; 2] = ["plain", "value_profile"];

/// How long a target's first run in a campaign lasts: plain libFuzzer finds the shallow
/// bugs in its first seconds (`plant_easy`, and `plant_nested` in 2–9 s in 6 of 10
/// `findbugs` trials), and then the worker moves on to value profile, second in the
/// warm-up order, which solves what plain copies miss (`plant_relation`, 2–16 s into its
/// run) — after a whole first run of plain, that came only at its end.
pub const START_RUN_LENGTH: Duration = Duration::from_secs(10);

/// How long the run beside a target's first run lasts ([`Why::Beside`]): the first
/// seconds of a target are where plain libFuzzer finds its shallow bugs, and two
/// processes find them in about half the time of one (`plant_easy`: 0.4 s with two
/// plain workers or `-fork=2`, 0.65 s with one beside AFL++ starting). Then the worker
/// moves on to the other engine, which is then two seconds later than it would be.
pub const BESIDE_RUN_LENGTH: Duration = Duration::from_secs(2);

/// The schedule row a target's bandit is saved in (tier names cannot have parentheses).
pub fn bandit_row(target: &str) -> String {
    format!("(bandit) {target}")
}

/// What a campaign resumes from: what the last one saved.
#[derive(Clone, Debug, Default)]
pub struct Saved {
    /// Each tier's position, by tier name.
    pub tiers: BTreeMap<String, TierState>,
    /// The time each tier has had in the rotation, by tier name.
    pub rotation: Option<BTreeMap<String, u64>>,
    /// Each target's corpus files at the start.
    pub corpus_files: BTreeMap<String, u64>,
    /// What each target's bandit learnt.
    pub bandits: BTreeMap<String, Bandit>,
    /// Where the coverage-following schedule was.
    pub shares: Option<ShareState>,
}

/// What happened, as the core hears of it.
#[derive(Debug)]
pub enum Input {
    /// The campaign starts: the first decisions.
    Start,
    /// Periodic: deadlines (stop grace, budgets, turns, `--for`), minimizations.
    Tick,
    /// A restart wait may be over.
    Wake,
    /// A worker run printed libFuzzer's `INITED`.
    Inited { run: RunId },
    /// A worker run ended.
    Exited { run: RunId, exit: Exit },
    /// A worker run could not be started.
    SpawnFailed { run: RunId, message: String },
    /// SIGINT, SIGTERM or SIGHUP.
    Signal(i32),
    /// A target's corpus was counted (the first count of a target is its baseline for
    /// minimization, unless [`Saved::corpus_files`] gave one).
    CorpusCounted { target: String, files: u64 },
    /// A corpus minimization ended with this many files in the corpus.
    Minimized { target: String, files: u64 },
    /// The disk filled (workers stop, budgets stand still) or has room again.
    DiskPaused(bool),
    /// A target's recommended dictionary has entries on disk: the strategies that use
    /// it may be chosen, and those that use the constants harvested from its binary
    /// alone when `harvested`.
    DictReady { target: String, harvested: bool },
    /// What a run whose gain was measured after it ended (an AFL++ run's, by a replay)
    /// pays its arm; `None` when it could not be measured (the arm is not paid, and no
    /// longer waits).
    Pay {
        target: String,
        arm: Arm,
        gain: Option<Gain>,
    },
    /// A target's features (as its workers count them) and bugs so far: the
    /// coverage-following schedule measures each slice by them.
    Measured { target: String, measure: Measure },
    /// Time to credit the running targets and save the schedule.
    Checkpoint,
    /// The campaign ends: last credits.
    Finish,
}

/// How a worker run ended.
#[derive(Clone, Debug, Default)]
pub struct Exit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// Whether it reached libFuzzer's `INITED`.
    pub saw_inited: bool,
    /// Its last lines of output.
    pub tail: Vec<String>,
    /// Whether it wrote a crash artifact.
    pub crashed: bool,
    /// Crashing seeds set aside after it (a run that never fuzzed): it is restarted
    /// without them rather than failed.
    pub set_aside: usize,
    /// What the run gained, for its arm's payoff (a run that never fuzzed has none).
    pub gain: Option<Gain>,
    /// Its arm is paid later, by a [`Input::Pay`] (an AFL++ run, a run with a corpus of
    /// its own: a replay of what it added measures its gain).
    pub paid_later: bool,
}

/// What one worker run gained: the bandit's payoff is its features (bugs weighted) per
/// CPU-second.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Gain {
    pub cpu: Duration,
    pub new_features: u64,
    pub new_bugs: u64,
}

/// What the executor must do.
#[derive(Debug)]
pub enum Action {
    /// Start worker run `run` of `target` in `slot`, told to end by itself after
    /// `max_total_time`, with the engine and strategies of `arm` (plain libFuzzer when
    /// `None`), chosen for `why`.
    Spawn {
        slot: usize,
        run: RunId,
        target: String,
        max_total_time: Option<Duration>,
        arm: Option<Arm>,
        why: Option<Why>,
    },
    Signal {
        run: RunId,
        signal: Signal,
    },
    /// Add worker-slot time and fuzzing time to a target's figures.
    Credit {
        target: String,
        slot_ms: u64,
        fuzz_ms: u64,
    },
    /// Save a schedule row (a tier's state or [`ROTATION_ROW`]).
    Save {
        row: String,
        state: String,
    },
    Notice(Notice),
    /// Record an event in the campaign's log.
    Log {
        target: Option<String>,
        kind: &'static str,
        message: String,
    },
    /// Minimize a target's corpus in the background (its workers are gone);
    /// answer with [`Input::Minimized`].
    Minimize {
        target: String,
    },
    /// Count a target's corpus; answer with [`Input::CorpusCounted`].
    CountCorpus {
        target: String,
    },
}

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

fn failure_message(how: &ExitKind, tail: &[String], crashed: bool) -> String {
    let what = if crashed {
        "crashes on start-up before any input could be set aside"
    } else {
        "exited before libFuzzer's INITED"
    };
    let mut last: Vec<&str> = tail
        .iter()
        .rev()
        .filter(|l| !l.trim().is_empty())
        .take(6)
        .map(String::as_str)
        .collect();
    last.reverse();
    format!("{what} ({how}): {}", last.join(" | "))
}

#[derive(Debug)]
struct Running {
    run: RunId,
    target: String,
    arm: Option<Arm>,
    /// Why the run got its arm (a start-up run, the run beside it, …).
    why: Option<Why>,
    started: Instant,
    inited_at: Option<Instant>,
    /// When the slot's assignment ends, if the worker was told to end by itself then.
    ends_at: Option<Instant>,
}

#[derive(Debug, Default)]
struct Slot {
    /// What this slot should be running.
    target: Option<String>,
    worker: Option<Running>,
    stop_deadline: Option<Instant>,
    restart_at: Option<Instant>,
    /// Time up to which this slot's time is credited to its target.
    accounted_at: Option<Instant>,
}

#[derive(Debug)]
struct TierRun {
    spec: TierSpec,
    state: TierState,
    current: Vec<Assignment>,
    until: Option<Instant>,
    credited_at: Instant,
    /// The worker slots this tier owns; empty while it waits for its turn.
    slots: Vec<usize>,
}

/// The coverage-following schedule at work.
#[derive(Debug)]
struct ShareRun {
    spec: SharesSpec,
    state: ShareState,
    /// The slice running now, when it ends, and what its targets had at its start.
    current: Vec<share::Assignment>,
    until: Instant,
    at_start: BTreeMap<String, Measure>,
    /// Worker-slot milliseconds each target had in this slice.
    slot_ms: BTreeMap<String, u64>,
    /// Each target's share and why, as last planned.
    views: Vec<ShareView>,
}

/// Tiers taking turns (see [`Rotation`]).
#[derive(Debug)]
struct TurnRun {
    rotation: Rotation,
    /// When the current turn ends.
    until: Instant,
    credited_at: Instant,
    /// The running tiers as last announced.
    announced: Vec<usize>,
}

/// The campaign's decision state. See the module documentation.
#[derive(Debug)]
pub struct Core {
    spec: CoreSpec,
    slots: Vec<Slot>,
    tiers: Vec<TierRun>,
    turns: Option<TurnRun>,
    runs: HashMap<RunId, usize>,
    next_run: RunId,
    failed: BTreeMap<String, String>,
    started: Instant,
    stopping: Option<(StopReason, Instant)>,
    hurry: bool,
    stop_signal: Option<i32>,
    /// Targets just given workers, announced when the first of them is fuzzing.
    starting: BTreeMap<String, usize>,
    paused: bool,
    /// Targets whose corpus is being minimized (or waits for its workers to stop first),
    /// with whether the minimization has started.
    minimizing: BTreeMap<String, bool>,
    corpus_files: BTreeMap<String, u64>,
    /// Corpus files after each target's last minimization (or at the start).
    minimized_at_files: BTreeMap<String, u64>,
    /// Since when each target has had workers without a break.
    assigned_since: BTreeMap<String, Instant>,
    /// The latest time an input came with.
    clock: Instant,
    bandits: BTreeMap<String, Bandit>,
    rng: Rng,
    /// Targets whose recommended dictionary has entries, and whether constants were
    /// harvested from their binary.
    dicts: BTreeMap<String, bool>,
    /// Arms whose runs could not start, per target: not chosen again.
    broken_arms: BTreeMap<String, BTreeSet<Arm>>,
    /// Arms whose runs ended and wait for their pay ([`Exit::paid_later`]), per target:
    /// until it comes they count as running, so an untried arm is not chosen twice
    /// before it is measured once.
    awaiting_pay: BTreeMap<String, Vec<Arm>>,
    /// Targets a run of which reached INITED in this campaign: until then one run has
    /// the start arm ([`START_ARMS`]), so a target that cannot start fails as itself,
    /// not as a strategy.
    started_ok: BTreeSet<String>,
    /// Targets that had a run beside their start-up run in this campaign.
    beside_started: BTreeSet<String>,
    shares: Option<ShareRun>,
    /// Each target's features and bugs as last measured.
    measured: BTreeMap<String, Measure>,
    out: Vec<Action>,
}

impl Core {
    pub fn new(spec: CoreSpec, saved: Saved, now: Instant) -> Self {
        let mut rotation = Rotation::needed(spec.slots, &spec.tiers, spec.tier_slice);
        if let (Some(r), Some(had)) = (&mut rotation, &saved.rotation) {
            // Turns resume where they were: time had is kept by tier name. A tier new
            // to the rotation joins level with the one furthest behind.
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
            let mut state = saved.tiers.get(&t.name).cloned().unwrap_or_default();
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
        let seed = spec.portfolio.as_ref().map_or(0, |p| p.seed);
        let shares = spec.shares.clone().map(|spec| ShareRun {
            spec,
            state: saved.shares.clone().unwrap_or_default(),
            current: Vec::new(),
            until: now,
            at_start: BTreeMap::new(),
            slot_ms: BTreeMap::new(),
            views: Vec::new(),
        });
        if shares.is_some() {
            // Every slot is the shares' to give.
            slot_count = spec.slots;
        }
        let turns = rotation.map(|rotation| TurnRun {
            rotation,
            until: now,
            credited_at: now,
            announced: Vec::new(),
        });
        Self {
            spec,
            slots: (0..slot_count).map(|_| Slot::default()).collect(),
            tiers,
            turns,
            runs: HashMap::new(),
            next_run: 1,
            failed: BTreeMap::new(),
            started: now,
            stopping: None,
            hurry: false,
            stop_signal: None,
            starting: BTreeMap::new(),
            paused: false,
            minimizing: BTreeMap::new(),
            minimized_at_files: saved.corpus_files.clone(),
            corpus_files: saved.corpus_files,
            assigned_since: BTreeMap::new(),
            clock: now,
            rng: Rng::new(seed),
            bandits: saved.bandits,
            dicts: BTreeMap::new(),
            broken_arms: BTreeMap::new(),
            awaiting_pay: BTreeMap::new(),
            started_ok: BTreeSet::new(),
            beside_started: BTreeSet::new(),
            shares,
            measured: BTreeMap::new(),
            out: Vec::new(),
        }
    }

    /// Takes one input at time `now`; returns what to do, in order.
    pub fn handle(&mut self, input: Input, now: Instant) -> Vec<Action> {
        // Time never runs backwards here: an exit reported with the instant it happened
        // may come after inputs stamped later, and a credit must not be counted twice.
        let now = now.max(self.clock);
        self.clock = now;
        match input {
            Input::Start => {
                if self.shares.is_some() {
                    self.decide_shares(now);
                } else if self.turns.is_some() {
                    self.take_turns(now);
                } else {
                    for i in 0..self.tiers.len() {
                        self.decide(i, now);
                    }
                }
                self.check_all_idle(now);
            }
            Input::Tick => self.tick(now),
            Input::Wake => {
                // A restart due when a slice or turn ends waits for the decision due with
                // it: started before it, the run would take the ending slice's end, now,
                // for its own and run with no length at all.
                if self.stopping.is_none() {
                    self.decide_due(now);
                }
                if self.stopping.is_none() {
                    self.restart_due(now);
                }
            }
            Input::Inited { run } => self.inited(run, now),
            Input::Exited { run, exit } => {
                // As for a wake: a worker that exits the moment a slice ends is restarted
                // in the next slice, with that slice's end.
                if self.stopping.is_none() {
                    self.decide_due(now);
                }
                self.exited(run, exit, now);
            }
            Input::SpawnFailed { run, message } => {
                if let Some(slot) = self.runs.remove(&run)
                    && let Some(r) = self.slots[slot].worker.take()
                {
                    self.fail_target(&r.target, message, now);
                }
            }
            Input::Signal(sig) => self.signal(sig, now),
            Input::CorpusCounted { target, files } => {
                // The first count is the start's: growth is measured from it.
                self.minimized_at_files
                    .entry(target.clone())
                    .or_insert(files);
                self.corpus_files.insert(target, files);
            }
            Input::Minimized { target, files } => self.minimized(target, files, now),
            Input::DiskPaused(paused) => {
                if paused != self.paused {
                    // Time up to now is credited as it was (running or not).
                    self.checkpoint_credit(now);
                }
                self.paused = paused;
                if paused {
                    for s in 0..self.slots.len() {
                        self.stop_slot(s, now);
                    }
                }
            }
            Input::DictReady { target, harvested } => {
                self.dicts.insert(target, harvested);
            }
            Input::Pay { target, arm, gain } => {
                if let Some(waiting) = self.awaiting_pay.get_mut(&target)
                    && let Some(i) = waiting.iter().position(|a| *a == arm)
                {
                    waiting.swap_remove(i);
                }
                if let Some(gain) = gain {
                    self.pay(&target, &arm, &gain);
                }
            }
            Input::Measured { target, measure } => {
                self.measured.insert(target, measure);
            }
            Input::Checkpoint => {
                self.checkpoint_credit(now);
                for i in 0..self.tiers.len() {
                    self.save_tier(i);
                }
            }
            Input::Finish => {
                self.account(now);
                for s in &mut self.slots {
                    s.worker = None;
                    s.accounted_at = None;
                }
                self.runs.clear();
            }
        }
        std::mem::take(&mut self.out)
    }

    /// Whether the campaign is stopping, and why.
    pub fn stopping(&self) -> Option<StopReason> {
        self.stopping.map(|(r, _)| r)
    }

    /// Whether the loop may end: stopping, and every worker is gone (or the grace and
    /// its slack are over).
    pub fn done(&self, now: Instant) -> bool {
        self.stopping.is_some_and(|(_, deadline)| {
            self.slots.iter().all(|s| s.worker.is_none()) || now > deadline + SHUTDOWN_SLACK
        })
    }

    /// When the next restart is due, if one waits.
    pub fn next_restart(&self) -> Option<Instant> {
        self.slots.iter().filter_map(|s| s.restart_at).min()
    }

    /// A second Ctrl-C came: no more grace, no triage at the end.
    pub fn hurry(&self) -> bool {
        self.hurry
    }

    /// The signal that stopped the campaign, if one did.
    pub fn stop_signal(&self) -> Option<i32> {
        self.stop_signal
    }

    /// Targets that could not run, with why.
    pub fn failed(&self) -> &BTreeMap<String, String> {
        &self.failed
    }

    /// The running worker runs: run, slot and target.
    pub fn running(&self) -> impl Iterator<Item = (RunId, usize, &str)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.worker.as_ref().map(|r| (r.run, i, r.target.as_str())))
    }

    /// Whether a run other than `run` of `target` is running.
    pub fn others_running(&self, target: &str, run: RunId) -> bool {
        self.running().any(|(r, _, t)| r != run && t == target)
    }

    /// Each target's share of the node and why, as the coverage-following schedule last
    /// planned; empty under the tiers' clock.
    pub fn shares(&self) -> &[ShareView] {
        self.shares.as_ref().map_or(&[], |s| &s.views)
    }

    /// Each target's bandit, for `status` (its `explain`).
    pub fn bandits(&self) -> &BTreeMap<String, Bandit> {
        &self.bandits
    }

    /// The schedule's next step and how far off it is, for the progress line.
    pub fn next_step(&self, now: Instant) -> Option<(String, Duration)> {
        let mut next: Option<(String, Duration)> = self
            .tiers
            .iter()
            .filter(|t| !t.slots.is_empty())
            .filter_map(|t| {
                Some((
                    format!("{} moves on", t.spec.name),
                    t.until?.saturating_duration_since(now),
                ))
            })
            .min_by_key(|(_, d)| *d);
        if let Some(turns) = &self.turns {
            let d = turns.until.saturating_duration_since(now);
            if next.as_ref().is_none_or(|(_, n)| d < *n) {
                next = Some(("the tiers' turn ends".into(), d));
            }
        }
        if let Some(sh) = &self.shares {
            next = Some((
                "the next slice".into(),
                sh.until.saturating_duration_since(now),
            ));
        }
        next
    }

    fn say(&mut self, notice: Notice) {
        self.out.push(Action::Notice(notice));
    }

    fn log(&mut self, target: Option<&str>, kind: &'static str, message: String) {
        self.out.push(Action::Log {
            target: target.map(str::to_string),
            kind,
            message,
        });
    }

    fn save_tier(&mut self, i: usize) {
        let t = &self.tiers[i];
        self.out.push(Action::Save {
            row: t.spec.name.clone(),
            state: t.state.to_json(),
        });
    }

    fn inited(&mut self, run: RunId, now: Instant) {
        let Some(&slot) = self.runs.get(&run) else {
            return;
        };
        let Some(r) = &mut self.slots[slot].worker else {
            return;
        };
        r.inited_at.get_or_insert(now);
        let target = r.target.clone();
        self.started_ok.insert(target.clone());
        if let Some(workers) = self.starting.remove(&target) {
            self.say(Notice::TargetStarted { target, workers });
        }
    }

    fn signal(&mut self, sig: i32, now: Instant) {
        match self.stopping {
            None if sig == libc::SIGHUP && self.spec.reload_on_hup => {
                self.begin_stop(StopReason::Reload, now)
            }
            None => {
                self.stop_signal = Some(sig);
                self.begin_stop(StopReason::Signal, now)
            }
            // A reload asked twice is one reload.
            Some(_) if sig == libc::SIGHUP => {}
            // A second Ctrl-C: no more grace, and no triage at the end.
            Some(_) => {
                self.hurry = true;
                let runs: Vec<RunId> = self.running().map(|(r, _, _)| r).collect();
                for run in runs {
                    self.out.push(Action::Signal {
                        run,
                        signal: Signal::SIGKILL,
                    });
                }
            }
        }
    }

    fn exited(&mut self, run: RunId, exit: Exit, now: Instant) {
        let Some(slot) = self.runs.remove(&run) else {
            return;
        };
        let Some(running) = self.slots[slot].worker.take() else {
            return;
        };
        self.account_slot(slot, Some(&running), now);
        if let (Some(arm), Some(gain)) = (&running.arm, &exit.gain) {
            self.pay(&running.target, arm, gain);
        }
        if let (Some(arm), true) = (&running.arm, exit.paid_later) {
            self.awaiting_pay
                .entry(running.target.clone())
                .or_default()
                .push(arm.clone());
        }
        let target = running.target.clone();
        let was_stopping = self.slots[slot].stop_deadline.take().is_some();
        if self.stopping.is_some() {
            return;
        }
        if was_stopping {
            // A planned stop: start whatever the slot should run now.
            if self.slots[slot].target.is_some() {
                self.spawn(slot, now);
            }
            return;
        }
        if ended_its_turn(exit.code, exit.saw_inited, running.ends_at, now) {
            // Its turn is over: the next decision (due now) says what the slot runs next;
            // if it keeps the same target, the slot starts it again then.
            self.slots[slot].restart_at = running.ends_at;
            return;
        }
        let how = classify_exit(exit.code, exit.signal);
        if !exit.saw_inited
            && exit.set_aside == 0
            && let Some(arm) = running
                .arm
                .as_ref()
                .filter(|a| a.engine != bandit::LIBFUZZER || !START_ARMS.contains(&&*a.strategy))
        {
            // The strategy may be what broke the start (a dictionary libFuzzer refuses):
            // it is not chosen again for this target, and the target runs on without it.
            let message = failure_message(&how, &exit.tail, exit.crashed);
            self.log(
                Some(&target),
                "strategy-failed",
                format!("{}: {message}", arm.label()),
            );
            self.broken_arms
                .entry(target.clone())
                .or_default()
                .insert(arm.clone());
            self.slots[slot].restart_at = Some(now + QUICK_EXIT);
            return;
        }
        if !exit.saw_inited && exit.set_aside == 0 {
            let message = failure_message(&how, &exit.tail, exit.crashed);
            self.fail_target(&target, message, now);
            return;
        }
        self.log(Some(&target), "restart", how.to_string());
        self.say(Notice::Restarted {
            target,
            slot,
            how: how.to_string(),
        });
        // Only a worker that never got to fuzz waits before its restart: one that fuzzed
        // and hit a bug goes straight back (a recurring bug must not cost uptime).
        if !exit.saw_inited && now.duration_since(running.started) < QUICK_EXIT {
            self.slots[slot].restart_at = Some(now + QUICK_EXIT);
        } else {
            self.spawn(slot, now);
        }
    }

    fn fail_target(&mut self, target: &str, message: String, now: Instant) {
        self.starting.remove(target);
        self.log(Some(target), "failed", message.clone());
        self.say(Notice::TargetFailed {
            target: target.to_string(),
            message: message.clone(),
        });
        self.failed.insert(target.to_string(), message);
        // Every tier running the target moves on without it.
        let tiers: Vec<usize> = (0..self.tiers.len())
            .filter(|&i| self.tiers[i].current.iter().any(|a| a.target == target))
            .collect();
        for i in tiers {
            self.decide(i, now);
        }
        if self
            .shares
            .as_ref()
            .is_some_and(|sh| sh.current.iter().any(|a| a.target == target))
        {
            self.decide_shares(now);
        }
        self.check_all_idle(now);
    }

    fn check_all_idle(&mut self, now: Instant) {
        if self.stopping.is_none() && self.slots.iter().all(|s| s.target.is_none()) {
            // A waiting tier may have something to run: the turn ends early. One whose
            // targets are being minimized runs when the minimization ends.
            if self.turns.is_some() && (self.take_turns(now) || !self.minimizing.is_empty()) {
                return;
            }
            if self.shares.is_some() && !self.minimizing.is_empty() {
                return;
            }
            let all_finished = self.tiers.iter().all(|t| t.state.finished);
            self.begin_stop(
                if all_finished && self.spec.once {
                    StopReason::CycleDone
                } else {
                    StopReason::NothingToRun
                },
                now,
            );
        }
    }

    fn credit(&mut self, tier: usize, now: Instant) {
        let paused = self.paused;
        let t = &mut self.tiers[tier];
        // Time paused for a full disk is not spent from any target's budget.
        let elapsed = if paused {
            Duration::ZERO
        } else {
            now.saturating_duration_since(t.credited_at)
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
        if let Some(target) = target {
            let slot_ms = now.saturating_duration_since(since).as_millis() as u64;
            let fuzz_ms = running.and_then(|r| r.inited_at).map_or(0, |inited| {
                now.saturating_duration_since(since.max(inited)).as_millis() as u64
            });
            if let Some(sh) = &mut self.shares {
                *sh.slot_ms.entry(target.clone()).or_default() += slot_ms;
            }
            if slot_ms > 0 || fuzz_ms > 0 {
                self.out.push(Action::Credit {
                    target,
                    slot_ms,
                    fuzz_ms,
                });
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

    fn checkpoint_credit(&mut self, now: Instant) {
        self.account(now);
        for i in 0..self.tiers.len() {
            self.credit(i, now);
        }
        self.save_turns(now);
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
        let once = self.spec.once;
        let t = &mut self.tiers[i];
        if t.slots.is_empty() {
            // Waiting for its turn (or a tier without workers): nothing runs.
            t.current.clear();
            t.until = None;
            return;
        }
        let decision = t.spec.decide(&mut t.state, &skip, once);
        t.until = decision.for_duration.map(|d| now + d);
        t.current = decision.run;
        let idle = t.current.is_empty();
        self.save_tier(i);
        if idle && let Some(turns) = &mut self.turns {
            // Nothing left to run in its turn: the others need not wait for the slice.
            turns.until = now;
        }
        let t = &self.tiers[i];
        let wanted: Vec<String> = t
            .current
            .iter()
            .flat_map(|a| std::iter::repeat_n(a.target.clone(), a.workers))
            .collect();
        let started = self.assign_slots(t.slots.clone(), wanted, now);
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
        for i in 0..self.tiers.len() {
            let t = &mut self.tiers[i];
            let before = t.state.clone();
            let runs = !t.spec.decide(&mut t.state, &skip, once).run.is_empty();
            let workers = t.spec.workers;
            if t.state != before {
                self.save_tier(i);
            }
            wants.push(if runs { workers } else { 0 });
        }
        let specs: Vec<TierSpec> = self.tiers.iter().map(|t| t.spec.clone()).collect();
        let Some(turns) = self.turns.as_mut() else {
            return false;
        };
        let chosen = turns.rotation.choose(&wants);
        let turn = turns.rotation.turn(&specs, &chosen);
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
                self.save_tier(i);
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
            let name = |i: usize| specs[i].name.clone();
            self.say(Notice::TierTurn {
                running: running.iter().map(|&i| name(i)).collect(),
                waiting: (0..specs.len())
                    .filter(|i| !running.contains(i) && wants[*i] > 0)
                    .map(name)
                    .collect(),
                turn,
            });
        }
        !running.is_empty()
    }

    /// Ends the coverage-following schedule's slice: pays each target what it gained in
    /// it, plans the next one and moves the slots accordingly.
    fn decide_shares(&mut self, now: Instant) {
        self.account(now);
        let campaign_time = now.saturating_duration_since(self.started);
        let skip = self.not_runnable();
        let slots = self.slots.len();
        let once = self.spec.once;
        let measured = self.measured.clone();
        let Some(sh) = self.shares.as_mut() else {
            return;
        };
        // What the slice that ends gave: each target that ran, measured from its start.
        for (target, ms) in std::mem::take(&mut sh.slot_ms) {
            let end = measured.get(&target).copied().unwrap_or_default();
            let start = sh.at_start.get(&target).copied();
            let f1 = end.features.unwrap_or(0);
            // A target that had no count at the slice's start (its first turn on a fresh
            // state) grew from what its first run loaded, not from zero: the coverage of
            // its seeds is not what the slice found.
            let f0 = start.and_then(|m| m.features).or(end.loaded).unwrap_or(f1);
            let (b1, b0) = (end.bugs, start.map_or(end.bugs, |m| m.bugs));
            sh.state.record(
                &SliceResult {
                    target,
                    worker_secs: ms as f64 / 1000.0,
                    new_features: f1.saturating_sub(f0),
                    new_bugs: b1.saturating_sub(b0),
                },
                campaign_time,
                &sh.spec.params,
            );
        }
        let targets: Vec<share::TargetSpec> = sh
            .spec
            .targets
            .iter()
            .filter(|t| !skip.contains(&t.name))
            .cloned()
            .collect();
        // `--once`: done when every target has had its first turn and that slice ended.
        // (A new build's reset clears `had_first_turn` until its turn on that build.)
        let all_had_turns = targets.iter().all(|t| {
            sh.state
                .targets
                .get(&t.name)
                .is_some_and(|s| s.had_first_turn)
        });
        if once && all_had_turns && !sh.current.is_empty() {
            sh.current.clear();
            self.begin_stop(StopReason::CycleDone, now);
            return;
        }
        let plan = sh
            .state
            .plan(&targets, slots, campaign_time, &sh.spec.params);
        sh.until = now + plan.for_duration;
        // Every target's, not only the planned ones': a worker still stopping from the
        // slice before is measured in this one too.
        sh.at_start = measured;
        let changed = plan.run != sh.current;
        sh.current = plan.run.clone();
        sh.views = plan.shares.clone();
        let state = sh.state.to_json();
        self.out.push(Action::Save {
            row: SHARES_ROW.into(),
            state,
        });
        if changed {
            let why: Vec<String> = plan
                .shares
                .iter()
                .filter(|v| plan.run.iter().any(|a| a.target == v.target))
                .map(|v| format!("{}: {}", v.target, v.reason))
                .collect();
            self.log(None, "schedule", why.join("; "));
            self.say(Notice::Slice {
                run: plan
                    .run
                    .iter()
                    .map(|a| (a.target.clone(), a.workers))
                    .collect(),
                slice: plan.for_duration,
            });
        }
        let wanted: Vec<String> = plan
            .run
            .iter()
            .flat_map(|a| std::iter::repeat_n(a.target.clone(), a.workers))
            .collect();
        let started = self.assign_slots((0..slots).collect(), wanted, now);
        for target in started {
            let workers = plan
                .run
                .iter()
                .find(|a| a.target == target)
                .map_or(0, |a| a.workers);
            self.starting.insert(target, workers);
        }
        if plan.run.is_empty() {
            self.check_all_idle(now);
        }
    }

    /// Gives `slots` the `wanted` targets, keeping a slot on its target where possible;
    /// stops what no longer runs and starts what is new. Returns the targets given more
    /// slots.
    fn assign_slots(
        &mut self,
        slots: Vec<usize>,
        mut wanted: Vec<String>,
        now: Instant,
    ) -> BTreeSet<String> {
        let mut changed = Vec::new();
        for &s in &slots {
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
            let next = (!wanted.is_empty()).then(|| wanted.remove(0));
            self.slots[s].target = next.clone();
            self.slots[s].restart_at = None;
            if self.slots[s].worker.is_some() {
                self.stop_slot(s, now);
            } else if next.is_some() {
                self.spawn(s, now);
            }
        }
        started
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
        let paused = self.paused;
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
        let state = serde_json::to_string(&had).expect("a map of strings to integers");
        self.out.push(Action::Save {
            row: ROTATION_ROW.into(),
            state,
        });
    }

    fn stop_slot(&mut self, s: usize, now: Instant) {
        let slot = &mut self.slots[s];
        if let Some(r) = &slot.worker
            && slot.stop_deadline.is_none()
        {
            slot.stop_deadline = Some(now + self.spec.grace);
            let run = r.run;
            self.out.push(Action::Signal {
                run,
                signal: Signal::SIGTERM,
            });
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
        let slice = self.shares.as_ref().map(|sh| sh.until);
        let run = self.spec.run_for.map(|d| self.started + d);
        [tier, turn, slice, run].into_iter().flatten().min()
    }

    /// Pays an arm what its run gained, and saves what the target's bandit learnt.
    fn pay(&mut self, target: &str, arm: &Arm, gain: &Gain) {
        let Some(b) = self.bandits.get_mut(target) else {
            return;
        };
        if b.record(&RunResult {
            arm: arm.clone(),
            cpu: gain.cpu,
            new_features: gain.new_features,
            new_bugs: gain.new_bugs,
        }) {
            let state = b.to_json();
            self.out.push(Action::Save {
                row: bandit_row(target),
                state,
            });
        }
    }

    /// Whether `arm` can run on `target` now: not broken there, and a dictionary
    /// strategy only once the target's recommended dictionary has entries (the harvested
    /// one only once constants were harvested). Another engine's arms are there only
    /// when the target has its build.
    fn arm_available(
        dicts: &BTreeMap<String, bool>,
        broken: &BTreeMap<String, BTreeSet<Arm>>,
        target: &str,
        arm: &Arm,
    ) -> bool {
        broken.get(target).is_none_or(|b| !b.contains(arm))
            && (arm.engine != bandit::LIBFUZZER
                || arm.strategy.parse::<Strategy>().is_ok_and(|s| {
                    let ready = dicts.get(target);
                    (ready.is_some() || !s.needs_recommended_dict())
                        && (ready == Some(&true) || !s.needs_harvested_dict())
                }))
    }

    /// The arm a new run of `target` gets: the bandit's choice among the arms that can
    /// run now (a dictionary strategy waits for its dictionary).
    fn choose_arm(&mut self, target: &str) -> Option<Choice> {
        let p = self.spec.portfolio.as_ref()?;
        let arms = p.arms.get(target)?;
        let params = p.params.clone();
        let b = self
            .bandits
            .entry(target.to_string())
            .or_insert_with(|| Bandit::new(arms.clone(), params));
        b.set_arms(arms);
        // Until a run of the target has started fuzzing, one run has the start arm: a
        // target that cannot start fails as itself. On a target that never ran, one more
        // runs it beside the first for a moment. The other workers try arms from the
        // start.
        let start = START_ARMS
            .iter()
            .map(|s| Arm::new(bandit::LIBFUZZER, s))
            .find(|a| arms.contains(a));
        let running_for = |why: Why| {
            self.slots.iter().any(|s| {
                s.worker
                    .as_ref()
                    .is_some_and(|r| r.target == target && r.why.as_ref() == Some(&why))
            })
        };
        if !self.started_ok.contains(target)
            && let Some(arm) = start
        {
            if !running_for(Why::Start) {
                return Some(Choice {
                    arm,
                    why: Why::Start,
                });
            }
            // Once per campaign, and only on a target no run was paid for yet: a resumed
            // one has its shallow bugs found, and its corpus to load first.
            let never_ran = b.arms.iter().all(|a| a.runs == 0);
            if never_ran && self.beside_started.insert(target.to_string()) {
                return Some(Choice {
                    arm,
                    why: Why::Beside,
                });
            }
        }
        let available =
            |arm: &Arm| Self::arm_available(&self.dicts, &self.broken_arms, target, arm);
        // An engine that has not run on the target yet (nor runs on it now) goes first:
        // a second engine finds what the first cannot soonest when it starts soon — on
        // two workers, when the run beside the first libFuzzer run ends.
        let engine_runs = |engine: &str| -> u64 {
            b.arms
                .iter()
                .filter(|a| a.arm.engine == engine)
                .map(|a| a.runs)
                .sum()
        };
        // The arms this target's workers run now, and those of its runs that wait for
        // their pay.
        let running: Vec<&Arm> = self
            .slots
            .iter()
            .filter_map(|s| s.worker.as_ref())
            .filter(|r| r.target == target)
            .filter_map(|r| r.arm.as_ref())
            .chain(self.awaiting_pay.get(target).into_iter().flatten())
            .collect();
        let engine_running = |engine: &str| running.iter().any(|a| a.engine == engine);
        let fresh: Vec<&Arm> = b
            .arms
            .iter()
            .map(|a| &a.arm)
            .filter(|a| available(a) && engine_runs(&a.engine) == 0 && !engine_running(&a.engine))
            .collect();
        // The first listed: AFL++'s CmpLog before its plain mode.
        if let Some(&arm) = fresh.first() {
            return Some(Choice {
                arm: arm.clone(),
                why: Why::Untried,
            });
        }
        // Workers of one target run different arms while there are others to run.
        b.choose(&mut self.rng, |arm| {
            available(arm) && !running.contains(&arm)
        })
        .or_else(|| b.choose(&mut self.rng, available))
    }

    fn spawn(&mut self, s: usize, now: Instant) {
        let Some(target) = self.slots[s].target.clone() else {
            return;
        };
        if self.paused {
            // No worker starts while the disk is full; retried when the wait is over.
            self.slots[s].restart_at = Some(now + TICK);
            return;
        }
        self.slots[s].accounted_at.get_or_insert(now);
        let choice = self.choose_arm(&target);
        let (arm, why) = match choice {
            Some(c) => (Some(c.arm), Some(c.why)),
            None => (None, None),
        };
        // Short runs while the target's bandit still has arms to warm up, so every arm is
        // measured within minutes; then runs of the full length.
        let run_end = self.spec.portfolio.as_ref().map(|p| {
            let exploring = self.bandits.get(&target).is_some_and(|b| {
                b.arms.iter().any(|a| {
                    a.runs < bandit::WARM_UP_RUNS
                        && Self::arm_available(&self.dicts, &self.broken_arms, &target, &a.arm)
                })
            });
            now + if why == Some(Why::Start) {
                START_RUN_LENGTH.min(p.first_run_length).min(p.run_length)
            } else if why == Some(Why::Beside) {
                BESIDE_RUN_LENGTH.min(p.first_run_length).min(p.run_length)
            } else if exploring {
                p.first_run_length.min(p.run_length)
            } else {
                p.run_length
            }
        });
        let ends_at = [self.slot_end(s), run_end].into_iter().flatten().min();
        let max_total_time = self_ended_turn(ends_at, now);
        let run = self.next_run;
        self.next_run += 1;
        self.runs.insert(run, s);
        self.slots[s].worker = Some(Running {
            run,
            target: target.clone(),
            arm: arm.clone(),
            why: why.clone(),
            started: now,
            inited_at: None,
            ends_at: ends_at.filter(|_| max_total_time.is_some()),
        });
        self.out.push(Action::Spawn {
            slot: s,
            run,
            target,
            max_total_time,
            arm,
            why,
        });
    }

    fn track_assignments(&mut self, now: Instant) {
        let assigned: BTreeSet<String> =
            self.slots.iter().filter_map(|s| s.target.clone()).collect();
        let ended: Vec<String> = self
            .assigned_since
            .keys()
            .filter(|t| !assigned.contains(*t))
            .cloned()
            .collect();
        for target in ended {
            // Its turn ended: its corpus is counted now, so a minimization need not wait
            // for the next periodic count.
            self.assigned_since.remove(&target);
            self.out.push(Action::CountCorpus { target });
        }
        for t in assigned {
            self.assigned_since.entry(t).or_insert(now);
        }
    }

    /// Picks corpora that grew enough for a minimization and minimizes each one once its
    /// target's workers are gone (a merge must not race workers rewriting the corpus).
    fn start_minimizations(&mut self, now: Instant) {
        let Some(auto) = self.spec.minimize else {
            return;
        };
        let mut moved = false;
        for (name, &files) in &self.corpus_files {
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
            let minimizing = &self.minimizing;
            if self.shares.as_ref().is_some_and(|sh| {
                sh.current
                    .iter()
                    .any(|a| minimizing.contains_key(&a.target))
            }) {
                self.decide_shares(now);
            }
        }
        let ready: Vec<String> = self
            .minimizing
            .iter()
            .filter(|(t, started)| !**started && !self.running().any(|(_, _, r)| r == *t))
            .map(|(t, _)| t.clone())
            .collect();
        for target in ready {
            self.minimizing.insert(target.clone(), true);
            self.out.push(Action::Minimize { target });
        }
    }

    fn minimized(&mut self, target: String, files: u64, now: Instant) {
        self.minimizing.remove(&target);
        // A failed merge is not retried until the corpus has grown again.
        self.minimized_at_files.insert(target.clone(), files);
        self.corpus_files.insert(target.clone(), files);
        if self.stopping.is_none() {
            let tiers: Vec<usize> = (0..self.tiers.len())
                .filter(|&i| self.tiers[i].spec.targets.contains(&target))
                .collect();
            for i in tiers {
                self.decide(i, now);
            }
            // Every slot may be idle waiting for this one.
            if self.shares.as_ref().is_some_and(|sh| sh.current.is_empty()) {
                self.decide_shares(now);
            }
            self.check_all_idle(now);
        }
    }

    /// Starts the workers whose restart wait is over.
    /// The decisions whose time has come at `now`: the end of the campaign (`--for`), of
    /// the tiers' turn, of the schedule's slice, of a tier's target.
    fn decide_due(&mut self, now: Instant) {
        if self
            .spec
            .run_for
            .is_some_and(|d| now.saturating_duration_since(self.started) >= d)
        {
            self.begin_stop(StopReason::TimeUp, now);
            return;
        }
        // The turn first: a tier whose turn ends does not start its next target first.
        if self.turns.as_ref().is_some_and(|t| now >= t.until) {
            self.take_turns(now);
        }
        if self.shares.as_ref().is_some_and(|sh| now >= sh.until) {
            self.decide_shares(now);
        }
        if self.stopping.is_some() {
            return;
        }
        for i in 0..self.tiers.len() {
            if self.tiers[i].until.is_some_and(|u| now >= u) {
                self.decide(i, now);
            }
        }
    }

    fn restart_due(&mut self, now: Instant) {
        for s in 0..self.slots.len() {
            if self.slots[s].restart_at.is_some_and(|t| now >= t) && self.slots[s].worker.is_none()
            {
                self.slots[s].restart_at = None;
                self.spawn(s, now);
            }
        }
    }

    fn begin_stop(&mut self, reason: StopReason, now: Instant) {
        // Account every slot while it still knows its target: the time up to the stop
        // belongs in uptime's denominator.
        self.account(now);
        self.stopping = Some((reason, now + self.spec.grace));
        self.say(Notice::Stopping { reason });
        for i in 0..self.tiers.len() {
            self.credit(i, now);
        }
        self.save_turns(now);
        for i in 0..self.tiers.len() {
            self.save_tier(i);
        }
        for s in 0..self.slots.len() {
            self.slots[s].target = None;
            self.stop_slot(s, now);
        }
    }

    fn tick(&mut self, now: Instant) {
        for s in 0..self.slots.len() {
            if let (Some(deadline), Some(r)) = (self.slots[s].stop_deadline, &self.slots[s].worker)
                && now >= deadline
            {
                let run = r.run;
                self.out.push(Action::Signal {
                    run,
                    signal: Signal::SIGKILL,
                });
            }
        }
        if self.stopping.is_some() {
            return;
        }
        self.decide_due(now);
        if self.stopping.is_some() {
            return;
        }
        self.check_all_idle(now);
        self.track_assignments(now);
        self.start_minimizations(now);
        self.restart_due(now);
    }
}

#[cfg(test)]
mod tests;
