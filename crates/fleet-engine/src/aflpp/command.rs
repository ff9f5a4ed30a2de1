//! The options of one `afl-fuzz` instance and the command that runs it.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::EngineCommand;

/// The engine's name as findings, runs and the config spell it.
pub const ENGINE_NAME: &str = "aflpp";

/// How CmpLog (input-to-state comparison logging) runs, if at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmpLog {
    /// A second build of the target with AFL++'s CmpLog passes (`-c path`).
    Binary(PathBuf),
    /// The fuzzed binary itself carries the CmpLog passes (`-c 0`).
    SameBinary,
}

/// The instance's place in the sync dir (`-o`): its name is its subdirectory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// `-M name`: deterministic stages, imports from foreign dirs (`-F` needs it).
    Main(String),
    /// `-S name`: havoc only, syncs with the others in the same `-o`.
    Secondary(String),
}

impl Role {
    /// The instance's directory name under the sync dir.
    pub fn name(&self) -> &str {
        match self {
            Role::Main(n) | Role::Secondary(n) => n,
        }
    }
}

/// Which core the instance is pinned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Affinity {
    /// No pinning (`AFL_NO_AFFINITY=1`): the kernel schedules it, as it does the
    /// libFuzzer workers beside it.
    Unpinned,
    /// `-b N`: bound to core N.
    Core(u32),
}

/// Everything that decides how one `afl-fuzz` instance runs.
///
/// Paths are used as given. `input` must hold at least one file (afl-fuzz refuses an
/// empty input dir); with `AFL_AUTORESUME` an instance whose directory already exists
/// resumes from its own queue instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AflOptions {
    /// The `afl-fuzz` program.
    pub afl_fuzz: PathBuf,
    /// The target built for AFL++ (instrumented, linked with `libAFLDriver.a`).
    pub binary: PathBuf,
    pub cmplog: Option<CmpLog>,
    /// `-i`: the seeds (usually the target's shared corpus).
    pub input: PathBuf,
    /// `-o`: the sync dir; the instance writes `<output>/<role name>/`.
    pub output: PathBuf,
    pub role: Role,
    /// `-F`: flat directories of inputs from other engines (the libFuzzer corpus),
    /// imported as they grow. Needs [`Role::Main`]; AFL++ takes at most 32.
    pub foreign: Vec<PathBuf>,
    /// `-t`: per-input timeout in milliseconds; `None`: AFL++ scales its own.
    pub timeout_ms: Option<u64>,
    /// `-V`: fuzz for this many seconds, then exit by itself.
    pub max_total_time_s: Option<u64>,
    /// `-x`: a dictionary (libFuzzer's format is AFL's).
    pub dict: Option<PathBuf>,
    /// `-G`: longest input generated, in bytes.
    pub max_len: Option<u64>,
    pub affinity: Affinity,
    /// `AFL_IMPORT_FIRST=1`: import the foreign dirs before fuzzing its own queue.
    pub import_first: bool,
    /// `AFL_SYNC_TIME`: minutes between syncs with the foreign dirs and other
    /// instances (AFL++'s default is 20).
    pub sync_minutes: u32,
    /// `AFL_FUZZER_STATS_UPDATE_INTERVAL`: seconds between writes of `fuzzer_stats`
    /// (AFL++'s default is 60).
    pub stats_interval_s: u32,
    /// `AFL_CMPLOG_ONLY_NEW=1`: CmpLog only on entries found in this run, not on the
    /// imported seeds (faster starts on large corpora).
    pub cmplog_only_new: bool,
}

impl AflOptions {
    /// Options with fuzzfleet's defaults: main instance `name`, no CmpLog, no foreign
    /// dirs, unpinned, foreign entries imported first, a sync every minute and
    /// `fuzzer_stats` every 2 seconds.
    pub fn new(
        afl_fuzz: impl Into<PathBuf>,
        binary: impl Into<PathBuf>,
        input: impl Into<PathBuf>,
        output: impl Into<PathBuf>,
        name: &str,
    ) -> Self {
        AflOptions {
            afl_fuzz: afl_fuzz.into(),
            binary: binary.into(),
            cmplog: None,
            input: input.into(),
            output: output.into(),
            role: Role::Main(name.to_owned()),
            foreign: Vec::new(),
            timeout_ms: None,
            max_total_time_s: None,
            dict: None,
            max_len: None,
            affinity: Affinity::Unpinned,
            import_first: true,
            sync_minutes: 1,
            stats_interval_s: 2,
            cmplog_only_new: false,
        }
    }
}

/// Options afl-fuzz would refuse, caught before it runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AflOptionsError {
    #[error("afl-fuzz imports foreign dirs (-F) only in a main instance (-M), not -S {0}")]
    ForeignNeedsMain(String),
    #[error("afl-fuzz takes at most 32 foreign dirs (-F), not {0}")]
    TooManyForeign(usize),
    #[error(
        "afl-fuzz instance name {0:?} must be 1 to 32 letters, digits, '-' or '_' (it names a directory)"
    )]
    BadName(String),
}

/// The most `-F` dirs afl-fuzz accepts (`FOREIGN_SYNCS_MAX`).
const FOREIGN_SYNCS_MAX: usize = 32;

/// The `afl-fuzz` command of one instance, with the environment that makes it run
/// unattended: no UI, no refusal over the CPU governor or the core pattern (a farm's
/// node is not set up for AFL++ alone), no pinning unless asked, and `AFL_AUTORESUME`
/// so a restarted instance continues its own queue.
pub fn fuzz_command(o: &AflOptions) -> Result<EngineCommand, AflOptionsError> {
    let name = o.role.name();
    if name.is_empty()
        || name.len() > 32
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(AflOptionsError::BadName(name.to_owned()));
    }
    if !o.foreign.is_empty() {
        if let Role::Secondary(n) = &o.role {
            return Err(AflOptionsError::ForeignNeedsMain(n.clone()));
        }
        if o.foreign.len() > FOREIGN_SYNCS_MAX {
            return Err(AflOptionsError::TooManyForeign(o.foreign.len()));
        }
    }
    let mut cmd = EngineCommand::new(&o.afl_fuzz);
    let mut arg = |a: &str| cmd.args.push(a.into());
    arg("-i");
    cmd.args.push(o.input.clone().into());
    cmd.args.push("-o".into());
    cmd.args.push(o.output.clone().into());
    match &o.role {
        Role::Main(n) => cmd.args.extend(["-M".into(), OsString::from(n)]),
        Role::Secondary(n) => cmd.args.extend(["-S".into(), OsString::from(n)]),
    }
    for dir in &o.foreign {
        cmd.args.push("-F".into());
        cmd.args.push(dir.clone().into());
    }
    match &o.cmplog {
        Some(CmpLog::Binary(path)) => {
            cmd.args.push("-c".into());
            cmd.args.push(path.clone().into());
        }
        Some(CmpLog::SameBinary) => cmd.args.extend(["-c".into(), "0".into()]),
        None => {}
    }
    // The caller's cgroup limits memory; AFL++'s own limit breaks ASan builds.
    cmd.args.extend(["-m".into(), "none".into()]);
    if let Some(ms) = o.timeout_ms {
        cmd.args.extend(["-t".into(), ms.to_string().into()]);
    }
    if let Some(s) = o.max_total_time_s {
        cmd.args.extend(["-V".into(), s.to_string().into()]);
    }
    if let Some(dict) = &o.dict {
        cmd.args.push("-x".into());
        cmd.args.push(dict.clone().into());
    }
    if let Some(len) = o.max_len {
        cmd.args.extend(["-G".into(), len.to_string().into()]);
    }
    if let Affinity::Core(core) = o.affinity {
        cmd.args.extend(["-b".into(), core.to_string().into()]);
    }
    cmd.args.push("--".into());
    cmd.args.push(o.binary.clone().into());

    let mut env = |k: &str, v: String| cmd.env.push((k.into(), v.into()));
    env("AFL_NO_UI", "1".into());
    env("AFL_SKIP_CPUFREQ", "1".into());
    env("AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES", "1".into());
    env("AFL_AUTORESUME", "1".into());
    // A seed that crashes or hangs (another engine's finding, a flaky one) is skipped,
    // not a reason to refuse to start.
    env("AFL_IGNORE_SEED_PROBLEMS", "1".into());
    env("AFL_SYNC_TIME", o.sync_minutes.max(1).to_string());
    env(
        "AFL_FUZZER_STATS_UPDATE_INTERVAL",
        o.stats_interval_s.max(1).to_string(),
    );
    if o.affinity == Affinity::Unpinned {
        env("AFL_NO_AFFINITY", "1".into());
    }
    if o.import_first && !o.foreign.is_empty() {
        env("AFL_IMPORT_FIRST", "1".into());
    }
    if o.cmplog_only_new && o.cmplog.is_some() {
        env("AFL_CMPLOG_ONLY_NEW", "1".into());
    }
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> AflOptions {
        AflOptions::new(
            "/afl/bin/afl-fuzz",
            "/p/afl/crash_magic",
            "/st/corpus/crash_magic",
            "/st/aflpp/crash_magic",
            "w0",
        )
    }

    fn env_of(cmd: &EngineCommand) -> Vec<(String, String)> {
        cmd.env
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn full_command_in_afl_fuzz_s_order() {
        let mut o = opts();
        o.cmplog = Some(CmpLog::Binary("/p/afl-cmplog/crash_magic".into()));
        o.foreign = vec!["/st/corpus/crash_magic".into()];
        o.timeout_ms = Some(25_000);
        o.max_total_time_s = Some(600);
        o.dict = Some("/d/magic.dict".into());
        o.max_len = Some(4096);
        let cmd = fuzz_command(&o).unwrap();
        assert_eq!(cmd.program, PathBuf::from("/afl/bin/afl-fuzz"));
        assert_eq!(
            cmd.args_lossy(),
            [
                "-i",
                "/st/corpus/crash_magic",
                "-o",
                "/st/aflpp/crash_magic",
                "-M",
                "w0",
                "-F",
                "/st/corpus/crash_magic",
                "-c",
                "/p/afl-cmplog/crash_magic",
                "-m",
                "none",
                "-t",
                "25000",
                "-V",
                "600",
                "-x",
                "/d/magic.dict",
                "-G",
                "4096",
                "--",
                "/p/afl/crash_magic",
            ]
        );
        let env = env_of(&cmd);
        for (k, v) in [
            ("AFL_NO_UI", "1"),
            ("AFL_SKIP_CPUFREQ", "1"),
            ("AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES", "1"),
            ("AFL_AUTORESUME", "1"),
            ("AFL_IGNORE_SEED_PROBLEMS", "1"),
            ("AFL_NO_AFFINITY", "1"),
            ("AFL_IMPORT_FIRST", "1"),
            ("AFL_SYNC_TIME", "1"),
            ("AFL_FUZZER_STATS_UPDATE_INTERVAL", "2"),
        ] {
            assert!(
                env.contains(&(k.to_owned(), v.to_owned())),
                "{k}={v} missing from {env:?}"
            );
        }
        assert!(!env.iter().any(|(k, _)| k == "AFL_CMPLOG_ONLY_NEW"));
    }

    #[test]
    fn minimal_command_has_no_optional_flags() {
        let cmd = fuzz_command(&opts()).unwrap();
        assert_eq!(
            cmd.args_lossy(),
            [
                "-i",
                "/st/corpus/crash_magic",
                "-o",
                "/st/aflpp/crash_magic",
                "-M",
                "w0",
                "-m",
                "none",
                "--",
                "/p/afl/crash_magic"
            ]
        );
        // Nothing to import: no import-first.
        assert!(!env_of(&cmd).iter().any(|(k, _)| k == "AFL_IMPORT_FIRST"));
    }

    #[test]
    fn secondary_pinned_with_cmplog_in_the_same_binary() {
        let mut o = opts();
        o.role = Role::Secondary("w1".into());
        o.cmplog = Some(CmpLog::SameBinary);
        o.affinity = Affinity::Core(1);
        o.cmplog_only_new = true;
        let cmd = fuzz_command(&o).unwrap();
        let args = cmd.args_lossy();
        let pos = |a: &str| args.iter().position(|x| x == a).unwrap();
        assert_eq!(args[pos("-S") + 1], "w1");
        assert_eq!(args[pos("-c") + 1], "0");
        assert_eq!(args[pos("-b") + 1], "1");
        assert!(!args.contains(&"-M".to_owned()));
        let env = env_of(&cmd);
        assert!(!env.iter().any(|(k, _)| k == "AFL_NO_AFFINITY"), "{env:?}");
        assert!(env.contains(&("AFL_CMPLOG_ONLY_NEW".into(), "1".into())));
    }

    #[test]
    fn refuses_what_afl_fuzz_would() {
        let mut o = opts();
        o.role = Role::Secondary("w1".into());
        o.foreign = vec!["/c".into()];
        assert_eq!(
            fuzz_command(&o).unwrap_err(),
            AflOptionsError::ForeignNeedsMain("w1".into())
        );
        let mut o = opts();
        o.foreign = (0..33).map(|i| PathBuf::from(format!("/c{i}"))).collect();
        assert_eq!(
            fuzz_command(&o).unwrap_err(),
            AflOptionsError::TooManyForeign(33)
        );
        for bad in ["", "a/b", "..", &"x".repeat(33)] {
            let mut o = opts();
            o.role = Role::Main(bad.to_owned());
            assert!(
                matches!(fuzz_command(&o), Err(AflOptionsError::BadName(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn non_utf8_paths_pass_through_unchanged() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        let mut o = opts();
        o.input = PathBuf::from(OsStr::from_bytes(b"/st/corp\xffus"));
        let cmd = fuzz_command(&o).unwrap();
        assert_eq!(cmd.args[1].as_bytes(), b"/st/corp\xffus");
    }
}
