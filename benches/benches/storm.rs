//! Benchmark `storm`: does crash triage keep up with a crash storm? Two workers each
//! crash once a second on three known bugs of the `six_bugs` fixture (distinct inputs,
//! real reports captured from the binary in setup). The findings are recorded as a
//! campaign records them and handed to:
//!
//! 1. the baseline: each copy reproduced (`repro_runs` 3) before it is filed — what the
//!    pipeline did for copies of bugs whose repro is not `always`, and for every timeout;
//! 2. fuzzfleet's triage thread (`fleet_run::triage::TriageThread`), which files every
//!    copy of a known bug from its report without running anything.
//!
//! Printed for each: the most findings pending at once (recorded, not yet filed), and
//! the time from a finding's record to its filing (median and max), with the ratios.
//! The goal: pending stays under 10 and every finding is filed within 30 s.
//!
//! `cargo bench -p fleet-bench --bench storm [-- --secs 60]`

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fleet_crash::TargetRunner;
use fleet_engine::libfuzzer::Limits;
use fleet_run::triage::{Pipeline, TriageConfig, TriageTarget, TriageThread};
use fleet_store::{Db, FindingInsert, Layout};
use fleet_testkit::inputs::{Rng, bugs};

const TARGET: &str = "six_bugs";
/// Two workers, each crashing once a second.
const PER_SECOND: u32 = 2;
const ENV: (&str, &str) = ("ASAN_OPTIONS", "detect_leaks=0:allocator_may_return_null=1");

fn limits() -> Limits {
    Limits {
        rss_limit_mb: 2048,
        malloc_limit_mb: None,
        timeout_s: 10,
    }
}

fn target(binary: &Path) -> TriageTarget {
    TriageTarget {
        binary: binary.to_path_buf(),
        limits: limits(),
        extra_args: Vec::new(),
        env: vec![(ENV.0.into(), ENV.1.into())],
    }
}

/// One storm's outcome.
struct Outcome {
    max_pending: usize,
    latencies: Vec<f64>,
    unfiled: usize,
}

impl Outcome {
    fn median(&self) -> f64 {
        percentile(&self.latencies, 0.5)
    }

    fn max(&self) -> f64 {
        percentile(&self.latencies, 1.0)
    }
}

fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// A state dir whose three bugs are known (one input of each filed and reproduced).
fn known_state(dir: &Path, binary: &Path, seeds: &[Input]) -> Layout {
    let layout = Layout::new(dir.to_path_buf());
    fs::create_dir_all(layout.root()).unwrap();
    let db = Db::open(&layout.db_path()).unwrap();
    let ids: Vec<i64> = seeds.iter().map(|i| record(&db, &layout, i)).collect();
    drop(db);
    let mut p = Pipeline::open(
        layout.clone(),
        [(TARGET.to_string(), target(binary))].into_iter().collect(),
        TriageConfig::default(),
    )
    .unwrap();
    for id in ids {
        p.triage(id, &mut |_| {}).unwrap();
    }
    layout
}

#[derive(Clone)]
struct Input {
    sha1: String,
    bytes: Vec<u8>,
    report: String,
}

/// Records a finding as a campaign does: the input and its report in `crashes/`.
fn record(db: &Db, layout: &Layout, i: &Input) -> i64 {
    let dir = layout.crashes_dir(TARGET);
    fs::create_dir_all(&dir).unwrap();
    let input = dir.join(format!("crash-{}", i.sha1));
    let report = dir.join(format!("crash-{}.log", i.sha1));
    fs::write(&input, &i.bytes).unwrap();
    fs::write(&report, &i.report).unwrap();
    db.record_finding(&FindingInsert {
        target: TARGET,
        kind: "crash",
        sha1: &i.sha1,
        input_path: &input,
        report_path: Some(&report),
        size_bytes: i.bytes.len() as u64,
        at_ms: fleet_store::now_ms(),
        node: None,
    })
    .unwrap()
    .0
}

/// Feeds `storm` at [`PER_SECOND`] into `hand` (which queues the id for triage), sampling
/// what is pending, then waits up to 60 s for the rest to be filed.
fn run_storm(layout: &Layout, storm: &[Input], hand: &dyn Fn(i64)) -> Outcome {
    let db = Db::open(&layout.db_path()).unwrap();
    let start = Instant::now();
    let mut recorded: BTreeMap<i64, Instant> = BTreeMap::new();
    let mut filed: BTreeMap<i64, f64> = BTreeMap::new();
    let mut max_pending = 0;
    let period = Duration::from_secs(1) / PER_SECOND;
    let mut next = 0;
    let drain_until = start + period * storm.len() as u32 + Duration::from_secs(60);
    loop {
        let now = Instant::now();
        while next < storm.len() && now >= start + period * next as u32 {
            let id = record(&db, layout, &storm[next]);
            recorded.insert(id, Instant::now());
            hand(id);
            next += 1;
        }
        let pending: Vec<i64> = db
            .pending_findings()
            .unwrap()
            .into_iter()
            .map(|f| f.id)
            .collect();
        for (id, at) in &recorded {
            if !filed.contains_key(id) && !pending.contains(id) {
                filed.insert(*id, at.elapsed().as_secs_f64());
            }
        }
        max_pending = max_pending.max(pending.len());
        if next == storm.len() && pending.is_empty() || now > drain_until {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Outcome {
        max_pending,
        unfiled: recorded.len() - filed.len(),
        latencies: filed.into_values().collect(),
    }
}

fn main() {
    let secs = fleet_bench::knobs::number_arg("--secs", 60);
    fleet_bench::procs::stop_on_signals();
    let binary = fleet_testkit::rust_fixture(TARGET);
    let planted: Vec<_> = bugs()
        .into_iter()
        .filter(|b| {
            b.target == TARGET && ["index", "add-overflow", "assert-budget"].contains(&b.name)
        })
        .collect();
    assert_eq!(planted.len(), 3, "three planted bugs of {TARGET}");
    let wanted = 3 + (secs * u64::from(PER_SECOND)) as usize;

    // Setup: distinct inputs, each run once for the report its worker would have logged.
    let scratch = fleet_testkit::state_temp_dir();
    // Runs' scratch dirs under the bench's own dir, never the machine's /tmp.
    let capture = {
        let mut r = TargetRunner::new(&binary, limits());
        r.env = vec![(ENV.0.into(), ENV.1.into())];
        r.run_limits.nice = None;
        r.scratch_dir = Some(scratch.path().to_path_buf());
        r
    };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut seen = std::collections::BTreeSet::new();
    let mut inputs = Vec::new();
    println!("storm bench: capturing {wanted} reports of 3 bugs in `{TARGET}` ...");
    while inputs.len() < wanted {
        let bytes = (planted[inputs.len() % planted.len()].make)(&mut rng);
        if !seen.insert(bytes.clone()) {
            continue;
        }
        let sha1 = fleet_store::sha1_hex(&bytes);
        let path = scratch.path().join(&sha1);
        fs::write(&path, &bytes).unwrap();
        let exec = capture.execute(&path).unwrap();
        assert!(exec.report.is_some(), "{} did not crash", path.display());
        inputs.push(Input {
            sha1,
            bytes,
            report: exec.output,
        });
    }
    let (seeds, storm) = inputs.split_at(3);
    println!(
        "storm: {} findings, {PER_SECOND} a second for {secs} s, of 3 known bugs, with every core busy\n",
        storm.len()
    );

    // The workers that crash keep every core busy: triage gets what nice 10 leaves it.
    let burning = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let burners: Vec<_> = (0..cores)
        .map(|_| {
            let on = burning.clone();
            std::thread::spawn(move || {
                let mut x = 0u64;
                while on.load(std::sync::atomic::Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            })
        })
        .collect();

    // 1. Baseline: every copy reproduced before it is filed, on a thread of its own.
    let base_dir = scratch.path().join("baseline");
    let layout = known_state(&base_dir, &binary, seeds);
    let (tx, rx) = mpsc::channel::<i64>();
    let stop_baseline = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let worker = {
        let stop = stop_baseline.clone();
        let layout = layout.clone();
        let binary = binary.clone();
        std::thread::spawn(move || {
            let mut p = Pipeline::open(
                layout.clone(),
                [(TARGET.to_string(), target(&binary))]
                    .into_iter()
                    .collect(),
                TriageConfig::default(),
            )
            .unwrap();
            let runner = {
                let mut r = TargetRunner::new(&binary, limits());
                r.env = vec![(ENV.0.into(), ENV.1.into())];
                r.run_limits.nice = Some(fleet_run::triage::BACKGROUND_NICE);
                r.scratch_dir = Some(layout.root().to_path_buf());
                r
            };
            let db = Db::open(&layout.db_path()).unwrap();
            for id in rx {
                // The storm is over and its figures taken: what is left is not run.
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let f = db.finding(id).unwrap().unwrap();
                runner.reproduce(Path::new(&f.input_path), 3, None).unwrap();
                p.triage(id, &mut |_| {}).unwrap();
            }
        })
    };
    let base = run_storm(&layout, storm, &|id| tx.send(id).unwrap());
    drop(tx);
    stop_baseline.store(true, std::sync::atomic::Ordering::Relaxed);
    // At most the reproduction in flight finishes.
    let _ = worker.join();

    // 2. fuzzfleet's triage thread, as a campaign runs it.
    let fleet_dir = scratch.path().join("fuzzfleet");
    let layout = known_state(&fleet_dir, &binary, seeds);
    let thread = TriageThread::spawn(
        layout.clone(),
        [(TARGET.to_string(), target(&binary))]
            .into_iter()
            .collect(),
        TriageConfig {
            nice: Some(fleet_run::triage::BACKGROUND_NICE),
            ..TriageConfig::default()
        },
        Box::new(|_| {}),
    )
    .unwrap();
    let fleet = run_storm(&layout, storm, &|id| thread.finding(id));
    thread.finish(Duration::from_secs(5));
    burning.store(false, std::sync::atomic::Ordering::Relaxed);
    for b in burners {
        let _ = b.join();
    }

    println!(
        "{:<44} {:>12} {:>14} {:>12} {:>9}",
        "", "max pending", "median filed", "max filed", "unfiled"
    );
    for (label, o) in [
        ("1. baseline: each copy reproduced first", &base),
        ("2. fuzzfleet: copies filed from reports", &fleet),
    ] {
        println!(
            "{label:<44} {:>12} {:>13.2}s {:>11.2}s {:>9}",
            o.max_pending,
            o.median(),
            o.max(),
            o.unfiled
        );
    }
    println!(
        "\nratios fuzzfleet/baseline: max pending {:.3}, median time to file {:.4}, max time to file {:.4}",
        fleet.max_pending as f64 / base.max_pending.max(1) as f64,
        fleet.median() / base.median(),
        fleet.max() / base.max()
    );
    let ok = fleet.max_pending < 10 && fleet.max() <= 30.0 && fleet.unfiled == 0;
    println!(
        "goal (pending < 10, every finding filed within 30 s): {}",
        if ok { "met" } else { "NOT met" }
    );
}
