//! Corpus minimization that never loses coverage: libFuzzer's merge into a fresh
//! directory, then a replay of the old and the new corpus; the new one replaces the old
//! only when its feature count is at least the old one's. Inputs leave a corpus only
//! through this verified swap.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use fleet_engine::libfuzzer::{
    LogLine, MergeOptions, ReplayInputs, ReplayOptions, classify_artifact, merge_command,
    parse_line, replay_command,
};
use fleet_engine::{EngineCommand, FindingKind, libfuzzer::Limits};
use fleet_proc::Spawn;

use crate::background::Background;
use fleet_store::Layout;

use crate::campaign::CampaignTarget;
use crate::corpus;

#[derive(Debug, thiserror::Error)]
pub enum MinimizeError {
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
    #[error("{what} failed ({status}); last output:\n{tail}")]
    Engine {
        what: String,
        status: String,
        tail: String,
    },
    #[error("{what} printed no feature count (no INITED line); last output:\n{tail}")]
    NoFeatures { what: String, tail: String },
    #[error("stopped before {next}; the corpus is as it was")]
    Stopped { next: String },
    #[error("{what} was stopped: the campaign is stopping")]
    Cancelled { what: String },
}

/// What a minimization found and did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MinimizeOutcome {
    pub files_before: u64,
    pub bytes_before: u64,
    pub features_before: u64,
    pub files_after: u64,
    pub bytes_after: u64,
    pub features_after: u64,
    /// Whether the merged corpus replaced the old one.
    pub replaced: bool,
}

/// Merges `target`'s corpus into a minimal one and swaps it in if no feature is lost.
/// The caller makes sure no worker writes the corpus meanwhile. A corpus entry that
/// crashes, hangs or runs out of memory on the way is a finding, not a leftover: its
/// artifact goes to the target's incoming dir (the caller's sweep takes it in) and the
/// entry to quarantine, whether or not the minimization succeeds.
pub fn minimize(
    layout: &Layout,
    target: &CampaignTarget,
    progress: &mut dyn FnMut(&str),
) -> Result<MinimizeOutcome, MinimizeError> {
    minimize_until(layout, target, progress, &|| false)
}

/// Minimizes `target`'s corpus on a background worker of its own (`minimize-<target>`,
/// at nice 19 like every step), handing the outcome to `done`. A stop asked of the
/// worker ([`Background::stop`]) ends it before its next step, the corpus as it was.
pub fn spawn(
    layout: Layout,
    target: CampaignTarget,
    done: impl FnOnce(Result<MinimizeOutcome, MinimizeError>) + Send + 'static,
) -> io::Result<Background<()>> {
    let name = format!("minimize-{}", target.name);
    Background::spawn(&name, move |inbox| {
        done(minimize_until(&layout, &target, &mut |_| {}, &|| {
            inbox.stopping()
        }))
    })
}

/// [`minimize`], checking `stopped` before each step (measuring, merging, measuring
/// again, swapping).
pub fn minimize_until(
    layout: &Layout,
    target: &CampaignTarget,
    progress: &mut dyn FnMut(&str),
    stopped: &dyn Fn() -> bool,
) -> Result<MinimizeOutcome, MinimizeError> {
    let work = layout.root().join("minimize").join(&target.name);
    // What an interrupted minimization left: its corpus back, its findings taken out.
    recover(layout, &target.name).map_err(|source| MinimizeError::Io {
        what: "cannot clear what an interrupted minimization left".into(),
        source,
    })?;
    let result = merge_and_swap(layout, target, &work, progress, stopped);
    let rescued = rescue_findings(layout, &target.name, &work.join("artifacts"));
    let outcome = result?;
    rescued.map_err(|source| MinimizeError::Io {
        what: "cannot move the merge's findings to the incoming dir (left in the merge dir)".into(),
        source,
    })?;
    fs::remove_dir_all(&work).map_err(|source| MinimizeError::Io {
        what: "cannot remove the merge dir".into(),
        source,
    })?;
    if let Some(parent) = work.parent() {
        // Only succeeds when no other target's merge is in progress.
        let _ = fs::remove_dir(parent);
    }
    Ok(outcome)
}

/// Moves every artifact a merge or replay wrote into the target's incoming dir, and the
/// corpus entry it names (`crash-<sha1>`: the corpus's own name for it) into quarantine,
/// so the next minimization and the next worker do not stop on it again; a slow unit
/// stays in the corpus. An error when an artifact could not be moved (it is left where it
/// is, and so is the merge dir).
fn rescue_findings(layout: &Layout, target: &str, artifacts: &Path) -> io::Result<()> {
    let Ok(entries) = fs::read_dir(artifacts) else {
        return Ok(());
    };
    let incoming = layout.incoming_dir(target);
    fs::create_dir_all(&incoming)?;
    let mut failed = None;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        if let Err(e) = fs::rename(entry.path(), incoming.join(&name)) {
            failed = Some(e);
            continue;
        }
        let artifact = name.to_str().and_then(classify_artifact);
        if let Some((kind, sha1)) = artifact
            && kind != FindingKind::SlowUnit
        {
            corpus::quarantine(
                &layout.corpus_dir(target),
                &layout.quarantine_dir(target),
                sha1,
            )?;
        }
    }
    failed.map_or(Ok(()), Err)
}

fn merge_and_swap(
    layout: &Layout,
    target: &CampaignTarget,
    work: &Path,
    progress: &mut dyn FnMut(&str),
    stopped: &dyn Fn() -> bool,
) -> Result<MinimizeOutcome, MinimizeError> {
    let check = |next: &str| match stopped() {
        true => Err(MinimizeError::Stopped { next: next.into() }),
        false => Ok(()),
    };
    let corpus_dir = layout.corpus_dir(&target.name);
    let io_err = |what: &str| {
        let what = what.to_string();
        move |source| MinimizeError::Io { what, source }
    };
    crate::worker::reset_dir(work).map_err(io_err("cannot prepare the merge dir"))?;
    let merged = work.join("merged");
    let artifacts = work.join("artifacts");
    fs::create_dir_all(&merged).map_err(io_err("cannot create the merge dir"))?;
    fs::create_dir_all(&artifacts).map_err(io_err("cannot create the merge artifact dir"))?;
    let (files_before, bytes_before) = corpus::size(&corpus_dir);

    check("measuring the corpus")?;
    progress(&format!("measuring the corpus: {files_before} files"));
    let features_before = features(target, &corpus_dir, &artifacts, "replaying the old corpus")?;
    check("the merge")?;
    progress(&format!("merging ({features_before} features)"));
    let merge = merge_command(&MergeOptions {
        binary: target.binary.clone(),
        output_dir: merged.clone(),
        input_dirs: vec![corpus_dir.clone()],
        control_file: work.join("merge.ctl"),
        set_cover: false,
        artifact_prefix: artifacts.clone(),
        limits: limits(target),
        extra_args: Vec::new(),
        env: env(target),
    });
    run(&merge, "the merge", &mut |line| {
        if line.starts_with("MERGE-OUTER:") {
            progress(line);
        }
    })?;
    check("measuring the merged corpus")?;
    let features_after = features(target, &merged, &artifacts, "replaying the merged corpus")?;
    let (files_after, bytes_after) = corpus::size(&merged);
    let mut outcome = MinimizeOutcome {
        files_before,
        bytes_before,
        features_before,
        files_after,
        bytes_after,
        features_after,
        replaced: false,
    };
    check("the swap")?;
    if features_after >= features_before {
        // Swap by renames on one filesystem: the corpus dir is whole at every moment
        // but the one between the two renames, and a crash there leaves both on disk.
        let old = work.join("old");
        fs::rename(&corpus_dir, &old).map_err(io_err("cannot move the old corpus aside"))?;
        fs::rename(&merged, &corpus_dir).map_err(io_err("cannot move the merged corpus in"))?;
        outcome.replaced = true;
    }
    Ok(outcome)
}

fn limits(t: &CampaignTarget) -> Limits {
    Limits {
        rss_limit_mb: t.rss_limit_mb,
        malloc_limit_mb: None,
        timeout_s: t.timeout_s,
    }
}

fn env(t: &CampaignTarget) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    t.env.iter().map(|(k, v)| (k.into(), v.into())).collect()
}

/// The features a corpus covers: libFuzzer's `ft:` once it has loaded the corpus.
pub fn features(
    target: &CampaignTarget,
    dir: &Path,
    artifacts: &Path,
    what: &str,
) -> Result<u64, MinimizeError> {
    features_until(target, dir, artifacts, what, None)
}

/// [`features`], ended early (its whole process group stopped) by `cancel`.
pub fn features_until(
    target: &CampaignTarget,
    dir: &Path,
    artifacts: &Path,
    what: &str,
    cancel: Option<&fleet_proc::Cancel>,
) -> Result<u64, MinimizeError> {
    let cmd = replay_command(&ReplayOptions {
        binary: target.binary.clone(),
        inputs: ReplayInputs::Dirs(vec![dir.to_path_buf()]),
        artifact_prefix: artifacts.to_path_buf(),
        limits: limits(target),
        extra_args: Vec::new(),
        env: env(target),
    });
    let mut ft = None;
    let tail = run_within(&cmd, what, STEP_DEADLINE, cancel, &mut |line| {
        if let Ok(Some(LogLine::Status(s))) = parse_line(line) {
            ft = ft.max(s.ft);
        }
    })?;
    ft.ok_or_else(|| MinimizeError::NoFeatures {
        what: what.to_string(),
        tail,
    })
}

/// How long one step of a minimization (a replay, the merge) may run. libFuzzer's
/// `-timeout` bounds each input and a merge resumes past a crashing one, so this only
/// catches what those cannot (a target blocked in a system call that ignores the
/// alarm, a stuck symbolizer); the corpus is left as it was.
pub const STEP_DEADLINE: Duration = Duration::from_secs(60 * 60);
/// Between SIGTERM and SIGKILL when a step passes its deadline.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// The most output kept of a step (for its error), head and tail.
const MAX_OUTPUT_BYTES: usize = 1 << 20;
/// Lines of output an error shows.
const TAIL_LINES: usize = 20;

/// Runs an engine command to completion within [`STEP_DEADLINE`], at nice 19 (the
/// fuzzers come first), in its own process group that dies with the thread that
/// started it; feeds its output lines to `on_line` and returns the last lines.
fn run(
    cmd: &EngineCommand,
    what: &str,
    on_line: &mut dyn FnMut(&str),
) -> Result<String, MinimizeError> {
    run_within(cmd, what, STEP_DEADLINE, None, on_line)
}

fn run_within(
    cmd: &EngineCommand,
    what: &str,
    deadline: Duration,
    cancel: Option<&fleet_proc::Cancel>,
    on_line: &mut dyn FnMut(&str),
) -> Result<String, MinimizeError> {
    let mut command = Command::new(&cmd.program);
    command
        .args(&cmd.args)
        .envs(cmd.env.iter().map(|(k, v)| (k, v)));
    let mut tail: std::collections::VecDeque<String> = std::collections::VecDeque::new();
    let done = fleet_proc::run(
        Spawn::new(command).nice(Some(19)),
        &fleet_proc::Limits {
            deadline,
            grace: STOP_GRACE,
            max_output_bytes: MAX_OUTPUT_BYTES,
            cancel: cancel.cloned(),
        },
        &mut |line| {
            on_line(line);
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line.to_string());
        },
    )
    .map_err(|e| MinimizeError::Io {
        what: format!("running {what}"),
        source: io::Error::other(e),
    })?;
    let tail = Vec::from(tail).join("\n");
    if done.cancelled {
        return Err(MinimizeError::Cancelled {
            what: what.to_string(),
        });
    }
    if done.deadline_exceeded {
        return Err(MinimizeError::Engine {
            what: what.to_string(),
            status: format!("stopped at its deadline of {}s", deadline.as_secs()),
            tail,
        });
    }
    if !done.status.success() {
        return Err(MinimizeError::Engine {
            what: what.to_string(),
            status: done.status.to_string(),
            tail,
        });
    }
    Ok(tail)
}

/// Puts a corpus back if fuzzfleet died between the two renames of a swap, takes the
/// findings of an interrupted merge out, and removes what else it left. Runs before a
/// target's workers start and before each minimization.
pub fn recover(layout: &Layout, target: &str) -> io::Result<()> {
    let corpus_dir = layout.corpus_dir(target);
    let work = layout.root().join("minimize").join(target);
    if !work.exists() {
        return Ok(());
    }
    let old = work.join("old");
    // The swap stopped between its renames: the old corpus is the only one. A corpus dir
    // made since (empty: nothing ran on it) gives way to it.
    let empty = fs::read_dir(&corpus_dir).map_or(true, |mut d| d.next().is_none());
    if old.is_dir() && empty {
        if corpus_dir.exists() {
            fs::remove_dir(&corpus_dir)?;
        }
        fs::rename(&old, &corpus_dir)?;
    }
    rescue_findings(layout, target, &work.join("artifacts"))?;
    fs::remove_dir_all(&work)
}

/// Copies every file of `src` (and one level of subdirectories: a cargo-fuzz `corpus/`
/// tree works) into the target's corpus, content-addressed, skipping duplicates.
pub fn import(layout: &Layout, target: &str, src: &Path) -> io::Result<corpus::ImportStats> {
    corpus::import_dir(
        src,
        &layout.corpus_dir(target),
        &layout.quarantine_dir(target),
    )
}

/// Copies a target's corpus into `dest/<target>/` as plain files (a git repository can
/// hold them, one directory per target); files already there are left alone.
pub fn export(layout: &Layout, target: &str, dest: &Path) -> io::Result<u64> {
    let out: PathBuf = dest.join(target);
    fs::create_dir_all(&out)?;
    let mut copied = 0;
    let src = layout.corpus_dir(target);
    let Ok(entries) = fs::read_dir(&src) else {
        return Ok(0);
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') || !entry.file_type()?.is_file() {
            continue;
        }
        let to = out.join(&name);
        if !to.exists() {
            fleet_store::write_atomic(&to, &fs::read(entry.path())?)?;
            copied += 1;
        }
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A merge dir as a swap cut off between its renames leaves it: the old corpus in
    /// `old`, and an artifact of the merge.
    fn cut_swap(layout: &Layout) -> (PathBuf, String) {
        let work = layout.root().join("minimize").join("t");
        fs::create_dir_all(work.join("old")).unwrap();
        fs::write(work.join("old").join("entry"), b"the only copy").unwrap();
        fs::create_dir_all(work.join("artifacts")).unwrap();
        let artifact = format!("crash-{}", fleet_store::sha1_hex(b"boom"));
        fs::write(work.join("artifacts").join(&artifact), b"boom").unwrap();
        (work, artifact)
    }

    fn target(binary: &str) -> CampaignTarget {
        crate::campaign::test_target("t", binary)
    }

    #[test]
    fn a_stopped_minimization_ends_before_its_next_step_and_keeps_the_corpus() {
        let dir = fleet_testkit::state_temp_dir();
        let layout = Layout::new(dir.path());
        fs::create_dir_all(layout.corpus_dir("t")).unwrap();
        fs::write(layout.corpus_dir("t").join("entry"), b"kept").unwrap();
        let err =
            minimize_until(&layout, &target("/nonexistent"), &mut |_| {}, &|| true).unwrap_err();
        assert!(
            matches!(&err, MinimizeError::Stopped { next } if next == "measuring the corpus"),
            "{err}"
        );
        assert_eq!(
            fs::read(layout.corpus_dir("t").join("entry")).unwrap(),
            b"kept"
        );
    }

    #[test]
    fn a_background_minimization_hands_its_outcome_over_and_joins() {
        let dir = fleet_testkit::state_temp_dir();
        let layout = Layout::new(dir.path());
        fs::create_dir_all(layout.corpus_dir("t")).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let worker = spawn(layout, target("/nonexistent/fuzz-target"), move |outcome| {
            tx.send(outcome).unwrap()
        })
        .unwrap();
        worker.join(Duration::from_secs(60)).unwrap();
        let err = rx.recv().unwrap().unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/fuzz-target"),
            "{err}"
        );
    }

    #[test]
    fn a_step_past_its_deadline_is_stopped_with_its_whole_group() {
        let mut cmd = EngineCommand::new("/bin/sh");
        cmd.args = vec![
            "-c".into(),
            "sleep 100 & echo \"child $!\" >&2; echo MERGE-OUTER: 1 >&2; wait".into(),
        ];
        let mut lines = Vec::new();
        let start = std::time::Instant::now();
        // Long enough for a loaded machine to start the shell and print both lines.
        let err = run_within(&cmd, "the merge", Duration::from_secs(3), None, &mut |l| {
            lines.push(l.to_string())
        })
        .unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(30));
        let text = err.to_string();
        assert!(text.contains("stopped at its deadline"), "{text}");
        assert!(text.contains("MERGE-OUTER: 1"), "{text}");
        assert_eq!(lines[1], "MERGE-OUTER: 1");
        let child: i32 = lines[0].strip_prefix("child ").unwrap().parse().unwrap();
        // SIGKILLed with its group: gone, or a zombie of an init that does not reap.
        let gone = || fleet_sys::procfs::pid_stat(child).is_none_or(|s| s.is_zombie());
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while !gone() && std::time::Instant::now() < until {
            std::thread::yield_now();
        }
        assert!(gone(), "the merge's child {child} outlived it");
    }

    #[test]
    fn a_swap_cut_between_its_renames_gets_its_corpus_back_though_an_empty_one_was_made() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        let (work, artifact) = cut_swap(&layout);
        // A start that made the target's dirs before recovering.
        fs::create_dir_all(layout.corpus_dir("t")).unwrap();
        recover(&layout, "t").unwrap();
        assert_eq!(
            fs::read(layout.corpus_dir("t").join("entry")).unwrap(),
            b"the only copy"
        );
        assert!(layout.incoming_dir("t").join(&artifact).is_file());
        assert!(!work.exists());
    }

    #[test]
    fn a_finished_swap_keeps_the_merged_corpus_and_the_merges_findings() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        let (work, artifact) = cut_swap(&layout);
        fs::create_dir_all(layout.corpus_dir("t")).unwrap();
        fs::write(layout.corpus_dir("t").join("merged"), b"m").unwrap();
        recover(&layout, "t").unwrap();
        let left: Vec<_> = fs::read_dir(layout.corpus_dir("t"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["merged"]);
        assert!(layout.incoming_dir("t").join(&artifact).is_file());
        assert!(!work.exists());
    }
}
