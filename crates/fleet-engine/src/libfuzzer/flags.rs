//! Extra libFuzzer flags from configuration: checked to be `-name=value`, known to libFuzzer, and not one fuzzfleet sets itself.

use std::fmt;
use std::str::FromStr;

/// Every flag of the libFuzzer runtime bundled by `libfuzzer-sys` 0.4.13
/// (`FuzzerFlags.def`). Older runtimes (clang-14) know a subset. libFuzzer
/// only warns about an unknown flag and runs on without it
/// (`unrecognized-flag.log`), so a typo would silently change nothing.
pub const KNOWN_FLAGS: &[&str] = &[
    "verbosity",
    "seed",
    "runs",
    "max_len",
    "len_control",
    "seed_inputs",
    "keep_seed",
    "cross_over",
    "cross_over_uniform_dist",
    "mutate_depth",
    "reduce_depth",
    "shuffle",
    "prefer_small",
    "error_exitcode",
    "timeout",
    "timeout_exitcode",
    "max_total_time",
    "help",
    "fork",
    "fork_corpus_groups",
    "ignore_timeouts",
    "ignore_ooms",
    "ignore_crashes",
    "merge",
    "set_cover_merge",
    "stop_file",
    "merge_inner",
    "merge_control_file",
    "minimize_crash",
    "cleanse_crash",
    "minimize_crash_internal_step",
    "features_dir",
    "mutation_graph_file",
    "use_counters",
    "use_memmem",
    "use_value_profile",
    "use_cmp",
    "shrink",
    "reduce_inputs",
    "jobs",
    "workers",
    "reload",
    "report_slow_units",
    "only_ascii",
    "dict",
    "artifact_prefix",
    "exact_artifact_path",
    "print_pcs",
    "print_funcs",
    "print_final_stats",
    "print_corpus_stats",
    "print_coverage",
    "print_full_coverage",
    "dump_coverage",
    "handle_segv",
    "handle_bus",
    "handle_abrt",
    "handle_ill",
    "handle_fpe",
    "handle_int",
    "handle_term",
    "handle_trap",
    "handle_xfsz",
    "handle_usr1",
    "handle_usr2",
    "handle_winexcept",
    "close_fd_mask",
    "detect_leaks",
    "purge_allocator_interval",
    "trace_malloc",
    "rss_limit_mb",
    "malloc_limit_mb",
    "exit_on_src_pos",
    "exit_on_item",
    "ignore_remaining_args",
    "focus_function",
    "entropic",
    "entropic_feature_frequency_threshold",
    "entropic_number_of_rarest_features",
    "entropic_scale_per_exec_time",
    "analyze_dict",
    "use_clang_coverage",
    "data_flow_trace",
    "collect_data_flow",
    "create_missing_dirs",
];

/// Flags an extra argument may not set, with why: each is either a typed
/// option of its own, or would break how fuzzfleet supervises the process
/// (where artifacts land, what the exit code means, whether status lines
/// are printed, which arguments are read).
pub const RESERVED_FLAGS: &[(&str, &str)] = &[
    (
        "artifact_prefix",
        "fuzzfleet sets it to the worker's artifact directory",
    ),
    (
        "exact_artifact_path",
        "every artifact must land in the artifact directory under its hash",
    ),
    ("rss_limit_mb", "use the rss_limit_mb option"),
    ("malloc_limit_mb", "use the malloc_limit_mb option"),
    ("timeout", "use the timeout_s option"),
    ("dict", "use the dict option"),
    ("max_len", "use the max_len option"),
    ("seed", "use the seed option"),
    ("max_total_time", "the scheduler owns each run's budget"),
    ("runs", "the scheduler owns each run's budget"),
    ("fork", "use the fork option"),
    ("ignore_crashes", "use the fork option"),
    ("ignore_timeouts", "use the fork option"),
    ("ignore_ooms", "use the fork option"),
    ("print_final_stats", "use the print_final_stats option"),
    ("report_slow_units", "use the report_slow_units_s option"),
    ("reload", "use the reload option"),
    (
        "jobs",
        "fuzzfleet starts and supervises every worker itself",
    ),
    (
        "workers",
        "fuzzfleet starts and supervises every worker itself",
    ),
    ("merge", "corpus merges are their own command"),
    ("set_cover_merge", "corpus merges are their own command"),
    ("merge_inner", "corpus merges are their own command"),
    ("merge_control_file", "corpus merges are their own command"),
    ("minimize_crash", "crash minimization is its own command"),
    (
        "minimize_crash_internal_step",
        "crash minimization is its own command",
    ),
    ("cleanse_crash", "crash minimization is its own command"),
    (
        "error_exitcode",
        "fuzzfleet classifies how a worker ended by libFuzzer's default exit codes",
    ),
    (
        "timeout_exitcode",
        "fuzzfleet classifies how a worker ended by libFuzzer's default exit codes",
    ),
    (
        "handle_int",
        "graceful stop relies on libFuzzer handling SIGINT",
    ),
    (
        "handle_term",
        "graceful stop relies on libFuzzer handling SIGTERM",
    ),
    (
        "verbosity",
        "stats come from the status lines that verbosity=0 turns off",
    ),
    (
        "ignore_remaining_args",
        "it would hide the corpus directories that follow",
    ),
    ("help", "it prints help and exits"),
];

/// An extra libFuzzer flag that has passed [`ExtraFlag::from_str`]: `-name=value`
/// with a known, unreserved name and a non-empty value. It is passed to
/// libFuzzer exactly as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtraFlag {
    raw: String,
    eq: usize,
}

impl ExtraFlag {
    /// The flag's name, without the leading `-`.
    pub fn name(&self) -> &str {
        &self.raw[1..self.eq]
    }

    /// Everything after the first `=`.
    pub fn value(&self) -> &str {
        &self.raw[self.eq + 1..]
    }

    /// The flag exactly as given, e.g. `-use_value_profile=1`.
    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

impl fmt::Display for ExtraFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// Why an extra argument was refused; each message names the argument.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlagError {
    #[error("`{0}` is not a libFuzzer flag: flags look like -name=value")]
    NotAFlag(String),
    #[error("`{0}` starts with `--`, which libFuzzer ignores: use a single dash")]
    DoubleDash(String),
    #[error("`{0}` has no value: libFuzzer flags look like -name=value")]
    MissingValue(String),
    #[error("`{flag}` is not a libFuzzer flag (libFuzzer would ignore it with only a warning)")]
    Unknown { flag: String },
    #[error("`{flag}` sets -{name}, which fuzzfleet sets itself: {reason}")]
    Reserved {
        flag: String,
        name: String,
        reason: &'static str,
    },
}

impl FromStr for ExtraFlag {
    type Err = FlagError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.starts_with("--") {
            return Err(FlagError::DoubleDash(s.to_owned()));
        }
        let Some(rest) = s.strip_prefix(super::quirks::FLAG_PREFIX) else {
            return Err(FlagError::NotAFlag(s.to_owned()));
        };
        let Some((name, value)) = rest.split_once('=') else {
            return Err(FlagError::MissingValue(s.to_owned()));
        };
        let well_formed = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !well_formed {
            return Err(FlagError::NotAFlag(s.to_owned()));
        }
        if value.is_empty() {
            return Err(FlagError::MissingValue(s.to_owned()));
        }
        if let Some((_, reason)) = RESERVED_FLAGS.iter().find(|(n, _)| *n == name) {
            return Err(FlagError::Reserved {
                flag: s.to_owned(),
                name: name.to_owned(),
                reason,
            });
        }
        if !KNOWN_FLAGS.contains(&name) {
            return Err(FlagError::Unknown { flag: s.to_owned() });
        }
        Ok(ExtraFlag {
            raw: s.to_owned(),
            eq: 1 + name.len(),
        })
    }
}

impl TryFrom<String> for ExtraFlag {
    type Error = FlagError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_known_flags_verbatim() {
        let flag: ExtraFlag = "-use_value_profile=1".parse().unwrap();
        assert_eq!(flag.name(), "use_value_profile");
        assert_eq!(flag.value(), "1");
        assert_eq!(flag.as_str(), "-use_value_profile=1");
        let flag: ExtraFlag = "-focus_function=a=b".parse().unwrap();
        assert_eq!(flag.value(), "a=b");
    }

    #[test]
    fn refuses_malformed_unknown_and_reserved_flags() {
        let err = |s: &str| s.parse::<ExtraFlag>().unwrap_err();
        assert_eq!(err("corpus"), FlagError::NotAFlag("corpus".into()));
        assert_eq!(err("--runs=3"), FlagError::DoubleDash("--runs=3".into()));
        assert_eq!(err("-use_cmp"), FlagError::MissingValue("-use_cmp".into()));
        assert_eq!(
            err("-use_cmp="),
            FlagError::MissingValue("-use_cmp=".into())
        );
        assert_eq!(err("-Use Cmp=1"), FlagError::NotAFlag("-Use Cmp=1".into()));
        assert_eq!(
            err("-rss_limt_mb=3"),
            FlagError::Unknown {
                flag: "-rss_limt_mb=3".into()
            }
        );
        assert!(matches!(err("-timeout=5"), FlagError::Reserved { name, .. } if name == "timeout"));
        assert_eq!(
            err("-artifact_prefix=/tmp/").to_string(),
            "`-artifact_prefix=/tmp/` sets -artifact_prefix, which fuzzfleet sets itself: \
             fuzzfleet sets it to the worker's artifact directory"
        );
    }

    #[test]
    fn every_reserved_flag_is_a_known_flag() {
        for (name, _) in RESERVED_FLAGS {
            assert!(KNOWN_FLAGS.contains(name), "{name}");
        }
    }
}
