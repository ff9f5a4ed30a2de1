//! The JSON documents the view reads (`status --json` and the API's series and node
//! info), deserialized tolerantly: unknown fields are ignored and missing ones default,
//! so an older or newer node still shows what it can.

use serde::Deserialize;

use crate::model::{NodeData, Point, SystemView, TargetView};

/// `status --json` (contract version 1), or `GET /api/v1/status`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct StatusWire {
    pub version: u32,
    pub targets: Vec<TargetWire>,
    pub system: Option<SystemWire>,
    pub hub: Option<HubWire>,
}

/// The hub's health, when the node syncs through one.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct HubWire {
    pub state: Option<String>,
    pub message: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct TargetWire {
    pub name: String,
    pub state: String,
    pub workers: Option<i64>,
    pub execs: Option<i64>,
    pub execs_per_sec: Option<f64>,
    pub coverage: Option<i64>,
    pub features: Option<i64>,
    pub corpus_files: Option<i64>,
    pub corpus_bytes: Option<i64>,
    pub crashes: Option<i64>,
    pub buckets: Option<i64>,
    pub last_new_coverage_at: Option<String>,
    pub uptime: Option<f64>,
    pub message: Option<String>,
    pub never_run: bool,
    pub last_execs_per_sec: Option<f64>,
    pub avg_execs_per_sec: Option<f64>,
    pub inputs: Option<i64>,
    pub bugs: Option<i64>,
    pub pending: Option<i64>,
    pub lost_findings: Option<i64>,
    pub schedule: Option<ScheduleWire>,
}

/// A target's place in its tier's schedule.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ScheduleWire {
    pub tier: String,
    pub cycle: u64,
    pub budget_s: u64,
    pub used_s: u64,
    pub left_s: u64,
}

impl TargetWire {
    /// The state as people read it: `never run` apart from `stopped`.
    pub fn state_word(&self) -> &str {
        if self.never_run && self.state != "running" && self.state != "failed" {
            "never run"
        } else {
            &self.state
        }
    }

    /// Bugs: `bugs`, or `buckets` from a node before the three counts were named.
    pub fn bug_count(&self) -> i64 {
        self.bugs.or(self.buckets).unwrap_or(0)
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct SystemWire {
    pub cpu_percent: Option<f64>,
    pub mem_used_bytes: Option<u64>,
    pub mem_total_bytes: Option<u64>,
    pub disk_used_percent: Option<f64>,
}

/// `GET /api/v1/targets/{name}/series`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct SeriesWire {
    pub points: Vec<PointWire>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct PointWire {
    pub t: String,
    pub execs_per_sec: Option<f64>,
    pub coverage: Option<i64>,
    pub corpus_files: Option<i64>,
    pub corpus_bytes: Option<i64>,
}

/// `GET /api/v1/node`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct NodeWire {
    pub name: Option<String>,
    pub version: Option<String>,
    pub cores: Option<u64>,
}

impl PointWire {
    /// None when the time does not parse: a point without a time cannot be placed.
    pub fn to_point(&self) -> Option<Point> {
        Some(Point {
            t_ms: parse_rfc3339_ms(&self.t)?,
            execs_per_sec: self.execs_per_sec.unwrap_or(0.0),
            coverage: self.coverage,
            corpus_files: self.corpus_files,
            corpus_bytes: self.corpus_bytes,
        })
    }
}

impl StatusWire {
    /// The model's figures (without history: sources add it).
    pub fn to_node_data(&self) -> NodeData {
        NodeData {
            targets: self.targets.iter().map(TargetWire::to_view).collect(),
            system: self.system.as_ref().map(|s| SystemView {
                cpu_percent: s.cpu_percent.unwrap_or(0.0),
                mem_used_bytes: s.mem_used_bytes.unwrap_or(0),
                mem_total_bytes: s.mem_total_bytes.unwrap_or(0),
                disk_used_percent: s.disk_used_percent.unwrap_or(0.0),
            }),
            hub: self.hub.as_ref().map(|h| {
                let state = h.state.clone().unwrap_or_else(|| "unknown".into());
                match &h.message {
                    Some(m) if state != "ok" => format!("{state}: {m}"),
                    _ => state,
                }
            }),
        }
    }
}

impl TargetWire {
    fn to_view(&self) -> TargetView {
        TargetView {
            name: self.name.clone(),
            state: self.state_word().to_owned(),
            workers: self.workers.unwrap_or(0),
            execs: self.execs.unwrap_or(0),
            execs_per_sec: self.execs_per_sec.unwrap_or(0.0),
            coverage: self.coverage,
            features: self.features,
            corpus_files: self.corpus_files.unwrap_or(0),
            corpus_bytes: self.corpus_bytes.unwrap_or(0),
            crashes: self.crashes.unwrap_or(0),
            buckets: self.bug_count(),
            turn: crate::text::turn(self),
            last_avg: match crate::text::rates(self).1.as_str() {
                "-" => String::new(),
                r => r.to_owned(),
            },
            inputs: self.inputs.unwrap_or(0),
            pending: self.pending.unwrap_or(0),
            last_new_coverage_ms: self
                .last_new_coverage_at
                .as_deref()
                .and_then(parse_rfc3339_ms),
            message: self.message.clone(),
            history: Vec::new(),
        }
    }
}

/// "2026-11-25T22:00:00Z" → ms since the epoch.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_and_nulls_are_tolerated() {
        let doc: StatusWire = serde_json::from_str(
            r#"{"version":1,"future":true,"hub":null,"targets":[{"name":"t","state":"running",
                "execs_per_sec":12.5,"coverage":null,"crashes":2,"extra":[1],
                "last_new_coverage_at":"2025-11-25T22:00:00Z"}]}"#,
        )
        .unwrap();
        let data = doc.to_node_data();
        let t = &data.targets[0];
        assert_eq!(
            (t.name.as_str(), t.execs_per_sec, t.crashes),
            ("t", 12.5, 2)
        );
        assert_eq!(t.coverage, None);
        assert_eq!(t.last_new_coverage_ms, Some(1_764_108_000_000));
        assert!(data.system.is_none());
    }
}
