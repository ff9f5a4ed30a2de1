//! `/metrics` in Prometheus' text exposition format (version 0.0.4), built from the same
//! status document the API serves.

use std::fmt::Write;

use fleet_docs::report::{StatusDoc, TargetStatus};

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
        "Executions per second now (over the last 30 s, across restarts); 0 when no worker runs.",
        |t| Some(t.execs_per_sec),
    ),
    (
        "fuzzfleet_last_execs_per_second",
        "gauge",
        "Executions per second the last time the target ran (kept after it stops; status LAST).",
        |t| Some(t.last_execs_per_sec),
    ),
    (
        "fuzzfleet_average_execs_per_second",
        "gauge",
        "Executions over wall time of the campaign run that last ran the target (status AVG).",
        |t| Some(t.avg_execs_per_sec),
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
        "Crash hits: every crash artifact libFuzzer wrote, copies of the same input included.",
        |t| Some(t.crashes as f64),
    ),
    (
        "fuzzfleet_crashing_inputs",
        "gauge",
        "Crashing inputs: distinct inputs that crashed the target.",
        |t| Some(t.inputs as f64),
    ),
    (
        "fuzzfleet_buckets",
        "gauge",
        "Bugs (crash buckets); an input not triaged yet counts as its own.",
        |t| Some(t.bug_count() as f64),
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
    if let Some(r) = &doc.resources {
        resources(&mut out, r);
    }
    out
}

/// The resource guard's families: the active alerts (one series each, gone when it
/// recovers), the disk pause, the memory limit mechanism and each target's peak.
fn resources(out: &mut String, r: &fleet_docs::resources::ResourcesStatus) {
    family(
        out,
        "fuzzfleet_alert",
        "gauge",
        "1 for each active resource alert (kind: disk, disk-critical, cpu, load, memory).",
    );
    for a in &r.alerts {
        let _ = writeln!(
            out,
            "fuzzfleet_alert{{kind=\"{}\",severity=\"{}\"}} 1",
            label(&a.kind),
            label(&a.severity)
        );
    }
    family(
        out,
        "fuzzfleet_paused",
        "gauge",
        "1 while fuzzing is paused because the state dir's disk is full.",
    );
    let _ = writeln!(out, "fuzzfleet_paused {}", u8::from(r.paused));
    family(
        out,
        "fuzzfleet_memory_limit_mechanism",
        "gauge",
        "1 for how worker memory is limited (cgroup-v2, cgroup-v1, rss-watch).",
    );
    let _ = writeln!(
        out,
        "fuzzfleet_memory_limit_mechanism{{mechanism=\"{}\"}} 1",
        label(&r.memory_limit)
    );
    family(
        out,
        "fuzzfleet_worker_memory_peak_bytes",
        "gauge",
        "Highest memory of one of the target's workers this campaign.",
    );
    for m in &r.memory {
        let _ = writeln!(
            out,
            "fuzzfleet_worker_memory_peak_bytes{{target=\"{}\"}} {}",
            label(&m.target),
            m.peak_mb << 20
        );
    }
    family(
        out,
        "fuzzfleet_worker_memory_limit_stops_total",
        "counter",
        "Workers stopped at their memory limit (an oom finding each when an input was dumped).",
    );
    for m in &r.memory {
        let _ = writeln!(
            out,
            "fuzzfleet_worker_memory_limit_stops_total{{target=\"{}\"}} {}",
            label(&m.target),
            m.oom_stops
        );
    }
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
    fn an_active_alert_is_one_series_and_a_recovered_one_is_gone() {
        use fleet_docs::resources::{Alert, ResourcesStatus};
        let mut doc = fleet_docs::report::StatusDoc {
            version: 1,
            targets: vec![],
            system: Default::default(),
            hub: None,
            resources: Some(ResourcesStatus {
                memory_limit: "cgroup-v1".into(),
                paused: true,
                alerts: vec![Alert {
                    kind: "disk-critical".into(),
                    severity: "critical".into(),
                    message: "full".into(),
                    since: "2026-01-01T00:00:00Z".into(),
                }],
                memory: vec![],
            }),
            ..Default::default()
        };
        let text = render(&doc);
        assert!(text.contains("fuzzfleet_alert{kind=\"disk-critical\",severity=\"critical\"} 1\n"));
        assert!(text.contains("fuzzfleet_paused 1\n"));
        assert!(text.contains("fuzzfleet_memory_limit_mechanism{mechanism=\"cgroup-v1\"} 1\n"));
        let r = doc.resources.as_mut().unwrap();
        r.alerts.clear();
        r.paused = false;
        let text = render(&doc);
        assert!(!text.contains("fuzzfleet_alert{"), "{text}");
        assert!(text.contains("fuzzfleet_paused 0\n"));
    }

    #[test]
    fn a_stopped_target_keeps_its_last_and_average_rate() {
        let doc = fleet_docs::report::StatusDoc {
            targets: vec![TargetStatus {
                name: "t".into(),
                state: "stopped".into(),
                last_execs_per_sec: 117_300.5,
                avg_execs_per_sec: 148_000.0,
                ..TargetStatus::default()
            }],
            ..Default::default()
        };
        let text = render(&doc);
        assert!(text.contains("fuzzfleet_execs_per_second{target=\"t\"} 0\n"));
        assert!(text.contains("fuzzfleet_last_execs_per_second{target=\"t\"} 117300.5\n"));
        assert!(text.contains("fuzzfleet_average_execs_per_second{target=\"t\"} 148000\n"));
    }

    #[test]
    fn numbers_are_plain() {
        assert_eq!(num(3.0), "3");
        assert_eq!(num(2.5), "2.5");
        assert_eq!(num(f64::INFINITY), "+Inf");
    }
}
