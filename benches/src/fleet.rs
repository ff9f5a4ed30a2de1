//! The measured side: `fuzzfleet run` (a release build made at start) on a fixture
//! target in a fresh state dir, then its figures from `fuzzfleet status --json`.

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::procs::{CpuTimes, Group};
use crate::watch::{self, Lives};

/// Builds fuzzfleet with `cargo build --release -p fuzzfleet` and returns the binary
/// cargo reports (so a `CARGO_TARGET_DIR` is honoured).
pub fn build_release() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("bench: cargo build --release -p fuzzfleet");
    let mut child = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            "fuzzfleet",
            "--message-format=json",
        ])
        .current_dir(fleet_testkit::repo_root())
        .stdout(Stdio::piped())
        .spawn()
        .expect("cannot run cargo");
    let mut binary = None;
    for line in BufReader::new(child.stdout.take().expect("piped")).lines() {
        let Ok(msg) = serde_json::from_str::<Value>(&line.expect("cargo output")) else {
            continue;
        };
        if msg["reason"] == "compiler-artifact"
            && msg["target"]["name"] == "fuzzfleet"
            && let Some(exe) = msg["executable"].as_str()
        {
            binary = Some(PathBuf::from(exe));
        }
    }
    let status = child.wait().expect("cargo");
    assert!(
        status.success(),
        "cargo build --release -p fuzzfleet failed: {status}"
    );
    binary.expect("cargo reported no fuzzfleet executable")
}

/// `abc1234` or `abc1234 + uncommitted changes`: what the measured fuzzfleet was built from.
pub fn source_label() -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(fleet_testkit::repo_root())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let rev = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = git(&[
        "status",
        "--porcelain",
        "--",
        "crates",
        "Cargo.toml",
        "Cargo.lock",
    ])
    .is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{rev} + uncommitted changes")
    } else {
        rev
    }
}

/// One `fuzzfleet run` and what it left.
#[derive(Debug)]
pub struct FleetRun {
    pub status: ExitStatus,
    /// `status --json` → the target's entry.
    pub target: Value,
    pub lives: Lives,
    /// fuzzfleet's own CPU time, and its workers' (the children it reaped).
    pub cpu: CpuTimes,
    /// From launching fuzzfleet to its first worker running the target binary.
    pub startup: Duration,
    /// From launching fuzzfleet to its exit.
    pub wall: Duration,
    pub state: PathBuf,
}

impl FleetRun {
    pub fn execs(&self) -> u64 {
        self.target["execs"]
            .as_u64()
            .unwrap_or_else(|| panic!("status --json has no execs: {}", self.target))
    }

    pub fn int(&self, key: &str) -> i64 {
        self.target[key].as_i64().unwrap_or_default()
    }
}

/// Runs `fuzzfleet run --target TARGET --workers N --for T --no-build` with the Rust
/// fixtures as its project, in the fresh directory `dir`.
pub fn run(
    fuzzfleet: &Path,
    binary: &Path,
    dir: &Path,
    target: &str,
    workers: usize,
    run_for: Duration,
) -> FleetRun {
    run_with_env(fuzzfleet, binary, dir, target, workers, run_for, &[])
}

/// [`run`] with extra environment for fuzzfleet (e.g. `FUZZFLEET_MEMORY_LIMIT`).
pub fn run_with_env(
    fuzzfleet: &Path,
    binary: &Path,
    dir: &Path,
    target: &str,
    workers: usize,
    run_for: Duration,
    env: &[(&str, &str)],
) -> FleetRun {
    let state = dir.join("state");
    let config = dir.join("fleet.toml");
    let project = fleet_testkit::rust_fixture_project();
    fs::write(
        &config,
        format!(
            // What costs a worker is measured with the workers run as configured and
            // the tiers' clock: the portfolio changes what a worker does, not the cost
            // of watching it.
            "state_dir = {}\nschedule = \"fixed\"\nstrategies = \"plain\"\n[[project]]\npath = {}\n",
            toml_string(&state),
            toml_string(&project)
        ),
    )
    .expect("fleet.toml");
    let log_path = dir.join("run.log");
    let log = File::create(&log_path).expect("run.log");
    let base = |cmd: &mut Command| {
        cmd.arg("--config").arg(&config).arg("--state").arg(&state);
    };
    let mut cmd = Command::new(fuzzfleet);
    base(&mut cmd);
    cmd.args(["run", "--target", target, "--workers"])
        .arg(workers.to_string())
        .arg("--for")
        .arg(format!("{}s", run_for.as_secs()))
        .arg("--no-build")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log);
    let launched = Instant::now();
    let mut group = Group::spawn(&mut cmd).expect("cannot start fuzzfleet");
    let watcher = watch::watch(group.pid(), binary);
    // `--for` plus the stop grace, with room for a loaded machine.
    let status = group.wait_or_kill(
        launched + run_for + Duration::from_secs(60),
        "fuzzfleet run",
    );
    let wall = launched.elapsed();
    let cpu = group.cpu().unwrap_or_default();
    let lives = watcher.finish();
    let log_text = || fs::read_to_string(&log_path).unwrap_or_default();
    assert!(
        status.success(),
        "fuzzfleet run failed ({status}):\n{}",
        log_text()
    );
    let first = lives
        .window()
        .unwrap_or_else(|| panic!("fuzzfleet started no worker:\n{}", log_text()))
        .0;
    let mut cmd = Command::new(fuzzfleet);
    base(&mut cmd);
    let out = cmd
        .args(["status", "--json"])
        .output()
        .expect("fuzzfleet status");
    assert!(
        out.status.success(),
        "fuzzfleet status failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("status --json is JSON");
    let entry = doc["targets"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["name"] == target))
        .cloned()
        .unwrap_or_else(|| panic!("status --json has no target {target}: {doc}"));
    FleetRun {
        status,
        target: entry,
        lives,
        cpu,
        startup: first.duration_since(launched),
        wall,
        state,
    }
}

/// A path as a TOML basic string.
fn toml_string(path: &Path) -> String {
    let text = path.to_str().expect("bench paths are UTF-8");
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}
