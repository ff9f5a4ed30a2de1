//! Each fixture does what its name promises when run as a libFuzzer target:
//! the contract the other crates' integration tests rely on.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use fleet_testkit::{c_fixture, rust_fixture, temp_dir};

fn run(binary: &Path, args: &[&str], dir: &Path) -> Output {
    Command::new(binary)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()))
}

fn artifacts(dir: &Path, prefix: &str) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// A corpus dir holding `seed`: libFuzzer writes artifacts for what it runs
/// from a corpus, not for inputs named on the command line.
fn corpus_with(dir: &Path, seed: &[u8]) -> String {
    let corpus = dir.join("corpus");
    fs::create_dir(&corpus).unwrap();
    fs::write(corpus.join("seed"), seed).unwrap();
    corpus.to_str().unwrap().to_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn crash_magic_panics_on_fuzz_and_writes_a_crash_artifact() {
    let tmp = temp_dir();
    let corpus = tmp.path().join("corpus");
    fs::create_dir(&corpus).unwrap();
    let prefix = format!("-artifact_prefix={}/", tmp.path().display());
    let out = run(
        &rust_fixture("crash_magic"),
        &[&prefix, "-max_total_time=120", corpus.to_str().unwrap()],
        tmp.path(),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(77), "{err}");
    assert!(err.contains("index out of bounds"), "{err}");
    let crashes = artifacts(tmp.path(), "crash-");
    assert_eq!(crashes.len(), 1, "{err}");
    let input = fs::read(tmp.path().join(&crashes[0])).unwrap();
    assert!(input.starts_with(b"FUZZ"), "{input:?}");
}

#[test]
fn crash_often_crashes_within_seconds_from_an_empty_corpus() {
    let tmp = temp_dir();
    let corpus = tmp.path().join("corpus");
    fs::create_dir(&corpus).unwrap();
    let prefix = format!("-artifact_prefix={}/", tmp.path().display());
    let out = run(
        &rust_fixture("crash_often"),
        &[&prefix, "-max_total_time=60", corpus.to_str().unwrap()],
        tmp.path(),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(77), "{err}");
    assert!(err.contains("fixture crash_often: input hash"), "{err}");
    assert_eq!(artifacts(tmp.path(), "crash-").len(), 1, "{err}");
}

#[test]
fn hang_times_out_on_hang() {
    let tmp = temp_dir();
    let corpus = corpus_with(tmp.path(), b"HANG");
    let prefix = format!("-artifact_prefix={}/", tmp.path().display());
    let out = run(
        &rust_fixture("hang"),
        &[&prefix, "-timeout=1", &corpus],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(70), "{}", stderr(&out));
    assert_eq!(artifacts(tmp.path(), "timeout-").len(), 1);
}

#[test]
fn oom_exceeds_the_rss_limit_on_m() {
    let tmp = temp_dir();
    let corpus = corpus_with(tmp.path(), b"M");
    let prefix = format!("-artifact_prefix={}/", tmp.path().display());
    let out = run(
        &rust_fixture("oom"),
        &[&prefix, "-rss_limit_mb=256", &corpus],
        tmp.path(),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(71), "{err}");
    assert!(err.contains("out-of-memory"), "{err}");
    assert_eq!(artifacts(tmp.path(), "oom-").len(), 1);
}

#[test]
fn fail_start_exits_1_before_inited() {
    let tmp = temp_dir();
    let out = run(&rust_fixture("fail_start"), &["-runs=10"], tmp.path());
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("fixture fail_start: cannot open /nonexistent/fuzz.conf"),
        "{err}"
    );
    assert!(!err.contains("INITED"), "{err}");
}

#[test]
fn slow_start_takes_three_seconds_to_init_then_fuzzes() {
    let tmp = temp_dir();
    let start = Instant::now();
    let out = run(&rust_fixture("slow_start"), &["-runs=100"], tmp.path());
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(start.elapsed() >= Duration::from_secs(3), "{err}");
    assert!(err.contains("INITED"), "{err}");
}

#[test]
fn slow_unit_writes_a_slow_unit_artifact_on_slow() {
    let tmp = temp_dir();
    let corpus = corpus_with(tmp.path(), b"SLOW");
    let prefix = format!("-artifact_prefix={}/", tmp.path().display());
    let out = run(
        &rust_fixture("slow_unit"),
        &[&prefix, "-report_slow_units=1", "-runs=1", &corpus],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        artifacts(tmp.path(), "slow-unit-").len(),
        1,
        "{}",
        stderr(&out)
    );
}

#[test]
fn c_crash_heap_is_an_asan_heap_buffer_overflow() {
    let tmp = temp_dir();
    let corpus = corpus_with(tmp.path(), b"BUG\x04");
    let prefix = format!("-artifact_prefix={}/", tmp.path().display());
    let out = run(&c_fixture("crash_heap"), &[&prefix, &corpus], tmp.path());
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("ERROR: AddressSanitizer: heap-buffer-overflow"),
        "{err}"
    );
    assert!(err.contains("crash_heap.c"), "not symbolized: {err}");
    assert_eq!(artifacts(tmp.path(), "crash-").len(), 1, "{err}");
}

#[test]
fn c_clean_runs_clean() {
    let tmp = temp_dir();
    let out = run(&c_fixture("clean"), &["-runs=10000"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
}
