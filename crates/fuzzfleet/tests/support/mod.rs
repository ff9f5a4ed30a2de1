//! A fuzzfleet under test: a temp dir with a fleet.toml, the real binary, and helpers to
//! read its state the way a user would (`status --json`, `crashes list --json`).

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

#[allow(unused_imports)]
pub use fleet_testkit::wait_until;

pub struct Fleet {
    pub dir: tempfile::TempDir,
}

impl Fleet {
    /// A fleet whose config is `body` after a header that declares the Rust fixtures as a
    /// project and `state` as the state dir. The fixtures are built first (once).
    pub fn new(body: &str) -> Self {
        Self::with_top("", body)
    }

    /// As [`Fleet::new`], with `top` (top-level keys) before the project. The tiers'
    /// clock and plain runs, which these tests check, unless `top` says otherwise; the
    /// coverage-following schedule and the strategy portfolio have tests of their own.
    pub fn with_top(top: &str, body: &str) -> Self {
        fleet_testkit::rust_fixture("clean");
        let dir = fleet_testkit::state_temp_dir();
        let project = fleet_testkit::rust_fixture_project();
        // Before `top`, which may open a table such as `[defaults]`.
        let mut pins = String::new();
        if !top.contains("schedule =") {
            pins.push_str("schedule = \"fixed\"\n");
        }
        if !top.contains("strategies =") {
            pins.push_str("strategies = \"plain\"\n");
        }
        let config = format!(
            "state_dir = \"state\"\n{pins}{top}[[project]]\npath = \"{}\"\n{body}",
            project.display()
        );
        fs::write(dir.path().join("fleet.toml"), config).unwrap();
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn state(&self) -> PathBuf {
        self.path().join("state")
    }

    /// `fuzzfleet --config <dir>/fleet.toml ARGS`.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fuzzfleet"));
        cmd.arg("--config")
            .arg(self.path().join("fleet.toml"))
            .args(args);
        cmd
    }

    pub fn output(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Starts `fuzzfleet run ARGS --no-build` in the background, its output in `run.log`.
    pub fn start(&self, args: &[&str]) -> Child {
        let log = fs::File::create(self.path().join("run.log")).unwrap();
        self.cmd(&["run", "--no-build"])
            .args(args)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap()
    }

    /// `run --no-build --once --budget BUDGET --workers N`, which must succeed.
    pub fn run_once(&self, budget: &str, workers: u32) -> Output {
        let out = self.output(&[
            "run",
            "--no-build",
            "--once",
            "--budget",
            budget,
            "--workers",
            &workers.to_string(),
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    pub fn run_log(&self) -> String {
        fs::read_to_string(self.path().join("run.log")).unwrap_or_default()
    }

    pub fn status(&self) -> Value {
        let out = self.output(&["status", "--json"]);
        assert!(
            out.status.success(),
            "status failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Status of one target, or Null before the state exists.
    pub fn target(&self, name: &str) -> Value {
        if !self.state().join("fleet.db").exists() {
            return Value::Null;
        }
        self.status()["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// `crashes triage`: files every finding not triaged yet; it must succeed.
    pub fn triage(&self) {
        let out = self.output(&["crashes", "triage"]);
        assert!(
            out.status.success(),
            "crashes triage failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn buckets(&self) -> Vec<Value> {
        if !self.state().join("fleet.db").exists() {
            return Vec::new();
        }
        let out = self.output(&["crashes", "list", "--json"]);
        assert!(
            out.status.success(),
            "crashes list failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["buckets"].as_array().unwrap().clone()
    }
}

/// The file names in `dir` (none when it does not exist).
pub fn names(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Pids of the direct children of `pid` (fuzzfleet's workers).
pub fn children_of(pid: u32) -> BTreeSet<u32> {
    fleet_sys::procfs::processes()
        .into_iter()
        .filter(|(_, s)| s.ppid as u32 == pid)
        .map(|(child, _)| child as u32)
        .collect()
}

/// Whether a process exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    fleet_sys::procfs::pid_stat(pid as i32).is_some_and(|s| !s.is_zombie())
}

pub fn signal(child: &Child, sig: i32) {
    // SAFETY: kill with a pid we started.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
}

/// Waits for `child` to exit within `timeout`; returns its code and how long it took.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> (Option<i32>, Duration) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code(), start.elapsed());
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("fuzzfleet did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Kills `child` if a test fails before stopping it, so no run outlives its test.
pub struct KillOnDrop(pub Child);

impl KillOnDrop {
    /// SIGTERM, then the run must exit 0 within 15 s.
    pub fn stop(&mut self) {
        signal(&self.0, libc::SIGTERM);
        assert_eq!(wait_exit(&mut self.0, Duration::from_secs(15)).0, Some(0));
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn silent() -> Stdio {
    Stdio::null()
}

pub mod ssh;
