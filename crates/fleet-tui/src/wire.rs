//! From the shared documents (`fleet_docs`: `status --json`, `GET /api/v1/status`, the
//! API's series) to the view's model. The documents read tolerantly (unknown fields are
//! ignored, missing ones default), so an older or newer node still shows what it can.

use fleet_docs::api::SeriesPoint;
use fleet_docs::report::{StatusDoc, TargetStatus};

use crate::model::{NodeData, Point, SystemView, TargetView};

/// The model's figures of one status document (without history: sources add it).
pub fn node_data(doc: &StatusDoc) -> NodeData {
    let s = &doc.system;
    NodeData {
        targets: doc.targets.iter().map(target_view).collect(),
        // A node that sent no `system` object reads as all zeros: no machine line then.
        system: (s.mem_total_bytes > 0).then_some(SystemView {
            cpu_percent: s.cpu_percent,
            mem_used_bytes: s.mem_used_bytes,
            mem_total_bytes: s.mem_total_bytes,
            disk_used_percent: s.disk_used_percent,
        }),
        hub: doc.hub.as_ref().map(|h| {
            let state = if h.state.is_empty() {
                "unknown".to_string()
            } else {
                h.state.clone()
            };
            match &h.message {
                Some(m) if state != "ok" => format!("{state}: {m}"),
                _ => state,
            }
        }),
        errors: doc.errors.clone().filter(|e| e.count > 0),
    }
}

fn target_view(t: &TargetStatus) -> TargetView {
    TargetView {
        name: t.name.clone(),
        state: t.state_word().to_owned(),
        workers: t.workers,
        execs: t.execs,
        execs_per_sec: t.execs_per_sec,
        coverage: t.coverage,
        features: t.features,
        corpus_files: t.corpus_files,
        corpus_bytes: t.corpus_bytes,
        hits: t.crashes,
        bugs: t.bug_count(),
        turn: crate::text::turn(t),
        last_avg: match crate::text::rates(t).1.as_str() {
            "-" => String::new(),
            r => r.to_owned(),
        },
        inputs: t.inputs,
        pending: t.pending,
        last_new_coverage_ms: t.last_new_coverage_at.as_deref().and_then(parse_rfc3339_ms),
        message: t.message.clone(),
        history: Vec::new(),
    }
}

/// One point of the API's series (its time is milliseconds since the epoch).
pub fn point(p: &SeriesPoint) -> Point {
    Point {
        t_ms: p.t,
        execs_per_sec: p.execs_per_sec,
        coverage: p.coverage,
        corpus_files: p.corpus_files,
        corpus_bytes: p.corpus_bytes,
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
    use fleet_docs::api::SeriesDoc;

    #[test]
    fn unknown_fields_and_nulls_are_tolerated() {
        let doc: StatusDoc = serde_json::from_str(
            r#"{"version":1,"future":true,"hub":null,"targets":[{"name":"t","state":"running",
                "execs_per_sec":12.5,"coverage":null,"crashes":2,"extra":[1],
                "last_new_coverage_at":"2025-11-25T22:00:00Z"}]}"#,
        )
        .unwrap();
        let data = node_data(&doc);
        let t = &data.targets[0];
        assert_eq!((t.name.as_str(), t.execs_per_sec, t.hits), ("t", 12.5, 2));
        assert_eq!(t.coverage, None);
        assert_eq!(t.last_new_coverage_ms, Some(1_764_108_000_000));
        assert!(data.system.is_none());
    }

    /// Issue 13.5: the view's BUGS, INPUTS and HITS are the document's `bugs` (or the
    /// version-1 `buckets`), `inputs` and `crashes`, as in `status`'s table; and the
    /// campaign's errors come along (issue 16.1).
    #[test]
    fn the_three_counts_and_the_errors_come_from_their_fields() {
        let doc: StatusDoc = serde_json::from_str(
            r#"{"version":1,"errors":{"count":3,"last":"database is locked"},"targets":[
                {"name":"new","crashes":12,"inputs":7,"bugs":2,"buckets":2},
                {"name":"old","crashes":5,"buckets":1}]}"#,
        )
        .unwrap();
        let data = node_data(&doc);
        let counts: Vec<(i64, i64, i64)> = data
            .targets
            .iter()
            .map(|t| (t.bugs, t.inputs, t.hits))
            .collect();
        assert_eq!(counts, [(2, 7, 12), (1, 0, 5)]);
        let e = data.errors.unwrap();
        assert_eq!(
            (e.count, e.last.as_deref()),
            (3, Some("database is locked"))
        );
        let none: StatusDoc = serde_json::from_str(r#"{"version":1,"errors":null}"#).unwrap();
        assert!(node_data(&none).errors.is_none());
    }

    /// The series the API serves (times in ms since the epoch) become points: the
    /// view's old wire copy expected RFC 3339 times and dropped every remote series.
    #[test]
    fn the_api_series_reads_as_points() {
        let doc: SeriesDoc = serde_json::from_str(
            r#"{"version":1,"target":"t","points":[{"t":1764108000000,"workers":2,
                "execs":10,"execs_per_sec":5.5,"coverage":7,"features":null,
                "corpus_files":3,"corpus_bytes":null}]}"#,
        )
        .unwrap();
        let p: Vec<Point> = doc.points.iter().map(point).collect();
        assert_eq!(p.len(), 1);
        assert_eq!(
            (p[0].t_ms, p[0].execs_per_sec, p[0].coverage),
            (1_764_108_000_000, 5.5, Some(7))
        );
    }
}
