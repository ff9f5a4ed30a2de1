//! The `coverage` table: each coverage computation of a target, newest last.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Db, Result};

/// One coverage computation of a target's corpus.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CoverageRow {
    pub target: String,
    pub at_ms: i64,
    pub lines_covered: i64,
    pub lines_total: i64,
    pub regions_covered: i64,
    pub regions_total: i64,
    pub functions_covered: i64,
    pub functions_total: i64,
    /// Inputs replayed.
    pub inputs: i64,
    pub build_id: String,
}

impl CoverageRow {
    /// Line coverage in percent; `None` when there are no lines to cover.
    pub fn line_percent(&self) -> Option<f64> {
        (self.lines_total > 0).then(|| self.lines_covered as f64 * 100.0 / self.lines_total as f64)
    }
}

const COLUMNS: &str = "target, at_ms, lines_covered, lines_total, regions_covered, regions_total, \
                       functions_covered, functions_total, inputs, build_id";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CoverageRow> {
    Ok(CoverageRow {
        target: r.get(0)?,
        at_ms: r.get(1)?,
        lines_covered: r.get(2)?,
        lines_total: r.get(3)?,
        regions_covered: r.get(4)?,
        regions_total: r.get(5)?,
        functions_covered: r.get(6)?,
        functions_total: r.get(7)?,
        inputs: r.get(8)?,
        build_id: r.get(9)?,
    })
}

impl Db {
    /// Records one coverage computation.
    pub fn put_coverage(&self, c: &CoverageRow) -> Result<()> {
        self.conn.execute(
            &format!(
                "INSERT INTO coverage ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
            ),
            params![
                c.target,
                c.at_ms,
                c.lines_covered,
                c.lines_total,
                c.regions_covered,
                c.regions_total,
                c.functions_covered,
                c.functions_total,
                c.inputs,
                c.build_id
            ],
        )?;
        Ok(())
    }

    /// The newest computation for `target`.
    pub fn latest_coverage(&self, target: &str) -> Result<Option<CoverageRow>> {
        Ok(self
            .conn
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM coverage WHERE target = ?1 ORDER BY at_ms DESC, id DESC LIMIT 1"
                ),
                [target],
                row,
            )
            .optional()?)
    }

    /// Every computation for `target` since `since_ms`, oldest first.
    pub fn coverage_history(&self, target: &str, since_ms: i64) -> Result<Vec<CoverageRow>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM coverage WHERE target = ?1 AND at_ms >= ?2 ORDER BY at_ms, id"
        ))?;
        let rows = stmt.query_map(params![target, since_ms], row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_coverage_wins_and_history_is_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("fleet.db")).unwrap();
        assert_eq!(db.latest_coverage("t").unwrap(), None);
        let first = CoverageRow {
            target: "t".into(),
            at_ms: 1_000,
            lines_covered: 10,
            lines_total: 40,
            inputs: 3,
            build_id: "b1".into(),
            ..CoverageRow::default()
        };
        let second = CoverageRow {
            at_ms: 2_000,
            lines_covered: 20,
            ..first.clone()
        };
        db.put_coverage(&second).unwrap();
        db.put_coverage(&first).unwrap();
        db.put_coverage(&CoverageRow {
            target: "other".into(),
            ..first.clone()
        })
        .unwrap();
        let latest = db.latest_coverage("t").unwrap().unwrap();
        assert_eq!(latest, second);
        assert_eq!(latest.line_percent(), Some(50.0));
        assert_eq!(
            db.coverage_history("t", 0).unwrap(),
            [first, second.clone()]
        );
        assert_eq!(db.coverage_history("t", 1_500).unwrap(), [second]);
    }
}
