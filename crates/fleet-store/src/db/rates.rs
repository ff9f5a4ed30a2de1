//! Rates that outlive a run: each target's last live rate, its average over the run that
//! last ran it, and the crash reports lost before an artifact was written.

use rusqlite::{OptionalExtension, params};

use super::{Db, Result};

/// A target's rates and lost reports (`target_rates`).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct TargetRates {
    pub name: String,
    pub last_execs_per_sec: f64,
    pub avg_execs_per_sec: f64,
    pub lost_findings: i64,
    pub updated_at: i64,
}

impl Db {
    pub fn put_target_rates(&self, r: &TargetRates) -> Result<()> {
        self.conn.execute(
            "INSERT INTO target_rates (name, last_execs_per_sec, avg_execs_per_sec,
                 lost_findings, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (name) DO UPDATE SET last_execs_per_sec = ?2,
                 avg_execs_per_sec = ?3, lost_findings = ?4, updated_at = ?5",
            params![
                r.name,
                r.last_execs_per_sec,
                r.avg_execs_per_sec,
                r.lost_findings,
                r.updated_at
            ],
        )?;
        Ok(())
    }

    /// One target's rates, if recorded.
    pub fn target_rates(&self, name: &str) -> Result<Option<TargetRates>> {
        Ok(self
            .conn
            .query_row(
                "SELECT name, last_execs_per_sec, avg_execs_per_sec, lost_findings, updated_at
                 FROM target_rates WHERE name = ?1",
                params![name],
                row,
            )
            .optional()?)
    }

    /// Every target's rates, by name.
    pub fn all_target_rates(&self) -> Result<Vec<TargetRates>> {
        let mut stmt = self.conn.prepare(
            "SELECT name, last_execs_per_sec, avg_execs_per_sec, lost_findings, updated_at
             FROM target_rates ORDER BY name",
        )?;
        let rows = stmt.query_map([], row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TargetRates> {
    Ok(TargetRates {
        name: r.get(0)?,
        last_execs_per_sec: r.get(1)?,
        avg_execs_per_sec: r.get(2)?,
        lost_findings: r.get(3)?,
        updated_at: r.get(4)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_round_trip_and_update_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("f.db")).unwrap();
        assert_eq!(db.target_rates("a").unwrap(), None);
        let mut r = TargetRates {
            name: "a".into(),
            last_execs_per_sec: 1200.5,
            avg_execs_per_sec: 900.0,
            lost_findings: 0,
            updated_at: 5,
        };
        db.put_target_rates(&r).unwrap();
        r.lost_findings = 2;
        db.put_target_rates(&r).unwrap();
        assert_eq!(db.target_rates("a").unwrap(), Some(r.clone()));
        assert_eq!(db.all_target_rates().unwrap(), vec![r]);
    }
}
