//! The coverage-following schedule, as pure logic: which targets run in the next time
//! slice, on how many workers, and why, from what each target's slices gave.
//!
//! Rules:
//! - **First turns.** Every target runs once before any target runs twice, in file
//!   order, so every target has had a turn within the first hour: when the targets
//!   waiting for a first turn would not all fit in the hour at one slice each, the
//!   first-turn slices are shortened (to no less than a minute).
//! - **Shares follow coverage.** After its first turn a target's share of the node's
//!   worker time is `(1 − explore) × its weighted rate / all weighted rates + explore ×
//!   its weight / all weights`, where its rate is a moving average of new features per
//!   worker-second over its recent slices (half-life: 30 min of its own run time). The
//!   `explore` part (15 %, split by weight) keeps a plateaued target running now and
//!   then, so that it is noticed when it grows again.
//! - **Growth is believed at once, decline slowly.** A slice that beats the average
//!   moves it at least half-way up; a new bug counts as 100 features. So a new bug or new
//!   coverage (found by the target itself or imported from another node) raises a
//!   plateaued target's share from its next slice on.
//! - **A new build starts over.** When a target's binary hash changes, its history is
//!   dropped and it waits for a first turn again, ahead of the shares.
//! - **Tiers are priorities, not a clock.** A target's `weight` multiplies its rate and
//!   its exploration share; its `cap` bounds its share of the node's workers (what a cap
//!   frees goes to the others; workers no uncapped target can take stay idle).
//! - **Shares become slices by credit.** Each slice adds `share × workers` to every
//!   target's credit; the workers go, one at a time, to the highest credit, which pays
//!   one. Over time every target gets its share; a 5 % target on 2 workers runs one
//!   slice in ten.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::bandit::fmt_rate;

/// An age in campaign seconds as every view writes durations (`45s`, `6h 30m`).
fn age(secs: u64) -> String {
    crate::fmt::duration(Duration::from_secs(secs))
}

/// The persisted format's version: a newer one is not resumed from, but restarted.
pub const SHARE_VERSION: u32 = 1;

/// A target as the schedule sees it for the next slice.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetSpec {
    pub name: String,
    /// The tier's priority (1.0 normal); must be positive.
    pub weight: f64,
    /// The largest share of the node's workers it may have (0..=1), if any.
    pub cap: Option<f64>,
    /// The content hash (SHA-1) of its libFuzzer binary now: a new build is new bytes,
    /// not a new link of the same ones.
    pub binary_hash: String,
    /// The binary's size and modification time the hash was taken at (kept, so the next
    /// start hashes it again only when they changed).
    pub binary_stamp: String,
}

/// What one target's slice gave, measured by the executor.
#[derive(Clone, Debug, PartialEq)]
pub struct SliceResult {
    pub target: String,
    /// Worker-seconds it ran (wall time × workers).
    pub worker_secs: f64,
    /// New features of the target (its own finds and imported entries, counted by
    /// replay through its libFuzzer binary).
    pub new_features: u64,
    pub new_bugs: u64,
}

/// The knobs; the defaults are the rules in the module doc.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    pub slice: Duration,
    /// Every target has had a first turn within this much campaign time.
    pub first_turns_within: Duration,
    pub min_first_slice: Duration,
    pub explore: f64,
    pub half_life: Duration,
    pub bug_features: f64,
    /// No gain for this long and a target reads as plateaued.
    pub plateau_after: Duration,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            slice: Duration::from_secs(300),
            first_turns_within: Duration::from_secs(3600),
            min_first_slice: Duration::from_secs(60),
            explore: 0.15,
            half_life: Duration::from_secs(1800),
            bug_features: 100.0,
            plateau_after: Duration::from_secs(1800),
        }
    }
}

/// What the schedule knows of one target.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetState {
    pub binary_hash: String,
    /// The binary's size and mtime when `binary_hash` was taken; empty in a state saved
    /// before builds were told by content, whose `binary_hash` was this stamp.
    #[serde(default)]
    pub binary_stamp: String,
    pub had_first_turn: bool,
    /// New features (bugs weighted) per worker-second, averaged over recent slices.
    pub rate: Option<f64>,
    /// Campaign seconds at its first turn (since its last new build).
    pub first_turn_s: Option<u64>,
    /// Campaign seconds of its last new feature or bug.
    pub last_gain_s: Option<u64>,
    pub last_bug_s: Option<u64>,
    /// Set when a new build reset it, until its first turn on that build.
    pub new_build: bool,
    pub worker_secs: f64,
    credit: f64,
}

/// The schedule's state; persisted as JSON so a restarted campaign keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShareState {
    pub version: u32,
    pub targets: BTreeMap<String, TargetState>,
}

impl Default for ShareState {
    fn default() -> Self {
        Self {
            version: SHARE_VERSION,
            targets: BTreeMap::new(),
        }
    }
}

/// A target and its workers for the slice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    pub target: String,
    pub workers: usize,
}

/// One target's share and why, for the log and `status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShareView {
    pub target: String,
    /// Its share of the node's worker time now (0..=1); 0 while it waits for a first turn.
    pub share: f64,
    pub rate: Option<f64>,
    /// `plateaued 6h 30m: share 5 %`, `growing: 12 new features/worker-s: share 60 %`.
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub run: Vec<Assignment>,
    pub for_duration: Duration,
    pub shares: Vec<ShareView>,
}

impl ShareState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a persisted state; a missing, unreadable or newer one starts afresh.
    pub fn from_json(text: Option<&str>) -> Self {
        text.and_then(|t| serde_json::from_str::<ShareState>(t).ok())
            .filter(|s| s.version == SHARE_VERSION)
            .unwrap_or_default()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("numbers and strings serialize")
    }

    /// Takes in a slice's result at campaign time `now` (the end of the slice).
    pub fn record(&mut self, r: &SliceResult, now: Duration, params: &Params) {
        let Some(t) = self.targets.get_mut(&r.target) else {
            return;
        };
        let secs = r.worker_secs.max(1.0);
        let obs = (r.new_features as f64 + params.bug_features * r.new_bugs as f64) / secs;
        let alpha = 1.0 - 0.5f64.powf(secs / params.half_life.as_secs_f64().max(1.0));
        t.rate = Some(match t.rate {
            None => obs,
            Some(old) if obs > old => old + alpha.max(0.5) * (obs - old),
            Some(old) => old + alpha * (obs - old),
        });
        if r.new_features > 0 || r.new_bugs > 0 {
            t.last_gain_s = Some(now.as_secs());
        }
        if r.new_bugs > 0 {
            t.last_bug_s = Some(now.as_secs());
        }
        t.worker_secs += r.worker_secs;
    }

    /// Decides the next slice at campaign time `now` for `workers` workers.
    pub fn plan(
        &mut self,
        targets: &[TargetSpec],
        workers: usize,
        now: Duration,
        params: &Params,
    ) -> Plan {
        for spec in targets {
            let t = self.targets.entry(spec.name.clone()).or_default();
            if t.binary_hash != spec.binary_hash {
                let rebuilt = !t.binary_hash.is_empty();
                *t = TargetState {
                    binary_hash: spec.binary_hash.clone(),
                    new_build: rebuilt,
                    ..TargetState::default()
                };
            }
            // A relinked binary of the same bytes keeps its state, and its new stamp.
            t.binary_stamp.clone_from(&spec.binary_stamp);
        }
        let waiting: Vec<&TargetSpec> = targets
            .iter()
            .filter(|s| !self.targets[&s.name].had_first_turn)
            .collect();
        let mut run: Vec<Assignment> = Vec::new();
        let mut for_duration = params.slice;
        if !waiting.is_empty() && workers > 0 {
            let in_hour = params.first_turns_within.saturating_sub(now);
            if !in_hour.is_zero() {
                let rounds = waiting.len().div_ceil(workers) as u32;
                for_duration = for_duration.min((in_hour / rounds).max(params.min_first_slice));
            }
            for spec in waiting.iter().take(workers) {
                let t = self.targets.get_mut(&spec.name).expect("synced above");
                t.had_first_turn = true;
                t.first_turn_s = Some(now.as_secs());
                run.push(Assignment {
                    target: spec.name.clone(),
                    workers: 1,
                });
            }
        }
        let shares = self.shares(targets, params);
        let free = workers - run.len();
        let mut taken: BTreeMap<&str, usize> = BTreeMap::new();
        if free > 0 {
            for (spec, &(share, _)) in targets.iter().zip(&shares) {
                if share > 0.0 && !run.iter().any(|a| a.target == spec.name) {
                    let t = self.targets.get_mut(&spec.name).expect("synced above");
                    // Bounded, so a long wait cannot turn into a long monopoly.
                    t.credit = (t.credit + share * free as f64).min(free as f64 + 1.0);
                }
            }
            for _ in 0..free {
                let best = targets
                    .iter()
                    .zip(&shares)
                    .filter(|(s, (share, _))| {
                        *share > 0.0 && !run.iter().any(|a| a.target == s.name)
                    })
                    .filter(|(s, (share, _))| {
                        // A cap binds within a slice too: no more workers than it allows.
                        let have = taken.get(s.name.as_str()).copied().unwrap_or(0);
                        s.cap.is_none() || have < ((share * workers as f64).ceil() as usize).max(1)
                    })
                    .max_by(|a, b| {
                        let ca = self.targets[&a.0.name].credit;
                        let cb = self.targets[&b.0.name].credit;
                        ca.total_cmp(&cb).then_with(|| b.0.name.cmp(&a.0.name))
                    });
                let Some((spec, _)) = best else { break };
                self.targets.get_mut(&spec.name).expect("synced").credit -= 1.0;
                *taken.entry(spec.name.as_str()).or_insert(0) += 1;
            }
        }
        for spec in targets {
            if let Some(&n) = taken.get(spec.name.as_str()) {
                run.push(Assignment {
                    target: spec.name.clone(),
                    workers: n,
                });
            }
        }
        // Workers no share took (fewer targets than workers, all on their first turn)
        // join the first turns, one at a time, within each target's cap: every core
        // stays busy.
        let mut left = workers.saturating_sub(run.iter().map(|a| a.workers).sum::<usize>());
        while left > 0 {
            let mut gave = false;
            for a in run.iter_mut() {
                let cap = targets
                    .iter()
                    .find(|s| s.name == a.target)
                    .and_then(|s| s.cap)
                    .map(|cap| ((cap * workers as f64).ceil() as usize).max(1));
                if left > 0 && cap.is_none_or(|c| a.workers < c) {
                    a.workers += 1;
                    left -= 1;
                    gave = true;
                }
            }
            if !gave {
                break;
            }
        }
        let views = targets
            .iter()
            .zip(&shares)
            .map(|(spec, &(share, capped))| self.view(spec, share, capped, &run, now, params))
            .collect();
        Plan {
            run,
            for_duration,
            shares: views,
        }
    }

    /// Each target's share (0 while it waits for a first turn) and whether its cap bound.
    fn shares(&self, targets: &[TargetSpec], params: &Params) -> Vec<(f64, bool)> {
        let eligible: Vec<bool> = targets
            .iter()
            .map(|s| self.targets[&s.name].had_first_turn)
            .collect();
        let known_max = targets
            .iter()
            .filter_map(|s| self.targets[&s.name].rate)
            .fold(0.0, f64::max);
        let score = |s: &TargetSpec| {
            // A target between its first turn and its first result counts as the best.
            let rate = self.targets[&s.name].rate.unwrap_or(known_max.max(1.0));
            s.weight.max(0.0) * rate
        };
        let total_score: f64 = targets
            .iter()
            .zip(&eligible)
            .filter(|(_, e)| **e)
            .map(|(s, _)| score(s))
            .sum();
        let total_weight: f64 = targets
            .iter()
            .zip(&eligible)
            .filter(|(_, e)| **e)
            .map(|(s, _)| s.weight.max(0.0))
            .sum();
        let mut shares: Vec<f64> = targets
            .iter()
            .zip(&eligible)
            .map(|(s, &e)| {
                if !e || total_weight <= 0.0 {
                    return 0.0;
                }
                let by_weight = s.weight.max(0.0) / total_weight;
                if total_score <= 0.0 {
                    by_weight
                } else {
                    (1.0 - params.explore) * score(s) / total_score + params.explore * by_weight
                }
            })
            .collect();
        let mut capped = vec![false; targets.len()];
        for _ in 0..targets.len() {
            let mut excess = 0.0;
            for (i, s) in targets.iter().enumerate() {
                if let Some(cap) = s.cap
                    && shares[i] > cap
                {
                    excess += shares[i] - cap;
                    shares[i] = cap;
                    capped[i] = true;
                }
            }
            let open: f64 = (0..targets.len())
                .filter(|&i| !capped[i] && shares[i] > 0.0)
                .map(|i| shares[i])
                .sum();
            if excess <= 1e-12 || open <= 0.0 {
                break;
            }
            for i in 0..targets.len() {
                if !capped[i] && shares[i] > 0.0 {
                    shares[i] += excess * shares[i] / open;
                }
            }
        }
        shares.into_iter().zip(capped).collect()
    }

    fn view(
        &self,
        spec: &TargetSpec,
        share: f64,
        capped: bool,
        run: &[Assignment],
        now: Duration,
        params: &Params,
    ) -> ShareView {
        let t = &self.targets[&spec.name];
        let pct = format!("share {:.0} %", share * 100.0);
        let first_now =
            t.first_turn_s == Some(now.as_secs()) && run.iter().any(|a| a.target == spec.name);
        let mut reason = if !t.had_first_turn {
            "waiting for its first turn".to_string()
        } else if first_now && t.new_build {
            "new build: first turn again".to_string()
        } else if first_now {
            "first turn".to_string()
        } else {
            let since = t.last_gain_s.or(t.first_turn_s).unwrap_or(0);
            let idle = now.as_secs().saturating_sub(since);
            match t.rate {
                None => format!("first turn running: {pct}"),
                Some(r) if idle >= params.plateau_after.as_secs() || r <= 0.0 => {
                    format!("plateaued {}: {pct}", age(idle))
                }
                Some(r) => format!("growing: {} new features/worker-s: {pct}", fmt_rate(r)),
            }
        };
        if let Some(bug) = t.last_bug_s {
            let ago = now.as_secs().saturating_sub(bug);
            if ago < params.plateau_after.as_secs() {
                reason.push_str(&format!(" (new bug {} ago)", age(ago)));
            }
        }
        if capped && let Some(cap) = spec.cap {
            reason.push_str(&format!(" (capped at {:.0} %)", cap * 100.0));
        }
        if (spec.weight - 1.0).abs() > 1e-9 {
            reason.push_str(&format!(" (weight {})", spec.weight));
        }
        ShareView {
            target: spec.name.clone(),
            share,
            rate: t.rate,
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);
    const H: Duration = Duration::from_secs(3600);

    fn spec(name: &str) -> TargetSpec {
        TargetSpec {
            name: name.into(),
            weight: 1.0,
            cap: None,
            binary_hash: format!("{name}-1"),
            binary_stamp: String::new(),
        }
    }

    struct Sim {
        st: ShareState,
        now: Duration,
        params: Params,
        /// Worker-seconds each target ran, and when it first ran.
        ran: BTreeMap<String, f64>,
        first: BTreeMap<String, Duration>,
    }

    impl Sim {
        fn new() -> Self {
            Self {
                st: ShareState::new(),
                now: Duration::ZERO,
                params: Params::default(),
                ran: BTreeMap::new(),
                first: BTreeMap::new(),
            }
        }

        /// Runs slices until `until`; `gain(target, now)` is what a worker-second of the
        /// target finds at that time (features, bugs).
        fn run(
            &mut self,
            targets: &[TargetSpec],
            workers: usize,
            until: Duration,
            gain: impl Fn(&str, Duration) -> (f64, u64),
        ) -> Plan {
            let mut last = None;
            while self.now < until {
                let plan = self.st.plan(targets, workers, self.now, &self.params);
                let d = plan.for_duration;
                for a in &plan.run {
                    self.first.entry(a.target.clone()).or_insert(self.now);
                    let secs = d.as_secs_f64() * a.workers as f64;
                    *self.ran.entry(a.target.clone()).or_insert(0.0) += secs;
                    let (f, bugs) = gain(&a.target, self.now);
                    let r = SliceResult {
                        target: a.target.clone(),
                        worker_secs: secs,
                        new_features: (f * secs).round() as u64,
                        new_bugs: bugs,
                    };
                    self.st.record(&r, self.now + d, &self.params);
                }
                self.now += d;
                last = Some(plan);
            }
            last.expect("ran at least one slice")
        }

        fn view<'a>(&self, plan: &'a Plan, target: &str) -> &'a ShareView {
            plan.shares.iter().find(|v| v.target == target).unwrap()
        }
    }

    #[test]
    fn twenty_targets_on_two_workers_all_get_a_first_turn_within_the_hour() {
        let targets: Vec<TargetSpec> = (0..20).map(|i| spec(&format!("t{i:02}"))).collect();
        let mut sim = Sim::new();
        sim.run(&targets, 2, 2 * H, |_, _| (1.0, 0));
        assert_eq!(sim.first.len(), 20);
        let last = sim.first.values().max().unwrap();
        assert!(*last < H, "the last first turn started at {last:?}");
        // Ten rounds of two, in file order, one 5-minute slice each.
        assert_eq!(sim.first["t19"], 45 * MIN);
    }

    #[test]
    fn fewer_targets_than_workers_keep_every_worker_busy_from_the_first_slice() {
        let mut st = ShareState::new();
        let params = Params::default();
        let workers = |plan: &Plan| plan.run.iter().map(|a| a.workers).sum::<usize>();
        // One target, two workers: both on its first turn.
        let plan = st.plan(&[spec("only")], 2, Duration::ZERO, &params);
        assert_eq!(workers(&plan), 2, "{:?}", plan.run);
        // Two targets, five workers: all five, three and two.
        let mut st = ShareState::new();
        let plan = st.plan(&[spec("a"), spec("b")], 5, Duration::ZERO, &params);
        assert_eq!(workers(&plan), 5, "{:?}", plan.run);
        assert!(plan.run.iter().all(|a| a.workers >= 2), "{:?}", plan.run);
        // A cap still binds: a target capped at a quarter of four workers gets one.
        let mut st = ShareState::new();
        let mut capped = spec("capped");
        capped.cap = Some(0.25);
        let plan = st.plan(&[capped], 4, Duration::ZERO, &params);
        assert_eq!(workers(&plan), 1, "{:?}", plan.run);
    }

    #[test]
    fn more_targets_than_fit_in_the_hour_get_shorter_first_slices() {
        let targets: Vec<TargetSpec> = (0..40).map(|i| spec(&format!("t{i:02}"))).collect();
        let mut sim = Sim::new();
        sim.run(&targets, 2, 2 * H, |_, _| (1.0, 0));
        assert_eq!(sim.first.len(), 40);
        assert!(sim.first.values().all(|&t| t < H), "{:?}", sim.first);
    }

    #[test]
    fn a_plateaued_target_loses_share_to_a_growing_one_but_keeps_a_little() {
        let targets = [spec("grows"), spec("flat")];
        let mut sim = Sim::new();
        let gain = |t: &str, _| if t == "grows" { (2.0, 0) } else { (0.0, 0) };
        sim.run(&targets, 2, 5 * H, gain);
        let before = sim.ran.clone();
        let plan = sim.run(&targets, 2, 6 * H + 30 * MIN, gain);
        let hour = |t: &str| sim.ran[t] - before.get(t).copied().unwrap_or(0.0);
        let (g, f) = (hour("grows"), hour("flat"));
        assert!(g / (g + f) > 0.85, "grows {g} flat {f}");
        assert!(f > 0.0, "the plateaued target still runs now and then");
        let flat = sim.view(&plan, "flat");
        assert!((0.05..0.1).contains(&flat.share), "{flat:?}");
        assert!(
            flat.reason.starts_with("plateaued 6h 25m: share"),
            "{}",
            flat.reason
        );
        let grows = sim.view(&plan, "grows");
        assert!(
            grows
                .reason
                .starts_with("growing: 2.0 new features/worker-s: share 9"),
            "{}",
            grows.reason
        );
    }

    #[test]
    fn new_coverage_or_a_new_bug_raises_a_plateaued_share_again() {
        let targets = [spec("a"), spec("b")];
        let mut sim = Sim::new();
        sim.run(&targets, 2, 4 * H, |t, _| {
            if t == "a" { (2.0, 0) } else { (0.0, 0) }
        });
        let low = sim.st.plan(&targets, 2, sim.now, &sim.params).shares[1].share;
        assert!(low < 0.1, "{low}");
        // b's next slice finds a bug and new coverage (say, an imported corpus entry).
        sim.st.record(
            &SliceResult {
                target: "b".into(),
                worker_secs: 300.0,
                new_features: 400,
                new_bugs: 1,
            },
            sim.now,
            &sim.params,
        );
        let plan = sim.st.plan(&targets, 2, sim.now, &sim.params);
        let b = sim.view(&plan, "b");
        assert!(b.share > 0.3 && b.share > 3.0 * low, "{b:?} after {low}");
        assert!(b.reason.contains("new bug 0s ago"), "{}", b.reason);
        assert!(b.reason.starts_with("growing"), "{}", b.reason);
    }

    #[test]
    fn a_new_build_resets_a_target_to_a_first_turn() {
        let mut targets = vec![spec("a"), spec("b"), spec("c")];
        let mut sim = Sim::new();
        sim.run(&targets, 2, 3 * H, |t, _| {
            if t == "a" { (2.0, 0) } else { (0.0, 0) }
        });
        assert!(sim.st.targets["c"].rate == Some(0.0));
        targets[2].binary_hash = "c-2".into();
        let plan = sim.st.plan(&targets, 2, sim.now, &sim.params);
        assert!(plan.run.iter().any(|a| a.target == "c"), "{plan:?}");
        assert_eq!(sim.view(&plan, "c").reason, "new build: first turn again");
        let c = &sim.st.targets["c"];
        assert_eq!((c.rate, c.binary_hash.as_str()), (None, "c-2"));
    }

    #[test]
    fn weights_and_caps_are_the_tiers_priorities() {
        let mut heavy = spec("heavy");
        heavy.weight = 3.0;
        let mut capped = spec("capped");
        capped.cap = Some(0.25);
        let targets = [heavy, spec("light"), capped];
        let mut sim = Sim::new();
        // The capped target grows fastest: its cap, not its rate, bounds it.
        let plan = sim.run(&targets, 2, 10 * H, |t, _| {
            (if t == "capped" { 5.0 } else { 1.0 }, 0)
        });
        let total: f64 = sim.ran.values().sum();
        let part = |t: &str| sim.ran[t] / total;
        assert!(part("capped") <= 0.27, "{}", part("capped"));
        assert!(part("heavy") > 2.0 * part("light"), "{:?}", sim.ran);
        let v = sim.view(&plan, "capped");
        assert!(v.reason.ends_with("(capped at 25 %)"), "{}", v.reason);
        assert!(sim.view(&plan, "heavy").reason.ends_with("(weight 3)"));
    }

    #[test]
    fn one_target_on_two_workers_gets_both_and_the_state_survives_json() {
        let targets = [spec("only")];
        let mut sim = Sim::new();
        let plan = sim.run(&targets, 2, H, |_, _| (1.0, 0));
        assert_eq!(
            plan.run,
            [Assignment {
                target: "only".into(),
                workers: 2
            }]
        );
        let back = ShareState::from_json(Some(&sim.st.to_json()));
        assert_eq!(back, sim.st);
        assert_eq!(ShareState::from_json(Some("nope")), ShareState::new());
    }
}
