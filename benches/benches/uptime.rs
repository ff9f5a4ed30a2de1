//! Benchmark `uptime`: how much fuzzing a target keeps when it crashes every few
//! seconds. N workers of the `crash_often` fixture run for T seconds under `fuzzfleet
//! run` (a crashed worker is restarted on the shared corpus) and, as the baseline, as N
//! processes in libFuzzer's own fork mode (`-fork=1 -ignore_crashes=1`), in pairs that
//! alternate which goes first. Prints fuzzfleet's uptime (`status --json`: the share of
//! assigned worker time spent in libFuzzer's loop, after INITED; the goal is at least
//! 0.95), its restarts, findings and crash interval, and the aggregate execs/s of both
//! modes with their ratio, the measurement that chooses restarts over fork mode.
//!
//! fuzzfleet's execs/s is over the whole time its worker slots were assigned (from its
//! first worker's start to its last one's end, restart gaps included); fork mode's is
//! over the lifetime of its parent processes (job start-up and merges included).
//!
//! `cargo bench -p fleet-bench --bench uptime [-- --secs 60 --pairs 2 --workers N]`

use fleet_bench::fleet::{self, FleetRun};
use fleet_bench::hand::{self, HandRun, Mode};
use fleet_bench::setup::Setup;
use fleet_bench::stats::{Spread, thousands};

const TARGET: &str = "crash_often";
const GOAL: f64 = 0.95;
/// A restart gap longer than this is a wait, not the cost of starting a process.
const LONG_GAP: f64 = 0.5;

struct Pair {
    uptime: f64,
    fleet: f64,
    fork: f64,
    /// Execs per CPU-second of the workers, fuzzfleet / fork mode.
    per_cpu: f64,
}

fn main() {
    let Setup {
        knobs,
        fuzzfleet,
        binary,
        seeds,
        mut scratch,
    } = Setup::new("uptime", TARGET, 60, 2);
    let n = knobs.workers;
    let t = knobs.run_for;
    let spec = hand::Spec {
        binary: &binary,
        target: TARGET,
        seeds: &seeds,
        workers: n,
        run_for: t,
        mode: Mode::Fork,
    };
    let mut pairs = Vec::new();
    for p in 0..knobs.pairs {
        let fleet_first = p % 2 == 0;
        println!(
            "\npair {}/{} ({} first)",
            p + 1,
            knobs.pairs,
            if fleet_first {
                "fuzzfleet"
            } else {
                "fork mode"
            }
        );
        let mut under: Option<FleetRun> = None;
        let mut forked: Option<HandRun> = None;
        for side in if fleet_first { [0, 1] } else { [1, 0] } {
            if side == 0 {
                let dir = scratch.run_dir("fuzzfleet");
                let run = fleet::run(&fuzzfleet, &binary, &dir, TARGET, n, t);
                report_fleet(&run, n);
                under = Some(run);
            } else {
                let run = hand::run(&spec, &scratch.run_dir("fork"));
                report_fork(&run, n);
                forked = Some(run);
            }
        }
        let (f, k) = (under.expect("ran"), forked.expect("ran"));
        let pair = Pair {
            uptime: f.target["uptime"]
                .as_f64()
                .unwrap_or_else(|| panic!("status --json has no uptime: {}", f.target)),
            fleet: f.execs() as f64 / f.lives.window_secs(),
            fork: k.execs_per_sec(n),
            per_cpu: (f.execs() as f64 / f.cpu.children.as_secs_f64())
                / (k.execs as f64 / k.cpu.as_secs_f64()),
        };
        println!(
            "  execs/s fuzzfleet (restarts) / fork mode: {:.3}",
            pair.fleet / pair.fork
        );
        pairs.push(pair);
    }
    summarize(&pairs, n);
}

fn report_fleet(run: &FleetRun, n: usize) {
    let window = run.lives.window_secs();
    let restarts = run.int("restarts");
    let per = |count: i64| {
        if count > 0 {
            format!("{:.2} s", n as f64 * window / count as f64)
        } else {
            "-".into()
        }
    };
    println!(
        "  fuzzfleet: uptime {:.3}; {restarts} restarts; {} crashes ({} distinct inputs); \
         a crash every {} per worker",
        run.target["uptime"].as_f64().unwrap_or(f64::NAN),
        run.int("crashes"),
        run.int("buckets"),
        per(restarts),
    );
    // Slot time with no worker process at all: the gaps between a crash and the restart.
    let gap = n as f64 * window - run.lives.worker_secs();
    println!(
        "             worker processes alive {:.3} of slot time; {:.3} s without one per restart",
        run.lives.worker_secs() / (n as f64 * window),
        if restarts > 0 {
            gap / restarts as f64
        } else {
            0.0
        }
    );
    if std::env::var_os("FLEET_BENCH_VERBOSE").is_some()
        && let Some((start, _)) = run.lives.window()
    {
        for life in &run.lives.0 {
            let tmp = life.env.iter().find(|(k, _)| k == "TMPDIR").map(|(_, v)| v);
            println!(
                "             pid {:>7} {:?}: {:7.3} s – {:7.3} s",
                life.pid,
                tmp.and_then(|t| std::path::Path::new(t).file_name()),
                life.seen.duration_since(start).as_secs_f64(),
                life.last.duration_since(start).as_secs_f64()
            );
        }
    }
    let gaps = run.lives.gaps_by("TMPDIR");
    if let Some(g) = Spread::of(&gaps) {
        println!(
            "             restart gaps (a worker's end to its slot's next start): median \
             {:.3} s, max {:.3} s; {} of {} over {LONG_GAP} s",
            g.median,
            g.max,
            gaps.iter().filter(|&&x| x > LONG_GAP).count(),
            gaps.len()
        );
    }
    println!(
        "             {:>13} execs over {:6.2} s of {n} slots → {:>9} execs/s; on a core {:.0}% \
         ({} worker processes, start-up {:.2} s, wall {:.1} s)",
        thousands(run.execs() as f64),
        window,
        thousands(run.execs() as f64 / window),
        100.0 * run.cpu.children.as_secs_f64() / (n as f64 * window),
        run.lives.0.len(),
        run.startup.as_secs_f64(),
        run.wall.as_secs_f64()
    );
}

fn report_fork(run: &HandRun, n: usize) {
    let secs = run.lives.worker_secs();
    println!(
        "  fork mode: {} crashes; a crash every {} per worker",
        run.crashes,
        if run.crashes > 0 {
            format!("{:.2} s", secs / run.crashes as f64)
        } else {
            "-".into()
        }
    );
    println!(
        "             {:>13} execs over {:6.2} s per process → {:>9} execs/s; on a core {:.0}% \
         (exit {})",
        thousands(run.execs as f64),
        secs / n as f64,
        thousands(run.execs_per_sec(n)),
        100.0 * run.cpu.as_secs_f64() / secs,
        run.statuses
            .iter()
            .map(|s| s.code().map_or_else(|| s.to_string(), |c| c.to_string()))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

fn summarize(pairs: &[Pair], n: usize) {
    println!("\npair  uptime  fuzzfleet execs/s  fork-mode execs/s  ratio");
    for (i, p) in pairs.iter().enumerate() {
        println!(
            "{:>4}  {:.3}   {:>17}  {:>17}  {:.3}",
            i + 1,
            p.uptime,
            thousands(p.fleet),
            thousands(p.fork),
            p.fleet / p.fork
        );
    }
    let uptime = Spread::of(&pairs.iter().map(|p| p.uptime).collect::<Vec<_>>()).expect("pairs");
    let ratio =
        Spread::of(&pairs.iter().map(|p| p.fleet / p.fork).collect::<Vec<_>>()).expect("pairs");
    println!("\nuptime of `{TARGET}` under fuzzfleet, {n} workers: {uptime}");
    println!("execs/s fuzzfleet (restarts) / libFuzzer fork mode: {ratio}");
    println!(
        "the same per CPU-second of the workers (blind to other load): {}",
        Spread::of(&pairs.iter().map(|p| p.per_cpu).collect::<Vec<_>>()).expect("pairs")
    );
    println!(
        "goal uptime ≥ {GOAL}: {}",
        if uptime.median >= GOAL {
            "met"
        } else {
            "NOT met"
        }
    );
}
