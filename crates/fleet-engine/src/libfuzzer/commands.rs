//! Commands for non-fuzzing libFuzzer runs: replaying a corpus, reproducing one input,
//! minimizing a crashing input, and merging corpora.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use super::flags::ExtraFlag;
use super::options::{artifact_prefix_flag, flag, path_flag, push_limits};
use super::quirks::{DEFAULT_RSS_LIMIT_MB, DEFAULT_TIMEOUT_S, FLAG_MINIMIZE_CRASH};
use crate::EngineCommand;

/// Resource limits shared by every kind of run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub rss_limit_mb: u64,
    pub malloc_limit_mb: Option<u64>,
    pub timeout_s: u64,
}

impl Default for Limits {
    /// libFuzzer's own defaults.
    fn default() -> Self {
        Self {
            rss_limit_mb: DEFAULT_RSS_LIMIT_MB,
            malloc_limit_mb: None,
            timeout_s: DEFAULT_TIMEOUT_S,
        }
    }
}

/// What a replay runs over. libFuzzer decides its mode from its positional
/// arguments: if every one is a file it runs them one by one and writes
/// no artifact; otherwise it loads them as corpus directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayInputs {
    /// Corpus directories, each input executed once (`-runs=0`); a crash
    /// stops the replay and writes an artifact under `artifact_prefix`.
    /// Nothing is written into the directories (`replay-dir.log`).
    Dirs(Vec<PathBuf>),
    /// Individual files, each executed once (`-runs=1`; libFuzzer runs a
    /// file at least once whatever `-runs` says). Each prints `Running:`
    /// and, if it survives, `Executed … in N ms` (`replay-files.log`), so
    /// the last `Running:` without `Executed` names a crashing input.
    Files(Vec<PathBuf>),
}

/// A replay: regression runs over a corpus or known inputs, seed checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayOptions {
    pub binary: PathBuf,
    pub inputs: ReplayInputs,
    /// Where a directory replay writes the artifact of a crashing input.
    pub artifact_prefix: PathBuf,
    pub limits: Limits,
    pub extra_args: Vec<ExtraFlag>,
    pub env: Vec<(OsString, OsString)>,
}

/// The command replaying `opts.inputs` without fuzzing.
pub fn replay_command(opts: &ReplayOptions) -> EngineCommand {
    let mut args = vec![artifact_prefix_flag(&opts.artifact_prefix)];
    push_limits(
        &mut args,
        opts.limits.rss_limit_mb,
        opts.limits.malloc_limit_mb,
        opts.limits.timeout_s,
    );
    let paths = match &opts.inputs {
        ReplayInputs::Dirs(dirs) => {
            args.push(flag("runs", 0));
            dirs
        }
        ReplayInputs::Files(files) => {
            args.push(flag("runs", 1));
            files
        }
    };
    push_extra_and_paths(&mut args, &opts.extra_args, paths);
    EngineCommand {
        program: opts.binary.clone(),
        args,
        env: opts.env.clone(),
    }
}

/// Running files once each for what they cover (a coverage build's replay): the
/// coverage comes from the profile runtime, so libFuzzer only has to run every file
/// (`-runs=1`; in this mode it writes no artifact, so none is asked for) within its
/// limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoverageReplayOptions {
    pub binary: PathBuf,
    pub files: Vec<PathBuf>,
    pub limits: Limits,
    pub env: Vec<(OsString, OsString)>,
}

/// The command running each of `opts.files` once.
pub fn coverage_replay_command(opts: &CoverageReplayOptions) -> EngineCommand {
    let mut args = Vec::new();
    push_limits(
        &mut args,
        opts.limits.rss_limit_mb,
        opts.limits.malloc_limit_mb,
        opts.limits.timeout_s,
    );
    args.push(flag("runs", 1));
    push_extra_and_paths(&mut args, &[], &opts.files);
    EngineCommand {
        program: opts.binary.clone(),
        args,
        env: opts.env.clone(),
    }
}

/// Running one input to confirm a finding and capture its full report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReproduceOptions {
    pub binary: PathBuf,
    pub input: PathBuf,
    /// How many times to run it (flaky crashes need more than one); at
    /// least 1 is passed, as libFuzzer would run it once anyway.
    pub runs: u32,
    pub limits: Limits,
    pub extra_args: Vec<ExtraFlag>,
    pub env: Vec<(OsString, OsString)>,
}

/// The command running `opts.input` `opts.runs` times. In this mode
/// libFuzzer writes no artifact (`reproduce-crash.log`): the report on
/// stderr and the exit status are the result.
pub fn reproduce_command(opts: &ReproduceOptions) -> EngineCommand {
    let mut args = Vec::new();
    push_limits(
        &mut args,
        opts.limits.rss_limit_mb,
        opts.limits.malloc_limit_mb,
        opts.limits.timeout_s,
    );
    args.push(flag("runs", opts.runs.max(1)));
    push_extra_and_paths(
        &mut args,
        &opts.extra_args,
        std::slice::from_ref(&opts.input),
    );
    EngineCommand {
        program: opts.binary.clone(),
        args,
        env: opts.env.clone(),
    }
}

/// A crash minimization ([`FLAG_MINIMIZE_CRASH`]): libFuzzer shrinks one crashing
/// input step by step, each step writing the smaller input it found to
/// `exact_artifact_path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinimizeCrashOptions {
    pub binary: PathBuf,
    pub input: PathBuf,
    /// `-exact_artifact_path`: where each step writes its smaller input.
    pub exact_artifact_path: PathBuf,
    pub limits: Limits,
    /// `-max_total_time` of each step, in whole seconds (truncated), at least 1.
    pub step_time: Duration,
    pub extra_args: Vec<ExtraFlag>,
    pub env: Vec<(OsString, OsString)>,
}

/// The command minimizing `opts.input` within each step's time.
pub fn minimize_crash_command(opts: &MinimizeCrashOptions) -> EngineCommand {
    let mut args = Vec::new();
    push_limits(
        &mut args,
        opts.limits.rss_limit_mb,
        opts.limits.malloc_limit_mb,
        opts.limits.timeout_s,
    );
    args.push(flag(FLAG_MINIMIZE_CRASH, 1));
    args.push(flag("max_total_time", opts.step_time.as_secs().max(1)));
    args.push(path_flag("exact_artifact_path", &opts.exact_artifact_path));
    push_extra_and_paths(
        &mut args,
        &opts.extra_args,
        std::slice::from_ref(&opts.input),
    );
    EngineCommand {
        program: opts.binary.clone(),
        args,
        env: opts.env.clone(),
    }
}

/// A coverage-preserving corpus merge: the inputs of `input_dirs` that add
/// coverage not already in `output_dir` are copied into it.
///
/// For a corpus minimize, `output_dir` is a new empty directory and
/// `input_dirs` the old corpus. The merge is crash-resistant: libFuzzer
/// runs it in a child, and when an input crashes it records it in the
/// control file and starts another attempt that skips it
/// (`merge-crash-resistant.log`); with the same control file, a killed
/// merge resumes where it stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeOptions {
    pub binary: PathBuf,
    pub output_dir: PathBuf,
    pub input_dirs: Vec<PathBuf>,
    pub control_file: PathBuf,
    /// `-set_cover_merge=1` (smallest set of inputs covering every
    /// feature) instead of `-merge=1` (greedy, smaller inputs first).
    pub set_cover: bool,
    /// Where the artifact of an input that crashes the merge goes.
    pub artifact_prefix: PathBuf,
    pub limits: Limits,
    pub extra_args: Vec<ExtraFlag>,
    pub env: Vec<(OsString, OsString)>,
}

/// The command for a corpus merge.
pub fn merge_command(opts: &MergeOptions) -> EngineCommand {
    let mut args = vec![
        flag(
            if opts.set_cover {
                "set_cover_merge"
            } else {
                "merge"
            },
            1,
        ),
        {
            let mut a = OsString::from("-merge_control_file=");
            a.push(opts.control_file.as_os_str());
            a
        },
        artifact_prefix_flag(&opts.artifact_prefix),
    ];
    push_limits(
        &mut args,
        opts.limits.rss_limit_mb,
        opts.limits.malloc_limit_mb,
        opts.limits.timeout_s,
    );
    let mut dirs = Vec::with_capacity(1 + opts.input_dirs.len());
    dirs.push(opts.output_dir.clone());
    dirs.extend(opts.input_dirs.iter().cloned());
    push_extra_and_paths(&mut args, &opts.extra_args, &dirs);
    EngineCommand {
        program: opts.binary.clone(),
        args,
        env: opts.env.clone(),
    }
}

fn push_extra_and_paths(args: &mut Vec<OsString>, extra: &[ExtraFlag], paths: &[PathBuf]) {
    args.extend(extra.iter().map(|f| OsString::from(f.as_str())));
    args.extend(paths.iter().map(|p| p.clone().into_os_string()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            rss_limit_mb: 4096,
            malloc_limit_mb: None,
            timeout_s: 25,
        }
    }

    #[test]
    fn replay_dirs_runs_zero() {
        let cmd = replay_command(&ReplayOptions {
            binary: "/fz/t".into(),
            inputs: ReplayInputs::Dirs(vec!["/st/corpus/t".into(), "/seeds/t".into()]),
            artifact_prefix: "/st/regress/t".into(),
            limits: limits(),
            extra_args: vec![],
            env: vec![],
        });
        assert_eq!(
            cmd.args_lossy(),
            [
                "-artifact_prefix=/st/regress/t/",
                "-rss_limit_mb=4096",
                "-timeout=25",
                "-runs=0",
                "/st/corpus/t",
                "/seeds/t",
            ]
        );
    }

    #[test]
    fn replay_files_runs_each_once() {
        let cmd = replay_command(&ReplayOptions {
            binary: "/fz/t".into(),
            inputs: ReplayInputs::Files(vec!["/c/crash-aa".into(), "/c/crash-bb".into()]),
            artifact_prefix: "/st/regress/t/".into(),
            limits: Limits::default(),
            extra_args: vec!["-detect_leaks=0".parse().unwrap()],
            env: vec![],
        });
        assert_eq!(
            cmd.args_lossy(),
            [
                "-artifact_prefix=/st/regress/t/",
                "-rss_limit_mb=2048",
                "-timeout=1200",
                "-runs=1",
                "-detect_leaks=0",
                "/c/crash-aa",
                "/c/crash-bb",
            ]
        );
    }

    #[test]
    fn coverage_replay_runs_each_file_once_and_asks_for_no_artifact() {
        let cmd = coverage_replay_command(&CoverageReplayOptions {
            binary: "/cov/t".into(),
            files: vec!["/st/corpus/t/aa".into(), "/st/corpus/t/bb".into()],
            limits: limits(),
            env: vec![("LLVM_PROFILE_FILE".into(), "/raw/%m-%p.profraw".into())],
        });
        assert_eq!(
            cmd.args_lossy(),
            [
                "-rss_limit_mb=4096",
                "-timeout=25",
                "-runs=1",
                "/st/corpus/t/aa",
                "/st/corpus/t/bb",
            ]
        );
        assert_eq!(cmd.env.len(), 1);
    }

    #[test]
    fn reproduce_runs_one_input_n_times() {
        let mut opts = ReproduceOptions {
            binary: "/fz/t".into(),
            input: "/st/crashes/t/crash-aa".into(),
            runs: 5,
            limits: Limits {
                malloc_limit_mb: Some(512),
                ..limits()
            },
            extra_args: vec![],
            env: vec![("RUST_BACKTRACE".into(), "1".into())],
        };
        let cmd = reproduce_command(&opts);
        assert_eq!(
            cmd.args_lossy(),
            [
                "-rss_limit_mb=4096",
                "-malloc_limit_mb=512",
                "-timeout=25",
                "-runs=5",
                "/st/crashes/t/crash-aa",
            ]
        );
        assert_eq!(cmd.env.len(), 1);
        opts.runs = 0;
        assert!(
            reproduce_command(&opts)
                .args_lossy()
                .contains(&"-runs=1".to_owned())
        );
    }

    #[test]
    fn minimize_crash_steps_are_time_boxed_and_write_to_an_exact_path() {
        let mut opts = MinimizeCrashOptions {
            binary: "/fz/t".into(),
            input: "/st/crash-aa".into(),
            exact_artifact_path: "/st/.min".into(),
            limits: Limits {
                malloc_limit_mb: Some(512),
                ..limits()
            },
            step_time: Duration::from_millis(20_900),
            extra_args: vec!["-detect_leaks=0".parse().unwrap()],
            env: vec![],
        };
        let cmd = minimize_crash_command(&opts);
        assert_eq!(cmd.program, PathBuf::from("/fz/t"));
        assert_eq!(
            cmd.args_lossy(),
            [
                "-rss_limit_mb=4096",
                "-malloc_limit_mb=512",
                "-timeout=25",
                "-minimize_crash=1",
                "-max_total_time=20",
                "-exact_artifact_path=/st/.min",
                "-detect_leaks=0",
                "/st/crash-aa",
            ]
        );
        // A step of no whole second would be "no limit" to libFuzzer.
        opts.step_time = Duration::from_millis(300);
        assert!(
            minimize_crash_command(&opts)
                .args_lossy()
                .contains(&"-max_total_time=1".to_owned())
        );
    }

    #[test]
    fn merge_new_dir_first_then_old_dirs() {
        let mut opts = MergeOptions {
            binary: "/fz/t".into(),
            output_dir: "/st/merge/t/new".into(),
            input_dirs: vec!["/st/corpus/t".into(), "/hub/corpus/t".into()],
            control_file: "/st/merge/t/control".into(),
            set_cover: false,
            artifact_prefix: "/st/merge/t/artifacts".into(),
            limits: limits(),
            extra_args: vec![],
            env: vec![],
        };
        assert_eq!(
            merge_command(&opts).args_lossy(),
            [
                "-merge=1",
                "-merge_control_file=/st/merge/t/control",
                "-artifact_prefix=/st/merge/t/artifacts/",
                "-rss_limit_mb=4096",
                "-timeout=25",
                "/st/merge/t/new",
                "/st/corpus/t",
                "/hub/corpus/t",
            ]
        );
        opts.set_cover = true;
        assert_eq!(merge_command(&opts).args_lossy()[0], "-set_cover_merge=1");
    }
}
