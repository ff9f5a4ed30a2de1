//! `/metrics` in Prometheus' text exposition format (version 0.0.4), built from the same
//! status document the API serves.

use std::fmt::Write;

use fleet_run::report::{StatusDoc, TargetStatus};

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

type Field = fn(&TargetStatus) -> Option<f64>;

/// Per-target families: name, type, help, value (absent values are not exported).
const TARGET_FAMILIES: &[(&str, &str, &str, Field)] = &[
    (
        "fuzzfleet_execs_total",
        "counter",
        "Inputs executed, summed over the target's workers.",
        |t| Some(t.execs as f64),
    ),
    (
        "fuzzfleet_execs_per_second",
        "gauge",
        "Current executions per second, summed over the target's workers.",
        |t| Some(t.execs_per_sec),
    ),
    (
        "fuzzfleet_coverage",
        "gauge",
        "Coverage counters hit (libFuzzer cov), the maximum over the target's workers.",
        |t| t.coverage.map(|c| c as f64),
    ),
    (
        "fuzzfleet_features",
        "gauge",
        "Coverage features (libFuzzer ft), the maximum over the target's workers.",
        |t| t.features.map(|c| c as f64),
    ),
    (
        "fuzzfleet_corpus_files",
        "gauge",
        "Entries in the target's corpus.",
        |t| Some(t.corpus_files as f64),
    ),
    (
        "fuzzfleet_corpus_bytes",
        "gauge",
        "Bytes in the target's corpus.",
        |t| Some(t.corpus_bytes as f64),
    ),
    (
        "fuzzfleet_crashes_total",
        "counter",
        "Crashes found (every occurrence).",
        |t| Some(t.crashes as f64),
    ),
    (
        "fuzzfleet_buckets",
        "gauge",
        "Distinct bugs (crash buckets) found.",
        |t| Some(t.buckets as f64),
    ),
    (
        "fuzzfleet_worker_restarts_total",
        "counter",
        "Worker processes restarted after they ended.",
        |t| Some(t.restarts as f64),
    ),
    (
        "fuzzfleet_workers",
        "gauge",
        "Worker processes running the target.",
        |t| Some(t.workers as f64),
    ),
    (
        "fuzzfleet_uptime_ratio",
        "gauge",
        "Share of the target's worker time spent executing inputs.",
        |t| t.uptime,
    ),
];

pub fn render(doc: &StatusDoc) -> String {
    let mut out = String::with_capacity(256 + doc.targets.len() * 1024);
    for (name, kind, help, value) in TARGET_FAMILIES {
        family(&mut out, name, kind, help);
        for t in &doc.targets {
            if let Some(v) = value(t) {
                let _ = writeln!(out, "{name}{{target=\"{}\"}} {}", label(&t.name), num(v));
            }
        }
    }
    family(
        &mut out,
        "fuzzfleet_target_state",
        "gauge",
        "1 for the target's current state (waiting, running, done, failed, ...).",
    );
    for t in &doc.targets {
        let _ = writeln!(
            out,
            "fuzzfleet_target_state{{target=\"{}\",state=\"{}\"}} 1",
            label(&t.name),
            label(&t.state)
        );
    }
    let s = &doc.system;
    for (name, help, v) in [
        (
            "fuzzfleet_system_cpu_percent",
            "CPU busy on the machine, percent of all cores.",
            s.cpu_percent,
        ),
        (
            "fuzzfleet_system_memory_used_bytes",
            "Memory in use (total minus available).",
            s.mem_used_bytes as f64,
        ),
        (
            "fuzzfleet_system_memory_total_bytes",
            "Memory installed.",
            s.mem_total_bytes as f64,
        ),
        (
            "fuzzfleet_system_disk_used_percent",
            "Used share of the filesystem holding the state dir, percent.",
            s.disk_used_percent,
        ),
    ] {
        family(&mut out, name, "gauge", help);
        let _ = writeln!(out, "{name} {}", num(v));
    }
    if let Some(hub) = &doc.hub {
        family(
            &mut out,
            "fuzzfleet_hub_up",
            "gauge",
            "1 while the hub is reachable, 0 while degraded.",
        );
        let up = if hub.state == "ok" { 1 } else { 0 };
        let _ = writeln!(out, "fuzzfleet_hub_up {up}");
    }
    out
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value with `\`, `"` and newlines escaped as the format requires.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn num(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn numbers_are_plain() {
        assert_eq!(num(3.0), "3");
        assert_eq!(num(2.5), "2.5");
        assert_eq!(num(f64::INFINITY), "+Inf");
    }
}
