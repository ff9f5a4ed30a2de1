//! Hundreds of distinct crashing inputs of eleven planted bugs (Rust `six_bugs`, C `crash_heap` and `crash_memory`), each reproduced against the real binary, then bucketed in two shuffled orders: one bucket per bug, none mixed, the same buckets both times. Prints throughput (run with `--nocapture`).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use common::runner;
use fleet_crash::{
    BucketId, Buckets, Crash, InputKey, Repro, Rules, SignatureConfig, parse_report,
};
use fleet_testkit::inputs::{Rng, bugs};
use fleet_testkit::{c_fixture, rust_fixture, state_temp_dir};

/// Distinct inputs generated per bug (the two-callers bug gets this many
/// through each caller).
const PER_BUG: usize = 17;

/// The bug a crash really is: the two callers of `decode_width` are one.
fn truth(name: &str) -> &str {
    match name {
        "width-via-rows" | "width-via-columns" => "decode-width",
        other => other,
    }
}

struct Job {
    bug: &'static str,
    target: &'static str,
    bytes: Vec<u8>,
    path: PathBuf,
}

/// User + system CPU seconds of this process's reaped children.
fn children_cpu_secs() -> f64 {
    // SAFETY: rusage is plain data that getrusage fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a rusage owned by this frame.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut rng = Rng(seed);
    for i in (1..items.len()).rev() {
        items.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
}

#[test]
fn hundreds_of_crashes_make_one_bucket_per_bug_in_any_order() {
    let dir = state_temp_dir();
    let binaries: BTreeMap<&str, PathBuf> = [
        ("six_bugs", rust_fixture("six_bugs")),
        ("crash_heap", c_fixture("crash_heap")),
        ("crash_memory", c_fixture("crash_memory")),
    ]
    .into_iter()
    .collect();

    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut jobs = Vec::new();
    let mut seen = BTreeSet::new();
    for bug in bugs() {
        let mut made = 0;
        while made < PER_BUG {
            let bytes = (bug.make)(&mut rng);
            if seen.insert(bytes.clone()) {
                let path = dir.path().join(format!("{}-{made}", bug.name));
                std::fs::write(&path, &bytes).unwrap();
                jobs.push(Job {
                    bug: bug.name,
                    target: bug.target,
                    bytes,
                    path,
                });
                made += 1;
            }
        }
    }
    let total = jobs.len();
    assert!(total >= 200, "{total}");

    // Reproduce each input once, on as many threads as there are cores.
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(total));
    let config = SignatureConfig::default();
    let cpu_before = children_cpu_secs();
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    let mut runner = runner(binaries[job.target].clone());
                    // Normal priority: on a shared test machine nice 19
                    // would measure the neighbours, not the pipeline.
                    runner.run_limits.nice = None;
                    let result = runner.reproduce(&job.path, 1, None).unwrap();
                    assert_eq!(
                        result.repro,
                        Repro::Always,
                        "{} {:?}: {:?}",
                        job.bug,
                        job.bytes,
                        result.runs
                    );
                    let report = result.report.unwrap();
                    let crash = Crash::new(job.target, InputKey::of(&job.bytes), &report, &config);
                    results
                        .lock()
                        .unwrap()
                        .push((i, job.bug, crash, result.output.unwrap()));
                }
            });
        }
    });
    let reproduce_secs = start.elapsed().as_secs_f64();
    let reproduce_cpu = children_cpu_secs() - cpu_before;
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, ..)| *i);

    // Bucket in two different orders.
    let rules = Rules::new();
    let mut orders = Vec::new();
    for seed in [7, 0xdead_beef] {
        let mut crashes: Vec<(&str, &Crash)> =
            results.iter().map(|(_, bug, c, _)| (*bug, c)).collect();
        shuffle(&mut crashes, seed);
        let mut buckets = Buckets::new(fleet_crash::DEFAULT_KEEP_INPUTS);
        let mut members: BTreeMap<BucketId, BTreeSet<&str>> = BTreeMap::new();
        for (bug, crash) in &crashes {
            let added = buckets.add(&rules, crash);
            members.entry(added.bucket).or_default().insert(truth(bug));
        }
        orders.push((buckets, members));
    }
    let (buckets, members) = &orders[0];
    let truths: BTreeSet<&str> = jobs.iter().map(|j| truth(j.bug)).collect();
    for bucket in buckets.iter() {
        println!(
            "{:>3}  {:<8}  {}",
            bucket.count, bucket.severity, bucket.title
        );
    }
    assert_eq!(truths.len(), 11);
    assert_eq!(
        buckets.len(),
        truths.len(),
        "one bucket per bug: {members:#?}"
    );
    for (id, bugs) in members {
        assert_eq!(bugs.len(), 1, "bucket {id} mixes {bugs:?}");
    }
    let per_bug: BTreeSet<&str> = members.values().flat_map(|b| b.iter().copied()).collect();
    assert_eq!(per_bug, truths);
    assert_eq!(orders[0], orders[1], "the same buckets for both orders");
    let callers = buckets
        .iter()
        .find(|b| b.title.contains("decode_width"))
        .unwrap();
    assert_eq!(callers.count as usize, 2 * PER_BUG);

    // Throughput without reproduction: parse + signature + bucket of the
    // captured outputs, repeated to get past timer resolution.
    const ROUNDS: usize = 20;
    let start = Instant::now();
    let mut check = 0;
    for _ in 0..ROUNDS {
        let mut buckets = Buckets::new(fleet_crash::DEFAULT_KEEP_INPUTS);
        for (_, _, crash, output) in &results {
            let report = parse_report(output).unwrap();
            let fresh = Crash::new(&crash.target, crash.input.clone(), &report, &config);
            buckets.add(&rules, &fresh);
        }
        check += buckets.len();
    }
    let triage_secs = start.elapsed().as_secs_f64();
    assert_eq!(check, ROUNDS * truths.len());
    println!(
        "fleet-crash throughput: {total} crashes reproduced and bucketed in {reproduce_secs:.1} s on {threads} threads = {:.1} reports/s including reproduction ({reproduce_cpu:.1} CPU-s in the reaped target processes, llvm-symbolizer not counted = {:.2} CPU-s per reproduction); parse+signature+bucket alone: {:.0} reports/s ({} reports in {triage_secs:.3} s, one thread, {} build)",
        total as f64 / reproduce_secs,
        reproduce_cpu / total as f64,
        (ROUNDS * total) as f64 / triage_secs,
        ROUNDS * total,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    );
}
