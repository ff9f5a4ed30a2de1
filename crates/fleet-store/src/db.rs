//! The SQLite database: numbered migrations, WAL mode, and typed reads and writes of
//! targets, findings, stats samples, the persisted schedule and events.

use std::path::{Path, PathBuf};
use std::time::Duration;

mod coverage;
mod rates;

pub use coverage::CoverageRow;
pub use rates::TargetRates;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// Numbered migrations; `PRAGMA user_version` records how many have run.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_nodes_and_meta.sql"),
    include_str!("migrations/0003_crash_pipeline.sql"),
    include_str!("migrations/0004_coverage.sql"),
    include_str!("migrations/0005_rates.sql"),
];

/// Raw samples are this many seconds apart; older ones are folded (see [`Db::compact_samples`]).
pub const RAW_SPAN_S: i64 = 10;
/// (age after which rows of `from` span are folded, from span, into span)
const FOLDS: &[(i64, i64, i64)] = &[
    (2 * 86_400_000, RAW_SPAN_S, 300),
    (30 * 86_400_000, 300, 3600),
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "database {path} has schema version {found}, newer than this fuzzfleet understands ({known}); upgrade fuzzfleet"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
}

type Result<T> = std::result::Result<T, StoreError>;

/// A target's current figures, as `status` shows them.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TargetRecord {
    pub name: String,
    pub state: String,
    pub message: Option<String>,
    pub workers: i64,
    pub execs: i64,
    pub execs_per_sec: f64,
    pub coverage: Option<i64>,
    pub features: Option<i64>,
    pub corpus_files: i64,
    pub corpus_bytes: i64,
    pub rss_mb: Option<i64>,
    pub last_new_coverage_at: Option<i64>,
    pub fuzz_ms: i64,
    pub slot_ms: i64,
    pub restarts: i64,
    pub updated_at: i64,
}

/// A new artifact to record.
#[derive(Clone, Debug)]
pub struct FindingInsert<'a> {
    pub target: &'a str,
    pub kind: &'a str,
    pub sha1: &'a str,
    pub input_path: &'a Path,
    pub report_path: Option<&'a Path>,
    pub size_bytes: u64,
    pub at_ms: i64,
    /// The node that found it; `None`: this one.
    pub node: Option<&'a str>,
}

/// A kept finding.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FindingRecord {
    pub id: i64,
    pub target: String,
    pub kind: String,
    pub sha1: String,
    pub input_path: String,
    pub report_path: Option<String>,
    pub size_bytes: i64,
    pub count: i64,
    pub first_seen: i64,
    pub last_seen: i64,
    /// The node that found it; `None`: this one.
    pub node: Option<String>,
    /// `always`, `sometimes`, `never`; `None` until reproduced.
    pub repro: Option<String>,
    /// Its bucket once triaged.
    pub bucket: Option<String>,
    /// SHA-1 of the binary it was triaged against.
    pub build_id: Option<String>,
    /// Its input was deleted: its bucket kept enough smaller ones.
    pub dropped: bool,
}

/// One stats sample of one target.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Sample {
    pub target: String,
    pub ts: i64,
    pub span_s: i64,
    pub workers: i64,
    pub execs: i64,
    pub execs_per_sec: f64,
    pub coverage: Option<i64>,
    pub features: Option<i64>,
    pub corpus_files: Option<i64>,
    pub corpus_bytes: Option<i64>,
    pub rss_mb: Option<i64>,
}

/// The persisted position of one tier.
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduleRow {
    pub tier: String,
    pub state: String,
    pub updated_at: i64,
}

/// Something that happened to a target (restart, failure, seed set aside).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorkerEvent {
    pub ts: i64,
    pub target: Option<String>,
    pub kind: String,
    pub message: String,
}

/// An open state database.
pub struct Db {
    pub(crate) conn: Connection,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").finish_non_exhaustive()
    }
}

impl Db {
    /// Opens (creating if needed) the database at `path`, in WAL mode, migrated to the latest schema.
    pub fn open(path: &Path) -> Result<Self> {
        let open_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(open_err)?;
        // Switching a new file to WAL takes an exclusive lock, and SQLite answers BUSY at
        // once, without the busy handler, when another process opens the same new file
        // (`serve` starting beside `run`): retry within the same 10 s.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match conn.pragma_update(None, "journal_mode", "WAL") {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if matches!(
                        e.code,
                        rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                    ) && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                result => break result.map_err(open_err)?,
            }
        }
        // NORMAL in WAL mode: a power loss may drop the last commits, never corrupt.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        let db = Self { conn };
        db.migrate(path)?;
        Ok(db)
    }

    fn migrate(&self, path: &Path) -> Result<()> {
        // Up to date already: no write transaction, so a reader (`status`, `crashes
        // list`) still opens the database on a full disk.
        let current: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        if current == MIGRATIONS.len() as i64 {
            return Ok(());
        }
        // The version is read inside a write transaction: a `status` opening the file
        // while a `run` creates it must wait for the run's migration, not repeat it.
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let result = (|| {
            let version: i64 = self
                .conn
                .pragma_query_value(None, "user_version", |r| r.get(0))?;
            let known = MIGRATIONS.len() as i64;
            if version > known {
                return Err(StoreError::TooNew {
                    path: path.to_path_buf(),
                    found: version,
                    known,
                });
            }
            for sql in MIGRATIONS.iter().skip(version as usize) {
                self.conn.execute_batch(sql)?;
            }
            self.conn.pragma_update(None, "user_version", known)?;
            Ok(())
        })();
        match result {
            Ok(()) => self.conn.execute_batch("COMMIT")?,
            Err(_) => {
                let _ = self.conn.execute_batch("ROLLBACK");
            }
        }
        result
    }

    /// Runs `f` inside one transaction, so a burst of writes costs one fsync.
    pub fn batch<T>(&self, f: impl FnOnce(&Self) -> Result<T>) -> Result<T> {
        let tx = self.conn.unchecked_transaction()?;
        let out = f(self)?;
        tx.commit()?;
        Ok(out)
    }

    /// Inserts or replaces a target's current figures.
    pub fn put_target(&self, t: &TargetRecord) -> Result<()> {
        self.conn.execute(
            "INSERT INTO targets (name, state, message, workers, execs, execs_per_sec, coverage,
                 features, corpus_files, corpus_bytes, rss_mb, last_new_coverage_at, fuzz_ms,
                 slot_ms, restarts, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
             ON CONFLICT (name) DO UPDATE SET state = ?2, message = ?3, workers = ?4, execs = ?5,
                 execs_per_sec = ?6, coverage = ?7, features = ?8, corpus_files = ?9,
                 corpus_bytes = ?10, rss_mb = ?11, last_new_coverage_at = ?12, fuzz_ms = ?13,
                 slot_ms = ?14, restarts = ?15, updated_at = ?16",
            params![
                t.name,
                t.state,
                t.message,
                t.workers,
                t.execs,
                t.execs_per_sec,
                t.coverage,
                t.features,
                t.corpus_files,
                t.corpus_bytes,
                t.rss_mb,
                t.last_new_coverage_at,
                t.fuzz_ms,
                t.slot_ms,
                t.restarts,
                t.updated_at
            ],
        )?;
        Ok(())
    }

    /// Every target the database knows, by name.
    pub fn targets(&self) -> Result<Vec<TargetRecord>> {
        let mut stmt = self.conn.prepare(
            "SELECT name, state, message, workers, execs, execs_per_sec, coverage, features,
                    corpus_files, corpus_bytes, rss_mb, last_new_coverage_at, fuzz_ms, slot_ms,
                    restarts, updated_at
             FROM targets ORDER BY name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(TargetRecord {
                name: r.get(0)?,
                state: r.get(1)?,
                message: r.get(2)?,
                workers: r.get(3)?,
                execs: r.get(4)?,
                execs_per_sec: r.get(5)?,
                coverage: r.get(6)?,
                features: r.get(7)?,
                corpus_files: r.get(8)?,
                corpus_bytes: r.get(9)?,
                rss_mb: r.get(10)?,
                last_new_coverage_at: r.get(11)?,
                fuzz_ms: r.get(12)?,
                slot_ms: r.get(13)?,
                restarts: r.get(14)?,
                updated_at: r.get(15)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One target's record, if known.
    pub fn target(&self, name: &str) -> Result<Option<TargetRecord>> {
        Ok(self.targets()?.into_iter().find(|t| t.name == name))
    }

    /// Records an artifact. The same input (target, kind, sha1) found again only bumps its
    /// count and last-seen time. Returns the finding's id and whether it was new.
    pub fn record_finding(&self, f: &FindingInsert<'_>) -> Result<(i64, bool)> {
        let existing: Option<i64> = self
            .conn
            .query_row(
                "SELECT id FROM findings WHERE target = ?1 AND kind = ?2 AND sha1 = ?3",
                params![f.target, f.kind, f.sha1],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(id) = existing {
            self.conn.execute(
                "UPDATE findings SET count = count + 1, last_seen = max(last_seen, ?2) WHERE id = ?1",
                params![id, f.at_ms],
            )?;
            return Ok((id, false));
        }
        self.conn.execute(
            "INSERT INTO findings (target, kind, sha1, input_path, report_path, size_bytes,
                 count, first_seen, last_seen, node)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?7, ?8)",
            params![
                f.target,
                f.kind,
                f.sha1,
                f.input_path.to_string_lossy(),
                f.report_path.map(|p| p.to_string_lossy().into_owned()),
                f.size_bytes as i64,
                f.at_ms,
                f.node
            ],
        )?;
        Ok((self.conn.last_insert_rowid(), true))
    }

    /// Every finding, oldest first.
    pub fn findings(&self) -> Result<Vec<FindingRecord>> {
        self.query_findings("SELECT * FROM findings ORDER BY first_seen, id", [])
    }

    /// One finding by id.
    pub fn finding(&self, id: i64) -> Result<Option<FindingRecord>> {
        Ok(self
            .query_findings("SELECT * FROM findings WHERE id = ?1", [id])?
            .into_iter()
            .next())
    }

    pub(crate) fn query_findings(
        &self,
        sql: &str,
        p: impl rusqlite::Params,
    ) -> Result<Vec<FindingRecord>> {
        let mut stmt = self.conn.prepare(sql)?;
        let rows = stmt.query_map(p, |r| {
            Ok(FindingRecord {
                id: r.get("id")?,
                target: r.get("target")?,
                kind: r.get("kind")?,
                sha1: r.get("sha1")?,
                input_path: r.get("input_path")?,
                report_path: r.get("report_path")?,
                size_bytes: r.get("size_bytes")?,
                count: r.get("count")?,
                first_seen: r.get("first_seen")?,
                last_seen: r.get("last_seen")?,
                node: r.get("node")?,
                repro: r.get("repro")?,
                bucket: r.get("bucket")?,
                build_id: r.get("build_id")?,
                dropped: r.get::<_, i64>("dropped")? != 0,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Stores one stats sample (a second one for the same target, span and time replaces it).
    pub fn put_sample(&self, s: &Sample) -> Result<()> {
        self.insert_sample(s, "REPLACE")
    }

    /// Inserts a sample; on a clash with an existing row, `on_conflict` (`REPLACE` or
    /// `IGNORE`) decides which one stays.
    fn insert_sample(&self, s: &Sample, on_conflict: &str) -> Result<()> {
        self.conn.execute(
            &format!(
                "INSERT OR {on_conflict} INTO samples (target, ts, span_s, workers, execs,
                     execs_per_sec, coverage, features, corpus_files, corpus_bytes, rss_mb)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
            ),
            params![
                s.target,
                s.ts,
                s.span_s,
                s.workers,
                s.execs,
                s.execs_per_sec,
                s.coverage,
                s.features,
                s.corpus_files,
                s.corpus_bytes,
                s.rss_mb
            ],
        )?;
        Ok(())
    }

    /// A target's samples since `since_ms`, oldest first, every resolution merged.
    pub fn samples(&self, target: &str, since_ms: i64) -> Result<Vec<Sample>> {
        let mut stmt = self.conn.prepare(
            "SELECT target, ts, span_s, workers, execs, execs_per_sec, coverage, features,
                    corpus_files, corpus_bytes, rss_mb
             FROM samples WHERE target = ?1 AND ts >= ?2 ORDER BY ts, span_s",
        )?;
        let rows = stmt.query_map(params![target, since_ms], |r| {
            Ok(Sample {
                target: r.get(0)?,
                ts: r.get(1)?,
                span_s: r.get(2)?,
                workers: r.get(3)?,
                execs: r.get(4)?,
                execs_per_sec: r.get(5)?,
                coverage: r.get(6)?,
                features: r.get(7)?,
                corpus_files: r.get(8)?,
                corpus_bytes: r.get(9)?,
                rss_mb: r.get(10)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Folds old samples into coarser ones so months of history stay small: raw 10 s samples
    /// older than two days become 5-minute rows, those older than 30 days hourly rows.
    /// Counters keep their maximum, rates their mean. Returns the number of rows removed.
    pub fn compact_samples(&self, now_ms: i64) -> Result<usize> {
        let mut removed = 0;
        self.batch(|db| {
            for &(age_ms, from, to) in FOLDS {
                let cutoff = now_ms - age_ms;
                // Only whole buckets that end before the cutoff are folded, so a fold never
                // has to merge with a row written by an earlier fold.
                let cutoff = cutoff - cutoff.rem_euclid(to * 1000);
                db.conn.execute(
                    "INSERT OR REPLACE INTO samples (target, ts, span_s, workers, execs,
                         execs_per_sec, coverage, features, corpus_files, corpus_bytes, rss_mb)
                     SELECT target, (ts / ?3) * ?3, ?4, max(workers), max(execs),
                            avg(execs_per_sec), max(coverage), max(features), max(corpus_files),
                            max(corpus_bytes), max(rss_mb)
                     FROM samples WHERE span_s = ?1 AND ts < ?2
                     GROUP BY target, ts / ?3",
                    params![from, cutoff, to * 1000, to],
                )?;
                removed += db.conn.execute(
                    "DELETE FROM samples WHERE span_s = ?1 AND ts < ?2",
                    params![from, cutoff],
                )?;
            }
            Ok(())
        })?;
        Ok(removed)
    }

    /// Deletes stats samples older than `before_ms` (history only: the targets' totals
    /// live in their own rows). Used to free space when the disk runs full.
    pub fn prune_samples(&self, before_ms: i64) -> Result<usize> {
        Ok(self
            .conn
            .execute("DELETE FROM samples WHERE ts < ?1", params![before_ms])?)
    }

    /// Saves a tier's schedule position (opaque, versioned JSON owned by the scheduler).
    pub fn save_schedule(&self, tier: &str, state: &str, at_ms: i64) -> Result<()> {
        self.conn.execute(
            "INSERT INTO schedule (tier, state, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (tier) DO UPDATE SET state = ?2, updated_at = ?3",
            params![tier, state, at_ms],
        )?;
        Ok(())
    }

    /// A tier's saved schedule position.
    pub fn load_schedule(&self, tier: &str) -> Result<Option<ScheduleRow>> {
        Ok(self
            .conn
            .query_row(
                "SELECT tier, state, updated_at FROM schedule WHERE tier = ?1",
                [tier],
                |r| {
                    Ok(ScheduleRow {
                        tier: r.get(0)?,
                        state: r.get(1)?,
                        updated_at: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// Forgets every saved schedule position (a fresh campaign).
    pub fn clear_schedule(&self) -> Result<()> {
        self.conn.execute("DELETE FROM schedule", [])?;
        Ok(())
    }

    /// Appends an event.
    pub fn log_event(
        &self,
        ts: i64,
        target: Option<&str>,
        kind: &str,
        message: &str,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO events (ts, target, kind, message) VALUES (?1, ?2, ?3, ?4)",
            params![ts, target, kind, message],
        )?;
        Ok(())
    }

    /// The newest `limit` events, newest first.
    pub fn events(&self, limit: usize) -> Result<Vec<WorkerEvent>> {
        let mut stmt = self
            .conn
            .prepare("SELECT ts, target, kind, message FROM events ORDER BY id DESC LIMIT ?1")?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok(WorkerEvent {
                ts: r.get(0)?,
                target: r.get(1)?,
                kind: r.get(2)?,
                message: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Writes a consistent copy of the database to `path` (which must not exist), even
    /// while a campaign writes to it.
    pub fn snapshot_to(&self, path: &Path) -> Result<()> {
        self.conn
            .execute("VACUUM INTO ?1", [path.to_string_lossy()])?;
        Ok(())
    }

    /// Adds what the database at `other` has and this one lacks: findings (their paths
    /// recomputed for the state dir at `root`), targets, samples. Returns the number of
    /// findings added.
    pub fn merge_from(&self, other: &Path, root: &Path) -> Result<usize> {
        let layout = crate::Layout::new(root);
        let src = Db::open(other)?;
        let mut added = 0;
        self.batch(|db| {
            for f in src.findings()? {
                let input = layout.finding_input(&f.target, &f.kind, &f.sha1);
                let report = f
                    .report_path
                    .as_ref()
                    .map(|_| layout.finding_report(&f.target, &f.kind, &f.sha1));
                added += db.conn.execute(
                    "INSERT OR IGNORE INTO findings (target, kind, sha1, input_path, report_path,
                         size_bytes, count, first_seen, last_seen, node)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    params![
                        f.target,
                        f.kind,
                        f.sha1,
                        input.to_string_lossy(),
                        report.map(|r| r.to_string_lossy().into_owned()),
                        f.size_bytes,
                        f.count,
                        f.first_seen,
                        f.last_seen,
                        f.node
                    ],
                )?;
            }
            for t in src.targets()? {
                if db.target(&t.name)?.is_none() {
                    db.put_target(&TargetRecord {
                        state: "stopped".into(),
                        workers: 0,
                        ..t.clone()
                    })?;
                }
                for sample in src.samples(&t.name, 0)? {
                    // History this database already has wins.
                    db.insert_sample(&sample, "IGNORE")?;
                }
            }
            db.merge_triage_from(&src, &layout)?;
            Ok(())
        })?;
        Ok(added)
    }

    /// Stores a small named document (e.g. the hub's state for `status`).
    pub fn put_meta(&self, key: &str, value: &str, at_ms: i64) -> Result<()> {
        self.conn.execute(
            "INSERT INTO meta (key, value, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (key) DO UPDATE SET value = ?2, updated_at = ?3",
            params![key, value, at_ms],
        )?;
        Ok(())
    }

    /// A named document and when it was written.
    pub fn meta(&self, key: &str) -> Result<Option<(String, i64)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT value, updated_at FROM meta WHERE key = ?1",
                [key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Checks the file's integrity (`PRAGMA quick_check`): Ok(()) or the first problem.
    pub fn quick_check(&self) -> Result<std::result::Result<(), String>> {
        let r: String = self
            .conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        Ok(if r == "ok" { Ok(()) } else { Err(r) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("fleet.db")).unwrap();
        (dir, db)
    }

    #[test]
    fn opens_in_wal_mode_and_reopens_without_migrating_again() {
        let (dir, db) = db();
        let mode: String = db
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        drop(db);
        let db = Db::open(&dir.path().join("fleet.db")).unwrap();
        assert_eq!(db.quick_check().unwrap(), Ok(()));
    }

    #[test]
    fn concurrent_opens_of_a_new_database_migrate_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.db");
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || Db::open(&path).map(|_| ()))
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
    }

    #[test]
    fn refuses_a_newer_schema() {
        let (dir, db) = db();
        db.conn.pragma_update(None, "user_version", 99).unwrap();
        drop(db);
        let err = Db::open(&dir.path().join("fleet.db")).unwrap_err();
        assert!(
            err.to_string().contains("newer than this fuzzfleet"),
            "{err}"
        );
    }

    #[test]
    fn same_input_is_stored_once_and_counted() {
        let (_dir, db) = db();
        let f = FindingInsert {
            target: "t",
            kind: "crash",
            sha1: "abc",
            input_path: Path::new("/s/crashes/t/crash-abc"),
            report_path: None,
            size_bytes: 4,
            at_ms: 1000,
            node: None,
        };
        assert_eq!(db.record_finding(&f).unwrap(), (1, true));
        let again = FindingInsert {
            at_ms: 2000,
            ..f.clone()
        };
        assert_eq!(db.record_finding(&again).unwrap(), (1, false));
        let other = FindingInsert { sha1: "def", ..f };
        assert_eq!(db.record_finding(&other).unwrap(), (2, true));
        let all = db.findings().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(
            (all[0].count, all[0].first_seen, all[0].last_seen),
            (2, 1000, 2000)
        );
    }

    #[test]
    fn compaction_folds_old_samples_and_keeps_recent_ones() {
        let (_dir, db) = db();
        let day = 86_400_000;
        let now = 100 * day;
        // Three days of raw samples, one every 10 s.
        for i in 0..(3 * 8640) {
            let ts = now - 3 * day + i * 10_000;
            db.put_sample(&Sample {
                target: "t".into(),
                ts,
                span_s: RAW_SPAN_S,
                workers: 2,
                execs: i,
                execs_per_sec: 100.0,
                coverage: Some(i),
                ..Default::default()
            })
            .unwrap();
        }
        let before = db.samples("t", 0).unwrap().len();
        let removed = db.compact_samples(now).unwrap();
        let after = db.samples("t", 0).unwrap();
        assert!(removed > 8000, "removed {removed}");
        // One day of 8640 raw rows became 288 five-minute rows.
        assert_eq!(
            before - after.len(),
            8640 - 288,
            "{} -> {}",
            before,
            after.len()
        );
        // The last two days stay at full resolution; counters keep their maximum.
        assert!(
            after
                .iter()
                .filter(|s| s.span_s == RAW_SPAN_S)
                .all(|s| s.ts >= now - 2 * day - 300_000)
        );
        let max_cov = after.iter().filter_map(|s| s.coverage).max().unwrap();
        assert_eq!(max_cov, 3 * 8640 - 1);
        assert!(after.iter().all(|s| (s.execs_per_sec - 100.0).abs() < 1e-9));
        // Idempotent.
        assert_eq!(db.compact_samples(now).unwrap(), 0);
    }

    #[test]
    fn schedule_round_trips() {
        let (_dir, db) = db();
        db.save_schedule("tier1", "{\"v\":1}", 5).unwrap();
        db.save_schedule("tier1", "{\"v\":2}", 6).unwrap();
        let row = db.load_schedule("tier1").unwrap().unwrap();
        assert_eq!((row.state.as_str(), row.updated_at), ("{\"v\":2}", 6));
        assert!(db.load_schedule("tier2").unwrap().is_none());
    }
}
