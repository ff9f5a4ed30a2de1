//! The `stat::…` block libFuzzer prints at exit with `-print_final_stats=1`.

use super::error::{ParseError, ParseErrorKind, bad, number};

/// Totals of one libFuzzer run (`Fuzzer::PrintFinalStats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FinalStats {
    /// `stat::number_of_executed_units`.
    pub executed_units: u64,
    /// `stat::average_exec_per_sec`.
    pub average_exec_per_sec: u64,
    /// `stat::new_units_added`.
    pub new_units_added: u64,
    /// `stat::slowest_unit_time_sec`.
    pub slowest_unit_time_s: u64,
    /// `stat::peak_rss_mb`.
    pub peak_rss_mb: u64,
}

const KEYS: [&str; 5] = [
    "number_of_executed_units",
    "average_exec_per_sec",
    "new_units_added",
    "slowest_unit_time_sec",
    "peak_rss_mb",
];

/// Finds and parses the final-stats block in a run's output; other lines
/// are skipped. Every one of the five figures must be there exactly once,
/// well formed; an unknown `stat::` key is an error so that a runtime that
/// prints something new is noticed rather than half-read.
///
/// With `-print_final_stats=1` libFuzzer prints the block on normal exit, on
/// SIGINT/SIGTERM, on OOM and timeouts and after a crash (seen on the
/// `crash_often` fixture), but never in fork mode's parent.
pub fn parse_final_stats(text: &str) -> Result<FinalStats, ParseError> {
    let mut values: [Option<u64>; 5] = [None; 5];
    let mut last_line = "";
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("stat::") else {
            continue;
        };
        last_line = line;
        let err = |kind| ParseError::new(line, kind);
        let (key, value) = rest.split_once(':').ok_or_else(|| err(bad("stat", rest)))?;
        let i = KEYS
            .iter()
            .position(|k| *k == key)
            .ok_or_else(|| err(ParseErrorKind::Unexpected(format!("stat::{key}"))))?;
        let n = number(key, value.trim()).map_err(err)?;
        if values[i].replace(n).is_some() {
            return Err(err(ParseErrorKind::Duplicate(format!("stat::{key}"))));
        }
    }
    let get = |i: usize| {
        values[i].ok_or_else(|| ParseError::new(last_line, ParseErrorKind::Missing(KEYS[i])))
    };
    Ok(FinalStats {
        executed_units: get(0)?,
        average_exec_per_sec: get(1)?,
        new_units_added: get(2)?,
        slowest_unit_time_s: get(3)?,
        peak_rss_mb: get(4)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: &str = "stat::number_of_executed_units: 533\n\
                         stat::average_exec_per_sec:     35\n\
                         stat::new_units_added:          2\n\
                         stat::slowest_unit_time_sec:    2\n\
                         stat::peak_rss_mb:              36\n";

    #[test]
    fn parses_the_block() {
        assert_eq!(
            parse_final_stats(BLOCK),
            Ok(FinalStats {
                executed_units: 533,
                average_exec_per_sec: 35,
                new_units_added: 2,
                slowest_unit_time_s: 2,
                peak_rss_mb: 36,
            })
        );
    }

    #[test]
    fn missing_duplicate_unknown_and_malformed_figures_are_errors() {
        let missing = BLOCK.replace("stat::peak_rss_mb:              36\n", "");
        assert_eq!(
            parse_final_stats(&missing).unwrap_err().kind,
            ParseErrorKind::Missing("peak_rss_mb")
        );
        let dup = format!("{BLOCK}stat::new_units_added: 3\n");
        assert!(matches!(
            parse_final_stats(&dup).unwrap_err().kind,
            ParseErrorKind::Duplicate(_)
        ));
        let unknown = format!("{BLOCK}stat::bogus: 3\n");
        assert!(matches!(
            parse_final_stats(&unknown).unwrap_err().kind,
            ParseErrorKind::Unexpected(_)
        ));
        let bad_value = BLOCK.replace("533", "5x3");
        assert!(matches!(
            parse_final_stats(&bad_value).unwrap_err().kind,
            ParseErrorKind::BadValue { .. }
        ));
        assert_eq!(
            parse_final_stats("no stats here").unwrap_err().kind,
            ParseErrorKind::Missing("number_of_executed_units")
        );
    }
}
