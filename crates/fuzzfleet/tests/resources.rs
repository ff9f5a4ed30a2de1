//! Resource safety on the real thing: a fixture that allocates without bound under a
//! 256 MB limit (a real memory cgroup on this machine, and the RSS watch), a state dir
//! on a real 32 MB tmpfs filled to the brim, and alerts delivered to a real webhook
//! receiver on 127.0.0.1.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use fleet_run::triage::FIRST_REPORT_MARK;
use fleet_testkit::webhook::Webhook;
use serde_json::Value;
use support::{Fleet, KillOnDrop, wait_until};

const MINUTE: Duration = Duration::from_secs(60);
const LIMIT_MB: u64 = 256;

/// Root (or a machine feature) is needed: [`fleet_testkit::missing`]'s rule (a failure
/// under `FUZZFLEET_CI=1`, else a SKIPPED line) when it is not there.
fn require(ok: bool, why: &str) -> bool {
    if !ok {
        fleet_testkit::missing(why);
    }
    ok
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn resources(fleet: &Fleet) -> Value {
    if !fleet.state().join("fleet.db").exists() {
        return Value::Null;
    }
    fleet.status()["resources"].clone()
}

/// A bucket of out-of-memory findings (its kind is named as the crash report names it).
fn is_oom(b: &Value) -> bool {
    b["kind"] == "oom" || b["kind"] == "out-of-memory"
}

/// Out-of-memory findings of the `oom` target: every copy filed in its bucket counts.
fn oom_findings(fleet: &Fleet) -> usize {
    fleet
        .buckets()
        .iter()
        .filter(|b| b["target"] == "oom" && is_oom(b))
        .map(|b| b["count"].as_u64().map_or(1, |n| n as usize))
        .sum()
}

/// Runs the `oom` fixture under a 256 MB limit until it has two oom findings (so it
/// went on fuzzing after the first); returns the run's resources status, its pid and
/// the memory cgroup line of a worker seen while it ran.
fn oom_under_limit(env: &[(&str, &str)]) -> (Fleet, Value, u32, String) {
    let fleet = Fleet::new(&format!(
        "[[target]]\nname = \"oom\"\nrss_limit_mb = {LIMIT_MB}\n\
         [tier.t]\ntargets = [\"oom\"]\nbudget = \"1h\"\n"
    ));
    let mut cmd = fleet.cmd(&["run", "--no-build", "--workers", "1"]);
    let log = fs::File::create(fleet.path().join("run.log")).unwrap();
    cmd.envs(env.iter().copied())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    let mut run = KillOnDrop(cmd.spawn().unwrap());
    wait_until("two oom findings", Duration::from_secs(120), || {
        oom_findings(&fleet) >= 2
    });
    // The memory cgroup of the live worker: the child that runs libFuzzer on this
    // target's corpus (the crash pipeline's reproductions are children too).
    let corpus = fleet.state().join("corpus/oom");
    let mut worker_cgroup = String::new();
    wait_until("the worker fuzzing again", MINUTE, || {
        let t = fleet.target("oom");
        for pid in support::children_of(run.0.id()) {
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let is_worker = String::from_utf8_lossy(&cmdline)
                .split('\0')
                .any(|a| Path::new(a) == corpus);
            let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
            let line = text
                .lines()
                .find(|l| l.contains(":memory:") || l.starts_with("0::"));
            // An exiting process is shown at the root: only a live one counts.
            if let (Some(line), true, true) = (line, is_worker, support::alive(pid)) {
                worker_cgroup = line.to_string();
            }
        }
        t["state"] == "running" && t["workers"] == 1 && worker_cgroup.len() > 10
    });
    let pid = run.0.id();
    run.stop();
    let r = resources(&fleet);
    (fleet, r, pid, worker_cgroup)
}

/// `slack`: how far past the limit the peak may go — a cgroup is the kernel's limit
/// (10 %: the report's headroom), the RSS watch samples (25 %: on a loaded 2-core machine
/// a sample can come late while the input still grows).
fn check_peak_and_report(fleet: &Fleet, r: &Value, slack: u64) {
    let m = &r["memory"][0];
    assert_eq!(m["target"], "oom", "{r}");
    assert_eq!(m["limit_mb"], LIMIT_MB, "{r}");
    assert_eq!(m["libfuzzer_limit_mb"], LIMIT_MB - LIMIT_MB / 8, "{r}");
    let peak = m["peak_mb"].as_u64().unwrap();
    // Within 10 % of the limit, and near it (the worker really grew to it).
    assert!(
        peak <= LIMIT_MB + LIMIT_MB * slack / 100,
        "peak {peak} MB: {r}"
    );
    assert!(peak >= LIMIT_MB * 3 / 4, "peak {peak} MB: {r}");
    assert!(m["oom_stops"].as_u64().unwrap() >= 2, "{r}");
    let oom = fleet.buckets().into_iter().find(is_oom).unwrap();
    let input = fs::read(oom["input_path"].as_str().unwrap()).unwrap();
    assert_eq!(
        input.first(),
        Some(&b'M'),
        "the dumped input is the allocating one"
    );
    let show = fleet.output(&["crashes", "show", oom["id"].as_str().unwrap()]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(text.contains("out-of-memory"), "{text}");
}

#[test]
fn a_worker_past_its_memory_limit_in_a_cgroup_becomes_an_oom_finding_and_fuzzing_goes_on() {
    if !require(is_root(), "creating memory cgroups needs root here") {
        return;
    }
    let (fleet, r, pid, worker_cgroup) = oom_under_limit(&[]);
    let mechanism = r["memory_limit"].as_str().unwrap();
    // The worker ran inside a cgroup of this run's own.
    assert!(
        worker_cgroup.contains(&format!("/fuzzfleet-{pid}/w0-r")),
        "{worker_cgroup}"
    );
    assert!(mechanism.starts_with("cgroup-"), "{r}");
    assert!(
        fleet
            .run_log()
            .contains(&format!("worker memory limited by {mechanism}")),
        "{}",
        fleet.run_log()
    );
    check_peak_and_report(&fleet, &r, 10);
    // Every worker's cgroup and fuzzfleet's own group are gone after the run.
    let parent = fleet_run::resources::cgroup::locate().unwrap();
    let group = parent.dir.join(format!("fuzzfleet-{pid}"));
    assert!(!group.exists(), "{} left behind", group.display());
}

#[test]
fn without_a_cgroup_the_rss_watch_keeps_the_worker_within_its_limit() {
    let (fleet, r, pid, worker_cgroup) =
        oom_under_limit(&[("FUZZFLEET_MEMORY_LIMIT", "rss-watch")]);
    assert_eq!(r["memory_limit"], "rss-watch", "{r}");
    assert!(
        !worker_cgroup.contains("fuzzfleet-"),
        "{worker_cgroup} (pid {pid})"
    );
    check_peak_and_report(&fleet, &r, 25);
}

/// A tmpfs of `size_mb` mounted on `dir` for the test's life.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size_mb: u64) -> Tmpfs {
        fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m"), "tmpfs"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mount tmpfs: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Every finding's input and report, and every corpus entry, by path, with contents.
fn kept_files(state: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for sub in ["crashes", "corpus"] {
        let root = state.join(sub);
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else if !e.file_name().to_string_lossy().starts_with(".tmp") {
                    out.insert(e.path(), fs::read(e.path()).unwrap());
                }
            }
        }
    }
    out
}

/// What the fuzzer first reported in a finding's report file: the part after the mark a
/// reproduction writes above it, or all of it.
fn first_report(report: &[u8]) -> String {
    let text = String::from_utf8_lossy(report);
    match text.split_once(FIRST_REPORT_MARK) {
        Some((_, first)) => first.to_owned(),
        None => text.into_owned(),
    }
}

/// Fills the filesystem of `dir` with `path` until a write fails for lack of space.
fn fill(path: &Path) {
    let mut f = fs::File::create(path).unwrap();
    let chunk = vec![0xa5u8; 64 << 10];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
}

#[test]
fn a_full_disk_pauses_fuzzing_loses_nothing_and_fuzzing_resumes_when_space_returns() {
    if !require(is_root(), "mounting a tmpfs for the state dir needs root") {
        return;
    }
    let hook = Webhook::start();
    let url = hook.url.clone();
    let fleet = Fleet::new(&format!(
        "[alerts]\nwebhook = \"{url}\"\ndisk_percent = 50\ndisk_critical_percent = 75\n\
         [tier.t]\ntargets = [\"crash_magic\"]\nbudget = \"1h\"\n"
    ));
    let _tmpfs = Tmpfs::mount(&fleet.state(), 32);
    let mut run = KillOnDrop(fleet.start(&["--workers", "1"]));
    // crash_magic has one bug: one triaged bucket (an untriaged finding is listed apart,
    // for a moment, with no signature) and more than one crashing input kept.
    wait_until("findings and a corpus", MINUTE, || {
        let triaged = fleet
            .buckets()
            .into_iter()
            .find(|b| !b["signature"].is_null());
        triaged.is_some_and(|b| b["count"].as_i64() >= Some(2))
            && fleet.target("crash_magic")["corpus_files"].as_i64() > Some(5)
    });
    let triaged = |f: &Fleet| {
        f.buckets()
            .iter()
            .filter(|b| !b["signature"].is_null())
            .count()
    };
    let buckets_before = triaged(&fleet);
    let ballast = fleet.state().join("ballast");

    // Full to the last block: writes fail for lack of space while the run notices.
    fill(&ballast);
    wait_until("the disk-critical alert", MINUTE, || {
        fleet.run_log().contains("ALERT disk-critical")
    });
    let before = kept_files(&fleet.state());
    // Until a write has failed against the full disk (and been said in the log).
    let said = fleet.run_log().matches("error: ").count();
    wait_until("a write refused by the full disk", MINUTE, || {
        fleet.run_log().matches("error: ").count() > said
    });
    // Some room (still past the critical threshold), so status can publish the pause.
    let len = fs::metadata(&ballast).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&ballast)
        .unwrap()
        .set_len(len.saturating_sub(2 << 20))
        .unwrap();
    wait_until("fuzzing paused, its worker stopped", MINUTE, || {
        let r = resources(&fleet);
        r["paused"] == true && fleet.target("crash_magic")["workers"] == 0
    });
    let log = fleet.run_log();
    assert!(log.contains("disk full: pruned"), "{log}");
    let table = fleet.output(&["status"]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("PAUSED: the state dir's disk is full"),
        "{table}"
    );
    assert!(table.contains("ALERT disk-critical (critical)"), "{table}");
    // Nothing found before is lost or changed; the database opens and checks clean.
    // (A finding's report is the one file that may change: its reproduction, which can
    // land meanwhile, writes its output above the fuzzer's first report, which stays.)
    let after = kept_files(&fleet.state());
    for (path, bytes) in &before {
        let now = after.get(path);
        let reproduced = path.extension().is_some_and(|e| e == "log")
            && now.is_some_and(|now| first_report(now) == first_report(bytes));
        assert!(
            now == Some(bytes) || reproduced,
            "{} changed or lost",
            path.display()
        );
    }
    assert!(triaged(&fleet) >= buckets_before);
    let db = fleet_store::Db::open(&fleet.state().join("fleet.db")).unwrap();
    assert_eq!(db.quick_check().unwrap(), Ok(()));
    drop(db);

    // Space returns: fuzzing resumes by itself.
    fs::remove_file(&ballast).unwrap();
    let execs = fleet.target("crash_magic")["execs"].as_i64().unwrap();
    wait_until("fuzzing resumed", MINUTE, || {
        let t = fleet.target("crash_magic");
        resources(&fleet)["paused"] == false
            && t["workers"] == 1
            && t["execs"].as_i64().unwrap() > execs
    });
    wait_until("the recoveries delivered", MINUTE, || {
        hook.count("fuzzfleet: RECOVERED disk-critical") == 1
            && hook.count("fuzzfleet: RECOVERED disk:") == 1
    });
    run.stop();
    // One alert and one recovery per condition, though it was checked every 5 s.
    assert_eq!(
        hook.count("fuzzfleet: ALERT disk-critical"),
        1,
        "{:?}",
        hook.texts()
    );
    assert_eq!(
        hook.count("fuzzfleet: ALERT disk (warning)"),
        1,
        "{:?}",
        hook.texts()
    );
    assert_eq!(hook.count("fuzzfleet: RECOVERED disk-critical"), 1);
    assert_eq!(hook.count("fuzzfleet: RECOVERED disk:"), 1);
    assert_eq!(
        fleet_store::Db::open(&fleet.state().join("fleet.db"))
            .unwrap()
            .quick_check()
            .unwrap(),
        Ok(())
    );
    // Every corpus entry is whole: named by the hash of what it holds.
    for (path, bytes) in kept_files(&fleet.state()) {
        if path.starts_with(fleet.state().join("corpus")) {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            assert_eq!(name, fleet_store::sha1_hex(&bytes), "{}", path.display());
        }
    }
}

#[test]
fn a_sustained_memory_condition_is_one_alert_in_status_log_and_webhook_after_the_sustain_time() {
    let hook = Webhook::start();
    let url = hook.url.clone();
    // 1 %: the machine is always past it, so the condition holds from the start.
    let fleet = Fleet::new(&format!(
        "[alerts]\nwebhook = \"{url}\"\nmem_percent = 1\nsustain = \"6s\"\n\
         [tier.t]\ntargets = [\"clean\"]\nbudget = \"1h\"\n"
    ));
    let mut run = KillOnDrop(fleet.start(&["--workers", "1"]));
    wait_until("the memory alert in status", MINUTE, || {
        resources(&fleet)["alerts"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["kind"] == "memory"))
    });
    wait_until("the memory alert delivered", MINUTE, || {
        hook.count("fuzzfleet: ALERT memory") == 1
    });
    // Not at the first sample: only after the condition held for the sustain time.
    let log = fleet.run_log();
    let at = |marker: &str| -> u32 {
        let line = log.lines().find(|l| l.contains(marker)).unwrap();
        let hms: Vec<u32> = line[1..9].split(':').map(|x| x.parse().unwrap()).collect();
        hms[0] * 3600 + hms[1] * 60 + hms[2]
    };
    let (started, alerted) = (at("clean: fuzzing on"), at("ALERT memory (warning)"));
    assert!((alerted + 86_400 - started) % 86_400 >= 6, "{log}");
    // It holds: over two more sustain times of checks, still one alert.
    fleet_testkit::holds_for("one memory alert", Duration::from_secs(12), || {
        hook.count("fuzzfleet: ALERT memory") == 1
            && fleet.run_log().matches("ALERT memory").count() == 1
    });
    run.stop();
}

/// Live processes running `sleep MARK` (the `orphans` fixture's leftovers of this test).
fn sleepers(mark: &str) -> Vec<u32> {
    let want = format!("sleep\0{mark}\0");
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.parse::<u32>().ok()?;
            let cmdline = fs::read(e.path().join("cmdline")).ok()?;
            (cmdline.ends_with(want.as_bytes()) && support::alive(pid)).then_some(pid)
        })
        .collect()
}

/// Zombie children of `pid`.
fn zombie_children(pid: u32) -> std::collections::BTreeSet<u32> {
    support::children_of(pid)
        .into_iter()
        .filter(|c| !support::alive(*c) && Path::new(&format!("/proc/{c}")).exists())
        .collect()
}

#[test]
fn processes_workers_leave_behind_are_reaped_and_none_outlives_the_campaign() {
    orphans_case(&[], 3000);
}

/// Without a cgroup the `setsid` sleepers escape the workers' process groups: only the
/// subreaper's final sweep of its children stops them.
#[test]
fn without_a_cgroup_the_subreaper_still_leaves_no_orphan() {
    orphans_case(&[("FUZZFLEET_MEMORY_LIMIT", "rss-watch")], 4000);
}

fn orphans_case(env: &[(&str, &str)], base: u32) {
    // A mark no other test uses: the sleepers' duration (they end by themselves anyway).
    let mark = (base + std::process::id() % 1000).to_string();
    let fleet = Fleet::new("[tier.t]\ntargets = [\"orphans\"]\nbudget = \"1h\"\n");
    let log = fs::File::create(fleet.path().join("run.log")).unwrap();
    let mut run = KillOnDrop(
        fleet
            .cmd(&["run", "--no-build", "--workers", "1"])
            .env("FUZZFLEET_ORPHAN_MARK", &mark)
            .envs(env.iter().copied())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    // Workers crash and restart, each leaving a setsid'd sleeper and a zombie shell.
    wait_until("two worker restarts", MINUTE, || {
        fleet.target("orphans")["restarts"].as_i64() >= Some(2)
    });
    wait_until("a sleeper left by the fixture", MINUTE, || {
        !sleepers(&mark).is_empty()
    });
    // Zombies handed to fuzzfleet (the subreaper: the fixture's shells, once their
    // harness ended) are reaped, not collected. New ones keep coming while workers
    // restart, so each one seen must be gone within a few seconds.
    let mut seen = std::collections::BTreeSet::new();
    wait_until("a zombie handed to fuzzfleet", MINUTE, || {
        seen = zombie_children(run.0.id());
        !seen.is_empty()
    });
    wait_until("those zombies reaped", Duration::from_secs(10), || {
        zombie_children(run.0.id()).is_disjoint(&seen)
    });
    // A worker's cgroup takes its leftovers with it when the worker ends, but the crash
    // pipeline's reproductions of the planted crash leave sleepers outside any worker's
    // cgroup: in both mechanisms some pile up, and only the campaign's end stops them.
    wait_until("sleepers piling up", MINUTE, || sleepers(&mark).len() >= 2);
    run.stop();
    // Nothing the workers started outlives the campaign.
    wait_until("every sleeper gone", Duration::from_secs(5), || {
        sleepers(&mark).is_empty()
    });
}

/// A loop device holding an ext4 image, mounted; unmounted and detached when dropped.
struct LoopMount {
    dir: PathBuf,
    device: String,
}

impl LoopMount {
    /// Makes `image` (`size_mb`, ext4 with `reserved_percent` for root) and mounts it
    /// on `dir`. `Err` says why the machine refused (no loop device, no mount).
    fn ext4(image: &Path, dir: &Path, size_mb: u64, reserved_percent: u8) -> Result<Self, String> {
        let run = |cmd: &mut Command| -> Result<String, String> {
            let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
            if out.status.success() {
                Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
            } else {
                Err(format!(
                    "{cmd:?}: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ))
            }
        };
        fs::File::create(image)
            .and_then(|f| f.set_len(size_mb << 20))
            .map_err(|e| e.to_string())?;
        run(Command::new("mkfs.ext4")
            .args(["-q", "-F", "-m", &reserved_percent.to_string()])
            .arg(image))?;
        let device = run(Command::new("losetup")
            .args(["--find", "--show"])
            .arg(image))?;
        fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let mounted = LoopMount {
            dir: dir.to_path_buf(),
            device,
        };
        run(Command::new("mount").arg(&mounted.device).arg(dir))?;
        Ok(mounted)
    }
}

impl Drop for LoopMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
        let _ = Command::new("losetup").arg("-d").arg(&self.device).status();
    }
}

/// `df`'s Use% of `dir` (rounded up, as df rounds).
fn df_percent(dir: &Path) -> f64 {
    let out = Command::new("df")
        .args(["--output=pcent"])
        .arg(dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .last()
        .unwrap()
        .trim()
        .trim_end_matches('%')
        .parse()
        .unwrap_or_else(|e| panic!("df: {text}: {e}"))
}

#[test]
fn disk_usage_is_dfs_on_an_ext4_with_half_its_blocks_reserved() {
    let tools = ["mkfs.ext4", "losetup", "mount", "df"];
    let missing: Vec<&str> = tools
        .into_iter()
        .filter(|t| {
            Command::new("sh")
                .args(["-c", &format!("command -v {t}")])
                .output()
                .map_or(true, |o| !o.status.success())
        })
        .collect();
    if !require(missing.is_empty(), &format!("{missing:?} not installed")) {
        return;
    }
    let dir = fleet_testkit::state_temp_dir();
    let mnt = dir.path().join("mnt");
    let disk = match LoopMount::ext4(&dir.path().join("ext4.img"), &mnt, 64, 50) {
        Ok(d) => d,
        Err(why) => {
            // The tools are there; the kernel (or the container) refuses loop devices.
            fleet_testkit::missing(&format!("this machine does not allow a loop mount: {why}"));
            return;
        }
    };
    let state = disk.dir.join("state");
    // About a quarter of the space an unprivileged writer has.
    fs::create_dir_all(&state).unwrap();
    fs::write(disk.dir.join("ballast"), vec![0x5au8; 7 << 20]).unwrap();
    Command::new("sync").status().unwrap();
    let df = df_percent(&disk.dir);

    let fleet = Fleet::new("[tier.t]\ntargets = [\"clean\"]\nbudget = \"1h\"\n");
    let out = fleet
        .cmd(&["--state"])
        .arg(&state)
        .args(["doctor", "--json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let detail = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "disk")
        .unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_string();
    let doctor: f64 = detail
        .split_once("GiB free, ")
        .and_then(|(_, rest)| rest.strip_suffix("% used"))
        .unwrap_or_else(|| panic!("{detail}"))
        .parse()
        .unwrap();
    // Counting the reserve as used would say over 60%; df says about a quarter.
    assert!((10.0..40.0).contains(&df), "df says {df}%");
    assert!(
        (doctor - df).abs() <= 1.0,
        "doctor: {detail}, df: {df}% on {}",
        disk.device
    );
    // The disk guard and `status` read the same figure.
    let u = fleet_run::system::disk_usage(&state).unwrap();
    assert!((u.used_percent.ceil() - df).abs() <= 1.0, "{u:?}, df {df}%");
    drop(disk);
}

/// Names in the machine's `/tmp` starting with `prefix`.
fn in_machine_tmp(prefix: &str) -> std::collections::BTreeSet<String> {
    fs::read_dir("/tmp")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// Removes, when dropped (a failing test too), what appeared in the machine's `/tmp`
/// under `prefix` since it was made: a harness that escaped its private `/tmp` must
/// not leave its files behind.
struct MachineTmpWatch {
    prefix: &'static str,
    before: std::collections::BTreeSet<String>,
}

impl MachineTmpWatch {
    fn new(prefix: &'static str) -> Self {
        Self {
            prefix,
            before: in_machine_tmp(prefix),
        }
    }

    fn grown(&self) -> Vec<String> {
        in_machine_tmp(self.prefix)
            .difference(&self.before)
            .cloned()
            .collect()
    }
}

impl Drop for MachineTmpWatch {
    fn drop(&mut self) {
        for name in self.grown() {
            let _ = fs::remove_file(Path::new("/tmp").join(name));
        }
    }
}

#[test]
fn with_its_state_dir_binary_and_dict_under_the_machines_tmp_a_worker_still_has_a_private_tmp() {
    // State dir, binary and dict in the machine's /tmp (removed when the test ends,
    // failed or not).
    let outer = tempfile::Builder::new()
        .prefix("fuzzfleet-test-")
        .tempdir_in("/tmp")
        .unwrap();
    let state = outer.path().join("state");
    if let Err(e) = fleet_run::worker::probe_private_tmp(&outer.path().join("probe"), &[]) {
        eprintln!("no private /tmp on this machine: {e}");
        if !require(false, "mount namespaces are refused") {
            return;
        }
    }
    let leaks = MachineTmpWatch::new("fuzzfleet-leak-");
    let fleet = Fleet::new("");
    let binary = outer.path().join("bin/leak_tmp");
    fs::create_dir_all(binary.parent().unwrap()).unwrap();
    fs::copy(fleet_testkit::rust_fixture("leak_tmp"), &binary).unwrap();
    let dict = outer.path().join("dicts/leak.dict");
    fs::create_dir_all(dict.parent().unwrap()).unwrap();
    fs::write(&dict, "kw=\"LEAK\"\n").unwrap();
    fs::write(
        fleet.path().join("fleet.toml"),
        format!(
            "state_dir = \"{}\"\n[[target]]\nname = \"leak_tmp\"\nbinary = \"{}\"\n\
             dict = \"{}\"\n[tier.t]\ntargets = [\"leak_tmp\"]\nbudget = \"1h\"\n",
            state.display(),
            binary.display(),
            dict.display()
        ),
    )
    .unwrap();

    let private = state.join("tmp/w0");
    let leak_files = |dir: &Path| {
        fs::read_dir(dir).map_or(0, |d| {
            d.flatten()
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with("fuzzfleet-leak-")
                })
                .count()
        })
    };
    let mut run = KillOnDrop(fleet.start(&["--workers", "1"]));
    wait_until("the harness writing into its private /tmp", MINUTE, || {
        leak_files(&private) > 100 || !leaks.grown().is_empty()
    });
    // libFuzzer exits at once when its corpus dir is missing: the state dir under /tmp
    // stayed visible, or the harness would not have written anything.
    run.stop();
    let log = fleet.run_log();
    assert!(
        !log.contains("private /tmp per worker unavailable"),
        "{log}"
    );
    assert_eq!(leaks.grown().len(), 0, "the machine's /tmp grew: {log}");
    // It read its dict under /tmp (libFuzzer exits when the file is missing).
    let worker_log = fs::read_to_string(state.join("logs/leak_tmp/w0.log")).unwrap();
    assert!(worker_log.contains("Dictionary: 1 entries"), "{worker_log}");
    // The worker's temp dir was emptied when it ended.
    assert_eq!(leak_files(&private), 0, "tmp/w0 kept the harness's files");

    // Asked to keep them (for debugging), they stay.
    let mut cmd = fleet.cmd(&["run", "--no-build", "--workers", "1"]);
    let log = fs::File::create(fleet.path().join("run.log")).unwrap();
    cmd.env("FUZZFLEET_KEEP_TMP", "1")
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    let mut run = KillOnDrop(cmd.spawn().unwrap());
    wait_until("the harness writing into its private /tmp", MINUTE, || {
        leak_files(&private) > 100
    });
    run.stop();
    assert!(leak_files(&private) > 100);
    assert_eq!(leaks.grown().len(), 0, "the machine's /tmp grew");
}

#[test]
fn where_mount_namespaces_are_refused_run_and_doctor_say_so_once() {
    let setpriv = Command::new("setpriv").arg("--version").output();
    if !require(
        setpriv.is_ok_and(|o| o.status.success()),
        "setpriv (util-linux) is not installed",
    ) {
        return;
    }
    let fleet = Fleet::new("[tier.t]\ntargets = [\"clean\"]\nbudget = \"2s\"\n");
    // fuzzfleet without CAP_SYS_ADMIN: no mount namespace for its workers.
    let without_sys_admin = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--inh-caps=-sys_admin", "--bounding-set=-sys_admin", "--"])
            .arg(env!("CARGO_BIN_EXE_fuzzfleet"))
            .arg("--config")
            .arg(fleet.path().join("fleet.toml"))
            .args(args)
            .output()
            .unwrap()
    };
    let doctor = without_sys_admin(&["doctor"]);
    let text = String::from_utf8_lossy(&doctor.stdout);
    if text.is_empty() {
        fleet_testkit::missing(&format!(
            "setpriv cannot drop CAP_SYS_ADMIN here: {}",
            String::from_utf8_lossy(&doctor.stderr)
        ));
        return;
    }
    let line = text
        .lines()
        .find(|l| l.contains("private /tmp"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.starts_with("warn") && line.contains("unavailable (") && line.contains("TMPDIR"),
        "{text}"
    );

    let run = without_sys_admin(&[
        "run",
        "--no-build",
        "--once",
        "--budget",
        "2s",
        "--workers",
        "2",
    ]);
    let log = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{log}");
    assert_eq!(
        log.matches("private /tmp per worker unavailable").count(),
        1,
        "{log}"
    );
    assert!(fleet.target("clean")["execs"].as_i64() > Some(0), "{log}");
}

/// `doctor`'s lines: (check line, its fix line if any).
fn doctor_lines(text: &str) -> Vec<(String, Option<String>)> {
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for line in text.lines() {
        match line.trim_start().strip_prefix("fix: ") {
            Some(fix) => out.last_mut().unwrap().1 = Some(fix.to_string()),
            None if line.starts_with(' ') => out.last_mut().unwrap().0.push_str(line),
            None => out.push((line.to_string(), None)),
        }
    }
    out
}

#[test]
fn doctor_says_each_fix_once_and_asks_nothing_of_rust_for_prebuilt_binaries() {
    // The Rust fixtures' config: whatever warns here, no fix is said twice.
    let fleet = Fleet::new("[tier.t]\ntargets = [\"clean\"]\nbudget = \"1h\"\n");
    let out = fleet.output(&["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let mut fixes = std::collections::BTreeSet::new();
    for (check, fix) in doctor_lines(&text) {
        if let Some(fix) = fix {
            assert!(!check.contains(&fix), "fix said twice:\n{text}");
            assert!(fixes.insert(fix), "fix said twice:\n{text}");
        }
    }
    assert!(text.contains("rust toolchain"), "{text}");

    // A config of a prebuilt C binary alone: no Rust toolchain, no LLVM of rustc.
    let dir = fleet_testkit::state_temp_dir();
    let config = dir.path().join("fleet.toml");
    fs::write(
        &config,
        format!(
            "state_dir = \"state\"\n[[target]]\nname = \"c_clean\"\nbinary = \"{}\"\n\
             [tier.t]\ntargets = [\"c_clean\"]\nbudget = \"1h\"\n",
            fleet_testkit::c_fixture("clean").display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fuzzfleet"))
        .arg("--config")
        .arg(&config)
        .arg("doctor")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("target c_clean"), "{text}");
    for rust in [
        "rust toolchain",
        "coverage tools",
        "rustup",
        "the LLVM of Rust",
    ] {
        assert!(!text.contains(rust), "{rust}:\n{text}");
    }
}
