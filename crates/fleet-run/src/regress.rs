//! Regression replay, the command a user's CI runs on each change: every corpus entry
//! and every kept finding input of a target, run once against the current build.

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fleet_engine::libfuzzer::{Limits, ReplayInputs, ReplayOptions, classify_exit, replay_command};
use fleet_proc::Spawn;
use fleet_store::{Db, Layout, StoreError};

use crate::campaign::CampaignTarget;

/// How long a replay past its deadline has between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// What replaying one target found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegressResult {
    pub target: String,
    pub corpus_files: u64,
    /// The corpus entry that crashed the corpus replay, if any (a replay stops at the first).
    pub corpus_crash: Option<String>,
    pub findings: u64,
    /// Finding inputs that still crash: (finding id, input path, how it ended).
    pub still_crashing: Vec<(i64, String, String)>,
    pub seconds: u64,
}

impl RegressResult {
    pub fn passed(&self) -> bool {
        self.corpus_crash.is_none() && self.still_crashing.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegressError {
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Replays the corpus and every finding input of `target`.
pub fn regress(
    layout: &Layout,
    db: &Db,
    target: &CampaignTarget,
) -> Result<RegressResult, RegressError> {
    let started = Instant::now();
    let scratch = layout.root().join("regress").join(&target.name);
    let _ = fs::remove_dir_all(&scratch);
    let _ = fs::create_dir_all(&scratch);
    let corpus = layout.corpus_dir(&target.name);
    let mut result = RegressResult {
        target: target.name.clone(),
        corpus_files: crate::corpus::size(&corpus).0,
        ..RegressResult::default()
    };
    if result.corpus_files > 0 {
        let (ok, _) = replay(target, ReplayInputs::Dirs(vec![corpus]), &scratch)?;
        if !ok {
            // The replay wrote the crashing input as an artifact named by its hash.
            result.corpus_crash = fs::read_dir(&scratch)
                .ok()
                .and_then(|d| {
                    d.flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .next()
                })
                .or_else(|| Some("(an entry; see the replay output)".into()));
        }
    }
    for f in db
        .findings()?
        .into_iter()
        .filter(|f| f.target == target.name)
    {
        // Slow units are findings about speed, not failures; a recovered sanitizer report
        // has no input to replay (its file is the report).
        if f.kind == "slow"
            || f.kind == fleet_crash::RECOVERABLE_KIND
            || !Path::new(&f.input_path).exists()
        {
            continue;
        }
        result.findings += 1;
        let (ok, how) = replay(
            target,
            ReplayInputs::Files(vec![PathBuf::from(&f.input_path)]),
            &scratch,
        )?;
        if !ok {
            result
                .still_crashing
                .push((f.id, f.input_path.clone(), how));
        }
    }
    let _ = fs::remove_dir_all(&scratch);
    if let Some(parent) = scratch.parent() {
        let _ = fs::remove_dir(parent);
    }
    result.seconds = started.elapsed().as_secs();
    Ok(result)
}

/// Runs one replay; (passed, how it ended).
fn replay(
    target: &CampaignTarget,
    inputs: ReplayInputs,
    artifacts: &Path,
) -> Result<(bool, String), RegressError> {
    let cmd = replay_command(&ReplayOptions {
        binary: target.binary.clone(),
        inputs,
        artifact_prefix: artifacts.to_path_buf(),
        limits: Limits {
            rss_limit_mb: target.rss_limit_mb,
            malloc_limit_mb: None,
            timeout_s: target.timeout_s,
        },
        extra_args: Vec::new(),
        env: target
            .env
            .iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect(),
    });
    let mut command = Command::new(&cmd.program);
    command
        .args(&cmd.args)
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let spawn_error = |source| RegressError::Spawn {
        program: cmd.program.clone(),
        source,
    };
    let mut group = Spawn::new(command).spawn().map_err(spawn_error)?;
    // libFuzzer enforces -timeout per input; this only guards against a target that
    // ignores it (blocked in a syscall), so it is generous. Past it the whole group
    // goes (SIGTERM, a grace, SIGKILL), whatever the target started.
    let deadline = Duration::from_secs(target.timeout_s * 4 + 60);
    let ended = group
        .wait_deadline(deadline, STOP_GRACE)
        .map_err(spawn_error)?;
    if ended.timed_out {
        return Ok((false, "hung past libFuzzer's timeout; killed".into()));
    }
    let how = classify_exit(ended.status.code(), ended.status.signal());
    Ok((ended.status.success(), how.to_string()))
}
