//! Status lines: libFuzzer's `#N\tEVENT cov: … exec/s: … rss: …` progress lines and fork mode's `#N: cov: … job: N` lines.

use super::error::{ParseErrorKind, bad, number};
use super::quirks::{KB_SHIFT, MB_SHIFT};

/// One status line. Fields libFuzzer leaves out are `None`: it omits `cov:`
/// and `ft:` while they are 0, `corp:` while the corpus is empty, `lim:`
/// on `INITED` and in merges, and fork mode prints no `rss:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub event: StatusEvent,
    /// Total executions so far (`#N`).
    pub execs: u64,
    /// Covered PCs (edges), `cov:`.
    pub cov: Option<u64>,
    /// Features, `ft:`.
    pub ft: Option<u64>,
    /// Inputs in the in-memory corpus, `corp: N/…`.
    pub corpus_files: Option<u64>,
    /// Corpus size, `corp: …/S`, in bytes. libFuzzer prints it truncated to
    /// KiB or MiB above 16 KiB / 16 MiB, so this is a lower bound.
    pub corpus_bytes: Option<u64>,
    /// Inputs touching `-focus_function`, `focus:`.
    pub focus: Option<u64>,
    /// Current input length limit, `lim:`.
    pub lim: Option<u64>,
    /// `units:` (older runtimes, on reload).
    pub units: Option<u64>,
    pub exec_per_sec: u64,
    pub rss_mb: Option<u64>,
    /// `L: len/max MS: …` on `NEW` and `REDUCE` lines.
    pub unit: Option<UnitInfo>,
}

/// What happened, from the word after `#N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusEvent {
    /// The seed corpus is loaded and fuzzing starts.
    Inited,
    /// An input with new coverage was added.
    New,
    /// A corpus input was replaced by a smaller one with the same features.
    Reduce,
    /// Periodic progress (every power of two executions).
    Pulse,
    /// The run ended normally (`-runs` / `-max_total_time` reached).
    Done,
    /// Inputs other workers wrote to the shared corpus were loaded.
    Reload,
    /// Fork mode: a child job finished.
    ForkJob(ForkJob),
}

/// The counters of a fork-mode status line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForkJob {
    pub job: u64,
    pub ooms: u64,
    pub timeouts: u64,
    pub crashes: u64,
    /// Seconds since the fork-mode parent started, `time: Ns`.
    pub elapsed_s: u64,
    pub dft_time_s: u64,
}

/// The input a `NEW`/`REDUCE` line is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitInfo {
    pub len: u64,
    /// Largest input in the corpus.
    pub corpus_max_len: u64,
    /// The mutation sequence after `MS:`, verbatim (e.g.
    /// `2 ChangeBit-CopyPart- DE: "abc"-`).
    pub mutations: String,
}

/// Whether the line has a status line's shape: `#`, digits, then a tab
/// (normal mode) or a colon (fork mode). Such a line must parse.
pub(crate) fn looks_like_status(line: &str) -> bool {
    let Some(rest) = line.strip_prefix('#') else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && matches!(rest.as_bytes().get(digits), Some(b'\t' | b':'))
}

/// Parses a line for which [`looks_like_status`] holds.
pub(crate) fn parse_status(line: &str) -> Result<Status, ParseErrorKind> {
    let rest = &line[1..];
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let execs = number("#", &rest[..digits])?;
    match &rest[digits..digits + 1] {
        ":" => parse_fork(execs, &rest[digits + 1..]),
        _ => parse_normal(execs, &rest[digits + 1..]),
    }
}

fn parse_normal(execs: u64, body: &str) -> Result<Status, ParseErrorKind> {
    let (head, unit) = match body.split_once(" L: ") {
        Some((head, tail)) => (head, Some(parse_unit(tail)?)),
        None => (body, None),
    };
    let mut tokens = head.split_whitespace();
    let event = match tokens.next() {
        Some("INITED") => StatusEvent::Inited,
        Some("NEW") => StatusEvent::New,
        Some("REDUCE") => StatusEvent::Reduce,
        Some("pulse") => StatusEvent::Pulse,
        Some("DONE") => StatusEvent::Done,
        Some("RELOAD") => StatusEvent::Reload,
        Some(other) => return Err(ParseErrorKind::UnknownEvent(other.to_owned())),
        None => return Err(ParseErrorKind::Missing("event")),
    };
    let mut s = Status::empty(event, execs);
    let mut exec_per_sec = None;
    for (key, value) in pairs(tokens)? {
        match key {
            "cov:" => set(&mut s.cov, key, number(key, value)?)?,
            "ft:" => set(&mut s.ft, key, number(key, value)?)?,
            "corp:" => {
                let (files, bytes) = parse_corp(value)?;
                set(&mut s.corpus_files, key, files)?;
                s.corpus_bytes = bytes;
            }
            "focus:" => set(&mut s.focus, key, number(key, value)?)?,
            "lim:" => set(&mut s.lim, key, number(key, value)?)?,
            "units:" => set(&mut s.units, key, number(key, value)?)?,
            "exec/s:" => set(&mut exec_per_sec, key, number(key, value)?)?,
            "rss:" => set(&mut s.rss_mb, key, megabytes(key, value)?)?,
            _ => return Err(ParseErrorKind::Unexpected(key.to_owned())),
        }
    }
    s.exec_per_sec = exec_per_sec.ok_or(ParseErrorKind::Missing("exec/s:"))?;
    s.rss_mb.ok_or(ParseErrorKind::Missing("rss:"))?;
    s.unit = unit;
    Ok(s)
}

fn parse_fork(execs: u64, body: &str) -> Result<Status, ParseErrorKind> {
    let mut fields: [Option<&str>; 8] = [None; 8];
    const KEYS: [&str; 8] = [
        "cov:",
        "ft:",
        "corp:",
        "exec/s:",
        "oom/timeout/crash:",
        "time:",
        "job:",
        "dft_time:",
    ];
    for (key, value) in pairs(body.split_whitespace())? {
        let i = KEYS
            .iter()
            .position(|k| *k == key)
            .ok_or_else(|| ParseErrorKind::Unexpected(key.to_owned()))?;
        set(&mut fields[i], key, value)?;
    }
    let get = |i: usize| fields[i].ok_or(ParseErrorKind::Missing(KEYS[i]));
    let mut counts = get(4)?.split('/');
    let mut count = |what: &'static str| -> Result<u64, ParseErrorKind> {
        number(what, counts.next().ok_or(ParseErrorKind::Missing(what))?)
    };
    let (ooms, timeouts, crashes) = (
        count("oom count")?,
        count("timeout count")?,
        count("crash count")?,
    );
    if counts.next().is_some() {
        return Err(bad("oom/timeout/crash:", get(4)?));
    }
    let time = get(5)?;
    let elapsed = time.strip_suffix('s').ok_or_else(|| bad("time:", time))?;
    let job = ForkJob {
        job: number("job:", get(6)?)?,
        ooms,
        timeouts,
        crashes,
        elapsed_s: number("time:", elapsed)?,
        dft_time_s: number("dft_time:", get(7)?)?,
    };
    let mut s = Status::empty(StatusEvent::ForkJob(job), execs);
    s.cov = Some(number("cov:", get(0)?)?);
    s.ft = Some(number("ft:", get(1)?)?);
    s.corpus_files = Some(number("corp:", get(2)?)?);
    s.exec_per_sec = number("exec/s:", get(3)?)?;
    Ok(s)
}

impl Status {
    fn empty(event: StatusEvent, execs: u64) -> Self {
        Status {
            event,
            execs,
            cov: None,
            ft: None,
            corpus_files: None,
            corpus_bytes: None,
            focus: None,
            lim: None,
            units: None,
            exec_per_sec: 0,
            rss_mb: None,
            unit: None,
        }
    }
}

/// `key: value` token pairs; every key ends with `:` and has a value.
fn pairs<'a>(
    mut tokens: impl Iterator<Item = &'a str>,
) -> Result<Vec<(&'a str, &'a str)>, ParseErrorKind> {
    let mut out = Vec::new();
    while let Some(key) = tokens.next() {
        if !key.ends_with(':') {
            return Err(ParseErrorKind::Unexpected(key.to_owned()));
        }
        let value = tokens.next().ok_or_else(|| bad(key, ""))?;
        out.push((key, value));
    }
    Ok(out)
}

fn set<T>(slot: &mut Option<T>, key: &str, value: T) -> Result<(), ParseErrorKind> {
    if slot.replace(value).is_some() {
        return Err(ParseErrorKind::Duplicate(key.to_owned()));
    }
    Ok(())
}

/// `N` or `N/S` where S is `Nb`, `NKb` or `NMb`.
fn parse_corp(value: &str) -> Result<(u64, Option<u64>), ParseErrorKind> {
    match value.split_once('/') {
        None => Ok((number("corp:", value)?, None)),
        Some((files, size)) => Ok((number("corp:", files)?, Some(size_in_bytes("corp:", size)?))),
    }
}

/// A size as libFuzzer prints it (`PrintStats`): `b`, `Kb` (<< 10) or `Mb` (<< 20).
pub(crate) fn size_in_bytes(field: &str, s: &str) -> Result<u64, ParseErrorKind> {
    let (digits, shift) = if let Some(d) = s.strip_suffix("Kb") {
        (d, KB_SHIFT)
    } else if let Some(d) = s.strip_suffix("Mb") {
        (d, MB_SHIFT)
    } else if let Some(d) = s.strip_suffix('b') {
        (d, 0)
    } else {
        return Err(bad(field, s));
    };
    let n: u64 = number(field, digits).map_err(|_| bad(field, s))?;
    n.checked_mul(1 << shift).ok_or_else(|| bad(field, s))
}

/// `NMb`, the unit libFuzzer uses for every rss figure.
pub(crate) fn megabytes(field: &str, s: &str) -> Result<u64, ParseErrorKind> {
    let digits = s.strip_suffix("Mb").ok_or_else(|| bad(field, s))?;
    number(field, digits).map_err(|_| bad(field, s))
}

fn parse_unit(tail: &str) -> Result<UnitInfo, ParseErrorKind> {
    let (sizes, mutations) = tail
        .split_once(" MS: ")
        .ok_or(ParseErrorKind::Missing("MS:"))?;
    let (len, max) = sizes.split_once('/').ok_or_else(|| bad("L:", sizes))?;
    Ok(UnitInfo {
        len: number("L:", len)?,
        corpus_max_len: number("L:", max)?,
        mutations: mutations.trim_end().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Status {
        assert!(looks_like_status(line), "{line}");
        parse_status(line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    #[test]
    fn shape_detection() {
        assert!(looks_like_status("#1\tpulse  cov: 1 exec/s: 0 rss: 1Mb"));
        assert!(looks_like_status("#12: cov: 0"));
        assert!(!looks_like_status("###### Recommended dictionary. ######"));
        assert!(!looks_like_status("#"));
        assert!(!looks_like_status("#12 something"));
        assert!(!looks_like_status("    #0 0x55 in main"));
    }

    #[test]
    fn sizes_use_libfuzzer_units() {
        assert_eq!(size_in_bytes("corp:", "1306b"), Ok(1306));
        assert_eq!(size_in_bytes("corp:", "16Kb"), Ok(16 << 10));
        assert_eq!(size_in_bytes("corp:", "34Mb"), Ok(34 << 20));
        assert!(size_in_bytes("corp:", "2Gb").is_err());
        assert!(size_in_bytes("corp:", "Kb").is_err());
        assert!(size_in_bytes("corp:", "12").is_err());
        assert!(size_in_bytes("corp:", "99999999999999999Mb").is_err());
    }

    #[test]
    fn focus_and_units_fields() {
        let s =
            parse("#9\tRELOAD cov: 5 ft: 6 corp: 2/3b focus: 1 lim: 4 units: 7 exec/s: 8 rss: 9Mb");
        assert_eq!((s.focus, s.units, s.lim), (Some(1), Some(7), Some(4)));
    }

    #[test]
    fn an_empty_corpus_entry_prints_no_size() {
        let s = parse("#2\tINITED cov: 3 ft: 3 corp: 1 exec/s: 0 rss: 30Mb");
        assert_eq!((s.corpus_files, s.corpus_bytes), (Some(1), None));
    }

    #[test]
    fn malformed_status_lines_are_errors() {
        let bad_lines = [
            "#12\tFROB   cov: 1 exec/s: 0 rss: 1Mb",
            "#12\t",
            "#12\tNEW    cov: x exec/s: 0 rss: 1Mb",
            "#12\tNEW    cov: 1 exec/s: 0",
            "#12\tNEW    cov: 1 rss: 1Mb",
            "#12\tNEW    cov: 1 cov: 2 exec/s: 0 rss: 1Mb",
            "#12\tNEW    cov: 1 exec/s: 0 rss: 1Mb L: 3/4",
            "#12\tNEW    cov: 1 exec/s: 0 rss: 1Mb L: 3 MS: 1 X-",
            "#12\tNEW    cov: 1 exec/s: 0 rss: 1Gb",
            "#12\tNEW    cov: 1 corp: 3/4Gb exec/s: 0 rss: 1Mb",
            "#12\tNEW    cov: 1 bogus exec/s: 0 rss: 1Mb",
            "#12\tNEW    cov: 1 exec/s: 0 rss: 1Mb new: 3",
            "#12\tNEW    cov: 1 exec/s: 0 rss:",
            "#99999999999999999999999\tNEW    cov: 1 exec/s: 0 rss: 1Mb",
            "#5: cov: 0 ft: 0 corp: 0 exec/s: 0 oom/timeout/crash: 0/0 time: 0s job: 1 dft_time: 0",
            "#5: cov: 0 ft: 0 corp: 0 exec/s: 0 oom/timeout/crash: 0/0/0/0 time: 0s job: 1 dft_time: 0",
            "#5: cov: 0 ft: 0 corp: 0 exec/s: 0 oom/timeout/crash: 0/0/0 time: 0 job: 1 dft_time: 0",
            "#5: cov: 0 ft: 0 corp: 0 exec/s: 0 oom/timeout/crash: 0/0/0 time: 0s dft_time: 0",
            "#5: cov: 0 ft: 0 corp: 0 exec/s: 0 oom/timeout/crash: 0/0/0 time: 0s job: 1 dft_time: 0 x: 1",
        ];
        for line in bad_lines {
            assert!(looks_like_status(line), "{line}");
            assert!(parse_status(line).is_err(), "{line} parsed");
        }
    }
}
