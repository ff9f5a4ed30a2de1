//! The campaign's decisions driven by inputs and a fake clock: no process, file or
//! database is involved, so each rule is checked exactly.

use super::*;
use crate::portfolio::share::ShareState;
use crate::portfolio::{bandit, share};

const MIN: Duration = Duration::from_secs(60);
const H: Duration = Duration::from_secs(3600);

fn tier(name: &str, targets: &[&str], budget: Duration, workers: usize) -> TierSpec {
    TierSpec {
        name: name.into(),
        targets: targets.iter().map(|t| t.to_string()).collect(),
        budget,
        slice: None,
        workers,
    }
}

fn spec(tiers: Vec<TierSpec>, slots: usize) -> CoreSpec {
    CoreSpec {
        tiers,
        slots,
        tier_slice: H,
        run_for: None,
        once: false,
        grace: Duration::from_secs(10),
        minimize: None,
        reload_on_hup: false,
        portfolio: None,
        shares: None,
    }
}

/// A core and its clock.
struct Sim {
    core: Core,
    t0: Instant,
    now: Instant,
}

impl Sim {
    fn new(spec: CoreSpec) -> Self {
        Self::resumed(spec, Saved::default())
    }

    fn resumed(spec: CoreSpec, saved: Saved) -> Self {
        let t0 = Instant::now();
        Self {
            core: Core::new(spec, saved, t0),
            t0,
            now: t0,
        }
    }

    fn at(&mut self, since_start: Duration) -> &mut Self {
        self.now = self.t0 + since_start;
        self
    }

    fn feed(&mut self, input: Input) -> Vec<Action> {
        self.core.handle(input, self.now)
    }

    fn running(&self) -> Vec<(RunId, String)> {
        self.core
            .running()
            .map(|(r, _, t)| (r, t.to_string()))
            .collect()
    }

    /// Each of `targets` measured at `measure`.
    fn measure(&mut self, targets: &[&str], measure: Measure) {
        for target in targets {
            self.feed(Input::Measured {
                target: target.to_string(),
                measure,
            });
        }
    }

    /// Run `run` ends by itself (its `-max_total_time`), paid nothing.
    fn ended_by_itself(&mut self, run: RunId) -> Vec<Action> {
        self.feed(Input::Exited {
            run,
            exit: Exit {
                code: Some(0),
                saw_inited: true,
                gain: Some(Gain::default()),
                ..Exit::default()
            },
        })
    }

    /// Every worker run reaches INITED.
    fn init_all(&mut self) {
        for (run, _) in self.running() {
            self.feed(Input::Inited { run });
        }
    }

    /// Every worker run that was signalled exits as a stopped worker does.
    fn exit_all(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        for (run, _) in self.running() {
            out.extend(self.feed(Input::Exited {
                run,
                exit: Exit {
                    signal: Some(libc::SIGTERM),
                    saw_inited: true,
                    ..Exit::default()
                },
            }));
        }
        out
    }
}

fn spawned(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Spawn { target, .. } => Some(target.clone()),
            _ => None,
        })
        .collect()
}

fn signals(actions: &[Action]) -> Vec<(RunId, Signal)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Signal { run, signal } => Some((*run, *signal)),
            _ => None,
        })
        .collect()
}

fn notices(actions: &[Action]) -> Vec<&Notice> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Notice(n) => Some(n),
            _ => None,
        })
        .collect()
}

fn stopping(actions: &[Action]) -> Option<StopReason> {
    notices(actions).into_iter().find_map(|n| match n {
        Notice::Stopping { reason } => Some(*reason),
        _ => None,
    })
}

/// Slot and fuzzing milliseconds credited per target.
fn credits(actions: &[Action]) -> BTreeMap<String, (u64, u64)> {
    let mut out = BTreeMap::new();
    for a in actions {
        if let Action::Credit {
            target,
            slot_ms,
            fuzz_ms,
        } = a
        {
            let e: &mut (u64, u64) = out.entry(target.clone()).or_default();
            e.0 += slot_ms;
            e.1 += fuzz_ms;
        }
    }
    out
}

fn saved_tier(actions: &[Action], row: &str) -> Option<TierState> {
    actions.iter().rev().find_map(|a| match a {
        Action::Save { row: r, state } if r == row => Some(TierState::from_json(Some(state))),
        _ => None,
    })
}

#[test]
fn a_sequential_tier_puts_all_its_workers_on_one_target_then_moves_on_at_its_budget() {
    let mut sim = Sim::new(spec(vec![tier("t1", &["a", "b"], H, 2)], 2));
    let start = sim.feed(Input::Start);
    assert_eq!(spawned(&start), ["a", "a"]);
    // Told to end by themselves just before the budget ends.
    for a in &start {
        if let Action::Spawn { max_total_time, .. } = a {
            assert_eq!(*max_total_time, Some(H - Duration::from_secs(1)));
        }
    }
    sim.init_all();
    // Half-way nothing changes.
    let mid = sim.at(30 * MIN).feed(Input::Tick);
    assert!(spawned(&mid).is_empty() && signals(&mid).is_empty());
    // At the budget the workers are stopped, and b starts in their slots once they exit.
    let end = sim.at(H).feed(Input::Tick);
    assert_eq!(
        signals(&end).iter().map(|s| s.1).collect::<Vec<_>>(),
        [Signal::SIGTERM, Signal::SIGTERM]
    );
    let after = sim.at(H + Duration::from_secs(2)).exit_all();
    assert_eq!(spawned(&after), ["b", "b"]);
}

#[test]
fn a_worker_that_ends_its_own_turn_is_not_restarted_but_the_slot_moves_on() {
    let mut sim = Sim::new(spec(vec![tier("t1", &["a", "b"], H, 1)], 1));
    sim.feed(Input::Start);
    sim.init_all();
    let (run, _) = sim.running()[0].clone();
    // libFuzzer's -max_total_time ended it, a second before the budget.
    let out = sim.at(H - Duration::from_secs(1)).feed(Input::Exited {
        run,
        exit: Exit {
            code: Some(0),
            saw_inited: true,
            ..Exit::default()
        },
    });
    assert!(spawned(&out).is_empty(), "{out:?}");
    assert!(notices(&out).is_empty(), "not a restart: {out:?}");
    assert_eq!(sim.core.next_restart(), Some(sim.t0 + H));
    let out = sim.at(H).feed(Input::Tick);
    assert_eq!(spawned(&out), ["b"]);
}

#[test]
fn a_crash_restarts_the_worker_at_once_and_time_is_credited_across_restarts() {
    let mut sim = Sim::new(spec(vec![tier("t1", &["a"], H, 1)], 1));
    let mut all = sim.feed(Input::Start);
    sim.at(Duration::from_secs(10)).init_all();
    let (run, _) = sim.running()[0].clone();
    let out = sim.at(MIN).feed(Input::Exited {
        run,
        exit: Exit {
            code: Some(77),
            saw_inited: true,
            crashed: true,
            ..Exit::default()
        },
    });
    assert_eq!(spawned(&out), ["a"], "a crash that fuzzed restarts at once");
    assert!(matches!(notices(&out)[..], [Notice::Restarted { .. }]));
    all.extend(out);
    sim.at(MIN + Duration::from_secs(5)).init_all();
    all.extend(sim.at(2 * MIN).feed(Input::Checkpoint));
    // Two minutes of slot time; fuzzing from 10 s to 60 s and from 65 s to 120 s.
    assert_eq!(credits(&all)["a"], (120_000, 105_000));
    // The tier's budget counts the whole two minutes.
    let state = saved_tier(&all, "t1").expect("the checkpoint saves the tier");
    assert_eq!(state.consumed_ms["a"], 120_000);
}

#[test]
fn a_campaign_resumes_a_tier_where_a_killed_one_left_it() {
    let mut before = TierState::new();
    before
        .consumed_ms
        .insert("a".into(), (59 * MIN).as_millis() as u64);
    let saved = Saved {
        tiers: [("t1".to_string(), before)].into(),
        ..Saved::default()
    };
    let mut sim = Sim::resumed(spec(vec![tier("t1", &["a", "b"], H, 1)], 1), saved);
    let out = sim.feed(Input::Start);
    assert_eq!(spawned(&out), ["a"]);
    match &out.iter().find(|a| matches!(a, Action::Spawn { .. })) {
        Some(Action::Spawn { max_total_time, .. }) => {
            assert_eq!(*max_total_time, Some(Duration::from_secs(59)))
        }
        _ => unreachable!(),
    }
    sim.init_all();
    sim.at(MIN).feed(Input::Tick);
    let out = sim.at(MIN + Duration::from_secs(1)).exit_all();
    assert_eq!(spawned(&out), ["b"], "a had the rest of its budget only");
}

#[test]
fn tiers_needing_more_workers_than_the_node_has_take_turns_and_resume_their_turns() {
    let tiers = vec![tier("t1", &["a"], 2 * H, 2), tier("t2", &["b"], 2 * H, 2)];
    let mut sim = Sim::new(spec(tiers.clone(), 2));
    let out = sim.feed(Input::Start);
    assert_eq!(spawned(&out), ["a", "a"]);
    assert!(notices(&out).iter().any(|n| matches!(
        n,
        Notice::TierTurn { running, waiting, .. } if running == &["t1"] && waiting == &["t2"]
    )));
    sim.init_all();
    // One slice (an hour) later t2 has its turn.
    let out = sim.at(H).feed(Input::Tick);
    assert_eq!(signals(&out).len(), 2);
    let out = sim.at(H + Duration::from_secs(1)).exit_all();
    assert_eq!(spawned(&out), ["b", "b"]);
    // A restart (a reload, a deploy) keeps the turns: the tier behind goes first.
    sim.init_all();
    let out = sim.at(H + 30 * MIN).feed(Input::Checkpoint);
    let had: BTreeMap<String, u64> = out
        .iter()
        .find_map(|a| match a {
            Action::Save { row, state } if row == ROTATION_ROW => {
                Some(serde_json::from_str(state).unwrap())
            }
            _ => None,
        })
        .expect("the rotation is saved");
    assert_eq!(had["t1"], H.as_millis() as u64);
    assert_eq!(had["t2"], (30 * MIN).as_millis() as u64);
    let mut resumed = Sim::resumed(
        spec(tiers, 2),
        Saved {
            rotation: Some(had),
            ..Saved::default()
        },
    );
    assert_eq!(spawned(&resumed.feed(Input::Start)), ["b", "b"]);
}

#[test]
fn a_target_that_dies_before_inited_fails_and_when_none_is_left_the_campaign_stops() {
    let mut sim = Sim::new(spec(vec![tier("t1", &["a", "b"], H, 1)], 1));
    sim.feed(Input::Start);
    let (run, _) = sim.running()[0].clone();
    let out = sim.at(Duration::from_secs(1)).feed(Input::Exited {
        run,
        exit: Exit {
            code: Some(1),
            tail: vec!["error while loading shared libraries".into()],
            ..Exit::default()
        },
    });
    let failed: Vec<_> = notices(&out)
        .into_iter()
        .filter_map(|n| match n {
            Notice::TargetFailed { target, message } => Some((target.clone(), message.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0, "a");
    assert!(failed[0].1.contains("shared libraries"), "{}", failed[0].1);
    assert_eq!(spawned(&out), ["b"], "the tier moves on without it");
    let (run, _) = sim.running()[0].clone();
    let out = sim.at(Duration::from_secs(2)).feed(Input::SpawnFailed {
        run,
        message: "cannot start b: permission denied".into(),
    });
    assert_eq!(stopping(&out), Some(StopReason::NothingToRun));
    assert_eq!(sim.core.failed().len(), 2);
    assert!(sim.core.done(sim.now));
}

#[test]
fn crashing_seeds_set_aside_restart_the_worker_after_a_pause_instead_of_failing_it() {
    let mut sim = Sim::new(spec(vec![tier("t1", &["a"], H, 1)], 1));
    sim.feed(Input::Start);
    let (run, _) = sim.running()[0].clone();
    let out = sim.at(Duration::from_millis(300)).feed(Input::Exited {
        run,
        exit: Exit {
            code: Some(77),
            crashed: true,
            set_aside: 1,
            ..Exit::default()
        },
    });
    assert!(spawned(&out).is_empty());
    assert!(sim.core.failed().is_empty());
    let due = sim.core.next_restart().expect("a restart waits");
    assert_eq!(due, sim.now + QUICK_EXIT);
    assert!(
        spawned(&sim.feed(Input::Wake)).is_empty(),
        "not before its time"
    );
    sim.now = due;
    assert_eq!(spawned(&sim.feed(Input::Wake)), ["a"]);
}

#[test]
fn a_stop_signals_every_worker_kills_them_after_the_grace_and_a_second_ctrl_c_at_once() {
    let mut sim = Sim::new(spec(vec![tier("t1", &["a"], H, 2)], 2));
    sim.feed(Input::Start);
    sim.init_all();
    let out = sim.at(MIN).feed(Input::Signal(libc::SIGINT));
    assert_eq!(stopping(&out), Some(StopReason::Signal));
    assert_eq!(
        signals(&out).iter().map(|s| s.1).collect::<Vec<_>>(),
        [Signal::SIGTERM, Signal::SIGTERM]
    );
    // Nothing more within the grace; SIGKILL after it.
    assert!(signals(&sim.at(MIN + Duration::from_secs(5)).feed(Input::Tick)).is_empty());
    let out = sim.at(MIN + Duration::from_secs(10)).feed(Input::Tick);
    assert_eq!(
        signals(&out).iter().map(|s| s.1).collect::<Vec<_>>(),
        [Signal::SIGKILL, Signal::SIGKILL]
    );
    assert!(!sim.core.done(sim.now), "it waits for the exits");
    // A second Ctrl-C kills at once and skips the final triage.
    let out = sim.feed(Input::Signal(libc::SIGINT));
    assert_eq!(signals(&out).len(), 2);
    assert!(sim.core.hurry());
    // Exits while stopping restart nothing; then the loop may end.
    let out = sim.exit_all();
    assert!(spawned(&out).is_empty());
    assert!(sim.core.done(sim.now));
    assert_eq!(sim.core.stop_signal(), Some(libc::SIGINT));
}

#[test]
fn sighup_reloads_when_asked_and_for_ends_the_run() {
    let mut s = spec(vec![tier("t1", &["a"], H, 1)], 1);
    s.reload_on_hup = true;
    let mut sim = Sim::new(s.clone());
    sim.feed(Input::Start);
    let out = sim.feed(Input::Signal(libc::SIGHUP));
    assert_eq!(stopping(&out), Some(StopReason::Reload));

    s.reload_on_hup = false;
    s.run_for = Some(10 * MIN);
    let mut sim = Sim::new(s);
    let out = sim.feed(Input::Start);
    // The worker ends itself before `--for` ends the run.
    assert!(out.iter().any(|a| matches!(
        a,
        Action::Spawn { max_total_time: Some(t), .. } if *t == 10 * MIN - Duration::from_secs(1)
    )));
    assert!(stopping(&sim.at(9 * MIN).feed(Input::Tick)).is_none());
    assert_eq!(
        stopping(&sim.at(10 * MIN).feed(Input::Tick)),
        Some(StopReason::TimeUp)
    );
}

#[test]
fn once_stops_when_every_tier_finished_its_cycle() {
    let mut s = spec(vec![tier("t1", &["a"], MIN, 1)], 1);
    s.once = true;
    let mut sim = Sim::new(s);
    sim.feed(Input::Start);
    sim.init_all();
    // The cycle is over when its last budget is: the worker is stopped, no new cycle.
    let out = sim.at(MIN).feed(Input::Tick);
    assert_eq!(stopping(&out), Some(StopReason::CycleDone));
    assert_eq!(signals(&out).len(), 1);
    let out = sim.at(MIN + Duration::from_secs(1)).exit_all();
    assert!(spawned(&out).is_empty());
    assert!(sim.core.done(sim.now));
}

#[test]
fn a_full_disk_stops_the_workers_and_spends_no_budget_until_space_returns() {
    let mut sim = Sim::new(spec(vec![tier("t1", &["a", "b"], H, 1)], 1));
    sim.feed(Input::Start);
    sim.init_all();
    let out = sim.at(10 * MIN).feed(Input::DiskPaused(true));
    assert_eq!(signals(&out).len(), 1);
    let out = sim.at(10 * MIN + Duration::from_secs(1)).exit_all();
    assert!(spawned(&out).is_empty(), "nothing starts on a full disk");
    // Two hours paused: a's budget (1 h) is not used up.
    let mut out = sim.at(2 * H).feed(Input::Wake);
    assert!(spawned(&out).is_empty());
    out.extend(sim.at(2 * H + 10 * MIN).feed(Input::DiskPaused(false)));
    out.extend(sim.feed(Input::Tick));
    assert_eq!(spawned(&out), ["a"]);
    let out = sim.feed(Input::Checkpoint);
    let state = saved_tier(&out, "t1").unwrap();
    assert_eq!(state.consumed_ms["a"], (10 * MIN).as_millis() as u64);
}

#[test]
fn a_grown_corpus_is_minimized_once_its_target_stops_and_the_tier_skips_it_meanwhile() {
    let mut s = spec(vec![tier("t1", &["a", "b"], H, 1)], 1);
    s.minimize = Some(AutoMinimize {
        growth: 2,
        min_files: 10,
    });
    let saved = Saved {
        corpus_files: [("a".to_string(), 10), ("b".to_string(), 10)].into(),
        ..Saved::default()
    };
    let mut sim = Sim::resumed(s, saved);
    sim.feed(Input::Start);
    sim.init_all();
    sim.feed(Input::Tick);
    sim.feed(Input::CorpusCounted {
        target: "a".into(),
        files: 25,
    });
    // a has run for less than half an hour: it is not paused for a merge yet.
    let out = sim.at(10 * MIN).feed(Input::Tick);
    assert!(!out.iter().any(|a| matches!(a, Action::Minimize { .. })));
    // After half an hour it is stopped, b runs, and a's merge starts once it is gone.
    let out = sim.at(31 * MIN).feed(Input::Tick);
    assert_eq!(signals(&out).len(), 1);
    assert!(!out.iter().any(|a| matches!(a, Action::Minimize { .. })));
    let out = sim.at(31 * MIN + Duration::from_secs(1)).exit_all();
    assert_eq!(spawned(&out), ["b"]);
    let out = sim.feed(Input::Tick);
    assert!(
        out.iter()
            .any(|a| matches!(a, Action::Minimize { target } if target == "a")),
        "{out:?}"
    );
    // Not again while it runs, nor after, until the corpus doubles again.
    sim.init_all();
    let out = sim.feed(Input::Minimized {
        target: "a".into(),
        files: 12,
    });
    assert!(spawned(&out).is_empty(), "b keeps its turn");
    sim.feed(Input::CorpusCounted {
        target: "a".into(),
        files: 20,
    });
    let out = sim.at(H).feed(Input::Tick);
    assert!(!out.iter().any(|a| matches!(a, Action::Minimize { .. })));
}

#[test]
fn a_target_is_announced_once_when_its_first_worker_fuzzes() {
    let mut sim = Sim::new(spec(vec![tier("t1", &["a"], H, 2)], 2));
    sim.feed(Input::Start);
    let runs = sim.running();
    let first = sim.feed(Input::Inited { run: runs[0].0 });
    assert!(matches!(
        notices(&first)[..],
        [Notice::TargetStarted { target, workers: 2 }] if target == "a"
    ));
    assert!(notices(&sim.feed(Input::Inited { run: runs[1].0 })).is_empty());
}

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

fn portfolio_spec(targets: &[&str]) -> CoreSpec {
    let mut s = spec(vec![tier("t1", targets, H, 1)], 1);
    s.portfolio = Some(PortfolioSpec {
        arms: targets
            .iter()
            .map(|t| (t.to_string(), bandit::default_arms(false, false)))
            .collect(),
        params: bandit::Params::default(),
        seed: 7,
        run_length: RUN_LENGTH,
        first_run_length: RUN_LENGTH,
    });
    s
}

fn spawned_arm(actions: &[Action]) -> Option<Arm> {
    spawned_arms(actions).into_iter().next()
}

/// The arms of every run `actions` start, in order.
fn spawned_arms(actions: &[Action]) -> Vec<Arm> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Spawn { arm, .. } => arm.clone(),
            _ => None,
        })
        .collect()
}

#[test]
fn each_run_gets_an_arm_and_pays_it_what_it_gained_and_the_bandit_is_saved() {
    let mut sim = Sim::new(portfolio_spec(&["a"]));
    let mut tried = BTreeSet::new();
    let mut out = sim.feed(Input::Start);
    for i in 0..12u64 {
        let arm = spawned_arm(&out).expect("every run has an arm");
        assert_eq!(arm.engine, bandit::LIBFUZZER);
        // No recommended dictionary yet: no run is given one.
        let strategy: Strategy = arm.strategy.parse().unwrap();
        assert!(
            !strategy.needs_recommended_dict() && !strategy.needs_harvested_dict(),
            "{arm:?}"
        );
        tried.insert(arm.strategy.clone());
        sim.init_all();
        let (run, _) = sim.running()[0].clone();
        // Value profile pays ten times what the others do.
        let features = if strategy.value_profile { 100 } else { 10 };
        out = sim.at(MIN * (i as u32 + 1)).feed(Input::Exited {
            run,
            exit: Exit {
                code: Some(77),
                saw_inited: true,
                crashed: true,
                gain: Some(Gain {
                    cpu: MIN,
                    new_features: features,
                    new_bugs: 0,
                }),
                ..Exit::default()
            },
        });
        let saved = out.iter().find_map(|a| match a {
            Action::Save { row, state } if *row == bandit_row("a") => Bandit::from_json(state),
            _ => None,
        });
        let saved = saved.expect("what the bandit learnt is saved at once");
        assert_eq!(saved.arms.iter().map(|a| a.runs).sum::<u64>(), i + 1);
    }
    // Untried arms go first: by now every arm without a dictionary ran once.
    let without_dict = bandit::default_arms(false, false)
        .into_iter()
        .filter(|a| {
            !a.strategy
                .parse::<Strategy>()
                .unwrap()
                .needs_recommended_dict()
                && !a
                    .strategy
                    .parse::<Strategy>()
                    .unwrap()
                    .needs_harvested_dict()
        })
        .count();
    assert_eq!(tried.len(), without_dict);
    // Once the dictionary exists its strategies run too, and the best arm is favoured.
    sim.feed(Input::DictReady {
        target: "a".into(),
        harvested: true,
    });
    let favoured = &sim.core.bandits()["a"].explain()[0];
    assert!(favoured.label.contains("value_profile"), "{favoured:?}");
    let mut with_dict = false;
    for i in 0..8u32 {
        let (run, _) = sim.running()[0].clone();
        out = sim.at(20 * MIN + MIN * i).feed(Input::Exited {
            run,
            exit: Exit {
                code: Some(77),
                saw_inited: true,
                gain: Some(Gain::default()),
                ..Exit::default()
            },
        });
        let arm = spawned_arm(&out).unwrap();
        let s = arm.strategy.parse::<Strategy>().unwrap();
        with_dict |= s.needs_recommended_dict() || s.needs_harvested_dict();
    }
    assert!(
        with_dict,
        "untried dictionary arms are tried once they can run"
    );
}

#[test]
fn a_resumed_bandit_keeps_what_it_learnt_and_plain_runs_have_no_arm() {
    let mut b = Bandit::new(
        bandit::default_arms(false, false),
        bandit::Params::default(),
    );
    // Every arm warmed up: the posterior chooses from the first run on.
    for _ in 0..bandit::WARM_UP_RUNS {
        for arm in bandit::default_arms(false, false) {
            let vp = arm.strategy == "value_profile";
            b.record(&RunResult {
                arm,
                cpu: MIN,
                new_features: if vp { 1000 } else { 1 },
                new_bugs: 0,
            });
        }
    }
    let saved = Saved {
        bandits: [("a".to_string(), b)].into(),
        ..Saved::default()
    };
    let mut sim = Sim::resumed(portfolio_spec(&["a"]), saved);
    let out = sim.feed(Input::Start);
    // Mostly the arm that paid (the floor explores a tenth of the time).
    // The first run has the start arm: the target has not shown yet that it starts.
    assert_eq!(spawned_arm(&out).unwrap().strategy, START_ARMS[0]);
    let mut vp = 0;
    for i in 0..20u32 {
        sim.init_all();
        let (run, _) = sim.running()[0].clone();
        let out = sim.at(MIN * (i + 1)).feed(Input::Exited {
            run,
            exit: Exit {
                code: Some(77),
                saw_inited: true,
                ..Exit::default()
            },
        });
        vp += usize::from(spawned_arm(&out).unwrap().strategy == "value_profile");
    }
    assert!(vp >= 14, "value_profile chosen {vp} of 20");

    let mut plain = Sim::new(spec(vec![tier("t1", &["a"], H, 1)], 1));
    assert_eq!(spawned_arm(&plain.feed(Input::Start)), None);
}

#[test]
fn portfolio_runs_end_by_themselves_and_the_next_run_gets_a_new_choice() {
    let mut sim = Sim::new(portfolio_spec(&["a"]));
    let out = sim.feed(Input::Start);
    // The target's start-up run (plain, short), then runs of the full length.
    assert!(out.iter().any(|a| matches!(
        a,
        Action::Spawn { max_total_time: Some(t), .. }
            if *t == START_RUN_LENGTH - Duration::from_secs(1)
    )));
    sim.init_all();
    let (run, _) = sim.running()[0].clone();
    let first = spawned_arm(&out).unwrap();
    let out = sim
        .at(START_RUN_LENGTH - Duration::from_secs(1))
        .ended_by_itself(run);
    assert!(
        notices(&out).is_empty(),
        "the end of a run is not a restart"
    );
    let out = sim.at(START_RUN_LENGTH).feed(Input::Wake);
    let next = spawned_arm(&out).expect("the next run starts at once");
    assert_ne!(next, first, "an untried arm goes next");
    assert!(out.iter().any(|a| matches!(
        a,
        Action::Spawn { max_total_time: Some(t), .. } if *t == RUN_LENGTH - Duration::from_secs(1)
    )));
}

#[test]
fn a_strategy_that_breaks_the_start_is_dropped_for_the_target_not_the_target() {
    let mut sim = Sim::new(portfolio_spec(&["a"]));
    let mut out = sim.feed(Input::Start);
    // The first run has the start arm, and starts: the target can run.
    assert_eq!(spawned_arm(&out).unwrap().strategy, START_ARMS[0]);
    sim.init_all();
    let (run, _) = sim.running()[0].clone();
    out = sim.feed(Input::Exited {
        run,
        exit: Exit {
            code: Some(77),
            saw_inited: true,
            ..Exit::default()
        },
    });
    let mut broken = BTreeSet::new();
    // Every run dies before INITED: each arm is dropped in turn; only a start arm (one
    // that cannot break a start) failing fails the target.
    for i in 0..20u32 {
        let Some((run, _)) = sim.running().first().cloned() else {
            sim.now += QUICK_EXIT;
            out = sim.feed(Input::Wake);
            continue;
        };
        let arm = spawned_arm(&out).unwrap();
        assert!(!broken.contains(&arm), "{arm:?} was chosen again");
        broken.insert(arm.clone());
        out = sim.at(MIN * i).feed(Input::Exited {
            run,
            exit: Exit {
                code: Some(1),
                tail: vec!["ParseDictionaryFile: error in line 2".into()],
                ..Exit::default()
            },
        });
        if START_ARMS.contains(&arm.strategy.as_str()) {
            assert!(
                notices(&out)
                    .iter()
                    .any(|n| matches!(n, Notice::TargetFailed { .. }))
            );
            return;
        }
        assert!(sim.core.failed().is_empty());
        assert!(out.iter().any(|a| matches!(
            a,
            Action::Log {
                kind: "strategy-failed",
                ..
            }
        )));
        sim.now += QUICK_EXIT;
        out = sim.feed(Input::Wake);
    }
    panic!("no start arm was tried");
}

fn shares_spec(targets: &[&str], slots: usize, slice: Duration) -> CoreSpec {
    let mut s = spec(Vec::new(), slots);
    s.shares = Some(SharesSpec {
        targets: targets
            .iter()
            .map(|t| share::TargetSpec {
                name: t.to_string(),
                weight: 1.0,
                cap: None,
                binary_hash: "1".into(),
                binary_stamp: String::new(),
            })
            .collect(),
        params: share::Params {
            slice,
            ..share::Params::default()
        },
    });
    s
}

impl Sim {
    /// Ticks once a second from the start for up to `secs`: every signalled worker
    /// exits at once, every new one reaches INITED. Returns why and when (seconds since
    /// the start) the campaign began to stop, if it did.
    fn until_stop(&mut self, secs: u64) -> Option<(StopReason, u64)> {
        for i in 1..=secs {
            self.at(Duration::from_secs(i));
            let out = self.feed(Input::Tick);
            if let Some(r) = stopping(&out) {
                return Some((r, i));
            }
            for (run, _) in signals(&out) {
                self.feed(Input::Exited {
                    run,
                    exit: Exit {
                        saw_inited: true,
                        ..Exit::default()
                    },
                });
            }
            self.init_all();
        }
        None
    }

    /// Runs the campaign for `secs`, a second at a time: every signalled worker exits
    /// at once, every new one reaches INITED; `features` gives each target's features
    /// at a time. Returns the slot-seconds each target had.
    fn run_shares(
        &mut self,
        secs: u64,
        features: impl Fn(&str, Duration) -> u64,
    ) -> BTreeMap<String, u64> {
        self.run_measured(secs, |t, at| Measure {
            features: Some(features(t, at)),
            ..Measure::default()
        })
    }

    /// [`Sim::run_shares`] with each target's whole measure at a time.
    fn run_measured(
        &mut self,
        secs: u64,
        measure: impl Fn(&str, Duration) -> Measure,
    ) -> BTreeMap<String, u64> {
        let mut had: BTreeMap<String, u64> = BTreeMap::new();
        let start = self.now - self.t0;
        for i in 1..=secs {
            let t = start + Duration::from_secs(i);
            self.at(t);
            let names: Vec<String> = self
                .core
                .shares()
                .iter()
                .map(|v| v.target.clone())
                .collect();
            for target in names {
                let measure = measure(&target, t);
                self.feed(Input::Measured { target, measure });
            }
            let out = self.feed(Input::Tick);
            for (run, _) in signals(&out) {
                self.feed(Input::Exited {
                    run,
                    exit: Exit {
                        signal: Some(libc::SIGTERM),
                        saw_inited: true,
                        ..Exit::default()
                    },
                });
            }
            self.init_all();
            for (_, target) in self.running() {
                *had.entry(target).or_default() += 1;
            }
        }
        had
    }
}

#[test]
fn every_target_gets_a_first_turn_within_the_first_hour_on_two_workers() {
    let names: Vec<String> = (0..20).map(|i| format!("t{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut sim = Sim::new(shares_spec(&refs, 2, 5 * MIN));
    let out = sim.feed(Input::Start);
    assert_eq!(spawned(&out).len(), 2);
    assert!(
        notices(&out)
            .iter()
            .any(|n| matches!(n, Notice::Slice { .. }))
    );
    let had = sim.run_shares(3600, |_, _| 100);
    for name in &names {
        assert!(
            had.get(name).is_some_and(|s| *s > 0),
            "{name} never ran: {had:?}"
        );
    }
}

#[test]
fn a_plateaued_target_loses_its_share_to_one_that_still_grows_and_keeps_a_little() {
    let mut sim = Sim::new(shares_spec(&["flat", "grows"], 1, MIN));
    let fifty = Measure {
        features: Some(50),
        ..Measure::default()
    };
    sim.measure(&["flat", "grows"], fifty);
    sim.feed(Input::Start);
    // `grows` finds a feature every second it runs; `flat` nothing after its start.
    let had = sim.run_shares(
        3 * 3600,
        |t, at| {
            if t == "grows" { at.as_secs() } else { 50 }
        },
    );
    let (flat, grows) = (had["flat"], had["grows"]);
    assert!(grows > 4 * flat, "grows {grows} s, flat {flat} s");
    assert!(flat > 0, "a plateaued target keeps a small share");
    let views = sim.core.shares();
    let flat_view = views.iter().find(|v| v.target == "flat").unwrap();
    assert!(flat_view.reason.starts_with("plateaued"), "{flat_view:?}");
}

/// A first turn on a fresh state has no count at its start: its growth is measured from
/// what the first run loaded, so a target whose seeds cover much but which finds nothing
/// does not look like the fastest grower and take the node.
#[test]
fn a_first_turn_is_measured_from_what_the_corpus_loaded_not_from_zero() {
    let mut sim = Sim::new(shares_spec(&["seeded", "grows"], 1, MIN));
    // Neither has a count before its first run reports.
    sim.measure(&["seeded", "grows"], Measure::default());
    sim.feed(Input::Start);
    // One worker, one-minute first turns in file order: `seeded` runs first, then
    // `grows`.
    let had = sim.run_measured(1800, |t, at| {
        let s = at.as_secs();
        match t {
            "seeded" if s >= 1 => Measure {
                features: Some(5000),
                loaded: Some(5000),
                bugs: 0,
            },
            "grows" if s >= 61 => Measure {
                features: Some(10 + (s - 60)),
                loaded: Some(10),
                bugs: 0,
            },
            _ => Measure::default(),
        }
    });
    let views = sim.core.shares();
    let rate = |t: &str| views.iter().find(|v| v.target == t).unwrap().rate;
    assert_eq!(rate("seeded"), Some(0.0), "{views:?}");
    assert!(rate("grows").is_some_and(|r| r > 0.5), "{views:?}");
    let (seeded, grows) = (had["seeded"], had["grows"]);
    assert!(grows > 3 * seeded, "grows {grows} s, seeded {seeded} s");
}

#[test]
fn once_under_the_coverage_schedule_ends_after_every_target_had_its_first_turn() {
    let mut s = shares_spec(&["a", "b", "c"], 2, MIN);
    s.once = true;
    let mut sim = Sim::new(s);
    sim.feed(Input::Start);
    let stopped = sim.until_stop(600);
    // Two slices of a minute: a and b, then c.
    assert_eq!(stopped, Some((StopReason::CycleDone, 120)));
}

#[test]
fn a_second_engine_runs_right_after_the_first_libfuzzer_run() {
    let mut s = portfolio_spec(&["a"]);
    if let Some(p) = &mut s.portfolio {
        p.arms.insert("a".into(), bandit::default_arms(false, true));
    }
    let mut sim = Sim::new(s);
    let mut out = sim.feed(Input::Start);
    let mut engines = Vec::new();
    for i in 0..3u32 {
        let arm = spawned_arm(&out).unwrap();
        engines.push(format!("{}:{}", arm.engine, arm.strategy));
        sim.init_all();
        let (run, _) = sim.running()[0].clone();
        let afl = arm.engine == bandit::AFLPP;
        // A libFuzzer run is paid with its exit, an AFL++ run later, by the replay of
        // its finds.
        out = sim.at(MIN * (i + 1)).feed(Input::Exited {
            run,
            exit: Exit {
                code: Some(77),
                saw_inited: true,
                gain: (!afl).then(Gain::default),
                ..Exit::default()
            },
        });
        if afl {
            sim.feed(Input::Pay {
                target: "a".into(),
                arm,
                gain: Some(Gain::default()),
            });
        }
    }
    assert_eq!(engines[0], format!("libfuzzer:{}", START_ARMS[0]));
    assert!(engines[1].starts_with("aflpp:"), "{engines:?}");
}

/// A run paid later, by the replay of what it added, leaves its arm waiting: until the
/// pay comes the arm counts as running, so the next run tries the next untried arm
/// rather than the same one again as "not tried yet".
#[test]
fn an_arm_waiting_for_its_pay_is_not_chosen_again_as_untried() {
    let mut sim = Sim::new(portfolio_spec(&["a"]));
    let mut out = sim.feed(Input::Start);
    let mut chosen = Vec::new();
    let mut waiting = Vec::new();
    for i in 0..4u32 {
        let (arm, why) = out
            .iter()
            .find_map(|a| match a {
                Action::Spawn {
                    arm: Some(arm),
                    why,
                    ..
                } => Some((arm.clone(), why.clone())),
                _ => None,
            })
            .expect("every run has an arm");
        chosen.push((arm.clone(), why));
        sim.init_all();
        let (run, _) = sim.running()[0].clone();
        // The first, plain run is paid with its exit; the others by a replay, later.
        let later = i > 0;
        out = sim.at(MIN * (i + 1)).feed(Input::Exited {
            run,
            exit: Exit {
                code: Some(77),
                saw_inited: true,
                gain: (!later).then(Gain::default),
                paid_later: later,
                ..Exit::default()
            },
        });
        if later {
            waiting.push(arm);
        }
    }
    let arms: BTreeSet<&Arm> = chosen.iter().map(|(a, _)| a).collect();
    assert_eq!(arms.len(), 4, "{chosen:?}");
    // The first is the target's start-up run, the others not tried yet.
    assert_eq!(chosen[0].1, Some(Why::Start), "{chosen:?}");
    assert!(
        chosen[1..]
            .iter()
            .all(|(_, why)| *why == Some(Why::Untried)),
        "{chosen:?}"
    );
    // Paid, or not measurable: either way the arms no longer wait, and what was paid
    // counts.
    for (i, arm) in waiting.into_iter().enumerate() {
        let gain = (i > 0).then(Gain::default);
        sim.feed(Input::Pay {
            target: "a".into(),
            arm,
            gain,
        });
    }
    let saved = sim.core.bandits.get("a").unwrap();
    assert_eq!(saved.arms.iter().map(|a| a.runs).sum::<u64>(), 3);
    assert!(sim.core.awaiting_pay.get("a").is_none_or(Vec::is_empty));
}

#[test]
fn while_arms_are_untried_runs_are_short_and_a_second_start_run_lasts_two_seconds() {
    let mut s = portfolio_spec(&["a"]);
    s.tiers[0].workers = 3;
    s.slots = 3;
    if let Some(p) = &mut s.portfolio {
        p.first_run_length = MIN;
        p.arms.insert("a".into(), bandit::default_arms(false, true));
    }
    let mut sim = Sim::new(s);
    let out = sim.feed(Input::Start);
    let chosen: Vec<(String, Option<Why>, Option<Duration>)> = out
        .iter()
        .filter_map(|a| match a {
            Action::Spawn {
                arm: Some(arm),
                why,
                max_total_time,
                ..
            } => Some((arm.label(), why.clone(), *max_total_time)),
            _ => None,
        })
        .collect();
    // The start-up run; beside it, plain again for two seconds (libFuzzer ends once the
    // whole seconds exceed -max_total_time); the third worker starts the other engine.
    assert_eq!(
        chosen,
        [
            (
                "plain".to_string(),
                Some(Why::Start),
                Some(START_RUN_LENGTH - Duration::from_secs(1))
            ),
            (
                "plain".to_string(),
                Some(Why::Beside),
                Some(BESIDE_RUN_LENGTH - Duration::from_secs(1))
            ),
            (
                "aflpp:cmplog".to_string(),
                Some(Why::Untried),
                Some(MIN - Duration::from_secs(1))
            ),
        ]
    );
    sim.init_all();
    let running = sim.running();
    // The run beside ends by itself: its worker moves on to value profile, next in the
    // order, not to a third plain run (the target has started).
    sim.at(BESIDE_RUN_LENGTH).ended_by_itself(running[1].0);
    let next = spawned_arm(&sim.feed(Input::Wake)).unwrap();
    assert_eq!(next.label(), "value_profile");
    // The start-up run ends at 10 s: an arm not tried yet.
    sim.at(START_RUN_LENGTH).ended_by_itself(running[0].0);
    let next = spawned_arm(&sim.feed(Input::Wake)).unwrap();
    assert!(
        !["plain", "value_profile"].contains(&next.strategy.as_str()),
        "{next:?}"
    );
}

/// One worker: no run beside the start-up run; two workers: one beside it, and then
/// the other engine.
#[test]
fn on_two_workers_the_second_engine_starts_after_the_run_beside_the_first() {
    let mut s = portfolio_spec(&["a"]);
    s.tiers[0].workers = 2;
    s.slots = 2;
    if let Some(p) = &mut s.portfolio {
        p.arms.insert("a".into(), bandit::default_arms(false, true));
    }
    let mut sim = Sim::new(s);
    let out = sim.feed(Input::Start);
    let labels: Vec<String> = spawned_arms(&out).iter().map(Arm::label).collect();
    assert_eq!(labels, ["plain", "plain"]);
    sim.init_all();
    let beside = sim.running()[1].0;
    sim.at(BESIDE_RUN_LENGTH).ended_by_itself(beside);
    let next = spawned_arm(&sim.feed(Input::Wake)).unwrap();
    assert_eq!(next.label(), "aflpp:cmplog");

    let mut one = portfolio_spec(&["a"]);
    if let Some(p) = &mut one.portfolio {
        p.arms.insert("a".into(), bandit::default_arms(false, true));
    }
    let out = Sim::new(one).feed(Input::Start);
    let labels: Vec<String> = spawned_arms(&out).iter().map(Arm::label).collect();
    assert_eq!(labels, ["plain"]);
}

/// The start-up run that dies before INITED is started again as the start-up run, not
/// as a second run beside; the run beside comes once; a resumed target, whose bandit has
/// been paid, gets none.
#[test]
fn the_run_beside_comes_once_and_only_on_a_target_that_never_ran() {
    let two = || {
        let mut s = portfolio_spec(&["a"]);
        s.tiers[0].workers = 2;
        s.slots = 2;
        if let Some(p) = &mut s.portfolio {
            p.arms.insert("a".into(), bandit::default_arms(false, true));
        }
        s
    };
    let why_of = |out: &[Action]| -> Vec<(String, Option<Why>)> {
        out.iter()
            .filter_map(|a| match a {
                Action::Spawn {
                    arm: Some(arm),
                    why,
                    ..
                } => Some((arm.label(), why.clone())),
                _ => None,
            })
            .collect()
    };
    let mut sim = Sim::new(two());
    let out = sim.feed(Input::Start);
    assert_eq!(
        why_of(&out),
        [
            ("plain".to_string(), Some(Why::Start)),
            ("plain".to_string(), Some(Why::Beside))
        ]
    );
    // The start-up run crashes on a seed before INITED (the seed is set aside).
    let start = sim.running()[0].0;
    let mut out = sim.at(Duration::from_millis(500)).feed(Input::Exited {
        run: start,
        exit: Exit {
            code: Some(77),
            saw_inited: false,
            set_aside: 1,
            crashed: true,
            ..Exit::default()
        },
    });
    // A worker that never fuzzed waits QUICK_EXIT before its restart.
    out.extend(sim.at(Duration::from_millis(1600)).feed(Input::Wake));
    assert_eq!(
        why_of(&out),
        [("plain".to_string(), Some(Why::Start))],
        "{out:?}"
    );

    let mut b = Bandit::new(bandit::default_arms(false, true), bandit::Params::default());
    b.record(&RunResult {
        arm: Arm::new(bandit::LIBFUZZER, "plain"),
        cpu: MIN,
        new_features: 10,
        new_bugs: 0,
    });
    let saved = Saved {
        bandits: [("a".to_string(), b)].into(),
        ..Saved::default()
    };
    let out = Sim::resumed(two(), saved).feed(Input::Start);
    let whys: Vec<Option<Why>> = why_of(&out).into_iter().map(|(_, w)| w).collect();
    assert_eq!(whys[0], Some(Why::Start));
    assert_ne!(whys[1], Some(Why::Beside), "{out:?}");
}

#[test]
fn once_under_the_coverage_schedule_ends_after_a_rebuilt_target_had_its_turn_too() {
    let mut s = shares_spec(&["a", "b"], 1, MIN);
    s.once = true;
    // `a` ran before on another build: it is reset to a first turn, which it gets.
    let mut before = ShareState::new();
    let mut old = shares_spec(&["a"], 1, MIN).shares.unwrap();
    old.targets[0].binary_hash = "0".into();
    before.plan(&old.targets, 1, Duration::ZERO, &old.params);
    let mut sim = Sim::resumed(
        s,
        Saved {
            shares: Some(before),
            ..Saved::default()
        },
    );
    sim.feed(Input::Start);
    let stopped = sim.until_stop(600).map(|(r, _)| r);
    assert_eq!(stopped, Some(StopReason::CycleDone));
}

/// Runs that end themselves at a slice's end are started again in the next slice with a
/// length of their own: under the coverage schedule a warm-up run is as short at a
/// slice boundary as anywhere else.
#[test]
fn a_run_started_at_a_slice_boundary_keeps_the_warm_up_length() {
    let mut s = shares_spec(&["a"], 2, 5 * MIN);
    s.run_for = Some(10 * MIN);
    s.portfolio = portfolio_spec(&["a"]).portfolio.map(|mut p| {
        p.arms.insert("a".into(), bandit::default_arms(false, true));
        p.first_run_length = Duration::from_secs(30);
        p
    });
    let mut sim = Sim::new(s);
    // run → (started, told length); a run ends itself when its length is over.
    let mut runs: BTreeMap<RunId, (Duration, Option<Duration>, bool)> = BTreeMap::new();
    let mut spawns = Vec::new();
    let mut take = |out: &[Action], at: Duration, runs: &mut BTreeMap<_, _>| {
        for a in out {
            if let Action::Spawn {
                run,
                max_total_time,
                arm,
                ..
            } = a
            {
                let afl = arm.as_ref().is_some_and(|a| a.engine == bandit::AFLPP);
                runs.insert(*run, (at, *max_total_time, afl));
                spawns.push((at.as_secs(), *max_total_time));
            }
        }
    };
    let out = sim.feed(Input::Start);
    take(&out, Duration::ZERO, &mut runs);
    for ms in (500..=600_000u64).step_by(500) {
        let at = Duration::from_millis(ms);
        sim.at(at);
        sim.init_all();
        let due: Vec<(RunId, bool)> = runs
            .iter()
            .filter(|(_, (start, len, _))| {
                len.is_some_and(|l| at >= *start + l + Duration::from_millis(500))
            })
            .map(|(r, (_, _, afl))| (*r, *afl))
            .collect();
        for (run, afl) in due {
            runs.remove(&run);
            let out = sim.feed(Input::Exited {
                run,
                exit: Exit {
                    code: Some(0),
                    saw_inited: true,
                    gain: (!afl).then(Gain::default),
                    paid_later: afl,
                    ..Exit::default()
                },
            });
            take(&out, at, &mut runs);
        }
        // The executor wakes the core when a restart is due, between its ticks.
        let out = sim.feed(Input::Wake);
        take(&out, at, &mut runs);
        let out = sim.feed(Input::Tick);
        take(&out, at, &mut runs);
    }
    let long: Vec<_> = spawns
        .iter()
        .filter(|(at, len)| *at < 540 && len.is_none_or(|l| l > Duration::from_secs(30)))
        .collect();
    assert!(
        long.is_empty(),
        "runs not of the warm-up length: {long:?} of {spawns:?}"
    );
}
