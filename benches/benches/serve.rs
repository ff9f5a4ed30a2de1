//! Benchmark `serve`: what watching a node costs. Three figures, each against a
//! baseline measured in the same invocation:
//!
//! 1. API latency (p50/p99 of sequential requests) over a state with 20 targets and 30
//!    days of samples, against `/healthz` (the cost of HTTP alone);
//! 2. the `fuzzfleet serve` process's resident memory after that load;
//! 3. the fixture campaign's aggregate execs/s with 10 dashboard clients polling every
//!    second, against the same campaign unwatched: interleaved pairs alternating which
//!    goes first, ratio of the medians (goal: at least 0.98, as for fuzzfleet itself).
//!
//! `cargo bench -p fleet-bench --bench serve [-- --secs 20 --pairs 3 --workers N]`
//! (with `FLEET_BENCH_API_ONLY=1`: the API and memory figures only)

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use fleet_bench::fleet;
use fleet_bench::procs::Group;
use fleet_bench::setup::Setup;
use fleet_bench::stats::{Spread, thousands};
use fleet_serve::{Client, ServeOptions};
use fleet_store::{Db, FindingInsert, Sample, TargetRecord};

const TARGET: &str = "clean";
const TARGETS: usize = 20;
const DAYS: i64 = 30;
const REQUESTS: usize = 300;
const CLIENTS: usize = 10;
const GOAL: f64 = 0.98;
/// Every API request, series over any window included, answers within this at p99.
const API_P99_GOAL_MS: f64 = 10.0;

fn main() {
    let Setup {
        knobs,
        fuzzfleet,
        binary,
        mut scratch,
        ..
    } = Setup::new("serve", TARGET, 20, 3);

    println!("\n1. API latency: {TARGETS} targets, {DAYS} days of samples");
    let dir = scratch.run_dir("history");
    let built = Instant::now();
    let rows = make_history(&dir.join("state"));
    println!(
        "  state: {} sample rows after compaction, built in {:.1} s",
        thousands(rows as f64),
        built.elapsed().as_secs_f64()
    );
    let mut cmd = Command::new(&fuzzfleet);
    cmd.arg("--config")
        .arg(dir.join("none.toml"))
        .arg("--state")
        .arg(dir.join("state"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null());
    let (server, url) = start_server(&mut cmd, &dir.join("serve.log"));
    let client = Client::new(&url, None);
    let since_30d = fleet_store::now_ms() - DAYS * 86_400_000;
    let since_24h = fleet_store::now_ms() - 86_400_000;
    let since_7d = fleet_store::now_ms() - 7 * 86_400_000;
    let endpoints = [
        ("/healthz".to_string(), "baseline"),
        ("/api/v1/status".into(), "status"),
        ("/metrics".into(), "metrics"),
        ("/api/v1/crashes".into(), "crashes"),
        ("/api/v1/node".into(), "node"),
        ("/api/v1/targets/t07/series".into(), "series default"),
        (
            format!("/api/v1/targets/t07/series?since={since_24h}"),
            "series 24 h",
        ),
        (
            format!("/api/v1/targets/t07/series?since={since_7d}"),
            "series 7 days",
        ),
        (
            format!("/api/v1/targets/t07/series?since={since_30d}"),
            "series 30 days",
        ),
        ("/api/v1/targets/t07/series?since=0".into(), "series all"),
        ("/".into(), "overview page"),
    ];
    let mut base_p99 = None;
    let mut worst = (0.0f64, "");
    for (path, label) in &endpoints {
        let (p50, p99) = latency(&client, path);
        let base = *base_p99.get_or_insert(p99);
        if p99 > worst.0 {
            worst = (p99, label);
        }
        println!(
            "  {label:<15} p50 {:>7.2} ms  p99 {:>7.2} ms  p99 / healthz p99 {:>6.1}",
            p50 * 1e3,
            p99 * 1e3,
            p99 / base
        );
    }
    println!(
        "serve: API p99 worst {:.2} ms ({}) / goal {API_P99_GOAL_MS} ms = {:.2} (goal ≤ 1)",
        worst.0 * 1e3,
        worst.1,
        worst.0 * 1e3 / API_P99_GOAL_MS
    );
    let (rss, hwm) = memory_kb(server.pid());
    println!(
        "\n2. fuzzfleet serve memory after {} requests: RSS {:.1} MiB, peak {:.1} MiB",
        REQUESTS * endpoints.len(),
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    drop(server);
    if std::env::var_os("FLEET_BENCH_API_ONLY").is_some() {
        println!("\n3. skipped (FLEET_BENCH_API_ONLY)");
        return;
    }

    let n = knobs.workers;
    let t = knobs.run_for;
    println!(
        "\n3. campaign execs/s with {CLIENTS} clients polling status and a series every second"
    );
    // (execs/s over worker lifetimes, execs per CPU-second of the workers, on-core share)
    let mut quiet: Vec<(f64, f64, f64)> = Vec::new();
    let mut watched: Vec<(f64, f64, f64)> = Vec::new();
    for p in 0..knobs.pairs {
        let quiet_first = p % 2 == 0;
        println!(
            "pair {}/{} ({} first)",
            p + 1,
            knobs.pairs,
            if quiet_first { "unwatched" } else { "watched" }
        );
        for watched_side in if quiet_first {
            [false, true]
        } else {
            [true, false]
        } {
            let dir = scratch.run_dir(if watched_side { "watched" } else { "quiet" });
            let pollers = watched_side.then(|| Pollers::start(&dir.join("state")));
            let run = fleet::run(&fuzzfleet, &binary, &dir, TARGET, n, t);
            let requests = pollers.map(Pollers::stop);
            let eps = run.execs() as f64 * n as f64 / run.lives.worker_secs();
            let cpu = run.cpu.children.as_secs_f64();
            let figures = (eps, run.execs() as f64 / cpu, cpu / run.lives.worker_secs());
            let on_core = format!("workers on a core {:.0}% of the time", 100.0 * figures.2);
            match requests {
                Some(r) => {
                    println!(
                        "  watched:   {:>9} execs/s; {on_core}; {r} requests answered",
                        thousands(eps)
                    );
                    watched.push(figures);
                }
                None => {
                    println!("  unwatched: {:>9} execs/s; {on_core}", thousands(eps));
                    quiet.push(figures);
                }
            }
        }
    }
    let median = |v: &[(f64, f64, f64)], f: fn(&(f64, f64, f64)) -> f64| {
        Spread::of(&v.iter().map(f).collect::<Vec<_>>()).expect("pairs ran")
    };
    let (q, w) = (median(&quiet, |x| x.0), median(&watched, |x| x.0));
    let range = |s: &Spread| format!("{}–{}", thousands(s.min), thousands(s.max));
    println!(
        "\nserve: execs/s watched / unwatched (ratio of medians): {:.3} (goal ≥ {GOAL}); \
         unwatched median {} (min–max {}), watched median {} (min–max {})",
        w.median / q.median,
        thousands(q.median),
        range(&q),
        thousands(w.median),
        range(&w)
    );
    let (qc, wc) = (median(&quiet, |x| x.1), median(&watched, |x| x.1));
    println!(
        "serve: execs per CPU-second of the workers, watched / unwatched: {:.3}; \
         on a core: unwatched {:.0}%, watched {:.0}% (medians)",
        wc.median / qc.median,
        100.0 * median(&quiet, |x| x.2).median,
        100.0 * median(&watched, |x| x.2).median
    );
}

/// Writes 20 targets with 30 days of history the way a campaign leaves it: raw 10 s
/// samples for the last two days, 5-minute rows before (what `compact_samples` folds
/// them into), a few findings each; then compacts as the campaign does. Returns rows.
fn make_history(state: &Path) -> usize {
    let db = Db::open(&state.join("fleet.db")).expect("state db");
    let now = fleet_store::now_ms();
    let start = now - DAYS * 86_400_000;
    let raw_from = now - 2 * 86_400_000;
    let mut rows = 0;
    for i in 0..TARGETS {
        let name = format!("t{i:02}");
        db.batch(|db| {
            let mut ts = start - start.rem_euclid(300_000);
            while ts < now {
                let span = if ts < raw_from { 300 } else { 10 };
                let k = (ts - start) / 1000;
                db.put_sample(&Sample {
                    target: name.clone(),
                    ts,
                    span_s: span,
                    workers: 1,
                    execs: k * 1000,
                    execs_per_sec: 1000.0 + (k % 97) as f64,
                    coverage: Some(100 + k / 3600),
                    features: Some(400 + k / 900),
                    corpus_files: Some(50 + k / 7200),
                    corpus_bytes: Some(4096 + k),
                    rss_mb: Some(60),
                })?;
                rows += 1;
                ts += span * 1000;
            }
            db.put_target(&TargetRecord {
                name: name.clone(),
                state: "running".into(),
                workers: 1,
                execs: DAYS * 86_400 * 1000,
                execs_per_sec: 1000.0,
                coverage: Some(300),
                features: Some(3000),
                corpus_files: 400,
                corpus_bytes: 1 << 20,
                last_new_coverage_at: Some(now - 3_600_000),
                updated_at: now,
                ..TargetRecord::default()
            })?;
            for f in 0..5 {
                let sha1 = format!("{:040x}", i * 100 + f);
                let input = state.join(format!("crashes/{name}/crash-{sha1}"));
                db.record_finding(&FindingInsert {
                    target: &name,
                    kind: "crash",
                    sha1: &sha1,
                    input_path: &input,
                    report_path: None,
                    size_bytes: 10,
                    at_ms: start + f as i64 * 86_400_000,
                    node: None,
                })?;
            }
            Ok(())
        })
        .expect("writing history");
    }
    let removed = db.compact_samples(now).expect("compaction");
    rows - removed
}

/// Starts `fuzzfleet serve` in its own process group, its stderr into `log`, and reads
/// the URL it prints there.
fn start_server(cmd: &mut Command, log: &Path) -> (Group, String) {
    let file = std::fs::File::create(log).expect("serve log");
    cmd.stderr(file);
    let group = Group::spawn(cmd).expect("cannot start fuzzfleet serve");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(addr) = text
            .split("http://")
            .nth(1)
            .and_then(|r| r.split_once('/'))
            .map(|(a, _)| a.to_string())
        {
            return (group, format!("http://{addr}"));
        }
        assert!(
            Instant::now() < deadline,
            "fuzzfleet serve did not start: {text}"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// (p50, p99) seconds of `REQUESTS` sequential GETs after a warm-up.
fn latency(client: &Client, path: &str) -> (f64, f64) {
    for _ in 0..10 {
        client.get_raw(path).expect("request");
    }
    let mut times: Vec<f64> = (0..REQUESTS)
        .map(|_| {
            let t = Instant::now();
            let (code, _) = client.get_raw(path).expect("request");
            assert_eq!(code, 200, "{path}");
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

/// VmRSS and VmHWM of `pid`, in KiB.
fn memory_kb(pid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A server on a campaign's state (in this process, as the agent will run it) and
/// `CLIENTS` dashboard-like clients, each fetching the status and a series every second.
struct Pollers {
    /// One per client: dropping them all stops the clients at once.
    stops: Vec<mpsc::Sender<()>>,
    threads: Vec<thread::JoinHandle<usize>>,
    server: fleet_serve::ServerHandle,
}

impl Pollers {
    fn start(state: &Path) -> Self {
        // The campaign would create it; the server needs it to exist from the start.
        Db::open(&state.join("fleet.db")).expect("state db");
        let server = fleet_serve::spawn(ServeOptions {
            state_dir: state.to_path_buf(),
            listen: "127.0.0.1:0".parse().expect("addr"),
            token: None,
            known_targets: vec![TARGET.into()],
            fleet: None,
        })
        .expect("server");
        let mut stops = Vec::new();
        let threads = (0..CLIENTS)
            .map(|_| {
                let client = Client::new(&server.base_url(), None);
                let (stop, stopped) = mpsc::channel::<()>();
                stops.push(stop);
                thread::spawn(move || {
                    let mut answered = 0;
                    loop {
                        answered += usize::from(client.status().is_ok());
                        answered += usize::from(client.series(TARGET).is_ok());
                        match stopped.recv_timeout(Duration::from_secs(1)) {
                            Err(mpsc::RecvTimeoutError::Timeout) => continue,
                            _ => return answered,
                        }
                    }
                })
            })
            .collect();
        Self {
            stops,
            threads,
            server,
        }
    }

    /// Stops the clients and the server; the number of requests answered.
    fn stop(self) -> usize {
        drop(self.stops);
        let answered = self
            .threads
            .into_iter()
            .map(|t| t.join().unwrap_or(0))
            .sum();
        let _ = self.server.stop();
        answered
    }
}
