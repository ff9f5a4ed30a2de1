//! The one state the view draws from: nodes → targets, fed by sources (local store or
//! remote API) through `Update`s, so a local and a remote node look the same.

use std::cmp::Ordering;

/// Points of history kept per target: enough for a full-width sparkline.
pub const HISTORY_POINTS: usize = 300;

/// Everything the view knows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Model {
    pub nodes: Vec<NodeView>,
    /// The wall clock (ms since the epoch) "time since" is measured from; set by the
    /// loop on each tick so that rendering stays a pure function of the model.
    pub now_ms: i64,
}

/// One node as last seen.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeView {
    pub name: String,
    /// Where its figures come from: a state dir or an API URL.
    pub origin: String,
    /// The last figures that arrived; kept (and shown as stale) when a later poll fails.
    pub data: Option<NodeData>,
    /// Why the last poll failed, if it did.
    pub error: Option<String>,
    /// When the last good figures arrived.
    pub updated_ms: Option<i64>,
}

/// What one poll of a node returns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeData {
    pub targets: Vec<TargetView>,
    pub system: Option<SystemView>,
    /// The hub's health ("ok", "degraded: why"), when the node has a hub.
    pub hub: Option<String>,
    /// The errors the node's last campaign met (how many, the last one), if any.
    pub errors: Option<fleet_docs::report::ErrorsDoc>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SystemView {
    pub cpu_percent: f64,
    pub mem_used_bytes: u64,
    pub mem_total_bytes: u64,
    pub disk_used_percent: f64,
}

/// One target's figures and recent history.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TargetView {
    pub name: String,
    pub state: String,
    pub workers: i64,
    pub execs: i64,
    pub execs_per_sec: f64,
    pub coverage: Option<i64>,
    pub features: Option<i64>,
    pub corpus_files: i64,
    pub corpus_bytes: i64,
    /// The three crash counts of docs/crashes.md: crash hits (artifacts written),
    /// bugs (buckets) and, below, crashing inputs.
    pub hits: i64,
    pub bugs: i64,
    pub last_new_coverage_ms: Option<i64>,
    pub message: Option<String>,
    /// Oldest first, at most `HISTORY_POINTS`.
    pub history: Vec<Point>,
    /// Its place in the schedule (`t 3h/48h`), or empty.
    pub turn: String,
    /// After a stop: the last rate and the run's average (`4.1k/3.9k`), or empty.
    pub last_avg: String,
    /// Distinct crashing inputs, and those not triaged yet.
    pub inputs: i64,
    pub pending: i64,
}

/// One time-series sample.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Point {
    pub t_ms: i64,
    pub execs_per_sec: f64,
    pub coverage: Option<i64>,
    pub corpus_files: Option<i64>,
    pub corpus_bytes: Option<i64>,
}

/// What a source reports after one poll of node `node`.
#[derive(Clone, Debug)]
pub struct Update {
    pub node: usize,
    /// The node's own name, when the source learned it (remote `/node`).
    pub name: Option<String>,
    pub result: Result<NodeData, String>,
    pub at_ms: i64,
}

/// The columns the table sorts by, in the order `s` cycles through them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortKey {
    #[default]
    Name,
    ExecsPerSec,
    Coverage,
    Bugs,
    LastNewCoverage,
}

impl SortKey {
    pub fn next(self) -> Self {
        match self {
            SortKey::Name => SortKey::ExecsPerSec,
            SortKey::ExecsPerSec => SortKey::Coverage,
            SortKey::Coverage => SortKey::Bugs,
            SortKey::Bugs => SortKey::LastNewCoverage,
            SortKey::LastNewCoverage => SortKey::Name,
        }
    }
}

impl Model {
    /// A model of `nodes` (name, origin) before any figures arrived.
    pub fn new(nodes: impl IntoIterator<Item = (String, String)>) -> Self {
        Model {
            nodes: nodes
                .into_iter()
                .map(|(name, origin)| NodeView {
                    name,
                    origin,
                    ..NodeView::default()
                })
                .collect(),
            now_ms: 0,
        }
    }

    /// Folds one poll's result in: good figures replace the old ones; a failure is
    /// recorded next to the last good figures rather than erasing them.
    pub fn apply(&mut self, update: Update) {
        let Some(node) = self.nodes.get_mut(update.node) else {
            return;
        };
        if let Some(name) = update.name {
            node.name = name;
        }
        match update.result {
            Ok(data) => {
                node.data = Some(data);
                node.error = None;
                node.updated_ms = Some(update.at_ms);
            }
            Err(e) => node.error = Some(e),
        }
    }

    /// The targets of node `node` in table order.
    pub fn rows(&self, node: usize, sort: SortKey, reverse: bool) -> Vec<&TargetView> {
        let mut rows: Vec<&TargetView> = self
            .nodes
            .get(node)
            .and_then(|n| n.data.as_ref())
            .map(|d| d.targets.iter().collect())
            .unwrap_or_default();
        rows.sort_by(|a, b| {
            let o = natural_order(a, b, sort).then_with(|| a.name.cmp(&b.name));
            if reverse { o.reverse() } else { o }
        });
        rows
    }
}

/// Each column's first order is the useful one: names A→Z, the fastest, the best
/// covered, the most bugs (then crash hits), and the target that has gone longest without new
/// coverage (the one to look at) first.
fn natural_order(a: &TargetView, b: &TargetView, sort: SortKey) -> Ordering {
    match sort {
        SortKey::Name => a.name.cmp(&b.name),
        SortKey::ExecsPerSec => b.execs_per_sec.total_cmp(&a.execs_per_sec),
        SortKey::Coverage => b.coverage.cmp(&a.coverage),
        SortKey::Bugs => (b.bugs, b.hits).cmp(&(a.bugs, a.hits)),
        SortKey::LastNewCoverage => {
            // Never (None) is the oldest of all.
            let age = |t: &TargetView| t.last_new_coverage_ms.unwrap_or(i64::MIN);
            age(a).cmp(&age(b))
        }
    }
}

/// Appends `fresh` (oldest first) to `history`, keeping it ordered, without duplicate
/// times, and at most `HISTORY_POINTS` long.
pub fn extend_history(history: &mut Vec<Point>, fresh: impl IntoIterator<Item = Point>) {
    for p in fresh {
        if history.last().is_none_or(|last| p.t_ms > last.t_ms) {
            history.push(p);
        }
    }
    if history.len() > HISTORY_POINTS {
        history.drain(..history.len() - HISTORY_POINTS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(name: &str, eps: f64, bugs: i64, new_cov: Option<i64>) -> TargetView {
        TargetView {
            name: name.into(),
            execs_per_sec: eps,
            bugs,
            hits: 10 - bugs,
            last_new_coverage_ms: new_cov,
            ..TargetView::default()
        }
    }

    fn model() -> Model {
        let mut m = Model::new([("n".to_string(), "here".to_string())]);
        m.apply(Update {
            node: 0,
            name: None,
            result: Ok(NodeData {
                targets: vec![
                    target("b", 10.0, 0, Some(5)),
                    target("a", 30.0, 2, None),
                    target("c", 20.0, 1, Some(1)),
                ],
                system: None,
                hub: None,
                errors: None,
            }),
            at_ms: 7,
        });
        m
    }

    fn names(rows: Vec<&TargetView>) -> Vec<&str> {
        rows.into_iter().map(|t| t.name.as_str()).collect()
    }

    #[test]
    fn each_sort_key_orders_rows_its_useful_way_first() {
        let m = model();
        assert_eq!(names(m.rows(0, SortKey::Name, false)), ["a", "b", "c"]);
        assert_eq!(names(m.rows(0, SortKey::Name, true)), ["c", "b", "a"]);
        assert_eq!(
            names(m.rows(0, SortKey::ExecsPerSec, false)),
            ["a", "c", "b"]
        );
        assert_eq!(names(m.rows(0, SortKey::Bugs, false)), ["a", "c", "b"]);
        assert_eq!(
            names(m.rows(0, SortKey::LastNewCoverage, false)),
            ["a", "c", "b"]
        );
    }

    #[test]
    fn equal_bugs_sort_by_crash_hits() {
        let mut m = model();
        let targets = &mut m.nodes[0].data.as_mut().unwrap().targets;
        for (t, hits) in targets.iter_mut().zip([3, 9, 5]) {
            t.bugs = 1;
            t.hits = hits;
        }
        assert_eq!(names(m.rows(0, SortKey::Bugs, false)), ["a", "c", "b"]);
    }

    #[test]
    fn a_failed_poll_keeps_the_last_figures_and_records_why() {
        let mut m = model();
        m.apply(Update {
            node: 0,
            name: Some("renamed".into()),
            result: Err("connection refused".into()),
            at_ms: 9,
        });
        let n = &m.nodes[0];
        assert_eq!(n.name, "renamed");
        assert_eq!(n.error.as_deref(), Some("connection refused"));
        assert_eq!(n.updated_ms, Some(7));
        assert_eq!(n.data.as_ref().unwrap().targets.len(), 3);
    }

    #[test]
    fn history_stays_ordered_and_bounded() {
        let mut h = Vec::new();
        let p = |t| Point {
            t_ms: t,
            ..Point::default()
        };
        extend_history(&mut h, (0..HISTORY_POINTS as i64 + 10).map(p));
        extend_history(&mut h, [p(3), p(HISTORY_POINTS as i64 + 10)]);
        assert_eq!(h.len(), HISTORY_POINTS);
        assert_eq!(h.last().unwrap().t_ms, HISTORY_POINTS as i64 + 10);
        assert!(h.windows(2).all(|w| w[0].t_ms < w[1].t_ms));
    }
}
