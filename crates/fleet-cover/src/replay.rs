//! Replays a corpus through a coverage binary, each input once, so that every
//! input's coverage reaches a raw profile. libFuzzer runs the files it is given
//! and exits; an input that crashes kills its process before the profile runtime
//! writes anything, so inputs go in chunks, and a chunk that fails is replayed
//! one input per process: the crashing input is counted and the rest still count.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use fleet_engine::libfuzzer::{CoverageReplayOptions, Limits, coverage_replay_command};
use fleet_proc::Spawn;

use crate::CoverError;
use crate::error::io_err;

/// Inputs per process: few enough that a chunk holding a crash is cheap to redo,
/// and the command line stays far below the kernel's limit.
pub const CHUNK: usize = 200;

/// Added to a run's deadline (each input's `-timeout` times the inputs): libFuzzer
/// stops a slow input itself, so this deadline only catches a binary that ignores the
/// alarm (blocked in a system call).
const DEADLINE_SLACK: Duration = Duration::from_secs(60);
/// Between SIGTERM and SIGKILL for a run past its deadline.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// How a replay went.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReplayStats {
    /// Inputs replayed.
    pub inputs: usize,
    /// Inputs whose process crashed or timed out (their coverage is lost).
    pub crashed: usize,
    /// Raw profiles written.
    pub profiles: usize,
}

/// What a replay runs.
#[derive(Debug, Clone)]
pub struct Replay<'a> {
    pub binary: &'a Path,
    /// Where `%m-%p.profraw` files land; must exist and be empty.
    pub raw_dir: &'a Path,
    /// libFuzzer's per-input timeout (`-timeout`).
    pub timeout_s: u64,
    pub rss_limit_mb: u64,
    /// The replay's combined stdout and stderr, for the curious.
    pub log: &'a Path,
}

/// The regular files directly in `dirs` (missing dirs are skipped), dir by dir and
/// sorted by name within each, so a replay's order and chunks are the same each
/// time; an input whose content an earlier one had (a seed the corpus imported) is
/// left out.
pub fn collect_inputs(dirs: &[PathBuf]) -> Result<Vec<PathBuf>, CoverError> {
    let mut inputs = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for dir in dirs {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err("cannot read", dir)(e)),
        };
        let mut files = Vec::new();
        for entry in entries {
            let path = entry.map_err(io_err("cannot read", dir))?.path();
            if path.is_file() {
                files.push(path);
            }
        }
        files.sort();
        for path in files {
            let bytes = fs::read(&path).map_err(io_err("cannot read", &path))?;
            if seen.insert(fleet_store::sha1_hex(&bytes)) {
                inputs.push(path);
            }
        }
    }
    Ok(inputs)
}

/// Replays `inputs`, calling `progress(done, total)` after each chunk.
pub fn replay(
    r: &Replay<'_>,
    inputs: &[PathBuf],
    progress: &mut dyn FnMut(usize, usize),
) -> Result<ReplayStats, CoverError> {
    let log = fs::File::create(r.log).map_err(io_err("cannot create", r.log))?;
    let mut stats = ReplayStats::default();
    let staging = r.raw_dir.join("staging");
    for chunk in inputs.chunks(CHUNK) {
        if run_once(r, &log, &staging, chunk)? {
            stats.profiles += keep_profiles(&staging, r.raw_dir, stats.profiles)?;
        } else {
            for input in chunk {
                if run_once(r, &log, &staging, std::slice::from_ref(input))? {
                    stats.profiles += keep_profiles(&staging, r.raw_dir, stats.profiles)?;
                } else {
                    stats.crashed += 1;
                }
            }
        }
        stats.inputs += chunk.len();
        progress(stats.inputs, inputs.len());
    }
    let _ = fs::remove_dir(&staging);
    Ok(stats)
}

/// Runs the binary on `inputs` with its profile going to `staging`; true when it
/// exited cleanly. A failed run's partial profile (if any) is discarded.
fn run_once(
    r: &Replay<'_>,
    log: &fs::File,
    staging: &Path,
    inputs: &[PathBuf],
) -> Result<bool, CoverError> {
    if staging.exists() {
        fs::remove_dir_all(staging).map_err(io_err("cannot clear", staging))?;
    }
    fs::create_dir_all(staging).map_err(io_err("cannot create", staging))?;
    let out = log.try_clone().map_err(io_err("cannot write", r.log))?;
    let err = log.try_clone().map_err(io_err("cannot write", r.log))?;
    let cmd = coverage_replay_command(&CoverageReplayOptions {
        binary: r.binary.to_path_buf(),
        files: inputs.to_vec(),
        limits: Limits {
            rss_limit_mb: r.rss_limit_mb,
            malloc_limit_mb: None,
            timeout_s: r.timeout_s,
        },
        env: vec![(
            "LLVM_PROFILE_FILE".into(),
            staging.join("%m-%p.profraw").into_os_string(),
        )],
    });
    let spawn_error = |source| CoverError::Spawn {
        program: r.binary.display().to_string(),
        source,
    };
    let mut command = Command::new(&cmd.program);
    command
        .args(&cmd.args)
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    // Its own process group, as every child fuzzfleet starts, killed whole at the
    // deadline (a run cut short counts as failed: its profile is discarded).
    let mut group = Spawn::new(command).spawn().map_err(spawn_error)?;
    let deadline = Duration::from_secs(r.timeout_s.saturating_mul(inputs.len() as u64))
        .saturating_add(DEADLINE_SLACK);
    let ended = group
        .wait_deadline(deadline, STOP_GRACE)
        .map_err(spawn_error)?;
    Ok(!ended.timed_out && ended.status.success())
}

/// Moves the profiles in `staging` into `raw_dir`, numbered from `first` so a
/// reused pid can never overwrite an earlier profile; returns how many.
fn keep_profiles(staging: &Path, raw_dir: &Path, first: usize) -> Result<usize, CoverError> {
    let mut kept = 0;
    for entry in fs::read_dir(staging).map_err(io_err("cannot read", staging))? {
        let path = entry.map_err(io_err("cannot read", staging))?.path();
        let Some(name) = path.file_name() else {
            continue;
        };
        let mut numbered = std::ffi::OsString::from(format!("{}-", first + kept));
        numbered.push(name);
        let dest = raw_dir.join(numbered);
        fs::rename(&path, &dest).map_err(io_err("cannot move", &path))?;
        kept += 1;
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_the_files_of_existing_dirs_sorted() {
        let a = tempfile::tempdir().unwrap();
        fs::write(a.path().join("b"), "1").unwrap();
        fs::write(a.path().join("a"), "2").unwrap();
        fs::create_dir(a.path().join("sub")).unwrap();
        let inputs = collect_inputs(&[a.path().to_path_buf(), a.path().join("missing")]).unwrap();
        assert_eq!(inputs, [a.path().join("a"), a.path().join("b")]);
    }
}
