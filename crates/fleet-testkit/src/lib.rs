//! Test support shared by the integration tests: fixture binaries, temp dirs, deadlines.
//!
//! Fixtures are built for real, once per test process: the Rust ones through
//! fleet-build (cargo's own lock makes concurrent test processes safe), the C
//! ones by `fixtures/c/build.sh`. A missing toolchain or compiler panics with
//! the fix; nothing is skipped.

pub mod inputs;
pub mod webhook;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use fleet_build::{BuildOptions, BuiltTarget, build_project};

/// How often `wait_until` checks its condition.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The root of the fuzzfleet repository.
pub fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize()
        .unwrap_or_else(|e| panic!("cannot resolve repo root {}: {e}", root.display()))
}

/// The cargo-fuzz project of the Rust fixture targets.
pub fn rust_fixture_project() -> PathBuf {
    repo_root().join("fixtures/rust/fuzz")
}

/// The seed directory of Rust fixture target `name` (it may not exist: not
/// every fixture has seeds).
pub fn rust_fixture_seeds(name: &str) -> PathBuf {
    rust_fixture_project().join("seeds").join(name)
}

/// The binary of Rust fixture target `name` (`crash_magic`, `hang`, …),
/// building all of `fixtures/rust/fuzz` with ASan on the first call.
pub fn rust_fixture(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<Vec<BuiltTarget>, String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let project = rust_fixture_project();
        eprintln!("fleet-testkit: building {}", project.display());
        build_project(&project, &BuildOptions::default(), &mut |_| {}).map_err(|e| e.to_string())
    });
    match built {
        Ok(targets) => match targets.iter().find(|t| t.name == name) {
            Some(target) => target.path.clone(),
            None => panic!(
                "no Rust fixture `{name}`; there are: {}",
                targets
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
        Err(e) => panic!("building the Rust fixtures failed: {e}"),
    }
}

/// Where `c_fixture` puts the C fixture binaries.
pub fn c_fixtures_dir() -> PathBuf {
    repo_root().join("target/fixtures-c")
}

/// The binary of C fixture `name` (`crash_heap`, `clean`), compiled by
/// `fixtures/c/build.sh` with clang-14 `-fsanitize=fuzzer,address` on the
/// first call.
pub fn c_fixture(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let out = c_fixtures_dir();
        let script = repo_root().join("fixtures/c/build.sh");
        let output = Command::new("bash")
            .arg(&script)
            .arg(&out)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if output.status.success() {
            Ok(out)
        } else {
            Err(format!(
                "{} failed ({}):\n{}{}",
                script.display(),
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    });
    match built {
        Ok(dir) => {
            let path = dir.join(name);
            assert!(
                path.is_file(),
                "no C fixture `{name}`: {} does not exist (fixtures are fixtures/c/*.c)",
                path.display()
            );
            path
        }
        Err(e) => panic!("building the C fixtures failed: {e}"),
    }
}

/// Polls `condition` every ~50 ms until it holds; panics naming `what` if it
/// still does not after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    let deadline = start + timeout;
    loop {
        if condition() {
            return;
        }
        let now = Instant::now();
        if now >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        thread::sleep(POLL_INTERVAL.min(deadline - now));
    }
}

/// Checks that `condition` keeps holding for the whole of `window`, polling it every
/// ~50 ms; panics naming `what` the moment it does not. For a property of the form
/// "nothing happens while …", where there is no event to wait for: unlike a sleep and
/// one check afterwards, a break is seen when it happens and reported at once.
pub fn holds_for(what: &str, window: Duration, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    loop {
        assert!(
            condition(),
            "{what} stopped holding after {:?} of {window:?}",
            start.elapsed()
        );
        let left = window.saturating_sub(start.elapsed());
        if left.is_zero() {
            return;
        }
        thread::sleep(POLL_INTERVAL.min(left));
    }
}

/// A fresh temp dir for one test, removed when dropped: under `<repo>/target/test-tmp/`, not `/tmp`: fuzzfleet gives each worker
/// a private `/tmp`, which would hide a state dir that lives there.
pub fn state_temp_dir() -> tempfile::TempDir {
    let base = repo_root().join("target/test-tmp");
    std::fs::create_dir_all(&base)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", base.display()));
    tempfile::Builder::new()
        .prefix("fuzzfleet-test-")
        .tempdir_in(&base)
        .unwrap_or_else(|e| panic!("cannot create a temp dir: {e}"))
}

/// A fresh temp dir for one test, removed when dropped; under `target/test-tmp` like
/// [`state_temp_dir`], so a test killed midway leaves nothing in the machine's `/tmp`.
pub fn temp_dir() -> tempfile::TempDir {
    state_temp_dir()
}

/// The one rule for a test whose tool or privilege is missing (`what` says what, and how
/// to get it): under `FUZZFLEET_CI=1` (what `.ci/run` sets, after installing everything)
/// the test fails; otherwise it prints a `SKIPPED` line and the test returns without
/// checking anything. The line is written to the process's stderr itself, not through
/// `eprintln!`, which the test harness captures and throws away for a test that passes:
/// a skip is seen in a plain `cargo test`, without `--nocapture`.
pub fn missing(what: &str) {
    use std::io::Write;
    if std::env::var_os("FUZZFLEET_CI").is_some_and(|v| v == "1") {
        panic!("FUZZFLEET_CI=1 and {what}");
    }
    let line = format!("SKIPPED: {what} (FUZZFLEET_CI=1 makes this a failure)\n");
    // Nothing to do about a closed stderr: the skip then goes unseen, as any output.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// The one rule: under `FUZZFLEET_CI=1` a missing tool fails the test; otherwise the
    /// test says SKIPPED and passes. Each case runs this test binary again as a child,
    /// with the harness capturing output as `cargo test` does: the skip must show anyway.
    #[test]
    fn a_missing_tool_fails_in_ci_and_is_skipped_visibly_elsewhere() {
        if std::env::var_os("FLEET_TESTKIT_MISSING_CHILD").is_some() {
            missing("the frobnicator is missing");
            println!("went on after the skip");
            return;
        }
        let run = |ci: Option<&str>| {
            let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
            cmd.args([
                "--exact",
                "tests::a_missing_tool_fails_in_ci_and_is_skipped_visibly_elsewhere",
                "--test-threads=1",
            ])
            .env("FLEET_TESTKIT_MISSING_CHILD", "1")
            .env_remove("FUZZFLEET_CI");
            if let Some(v) = ci {
                cmd.env("FUZZFLEET_CI", v);
            }
            let out = cmd.output().unwrap();
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).into_owned()
                    + &String::from_utf8_lossy(&out.stderr),
            )
        };
        let (ok, said) = run(Some("1"));
        assert!(!ok, "{said}");
        assert!(
            said.contains("FUZZFLEET_CI=1 and the frobnicator is missing"),
            "{said}"
        );
        for ci in [None, Some("0"), Some("")] {
            let (ok, said) = run(ci);
            assert!(ok, "{ci:?}: {said}");
            assert!(
                said.contains(
                    "SKIPPED: the frobnicator is missing (FUZZFLEET_CI=1 makes this a failure)"
                ),
                "{ci:?}: {said}"
            );
        }
    }

    #[test]
    fn holds_for_checks_the_whole_window_and_fails_at_the_break() {
        let start = Instant::now();
        let calls = Cell::new(0);
        holds_for("always", Duration::from_millis(300), || {
            calls.set(calls.get() + 1);
            true
        });
        assert!(start.elapsed() >= Duration::from_millis(300));
        assert!(calls.get() >= 3, "polled {} times", calls.get());

        let start = Instant::now();
        let broke = std::panic::catch_unwind(|| {
            holds_for("the first 100 ms", Duration::from_secs(30), || {
                start.elapsed() < Duration::from_millis(100)
            })
        });
        let message = *broke.unwrap_err().downcast::<String>().unwrap();
        assert!(
            message.starts_with("the first 100 ms stopped holding after "),
            "{message}"
        );
        assert!(start.elapsed() < Duration::from_secs(5), "not at the break");
    }

    #[test]
    fn wait_until_returns_once_the_condition_holds() {
        let calls = Cell::new(0);
        wait_until("three calls", Duration::from_secs(5), || {
            calls.set(calls.get() + 1);
            calls.get() >= 3
        });
        assert_eq!(calls.get(), 3);
    }

    #[test]
    #[should_panic(expected = "waiting for the impossible")]
    fn wait_until_panics_with_what_on_timeout() {
        wait_until("the impossible", Duration::from_millis(120), || false);
    }

    #[test]
    fn repo_root_holds_the_fixtures() {
        assert!(repo_root().join("fixtures/c/build.sh").is_file());
        assert!(rust_fixture_project().join("Cargo.toml").is_file());
    }
}
