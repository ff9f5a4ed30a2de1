//! Benchmark `triage`: crash reports processed per second by the crash pipeline, with
//! and without reproduction, each against a baseline measured in the same invocation.
//!
//! Hundreds of distinct crashing inputs of seven planted bugs of the `six_bugs` fixture
//! are run once to capture the report a fuzzer would have written (setup, not timed).
//! Then, on the same reports:
//!
//! 1. `parse_report` alone — the baseline;
//! 2. parse + signature + bucket (repro excluded), as ratio to 1;
//! 3. the real pipeline (`fleet_run::triage::Pipeline::triage_pending`) on a state dir
//!    holding the findings: each new bug filed from its report at once and reproduced
//!    (`repro_runs` 3), later copies of a bug that always reproduces filed without a
//!    run — what a campaign does;
//! 4. reproducing every finding once, with no shortcut (repro included), as ratio to 2.
//!
//! `cargo bench -p fleet-bench --bench triage [-- --inputs 210]`

use std::fs;
use std::path::PathBuf;
use std::time::Instant;

use fleet_crash::{Buckets, Crash, InputKey, Rules, SignatureConfig, TargetRunner, parse_report};
use fleet_engine::libfuzzer::Limits;
use fleet_run::triage::{Pipeline, TriageConfig, TriageTarget};
use fleet_store::{Db, FindingInsert, Layout};
use fleet_testkit::inputs::{Bug, Rng, bugs};

const TARGET: &str = "six_bugs";

/// The planted bugs of `six_bugs` the benchmark reproduces: all but the stack overflow
/// (slow to reproduce) and the second caller of `decode_width` (the same bucket).
fn bench_bugs() -> Vec<Bug> {
    bugs()
        .into_iter()
        .filter(|b| {
            b.target == TARGET && !["stack-overflow", "width-via-columns"].contains(&b.name)
        })
        .collect()
}

fn runner(binary: &PathBuf) -> TargetRunner {
    let mut r = TargetRunner::new(binary, limits());
    r.env = vec![(
        "ASAN_OPTIONS".into(),
        "detect_leaks=0:allocator_may_return_null=1".into(),
    )];
    // Normal priority: the bench measures the pipeline, not the neighbours.
    r.run_limits.nice = None;
    r
}

fn limits() -> Limits {
    Limits {
        rss_limit_mb: 2048,
        malloc_limit_mb: None,
        timeout_s: 10,
    }
}

fn main() {
    let inputs = fleet_bench::knobs::number_arg("--inputs", 210) as usize;
    fleet_bench::procs::stop_on_signals();
    let binary = fleet_testkit::rust_fixture(TARGET);
    let dir = fleet_testkit::state_temp_dir();
    let layout = Layout::new(dir.path().join("state"));
    let crashes_dir = layout.root().join("crashes").join(TARGET);
    fs::create_dir_all(&crashes_dir).unwrap();

    // Setup: distinct inputs, each run once for the report a worker would have logged.
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let planted = bench_bugs();
    let mut seen = std::collections::BTreeSet::new();
    let mut files = Vec::new();
    while files.len() < inputs {
        let bytes = (planted[files.len() % planted.len()].make)(&mut rng);
        if !seen.insert(bytes.clone()) {
            continue;
        }
        let sha1 = fleet_store::sha1_hex(&bytes);
        let input = crashes_dir.join(format!("crash-{sha1}"));
        fs::write(&input, &bytes).unwrap();
        files.push((sha1, input, bytes));
    }
    println!(
        "triage bench: {} distinct crashing inputs of {} bugs in `{TARGET}`; capturing reports ...",
        files.len(),
        planted.len()
    );
    let mut capture = runner(&binary);
    // Runs' scratch dirs under the bench's own dir, never the machine's /tmp.
    capture.scratch_dir = Some(dir.path().to_path_buf());
    let mut reports = Vec::new();
    for (sha1, input, _) in &files {
        let exec = capture.execute(input).unwrap();
        assert!(exec.report.is_some(), "{} did not crash", input.display());
        let path = crashes_dir.join(format!("crash-{sha1}.log"));
        fs::write(&path, &exec.output).unwrap();
        reports.push(exec.output);
    }

    // 1. Parsing alone (after a warm-up pass, so neither loop pays for cold caches).
    const ROUNDS: usize = 20;
    std::hint::black_box(reports.iter().filter_map(|r| parse_report(r)).count());
    let start = Instant::now();
    let mut parsed = 0;
    for _ in 0..ROUNDS {
        parsed += reports.iter().filter_map(|r| parse_report(r)).count();
    }
    let parse_rate = parsed as f64 / start.elapsed().as_secs_f64();

    // 2. Parse + signature + bucket, no reproduction.
    let config = SignatureConfig::default();
    let rules = Rules::new();
    let start = Instant::now();
    let mut bucketed = 0;
    let mut bugs = 0;
    for _ in 0..ROUNDS {
        let mut buckets = Buckets::new(fleet_crash::DEFAULT_KEEP_INPUTS);
        for ((_, _, bytes), report) in files.iter().zip(&reports) {
            let report = parse_report(report).unwrap();
            let crash = Crash::new(TARGET, InputKey::of(bytes), &report, &config);
            buckets.add(&rules, &crash);
            bucketed += 1;
        }
        bugs = buckets.len();
    }
    let bucket_rate = bucketed as f64 / start.elapsed().as_secs_f64();
    assert_eq!(bugs, planted.len(), "one bucket per planted bug");

    // 3. The campaign's pipeline on a state dir holding the findings.
    let db = Db::open(&layout.db_path()).unwrap();
    for (sha1, input, bytes) in &files {
        let report = crashes_dir.join(format!("crash-{sha1}.log"));
        db.record_finding(&FindingInsert {
            target: TARGET,
            kind: "crash",
            sha1,
            input_path: input,
            report_path: Some(&report),
            size_bytes: bytes.len() as u64,
            at_ms: fleet_store::now_ms(),
            node: None,
        })
        .unwrap();
    }
    drop(db);
    let targets = [(
        TARGET.to_string(),
        TriageTarget {
            binary: binary.clone(),
            limits: limits(),
            extra_args: Vec::new(),
            env: vec![(
                "ASAN_OPTIONS".into(),
                "detect_leaks=0:allocator_may_return_null=1".into(),
            )],
        },
    )]
    .into_iter()
    .collect();
    let mut pipeline = Pipeline::open(
        layout.clone(),
        targets,
        TriageConfig {
            // Keep every input, so the pipeline deletes nothing the next step replays.
            keep_inputs: files.len(),
            ..TriageConfig::default()
        },
    )
    .unwrap();
    let start = Instant::now();
    let mut new_bugs = 0;
    let n = pipeline
        .triage_pending(&mut |e| {
            if matches!(e, fleet_run::triage::TriageEvent::NewBucket { .. }) {
                new_bugs += 1;
            }
        })
        .unwrap();
    let pipeline_secs = start.elapsed().as_secs_f64();
    let pipeline_rate = n as f64 / pipeline_secs;
    assert_eq!(new_bugs, planted.len());

    // 4. Every finding reproduced once, no shortcut.
    let start = Instant::now();
    for (_, input, _) in &files {
        let r = capture.reproduce(input, 1, None).unwrap();
        assert!(r.report.is_some());
    }
    let repro_rate = files.len() as f64 / start.elapsed().as_secs_f64();

    println!("\nreports processed per second ({} reports):", files.len());
    println!("  1. parse only (baseline)                       {parse_rate:>10.0} /s");
    println!(
        "  2. parse + signature + bucket (repro excluded) {bucket_rate:>10.0} /s   {:.2}x of 1",
        bucket_rate / parse_rate
    );
    println!(
        "  3. campaign pipeline (new bugs reproduced 3x,  {pipeline_rate:>10.1} /s   {:.1} s for {n}",
        pipeline_secs
    );
    println!("     known copies filed from their report)");
    println!(
        "  4. every report reproduced once (repro incl.)  {repro_rate:>10.1} /s   1/{:.0} of 2",
        bucket_rate / repro_rate
    );
    println!(
        "  the pipeline's shortcut: {:.1}x the throughput of reproducing everything",
        pipeline_rate / repro_rate
    );
}
