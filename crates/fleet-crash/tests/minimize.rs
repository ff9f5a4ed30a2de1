//! Minimization against a real fixture: a smaller input with the same signature is kept, one that drifts to another bug is not.

mod common;

use std::time::Duration;

use common::{input, runner};
use fleet_crash::{MinimizeOptions, MinimizeOutcome, Repro};
use fleet_testkit::{rust_fixture, state_temp_dir};

fn options() -> MinimizeOptions {
    MinimizeOptions {
        budget: Duration::from_secs(40),
        step_time: Duration::from_secs(3),
        verify_runs: 1,
        cancel: None,
    }
}

/// No `.NAME.minimizing-PID` file is left where the minimized input was to go.
fn assert_no_partial_files(dir: &std::path::Path) {
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains("minimizing"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_minimized_input_keeps_the_signature_and_the_original_stays() {
    let dir = state_temp_dir();
    let runner = runner(rust_fixture("six_bugs"));
    let original: Vec<u8> = [b"A\x40".as_slice(), &[0x5a; 300]].concat();
    let path = input(dir.path(), "crash-big", &original);
    let first = runner.reproduce(&path, 1, None).unwrap();
    let expected = first.signature.unwrap();
    let output = dir.path().join("crash-big.min");
    let result = runner
        .minimize(&path, &output, &expected, &options())
        .unwrap();
    assert_eq!(result.original_len, 302);
    match result.outcome {
        MinimizeOutcome::Minimized {
            path: min,
            len,
            reproduction,
        } => {
            assert_eq!(min, output);
            assert!(len < 302, "{len}");
            assert_eq!(std::fs::read(&output).unwrap().len() as u64, len);
            assert_eq!(reproduction.repro, Repro::Always);
            assert_eq!(reproduction.signature.unwrap(), expected);
        }
        other => panic!("not minimized: {other:?}\n{}", result.output),
    }
    assert_eq!(std::fs::read(&path).unwrap(), original);
    assert_no_partial_files(dir.path());
}

#[test]
fn a_cancelled_minimization_keeps_nothing_and_ends_at_once() {
    let dir = state_temp_dir();
    let runner = runner(rust_fixture("six_bugs"));
    let original: Vec<u8> = [b"A\x40".as_slice(), &[0x5a; 300]].concat();
    let path = input(dir.path(), "crash-big", &original);
    let expected = runner.reproduce(&path, 1, None).unwrap().signature.unwrap();
    let output = dir.path().join("crash-big.min");
    let cancel = fleet_proc::Cancel::new();
    cancel.cancel();
    let options = MinimizeOptions {
        cancel: Some(cancel),
        ..options()
    };
    let result = runner
        .minimize(&path, &output, &expected, &options)
        .unwrap();
    assert!(
        matches!(result.outcome, MinimizeOutcome::Cancelled),
        "{:?}",
        result.outcome
    );
    assert!(
        result.elapsed < options.budget / 4,
        "{:?}: a cancel ends it, not the budget",
        result.elapsed
    );
    assert!(!output.exists());
    assert_eq!(std::fs::read(&path).unwrap(), original);
    assert_no_partial_files(dir.path());
}

#[test]
fn a_minimization_that_drifts_to_another_bug_is_discarded() {
    // The smallest input of the second `check_header` assert: every
    // shorter crashing input (`G`, `C`, `A\x10`, …) is another bug.
    let dir = state_temp_dir();
    let runner = runner(rust_fixture("six_bugs"));
    let path = input(dir.path(), "crash-g", b"G\x01\x80");
    let expected = runner.reproduce(&path, 1, None).unwrap().signature.unwrap();
    assert_eq!(
        expected.message.as_deref(),
        Some("reserved flag bit set in header")
    );
    let output = dir.path().join("crash-g.min");
    let result = runner
        .minimize(&path, &output, &expected, &options())
        .unwrap();
    match &result.outcome {
        MinimizeOutcome::Discarded { len, reproduction } => {
            assert!(*len < 3);
            assert_eq!(reproduction.repro, Repro::Never);
        }
        other => panic!(
            "expected a discarded minimization, got {other:?}\n{}",
            result.output
        ),
    }
    assert!(!output.exists());
}
