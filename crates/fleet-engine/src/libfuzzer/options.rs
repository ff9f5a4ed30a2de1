//! The options of one libFuzzer fuzzing worker and the command that runs it.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::flags::ExtraFlag;
use super::quirks::{DEFAULT_RSS_LIMIT_MB, DEFAULT_TIMEOUT_S};
use crate::EngineCommand;

/// libFuzzer's fork mode (`-fork=N`): the worker process stays up while
/// `jobs` child processes fuzz, and crashes, timeouts and OOMs of a child
/// can be ignored so one known bug does not stop the target.
///
/// Quirks (`fork-ignore-crashes.log`, `fork-timeouts.log`): the parent
/// exits with the exit code of the last child that failed (77 after an
/// ignored crash, even at the end of `-max_total_time`); it prints its own
/// status lines (`#N: cov: … job: N`), no final stats, and only the
/// `ERROR:` lines of a child's report; children work in
/// `$TMPDIR/libFuzzerTemp.FuzzWithFork<pid>.dir`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForkOptions {
    pub jobs: u32,
    pub ignore_crashes: bool,
    /// libFuzzer's default is to ignore timeouts in fork mode.
    pub ignore_timeouts: bool,
    /// libFuzzer's default is to ignore OOMs in fork mode.
    pub ignore_ooms: bool,
}

impl ForkOptions {
    /// One child at a time, every kind of failure ignored: a target keeps
    /// fuzzing past known bugs while the artifacts still land on disk.
    pub fn keep_going(jobs: u32) -> Self {
        Self {
            jobs,
            ignore_crashes: true,
            ignore_timeouts: true,
            ignore_ooms: true,
        }
    }
}

/// Everything that decides how one fuzzing worker runs.
///
/// Paths are used as given; the caller (which owns the state layout)
/// decides whether they are absolute. `corpus_dir` is the writable corpus
/// shared by all of a target's workers: libFuzzer writes new inputs into
/// the first directory it is given. `extra_corpus_dirs` are read-only
/// seeds, loaded after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibFuzzerOptions {
    pub binary: PathBuf,
    pub corpus_dir: PathBuf,
    pub extra_corpus_dirs: Vec<PathBuf>,
    /// A directory; the `-artifact_prefix` flag gets the trailing `/` that
    /// makes libFuzzer treat it as one. libFuzzer refuses to start when it
    /// does not exist (`startup-missing-artifact-dir.log`).
    pub artifact_prefix: PathBuf,
    /// `-rss_limit_mb`; 0 disables the check.
    pub rss_limit_mb: u64,
    /// `-malloc_limit_mb`; libFuzzer uses `rss_limit_mb` when unset.
    pub malloc_limit_mb: Option<u64>,
    /// `-timeout` per input; 0 disables the check.
    pub timeout_s: u64,
    pub dict: Option<PathBuf>,
    pub max_len: Option<usize>,
    /// `-seed` is an unsigned 32-bit value in libFuzzer; unset or 0 means
    /// a seed chosen by libFuzzer (printed as `INFO: Seed: N`).
    pub seed: Option<u32>,
    /// `-max_total_time`, in whole seconds, rounded up (a 0 would mean
    /// "no limit" to libFuzzer).
    pub max_total_time: Option<Duration>,
    /// `-runs`: stop after this many executions.
    pub runs: Option<u64>,
    pub fork: Option<ForkOptions>,
    pub print_final_stats: bool,
    /// `-report_slow_units`: write a `slow-unit-` artifact for inputs slower
    /// than this (libFuzzer's default: 10 s).
    pub report_slow_units_s: Option<u64>,
    /// `-reload=1` re-reads the corpus directory every second, so workers
    /// sharing it pick up each other's finds (`RELOAD` status lines);
    /// `false` passes `-reload=0`.
    pub reload: bool,
    /// Validated flags from configuration, passed after fuzzfleet's own.
    pub extra_args: Vec<ExtraFlag>,
    /// Extra environment for the worker (e.g. `TMPDIR`, `ASAN_OPTIONS`).
    pub env: Vec<(OsString, OsString)>,
}

impl LibFuzzerOptions {
    /// Options with libFuzzer's own defaults for everything not given:
    /// 2048 MB rss limit, 1200 s timeout, corpus reload on.
    pub fn new(
        binary: impl Into<PathBuf>,
        corpus_dir: impl Into<PathBuf>,
        artifact_prefix: impl Into<PathBuf>,
    ) -> Self {
        Self {
            binary: binary.into(),
            corpus_dir: corpus_dir.into(),
            extra_corpus_dirs: Vec::new(),
            artifact_prefix: artifact_prefix.into(),
            rss_limit_mb: DEFAULT_RSS_LIMIT_MB,
            malloc_limit_mb: None,
            timeout_s: DEFAULT_TIMEOUT_S,
            dict: None,
            max_len: None,
            seed: None,
            max_total_time: None,
            runs: None,
            fork: None,
            print_final_stats: false,
            report_slow_units_s: None,
            reload: true,
            extra_args: Vec::new(),
            env: Vec::new(),
        }
    }
}

/// The command for one fuzzing worker: fuzzfleet's flags, then the extra
/// flags, then the writable corpus directory, then the seed directories.
pub fn worker_command(opts: &LibFuzzerOptions) -> EngineCommand {
    let mut args = Vec::new();
    args.push(artifact_prefix_flag(&opts.artifact_prefix));
    push_limits(
        &mut args,
        opts.rss_limit_mb,
        opts.malloc_limit_mb,
        opts.timeout_s,
    );
    if let Some(dict) = &opts.dict {
        args.push(path_flag("dict", dict));
    }
    if let Some(max_len) = opts.max_len {
        args.push(flag("max_len", max_len));
    }
    if let Some(seed) = opts.seed {
        args.push(flag("seed", seed));
    }
    if let Some(total) = opts.max_total_time {
        args.push(flag("max_total_time", whole_seconds_at_least_one(total)));
    }
    if let Some(runs) = opts.runs {
        args.push(flag("runs", runs));
    }
    if let Some(fork) = opts.fork {
        args.push(flag("fork", fork.jobs));
        args.push(flag("ignore_crashes", u8::from(fork.ignore_crashes)));
        args.push(flag("ignore_timeouts", u8::from(fork.ignore_timeouts)));
        args.push(flag("ignore_ooms", u8::from(fork.ignore_ooms)));
    }
    if opts.print_final_stats {
        args.push(flag("print_final_stats", 1));
    }
    if let Some(slow) = opts.report_slow_units_s {
        args.push(flag("report_slow_units", slow));
    }
    args.push(flag("reload", u8::from(opts.reload)));
    args.extend(opts.extra_args.iter().map(|f| OsString::from(f.as_str())));
    args.push(opts.corpus_dir.clone().into_os_string());
    args.extend(
        opts.extra_corpus_dirs
            .iter()
            .map(|d| d.clone().into_os_string()),
    );
    EngineCommand {
        program: opts.binary.clone(),
        args,
        env: opts.env.clone(),
    }
}

pub(super) fn push_limits(
    args: &mut Vec<OsString>,
    rss_limit_mb: u64,
    malloc_limit_mb: Option<u64>,
    timeout_s: u64,
) {
    args.push(flag("rss_limit_mb", rss_limit_mb));
    if let Some(malloc) = malloc_limit_mb {
        args.push(flag("malloc_limit_mb", malloc));
    }
    args.push(flag("timeout", timeout_s));
}

pub(super) fn flag(name: &str, value: impl std::fmt::Display) -> OsString {
    format!("-{name}={value}").into()
}

pub(super) fn path_flag(name: &str, path: &Path) -> OsString {
    let mut arg = OsString::from(format!("-{name}="));
    arg.push(path.as_os_str());
    arg
}

/// `-artifact_prefix` is a string prefix, not a path: without the trailing
/// `/` libFuzzer would write `<dir>crash-…` next to the directory.
pub(super) fn artifact_prefix_flag(dir: &Path) -> OsString {
    let mut arg = path_flag("artifact_prefix", dir);
    if !dir.as_os_str().as_encoded_bytes().ends_with(b"/") {
        arg.push(OsStr::new("/"));
    }
    arg
}

fn whole_seconds_at_least_one(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> LibFuzzerOptions {
        LibFuzzerOptions::new(
            "/fz/bin/fuzz_block",
            "/st/corpus/block",
            "/st/artifacts/block/w0",
        )
    }

    #[test]
    fn minimal_worker_command() {
        let cmd = worker_command(&opts());
        assert_eq!(cmd.program, PathBuf::from("/fz/bin/fuzz_block"));
        assert_eq!(
            cmd.args_lossy(),
            [
                "-artifact_prefix=/st/artifacts/block/w0/",
                "-rss_limit_mb=2048",
                "-timeout=1200",
                "-reload=1",
                "/st/corpus/block",
            ]
        );
        assert!(cmd.env.is_empty());
    }

    #[test]
    fn full_worker_command() {
        let mut o = opts();
        o.artifact_prefix = "/st/art/".into();
        o.extra_corpus_dirs = vec!["/seeds/block".into(), "/seeds/common dir".into()];
        o.rss_limit_mb = 4096;
        o.malloc_limit_mb = Some(1024);
        o.timeout_s = 25;
        o.dict = Some("dicts/block.dict".into());
        o.max_len = Some(65536);
        o.seed = Some(1234);
        o.max_total_time = Some(Duration::from_millis(172_800_001));
        o.runs = Some(1_000_000);
        o.fork = Some(ForkOptions::keep_going(1));
        o.print_final_stats = true;
        o.report_slow_units_s = Some(5);
        o.reload = false;
        o.extra_args = vec!["-use_value_profile=1".parse().unwrap()];
        o.env = vec![("TMPDIR".into(), "/st/tmp/w0".into())];
        let cmd = worker_command(&o);
        assert_eq!(
            cmd.args_lossy(),
            [
                "-artifact_prefix=/st/art/",
                "-rss_limit_mb=4096",
                "-malloc_limit_mb=1024",
                "-timeout=25",
                "-dict=dicts/block.dict",
                "-max_len=65536",
                "-seed=1234",
                "-max_total_time=172801",
                "-runs=1000000",
                "-fork=1",
                "-ignore_crashes=1",
                "-ignore_timeouts=1",
                "-ignore_ooms=1",
                "-print_final_stats=1",
                "-report_slow_units=5",
                "-reload=0",
                "-use_value_profile=1",
                "/st/corpus/block",
                "/seeds/block",
                "/seeds/common dir",
            ]
        );
        assert_eq!(cmd.env, [("TMPDIR".into(), "/st/tmp/w0".into())]);
    }

    #[test]
    fn a_sub_second_budget_is_not_unlimited() {
        let mut o = opts();
        o.max_total_time = Some(Duration::from_millis(300));
        assert!(
            worker_command(&o)
                .args_lossy()
                .contains(&"-max_total_time=1".to_owned())
        );
        o.max_total_time = Some(Duration::ZERO);
        assert!(
            worker_command(&o)
                .args_lossy()
                .contains(&"-max_total_time=1".to_owned())
        );
    }

    #[test]
    fn non_utf8_paths_pass_through_unchanged() {
        use std::os::unix::ffi::OsStrExt;
        let mut o = opts();
        o.corpus_dir = PathBuf::from(OsStr::from_bytes(b"/st/corp\xffus"));
        o.artifact_prefix = PathBuf::from(OsStr::from_bytes(b"/st/a\xfe"));
        let cmd = worker_command(&o);
        assert_eq!(cmd.args[0].as_bytes(), b"-artifact_prefix=/st/a\xfe/");
        assert_eq!(cmd.args.last().unwrap().as_bytes(), b"/st/corp\xffus");
    }
}
