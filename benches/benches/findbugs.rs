//! Benchmark `findbugs`: does fuzzfleet find bugs faster than N copies of libFuzzer?
//!
//! **Part 1** (`--part 1`, the default): time to the first crash on the planted-bug
//! fixtures (`plant_easy`, `plant_magic`, `plant_relation`, `plant_nested`,
//! `plant_checksum`, and `clean`, which must never crash), `--trials` (5) trials each,
//! from an empty corpus, for
//!   (a) `portfolio`: `fuzzfleet run --strategies portfolio` (engines and strategies
//!       chosen by the bandit),
//!   (b) `fork`: the same binary as `libFuzzer -fork=N` run directly,
//!   (c) `plain`: `fuzzfleet run --strategies plain` (N identical workers, as fuzzfleet
//!       ran them before the portfolio),
//! on N = `--workers` (one per core) workers, with a limit of `--limit` seconds (600);
//! a miss counts as the limit. It prints per-target medians and misses, the ratios a/b
//! and a/c, and their geometric means over the planted targets (`clean` excluded).
//!
//! **Part 2** (`--part 2`): the bundled suite (`fleet.toml`) for `--secs` (3600) under
//! three schedules: the coverage-following one (the default), fixed tiers
//! (`schedule = "fixed"`) and equal time slices (`schedule = "equal"`, with
//! `tier_slice` = `--secs` × workers / targets, so every target has one equal slice in
//! the run: the bundled 1-hour `tier_slice` would give an hour's run to two targets and
//! none to the rest); each target's
//! final corpus is replayed through its libFuzzer binary (`-runs=0`: `INITED … ft: N`)
//! and the features are summed. Prints the totals, the ratios of the new schedule to
//! the others, and the targets that never ran.
//!
//! Every finished trial is appended as one JSON line to `target/findbugs/results.jsonl`
//! (`--results FILE`), and a trial already there (same part, target or schedule, mode,
//! trial number, workers and limit) is skipped: the parts run one at a time, resume after
//! an interruption, and print their summary from every recorded trial.
//!
//! `cargo bench -p fleet-bench --bench findbugs -- [--part 1|2] [--limit S] [--trials N]
//!  [--workers N] [--targets a,b] [--modes portfolio,fork,plain] [--secs S]
//!  [--schedules coverage,fixed,equal] [--results FILE]`

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fleet_bench::procs::{self, Group};
use fleet_bench::scratch::Scratch;
use fleet_bench::{fleet, stats::Spread};
use fleet_engine::libfuzzer::{
    ForkOptions, LibFuzzerOptions, Limits, LogLine, ReplayInputs, ReplayOptions, StatusEvent,
    parse_line, replay_command, worker_command,
};
use serde_json::{Value, json};

const PLANTED: [&str; 5] = [
    "plant_easy",
    "plant_magic",
    "plant_relation",
    "plant_nested",
    "plant_checksum",
];
const CLEAN: &str = "clean";
const MODES: [&str; 3] = ["portfolio", "fork", "plain"];
const SCHEDULES: [&str; 3] = ["coverage", "fixed", "equal"];
/// How often a run's crash directory is looked at.
const POLL: Duration = Duration::from_millis(100);

struct Args {
    part: u32,
    limit: Duration,
    trials: usize,
    workers: usize,
    targets: Vec<String>,
    modes: Vec<String>,
    secs: Duration,
    schedules: Vec<String>,
    results: PathBuf,
}

fn usage(message: &str) -> ! {
    eprintln!(
        "findbugs: {message}\nusage: cargo bench -p fleet-bench --bench findbugs -- [--part 1|2] \
         [--limit S] [--trials N] [--workers N] [--targets a,b] [--modes portfolio,fork,plain] \
         [--secs S] [--schedules coverage,fixed,equal] [--results FILE]"
    );
    std::process::exit(2);
}

impl Args {
    fn read() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut a = Args {
            part: 1,
            limit: Duration::from_secs(600),
            trials: 5,
            workers: cores,
            targets: PLANTED
                .iter()
                .chain([&CLEAN])
                .map(|s| s.to_string())
                .collect(),
            modes: MODES.map(String::from).to_vec(),
            secs: Duration::from_secs(3600),
            schedules: SCHEDULES.map(String::from).to_vec(),
            results: fleet_testkit::repo_root().join("target/findbugs/results.jsonl"),
        };
        let mut it = std::env::args().skip(1);
        while let Some(arg) = it.next() {
            if arg == "--bench" {
                continue;
            }
            let value = it
                .next()
                .unwrap_or_else(|| usage(&format!("{arg} needs a value")));
            let number = || -> u64 {
                value
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .unwrap_or_else(|| usage(&format!("{arg} needs a positive whole number")))
            };
            let list = |known: &[&str]| -> Vec<String> {
                let items: Vec<String> = value.split(',').map(String::from).collect();
                if let Some(bad) = items
                    .iter()
                    .find(|i| !known.is_empty() && !known.contains(&i.as_str()))
                {
                    usage(&format!(
                        "{arg}: unknown `{bad}` (known: {})",
                        known.join(", ")
                    ));
                }
                items
            };
            match arg.as_str() {
                "--part" => a.part = number() as u32,
                "--limit" => a.limit = Duration::from_secs(number()),
                "--trials" => a.trials = number() as usize,
                "--workers" => a.workers = number() as usize,
                "--secs" => a.secs = Duration::from_secs(number()),
                "--targets" => a.targets = list(&[]),
                "--modes" => a.modes = list(&MODES),
                "--schedules" => a.schedules = list(&SCHEDULES),
                // cargo runs benchmarks in the package's directory: relative to the repo.
                "--results" => a.results = fleet_testkit::repo_root().join(&value),
                _ => usage(&format!("unknown argument `{arg}`")),
            }
        }
        if !(1..=2).contains(&a.part) {
            usage("--part is 1 or 2");
        }
        a
    }
}

/// The recorded trials: one JSON object per line, appended as each trial ends.
struct Results {
    path: PathBuf,
    records: Vec<Value>,
}

impl Results {
    fn load(path: &Path) -> Self {
        let records = fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        Self {
            path: path.to_path_buf(),
            records,
        }
    }

    fn find(&self, key: &Value) -> Option<&Value> {
        let fields = key.as_object().expect("a key is an object");
        self.records
            .iter()
            .find(|r| fields.iter().all(|(k, v)| &r[k] == v))
    }

    fn matching(&self, key: &Value) -> Vec<&Value> {
        let fields = key.as_object().expect("a key is an object");
        self.records
            .iter()
            .filter(|r| fields.iter().all(|(k, v)| &r[k] == v))
            .collect()
    }

    fn append(&mut self, mut record: Value, key: &Value) {
        for (k, v) in key.as_object().expect("object") {
            record[k] = v.clone();
        }
        record["at"] = json!(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        );
        record["source"] = json!(fleet::source_label());
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir).expect("results dir");
        }
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", self.path.display()));
        writeln!(f, "{record}").expect("cannot append a result");
        self.records.push(record);
    }
}

fn main() {
    procs::stop_on_signals();
    let args = Args::read();
    let mut results = Results::load(&args.results);
    let mut scratch = Scratch::new("findbugs");
    println!(
        "findbugs part {}: {} workers, {} cores; results in {}; runs in {}",
        args.part,
        args.workers,
        std::thread::available_parallelism().map_or(0, |c| c.get()),
        args.results.display(),
        scratch.path().display()
    );
    if args.part == 1 {
        part1(&args, &mut results, &mut scratch);
    } else {
        part2(&args, &mut results, &mut scratch);
    }
}

/// The release fuzzfleet, if it knows `run --strategies` (the flag (a) and (c) need);
/// else `None`, with why.
fn fuzzfleet_with_strategies() -> Result<PathBuf, String> {
    let bin = fleet::build_release();
    let help = Command::new(&bin)
        .args(["run", "--help"])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    if String::from_utf8_lossy(&help.stdout).contains("--strategies") {
        Ok(bin)
    } else {
        Err(format!("{} has no `run --strategies` yet", bin.display()))
    }
}

fn part1(args: &Args, results: &mut Results, scratch: &mut Scratch) {
    let mut modes = args.modes.clone();
    let fuzzfleet = if modes.iter().any(|m| m != "fork") {
        match fuzzfleet_with_strategies() {
            Ok(bin) => Some(bin),
            Err(why) => {
                println!("SKIP modes portfolio and plain: {why}");
                modes.retain(|m| m == "fork");
                None
            }
        }
    } else {
        None
    };
    let limit_s = args.limit.as_secs();
    for target in &args.targets {
        let binary = fleet_testkit::rust_fixture(target);
        for trial in 1..=args.trials {
            for mode in &modes {
                let key = json!({"part": 1, "target": target, "mode": mode, "trial": trial,
                                 "workers": args.workers, "limit_s": limit_s});
                if results.find(&key).is_some() {
                    continue;
                }
                let dir = scratch.run_dir(&format!("{target}-{mode}-{trial}"));
                let found = match mode.as_str() {
                    "fork" => fork_run(&binary, &dir, args.workers, args.limit),
                    strategies => fleet_run(
                        fuzzfleet.as_deref().expect("checked above"),
                        &dir,
                        target,
                        strategies,
                        args.workers,
                        args.limit,
                    ),
                };
                let secs = found.map_or(args.limit.as_secs_f64(), |d| d.as_secs_f64());
                println!(
                    "  {target} {mode} trial {trial}: {}",
                    match found {
                        Some(d) => format!("first crash after {:.1} s", d.as_secs_f64()),
                        None => format!("no crash within {limit_s} s"),
                    }
                );
                results.append(json!({"found": found.is_some(), "secs": secs}), &key);
                discard(&dir);
            }
        }
    }
    summarize_part1(args, results);
}

/// Removes a finished run's directory, unless `FLEET_BENCH_KEEP` asks to keep the
/// scratch dir: then its logs and state are there to read.
fn discard(dir: &Path) {
    if std::env::var_os("FLEET_BENCH_KEEP").is_none() {
        let _ = fs::remove_dir_all(dir);
    }
}

/// Times `libFuzzer -fork=N` (a crash stops it: crashes are not ignored) on an empty
/// corpus until its first `crash-` artifact, or `None` at the limit.
fn fork_run(binary: &Path, dir: &Path, workers: usize, limit: Duration) -> Option<Duration> {
    let (corpus, artifacts, tmp) = (dir.join("corpus"), dir.join("artifacts"), dir.join("tmp"));
    for d in [&corpus, &artifacts, &tmp] {
        fs::create_dir_all(d).expect("run dirs");
    }
    let mut opts = LibFuzzerOptions::new(binary, &corpus, &artifacts);
    opts.fork = Some(ForkOptions {
        jobs: workers as u32,
        ignore_crashes: false,
        ignore_timeouts: true,
        ignore_ooms: true,
    });
    opts.max_total_time = Some(limit);
    // Fork mode's children work in $TMPDIR: keep them out of the machine's /tmp.
    opts.env = vec![("TMPDIR".into(), tmp.into_os_string())];
    let engine = worker_command(&opts);
    let mut cmd = Command::new(&engine.program);
    cmd.args(&engine.args)
        .envs(engine.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(dir.join("fuzz.log")).expect("log"));
    watch_for_crash(&mut cmd, &artifacts, limit)
}

/// Times `fuzzfleet run --strategies S` on the fixture target until its first crash
/// lands in the state's `crashes/<target>/`, or `None` at the limit.
fn fleet_run(
    fuzzfleet: &Path,
    dir: &Path,
    target: &str,
    strategies: &str,
    workers: usize,
    limit: Duration,
) -> Option<Duration> {
    let state = dir.join("state");
    let config = dir.join("fleet.toml");
    fs::write(
        &config,
        format!(
            "state_dir = {}\n[[project]]\npath = {}\n",
            toml_string(&state),
            toml_string(&fleet_testkit::rust_fixture_project())
        ),
    )
    .expect("fleet.toml");
    let mut cmd = Command::new(fuzzfleet);
    cmd.arg("--config")
        .arg(&config)
        .arg("--state")
        .arg(&state)
        .args([
            "run",
            "--no-build",
            "--target",
            target,
            "--strategies",
            strategies,
        ])
        .arg("--workers")
        .arg(workers.to_string())
        .arg("--for")
        .arg(format!("{}s", limit.as_secs()))
        .stdin(Stdio::null())
        .stdout(fs::File::create(dir.join("run.log")).expect("log"))
        .stderr(fs::File::create(dir.join("run.err")).expect("log"));
    watch_for_crash(&mut cmd, &state.join("crashes").join(target), limit)
}

/// Starts `cmd` in its own process group and waits until a `crash-…` file appears in
/// `dir` (then kills the group) or `limit` passes; the time from launch to the file.
fn watch_for_crash(cmd: &mut Command, dir: &Path, limit: Duration) -> Option<Duration> {
    let launched = Instant::now();
    let mut group = Group::spawn(cmd).expect("cannot start the fuzzer");
    let deadline = launched + limit;
    let has_crash = || {
        fs::read_dir(dir).ok().is_some_and(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("crash-"))
        })
    };
    // fuzzfleet (`--for limit`) ends by itself at the limit; stopped by SIGTERM rather
    // than killed, it stops its workers and AFL++'s forkservers with them.
    let grace = Duration::from_secs(30);
    loop {
        if has_crash() {
            let at = launched.elapsed();
            group.terminate(grace);
            return Some(at);
        }
        let now = Instant::now();
        if now >= deadline {
            group.terminate(grace);
            return None;
        }
        if group.wait_until((now + POLL).min(deadline)).is_some() {
            // It ended by itself: a crash written just before the exit still counts.
            return has_crash().then(|| launched.elapsed());
        }
    }
}

fn summarize_part1(args: &Args, results: &Results) {
    let limit_s = args.limit.as_secs();
    println!(
        "\ntime to first crash, {} workers, limit {limit_s} s (a miss counts as the limit):",
        args.workers
    );
    println!(
        "  {:<16} {:>28} {:>28} {:>28} {:>7} {:>7}",
        "target", "(a) portfolio", "(b) fork", "(c) plain", "a/b", "a/c"
    );
    let mut ab = Vec::new();
    let mut ac = Vec::new();
    for target in &args.targets {
        let mut medians = BTreeMap::new();
        let mut cells = Vec::new();
        for mode in MODES {
            let key = json!({"part": 1, "target": target, "mode": mode,
                             "workers": args.workers, "limit_s": limit_s});
            let runs = results.matching(&key);
            let secs: Vec<f64> = runs.iter().filter_map(|r| r["secs"].as_f64()).collect();
            let misses = runs.iter().filter(|r| r["found"] == false).count();
            match Spread::of(&secs) {
                Some(s) => {
                    medians.insert(mode, s.median);
                    cells.push(format!(
                        "{:.1} s ({misses}/{} missed)",
                        s.median,
                        runs.len()
                    ));
                }
                None => cells.push("-".into()),
            }
        }
        let ratio = |x: &str, y: &str| Some(medians.get(x)? / medians.get(y)?.max(0.001));
        let (rab, rac) = (ratio("portfolio", "fork"), ratio("portfolio", "plain"));
        if target != CLEAN {
            ab.extend(rab);
            ac.extend(rac);
        }
        let fmt = |r: Option<f64>| r.map_or("-".into(), |r| format!("{r:.2}"));
        println!(
            "  {target:<16} {:>28} {:>28} {:>28} {:>7} {:>7}",
            cells[0],
            cells[1],
            cells[2],
            fmt(rab),
            fmt(rac)
        );
    }
    let geo = |v: &[f64]| {
        (!v.is_empty()).then(|| (v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp())
    };
    let show = |g: Option<f64>| g.map_or("- (no pairs measured yet)".into(), |g| format!("{g:.2}"));
    println!(
        "geometric mean over planted targets: a/b {} (goal <= 0.5, none above 1.25), a/c {}",
        show(geo(&ab)),
        show(geo(&ac))
    );
}

fn part2(args: &Args, results: &mut Results, scratch: &mut Scratch) {
    let fuzzfleet = fleet::build_release();
    let project = fleet_testkit::repo_root().join("targets/dilithion/fuzz");
    eprintln!("findbugs: building the bundled suite");
    let built =
        fleet_build::build_project(&project, &fleet_build::BuildOptions::default(), &mut |_| {})
            .unwrap_or_else(|e| panic!("building {} failed: {e}", project.display()));
    let secs = args.secs.as_secs();
    let slice = equal_slice(secs, args.workers, built.len());
    for schedule in &args.schedules {
        let key = part2_key(schedule, args.workers, secs, slice);
        if results.find(&key).is_some() {
            continue;
        }
        let dir = scratch.run_dir(&format!("suite-{schedule}"));
        let state = dir.join("state");
        let config = dir.join("fleet.toml");
        let tier_slice = (schedule == "equal").then_some(slice);
        fs::write(
            &config,
            suite_config(&state, &project, schedule, tier_slice),
        )
        .expect("fleet.toml");
        println!("  {schedule}: the suite for {secs} s");
        let mut cmd = Command::new(&fuzzfleet);
        cmd.arg("--config")
            .arg(&config)
            .arg("--state")
            .arg(&state)
            .args(["run", "--no-build", "--workers"])
            .arg(args.workers.to_string())
            .arg("--for")
            .arg(format!("{secs}s"))
            .stdin(Stdio::null())
            .stdout(fs::File::create(dir.join("run.log")).expect("log"))
            .stderr(Stdio::inherit());
        let mut group = Group::spawn(&mut cmd).expect("cannot start fuzzfleet");
        let status = group.wait_or_kill(
            Instant::now() + args.secs + Duration::from_secs(300),
            "fuzzfleet run",
        );
        assert!(
            status.success(),
            "fuzzfleet run failed ({status}); see {}",
            dir.join("run.log").display()
        );
        let mut per_target = serde_json::Map::new();
        let mut total = 0u64;
        for t in &built {
            let corpus = state.join("corpus").join(&t.name);
            let ft = replay_features(&t.path, &corpus, &dir.join("replay"));
            total += ft;
            per_target.insert(t.name.clone(), json!(ft));
        }
        let no_turn = targets_without_a_turn(&fuzzfleet, &config, &state);
        println!("    total features {total}; never ran: {no_turn:?}");
        results.append(
            json!({"total_features": total, "features": per_target, "never_ran": no_turn}),
            &key,
        );
        discard(&dir);
    }
    println!(
        "\nthe bundled suite after {secs} s on {} workers (features: each target's corpus replayed):",
        args.workers
    );
    let mut totals = BTreeMap::new();
    for schedule in SCHEDULES {
        let key = part2_key(schedule, args.workers, secs, slice);
        if let Some(r) = results.find(&key) {
            let total = r["total_features"].as_u64().unwrap_or(0);
            totals.insert(schedule, total as f64);
            println!(
                "  {schedule:<9} {total:>8} features; never ran: {}",
                r["never_ran"]
            );
        } else {
            println!("  {schedule:<9} not run yet");
        }
    }
    if let Some(new) = totals.get("coverage") {
        for (other, goal) in [("fixed", 1.2), ("equal", 1.1)] {
            if let Some(o) = totals.get(other) {
                println!(
                    "  coverage / {other}: {:.2} (goal >= {goal})",
                    new / o.max(1.0)
                );
            }
        }
    }
}

/// The equal schedule's slice, in seconds: `secs` of `workers` shared equally by
/// `targets`, so each has one slice in the run.
fn equal_slice(secs: u64, workers: usize, targets: usize) -> u64 {
    (secs * workers as u64 / targets.max(1) as u64).max(1)
}

/// A part-2 run's key; the equal schedule's names its slice (a run with the bundled
/// hour-long slices is another measurement).
fn part2_key(schedule: &str, workers: usize, secs: u64, slice: u64) -> Value {
    let mut key = json!({"part": 2, "schedule": schedule, "workers": workers, "secs": secs});
    if schedule == "equal" {
        key["tier_slice_s"] = json!(slice);
    }
    key
}

/// The bundled `fleet.toml` with this run's state dir, the suite's absolute path, the
/// schedule (`coverage` is the default and is left unset) and `tier_slice` (seconds)
/// when given.
fn suite_config(state: &Path, project: &Path, schedule: &str, tier_slice: Option<u64>) -> String {
    let original = fs::read_to_string(fleet_testkit::repo_root().join("fleet.toml"))
        .expect("the bundled fleet.toml");
    let mut out = String::new();
    for line in original.lines() {
        if line.starts_with("state_dir") {
            out.push_str(&format!("state_dir = {}\n", toml_string(state)));
            if schedule != "coverage" {
                out.push_str(&format!("schedule = \"{schedule}\"\n"));
            }
            if let Some(s) = tier_slice {
                out.push_str(&format!("tier_slice = \"{s}s\"\n"));
            }
        } else if line
            .trim_start()
            .starts_with("path = \"targets/dilithion/fuzz\"")
        {
            out.push_str(&format!("path = {}\n", toml_string(project)));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The features libFuzzer counts when it loads `corpus` (`-runs=0`: `INITED … ft: N`);
/// 0 for a missing or empty corpus.
fn replay_features(binary: &Path, corpus: &Path, scratch: &Path) -> u64 {
    if fs::read_dir(corpus).map_or(true, |mut d| d.next().is_none()) {
        return 0;
    }
    fs::create_dir_all(scratch).expect("replay dir");
    let engine = replay_command(&ReplayOptions {
        binary: binary.to_path_buf(),
        inputs: ReplayInputs::Dirs(vec![corpus.to_path_buf()]),
        artifact_prefix: scratch.to_path_buf(),
        limits: Limits::default(),
        extra_args: Vec::new(),
        env: vec![("TMPDIR".into(), scratch.as_os_str().to_owned())],
    });
    let out = Command::new(&engine.program)
        .args(&engine.args)
        .envs(engine.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
    let text = String::from_utf8_lossy(&out.stderr);
    text.lines()
        .rev()
        .find_map(|l| match parse_line(l) {
            Ok(Some(LogLine::Status(s))) if s.event == StatusEvent::Inited => s.ft,
            _ => None,
        })
        .unwrap_or_else(|| panic!("{} printed no INITED line:\n{text}", binary.display()))
}

/// Targets `status --json` shows with no execs.
fn targets_without_a_turn(fuzzfleet: &Path, config: &Path, state: &Path) -> Vec<String> {
    let out = Command::new(fuzzfleet)
        .arg("--config")
        .arg(config)
        .arg("--state")
        .arg(state)
        .args(["status", "--json"])
        .output()
        .expect("fuzzfleet status");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    doc["targets"]
        .as_array()
        .map(|ts| {
            ts.iter()
                .filter(|t| t["execs"].as_u64().unwrap_or(0) == 0)
                .filter_map(|t| t["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn toml_string(path: &Path) -> String {
    let text = path.to_str().expect("bench paths are UTF-8");
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}
