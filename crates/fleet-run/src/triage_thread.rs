//! The crash pipeline as a campaign runs it: two threads, so filing never waits behind
//! a process. The **filer** files each finding as it comes, from the fuzzer's own report
//! (a database write; it keeps up with any crash storm). The **runner** does everything
//! that runs the target, at low priority: reproducing new bugs (targets in turn, at most
//! [`WORK_PER_TARGET`] waiting each), getting a report for a finding that had none (the
//! filer files it when the run is done), re-testing buckets against a new build and
//! minimizing bugs' inputs. Both pause while the disk is full, and a stopping campaign
//! drains them within a deadline.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fleet_store::Layout;

use crate::background::{self, Background, Inbox, JoinError, Mailbox, Recv};

use crate::triage::{Pipeline, TriageConfig, TriageError, TriageEvent, TriageTarget, Work};

/// Reproductions one target may have waiting; findings beyond it wait in the database
/// (filed from their report where they have one) for a later round.
pub const WORK_PER_TARGET: usize = 16;

/// How often the threads look for rule changes and rebuilt binaries when idle.
const IDLE_CHECK: Duration = Duration::from_secs(10);

/// Reproductions waiting, per target, served in turn so one target's crash storm cannot
/// starve another's new bug; each target holds at most [`WORK_PER_TARGET`].
#[derive(Debug, Default)]
pub struct WorkQueue {
    by_target: BTreeMap<String, VecDeque<Work>>,
    /// The target served last (the next one after it goes first).
    last: Option<String>,
}

impl WorkQueue {
    /// Queues `work`; false when the target's queue is full (the work was not queued).
    pub fn push(&mut self, target: &str, work: Work) -> bool {
        let q = self.by_target.entry(target.to_owned()).or_default();
        if q.contains(&work) {
            return true;
        }
        if q.len() >= WORK_PER_TARGET {
            return false;
        }
        // A new bug's reproduction goes before findings still to be described.
        match work {
            Work::Reproduce(_) => {
                let at = q
                    .iter()
                    .position(|w| matches!(w, Work::Describe(_)))
                    .unwrap_or(q.len());
                q.insert(at, work);
            }
            Work::Describe(_) => q.push_back(work),
        }
        true
    }

    /// The next work, taking targets in turn.
    pub fn pop(&mut self) -> Option<(String, Work)> {
        let after = |t: &String| self.last.as_ref().is_none_or(|last| t > last);
        let next = self
            .by_target
            .iter()
            .find(|(t, q)| after(t) && !q.is_empty())
            .or_else(|| self.by_target.iter().find(|(_, q)| !q.is_empty()))
            .map(|(t, _)| t.clone())?;
        let work = self.by_target.get_mut(&next)?.pop_front()?;
        self.last = Some(next.clone());
        Some((next, work))
    }

    pub fn len(&self) -> usize {
        self.by_target.values().map(VecDeque::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the campaign (and the runner) ask of the filer.
enum FilerJob {
    Finding(i64),
    /// The disk is full (true) or has room again.
    Pause(bool),
    /// The workers are gone: file everything, let the runner reproduce until `deadline`.
    Drain {
        deadline: Instant,
    },
    /// The runner ran a report-less finding: file it from the report the run left.
    Described {
        id: i64,
        repro: Option<String>,
    },
    /// The runner ended its drain: reproductions done, and left.
    RunnerDrained {
        reproduced: usize,
        left: usize,
    },
}

/// What the filer asks of the runner.
enum RunnerJob {
    Work { target: String, work: Work },
    Minimize(String),
    Pause(bool),
    Drain { deadline: Instant },
}

type Events = Arc<Mutex<Box<dyn FnMut(TriageEvent) + Send>>>;

fn say(events: &Events, e: TriageEvent) {
    if let Ok(mut f) = events.lock() {
        f(e);
    }
}

fn said(events: &Events, r: Result<(), TriageError>) {
    if let Err(e) = r {
        say(
            events,
            TriageEvent::Error {
                message: format!("crash triage: {e}"),
            },
        );
    }
}

/// The pipeline's two threads, fed by the campaign.
pub struct TriageThread {
    filer: Background<FilerJob>,
    runner: Background<RunnerJob>,
}

impl TriageThread {
    /// Starts the filer and the runner. The runner first re-tests buckets against
    /// changed builds; the filer first takes up what an earlier run left (findings not
    /// filed, new bugs not reproduced).
    pub fn spawn(
        layout: Layout,
        targets: BTreeMap<String, TriageTarget>,
        config: TriageConfig,
        on_event: Box<dyn FnMut(TriageEvent) + Send>,
    ) -> std::io::Result<TriageThread> {
        let events: Events = Arc::new(Mutex::new(on_event));
        // Set at a drain: a minimization running then stops, so the runner's time goes
        // to reproducing the run's new bugs.
        let stop_minimizing = fleet_proc::Cancel::new();
        let (to_filer, filer_inbox) = background::channel::<FilerJob>();
        let (to_runner, runner_inbox) = background::channel::<RunnerJob>();
        let runner = {
            let (layout, targets, mut config) = (layout.clone(), targets.clone(), config.clone());
            config.minimize.cancel = Some(stop_minimizing.clone());
            let (events, back) = (events.clone(), to_filer.clone());
            let channel = (to_runner.clone(), runner_inbox);
            Background::start("triage-runs", channel, move |inbox| {
                match Pipeline::open(layout, targets, config) {
                    Ok(p) => Runner {
                        pipeline: p,
                        events,
                        back,
                        work: WorkQueue::default(),
                        to_minimize: VecDeque::new(),
                        paused: false,
                        drain: None,
                        reproduced: 0,
                    }
                    .run(&inbox),
                    Err(e) => say(
                        &events,
                        TriageEvent::Error {
                            message: format!("crash triage cannot run targets: {e}"),
                        },
                    ),
                }
            })?
        };
        let filer =
            {
                let events = events.clone();
                Background::start("triage", (to_filer, filer_inbox), move |inbox| {
                    match Pipeline::open(layout, targets, config) {
                        Ok(p) => Filer {
                            pipeline: p,
                            events,
                            runner: to_runner,
                            paused: false,
                            drain: None,
                            filed: 0,
                            stop_minimizing,
                        }
                        .run(&inbox),
                        Err(e) => say(
                            &events,
                            TriageEvent::Error {
                                message: format!("crash triage is off: {e}"),
                            },
                        ),
                    }
                })?
            };
        Ok(TriageThread { filer, runner })
    }

    /// Queues a new finding.
    pub fn finding(&self, id: i64) {
        self.send(FilerJob::Finding(id));
    }

    /// Pauses (disk full) or resumes the pipeline.
    pub fn pause(&self, paused: bool) {
        self.send(FilerJob::Pause(paused));
    }

    /// The campaign's workers are gone: file everything sent so far, reproduce new bugs
    /// until `deadline`, then end (see [`TriageThread::is_finished`]). The pipeline
    /// reports [`TriageEvent::Drained`] when it is done.
    pub fn drain(&self, deadline: Instant) {
        self.send(FilerJob::Drain { deadline });
    }

    /// Whether the filer has ended (after a drain, once the runner has too).
    pub fn is_finished(&self) -> bool {
        self.filer.is_finished()
    }

    fn send(&self, job: FilerJob) {
        self.filer.send(job);
    }

    /// Asks both threads to stop after their current step and waits up to `wait`. A
    /// reproduction or minimization still running is abandoned (its process group is
    /// stopped when this process exits); what it was doing stays pending for next time.
    /// A thread still running at the deadline, or one that panicked, is returned.
    pub fn finish(self, wait: Duration) -> Vec<JoinError> {
        self.filer.stop();
        self.runner.stop();
        let deadline = Instant::now() + wait;
        let mut errors = Vec::new();
        errors.extend(self.filer.join(wait).err());
        let left = deadline.saturating_duration_since(Instant::now());
        errors.extend(self.runner.join(left).err());
        errors
    }
}

/// The filing thread: database writes only.
struct Filer {
    pipeline: Pipeline,
    events: Events,
    runner: Mailbox<RunnerJob>,
    paused: bool,
    drain: Option<Instant>,
    /// Findings filed since the drain began.
    filed: usize,
    /// Stops the runner's minimization (a step that can take its whole budget).
    stop_minimizing: fleet_proc::Cancel,
}

impl Filer {
    fn run(mut self, inbox: &Inbox<FilerJob>) {
        self.resume();
        let mut last_check = Instant::now();
        loop {
            let job = match inbox.recv_timeout(IDLE_CHECK) {
                Recv::Msg(job) => job,
                Recv::Timeout => {
                    if self.drain.is_some_and(|d| Instant::now() > d + IDLE_CHECK) {
                        // The runner never answered the drain (it is gone): end anyway.
                        return self.drained(0, 0);
                    }
                    if !self.paused && last_check.elapsed() >= IDLE_CHECK {
                        last_check = Instant::now();
                        let r = self.pipeline.reload_rules_if_changed().map(|_| ());
                        said(&self.events, r);
                    }
                    continue;
                }
                Recv::Stop | Recv::Closed => return,
            };
            match job {
                // While the disk is full nothing is written: the finding is in the
                // database, pending, and filed on resume.
                FilerJob::Finding(_) if self.paused => {}
                FilerJob::Finding(id) => self.finding(id),
                FilerJob::Described { id, repro } => {
                    let mut news = Vec::new();
                    let r = self
                        .pipeline
                        .file_described(id, repro.as_deref(), &mut |e| news.push(e));
                    self.news(news);
                    said(&self.events, r);
                }
                FilerJob::Pause(p) => {
                    let resumed = self.paused && !p;
                    self.paused = p;
                    self.runner.send(RunnerJob::Pause(p));
                    if resumed {
                        self.resume();
                    }
                }
                FilerJob::Drain { deadline } => {
                    self.drain = Some(deadline);
                    self.paused = false;
                    // Findings an earlier pause left pending are part of what is drained.
                    self.resume();
                    // A minimization in progress may outlast the deadline: it stops (the
                    // bucket is minimized another time) and reproductions go first.
                    self.stop_minimizing.cancel();
                    self.runner.send(RunnerJob::Drain { deadline });
                }
                FilerJob::RunnerDrained { reproduced, left } => {
                    return self.drained(reproduced, left);
                }
            }
        }
    }

    fn drained(&mut self, reproduced: usize, left: usize) {
        say(
            &self.events,
            TriageEvent::Drained {
                filed: self.filed,
                reproduced,
                left,
            },
        );
    }

    /// Files a finding from its report; what needs a run goes to the runner.
    fn finding(&mut self, id: i64) {
        let mut news = Vec::new();
        let r = self.pipeline.file_finding(id, &mut |e| news.push(e));
        self.news(news);
        match r {
            Ok(Some(work)) => self.queue(work),
            Ok(None) => {}
            Err(e) => said(&self.events, Err(e)),
        }
    }

    fn news(&mut self, news: Vec<TriageEvent>) {
        for e in news {
            match &e {
                TriageEvent::NewBucket { id, .. } => {
                    self.runner.send(RunnerJob::Minimize(id.clone()));
                    self.filed += usize::from(self.drain.is_some());
                }
                TriageEvent::Filed { .. } => self.filed += usize::from(self.drain.is_some()),
                _ => {}
            }
            say(&self.events, e);
        }
    }

    fn queue(&mut self, work: Work) {
        match self.pipeline.db().finding(work.finding()) {
            Ok(Some(f)) => {
                self.runner.send(RunnerJob::Work {
                    target: f.target,
                    work,
                });
            }
            Ok(None) => {}
            Err(e) => said(&self.events, Err(e.into())),
        }
    }

    /// What an earlier run (or a pause) left: findings not filed, new bugs not
    /// reproduced.
    fn resume(&mut self) {
        match self.pipeline.db().pending_findings() {
            Ok(pending) => {
                for f in pending {
                    self.finding(f.id);
                }
            }
            Err(e) => said(&self.events, Err(e.into())),
        }
        match self.pipeline.db().unreproduced_findings() {
            Ok(fs) => {
                for f in fs {
                    self.queue(Work::Reproduce(f.id));
                }
            }
            Err(e) => said(&self.events, Err(e.into())),
        }
    }
}

/// The thread that runs targets: reproductions, re-tests, minimizations.
struct Runner {
    pipeline: Pipeline,
    events: Events,
    /// To the filer: a described finding to file, the end of a drain.
    back: Mailbox<FilerJob>,
    work: WorkQueue,
    to_minimize: VecDeque<String>,
    paused: bool,
    drain: Option<Instant>,
    reproduced: usize,
}

impl Runner {
    fn run(mut self, inbox: &Inbox<RunnerJob>) {
        let stopped = || inbox.stopping();
        for t in self.pipeline.target_names() {
            if stopped() {
                return;
            }
            let r = self.retest(&t);
            said(&self.events, r);
        }
        for id in self.pipeline.unminimized().unwrap_or_default() {
            self.minimize_later(&id);
        }
        let mut last_check = Instant::now();
        loop {
            if stopped() {
                return;
            }
            loop {
                match inbox.try_recv() {
                    Recv::Msg(job) => self.job(job),
                    Recv::Timeout => break,
                    Recv::Stop | Recv::Closed => return,
                }
            }
            if let Some(deadline) = self.drain {
                if Instant::now() >= deadline || !self.step() {
                    self.back.send(FilerJob::RunnerDrained {
                        reproduced: self.reproduced,
                        left: self.work.len(),
                    });
                    return;
                }
                continue;
            }
            let busy = !self.paused && self.step();
            let wait = if busy { Duration::ZERO } else { IDLE_CHECK };
            match inbox.recv_timeout(wait) {
                Recv::Msg(job) => self.job(job),
                Recv::Timeout => {}
                Recv::Stop | Recv::Closed => return,
            }
            if !self.paused && last_check.elapsed() >= IDLE_CHECK {
                last_check = Instant::now();
                self.checks();
            }
        }
    }

    fn job(&mut self, job: RunnerJob) {
        match job {
            RunnerJob::Work { target, work } => {
                if !self.work.push(&target, work) && matches!(work, Work::Describe(_)) {
                    // Its target's queue is full: filed now under its kind, run later.
                    self.back.send(FilerJob::Described {
                        id: work.finding(),
                        repro: None,
                    });
                }
            }
            RunnerJob::Minimize(id) => self.minimize_later(&id),
            RunnerJob::Pause(p) => self.paused = p,
            RunnerJob::Drain { deadline } => {
                self.drain = Some(deadline);
                self.paused = false;
            }
        }
    }

    /// One slow step: a reproduction, else (not while draining) a minimization.
    /// Returns whether there was one.
    fn step(&mut self) -> bool {
        if let Some((_, work)) = self.work.pop() {
            let r = match work {
                Work::Reproduce(_) => self.pipeline.work(work, &mut |_| {}),
                Work::Describe(id) => self.pipeline.run_for_report(id).map(|repro| {
                    self.back.send(FilerJob::Described { id, repro });
                }),
            };
            said(&self.events, r);
            self.reproduced += usize::from(self.drain.is_some());
            return true;
        }
        if self.drain.is_none()
            && let Some(id) = self.to_minimize.pop_front()
        {
            let r = self.minimize(&id);
            said(&self.events, r);
            return true;
        }
        false
    }

    fn minimize(&mut self, id: &str) -> Result<(), TriageError> {
        // The filer made the bucket; this pipeline learns of it from the database.
        if !self.pipeline.knows(id) {
            self.pipeline.refresh()?;
        }
        let events = self.events.clone();
        self.pipeline.minimize(id, &mut |e| say(&events, e))
    }

    fn retest(&mut self, target: &str) -> Result<(), TriageError> {
        self.pipeline.refresh()?;
        let events = self.events.clone();
        self.pipeline.retest(target, &mut |e| say(&events, e))
    }

    /// Re-tests changed builds, finds inputs to minimize.
    fn checks(&mut self) {
        for t in self.pipeline.target_names() {
            let r = self.retest(&t);
            said(&self.events, r);
        }
        // A smaller input may have become a representative.
        for id in self.pipeline.unminimized().unwrap_or_default() {
            self.minimize_later(&id);
        }
    }

    /// Queues a bucket for minimization once (the same input is not minimized twice).
    fn minimize_later(&mut self, id: &str) {
        if !self.to_minimize.iter().any(|q| q == id) {
            self.to_minimize.push_back(id.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_take_turns_and_new_bugs_go_first() {
        let mut q = WorkQueue::default();
        assert!(q.push("a", Work::Describe(1)));
        assert!(q.push("a", Work::Reproduce(2)));
        assert!(q.push("a", Work::Reproduce(3)));
        assert!(q.push("b", Work::Describe(4)));
        assert!(
            q.push("a", Work::Reproduce(2)),
            "a duplicate is already queued"
        );
        assert_eq!(q.len(), 4);
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(
            order,
            vec![
                ("a".into(), Work::Reproduce(2)),
                ("b".into(), Work::Describe(4)),
                ("a".into(), Work::Reproduce(3)),
                ("a".into(), Work::Describe(1)),
            ]
        );
        assert!(q.is_empty());
    }

    #[test]
    fn a_storm_of_one_target_is_bounded() {
        let mut q = WorkQueue::default();
        for id in 0..WORK_PER_TARGET as i64 {
            assert!(q.push("storm", Work::Describe(id)));
        }
        assert!(!q.push("storm", Work::Describe(999)));
        assert!(q.push("quiet", Work::Reproduce(1000)));
        assert_eq!(q.len(), WORK_PER_TARGET + 1);
    }
}
