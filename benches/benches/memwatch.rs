//! Benchmark `memwatch`: what guarding worker memory costs the fuzzers. N workers of the
//! `clean` fixture run for T seconds under `fuzzfleet run` three ways, rotated in each
//! round: with the guard off (`FUZZFLEET_MEMORY_LIMIT=off`, libFuzzer's own limit only:
//! the baseline), with a memory cgroup per worker plus its 20 ms watch (the default
//! where a cgroup can be made), and with the RSS watch of each worker's process group
//! (`FUZZFLEET_MEMORY_LIMIT=rss-watch`). Prints each round's aggregate execs/s and the
//! ratios against the baseline, then their medians. The goal (the
//! orchestrator costs the fuzzers nothing measurable) is a ratio of at least 0.98.
//!
//! `cargo bench -p fleet-bench --bench memwatch [-- --secs 20 --pairs 3 --workers N]`
//! (`--pairs` is the number of rounds of three runs).

use fleet_bench::fleet::{self, FleetRun};
use fleet_bench::setup::Setup;
use fleet_bench::stats::{Spread, thousands};

const TARGET: &str = "clean";
const GOAL: f64 = 0.98;
const MODES: [(&str, &str); 3] = [
    ("off", "off"),
    ("cgroup", "auto"),
    ("rss-watch", "rss-watch"),
];

fn main() {
    let Setup {
        knobs,
        fuzzfleet,
        binary,
        mut scratch,
        ..
    } = Setup::new("memwatch", TARGET, 20, 3);
    let n = knobs.workers;
    let mut cgroup = Vec::new();
    let mut rss = Vec::new();
    // Blind to other load on a shared machine: execs per CPU-second of the workers, and
    // fuzzfleet's own CPU over the run's wall time (in cores) beyond the baseline's.
    let (mut cgroup_cpu, mut rss_cpu) = (Vec::new(), Vec::new());
    let (mut cgroup_cores, mut rss_cores) = (Vec::new(), Vec::new());
    for round in 0..knobs.pairs {
        println!("\nround {}/{}", round + 1, knobs.pairs);
        let mut rates = [0.0f64; 3];
        let mut per_cpu = [0.0f64; 3];
        let mut own = [0.0f64; 3];
        for k in 0..MODES.len() {
            let i = (k + round) % MODES.len();
            let (name, value) = MODES[i];
            let dir = scratch.run_dir(name);
            let run = fleet::run_with_env(
                &fuzzfleet,
                &binary,
                &dir,
                TARGET,
                n,
                knobs.run_for,
                &[("FUZZFLEET_MEMORY_LIMIT", value)],
            );
            rates[i] = rate(&run, n);
            per_cpu[i] = run.execs() as f64 / run.cpu.children.as_secs_f64();
            own[i] = run.cpu.own.as_secs_f64() / run.wall.as_secs_f64();
            let log = std::fs::read_to_string(dir.join("run.log")).unwrap_or_default();
            let how = log
                .lines()
                .find_map(|l| l.split_once("worker memory limited by ").map(|(_, r)| r))
                .unwrap_or("?");
            println!(
                "  {name:<9} {:>10} execs/s  (memory limited by {how}; fuzzfleet CPU {:.2} s)",
                thousands(rates[i]),
                run.cpu.own.as_secs_f64()
            );
        }
        let (c, r) = (rates[1] / rates[0], rates[2] / rates[0]);
        println!("  cgroup / off: {c:.3}   rss-watch / off: {r:.3}");
        cgroup.push(c);
        rss.push(r);
        cgroup_cpu.push(per_cpu[1] / per_cpu[0]);
        rss_cpu.push(per_cpu[2] / per_cpu[0]);
        cgroup_cores.push(own[1] - own[0]);
        rss_cores.push(own[2] - own[0]);
    }
    let c = Spread::of(&cgroup).expect("at least one round");
    let r = Spread::of(&rss).expect("at least one round");
    println!(
        "\naggregate execs/s of {n} workers against the guard off, over {} rounds:",
        knobs.pairs
    );
    println!("  cgroup + watch: {c}");
    println!("  rss-watch:      {r}");
    println!("per CPU-second of the workers (blind to other load):");
    println!(
        "  cgroup + watch: {}",
        Spread::of(&cgroup_cpu).expect("rounds")
    );
    println!(
        "  rss-watch:      {}",
        Spread::of(&rss_cpu).expect("rounds")
    );
    println!("fuzzfleet's own CPU beyond the baseline's, in cores:");
    println!(
        "  cgroup + watch: {}",
        Spread::of(&cgroup_cores).expect("rounds")
    );
    println!(
        "  rss-watch:      {}",
        Spread::of(&rss_cores).expect("rounds")
    );
    for (name, s) in [("cgroup + watch", c), ("rss-watch", r)] {
        println!(
            "goal ≥ {GOAL} ({name}): {}",
            if s.median >= GOAL { "met" } else { "NOT met" }
        );
    }
}

/// Executions per second of worker process lifetime, times the workers.
fn rate(run: &FleetRun, n: usize) -> f64 {
    run.execs() as f64 * n as f64 / run.lives.worker_secs()
}
