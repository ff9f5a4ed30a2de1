//! The crash pipeline's tables: each finding's triage (repro, crash, bucket, build) and
//! the buckets, whose counts, times, nodes and repro are aggregated from their findings.

use std::path::Path;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::db::{Db, FindingRecord, StoreError};

type Result<T> = std::result::Result<T, StoreError>;

/// What triage learned about one finding.
#[derive(Clone, Debug)]
pub struct Triage<'a> {
    pub repro: &'a str,
    /// `fleet_crash::Crash` as JSON.
    pub crash: &'a str,
    pub bucket: &'a str,
    pub build_id: Option<&'a str>,
}

/// A bucket's derived fields (from `fleet_crash::Bucket`), written after every change.
#[derive(Clone, Debug)]
pub struct BucketPut<'a> {
    pub id: &'a str,
    pub target: &'a str,
    pub kind: &'a str,
    pub signature: &'a str,
    pub title: &'a str,
    pub severity: &'a str,
    pub representative: &'a str,
    /// `fleet_crash::Bucket` as JSON.
    pub data: &'a str,
}

/// A bucket as stored, with its findings' aggregates.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BucketRecord {
    pub id: String,
    pub target: String,
    pub kind: String,
    pub signature: String,
    pub title: String,
    pub severity: String,
    pub representative: String,
    pub data: String,
    pub minimized_path: Option<String>,
    pub minimized_of: Option<String>,
    /// `open`, `fixed` or `regressed`.
    pub state: String,
    pub state_build: Option<String>,
    pub state_at: Option<i64>,
    pub tested_build: Option<String>,
    pub notified_at: Option<i64>,
    /// Times any of its inputs was found.
    pub count: i64,
    pub first_seen: i64,
    pub last_seen: i64,
    /// The best repro of its findings: `always`, `sometimes`, `never`; `recovered` for a
    /// recoverable sanitizer report (nothing to run again).
    pub repro: String,
    /// Nodes that found it; `None` stands for this one.
    pub nodes: Vec<Option<String>>,
}

const BUCKET_SELECT: &str = "
    SELECT b.id, b.target, b.kind, b.signature, b.title, b.severity, b.representative, b.data,
           b.minimized_path, b.minimized_of, b.state, b.state_build, b.state_at,
           b.tested_build, b.notified_at,
           coalesce(sum(f.count), 0), coalesce(min(f.first_seen), 0),
           coalesce(max(f.last_seen), 0),
           max(CASE f.repro WHEN 'recovered' THEN 4 WHEN 'always' THEN 3 WHEN 'sometimes' THEN 2
               WHEN 'never' THEN 1 ELSE 0 END),
           group_concat(DISTINCT coalesce(f.node, ''))
    FROM buckets b LEFT JOIN findings f ON f.bucket = b.id";

fn repro_name(rank: Option<i64>) -> &'static str {
    match rank {
        Some(4) => "recovered",
        Some(3) => "always",
        Some(2) => "sometimes",
        Some(1) => "never",
        _ => "pending",
    }
}

impl Db {
    /// Findings not triaged yet (slow units are not crashes), oldest first.
    pub fn pending_findings(&self) -> Result<Vec<FindingRecord>> {
        self.query_findings(
            "SELECT * FROM findings WHERE crash IS NULL AND kind != 'slow' ORDER BY id",
            [],
        )
    }

    /// Records how a filed finding replays.
    pub fn set_repro(&self, id: i64, repro: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE findings SET repro = ?2 WHERE id = ?1",
            params![id, repro],
        )?;
        Ok(())
    }

    /// Records the report file of a finding kept without one (its report came after the
    /// sweep took its input). A finding that has a report keeps it.
    pub fn set_report_path(&self, target: &str, kind: &str, sha1: &str, path: &Path) -> Result<()> {
        self.conn.execute(
            "UPDATE findings SET report_path = ?4
             WHERE target = ?1 AND kind = ?2 AND sha1 = ?3 AND report_path IS NULL",
            params![target, kind, sha1, path.to_string_lossy()],
        )?;
        Ok(())
    }

    /// Findings filed from the fuzzer's report whose reproduction has not run yet.
    pub fn unreproduced_findings(&self) -> Result<Vec<FindingRecord>> {
        self.query_findings(
            "SELECT * FROM findings WHERE crash IS NOT NULL AND repro = 'pending' ORDER BY id",
            [],
        )
    }

    /// Findings of one bucket, oldest first.
    pub fn bucket_findings(&self, bucket: &str) -> Result<Vec<FindingRecord>> {
        self.query_findings(
            "SELECT * FROM findings WHERE bucket = ?1 ORDER BY first_seen, id",
            [bucket],
        )
    }

    /// Records what triage learned about finding `id`.
    pub fn set_triage(&self, id: i64, t: &Triage<'_>) -> Result<()> {
        self.conn.execute(
            "UPDATE findings SET repro = ?2, crash = ?3, bucket = ?4, build_id = ?5 WHERE id = ?1",
            params![id, t.repro, t.crash, t.bucket, t.build_id],
        )?;
        Ok(())
    }

    /// Every triaged finding's id and crash JSON, in id order (to rebuild buckets).
    pub fn triaged_crashes(&self) -> Result<Vec<(i64, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, crash FROM findings WHERE crash IS NOT NULL ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Moves finding `id` to `bucket` (after a rule change).
    pub fn set_finding_bucket(&self, id: i64, bucket: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE findings SET bucket = ?2 WHERE id = ?1",
            params![id, bucket],
        )?;
        Ok(())
    }

    /// Marks the finding of (target, sha1) as having no input on disk any more.
    pub fn set_dropped(&self, target: &str, sha1: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE findings SET dropped = 1 WHERE target = ?1 AND sha1 = ?2",
            params![target, sha1],
        )?;
        Ok(())
    }

    /// Writes a bucket's derived fields, keeping what the pipeline learned (minimized
    /// input, fixed/regressed state, notification).
    pub fn put_bucket(&self, b: &BucketPut<'_>) -> Result<()> {
        self.conn.execute(
            "INSERT INTO buckets (id, target, kind, signature, title, severity, representative, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (id) DO UPDATE SET target = ?2, kind = ?3, signature = ?4, title = ?5,
                 severity = ?6, representative = ?7, data = ?8",
            params![
                b.id,
                b.target,
                b.kind,
                b.signature,
                b.title,
                b.severity,
                b.representative,
                b.data
            ],
        )?;
        Ok(())
    }

    /// Deletes the buckets not in `keep` (a rebuild after a merge or split moved their
    /// findings). Returns how many went.
    pub fn retain_buckets(&self, keep: &[String]) -> Result<usize> {
        let ids: Vec<String> = {
            let mut stmt = self.conn.prepare("SELECT id FROM buckets")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut removed = 0;
        for id in ids.iter().filter(|id| !keep.contains(id)) {
            removed += self
                .conn
                .execute("DELETE FROM buckets WHERE id = ?1", [id])?;
        }
        Ok(removed)
    }

    /// Every bucket, most severe and then oldest first.
    pub fn buckets(&self) -> Result<Vec<BucketRecord>> {
        self.query_buckets(
            &format!(
                "{BUCKET_SELECT} GROUP BY b.id
             ORDER BY CASE b.severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1
                      WHEN 'medium' THEN 2 ELSE 3 END, 17, b.id"
            ),
            [],
        )
    }

    /// One bucket.
    pub fn bucket(&self, id: &str) -> Result<Option<BucketRecord>> {
        Ok(self
            .query_buckets(
                &format!("{BUCKET_SELECT} WHERE b.id = ?1 GROUP BY b.id"),
                [id],
            )?
            .into_iter()
            .next())
    }

    fn query_buckets(&self, sql: &str, p: impl rusqlite::Params) -> Result<Vec<BucketRecord>> {
        let mut stmt = self.conn.prepare(sql)?;
        let rows = stmt.query_map(p, |r| {
            let nodes: Option<String> = r.get(19)?;
            let mut nodes: Vec<Option<String>> = nodes
                .unwrap_or_default()
                .split(',')
                .map(|n| (!n.is_empty()).then(|| n.to_owned()))
                .collect();
            nodes.sort();
            nodes.dedup();
            Ok(BucketRecord {
                id: r.get(0)?,
                target: r.get(1)?,
                kind: r.get(2)?,
                signature: r.get(3)?,
                title: r.get(4)?,
                severity: r.get(5)?,
                representative: r.get(6)?,
                data: r.get(7)?,
                minimized_path: r.get(8)?,
                minimized_of: r.get(9)?,
                state: r.get(10)?,
                state_build: r.get(11)?,
                state_at: r.get(12)?,
                tested_build: r.get(13)?,
                notified_at: r.get(14)?,
                count: r.get(15)?,
                first_seen: r.get(16)?,
                last_seen: r.get(17)?,
                repro: repro_name(r.get(18)?).to_owned(),
                nodes,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Records a verified minimized input of the bucket, made from input `of`.
    pub fn set_bucket_minimized(&self, id: &str, path: &str, of: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE buckets SET minimized_path = ?2, minimized_of = ?3 WHERE id = ?1",
            params![id, path, of],
        )?;
        Ok(())
    }

    /// Sets a bucket's state (`open`, `fixed`, `regressed`) as of `build`.
    pub fn set_bucket_state(
        &self,
        id: &str,
        state: &str,
        build: Option<&str>,
        at_ms: i64,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE buckets SET state = ?2, state_build = ?3, state_at = ?4 WHERE id = ?1",
            params![id, state, build, at_ms],
        )?;
        Ok(())
    }

    /// Records the build the bucket's representative last ran against.
    pub fn set_bucket_tested(&self, id: &str, build: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE buckets SET tested_build = ?2 WHERE id = ?1",
            params![id, build],
        )?;
        Ok(())
    }

    /// Records that the bucket was announced (webhook).
    pub fn set_bucket_notified(&self, id: &str, at_ms: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE buckets SET notified_at = ?2 WHERE id = ?1",
            params![id, at_ms],
        )?;
        Ok(())
    }

    /// Restore's half for the crash pipeline: what `src` learned about findings this
    /// database took from it (repro, crash, bucket, build, dropped), its buckets this
    /// one lacks (with paths moved under `layout`), and its merge/split rules when this
    /// one has none. Nothing this database already knows is changed.
    pub(crate) fn merge_triage_from(&self, src: &Db, layout: &crate::Layout) -> Result<()> {
        let mut stmt = src.conn.prepare(
            "SELECT target, kind, sha1, repro, crash, bucket, build_id, dropped FROM findings
             WHERE crash IS NOT NULL",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, Option<String>>(6)?,
                r.get::<_, i64>(7)?,
            ))
        })?;
        for row in rows {
            let (target, kind, sha1, repro, crash, bucket, build, dropped) = row?;
            self.conn.execute(
                "UPDATE findings SET repro = ?4, crash = ?5, bucket = ?6, build_id = ?7,
                     dropped = ?8
                 WHERE target = ?1 AND kind = ?2 AND sha1 = ?3 AND crash IS NULL",
                params![target, kind, sha1, repro, crash, bucket, build, dropped],
            )?;
        }
        for b in src.buckets()? {
            if self.bucket(&b.id)?.is_some() {
                continue;
            }
            self.put_bucket(&BucketPut {
                id: &b.id,
                target: &b.target,
                kind: &b.kind,
                signature: &b.signature,
                title: &b.title,
                severity: &b.severity,
                representative: &b.representative,
                data: &b.data,
            })?;
            // A path of the other state dir, as the same file here.
            let moved = b
                .minimized_path
                .as_deref()
                .filter(|p| !p.is_empty())
                .and_then(|p| {
                    let name = std::path::Path::new(p).file_name()?.to_owned();
                    Some(if p.contains("/minimized/") {
                        layout.bucket_minimized(&b.target, &b.id)
                    } else {
                        layout.root().join("crashes").join(&b.target).join(name)
                    })
                });
            if let (Some(path), Some(of)) = (moved, &b.minimized_of) {
                self.set_bucket_minimized(&b.id, &path.to_string_lossy(), of)?;
            }
            if let Some(at) = b.state_at {
                self.set_bucket_state(&b.id, &b.state, b.state_build.as_deref(), at)?;
            }
            if let Some(build) = &b.tested_build {
                self.set_bucket_tested(&b.id, build)?;
            }
            if let Some(at) = b.notified_at {
                self.set_bucket_notified(&b.id, at)?;
            }
        }
        const RULES: &str = "crash-rules";
        if self.meta(RULES)?.is_none()
            && let Some((rules, at)) = src.meta(RULES)?
        {
            self.put_meta(RULES, &rules, at)?;
        }
        Ok(())
    }

    /// The finding of `target` with input `sha1`, if any.
    pub fn finding_by_sha1(&self, target: &str, sha1: &str) -> Result<Option<FindingRecord>> {
        Ok(self
            .query_findings(
                "SELECT * FROM findings WHERE target = ?1 AND sha1 = ?2 ORDER BY id LIMIT 1",
                params![target, sha1],
            )?
            .into_iter()
            .next())
    }

    /// Whether any bucket exists (the pipeline has run on this state).
    pub fn has_buckets(&self) -> Result<bool> {
        Ok(self
            .conn
            .query_row("SELECT 1 FROM buckets LIMIT 1", [], |_| Ok(()))
            .optional()?
            .is_some())
    }
}
