//! Benchmark `overhead`: what fuzzfleet costs its workers. N workers (one per core) of
//! the `clean` fixture run for T seconds by hand and under `fuzzfleet run`, each from a
//! fresh copy of the same seeds, in interleaved pairs that alternate which side goes
//! first; prints each pair's aggregate execs/s and their ratio, then the median ratio
//! with its spread. The goal (docs/benchmarks.md) is a ratio of at least 0.98.
//!
//! Both sides' execs/s are executions per second of worker process lifetime (timed by
//! the same `/proc` watcher) times N, so fuzzfleet's own start-up and its stop, which
//! is up to a second late (its 1 s tick), do not count for or against it.
//!
//! `cargo bench -p fleet-bench --bench overhead [-- --secs 30 --pairs 6 --workers N]`

use fleet_bench::fleet::{self, FleetRun};
use fleet_bench::hand::{self, HandRun, Mode};
use fleet_bench::same;
use fleet_bench::setup::Setup;
use fleet_bench::stats::{Spread, thousands};

const TARGET: &str = "clean";
const GOAL: f64 = 0.98;
/// Below this share of their time on a core, workers were slowed by other processes.
const BUSY: f64 = 0.9;

struct Pair {
    hand_first: bool,
    hand: f64,
    fleet: f64,
    /// The same ratio with both sides' execs divided by T alone.
    nominal: f64,
    /// Execs per CPU-second of the workers, fuzzfleet / by hand: what each execution
    /// costs, whatever share of the cores other processes took.
    per_cpu: f64,
    /// fuzzfleet's own CPU time over its wall time, in cores.
    fleet_cores: f64,
    /// The smaller of the two sides' share of worker time spent on a core.
    on_core: f64,
}

fn main() {
    let Setup {
        knobs,
        fuzzfleet,
        binary,
        seeds,
        mut scratch,
    } = Setup::new("overhead", TARGET, 30, 6);
    let n = knobs.workers;
    let t = knobs.run_for;
    let spec = hand::Spec {
        binary: &binary,
        target: TARGET,
        seeds: &seeds,
        workers: n,
        run_for: t,
        mode: Mode::Plain,
    };
    let mut pairs = Vec::new();
    for p in 0..knobs.pairs {
        let hand_first = p % 2 == 0;
        println!(
            "\npair {}/{} ({} first)",
            p + 1,
            knobs.pairs,
            if hand_first { "by hand" } else { "fuzzfleet" }
        );
        let mut by_hand: Option<HandRun> = None;
        let mut under: Option<FleetRun> = None;
        for side in if hand_first { [0, 1] } else { [1, 0] } {
            if side == 0 {
                let run = hand::run(&spec, &scratch.run_dir("hand"));
                report_hand(&run, n);
                by_hand = Some(run);
            } else {
                let dir = scratch.run_dir("fuzzfleet");
                // The memory guard off: the workers run exactly the baseline's command
                // (a cgroup makes fuzzfleet give libFuzzer 7/8 of the limit); the
                // guard's own cost is the memwatch benchmark's.
                let run = fleet::run_with_env(
                    &fuzzfleet,
                    &binary,
                    &dir,
                    TARGET,
                    n,
                    t,
                    &[("FUZZFLEET_MEMORY_LIMIT", "off")],
                );
                report_fleet(&run, n);
                under = Some(run);
            }
        }
        let (h, f) = (by_hand.expect("ran"), under.expect("ran"));
        same::assert_same_workers(&h, &f);
        let pair = Pair {
            hand_first,
            hand: h.execs_per_sec(n),
            fleet: f.execs() as f64 * n as f64 / f.lives.worker_secs(),
            nominal: f.execs() as f64 / h.execs as f64,
            per_cpu: (f.execs() as f64 / f.cpu.children.as_secs_f64())
                / (h.execs as f64 / h.cpu.as_secs_f64()),
            fleet_cores: f.cpu.own.as_secs_f64() / f.wall.as_secs_f64(),
            on_core: (h.cpu.as_secs_f64() / h.lives.worker_secs())
                .min(f.cpu.children.as_secs_f64() / f.lives.worker_secs()),
        };
        println!("  ratio fuzzfleet / by hand: {:.3}", pair.fleet / pair.hand);
        pairs.push(pair);
    }
    summarize(&pairs, n);
}

fn report_hand(run: &HandRun, n: usize) {
    let failed: Vec<_> = run.statuses.iter().filter(|s| !s.success()).collect();
    assert!(
        failed.is_empty(),
        "workers started by hand failed: {failed:?}"
    );
    println!(
        "  by hand:   {:>13} execs over {:6.2} s per worker → {:>9} execs/s; \
         workers on a core {:.0}% of the time",
        thousands(run.execs as f64),
        run.lives.worker_secs() / n as f64,
        thousands(run.execs_per_sec(n)),
        100.0 * run.cpu.as_secs_f64() / run.lives.worker_secs()
    );
}

fn report_fleet(run: &FleetRun, n: usize) {
    let restarts = run.int("restarts");
    if restarts > 0 || run.lives.0.len() != n {
        println!(
            "  warning: fuzzfleet restarted workers ({restarts} restarts, {} processes)",
            run.lives.0.len()
        );
    }
    let secs = run.lives.worker_secs();
    println!(
        "  fuzzfleet: {:>13} execs over {:6.2} s per worker → {:>9} execs/s; \
         workers on a core {:.0}% of the time",
        thousands(run.execs() as f64),
        secs / n as f64,
        thousands(run.execs() as f64 * n as f64 / secs),
        100.0 * run.cpu.children.as_secs_f64() / secs
    );
    println!(
        "             fuzzfleet itself: {:.2} s CPU in {:.1} s wall, start-up {:.2} s",
        run.cpu.own.as_secs_f64(),
        run.wall.as_secs_f64(),
        run.startup.as_secs_f64()
    );
}

fn summarize(pairs: &[Pair], n: usize) {
    println!("\npair  first      by hand execs/s  fuzzfleet execs/s  ratio");
    for (i, p) in pairs.iter().enumerate() {
        println!(
            "{:>4}  {:<9}  {:>15}  {:>17}  {:.3}",
            i + 1,
            if p.hand_first { "by hand" } else { "fuzzfleet" },
            thousands(p.hand),
            thousands(p.fleet),
            p.fleet / p.hand
        );
    }
    let ratios: Vec<f64> = pairs.iter().map(|p| p.fleet / p.hand).collect();
    let nominal: Vec<f64> = pairs.iter().map(|p| p.nominal).collect();
    let spread = Spread::of(&ratios).expect("at least one pair");
    println!(
        "\nfuzzfleet / by hand, aggregate execs/s of {n} workers over {} pairs: {spread}",
        pairs.len()
    );
    let per_cpu: Vec<f64> = pairs.iter().map(|p| p.per_cpu).collect();
    let cores: Vec<f64> = pairs.iter().map(|p| p.fleet_cores).collect();
    println!(
        "per CPU-second of the workers (blind to other load): {}",
        Spread::of(&per_cpu).expect("at least one pair")
    );
    println!(
        "execs / T for both, not corrected for how long each side's workers ran: {}",
        Spread::of(&nominal).expect("at least one pair")
    );
    println!(
        "fuzzfleet's own CPU, in cores: {}",
        Spread::of(&cores).expect("at least one pair")
    );
    let busy = pairs.iter().filter(|p| p.on_core < BUSY).count();
    if busy > 0 {
        println!(
            "note: in {busy} of {} pairs other processes kept a side's workers off the cores \
             more than {:.0}% of the time: the wall-clock ratio carries that noise, the \
             per-CPU-second one does not",
            pairs.len(),
            100.0 * (1.0 - BUSY)
        );
    }
    println!(
        "goal ≥ {GOAL}: {}",
        if spread.median >= GOAL {
            "met"
        } else {
            "NOT met"
        }
    );
}
