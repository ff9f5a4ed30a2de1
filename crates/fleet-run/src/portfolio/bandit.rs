//! The per-target multi-armed bandit that picks each worker run's engine and strategies
//! by their measured payoff: new features (and new bugs, weighted) per CPU-second.
//!
//! **Discounted Thompson sampling over a normal posterior**, not UCB, because:
//! - *Several workers choose at once.* A target's workers start runs before earlier runs
//!   report; UCB is deterministic, so every worker starting between two results would
//!   take the same arm. Thompson sampling draws, so concurrent choices spread over the
//!   arms in proportion to the chance each is the best.
//! - *Payoffs are continuous and on no fixed scale.* A new target finds thousands of
//!   features per CPU-second, a mature one a few per hour. UCB1's bonus assumes rewards
//!   in [0, 1]; a normal posterior whose spread comes from the observed runs (pooled
//!   over the arms while an arm has few runs) adapts to any scale.
//! - *Payoffs drift.* Every arm's rate falls as the target plateaus, and what pays
//!   changes (a dictionary pays once the recommended one has entries). Each recorded run
//!   multiplies every arm's weights by `discount` (0.97: the last ~30 runs count), so an
//!   arm not chosen for a while has a wide posterior again and gets re-tried: an arm
//!   that was bad early recovers when it becomes good. A *floor* of uniform exploration
//!   (10 % of choices) guarantees every available arm keeps being measured.
//!
//! An arm's estimate is the ratio of its discounted gain to its discounted CPU time
//! (long runs weigh more than short ones), its posterior mean; the spread is the
//! CPU-weighted spread of its runs' rates over the square root of its (discounted) run
//! count. Arms never tried are tried first, and each arm runs [`WARM_UP_RUNS`] times
//! before the posterior judges it.

use std::time::Duration;

use fleet_engine::libfuzzer::strategy::Strategy;
use serde::{Deserialize, Serialize};

use super::Rng;

/// How many runs each arm gets, in the listed order, before the posterior chooses. One
/// run is one sample of a noisy payoff: a one-minute run of the harvested-constants arm
/// either solves a checksum in its first half-minute or not at all, so an arm judged
/// on one run is judged on a coin toss (measured in docs/portfolio.md).
pub const WARM_UP_RUNS: u64 = 2;

/// The persisted format's version: a newer one is not resumed from, but restarted.
pub const BANDIT_VERSION: u32 = 1;

pub const LIBFUZZER: &str = "libfuzzer";
pub const AFLPP: &str = "aflpp";

/// One arm: an engine and its strategy description (for libFuzzer, a
/// [`Strategy`]'s `Display`, e.g. `value_profile+dict:recommended`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Arm {
    pub engine: String,
    pub strategy: String,
}

impl Arm {
    pub fn new(engine: &str, strategy: impl ToString) -> Self {
        Self {
            engine: engine.to_string(),
            strategy: strategy.to_string(),
        }
    }

    /// `value_profile` for a libFuzzer arm, `aflpp:cmplog` for another engine's.
    pub fn label(&self) -> String {
        if self.engine == LIBFUZZER {
            self.strategy.clone()
        } else {
            format!("{}:{}", self.engine, self.strategy)
        }
    }
}

/// The arms of a target: libFuzzer's portfolio ([`Strategy::portfolio`]) and, when the
/// target has an AFL++ build, AFL++ plain and with CmpLog.
pub fn default_arms(user_dict: bool, aflpp: bool) -> Vec<Arm> {
    let mut arms: Vec<Arm> = Strategy::portfolio(user_dict)
        .iter()
        .map(|s| Arm::new(LIBFUZZER, s))
        .collect();
    if aflpp {
        // CmpLog first: input-to-state solving is what AFL++ is in the portfolio for.
        arms.push(Arm::new(AFLPP, "cmplog"));
        arms.push(Arm::new(AFLPP, "plain"));
    }
    arms
}

/// The knobs; the defaults are what the module doc argues for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// Every recorded run multiplies every arm's weights by this.
    pub discount: f64,
    /// The share of choices made uniformly at random among the available arms.
    pub floor: f64,
    /// A new bug is worth this many new features.
    pub bug_weight: f64,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            discount: 0.97,
            floor: 0.1,
            bug_weight: 100.0,
        }
    }
}

/// What one run of an arm gave, measured by the executor: `new_features` as the
/// libFuzzer binary counts them when it replays the run's new corpus entries, whatever
/// engine ran, so every arm is paid in one unit.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    pub arm: Arm,
    /// CPU time the run used (user + system of its processes).
    pub cpu: Duration,
    pub new_features: u64,
    pub new_bugs: u64,
}

/// One arm's record: all-time totals for people, discounted sums for the decisions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArmStats {
    pub arm: Arm,
    pub runs: u64,
    pub cpu_s: f64,
    pub features: u64,
    pub bugs: u64,
    /// Discounted: runs, CPU-seconds, gain (features + weighted bugs), and
    /// Σ cpu·rate² for the spread.
    w_runs: f64,
    w_cpu: f64,
    w_gain: f64,
    w_rate_sq: f64,
}

impl ArmStats {
    fn new(arm: Arm) -> Self {
        Self {
            arm,
            runs: 0,
            cpu_s: 0.0,
            features: 0,
            bugs: 0,
            w_runs: 0.0,
            w_cpu: 0.0,
            w_gain: 0.0,
            w_rate_sq: 0.0,
        }
    }

    /// Recent payoff: discounted gain per discounted CPU-second.
    pub fn rate(&self) -> Option<f64> {
        (self.w_cpu > 0.0).then(|| self.w_gain / self.w_cpu)
    }

    fn variance(&self) -> Option<f64> {
        let m = self.rate()?;
        Some((self.w_rate_sq / self.w_cpu - m * m).max(0.0))
    }
}

/// Why an arm was chosen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum Why {
    /// The target's first run in this campaign, which is also its start-up check.
    Start,
    /// A second run of the start arm, beside the first, for the first seconds of a
    /// target no run was paid for yet ([`crate::campaign::core::BESIDE_RUN_LENGTH`]).
    Beside,
    /// It has never run.
    Untried,
    /// It has run fewer than [`WARM_UP_RUNS`] times.
    WarmingUp,
    /// The floor's uniform exploration.
    Exploring,
    /// Its posterior draw was the highest.
    Sampled { draw: f64, rate: f64 },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    pub arm: Arm,
    pub why: Why,
}

/// A target's bandit; persisted as JSON so a restarted campaign keeps what it learnt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bandit {
    pub version: u32,
    pub params: Params,
    pub arms: Vec<ArmStats>,
}

/// One arm as `explain` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArmView {
    pub arm: Arm,
    pub label: String,
    pub runs: u64,
    pub cpu_s: f64,
    pub features: u64,
    pub bugs: u64,
    /// Recent new features (and weighted bugs) per CPU-second; `None` before a run.
    pub rate: Option<f64>,
    /// How often the bandit would choose it now (the floor included).
    pub chosen_share: f64,
    /// `value_profile: 3.1 new features/cpu-s over 12 runs, chosen 62 %`.
    pub text: String,
}

impl Bandit {
    pub fn new(arms: Vec<Arm>, params: Params) -> Self {
        Self {
            version: BANDIT_VERSION,
            params,
            arms: arms.into_iter().map(ArmStats::new).collect(),
        }
    }

    /// Parses a persisted state; a missing, unreadable or newer one is `None` (start a
    /// new bandit).
    pub fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str::<Bandit>(text)
            .ok()
            .filter(|b| b.version == BANDIT_VERSION)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("numbers and strings serialize")
    }

    /// Makes the arms exactly `arms`, in that order, keeping what is known of the ones
    /// that stay (a target that gains an AFL++ build gains its arms).
    pub fn set_arms(&mut self, arms: &[Arm]) {
        let mut old = std::mem::take(&mut self.arms);
        self.arms = arms
            .iter()
            .map(|a| match old.iter().position(|s| &s.arm == a) {
                Some(i) => old.swap_remove(i),
                None => ArmStats::new(a.clone()),
            })
            .collect();
    }

    /// Records a run's result; `false` (and nothing changes) for an arm not in the set.
    pub fn record(&mut self, r: &RunResult) -> bool {
        let Some(i) = self.arms.iter().position(|s| s.arm == r.arm) else {
            return false;
        };
        let g = self.params.discount;
        for s in &mut self.arms {
            s.w_runs *= g;
            s.w_cpu *= g;
            s.w_gain *= g;
            s.w_rate_sq *= g;
        }
        // A run that used no measurable CPU still counts as a little, not as infinity.
        let cpu = r.cpu.as_secs_f64().max(0.001);
        let gain = r.new_features as f64 + self.params.bug_weight * r.new_bugs as f64;
        let rate = gain / cpu;
        let s = &mut self.arms[i];
        s.runs += 1;
        s.cpu_s += r.cpu.as_secs_f64();
        s.features += r.new_features;
        s.bugs += r.new_bugs;
        s.w_runs += 1.0;
        s.w_cpu += cpu;
        s.w_gain += gain;
        s.w_rate_sq += cpu * rate * rate;
        true
    }

    /// The spread of run rates over every arm, the prior for an arm with few runs.
    fn pooled_variance(&self) -> f64 {
        let (w, sq, gain) = self.arms.iter().fold((0.0, 0.0, 0.0), |acc, s| {
            (acc.0 + s.w_cpu, acc.1 + s.w_rate_sq, acc.2 + s.w_gain)
        });
        if w <= 0.0 {
            return 1.0;
        }
        let m = gain / w;
        // Never zero: with every run at the same rate, draws must still differ a little.
        (sq / w - m * m).max((0.1 * m).powi(2)).max(1e-12)
    }

    /// Chooses the arm for the next run among those `available` says can run (an engine
    /// that is not built); `None` when none can.
    pub fn choose(&self, rng: &mut Rng, available: impl Fn(&Arm) -> bool) -> Option<Choice> {
        let pooled = self.pooled_variance();
        self.choose_with(rng, &available, pooled, WARM_UP_RUNS)
    }

    fn choose_with(
        &self,
        rng: &mut Rng,
        available: &impl Fn(&Arm) -> bool,
        pooled: f64,
        warm_up: u64,
    ) -> Option<Choice> {
        let open: Vec<&ArmStats> = self.arms.iter().filter(|s| available(&s.arm)).collect();
        if open.is_empty() {
            return None;
        }
        // Untried arms in the order they are listed ([`default_arms`]: the most broadly
        // useful first), so what usually pays is measured first; then each arm's second
        // run, in the same order.
        let fewest = open.iter().map(|s| s.runs).min().unwrap_or(0);
        if fewest < warm_up
            && let Some(s) = open.iter().find(|s| s.runs == fewest)
        {
            return Some(Choice {
                arm: s.arm.clone(),
                why: if fewest == 0 {
                    Why::Untried
                } else {
                    Why::WarmingUp
                },
            });
        }
        if rng.unit() < self.params.floor {
            return Some(Choice {
                arm: open[rng.below(open.len())].arm.clone(),
                why: Why::Exploring,
            });
        }
        let mut best: Option<(f64, f64, &ArmStats)> = None;
        for s in open {
            let rate = s.rate().unwrap_or(0.0);
            // Pool the arm's own spread with every arm's, one pseudo-run's worth.
            let var = (s.w_runs * s.variance().unwrap_or(pooled) + pooled) / (s.w_runs + 1.0);
            let sd = (var / (s.w_runs + 1e-9)).sqrt();
            let draw = rate + sd * rng.normal();
            if best.is_none_or(|(d, _, _)| draw > d) {
                best = Some((draw, rate, s));
            }
        }
        best.map(|(draw, rate, s)| Choice {
            arm: s.arm.clone(),
            why: Why::Sampled { draw, rate },
        })
    }

    /// Which arms the bandit favours now and why, most chosen first: each arm's recent
    /// rate, its runs, and how often it would be chosen (estimated from 2000 draws with
    /// a fixed seed, so the same state always explains itself the same way).
    pub fn explain(&self) -> Vec<ArmView> {
        const DRAWS: usize = 2000;
        let mut rng = Rng::new(0x5eed);
        let pooled = self.pooled_variance();
        let mut counts = vec![0usize; self.arms.len()];
        // What the target favours is among the arms it measured: untried arms, which
        // go first in list order, are shown as not tried yet.
        let tried: Vec<&Arm> = self
            .arms
            .iter()
            .filter(|s| s.runs > 0)
            .map(|s| &s.arm)
            .collect();
        let measured = |arm: &Arm| tried.is_empty() || tried.contains(&arm);
        for _ in 0..DRAWS {
            // The posterior's view: an arm warming up is chosen for its count, not
            // favoured.
            if let Some(c) = self.choose_with(&mut rng, &measured, pooled, 1)
                && let Some(i) = self.arms.iter().position(|s| s.arm == c.arm)
            {
                counts[i] += 1;
            }
        }
        let mut views: Vec<ArmView> = self
            .arms
            .iter()
            .zip(counts)
            .map(|(s, n)| {
                let share = n as f64 / DRAWS as f64;
                let label = s.arm.label();
                let text = match s.rate() {
                    None => format!("{label}: not tried yet"),
                    Some(r) => format!(
                        "{label}: {} new features/cpu-s over {} run{}{}, chosen {:.0} %",
                        fmt_rate(r),
                        s.runs,
                        if s.runs == 1 { "" } else { "s" },
                        if s.bugs > 0 {
                            format!(
                                " ({} new bug{})",
                                s.bugs,
                                if s.bugs == 1 { "" } else { "s" }
                            )
                        } else {
                            String::new()
                        },
                        share * 100.0
                    ),
                };
                ArmView {
                    arm: s.arm.clone(),
                    label,
                    runs: s.runs,
                    cpu_s: s.cpu_s,
                    features: s.features,
                    bugs: s.bugs,
                    rate: s.rate(),
                    chosen_share: share,
                    text,
                }
            })
            .collect();
        views.sort_by(|a, b| b.chosen_share.total_cmp(&a.chosen_share));
        views
    }
}

/// Short: `3.1`, `0.26`, `1200`, `4.2e-3`.
pub fn fmt_rate(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}")
    } else if r >= 1.0 {
        format!("{r:.1}")
    } else if r >= 0.1 {
        format!("{r:.2}")
    } else if r > 0.0 {
        format!("{r:.1e}")
    } else {
        "0".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arms(names: &[&str]) -> Vec<Arm> {
        names.iter().map(|n| Arm::new(LIBFUZZER, n)).collect()
    }

    /// Runs `n` rounds: choose, then record a run of 60 cpu-s paying `pay(arm, round)`
    /// features per cpu-s with ±30 % noise. Returns how often each arm was chosen.
    fn play(
        b: &mut Bandit,
        rng: &mut Rng,
        n: usize,
        pay: impl Fn(&str, usize) -> f64,
    ) -> std::collections::BTreeMap<String, usize> {
        let mut chosen = std::collections::BTreeMap::new();
        for round in 0..n {
            let c = b.choose(rng, |_| true).unwrap();
            *chosen.entry(c.arm.strategy.clone()).or_insert(0) += 1;
            let noise = 1.0 + 0.3 * (2.0 * rng.unit() - 1.0);
            let features = (pay(&c.arm.strategy, round) * 60.0 * noise).round() as u64;
            assert!(b.record(&RunResult {
                arm: c.arm,
                cpu: Duration::from_secs(60),
                new_features: features,
                new_bugs: 0,
            }));
        }
        chosen
    }

    #[test]
    fn choices_converge_to_the_better_arm() {
        let mut b = Bandit::new(
            arms(&["plain", "value_profile", "mutate_depth:20"]),
            Params::default(),
        );
        let mut rng = Rng::new(1);
        let pay = |s: &str, _| match s {
            "value_profile" => 3.0,
            "plain" => 1.0,
            _ => 0.5,
        };
        play(&mut b, &mut rng, 50, pay);
        let late = play(&mut b, &mut rng, 200, pay);
        assert!(late["value_profile"] >= 160, "{late:?}");
        let views = b.explain();
        assert_eq!(views[0].label, "value_profile");
        assert!(views[0].chosen_share > 0.8, "{views:?}");
        let rate = views[0].rate.unwrap();
        assert!((2.5..3.5).contains(&rate), "{rate}");
        assert!(
            views[0]
                .text
                .starts_with(&format!("value_profile: {} ", fmt_rate(rate))),
            "{}",
            views[0].text
        );
        assert!(
            views[0].text.contains("new features/cpu-s over"),
            "{}",
            views[0].text
        );
    }

    #[test]
    fn exploration_keeps_a_floor_for_every_arm() {
        let mut b = Bandit::new(arms(&["a", "b", "c", "d"]), Params::default());
        let mut rng = Rng::new(2);
        play(
            &mut b,
            &mut rng,
            100,
            |s, _| if s == "a" { 50.0 } else { 0.0 },
        );
        let late = play(
            &mut b,
            &mut rng,
            1000,
            |s, _| if s == "a" { 50.0 } else { 0.0 },
        );
        // The floor is 10 %, spread over four arms: 2.5 % each, 25 of 1000 expected.
        for arm in ["b", "c", "d"] {
            let n = late.get(arm).copied().unwrap_or(0);
            assert!((12..80).contains(&n), "{arm}: {late:?}");
        }
        assert!(late["a"] > 850, "{late:?}");
    }

    #[test]
    fn a_decayed_arm_recovers_when_it_becomes_the_better_one() {
        let mut b = Bandit::new(arms(&["early", "late"]), Params::default());
        let mut rng = Rng::new(3);
        let switch = 150;
        let pay = |s: &str, round: usize| match (s, round < switch) {
            ("early", true) | ("late", false) => 10.0,
            _ => 0.5,
        };
        let first = play(&mut b, &mut rng, switch, pay);
        assert!(first["early"] > 120, "{first:?}");
        // After the switch: the late arm must take over within a few dozen runs.
        play(&mut b, &mut rng, 60, |s, r| pay(s, r + switch));
        let after = play(&mut b, &mut rng, 200, |s, r| pay(s, r + switch));
        assert!(after["late"] > 160, "{after:?}");
    }

    #[test]
    fn untried_arms_go_first_then_second_runs_and_unavailable_engines_never() {
        let mut all = arms(&["plain", "value_profile"]);
        all.push(Arm::new(AFLPP, "cmplog"));
        let mut b = Bandit::new(all, Params::default());
        let mut rng = Rng::new(4);
        let libfuzzer_only = |a: &Arm| a.engine == LIBFUZZER;
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..2 {
            let c = b.choose(&mut rng, libfuzzer_only).unwrap();
            assert_eq!(c.why, Why::Untried);
            seen.insert(c.arm.strategy.clone());
            b.record(&RunResult {
                arm: c.arm,
                cpu: Duration::from_secs(10),
                new_features: 5,
                new_bugs: 0,
            });
        }
        assert_eq!(seen.len(), 2);
        // Then each arm's second run, in the listed order, before the posterior chooses.
        for name in ["plain", "value_profile"] {
            let c = b.choose(&mut rng, libfuzzer_only).unwrap();
            assert_eq!((c.arm.strategy.as_str(), &c.why), (name, &Why::WarmingUp));
            b.record(&RunResult {
                arm: c.arm,
                cpu: Duration::from_secs(10),
                new_features: 5,
                new_bugs: 0,
            });
        }
        assert!(matches!(
            b.choose(&mut rng, libfuzzer_only).unwrap().why,
            Why::Sampled { .. } | Why::Exploring
        ));
        for _ in 0..200 {
            assert_eq!(
                b.choose(&mut rng, libfuzzer_only).unwrap().arm.engine,
                LIBFUZZER
            );
        }
        assert!(b.choose(&mut rng, |_| false).is_none());
        // An available AFL++ arm that never ran is tried next.
        let c = b.choose(&mut rng, |_| true).unwrap();
        assert_eq!(
            (c.arm.label().as_str(), c.why),
            ("aflpp:cmplog", Why::Untried)
        );
    }

    #[test]
    fn a_new_bug_outweighs_features() {
        let mut b = Bandit::new(arms(&["a", "b"]), Params::default());
        let run = |s: &str, f, bugs| RunResult {
            arm: Arm::new(LIBFUZZER, s),
            cpu: Duration::from_secs(100),
            new_features: f,
            new_bugs: bugs,
        };
        b.record(&run("a", 50, 0));
        b.record(&run("b", 10, 1));
        assert!(b.arms[1].rate().unwrap() > b.arms[0].rate().unwrap());
        assert!(!b.record(&run("nope", 1, 0)));
        let views = b.explain();
        let bv = views.iter().find(|v| v.label == "b").unwrap();
        assert!(bv.text.contains("(1 new bug)"), "{}", bv.text);
    }

    #[test]
    fn the_state_survives_json_and_arms_can_change() {
        let mut b = Bandit::new(default_arms(false, false), Params::default());
        b.record(&RunResult {
            arm: Arm::new(LIBFUZZER, "value_profile"),
            cpu: Duration::from_secs(30),
            new_features: 90,
            new_bugs: 0,
        });
        let back = Bandit::from_json(&b.to_json()).unwrap();
        assert_eq!(back, b);
        assert!(Bandit::from_json("{}").is_none());
        let mut newer: serde_json::Value = serde_json::from_str(&b.to_json()).unwrap();
        newer["version"] = 2.into();
        assert!(Bandit::from_json(&newer.to_string()).is_none());
        let mut grown = back.clone();
        grown.set_arms(&default_arms(false, true));
        assert_eq!(grown.arms.len(), b.arms.len() + 2);
        let vp = grown
            .arms
            .iter()
            .find(|s| s.arm.strategy == "value_profile")
            .unwrap();
        assert_eq!((vp.runs, vp.features), (1, 90));
    }

    #[test]
    fn two_workers_choosing_at_once_do_not_always_take_the_same_arm() {
        let mut b = Bandit::new(arms(&["a", "b"]), Params::default());
        for (s, f) in [("a", 100), ("b", 90), ("a", 80), ("b", 100)] {
            b.record(&RunResult {
                arm: Arm::new(LIBFUZZER, s),
                cpu: Duration::from_secs(60),
                new_features: f,
                new_bugs: 0,
            });
        }
        let mut rng = Rng::new(5);
        let picks: Vec<String> = (0..100)
            .map(|_| b.choose(&mut rng, |_| true).unwrap().arm.strategy)
            .collect();
        let a = picks.iter().filter(|p| *p == "a").count();
        assert!((20..80).contains(&a), "{a}");
    }

    #[test]
    fn rates_read_well() {
        assert_eq!(fmt_rate(3.0625), "3.1");
        assert_eq!(fmt_rate(0.256), "0.26");
        assert_eq!(fmt_rate(1234.5), "1234");
        assert_eq!(fmt_rate(12.34), "12.3");
        assert_eq!(fmt_rate(0.0), "0");
        assert_eq!(fmt_rate(0.0042), "4.2e-3");
    }
}
