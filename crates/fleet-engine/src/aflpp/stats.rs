//! AFL++'s `fuzzer_stats`: `key : value` lines an instance rewrites (to a temp file,
//! then renamed) every `AFL_FUZZER_STATS_UPDATE_INTERVAL` seconds and when it exits.

use std::collections::BTreeMap;

/// The figures of one instance's `fuzzer_stats`.
#[derive(Debug, Clone, PartialEq)]
pub struct FuzzerStats {
    /// Executions since the instance started (a resumed instance starts over).
    pub execs_done: u64,
    /// AFL++'s own average over the whole run.
    pub execs_per_sec: f64,
    /// Entries in its queue, seeds and imports included.
    pub corpus_count: u64,
    /// Entries it found itself (not seeds, not imports).
    pub corpus_found: u64,
    /// Entries imported from other instances and foreign dirs.
    pub corpus_imported: u64,
    /// Crashing inputs kept in `crashes/` (one per new coverage path, not per bug).
    pub saved_crashes: u64,
    /// Hanging inputs kept in `hangs/`.
    pub saved_hangs: u64,
    /// Share of the coverage map hit, in percent.
    pub bitmap_cvg: f64,
    /// Coverage map entries (edges) hit.
    pub edges_found: u64,
    /// Edges the target has (its instrumented map size); `None` before AFL++ 4.
    pub total_edges: Option<u64>,
    /// Seconds the instance has run.
    pub run_time_s: u64,
    /// Queue cycles completed.
    pub cycles_done: u64,
    /// Unix time of its last new entry, `None` when it has found none.
    pub last_find: Option<u64>,
    /// Share of entries with stable coverage, in percent, when AFL++ measured it.
    pub stability: Option<f64>,
    /// The `afl-fuzz` process, e.g. to tell a running instance from a stale file.
    pub fuzzer_pid: u32,
    /// e.g. `++4.40c`.
    pub afl_version: String,
}

/// A `fuzzer_stats` file that is not one (a required key missing or unreadable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatsError {
    #[error("fuzzer_stats has no `{0}` line")]
    Missing(&'static str),
    #[error("fuzzer_stats `{key}` is {value:?}, not a number")]
    NotANumber { key: &'static str, value: String },
}

/// Parses `fuzzer_stats`. Unknown keys are ignored; the keys AFL++ 3 used
/// (`paths_total`, `unique_crashes`, `unique_hangs`) are read as their successors.
pub fn parse_fuzzer_stats(text: &str) -> Result<FuzzerStats, StatsError> {
    let fields: BTreeMap<&str, &str> = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect();
    let get = |keys: &[&'static str]| -> Result<&str, StatsError> {
        keys.iter()
            .find_map(|k| fields.get(k).copied())
            .ok_or(StatsError::Missing(keys[0]))
    };
    let int = |keys: &[&'static str]| -> Result<u64, StatsError> {
        let v = get(keys)?;
        v.parse().map_err(|_| StatsError::NotANumber {
            key: keys[0],
            value: v.to_owned(),
        })
    };
    let percent = |key: &'static str| -> Result<f64, StatsError> {
        let v = get(&[key])?;
        v.trim_end_matches('%')
            .parse()
            .map_err(|_| StatsError::NotANumber {
                key,
                value: v.to_owned(),
            })
    };
    let float = |key: &'static str| -> Result<f64, StatsError> {
        let v = get(&[key])?;
        v.parse().map_err(|_| StatsError::NotANumber {
            key,
            value: v.to_owned(),
        })
    };
    let optional = |key: &'static str| -> Result<Option<u64>, StatsError> {
        match fields.get(key) {
            None => Ok(None),
            Some(_) => int(&[key]).map(Some),
        }
    };
    Ok(FuzzerStats {
        execs_done: int(&["execs_done"])?,
        execs_per_sec: float("execs_per_sec")?,
        corpus_count: int(&["corpus_count", "paths_total"])?,
        corpus_found: int(&["corpus_found", "paths_found"])?,
        corpus_imported: int(&["corpus_imported", "paths_imported"])?,
        saved_crashes: int(&["saved_crashes", "unique_crashes"])?,
        saved_hangs: int(&["saved_hangs", "unique_hangs"])?,
        bitmap_cvg: percent("bitmap_cvg")?,
        edges_found: int(&["edges_found"])?,
        total_edges: optional("total_edges")?,
        run_time_s: optional("run_time")?.unwrap_or(0),
        cycles_done: int(&["cycles_done"])?,
        last_find: optional("last_find")?.filter(|&t| t != 0),
        stability: match fields.get("stability") {
            None => None,
            Some(_) => Some(percent("stability")?),
        },
        fuzzer_pid: int(&["fuzzer_pid"])? as u32,
        afl_version: get(&["afl_version"]).unwrap_or("").to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from `afl-fuzz -V 30` (AFL++ 4.40c) on the crash_magic fixture built
    /// by fleet-build, CmpLog on.
    const CRASH_MAGIC: &str =
        include_str!("../../../../fixtures/logs/aflpp/fuzzer_stats.crash_magic");

    #[test]
    fn parses_a_real_fuzzer_stats() {
        let s = parse_fuzzer_stats(CRASH_MAGIC).unwrap();
        assert_eq!(
            s,
            FuzzerStats {
                execs_done: 176_639,
                execs_per_sec: 5869.77,
                corpus_count: 91,
                corpus_found: 89,
                corpus_imported: 0,
                saved_crashes: 3,
                saved_hangs: 0,
                bitmap_cvg: 14.29,
                edges_found: 36,
                total_edges: Some(252),
                run_time_s: 30,
                cycles_done: 11,
                last_find: Some(1_796_594_820),
                stability: Some(80.56),
                fuzzer_pid: 4530,
                afl_version: "++4.40c".into(),
            }
        );
    }

    #[test]
    fn afl_3_names_are_read_as_their_successors() {
        let old = CRASH_MAGIC
            .replace("corpus_count", "paths_total")
            .replace("saved_crashes", "unique_crashes")
            .replace("saved_hangs", "unique_hangs")
            .replace("last_find         : 1796594820", "last_find : 0");
        let s = parse_fuzzer_stats(&old).unwrap();
        assert_eq!((s.corpus_count, s.saved_crashes), (91, 3));
        assert_eq!(s.last_find, None);
    }

    #[test]
    fn a_truncated_or_broken_file_is_an_error() {
        let cut: String = CRASH_MAGIC.lines().take(13).collect::<Vec<_>>().join("\n");
        assert_eq!(
            parse_fuzzer_stats(&cut).unwrap_err(),
            StatsError::Missing("execs_per_sec")
        );
        let bad = CRASH_MAGIC.replace("execs_done        : 176639", "execs_done : lots");
        assert_eq!(
            parse_fuzzer_stats(&bad).unwrap_err(),
            StatsError::NotANumber {
                key: "execs_done",
                value: "lots".into()
            }
        );
        assert_eq!(
            parse_fuzzer_stats("").unwrap_err(),
            StatsError::Missing("execs_done")
        );
    }
}
