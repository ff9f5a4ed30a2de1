//! The campaign's triage thread on a real state dir and the real `six_bugs` binary: a
//! copy of a known bug is filed from its report without running the binary (even when
//! the bug does not always reproduce), a new bug is filed at once and reproduced after,
//! a paused pipeline (full disk) files nothing until it resumes, a drain files what
//! was sent and ends, and a drain stops a minimization to reproduce the new bugs.

use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fleet_crash::TargetRunner;
use fleet_engine::libfuzzer::Limits;
use fleet_run::triage::{Pipeline, TriageConfig, TriageEvent, TriageTarget, TriageThread};
use fleet_store::{Db, FindingInsert, Layout};
use fleet_testkit::wait_until;

const TARGET: &str = "six_bugs";
const ENV: (&str, &str) = ("ASAN_OPTIONS", "detect_leaks=0:allocator_may_return_null=1");

fn limits() -> Limits {
    Limits {
        rss_limit_mb: 2048,
        malloc_limit_mb: None,
        timeout_s: 10,
    }
}

/// Records `bytes` as a finding the way a campaign does, with the report the binary
/// prints for it.
fn record(layout: &Layout, binary: &Path, bytes: &[u8]) -> i64 {
    let sha1 = fleet_store::sha1_hex(bytes);
    let dir = layout.crashes_dir(TARGET);
    fs::create_dir_all(&dir).unwrap();
    let input = dir.join(format!("crash-{sha1}"));
    fs::write(&input, bytes).unwrap();
    let mut runner = TargetRunner::new(binary, limits());
    runner.env = vec![(ENV.0.into(), ENV.1.into())];
    // Its scratch dir in the test's state, never the machine's /tmp.
    runner.scratch_dir = Some(layout.root().to_path_buf());
    let exec = runner.execute(&input).unwrap();
    assert!(exec.report.is_some(), "{bytes:?} does not crash");
    let report = dir.join(format!("crash-{sha1}.log"));
    fs::write(&report, &exec.output).unwrap();
    let db = Db::open(&layout.db_path()).unwrap();
    db.record_finding(&FindingInsert {
        target: TARGET,
        kind: "crash",
        sha1: &sha1,
        input_path: &input,
        report_path: Some(&report),
        size_bytes: bytes.len() as u64,
        at_ms: fleet_store::now_ms(),
        node: None,
    })
    .unwrap()
    .0
}

fn targets(binary: &Path) -> std::collections::BTreeMap<String, TriageTarget> {
    [(
        TARGET.to_string(),
        TriageTarget {
            binary: binary.to_path_buf(),
            limits: limits(),
            extra_args: Vec::new(),
            env: vec![(ENV.0.into(), ENV.1.into())],
        },
    )]
    .into_iter()
    .collect()
}

/// Short minimizations: the runner minimizes the first bug while the test goes on.
fn config() -> TriageConfig {
    let mut c = TriageConfig::default();
    c.minimize.budget = Duration::from_secs(5);
    c.minimize.step_time = c.minimize.step_time.min(c.minimize.budget);
    c
}

fn filed(layout: &Layout, id: i64) -> Option<String> {
    let db = Db::open(&layout.db_path()).unwrap();
    db.finding(id).unwrap().and_then(|f| f.bucket)
}

fn repro(layout: &Layout, id: i64) -> String {
    let db = Db::open(&layout.db_path()).unwrap();
    db.finding(id).unwrap().unwrap().repro.unwrap_or_default()
}

#[test]
fn copies_are_filed_without_a_run_and_a_paused_pipeline_waits() {
    let dir = fleet_testkit::state_temp_dir();
    // A copy of its own: the test takes it away for a while.
    let binary = dir.path().join(TARGET);
    fs::copy(fleet_testkit::rust_fixture(TARGET), &binary).unwrap();
    let layout = Layout::new(dir.path().join("state"));
    fs::create_dir_all(layout.root()).unwrap();

    // A known bug (`lookup`, index out of bounds) whose repro is `never` here: the old
    // pipeline ran every copy of such a bug again.
    let first = record(&layout, &binary, b"A\x20");
    let mut p = Pipeline::open(layout.clone(), targets(&binary), config()).unwrap();
    p.triage(first, &mut |_| {}).unwrap();
    Db::open(&layout.db_path())
        .unwrap()
        .set_repro(first, "never")
        .unwrap();
    drop(p);

    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let thread = TriageThread::spawn(
        layout.clone(),
        targets(&binary),
        config(),
        Box::new(move |e| sink.lock().unwrap().push(e)),
    )
    .unwrap();

    // The binary is made unrunnable: a copy filed from its report needs no run.
    let copy = record(&layout, &binary, b"A\x21");
    let saved = binary.with_extension("away");
    fs::rename(&binary, &saved).unwrap();
    let restore = scopeguard(&saved, &binary);
    thread.finding(copy);
    wait_until("the copy filed", Duration::from_secs(20), || {
        filed(&layout, copy).is_some()
    });
    assert_eq!(filed(&layout, copy), filed(&layout, first));
    assert_eq!(repro(&layout, copy), "known");
    drop(restore);

    // Paused (disk full): nothing is filed; resumed: it is.
    thread.pause(true);
    let new_bug = record(&layout, &binary, b"D\xf0");
    thread.finding(new_bug);
    fleet_testkit::holds_for("nothing filed while paused", Duration::from_secs(2), || {
        filed(&layout, new_bug).is_none()
    });
    thread.pause(false);
    wait_until(
        "the new bug filed on resume",
        Duration::from_secs(30),
        || filed(&layout, new_bug).is_some(),
    );
    // A new bug is reproduced after it is filed.
    wait_until("the new bug reproduced", Duration::from_secs(60), || {
        repro(&layout, new_bug) == "always"
    });

    // A drain files what was sent and ends by itself.
    let last = record(&layout, &binary, b"A\x22");
    thread.finding(last);
    thread.drain(Instant::now() + Duration::from_secs(10));
    wait_until("the drained thread ends", Duration::from_secs(20), || {
        thread.is_finished()
    });
    assert!(filed(&layout, last).is_some());
    assert!(
        events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, TriageEvent::Drained { left: 0, .. })),
        "{:?}",
        events.lock().unwrap()
    );
    thread.finish(Duration::from_secs(1));
}

/// A libFuzzer `-minimize_crash` run of an input under `state` that this process
/// started and has not reaped (the other test's pipeline minimizes too, in parallel).
fn minimizing(state: &Path) -> bool {
    let state = state.to_string_lossy();
    fleet_proc::own_children().into_iter().any(|pid| {
        fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
            let c = String::from_utf8_lossy(&c);
            c.contains("-minimize_crash=1") && c.contains(state.as_ref())
        })
    })
}

#[test]
fn a_drain_stops_a_minimization_and_reproduces_the_new_bugs() {
    let dir = fleet_testkit::state_temp_dir();
    let binary = fleet_testkit::rust_fixture(TARGET);
    let layout = Layout::new(dir.path().join("state"));
    fs::create_dir_all(layout.root()).unwrap();
    // Minimizations that take minutes: the drain comes while one runs.
    let mut config = TriageConfig::default();
    config.minimize.budget = Duration::from_secs(600);
    config.minimize.step_time = Duration::from_secs(300);
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let thread = TriageThread::spawn(
        layout.clone(),
        targets(&binary),
        config,
        Box::new(move |e| sink.lock().unwrap().push(e)),
    )
    .unwrap();

    let big: Vec<u8> = [b"A\x40".as_slice(), &[0x5a; 300]].concat();
    let first = record(&layout, &binary, &big);
    thread.finding(first);
    wait_until(
        "the first bug's minimization",
        Duration::from_secs(60),
        || minimizing(layout.root()),
    );

    // A new bug while the runner minimizes, then the campaign stops.
    let new_bug = record(&layout, &binary, b"D\xf0");
    thread.finding(new_bug);
    wait_until("the new bug filed", Duration::from_secs(30), || {
        filed(&layout, new_bug).is_some()
    });
    assert_ne!(filed(&layout, new_bug), filed(&layout, first), "two bugs");
    let drained_at = Instant::now();
    thread.drain(drained_at + Duration::from_secs(30));
    wait_until("the drained thread ends", Duration::from_secs(45), || {
        thread.is_finished()
    });
    assert!(
        drained_at.elapsed() < Duration::from_secs(40),
        "the minimization held the drain {:?}",
        drained_at.elapsed()
    );
    assert_eq!(repro(&layout, new_bug), "always");
    assert!(
        events.lock().unwrap().iter().any(|e| matches!(
            e,
            TriageEvent::Drained {
                reproduced: 1..,
                left: 0,
                ..
            }
        )),
        "{:?}",
        events.lock().unwrap()
    );
    // The stopped minimization kept nothing: the bucket is minimized another time.
    let bucket = filed(&layout, first).unwrap();
    let record = Db::open(&layout.db_path())
        .unwrap()
        .bucket(&bucket)
        .unwrap()
        .unwrap();
    assert_eq!(record.minimized_path, None);
    assert!(!minimizing(layout.root()));
    thread.finish(Duration::from_secs(1));
}

/// Puts a renamed file back when dropped (also when the test fails).
struct Restore(std::path::PathBuf, std::path::PathBuf);

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = fs::rename(&self.0, &self.1);
    }
}

fn scopeguard(from: &Path, to: &Path) -> Restore {
    Restore(from.to_path_buf(), to.to_path_buf())
}
