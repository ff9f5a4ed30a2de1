//! Plain-text formatting shared by the live view and the one-shot `status` table.

use std::time::Duration;

use fleet_docs::fmt::{bytes, duration};
use fleet_docs::report::{StatusDoc, TargetStatus};

/// "1 bug", "2 bugs".
pub fn plural(n: impl Into<i64>, what: &str) -> String {
    match n.into() {
        1 => format!("1 {what}"),
        n => format!("{n} {what}s"),
    }
}

pub use fleet_docs::fmt::rate;

/// Seconds as the two largest units, spaced: "45s", "3h 20m", "2d".
pub fn span(s: u64) -> String {
    duration(Duration::from_secs(s))
}

/// The time from `then_ms` to `now_ms` (ms since the epoch) as [`span`] says it; a
/// `then` in the future (clocks of two machines) reads as "0s".
pub fn ago(now_ms: i64, then_ms: i64) -> String {
    duration(Duration::from_millis(
        u64::try_from(now_ms.saturating_sub(then_ms)).unwrap_or(0),
    ))
}

/// A size in bytes from a document's signed field: "29.5K" (a negative one is 0B).
pub fn size(n: i64) -> String {
    bytes(u64::try_from(n).unwrap_or(0))
}

/// The line under the table when the last campaign met errors (see
/// [`fleet_docs::fmt::errors`]).
pub use fleet_docs::fmt::errors;

/// A target's turn: `tier1 3h/48h` (used of its budget in the current cycle) under the
/// tiers' clock, `share 40%` under the coverage-following schedule.
pub fn turn(t: &TargetStatus) -> String {
    match (&t.schedule, &t.share) {
        (Some(s), _) => format!("{} {}/{}", s.tier, span(s.used_s), span(s.budget_s)),
        (None, Some(s)) if s.share > 0.0 => format!("share {:.0}%", s.share * 100.0),
        (None, Some(_)) => "first turn due".into(),
        (None, None) => "-".into(),
    }
}

/// Why the schedule gives a target what it gets, and which strategies it favours:
/// `plateaued 6h: share 5 % · favours value_profile (3.1 new features/cpu-s, 12 runs)`.
pub fn why(t: &TargetStatus) -> Option<String> {
    let share = t.share.as_ref().map(|s| s.reason.clone());
    let favours = t.strategies.first().filter(|s| s.runs > 0).map(|s| {
        let rate = match s.rate.unwrap_or(0.0) {
            r if r >= 100.0 => format!("{r:.0}"),
            r if r >= 1.0 => format!("{r:.1}"),
            r => format!("{r:.2}"),
        };
        format!(
            "favours {} ({rate} new features/cpu-s over {}, chosen {:.0} %)",
            s.label,
            plural(s.runs as i64, "run"),
            s.chosen_share * 100.0
        )
    });
    match (share, favours) {
        (None, None) => None,
        (Some(a), None) | (None, Some(a)) => Some(a),
        (Some(a), Some(b)) => Some(format!("{a} · {b}")),
    }
}

/// The rate column: now while running; after a stop, the last rate and the run's
/// average, labelled.
pub fn rates(t: &TargetStatus) -> (String, String) {
    let now = if t.state == "running" {
        rate(t.execs_per_sec)
    } else {
        "-".into()
    };
    let (l, a) = (t.last_execs_per_sec, t.avg_execs_per_sec);
    let before = if l > 0.0 || a > 0.0 {
        format!("{}/{}", rate(l), rate(a))
    } else {
        "-".into()
    };
    (now, before)
}

/// The one-shot `status` table of one node's status document.
pub fn table(doc: &StatusDoc) -> String {
    let mut out = format!(
        "{:<22} {:<9} {:>3} {:>12} {:>7} {:>11} {:>7} {:>8} {:>15} {:>5} {:>6} {:>7} {:<16} {:>7}  {}\n",
        "TARGET",
        "STATE",
        "W",
        "EXECS",
        "EXEC/S",
        "LAST/AVG",
        "COV",
        "FT",
        "CORPUS",
        "BUGS",
        "INPUTS",
        "HITS",
        "TURN",
        "UPTIME",
        "LAST NEW COVERAGE"
    );
    for t in &doc.targets {
        let (now, before) = rates(t);
        out += &format!(
            "{:<22} {:<9} {:>3} {:>12} {:>7} {:>11} {:>7} {:>8} {:>15} {:>5} {:>6} {:>7} {:<16} {:>7}  {}\n",
            t.name,
            t.state_word(),
            t.workers,
            t.execs,
            now,
            before,
            t.coverage.map_or("-".into(), |c| c.to_string()),
            t.features.map_or("-".into(), |c| c.to_string()),
            format!("{}/{}", t.corpus_files, size(t.corpus_bytes)),
            t.bug_count(),
            t.inputs,
            t.crashes,
            turn(t),
            t.uptime
                .map_or("-".into(), |u| format!("{:.1}%", u * 100.0)),
            t.last_new_coverage_at.as_deref().unwrap_or("-"),
        );
        if let Some(m) = &t.message {
            out += &format!("  └ {m}\n");
        }
        if let Some(w) = why(t) {
            out += &format!("  └ {w}\n");
        }
        if t.lost_findings > 0 {
            let n = t.lost_findings;
            out += &format!(
                "  └ {} lost: a worker was cut off before writing its input (see its log)\n",
                plural(n, "crash report")
            );
        }
    }
    out += &totals(doc);
    if let Some(line) = errors(doc.errors.as_ref()) {
        out += &line;
        out.push('\n');
    }
    // A node that sent no `system` object reads as all zeros: no machine line then.
    let s = &doc.system;
    if s.mem_total_bytes > 0 {
        out += &format!(
            "system: cpu {:.0}%  memory {} of {}  disk {:.0}% used\n",
            s.cpu_percent,
            bytes(s.mem_used_bytes),
            bytes(s.mem_total_bytes),
            s.disk_used_percent
        );
    }
    out
}

/// The totals line under the table.
pub fn totals(doc: &StatusDoc) -> String {
    let t = &doc.targets;
    let running = t.iter().filter(|t| t.state == "running").count();
    let never = t.iter().filter(|t| t.state_word() == "never run").count();
    let workers: i64 = t.iter().map(|t| t.workers).sum();
    let execs: i64 = t.iter().map(|t| t.execs).sum();
    let rate_now: f64 = t
        .iter()
        .filter(|t| t.state == "running")
        .map(|t| t.execs_per_sec)
        .sum();
    let bugs: i64 = t.iter().map(TargetStatus::bug_count).sum();
    let inputs: i64 = t.iter().map(|t| t.inputs).sum();
    let hits: i64 = t.iter().map(|t| t.crashes).sum();
    let pending: i64 = t.iter().map(|t| t.pending).sum();
    let mut line = format!(
        "\ntotal: {running} of {} running on {}, {} execs/s; {execs} execs; {}, {}, {}",
        plural(t.len() as i64, "target"),
        plural(workers, "worker"),
        rate(rate_now),
        plural(bugs, "bug"),
        plural(inputs, "crashing input"),
        plural(hits, "crash hit")
    );
    if pending > 0 {
        line += &format!(" ({pending} inputs not triaged yet)");
    }
    if never > 0 {
        line += &format!("; {never} never run");
    }
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleet_docs::report::ErrorsDoc;

    #[test]
    fn sizes_and_times_read_as_every_output_says_them() {
        assert_eq!(size(512), "512B");
        assert_eq!(size(1536), "1.5K");
        assert_eq!(size(-1), "0B");
        assert_eq!(ago(1_000_000, 1_000_000 - 45_000), "45s");
        assert_eq!(ago(1_000_000, 1_000_000 - 725_000), "12m 5s");
        assert_eq!(
            ago(20_000_000, 20_000_000 - 3 * 3_600_000 - 20 * 60_000),
            "3h 20m"
        );
        assert_eq!(ago(1_000, 1_005), "0s");
        assert_eq!(span(2 * 86_400), "2d");
        assert_eq!(span(3 * 3600 + 20 * 60 + 5), "3h 20m");
        assert_eq!(rate(12_345.0), "12k");
        assert_eq!(rate(-0.0), "0");
        assert_eq!(rate([].iter().sum::<f64>()), "0");
    }

    fn doc(errors: Option<ErrorsDoc>) -> StatusDoc {
        StatusDoc {
            version: 1,
            targets: vec![TargetStatus {
                name: "parse".into(),
                state: "running".into(),
                workers: 1,
                corpus_files: 12,
                corpus_bytes: 30_208,
                crashes: 12,
                inputs: 7,
                bugs: 2,
                ..TargetStatus::default()
            }],
            errors,
            ..StatusDoc::default()
        }
    }

    /// Issue 16.1: the campaign's errors were in `status --json` only.
    #[test]
    fn the_table_says_the_campaigns_errors_under_the_totals() {
        let text = table(&doc(Some(ErrorsDoc {
            count: 3,
            last: Some("cannot record an event: database is locked\n".into()),
            last_at: Some("2026-12-07T14:05:57Z".into()),
        })));
        let lines: Vec<&str> = text.lines().collect();
        let totals = lines.iter().position(|l| l.starts_with("total: ")).unwrap();
        assert_eq!(
            lines[totals + 1],
            "errors: 3 (last at 2026-12-07T14:05:57Z: cannot record an event: database is locked)",
            "{text}"
        );
        let one = |last: Option<&str>, last_at: Option<&str>| {
            errors(Some(&ErrorsDoc {
                count: 1,
                last: last.map(String::from),
                last_at: last_at.map(String::from),
            }))
            .unwrap()
        };
        assert_eq!(one(None, None), "errors: 1");
        // A document written before the time was kept.
        assert_eq!(one(Some("boom"), None), "errors: 1 (last: boom)");
        assert_eq!(
            one(None, Some("2026-12-07T14:05:57Z")),
            "errors: 1 (last at 2026-12-07T14:05:57Z)"
        );
    }

    #[test]
    fn no_errors_no_line() {
        for e in [None, Some(ErrorsDoc::default())] {
            let text = table(&doc(e));
            assert!(!text.contains("errors"), "{text}");
        }
    }

    /// Issue 13.5: the three counts under the names docs/crashes.md gives them.
    #[test]
    fn the_table_names_the_three_counts_and_the_corpus_size() {
        let text = table(&doc(None));
        let header: Vec<&str> = text.lines().next().unwrap().split_whitespace().collect();
        let row: Vec<&str> = text.lines().nth(1).unwrap().split_whitespace().collect();
        let cell = |name: &str| row[header.iter().position(|h| *h == name).unwrap()];
        assert_eq!(
            (cell("BUGS"), cell("INPUTS"), cell("HITS")),
            ("2", "7", "12")
        );
        assert_eq!(cell("CORPUS"), "12/29.5K");
        assert!(
            text.contains("2 bugs, 7 crashing inputs, 12 crash hits"),
            "{text}"
        );
    }
}
