//! Non-status lines fuzzfleet acts on: seeds, artifacts written, engine and sanitizer errors, panics, merge and fork progress.

use super::error::{ParseErrorKind, bad, number};
use super::report::{EngineError, parse_engine_error, parse_panic, parse_pid_line};
use super::status::{megabytes, size_in_bytes};

/// A classified non-status line. Lines not listed here are not errors; the
/// parser returns `Ok(None)` for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// `INFO: Seed: N`, the seed of this run's mutations.
    Seed(u32),
    /// `INFO:   N files found in DIR`, once per corpus directory.
    FilesFound { count: u64, dir: String },
    /// `INFO: A corpus is not provided, starting from an empty corpus`.
    EmptyCorpus,
    /// `INFO: seed corpus: files: N min: Nb max: Nb total: Nb rss: NMb`.
    SeedCorpus {
        files: u64,
        min_bytes: u64,
        max_bytes: u64,
        total_bytes: u64,
        rss_mb: u64,
    },
    /// `Dictionary: N entries`.
    Dictionary { entries: u64 },
    /// `\tNEW_FUNC[i/n]: 0x… in FUNCTION …` (fork mode: `  NEW_FUNC: …`).
    NewFunc { function: String },
    /// `artifact_prefix='P'; Test unit written to PATH` (older runtimes:
    /// `Test unit written to PATH`). The file is complete once this is
    /// printed; before, a watcher may see it half-written.
    ArtifactWritten {
        prefix: Option<String>,
        path: String,
    },
    /// `Slowest unit: N s:`, followed by a `slow-unit-` artifact.
    SlowestUnit { seconds: u64 },
    /// `ALARM: working on the last Unit for N seconds`, before a timeout.
    Alarm { seconds: u64 },
    /// `==PID== ERROR: libFuzzer: …`.
    LibFuzzerError {
        pid: Option<u64>,
        error: EngineError,
    },
    /// `==PID==ERROR: AddressSanitizer: heap-buffer-overflow on …`,
    /// `==PID==ERROR: LeakSanitizer: detected memory leaks`, ….
    SanitizerError {
        pid: u64,
        sanitizer: String,
        description: String,
    },
    /// UBSan's `FILE:LINE:COL: runtime error: MESSAGE`.
    RuntimeError { location: String, message: String },
    /// `SUMMARY: TOOL: TEXT`, the one-line digest after a report.
    Summary { tool: String, text: String },
    /// `thread 'NAME' (TID) panicked at FILE:LINE:COL:` (also the older
    /// forms without the thread id and with the message first).
    Panic { thread: String, location: String },
    /// `INFO: libFuzzer disabled leak detection after every mutation.`
    LeakDetectionDisabled,
    /// `INFO: a leak has been found in the initial corpus.`
    LeakInInitialCorpus,
    /// `==PID== libFuzzer: run interrupted; exiting` (SIGINT/SIGTERM).
    Interrupted { pid: u64 },
    /// `WARNING: unrecognized flag '-x=y'; …`: libFuzzer ignores the flag.
    UnrecognizedFlag { flag: String },
    /// `ERROR: …` without a pid: libFuzzer refusing to start or to run a
    /// mode, e.g. `ERROR: The required directory "…" does not exist`.
    Error { message: String },
    /// `PROG: error while loading shared libraries: LIB: …` from the
    /// dynamic loader: the target never started.
    SharedLibraryMissing { library: String },
    /// `MERGE-OUTER: N new files with N new features added; N new coverage edges`.
    MergeSummary {
        new_files: u64,
        new_features: u64,
        new_coverage_edges: u64,
    },
    /// `MERGE-INNER: 'PATH' caused a failure at the previous merge step`:
    /// that input crashed the merge and is skipped.
    MergeSkipped { path: String },
    /// Any other `MERGE-OUTER:` / `MERGE-INNER:` line.
    Merge { stage: MergeStage, message: String },
    /// `INFO: -fork=N: fuzzing in separate process(s)`.
    ForkStarted { jobs: u32 },
    /// `INFO: exiting: CODE time: Ns`, the fork-mode parent's last line.
    ForkExit { code: i32, elapsed_s: u64 },
    /// `Done N runs in N second(s)`.
    RunsDone { runs: u64, seconds: u64 },
    /// `Running: PATH` when running individual files.
    Running { path: String },
    /// `Executed PATH in N ms`: that file ran without a crash.
    Executed { path: String, ms: u64 },
}

/// Which side of a crash-resistant merge printed a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeStage {
    Outer,
    Inner,
}

/// Classifies a line that is not a status line.
pub(crate) fn parse_notice(line: &str) -> Result<Option<Notice>, ParseErrorKind> {
    if let Some(rest) = line.strip_prefix("INFO:") {
        return parse_info(rest.trim_start());
    }
    if let Some(rest) = line.strip_prefix("==") {
        return parse_pid_line(rest);
    }
    if let Some(rest) = line.strip_prefix("artifact_prefix='") {
        let (prefix, path) = rest
            .split_once("'; Test unit written to ")
            .ok_or_else(|| bad("artifact_prefix", rest))?;
        return Ok(Some(Notice::ArtifactWritten {
            prefix: Some(prefix.to_owned()),
            path: path.to_owned(),
        }));
    }
    if let Some(path) = line.strip_prefix("Test unit written to ") {
        return Ok(Some(Notice::ArtifactWritten {
            prefix: None,
            path: path.to_owned(),
        }));
    }
    if let Some(rest) = line.strip_prefix("Slowest unit: ") {
        let n = rest
            .strip_suffix(" s:")
            .ok_or_else(|| bad("Slowest unit", rest))?;
        return Ok(Some(Notice::SlowestUnit {
            seconds: number("Slowest unit", n)?,
        }));
    }
    if let Some(rest) = line.strip_prefix("ALARM: working on the last Unit for ") {
        let n = rest
            .strip_suffix(" seconds")
            .ok_or_else(|| bad("ALARM", rest))?;
        return Ok(Some(Notice::Alarm {
            seconds: number("ALARM", n)?,
        }));
    }
    if let Some(rest) = line.strip_prefix("SUMMARY: ") {
        let (tool, text) = rest.split_once(": ").ok_or_else(|| bad("SUMMARY", rest))?;
        return Ok(Some(Notice::Summary {
            tool: tool.to_owned(),
            text: text.to_owned(),
        }));
    }
    if let Some(rest) = line.strip_prefix("thread '") {
        return parse_panic(rest);
    }
    if let Some(rest) = line.strip_prefix("ERROR: ") {
        if let Some(what) = rest.strip_prefix("libFuzzer: ") {
            let error = parse_engine_error(what)?;
            return Ok(Some(Notice::LibFuzzerError { pid: None, error }));
        }
        return Ok(Some(Notice::Error {
            message: rest.to_owned(),
        }));
    }
    if let Some(rest) = line.strip_prefix("WARNING: unrecognized flag '") {
        let flag = rest
            .split_once('\'')
            .ok_or_else(|| bad("unrecognized flag", rest))?
            .0;
        return Ok(Some(Notice::UnrecognizedFlag {
            flag: flag.to_owned(),
        }));
    }
    if let Some(rest) = line.strip_prefix("MERGE-OUTER: ") {
        return parse_merge_outer(rest).map(Some);
    }
    if let Some(rest) = line.strip_prefix("MERGE-INNER: ") {
        if let Some(path) = rest
            .strip_prefix('\'')
            .and_then(|r| r.strip_suffix("' caused a failure at the previous merge step"))
        {
            return Ok(Some(Notice::MergeSkipped {
                path: path.to_owned(),
            }));
        }
        return Ok(Some(Notice::Merge {
            stage: MergeStage::Inner,
            message: rest.to_owned(),
        }));
    }
    let trimmed = line.trim_start();
    if let Some(rest) = trimmed.strip_prefix("NEW_FUNC") {
        let rest = rest
            .split_once(": ")
            .ok_or_else(|| bad("NEW_FUNC", rest))?
            .1;
        let function = rest.split_once(" in ").map_or(rest, |(_, f)| f);
        return Ok(Some(Notice::NewFunc {
            function: function.to_owned(),
        }));
    }
    if let Some((runs, secs)) = frame(line, "Done ", " runs in ", " second(s)") {
        return Ok(Some(Notice::RunsDone {
            runs: number("Done", runs)?,
            seconds: number("Done", secs)?,
        }));
    }
    if let Some(path) = line.strip_prefix("Running: ") {
        return Ok(Some(Notice::Running {
            path: path.to_owned(),
        }));
    }
    if let Some((path, ms)) = frame(line, "Executed ", " in ", " ms") {
        return Ok(Some(Notice::Executed {
            path: path.to_owned(),
            ms: number("Executed", ms)?,
        }));
    }
    if let Some(n) = line
        .strip_prefix("Dictionary: ")
        .and_then(|r| r.strip_suffix(" entries"))
    {
        return Ok(Some(Notice::Dictionary {
            entries: number("Dictionary", n)?,
        }));
    }
    if let Some((_, rest)) = line.split_once(": error while loading shared libraries: ") {
        let library = rest.split_once(':').map_or(rest, |(lib, _)| lib);
        return Ok(Some(Notice::SharedLibraryMissing {
            library: library.to_owned(),
        }));
    }
    if let Some((location, message)) = line.split_once(": runtime error: ") {
        return Ok(Some(Notice::RuntimeError {
            location: location.to_owned(),
            message: message.to_owned(),
        }));
    }
    Ok(None)
}

/// `PREFIX a MID b SUFFIX` → `(a, b)`, splitting at the last `MID` (paths may contain it).
fn frame<'a>(line: &'a str, prefix: &str, mid: &str, suffix: &str) -> Option<(&'a str, &'a str)> {
    line.strip_prefix(prefix)?
        .strip_suffix(suffix)?
        .rsplit_once(mid)
}

fn parse_info(rest: &str) -> Result<Option<Notice>, ParseErrorKind> {
    if let Some(n) = rest.strip_prefix("Seed: ") {
        return Ok(Some(Notice::Seed(number("Seed", n)?)));
    }
    if let Some(rest) = rest.strip_prefix("seed corpus: ") {
        return parse_seed_corpus(rest).map(Some);
    }
    if let Some((count, dir)) = rest.split_once(" files found in ") {
        return Ok(Some(Notice::FilesFound {
            count: number("files found", count)?,
            dir: dir.to_owned(),
        }));
    }
    if rest.starts_with("A corpus is not provided") {
        return Ok(Some(Notice::EmptyCorpus));
    }
    if rest.starts_with("libFuzzer disabled leak detection after every mutation") {
        return Ok(Some(Notice::LeakDetectionDisabled));
    }
    if rest.starts_with("a leak has been found in the initial corpus") {
        return Ok(Some(Notice::LeakInInitialCorpus));
    }
    if let Some(rest) = rest.strip_prefix("-fork=") {
        if let Some(jobs) = rest.strip_suffix(": fuzzing in separate process(s)") {
            return Ok(Some(Notice::ForkStarted {
                jobs: number("-fork", jobs)?,
            }));
        }
        return Ok(None);
    }
    if let Some(rest) = rest.strip_prefix("exiting: ") {
        let (code, time) = rest
            .split_once(" time: ")
            .ok_or_else(|| bad("exiting", rest))?;
        let secs = time.strip_suffix('s').ok_or_else(|| bad("exiting", rest))?;
        let code = code.parse().map_err(|_| bad("exiting", code))?;
        return Ok(Some(Notice::ForkExit {
            code,
            elapsed_s: number("exiting", secs)?,
        }));
    }
    Ok(None)
}

fn parse_seed_corpus(rest: &str) -> Result<Notice, ParseErrorKind> {
    let tokens: Vec<&str> = rest.split_whitespace().collect();
    let [
        "files:",
        files,
        "min:",
        min,
        "max:",
        max,
        "total:",
        total,
        "rss:",
        rss,
    ] = tokens[..]
    else {
        return Err(bad("seed corpus", rest));
    };
    Ok(Notice::SeedCorpus {
        files: number("seed corpus files", files)?,
        min_bytes: size_in_bytes("seed corpus min", min)?,
        max_bytes: size_in_bytes("seed corpus max", max)?,
        total_bytes: size_in_bytes("seed corpus total", total)?,
        rss_mb: megabytes("seed corpus rss", rss)?,
    })
}

fn parse_merge_outer(rest: &str) -> Result<Notice, ParseErrorKind> {
    if let Some((files, tail)) = rest.split_once(" new files with ") {
        let (features, tail) = tail
            .split_once(" new features added; ")
            .ok_or_else(|| bad("MERGE-OUTER", rest))?;
        let edges = tail
            .strip_suffix(" new coverage edges")
            .ok_or_else(|| bad("MERGE-OUTER", rest))?;
        return Ok(Notice::MergeSummary {
            new_files: number("MERGE-OUTER new files", files)?,
            new_features: number("MERGE-OUTER new features", features)?,
            new_coverage_edges: number("MERGE-OUTER new coverage edges", edges)?,
        });
    }
    Ok(Notice::Merge {
        stage: MergeStage::Outer,
        message: rest.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(line: &str) -> Notice {
        parse_notice(line)
            .unwrap_or_else(|e| panic!("{line}: {e}"))
            .unwrap_or_else(|| panic!("{line}: not classified"))
    }

    #[test]
    fn older_runtime_spellings() {
        assert_eq!(
            notice("==7== ERROR: libFuzzer: out-of-memory (used: 2100Mb; exceeds: 2048Mb)"),
            Notice::LibFuzzerError {
                pid: Some(7),
                error: EngineError::OutOfMemoryRss {
                    used_mb: 2100,
                    limit_mb: 2048
                }
            }
        );
        assert_eq!(
            notice("Test unit written to ./crash-da39a3ee5e6b4b0d3255bfef95601890afd80709"),
            Notice::ArtifactWritten {
                prefix: None,
                path: "./crash-da39a3ee5e6b4b0d3255bfef95601890afd80709".into()
            }
        );
        assert_eq!(
            notice("thread 'main' panicked at 'attempt to add with overflow', src/lib.rs:10:5"),
            Notice::Panic {
                thread: "main".into(),
                location: "src/lib.rs:10:5".into()
            }
        );
        assert_eq!(
            notice("thread '<unnamed>' panicked at src/lib.rs:10:5:"),
            Notice::Panic {
                thread: "<unnamed>".into(),
                location: "src/lib.rs:10:5".into()
            }
        );
        assert_eq!(
            notice("ERROR: libFuzzer: timeout after 25 seconds"),
            Notice::LibFuzzerError {
                pid: None,
                error: EngineError::Timeout { seconds: 25 }
            }
        );
    }

    #[test]
    fn lines_from_the_runtime_source_not_in_captures() {
        assert_eq!(
            notice("INFO: libFuzzer disabled leak detection after every mutation."),
            Notice::LeakDetectionDisabled
        );
        assert_eq!(
            notice("==3== ERROR: libFuzzer: fuzz target exited"),
            Notice::LibFuzzerError {
                pid: Some(3),
                error: EngineError::FuzzTargetExited
            }
        );
        assert_eq!(
            notice("src/x.c:5:3: runtime error: signed integer overflow"),
            Notice::RuntimeError {
                location: "src/x.c:5:3".into(),
                message: "signed integer overflow".into()
            }
        );
        assert_eq!(
            notice("==3== ERROR: libFuzzer: something new"),
            Notice::LibFuzzerError {
                pid: Some(3),
                error: EngineError::Other("something new".into())
            }
        );
    }

    #[test]
    fn unclassified_lines_are_none() {
        for line in [
            "",
            "==9800==ABORTING",
            "Base64: SA==",
            "NOTE: libFuzzer has rudimentary signal handlers.",
            "###### Recommended dictionary. ######",
            "INFO: -max_len is not provided; libFuzzer will not generate inputs larger than 4096 bytes",
            "    #0 0x55 in main",
            "Done loading the config",
            "Executed the plan",
            "thread 'worker' started",
            "==5==ERROR without colon",
        ] {
            assert_eq!(parse_notice(line), Ok(None), "{line}");
        }
    }

    #[test]
    fn recognised_but_malformed_lines_are_errors() {
        for line in [
            "INFO: Seed: x",
            "INFO: Seed: 99999999999",
            "INFO: seed corpus: files: 3 min: 5b",
            "Slowest unit: two s:",
            "ALARM: working on the last Unit for many seconds",
            "==5== ERROR: libFuzzer: timeout after x seconds",
            "==5== ERROR: libFuzzer: out-of-memory (used: 3Mb)",
            "==5==ERROR: nocolon",
            "SUMMARY: nothing",
            "thread 'x' panicked at ",
            "Done many runs in 3 second(s)",
            "Executed a in b ms",
            "MERGE-OUTER: x new files with 3 new features added; 2 new coverage edges",
            "artifact_prefix='x' Test unit written",
        ] {
            assert!(parse_notice(line).is_err(), "{line} parsed");
        }
    }
}
