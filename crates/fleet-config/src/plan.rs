//! Stage two's result: the validated plan every other crate reads. Every value here
//! has been checked (names, paths on disk, numbers, references between sections) and
//! every default applied, so consumers never re-validate or guess.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use crate::names::{NodeName, TargetName, TierName};
use crate::types::{AflppChoice, Engine, HttpUrl, HubUrl, Sanitizer, SshDest, TierMode};

/// Built-in defaults, used when neither a target nor `[defaults]` sets a value.
pub mod defaults {
    use std::time::Duration;

    pub const STATE_DIR: &str = ".fuzzfleet";
    pub const TOOLCHAIN: &str = "nightly";
    pub const RSS_LIMIT_MB: u64 = 4096;
    pub const TIMEOUT_S: u64 = 25;
    pub const CPU_PERCENT: u8 = 80;
    pub const MEM_PERCENT: u8 = 85;
    pub const DISK_PERCENT: u8 = 80;
    pub const DISK_CRITICAL_PERCENT: u8 = 95;
    pub const ALERT_SUSTAIN: Duration = Duration::from_secs(120);
    pub const MINIMIZE_GROWTH: u64 = 2;
    /// How often a campaign recomputes line coverage.
    pub const COVERAGE_EVERY: Duration = Duration::from_secs(3600);
    pub const MINIMIZE_MIN_FILES: u64 = 1000;
    pub const KEEP_INPUTS: u64 = 100;
    pub const REPRO_RUNS: u32 = 3;
    pub const MINIMIZE_BUDGET: Duration = Duration::from_secs(60);
    pub const DIGEST_AFTER: u64 = 5;
    /// Name of the tier made when the file declares none.
    pub const IMPLICIT_TIER: &str = "all";
    /// Budget per target of the implicit tier.
    pub const IMPLICIT_TIER_BUDGET: Duration = Duration::from_secs(3600);
    /// Length of a tier's turn when the tiers need more workers than the node has.
    pub const TIER_SLICE: Duration = Duration::from_secs(3600);
    /// How often a campaign syncs with the hub.
    pub const HUB_EVERY: Duration = Duration::from_secs(60);
    /// Most workers a node (or a tier, or `--workers`) may ask for: far above any
    /// machine's cores, far below what would exhaust memory just to plan them.
    pub const MAX_WORKERS: u64 = 4096;
    /// Largest `rss_limit_mb`: 1 TiB, in MiB.
    pub const MAX_RSS_LIMIT_MB: u64 = 1 << 20;
    /// Largest `timeout_s`: one day per input.
    pub const MAX_TIMEOUT_S: u64 = 86_400;
    /// Largest `max_len`: 1 GiB, in bytes.
    pub const MAX_MAX_LEN: u64 = 1 << 30;
    /// How often `run` prints its one-line progress summary.
    pub const PROGRESS_EVERY: Duration = Duration::from_secs(60);
    /// How long a stopping run triages what it found before it exits.
    pub const TRIAGE_DEADLINE: Duration = Duration::from_secs(30);
    /// Severity of recoverable sanitizer reports (UBSan `runtime error:` lines).
    pub const RECOVERABLE_SEVERITY: &str = "low";
    /// The severity names of the crash pipeline (fleet-crash's `Severity`), most
    /// severe first; `recoverable_severity` must be one of them.
    pub const SEVERITIES: [&str; 4] = ["critical", "high", "medium", "low"];
}

/// A validated `fleet.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The config file, absolute.
    pub file: PathBuf,
    /// The directory relative paths in the file were resolved against (the file's own).
    pub base_dir: PathBuf,
    /// Where state lives; absolute.
    pub state_dir: PathBuf,
    /// Workers on this node; `None` means one per core.
    pub workers: Option<NonZeroUsize>,
    /// Length of a tier's turn when the tiers need more workers than the node has.
    pub tier_slice: Duration,
    /// How often `run` prints its one-line progress summary.
    pub progress_every: Duration,
    /// How core time is given to targets (`schedule`).
    pub schedule: crate::types::Schedule,
    /// Whether worker runs get strategies chosen by a bandit (`strategies =
    /// "portfolio"`, the default) or run as configured (`"plain"`).
    pub portfolio: bool,
    /// `[[project]]`s, in file order.
    pub projects: Vec<ProjectPlan>,
    /// `[[harnesses]]` directories, in file order.
    pub harnesses: Vec<HarnessPlan>,
    /// Every target, from projects and `[[target]]`, sorted by name.
    pub targets: Vec<TargetPlan>,
    /// Tiers in file order; when the file declares none but has targets, one implicit
    /// tier `"all"` with every target, sequential, budget 1 h.
    pub tiers: Vec<TierPlan>,
    /// `[node.NAME]`s, in file order.
    pub nodes: Vec<NodePlan>,
    pub hub: Option<HubPlan>,
    pub alerts: AlertsPlan,
    pub corpus: CorpusPlan,
    pub crashes: CrashesPlan,
    pub coverage: CoveragePlan,
}

/// Coverage during a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoveragePlan {
    /// How often a campaign recomputes its targets' line coverage; `None`: never.
    pub every: Option<Duration>,
}

impl Default for CoveragePlan {
    fn default() -> Self {
        CoveragePlan {
            every: Some(defaults::COVERAGE_EVERY),
        }
    }
}

impl Plan {
    pub fn target(&self, name: &str) -> Option<&TargetPlan> {
        self.targets
            .binary_search_by(|t| t.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.targets[i])
    }

    pub fn tier(&self, name: &str) -> Option<&TierPlan> {
        self.tiers.iter().find(|t| t.name == name)
    }

    pub fn node(&self, name: &str) -> Option<&NodePlan> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The project a target is built from, if it is a project target.
    pub fn project_of(&self, target: &TargetPlan) -> Option<&ProjectPlan> {
        match target.source {
            TargetSource::Project { project } => self.projects.get(project),
            TargetSource::Binary(_) => None,
        }
    }

    /// The tier a target belongs to (a target is in at most one tier).
    pub fn tier_of(&self, target: &str) -> Option<&TierPlan> {
        self.tiers
            .iter()
            .find(|t| t.targets.iter().any(|n| n == target))
    }
}

/// A cargo-fuzz project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectPlan {
    /// The `fuzz/` directory: holds `Cargo.toml` and `fuzz_targets/`. Absolute.
    pub path: PathBuf,
    /// rustup toolchain, e.g. `"nightly"`.
    pub toolchain: String,
    pub sanitizer: Sanitizer,
    /// The project's targets, sorted.
    pub targets: Vec<TargetName>,
    /// Whether its targets also get AFL++ builds and run under AFL++ (`engines`).
    pub aflpp: AflppChoice,
}

/// A prebuilt target's AFL++ builds (`afl_binary`, `afl_cmplog_binary`), each
/// absolute, existing and executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AflBinaries {
    pub binary: PathBuf,
    pub cmplog: Option<PathBuf>,
}

/// One target with every option resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetPlan {
    pub name: TargetName,
    pub engine: Engine,
    pub source: TargetSource,
    /// Dictionary file; absolute, exists.
    pub dict: Option<PathBuf>,
    /// Seed directory; absolute, exists.
    pub seeds: Option<PathBuf>,
    pub rss_limit_mb: u64,
    pub timeout_s: u64,
    pub max_len: Option<usize>,
    pub sanitizer: Sanitizer,
    /// Extra libFuzzer flags, each `-name=value`: `[defaults] args`, then the target's.
    pub args: Vec<String>,
    /// An OSS-Fuzz seed archive (`<binary>_seed_corpus.zip`) of a harness found in a
    /// `[[harnesses]]` directory; its files are seeds when `seeds` is not set.
    pub seed_zip: Option<PathBuf>,
    /// How to get a prebuilt target's coverage variant; `None` for project targets
    /// (cargo-fuzz's coverage build) and prebuilt targets without one.
    pub coverage: Option<CoverageBuild>,
}

/// A directory of prebuilt C/C++ harnesses (`[[harnesses]]`), and the command that
/// builds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HarnessPlan {
    /// Where the harness binaries are; absolute. May not exist before the build.
    pub dir: PathBuf,
    /// Which file names in `dir` are harnesses.
    pub glob: String,
    pub strip_prefix: Option<String>,
    pub build: Option<BuildStep>,
    /// The targets found there (sorted), less those a `[[target]]` with its own
    /// `binary` took over. Empty when `dir` has no harness yet.
    pub targets: Vec<TargetName>,
    /// Whether any harness was found. When not (the directory is still to be built),
    /// names the file gives that no harness defines yet are not errors: the plan is
    /// to be loaded again after the build.
    pub built: bool,
}

/// A project's own build command (`build`, `build_dir`, `env` of `[[harnesses]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildStep {
    /// Run with `sh -c`.
    pub command: String,
    /// Where it runs; absolute, exists.
    pub dir: PathBuf,
    /// Added to fuzzfleet's environment, sorted by name.
    pub env: Vec<(String, String)>,
}

impl Plan {
    /// The `[[harnesses]]` entries still to be built (no harness found in their dir).
    pub fn unbuilt_harnesses(&self) -> impl Iterator<Item = &HarnessPlan> {
        self.harnesses.iter().filter(|h| !h.built)
    }

    /// The `[[harnesses]]` entry a target was found by.
    pub fn harnesses_of(&self, target: &str) -> Option<&HarnessPlan> {
        self.harnesses
            .iter()
            .find(|h| h.targets.iter().any(|t| t == target))
    }
}

/// A prebuilt target's coverage variant (`coverage_build`, `coverage_binary`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoverageBuild {
    /// Run with `sh -c` in the config's directory; `None`: the binary is prebuilt.
    pub command: Option<String>,
    /// Absolute. Exists and is executable when `command` is `None`; otherwise the
    /// command makes it.
    pub binary: PathBuf,
}

/// Where a target's executable comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSource {
    /// A prebuilt binary; absolute, exists, executable.
    Binary(PathBuf),
    /// Built from `Plan::projects[project]`; the binary's name is the target's name.
    Project { project: usize },
}

/// A tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierPlan {
    pub name: TierName,
    /// In the order they run.
    pub targets: Vec<TargetName>,
    /// Wall-clock time per target per cycle; positive.
    pub budget: Duration,
    pub mode: TierMode,
    /// `None`: the node's workers split evenly among the tiers it runs.
    pub workers: Option<NonZeroUsize>,
}

/// A node of the fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePlan {
    pub name: NodeName,
    pub ssh: Option<SshDest>,
    pub api: Option<HttpUrl>,
    /// Absolute; not checked for existence (deploy may create it).
    pub token_file: Option<PathBuf>,
    /// Tiers it runs; each names a tier of the plan.
    pub tiers: Vec<TierName>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubPlan {
    pub url: HubUrl,
    /// How often a campaign syncs (besides at its start and stop).
    pub every: Duration,
}

/// Automatic corpus minimization during a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorpusPlan {
    /// Growth factor that triggers a minimization; `None`: never automatically.
    pub minimize_growth: Option<u64>,
    pub minimize_min_files: u64,
}

impl Default for CorpusPlan {
    fn default() -> Self {
        CorpusPlan {
            minimize_growth: Some(defaults::MINIMIZE_GROWTH),
            minimize_min_files: defaults::MINIMIZE_MIN_FILES,
        }
    }
}

/// The crash pipeline's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrashesPlan {
    pub keep_inputs: u64,
    pub repro_runs: u32,
    pub minimize_budget: Duration,
    /// How long a stopping run triages what it found before it exits.
    pub triage_deadline: Duration,
    /// Severity of recoverable sanitizer reports (UBSan `runtime error:` lines): one
    /// of [`defaults::SEVERITIES`].
    pub recoverable_severity: String,
}

impl Default for CrashesPlan {
    fn default() -> Self {
        CrashesPlan {
            keep_inputs: defaults::KEEP_INPUTS,
            repro_runs: defaults::REPRO_RUNS,
            minimize_budget: defaults::MINIMIZE_BUDGET,
            triage_deadline: defaults::TRIAGE_DEADLINE,
            recoverable_severity: defaults::RECOVERABLE_SEVERITY.to_owned(),
        }
    }
}

/// Alert thresholds, in percent (1 to 100).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertsPlan {
    pub webhook: Option<HttpUrl>,
    pub cpu_percent: u8,
    pub mem_percent: u8,
    pub disk_percent: u8,
    /// Past this, fuzzing pauses until space returns (always above `disk_percent`).
    pub disk_critical_percent: u8,
    /// How long a CPU or memory condition must hold before it is alerted (or recovered).
    pub sustain: Duration,
    /// More alerts than this within a minute are sent as one digest.
    pub digest_after: u64,
}

impl Default for AlertsPlan {
    fn default() -> Self {
        AlertsPlan {
            webhook: None,
            cpu_percent: defaults::CPU_PERCENT,
            mem_percent: defaults::MEM_PERCENT,
            disk_percent: defaults::DISK_PERCENT,
            disk_critical_percent: defaults::DISK_CRITICAL_PERCENT,
            sustain: defaults::ALERT_SUSTAIN,
            digest_after: defaults::DIGEST_AFTER,
        }
    }
}
