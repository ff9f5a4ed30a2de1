//! Stage one: `fleet.toml` as written. These serde structs mirror the file key for key,
//! refuse unknown keys, and keep the span of every value validation looks at, so that
//! stage two ([`crate::validate`]) can name the line of anything it rejects.
//!
//! Numbers are read as `i64` and checked later, so that `-1` gets "must be positive"
//! rather than serde's "expected u64". The doc comment of each field is the user-facing
//! reference of its key (`docs/config.md` is written from them).

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;

type S<T> = Spanned<T>;
/// A list whose items each keep their own span.
type List = Spanned<Vec<Spanned<String>>>;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    /// Directory for fuzzfleet's state (database, corpora, crashes, logs). Relative to
    /// the config file's directory. Default `".fuzzfleet"`. `--state` overrides it.
    pub state_dir: Option<S<String>>,
    /// Worker processes (one core each) on this node. `0` or absent: one per core.
    pub workers: Option<S<i64>>,
    /// When the tiers need more workers than the node has (each tier needs at least
    /// one), they take turns of this length, never longer than a target's budget.
    /// Default "1h".
    pub tier_slice: Option<S<RawDuration>>,
    /// How often `run` prints its one-line progress summary. Default "1m".
    pub progress_every: Option<S<RawDuration>>,
    /// How core time is given to targets: "coverage" (default: where coverage grows),
    /// "fixed" (the tiers' budgets as a clock) or "equal" (equal slices for all).
    pub schedule: Option<S<String>>,
    /// How each worker run's libFuzzer flags are chosen: "portfolio" (default: a bandit
    /// per target picks strategies by their payoff) or "plain" (as configured).
    pub strategies: Option<S<String>>,
    /// Per-target defaults, used where a `[[target]]` or `[[project]]` does not say.
    pub defaults: Option<RawDefaults>,
    /// cargo-fuzz projects whose targets are built and registered.
    #[serde(default)]
    pub project: Vec<S<RawProject>>,
    /// Directories of prebuilt C/C++ harnesses, found by a glob, optionally built by a
    /// command of the project's own.
    #[serde(default)]
    pub harnesses: Vec<S<RawHarnesses>>,
    /// Prebuilt targets, or options for a project's target.
    #[serde(default)]
    pub target: Vec<S<RawTarget>>,
    /// Tiers by name, `[tier.NAME]`.
    #[serde(default)]
    pub tier: BTreeMap<S<String>, S<RawTier>>,
    /// Nodes of the fleet by name, `[node.NAME]`.
    #[serde(default)]
    pub node: BTreeMap<S<String>, S<RawNode>>,
    /// The shared store nodes sync through.
    pub hub: Option<RawHub>,
    /// Resource alerts.
    pub alerts: Option<RawAlerts>,
    /// Corpus care during a campaign.
    pub corpus: Option<RawCorpus>,
    /// The crash pipeline.
    pub crashes: Option<RawCrashes>,
    /// Source-based coverage during a campaign.
    pub coverage: Option<RawCoverage>,
}

/// `[coverage]`: line coverage recomputed during a campaign.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCoverage {
    /// How often a campaign recomputes its targets' coverage (at nice 19); `"0s"` turns
    /// it off. Default "1h".
    pub every: Option<S<RawDuration>>,
}

/// `[crashes]`: how findings become buckets.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCrashes {
    /// Inputs a bucket keeps (its smallest); later ones are only counted. Default 100.
    pub keep_inputs: Option<S<i64>>,
    /// Runs of each new finding's input to tell `always` from `sometimes`. 1 to 20, default 3.
    pub repro_runs: Option<S<i64>>,
    /// Time box of minimizing one bucket's input. Default "60s".
    pub minimize_budget: Option<S<RawDuration>>,
    /// How long a stopping run triages what it found before it exits. Default "30s".
    pub triage_deadline: Option<S<RawDuration>>,
    /// Severity given to recoverable sanitizer reports (UBSan `runtime error:` lines):
    /// `"critical"`, `"high"`, `"medium"` or `"low"`. Default `"low"`.
    pub recoverable_severity: Option<S<String>>,
}

/// `[corpus]`: automatic corpus minimization during a campaign.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCorpus {
    /// Minimize a target's corpus (a coverage-preserving merge) once it has this many
    /// times the files it had after its last minimization (or when the campaign
    /// started). An integer ≥ 2; `0` turns automatic minimization off. Default 2.
    pub minimize_growth: Option<S<i64>>,
    /// Corpora smaller than this many files are never minimized automatically. Default 1000.
    pub minimize_min_files: Option<S<i64>>,
}

/// `[defaults]`: options every target gets unless it sets its own.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDefaults {
    /// Engine that drives targets: `"libfuzzer"` (default), the only one accepted:
    /// `"aflpp"` runs beside it (`engines`), and `"honggfuzz"` is not supported yet.
    pub engine: Option<S<String>>,
    /// Memory limit per worker in MiB, passed as libFuzzer's `-rss_limit_mb`. Default 4096.
    pub rss_limit_mb: Option<S<i64>>,
    /// Per-input timeout in seconds, libFuzzer's `-timeout`. Default 25.
    pub timeout_s: Option<S<i64>>,
    /// Sanitizer for cargo-fuzz builds: `"address"` (default) or `"none"`.
    pub sanitizer: Option<S<String>>,
    /// Longest input in bytes, libFuzzer's `-max_len`. Default: libFuzzer's own choice.
    pub max_len: Option<S<i64>>,
    /// Extra libFuzzer flags, each `-name=value`, given to every target before its own.
    pub args: Option<List>,
    /// Engines that fuzz cargo-fuzz projects' targets: `["libfuzzer"]` or
    /// `["libfuzzer", "aflpp"]` (AFL++ with CmpLog beside libFuzzer). Default: AFL++
    /// when it can be built here. `["libfuzzer"]` also keeps prebuilt targets' AFL++
    /// binaries unused.
    pub engines: Option<List>,
}

/// `[[project]]`: a cargo-fuzz project.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProject {
    /// The project's `fuzz/` directory (the one holding `Cargo.toml` and
    /// `fuzz_targets/`), or the crate directory that contains `fuzz/`. Required.
    pub path: S<String>,
    /// rustup toolchain to build with. Default `"nightly"`.
    pub toolchain: Option<S<String>>,
    /// Sanitizer for this project's targets; default `[defaults] sanitizer`.
    pub sanitizer: Option<S<String>>,
    /// Engines for this project's targets; default `[defaults] engines`.
    pub engines: Option<List>,
}

/// `[[harnesses]]`: every libFuzzer binary in a directory whose name matches a glob
/// becomes a target; `build`, when set, makes them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHarnesses {
    /// The directory the harness binaries are in (the build's output). Required.
    pub dir: S<String>,
    /// Which file names in `dir` are harnesses, e.g. `"fuzz_*"`. Default `"*"`.
    pub glob: Option<S<String>>,
    /// Removed from the front of a harness's file name to make its target name
    /// (`"fuzz_"`: `fuzz_parse` → `parse`).
    pub strip_prefix: Option<S<String>>,
    /// Shell command (`sh -c`) that builds the harnesses, e.g. `"make -j fuzz"`; run by
    /// `fuzzfleet build` and before `run`.
    pub build: Option<S<String>>,
    /// Where `build` runs. Default: the config file's directory.
    pub build_dir: Option<S<String>>,
    /// Environment variables for `build`, e.g. `{ CXX = "clang++-14" }`.
    pub env: Option<S<BTreeMap<S<String>, S<String>>>>,
    /// A directory holding `NAME/` seed directories, one per target.
    pub seeds: Option<S<String>>,
    /// A directory holding `NAME.dict` dictionaries, one per target.
    pub dicts: Option<S<String>>,
}

/// `[[target]]`: a prebuilt binary (with `binary`), or, without `binary`, options for
/// the project target of the same name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTarget {
    /// Target name; becomes a directory name. Required.
    pub name: S<String>,
    /// Path of a prebuilt libFuzzer binary. Must exist and be executable.
    pub binary: Option<S<String>>,
    /// Engine; default `[defaults] engine`. Prebuilt targets only.
    pub engine: Option<S<String>>,
    /// libFuzzer dictionary file (`-dict`). Must exist.
    pub dict: Option<S<String>>,
    /// Directory of seed inputs, imported into the corpus. Must exist.
    pub seeds: Option<S<String>>,
    /// Memory limit per worker in MiB; default `[defaults] rss_limit_mb`.
    pub rss_limit_mb: Option<S<i64>>,
    /// Per-input timeout in seconds; default `[defaults] timeout_s`.
    pub timeout_s: Option<S<i64>>,
    /// Longest input in bytes; default `[defaults] max_len`.
    pub max_len: Option<S<i64>>,
    /// What the binary was built with; default `[defaults] sanitizer`. Prebuilt
    /// targets only (a project's targets take their project's).
    pub sanitizer: Option<S<String>>,
    /// Extra libFuzzer flags, each `-name=value`, after `[defaults] args`.
    pub args: Option<List>,
    /// Shell command (`sh -c`, run in the config's directory) that builds the coverage
    /// variant of a prebuilt target (clang `-fprofile-instr-generate -fcoverage-mapping`).
    /// Needs `coverage_binary`. Prebuilt targets only.
    pub coverage_build: Option<S<String>>,
    /// The coverage variant's binary: what `coverage_build` produces, or, without it, an
    /// existing executable. Prebuilt targets only.
    pub coverage_binary: Option<S<String>>,
    /// The target built for AFL++ (`afl-clang-fast`/`afl-clang-lto` with
    /// `libAFLDriver.a`, the same harness). Prebuilt targets only. Must exist and be
    /// executable.
    pub afl_binary: Option<S<String>>,
    /// Its CmpLog build (`AFL_LLVM_CMPLOG=1`), run by `afl-fuzz -c`. Needs `afl_binary`.
    pub afl_cmplog_binary: Option<S<String>>,
}

/// `[tier.NAME]`: an ordered group of targets with a budget each.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTier {
    /// Target names, in the order they run. Required, not empty.
    pub targets: List,
    /// Wall-clock time per target per cycle, e.g. `"48h"`. Required.
    pub budget: S<RawDuration>,
    /// `"sequential"` (default): all the tier's workers on one target at a time.
    /// `"parallel"`: targets side by side, taking turns in slices when there are more
    /// targets than workers.
    pub mode: Option<S<String>>,
    /// Length of a turn in a parallel tier. Default `"1h"`.
    pub slice: Option<S<RawDuration>>,
    /// Workers for this tier; default: the node's workers split evenly among its tiers.
    pub workers: Option<S<i64>>,
}

/// `[node.NAME]`: one machine running `fuzzfleet agent`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNode {
    /// `user@host[:port]`; the API is reached through an SSH tunnel.
    pub ssh: Option<S<String>>,
    /// Tiers this node runs. Required, not empty.
    pub tiers: List,
    /// The agent's API URL (`http://` or `https://`), used instead of a tunnel.
    pub api: Option<S<String>>,
    /// File holding the bearer token for `api`. Relative to the config file's directory.
    pub token_file: Option<S<String>>,
}

/// `[hub]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHub {
    /// `file:///abs/dir` or `s3://bucket/prefix`. Required.
    pub url: S<String>,
    /// How often a campaign syncs with the hub (besides at its start and stop).
    /// Default "60s".
    pub every: Option<S<RawDuration>>,
}

/// `[alerts]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlerts {
    /// URL alerts are POSTed to (`http://` or `https://`).
    pub webhook: Option<S<String>>,
    /// Alert when processes other than the workers use more than this share of the
    /// CPU, in percent. Default 80.
    pub cpu_percent: Option<S<i64>>,
    /// Alert when memory use passes this percentage. Default 85.
    pub mem_percent: Option<S<i64>>,
    /// Alert when the state directory's disk passes this percentage. Default 80.
    pub disk_percent: Option<S<i64>>,
    /// Past this percentage of the state directory's disk, fuzzing pauses (workers
    /// stopped, schedule kept) and only recreatable files are pruned, until space
    /// returns. Above `disk_percent`; default 95.
    pub disk_critical_percent: Option<S<i64>>,
    /// How long the CPU or memory condition must hold before an alert (and be gone
    /// before its recovery), e.g. `"2m"`. Default `"2m"`.
    pub sustain: Option<S<RawDuration>>,
    /// More new or regressed bugs than this within a minute go out as one digest.
    /// Default 5.
    pub digest_after: Option<S<i64>>,
}

/// A duration as written (`"48h"`), parsed in stage two; its own type so that a number
/// in its place is refused with a message that shows the expected form.
#[derive(Debug, Clone)]
pub(crate) struct RawDuration(pub String);

impl<'de> Deserialize<'de> for RawDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string such as \"30s\", \"12h\" or \"2d\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawDuration, E> {
                Ok(RawDuration(s.to_owned()))
            }
        }
        d.deserialize_str(V)
    }
}
