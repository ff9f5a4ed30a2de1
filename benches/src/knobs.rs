//! How long and how often a benchmark runs: `--secs N`, `--pairs N`, `--workers N`
//! after `cargo bench … --`, else `FLEET_BENCH_SECS`, `FLEET_BENCH_PAIRS`,
//! `FLEET_BENCH_WORKERS`, else the benchmark's defaults (workers: one per core).

use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub struct Knobs {
    /// How long each run fuzzes (T).
    pub run_for: Duration,
    /// How many (baseline, fuzzfleet) pairs are run, alternating which goes first.
    pub pairs: usize,
    /// Worker processes per run (N).
    pub workers: usize,
}

impl Knobs {
    /// Reads the arguments and environment; a bad value exits 2 with a message.
    pub fn read(default_secs: u64, default_pairs: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut secs = env_number("FLEET_BENCH_SECS").unwrap_or(default_secs as usize);
        let mut pairs = env_number("FLEET_BENCH_PAIRS").unwrap_or(default_pairs);
        let mut workers = env_number("FLEET_BENCH_WORKERS").unwrap_or(cores);
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let slot = match arg.as_str() {
                // cargo bench passes `--bench` to every harness = false program.
                "--bench" => continue,
                "--secs" => &mut secs,
                "--pairs" => &mut pairs,
                "--workers" => &mut workers,
                other => usage(&format!("unknown argument `{other}`")),
            };
            *slot = args
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| usage(&format!("{arg} needs a whole number")));
        }
        if secs == 0 || pairs == 0 || workers == 0 {
            usage("--secs, --pairs and --workers must be at least 1");
        }
        Self {
            run_for: Duration::from_secs(secs as u64),
            pairs,
            workers,
        }
    }
}

fn env_number(name: &str) -> Option<usize> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .parse()
            .unwrap_or_else(|_| usage(&format!("{name}={value} is not a whole number"))),
    )
}

fn usage(message: &str) -> ! {
    eprintln!(
        "bench: {message}\n\
         usage: cargo bench -p fleet-bench --bench NAME -- [--secs N] [--pairs N] [--workers N]\n\
         (or FLEET_BENCH_SECS, FLEET_BENCH_PAIRS, FLEET_BENCH_WORKERS)"
    );
    std::process::exit(2);
}

/// The whole number after `name` among the arguments (`cargo bench … -- --inputs 210`),
/// else `default`.
pub fn number_arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
