//! How many workers the node runs when the configuration leaves it open (`workers = 0`
//! or absent, no `--workers`): measured, not assumed to be one per core.
//!
//! One libFuzzer target (the one with the largest corpus, the first on a tie) runs as k
//! copies at once for [`MEASURE_FOR`], for k = 1, 2, … up to the cores, on a scratch copy
//! of its corpus under the state dir (the real corpus is never written). Each copy ends
//! by itself (`-max_total_time`) and prints its final stats; the aggregate rate of k is
//! the sum of each copy's executed units over its wall time. After each k,
//! [`choose_workers`] decides whether to measure one more or settle. The result is kept
//! in the DB's meta row [`WORKERS_META`] and reused while the target's binary (size and
//! mtime) and the core count are the same, for at most [`REUSE_FOR`].

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

use fleet_docs::report::{WORKERS_META, WorkersDoc, WorkersPointDoc};
use fleet_engine::libfuzzer::{LibFuzzerOptions, parse_final_stats, worker_command};
use fleet_proc::{Limits, Spawn};
use fleet_store::{Db, Layout, now_ms, rfc3339};

use crate::campaign::CampaignTarget;
use crate::portfolio::workers::{DEFAULT_THRESHOLD, Next, choose_workers};

/// How long each count of copies fuzzs.
pub const MEASURE_FOR: Duration = Duration::from_secs(3);
/// A measurement older than this is made again.
pub const REUSE_FOR: Duration = Duration::from_secs(7 * 24 * 3600);
/// The scratch corpus takes at most this many of the corpus's files …
const SCRATCH_FILES: usize = 2000;
/// … and at most this many bytes.
const SCRATCH_BYTES: u64 = 32 << 20;
/// A copy still running this long after its `-max_total_time` is stopped (loading a
/// large corpus comes before the clock starts to matter).
const OVERRUN: Duration = Duration::from_secs(60);

/// Why the node could not be measured (the caller falls back to one worker per core).
#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
    #[error(transparent)]
    Store(#[from] fleet_store::StoreError),
    #[error("measuring {target} ({workers} at once): {message}")]
    Run {
        target: String,
        workers: usize,
        message: String,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> CalibrateError {
    let what = what.into();
    move |source| CalibrateError::Io { what, source }
}

/// The node's worker count and whether it was measured now or reused.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    pub doc: WorkersDoc,
    /// `Some(age)`: taken from an earlier measurement this old.
    pub reused: Option<Duration>,
}

/// The node's core count (at least 1).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The workers for a node of `cores` cores: the stored measurement when its target is
/// among `candidates` (the run's targets, in order) with the same binary, the cores are
/// the same, it is younger than [`REUSE_FOR`] and `recalibrate` is false; else a new
/// one, stored. `on_line` hears each count as it is measured.
pub fn calibrate(
    layout: &Layout,
    candidates: &[&CampaignTarget],
    cores: usize,
    recalibrate: bool,
    on_line: &mut dyn FnMut(&str),
) -> Result<Calibration, CalibrateError> {
    let cores = cores.max(1);
    let db = Db::open(&layout.db_path())?;
    let now = now_ms();
    if !recalibrate
        && let Some((value, at_ms)) = db.meta(WORKERS_META)?
        && let Ok(doc) = serde_json::from_str::<WorkersDoc>(&value)
        // The target measured last time, while this run has it, whatever the corpora
        // grew to since: another target's larger corpus is no reason to measure again.
        && let Some(measured) = candidates.iter().find(|t| t.name == doc.target)
    {
        let age = Duration::from_millis(u64::try_from(now - at_ms).unwrap_or(0));
        if still_holds(&doc, &measured.name, stamp(&measured.binary)?, cores) && age < REUSE_FOR {
            return Ok(Calibration {
                doc,
                reused: Some(age),
            });
        }
    }
    let target = subject(layout, candidates).ok_or_else(|| CalibrateError::Run {
        target: "(none)".into(),
        workers: 0,
        message: "no target to measure".into(),
    })?;
    let (binary_size, binary_mtime_ms) = stamp(&target.binary)?;
    let doc = measure(layout, target, cores, on_line)?;
    let doc = WorkersDoc {
        binary_size,
        binary_mtime_ms,
        measured_at: rfc3339(now),
        ..doc
    };
    let json = serde_json::to_string(&doc).expect("a WorkersDoc serializes");
    db.put_meta(WORKERS_META, &json, now)?;
    Ok(Calibration { doc, reused: None })
}

/// Whether a stored measurement is of this target, this build of it and this machine.
pub fn still_holds(doc: &WorkersDoc, target: &str, stamp: (u64, i64), cores: usize) -> bool {
    doc.target == target
        && (doc.binary_size, doc.binary_mtime_ms) == stamp
        && doc.cores == cores
        && (1..=cores).contains(&doc.workers)
}

/// The target measured: the one with the largest corpus, the first on a tie.
fn subject<'a>(layout: &Layout, candidates: &[&'a CampaignTarget]) -> Option<&'a CampaignTarget> {
    let mut best: Option<(&CampaignTarget, usize)> = None;
    for t in candidates {
        let n = fs::read_dir(layout.corpus_dir(&t.name)).map_or(0, |d| d.count());
        if best.is_none_or(|(_, b)| n > b) {
            best = Some((t, n));
        }
    }
    best.map(|(t, _)| t)
}

/// The binary's size and mtime (ms since the epoch).
fn stamp(binary: &Path) -> Result<(u64, i64), CalibrateError> {
    let m = fs::metadata(binary).map_err(io_err(format!("reading {}", binary.display())))?;
    let mtime = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Ok((m.len(), mtime))
}

/// Measures k = 1, 2, … copies of `target` until [`choose_workers`] settles.
fn measure(
    layout: &Layout,
    target: &CampaignTarget,
    cores: usize,
    on_line: &mut dyn FnMut(&str),
) -> Result<WorkersDoc, CalibrateError> {
    let scratch = layout.root().join("calibrate");
    let _cleanup = Cleanup(scratch.clone());
    remove_dir(&scratch)?;
    let corpus = scratch.join("corpus");
    fs::create_dir_all(&corpus).map_err(io_err(format!("creating {}", corpus.display())))?;
    let mut source = layout.corpus_dir(&target.name);
    if fs::read_dir(&source).map_or(true, |mut d| d.next().is_none())
        && let Some(seeds) = &target.seeds
    {
        source = seeds.clone();
    }
    copy_sample(&source, &corpus)?;
    let mut rates = Vec::new();
    let choice = loop {
        let choice = choose_workers(&rates, cores, DEFAULT_THRESHOLD);
        match choice.next {
            Next::Settle { .. } => break choice,
            Next::Measure { workers } => {
                let rate = measure_copies(&scratch, &corpus, target, workers)?;
                on_line(&format!(
                    "workers: measuring {} with {workers} cop{}: {}/s",
                    target.name,
                    if workers == 1 { "y" } else { "ies" },
                    fleet_docs::fmt::rate(rate)
                ));
                rates.push(rate);
            }
        }
    };
    Ok(WorkersDoc {
        workers: choice.workers,
        cores,
        target: target.name.clone(),
        threshold: DEFAULT_THRESHOLD,
        curve: choice
            .curve
            .iter()
            .map(|p| WorkersPointDoc {
                workers: p.workers,
                execs_per_s: (p.execs_per_s * 10.0).round() / 10.0,
                gain: (p.gain * 1000.0).round() / 1000.0,
                accepted: p.accepted,
            })
            .collect(),
        reason: choice.reason,
        ..WorkersDoc::default()
    })
}

/// Runs `k` copies of `target` at once for [`MEASURE_FOR`]; their aggregate execs/s.
fn measure_copies(
    scratch: &Path,
    corpus: &Path,
    target: &CampaignTarget,
    k: usize,
) -> Result<f64, CalibrateError> {
    let fail = |message: String| CalibrateError::Run {
        target: target.name.clone(),
        workers: k,
        message,
    };
    let mut commands = Vec::new();
    for i in 0..k {
        let dir = scratch.join(format!("k{k}")).join(format!("w{i}"));
        let (out, artifacts, tmp) = (dir.join("new"), dir.join("artifacts"), dir.join("tmp"));
        for d in [&out, &artifacts, &tmp] {
            fs::create_dir_all(d).map_err(io_err(format!("creating {}", d.display())))?;
        }
        let mut opts = LibFuzzerOptions::new(&target.binary, &out, &artifacts);
        opts.extra_corpus_dirs = vec![corpus.to_path_buf()];
        opts.rss_limit_mb = target.rss_limit_mb;
        opts.timeout_s = target.timeout_s;
        opts.dict = target.dict.clone();
        opts.max_len = target.max_len;
        opts.max_total_time = Some(MEASURE_FOR);
        opts.print_final_stats = true;
        opts.reload = false;
        opts.extra_args = target.extra_args.clone();
        opts.env = target
            .env
            .iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        opts.env.push(("TMPDIR".into(), tmp.into_os_string()));
        let cmd = worker_command(&opts);
        let mut command = Command::new(&cmd.program);
        command
            .args(&cmd.args)
            .envs(cmd.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&dir);
        commands.push(command);
    }
    let limits = Limits {
        deadline: MEASURE_FOR + OVERRUN,
        grace: Duration::from_secs(2),
        max_output_bytes: 256 << 10,
        cancel: None,
    };
    let results: Vec<Result<fleet_proc::Captured, fleet_proc::RunError>> =
        std::thread::scope(|s| {
            let handles: Vec<_> = commands
                .into_iter()
                .map(|c| {
                    let limits = &limits;
                    s.spawn(move || fleet_proc::run(Spawn::new(c), limits, &mut |_| {}))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a measuring thread does not panic"))
                .collect()
        });
    let mut total = 0.0;
    for r in results {
        let done = r.map_err(|e| fail(e.to_string()))?;
        // A copy that crashed (or ran out of memory) still counts its executions up to
        // then, over its own time, when it ran at least half the time; one that ended
        // sooner (or never started) measured the bug, not the machine.
        if done.deadline_exceeded || (!done.status.success() && done.elapsed < MEASURE_FOR / 2) {
            return Err(fail(format!(
                "a copy ended with {}{} after {:.1} s, so its rate says nothing of the machine: {}",
                done.status,
                if done.deadline_exceeded {
                    " past its deadline"
                } else {
                    ""
                },
                done.elapsed.as_secs_f64(),
                last_line(&done.output)
            )));
        }
        let stats = parse_final_stats(&done.output).map_err(|e| {
            fail(format!(
                "no final stats ({e}; exit {}): {}",
                done.status,
                last_line(&done.output)
            ))
        })?;
        let secs = done.elapsed.as_secs_f64().max(0.001);
        total += stats.executed_units as f64 / secs;
    }
    Ok(total)
}

/// What a run that ended early said of why: its first error or panic line, else its
/// last line.
fn last_line(output: &str) -> &str {
    output
        .lines()
        .find(|l| l.contains("ERROR:") || l.contains("panicked"))
        .or_else(|| output.lines().rev().find(|l| !l.trim().is_empty()))
        .unwrap_or("")
        .trim()
}

/// Copies up to [`SCRATCH_FILES`] files and [`SCRATCH_BYTES`] of `from` into `to`.
fn copy_sample(from: &Path, to: &Path) -> Result<(), CalibrateError> {
    let Ok(entries) = fs::read_dir(from) else {
        return Ok(());
    };
    let (mut files, mut bytes) = (0, 0u64);
    for e in entries.flatten() {
        let Ok(meta) = e.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        if files >= SCRATCH_FILES || bytes + meta.len() > SCRATCH_BYTES {
            break;
        }
        fs::copy(e.path(), to.join(e.file_name()))
            .map_err(io_err(format!("copying {}", e.path().display())))?;
        files += 1;
        bytes += meta.len();
    }
    Ok(())
}

fn remove_dir(dir: &Path) -> Result<(), CalibrateError> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(io_err(format!("removing {}", dir.display()))(e))
        }
        _ => Ok(()),
    }
}

/// Removes the scratch dir when the measurement ends, however it ends.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The one line `run` prints: `workers: 2 of 2 cores, measured: 1 → 41k/s, 2 → 80k/s
/// (+95 %)`, with the measurement's age and target when it was reused.
pub fn line(c: &Calibration) -> String {
    let d = &c.doc;
    let curve = curve_text(d);
    match c.reused {
        None => format!(
            "workers: {} of {} cores, measured on {}: {curve}",
            d.workers, d.cores, d.target
        ),
        Some(age) => format!(
            "workers: {} of {} cores, measured {} ago on {} (reused until the binary or the cores change, or for {}; --workers N sets it): {curve}",
            d.workers,
            d.cores,
            fleet_docs::fmt::duration(age),
            d.target,
            fleet_docs::fmt::duration(REUSE_FOR)
        ),
    }
}

/// `1 → 41k/s, 2 → 80k/s (+95 %), 3 → 82k/s (+5 %, not taken)`.
pub fn curve_text(d: &WorkersDoc) -> String {
    d.curve
        .iter()
        .map(|p| {
            let rate = format!("{} → {}/s", p.workers, fleet_docs::fmt::rate(p.execs_per_s));
            if p.workers == 1 {
                rate
            } else if p.accepted {
                format!("{rate} (+{:.0} %)", p.gain * 100.0)
            } else {
                format!("{rate} ({:+.0} %, not taken)", p.gain * 100.0)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> WorkersDoc {
        WorkersDoc {
            workers: 2,
            cores: 4,
            target: "t".into(),
            binary_size: 10,
            binary_mtime_ms: 20,
            threshold: DEFAULT_THRESHOLD,
            curve: vec![
                WorkersPointDoc {
                    workers: 1,
                    execs_per_s: 41_000.0,
                    gain: 0.0,
                    accepted: true,
                },
                WorkersPointDoc {
                    workers: 2,
                    execs_per_s: 80_000.0,
                    gain: 0.951,
                    accepted: true,
                },
                WorkersPointDoc {
                    workers: 3,
                    execs_per_s: 82_000.0,
                    gain: 0.05,
                    accepted: false,
                },
            ],
            ..WorkersDoc::default()
        }
    }

    fn target(name: &str, binary: PathBuf) -> CampaignTarget {
        crate::campaign::test_target(name, binary)
    }

    /// On the real `clean` fixture: measured once and stored, the real corpus untouched;
    /// reused while its target is in the run, even when another target's corpus is now
    /// larger; measured again on other cores or when asked.
    #[test]
    fn measured_on_a_scratch_corpus_kept_and_reused_while_it_holds() {
        let dir = fleet_testkit::state_temp_dir();
        let layout = Layout::new(dir.path());
        let clean = target("clean", fleet_testkit::rust_fixture("clean"));
        let corpus = layout.corpus_dir("clean");
        fs::create_dir_all(&corpus).unwrap();
        fs::write(corpus.join("a"), b"seed").unwrap();
        let mut lines = Vec::new();
        let c = calibrate(&layout, &[&clean], 1, false, &mut |l| {
            lines.push(l.to_string())
        })
        .unwrap();
        assert_eq!(c.reused, None);
        assert_eq!((c.doc.workers, c.doc.cores), (1, 1));
        assert_eq!(c.doc.curve.len(), 1);
        assert!(c.doc.curve[0].execs_per_s > 100.0, "{:?}", c.doc);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].starts_with("workers: measuring clean with 1 copy: "));
        // The real corpus is as it was; the scratch dir is gone.
        assert_eq!(fs::read_dir(&corpus).unwrap().count(), 1);
        assert!(!layout.root().join("calibrate").exists());

        // Another target with a larger corpus joins the run: still reused.
        // The same binary under another name: a target that does not crash.
        let other = target("other", fleet_testkit::rust_fixture("clean"));
        let other_corpus = layout.corpus_dir("other");
        fs::create_dir_all(&other_corpus).unwrap();
        for i in 0..3 {
            fs::write(other_corpus.join(i.to_string()), b"x").unwrap();
        }
        let mut quiet = |l: &str| panic!("measured again: {l}");
        let again = calibrate(&layout, &[&other, &clean], 1, false, &mut quiet).unwrap();
        assert!(again.reused.is_some());
        assert_eq!(again.doc, c.doc);

        // Asked, it measures again (the largest corpus first); so do other cores.
        let mut heard = 0;
        let fresh = calibrate(&layout, &[&clean, &other], 1, true, &mut |_| heard += 1).unwrap();
        assert_eq!(
            (fresh.reused, fresh.doc.target.as_str(), heard),
            (None, "other", 1)
        );
        let mut heard = 0;
        let more = calibrate(&layout, &[&other], 2, false, &mut |_| heard += 1).unwrap();
        assert_eq!((more.reused, more.doc.cores, heard), (None, 2, 2));
    }

    /// A target that crashes at once measured its bug: an error that says so, nothing
    /// stored.
    #[test]
    fn a_copy_that_crashes_at_once_is_no_measurement() {
        let dir = fleet_testkit::state_temp_dir();
        let layout = Layout::new(dir.path());
        let crash = target("crash", fleet_testkit::rust_fixture("crash_magic"));
        let corpus = layout.corpus_dir("crash");
        fs::create_dir_all(&corpus).unwrap();
        fs::write(corpus.join("magic"), b"FUZZ").unwrap();
        let e = calibrate(&layout, &[&crash], 1, false, &mut |_| {}).unwrap_err();
        let e = e.to_string();
        assert!(
            e.starts_with("measuring crash (1 at once): a copy ended with"),
            "{e}"
        );
        assert!(e.contains("panicked"), "{e}");
        let db = Db::open(&layout.db_path()).unwrap();
        assert_eq!(db.meta(WORKERS_META).unwrap(), None);
        assert!(!layout.root().join("calibrate").exists());
    }

    #[test]
    fn a_measurement_holds_for_the_same_target_build_and_cores_only() {
        let d = doc();
        assert!(still_holds(&d, "t", (10, 20), 4));
        assert!(!still_holds(&d, "u", (10, 20), 4), "another target");
        assert!(!still_holds(&d, "t", (11, 20), 4), "a new size");
        assert!(!still_holds(&d, "t", (10, 21), 4), "a new mtime");
        assert!(!still_holds(&d, "t", (10, 20), 8), "other cores");
        assert!(
            !still_holds(&d, "t", (10, 20), 1),
            "more workers than cores"
        );
    }

    #[test]
    fn the_line_shows_the_choice_and_the_curve() {
        let c = Calibration {
            doc: doc(),
            reused: None,
        };
        assert_eq!(
            line(&c),
            "workers: 2 of 4 cores, measured on t: 1 → 41k/s, 2 → 80k/s (+95 %), 3 → 82k/s (+5 %, not taken)"
        );
        let c = Calibration {
            reused: Some(Duration::from_secs(3 * 3600)),
            ..c
        };
        assert!(
            line(&c).starts_with("workers: 2 of 4 cores, measured 3h ago on t"),
            "{}",
            line(&c)
        );
    }
}
