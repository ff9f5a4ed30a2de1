//! The campaign schedule, as pure logic: which targets of a tier run now, on how many
//! workers, and until when. The dispatcher feeds it elapsed wall-clock time; it never
//! looks at a clock or a process itself, so every rule here is unit-tested.
//!
//! Rules:
//! - **Sequential** tiers (the default, as users run them today) put all of the tier's
//!   workers on one target, sharing its corpus, for its budget, then the next target.
//! - **Parallel** tiers run their targets side by side. With no more targets than
//!   workers, all run at once, workers split evenly. With more targets than workers,
//!   targets take turns in time slices (default one hour): each slice runs the targets
//!   that have had the least time so far, one worker each.
//! - A target's budget is wall-clock time per cycle. When every target of a tier has had
//!   its budget, the cycle ends; the next cycle starts unless the run is `--once`.
//! - A target marked skipped (it failed to start) counts as done for the cycle.
//! - When the tiers need more workers than the node has (each tier needs at least one),
//!   the tiers take turns ([`Rotation`]): each turn runs the tiers that have had the
//!   least time so far, as many as fit, for one tier slice. A waiting tier's clock stands
//!   still, so its targets' budgets are spent only while they run.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The persisted format's version: a newer one is not resumed from, but restarted.
pub const SCHEDULE_VERSION: u32 = 1;

/// One tier as the scheduler sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct TierSpec {
    pub name: String,
    pub targets: Vec<String>,
    pub budget: Duration,
    /// `None`: sequential; `Some(slice)`: parallel with this time slice.
    pub slice: Option<Duration>,
    pub workers: usize,
}

/// Where a tier is in its cycle; persisted as JSON so a restarted run resumes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TierState {
    pub version: u32,
    pub cycle: u64,
    /// Wall-clock milliseconds each target has run in this cycle.
    pub consumed_ms: BTreeMap<String, u64>,
    /// Set when a `--once` run has completed its cycle.
    pub finished: bool,
}

/// A target and how many workers it gets now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    pub target: String,
    pub workers: usize,
}

/// What a tier should run now and for how long before asking again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub run: Vec<Assignment>,
    /// Time until the next decision point; `None` when the tier has nothing to run.
    pub for_duration: Option<Duration>,
}

impl Default for TierState {
    fn default() -> Self {
        Self {
            version: SCHEDULE_VERSION,
            cycle: 0,
            consumed_ms: BTreeMap::new(),
            finished: false,
        }
    }
}

impl TierState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a persisted state; a missing, unreadable or newer one starts afresh.
    pub fn from_json(text: Option<&str>) -> Self {
        text.and_then(|t| serde_json::from_str::<TierState>(t).ok())
            .filter(|s| s.version == SCHEDULE_VERSION)
            .unwrap_or_default()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a map of strings to integers serializes")
    }

    fn consumed(&self, target: &str) -> Duration {
        Duration::from_millis(self.consumed_ms.get(target).copied().unwrap_or(0))
    }

    /// Credits `elapsed` wall-clock time to every target that ran.
    pub fn credit(&mut self, ran: &[Assignment], elapsed: Duration) {
        for a in ran {
            *self.consumed_ms.entry(a.target.clone()).or_insert(0) += elapsed.as_millis() as u64;
        }
    }
}

impl TierSpec {
    fn remaining(&self, st: &TierState, target: &str) -> Duration {
        self.budget.saturating_sub(st.consumed(target))
    }

    /// Prepares a state loaded from an earlier run: a new invocation of `--once` means one
    /// cycle from here, and a state saved at the very end of a cycle starts the next one.
    pub fn resume(&self, st: &mut TierState) {
        st.finished = false;
        if self.pending(st, &BTreeSet::new()).is_empty() && !st.consumed_ms.is_empty() {
            st.cycle += 1;
            st.consumed_ms.clear();
        }
    }

    fn pending<'a>(&'a self, st: &TierState, skip: &BTreeSet<String>) -> Vec<(usize, &'a str)> {
        self.targets
            .iter()
            .enumerate()
            .filter(|(_, t)| !skip.contains(*t) && !self.remaining(st, t).is_zero())
            .map(|(i, t)| (i, t.as_str()))
            .collect()
    }

    /// Decides what runs now. When the cycle is complete it starts the next one (or, with
    /// `once`, marks the tier finished). `skip` holds targets that must not run.
    pub fn decide(&self, st: &mut TierState, skip: &BTreeSet<String>, once: bool) -> Decision {
        let idle = Decision {
            run: Vec::new(),
            for_duration: None,
        };
        if st.finished || self.workers == 0 {
            return idle;
        }
        let mut pending = self.pending(st, skip);
        if pending.is_empty() {
            if once {
                st.finished = true;
                return idle;
            }
            st.cycle += 1;
            st.consumed_ms.clear();
            pending = self.pending(st, skip);
            if pending.is_empty() {
                return idle;
            }
        }
        match self.slice {
            None => {
                let (_, target) = pending[0];
                Decision {
                    run: vec![Assignment {
                        target: target.to_string(),
                        workers: self.workers,
                    }],
                    for_duration: Some(self.remaining(st, target)),
                }
            }
            Some(slice) => {
                // Least time first, then file order: turns go round-robin.
                pending.sort_by_key(|&(i, t)| (st.consumed(t), i));
                let taking_turns = pending.len() > self.workers;
                let chosen: Vec<&str> =
                    pending.iter().take(self.workers).map(|&(_, t)| t).collect();
                let (base, extra) = (self.workers / chosen.len(), self.workers % chosen.len());
                let run = chosen
                    .iter()
                    .enumerate()
                    .map(|(i, t)| Assignment {
                        target: t.to_string(),
                        workers: base + usize::from(i < extra),
                    })
                    .collect();
                let mut until = chosen
                    .iter()
                    .map(|t| self.remaining(st, t))
                    .min()
                    .unwrap_or_default();
                if taking_turns {
                    until = until.min(slice);
                }
                Decision {
                    run,
                    for_duration: Some(until),
                }
            }
        }
    }
}

/// Splits `total` workers between tiers: a tier's own `workers` setting first, the rest
/// evenly (the first tiers get the remainder), at least one each.
pub fn split_workers(total: usize, fixed: &[Option<usize>]) -> Vec<usize> {
    let fixed_sum: usize = fixed.iter().flatten().sum();
    let flexible = fixed.iter().filter(|f| f.is_none()).count();
    let rest = total.saturating_sub(fixed_sum);
    let mut k = 0;
    fixed
        .iter()
        .map(|f| match f {
            Some(n) => *n,
            None => {
                let share = rest / flexible + usize::from(k < rest % flexible);
                k += 1;
                share.max(1)
            }
        })
        .collect()
}

/// Tiers taking turns on a node with fewer worker slots than they need together.
#[derive(Clone, Debug, PartialEq)]
pub struct Rotation {
    /// Worker slots on the node.
    pub slots: usize,
    /// Length of a turn.
    pub slice: Duration,
    /// Milliseconds each tier (by index) has had a turn.
    pub ran_ms: Vec<u64>,
}

impl Rotation {
    /// A rotation when the tiers' workers do not fit in `slots`, else `None`.
    pub fn needed(slots: usize, tiers: &[TierSpec], slice: Duration) -> Option<Rotation> {
        let wanted: usize = tiers.iter().map(|t| t.workers).sum();
        (wanted > slots && slots > 0).then(|| Rotation {
            slots,
            slice,
            ran_ms: vec![0; tiers.len()],
        })
    }

    /// Credits `elapsed` to the tiers that had a turn.
    pub fn credit(&mut self, active: &[usize], elapsed: Duration) {
        for &i in active {
            if let Some(ms) = self.ran_ms.get_mut(i) {
                *ms += elapsed.as_millis() as u64;
            }
        }
    }

    /// The tiers that run this turn, with their workers: those with the least time so far
    /// first (then file order), as many as fit. `wants[i]` is tier `i`'s workers, `0` for a
    /// tier with nothing to run; a tier that wants more than the node has gets every slot.
    pub fn choose(&self, wants: &[usize]) -> Vec<(usize, usize)> {
        let mut order: Vec<usize> = (0..wants.len()).filter(|&i| wants[i] > 0).collect();
        order.sort_by_key(|&i| (self.ran_ms.get(i).copied().unwrap_or(0), i));
        let mut free = self.slots;
        let mut chosen = Vec::new();
        for i in order {
            let w = wants[i].min(self.slots);
            if w <= free {
                free -= w;
                chosen.push((i, w));
            }
            if free == 0 {
                break;
            }
        }
        chosen.sort_unstable();
        chosen
    }

    /// How long this turn lasts: one slice, cut to the shortest budget of the tiers
    /// that run (a turn longer than a target's budget would only run the next target).
    pub fn turn(&self, tiers: &[TierSpec], chosen: &[(usize, usize)]) -> Duration {
        chosen
            .iter()
            .filter_map(|&(i, _)| tiers.get(i).map(|t| t.budget))
            .fold(self.slice, Duration::min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: Duration = Duration::from_secs(3600);

    fn tier(
        targets: &[&str],
        budget: Duration,
        slice: Option<Duration>,
        workers: usize,
    ) -> TierSpec {
        TierSpec {
            name: "t".into(),
            targets: targets.iter().map(|s| s.to_string()).collect(),
            budget,
            slice,
            workers,
        }
    }

    fn names(d: &Decision) -> Vec<(&str, usize)> {
        d.run
            .iter()
            .map(|a| (a.target.as_str(), a.workers))
            .collect()
    }

    /// Runs the tier for `steps` decisions, each running its full `for_duration`.
    fn drive(spec: &TierSpec, st: &mut TierState, once: bool, steps: usize) -> Vec<Decision> {
        let mut out = Vec::new();
        for _ in 0..steps {
            let d = spec.decide(st, &BTreeSet::new(), once);
            if let Some(dur) = d.for_duration {
                st.credit(&d.run, dur);
            }
            out.push(d);
        }
        out
    }

    #[test]
    fn sequential_gives_all_workers_to_one_target_then_the_next_and_cycles() {
        let spec = tier(&["a", "b"], 2 * H, None, 4);
        let mut st = TierState::new();
        let ds = drive(&spec, &mut st, false, 3);
        assert_eq!(names(&ds[0]), [("a", 4)]);
        assert_eq!(ds[0].for_duration, Some(2 * H));
        assert_eq!(names(&ds[1]), [("b", 4)]);
        assert_eq!(names(&ds[2]), [("a", 4)]);
        assert_eq!(st.cycle, 1);
    }

    #[test]
    fn resumes_mid_target_with_the_rest_of_its_budget() {
        let spec = tier(&["a", "b"], 2 * H, None, 2);
        let mut st = TierState::new();
        let d = spec.decide(&mut st, &BTreeSet::new(), false);
        st.credit(&d.run, Duration::from_secs(1800));
        let mut resumed = TierState::from_json(Some(&st.to_json()));
        let d = spec.decide(&mut resumed, &BTreeSet::new(), false);
        assert_eq!(names(&d), [("a", 2)]);
        assert_eq!(d.for_duration, Some(Duration::from_secs(5400)));
    }

    #[test]
    fn once_finishes_after_one_cycle() {
        let spec = tier(&["a", "b"], H, None, 1);
        let mut st = TierState::new();
        let ds = drive(&spec, &mut st, true, 4);
        assert_eq!(names(&ds[1]), [("b", 1)]);
        assert!(ds[2].run.is_empty() && ds[2].for_duration.is_none());
        assert!(st.finished);
    }

    #[test]
    fn a_finished_once_run_resumed_runs_a_new_cycle() {
        let spec = tier(&["a"], H, None, 1);
        let mut st = TierState::new();
        drive(&spec, &mut st, true, 2);
        assert!(st.finished);
        let mut again = TierState::from_json(Some(&st.to_json()));
        spec.resume(&mut again);
        assert_eq!(
            names(&spec.decide(&mut again, &BTreeSet::new(), true)),
            [("a", 1)]
        );
        assert_eq!(again.cycle, 1);
    }

    #[test]
    fn parallel_with_enough_workers_runs_everything_at_once() {
        let spec = tier(&["a", "b", "c"], H, Some(Duration::from_secs(60)), 4);
        let mut st = TierState::new();
        let d = spec.decide(&mut st, &BTreeSet::new(), false);
        assert_eq!(names(&d), [("a", 2), ("b", 1), ("c", 1)]);
        // Not cut into slices: nobody is waiting for a turn.
        assert_eq!(d.for_duration, Some(H));
    }

    #[test]
    fn parallel_with_more_targets_than_workers_takes_turns_in_slices() {
        let slice = Duration::from_secs(600);
        let spec = tier(&["a", "b", "c"], Duration::from_secs(1200), Some(slice), 2);
        let mut st = TierState::new();
        let ds = drive(&spec, &mut st, true, 5);
        assert_eq!(names(&ds[0]), [("a", 1), ("b", 1)]);
        assert_eq!(ds[0].for_duration, Some(slice));
        assert_eq!(names(&ds[1]), [("c", 1), ("a", 1)]);
        assert_eq!(names(&ds[2]), [("b", 1), ("c", 1)]);
        // Every target had exactly its budget.
        assert!(ds[3].run.is_empty());
        assert!(st.consumed_ms.values().all(|&ms| ms == 1_200_000));
    }

    #[test]
    fn skipped_targets_do_not_run_and_a_tier_of_only_skipped_targets_idles() {
        let spec = tier(&["a", "b"], H, None, 2);
        let mut st = TierState::new();
        let skip: BTreeSet<String> = ["a".to_string()].into();
        assert_eq!(names(&spec.decide(&mut st, &skip, false)), [("b", 2)]);
        let all: BTreeSet<String> = ["a".to_string(), "b".to_string()].into();
        let d = spec.decide(&mut TierState::new(), &all, false);
        assert!(d.run.is_empty() && d.for_duration.is_none());
    }

    #[test]
    fn an_unreadable_or_newer_state_starts_afresh() {
        assert_eq!(TierState::from_json(Some("garbage")), TierState::new());
        let newer = r#"{"version":2,"cycle":5,"consumed_ms":{},"finished":false}"#;
        assert_eq!(TierState::from_json(Some(newer)), TierState::new());
    }

    fn rotation_of(slots: usize, workers: &[usize]) -> (Vec<TierSpec>, Option<Rotation>) {
        let tiers: Vec<TierSpec> = workers.iter().map(|&w| tier(&["a"], H, None, w)).collect();
        let rot = Rotation::needed(slots, &tiers, Duration::from_secs(600));
        (tiers, rot)
    }

    #[test]
    fn tiers_that_fit_need_no_rotation() {
        assert!(rotation_of(2, &[1, 1]).1.is_none());
        assert!(rotation_of(8, &[3, 3, 2]).1.is_none());
        assert!(rotation_of(2, &[1, 1, 1]).1.is_some());
    }

    #[test]
    fn three_tiers_on_two_slots_take_turns_and_each_gets_two_thirds_of_the_time() {
        let (tiers, rot) = rotation_of(2, &[1, 1, 1]);
        let mut rot = rot.unwrap();
        let mut ran = [0u32; 3];
        for _ in 0..30 {
            let chosen = rot.choose(&[1, 1, 1]);
            assert_eq!(chosen.iter().map(|c| c.1).sum::<usize>(), 2, "{chosen:?}");
            let active: Vec<usize> = chosen.iter().map(|c| c.0).collect();
            for &i in &active {
                ran[i] += 1;
            }
            rot.credit(&active, rot.turn(&tiers, &chosen));
        }
        assert_eq!(ran, [20, 20, 20]);
    }

    #[test]
    fn a_tier_with_nothing_to_run_gives_its_turn_away_and_a_big_tier_gets_every_slot() {
        let (tiers, rot) = rotation_of(2, &[1, 1, 1]);
        let rot = rot.unwrap();
        assert_eq!(rot.choose(&[0, 1, 1]), [(1, 1), (2, 1)]);
        assert_eq!(rot.choose(&[0, 0, 0]), []);
        assert_eq!(rot.choose(&[4, 0, 0]), [(0, 2)]);
        // A turn is never longer than a running tier's budget.
        let mut short = tiers.clone();
        short[1].budget = Duration::from_secs(30);
        assert_eq!(rot.turn(&short, &[(0, 1), (1, 1)]), Duration::from_secs(30));
        assert_eq!(
            rot.turn(&short, &[(0, 1), (2, 1)]),
            Duration::from_secs(600)
        );
    }

    #[test]
    fn a_tier_that_does_not_fit_now_runs_first_once_it_is_the_most_behind() {
        let (tiers, rot) = rotation_of(3, &[2, 2, 1]);
        let mut rot = rot.unwrap();
        let first = rot.choose(&[2, 2, 1]);
        assert_eq!(first, [(0, 2), (2, 1)]);
        rot.credit(&[0, 2], rot.turn(&tiers, &first));
        assert_eq!(rot.choose(&[2, 2, 1]), [(1, 2), (2, 1)]);
    }

    #[test]
    fn workers_split_evenly_with_at_least_one_each() {
        assert_eq!(split_workers(8, &[None, None, None]), [3, 3, 2]);
        assert_eq!(split_workers(2, &[None, None, None]), [1, 1, 1]);
        assert_eq!(split_workers(8, &[Some(5), None, None]), [5, 2, 1]);
    }
}
