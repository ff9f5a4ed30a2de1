//! How many workers a node runs when the configuration leaves it open (`workers = 0`):
//! chosen from measured aggregate exec rates, as a pure function of the measurements.
//!
//! The executor runs the node's targets with k = 1, 2, … workers for a short while
//! each and feeds the aggregate execs/s of each k. A worker is worth adding while it
//! adds at least `threshold` (25 %) of what one worker did on average at the best count
//! so far; SMT siblings, a shared memory bus or a small cache make the last workers add
//! little or even slow the others. A count is compared with the best accepted count, not
//! only with its neighbour, so one noisy measurement neither stops the search early (a
//! dip followed by a clear gain is taken) nor lets noise creep up a flat curve. The
//! search stops after two counts in a row that do not pay, or at the cores.

use serde::{Deserialize, Serialize};

/// The default share of an average worker's rate a new worker must add.
pub const DEFAULT_THRESHOLD: f64 = 0.25;

/// One point of the measured curve and what the rule made of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub workers: usize,
    pub execs_per_s: f64,
    /// What the added workers gave over the best count before, per added worker, as a
    /// share of one average worker at that count (0 for the first point).
    pub gain: f64,
    pub accepted: bool,
}

/// What to do next.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "next", rename_all = "snake_case")]
pub enum Next {
    /// Measure with this many workers, then decide again.
    Measure { workers: usize },
    /// Run this many workers.
    Settle { workers: usize },
}

/// The decision, the curve that chose it and why, for the log and `status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkersChoice {
    pub next: Next,
    /// The best count so far.
    pub workers: usize,
    pub curve: Vec<Point>,
    /// `3 workers: the 4th added 8 % of a worker (< 25 %), the 5th 2 %`.
    pub reason: String,
}

/// Decides from `rates[k - 1]`, the aggregate execs/s measured with k workers, on a node
/// with `cores` cores. With nothing measured yet, measure one worker.
pub fn choose_workers(rates: &[f64], cores: usize, threshold: f64) -> WorkersChoice {
    let cores = cores.max(1);
    let mut curve = Vec::new();
    let mut best = 0usize; // index into rates
    let mut misses = 0;
    for (i, &r) in rates.iter().enumerate().take(cores) {
        if i == 0 {
            curve.push(Point {
                workers: 1,
                execs_per_s: r,
                gain: 0.0,
                accepted: true,
            });
            continue;
        }
        let base = rates[best];
        let per_worker = base / (best + 1) as f64;
        let gain = if per_worker > 0.0 {
            (r - base) / (per_worker * (i - best) as f64)
        } else if r > 0.0 {
            1.0
        } else {
            0.0
        };
        let accepted = gain > threshold;
        curve.push(Point {
            workers: i + 1,
            execs_per_s: r,
            gain,
            accepted,
        });
        if accepted {
            best = i;
            misses = 0;
        } else {
            misses += 1;
        }
    }
    let measured = curve.len();
    let workers = if measured == 0 { 1 } else { best + 1 };
    let next = if measured == 0 {
        Next::Measure { workers: 1 }
    } else if misses >= 2 || measured >= cores {
        Next::Settle { workers }
    } else {
        Next::Measure {
            workers: measured + 1,
        }
    };
    let reason = match &next {
        Next::Measure { workers: k } => format!("measuring {k} worker{}", plural(*k)),
        Next::Settle { workers: w } => {
            let rejected: Vec<String> = curve
                .iter()
                .filter(|p| !p.accepted)
                .map(|p| format!("{} {:.0} %", ordinal(p.workers), p.gain * 100.0))
                .collect();
            if rejected.is_empty() {
                format!(
                    "{w} worker{}: every worker up to the {} cores added more than {:.0} % of a worker",
                    plural(*w),
                    cores,
                    threshold * 100.0
                )
            } else {
                format!(
                    "{w} worker{}: beyond it the workers added {} of a worker (< {:.0} %)",
                    plural(*w),
                    rejected.join(", "),
                    threshold * 100.0
                )
            }
        }
    };
    WorkersChoice {
        next,
        workers,
        curve,
        reason,
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("the {n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds the rule one measurement at a time, as the executor would, from `curve`.
    fn search(curve: &[f64], cores: usize) -> WorkersChoice {
        let mut measured = Vec::new();
        loop {
            let c = choose_workers(&measured, cores, DEFAULT_THRESHOLD);
            match c.next {
                Next::Measure { workers } => {
                    assert_eq!(workers, measured.len() + 1);
                    measured.push(curve[workers - 1]);
                }
                Next::Settle { .. } => return c,
            }
        }
    }

    #[test]
    fn a_knee_at_three_of_eight() {
        // Linear to 3, then SMT siblings: each further worker adds ~5 % of one.
        let curve = [
            1000.0, 2000.0, 2950.0, 3000.0, 3040.0, 3060.0, 3070.0, 3075.0,
        ];
        let c = search(&curve, 8);
        assert_eq!(c.next, Next::Settle { workers: 3 });
        assert_eq!(c.curve.len(), 5, "two misses in a row end the search");
        assert!(c.reason.starts_with("3 workers: beyond it"), "{}", c.reason);
        assert!(c.reason.contains("the 4th 5 %"), "{}", c.reason);
    }

    #[test]
    fn a_flat_curve_keeps_one_worker() {
        let c = search(&[1000.0, 1010.0, 990.0, 1005.0], 4);
        assert_eq!(c.next, Next::Settle { workers: 1 });
    }

    #[test]
    fn linear_scaling_takes_every_core() {
        let c = search(&[500.0, 1000.0, 1500.0, 2000.0], 4);
        assert_eq!(c.next, Next::Settle { workers: 4 });
        assert!(
            c.reason.contains("every worker up to the 4 cores"),
            "{}",
            c.reason
        );
    }

    #[test]
    fn noise_neither_stops_the_search_early_nor_climbs_a_flat_curve() {
        // A dip at 4 (a noisy sample), then 5 clearly above 3: 5 is taken.
        let c = search(
            &[
                1000.0, 1950.0, 2900.0, 2700.0, 4700.0, 4800.0, 4750.0, 4810.0,
            ],
            8,
        );
        assert_eq!(c.workers, 5, "{:?}", c.curve);
        // ±4 % noise on a plateau after 2: each step looks like a small gain over its
        // neighbour, but none is a quarter of a worker over the best.
        let c = search(
            &[
                1000.0, 1900.0, 1950.0, 1880.0, 1990.0, 1930.0, 2010.0, 1960.0,
            ],
            8,
        );
        assert_eq!(c.next, Next::Settle { workers: 2 });
    }

    #[test]
    fn nothing_measured_measures_one_and_the_cores_bound_the_search() {
        assert_eq!(
            choose_workers(&[], 8, DEFAULT_THRESHOLD).next,
            Next::Measure { workers: 1 }
        );
        let c = choose_workers(&[100.0, 200.0, 300.0], 2, DEFAULT_THRESHOLD);
        assert_eq!((c.next, c.curve.len()), (Next::Settle { workers: 2 }, 2));
    }
}
