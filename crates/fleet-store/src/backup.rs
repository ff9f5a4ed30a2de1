//! Backup and restore of a whole state dir: every corpus, finding, report and a
//! consistent snapshot of the database, in one gzipped tar with a manifest of SHA-256
//! checksums. A restore checks every checksum before touching the state, then merges:
//! files are added where missing (content-addressed names make duplicates impossible),
//! database rows are added where missing.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Db, Layout, StoreError, now_ms, rfc3339};

/// The manifest format's version; a newer one is refused.
pub const BACKUP_VERSION: u32 = 1;
const MANIFEST: &str = "manifest.json";
const DB_SNAPSHOT: &str = "fleet.db";
/// The state subdirectories a backup holds (everything fuzzfleet cannot recreate).
const KEPT_DIRS: &[&str] = &["corpus", "crashes", "quarantine", "minimized"];

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{archive} is not a usable fuzzfleet backup: {reason}; nothing was restored")]
    Corrupt { archive: PathBuf, reason: String },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> BackupError {
    let what = what.into();
    move |source| BackupError::Io { what, source }
}

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    version: u32,
    created_at: String,
    /// Archive path → (SHA-256 hex, size).
    files: BTreeMap<String, (String, u64)>,
}

/// What a backup or restore did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackupStats {
    pub files: u64,
    pub bytes: u64,
    /// Restore only: files already present, skipped.
    pub skipped: u64,
    /// Restore only: findings added to the database.
    pub findings_added: u64,
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes a backup of the state in `layout` to `archive` (atomically: a partial archive
/// is never left under that name).
pub fn backup(layout: &Layout, db: &Db, archive: &Path) -> Result<BackupStats, BackupError> {
    let tmp_db = layout.root().join(".backup-fleet.db");
    let _ = fs::remove_file(&tmp_db);
    db.snapshot_to(&tmp_db)?;
    let mut files: Vec<(String, PathBuf)> = vec![(DB_SNAPSHOT.to_string(), tmp_db.clone())];
    for dir in KEPT_DIRS {
        collect(&layout.root().join(dir), dir, &mut files).map_err(io_err(format!(
            "cannot read {}",
            layout.root().join(dir).display()
        )))?;
    }
    let partial = archive.with_extension("partial");
    let result = write_archive(&partial, &files);
    let _ = fs::remove_file(&tmp_db);
    let stats = result?;
    fs::rename(&partial, archive).map_err(io_err(format!("cannot write {}", archive.display())))?;
    Ok(stats)
}

fn collect(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) -> io::Result<()> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    let mut entries: Vec<_> = entries.collect::<io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue; // in-progress atomic writes
        }
        let ty = e.file_type()?;
        let rel = format!("{prefix}/{name}");
        if ty.is_dir() {
            collect(&e.path(), &rel, out)?;
        } else if ty.is_file() {
            out.push((rel, e.path()));
        }
    }
    Ok(())
}

fn write_archive(path: &Path, files: &[(String, PathBuf)]) -> Result<BackupStats, BackupError> {
    let file = File::create(path).map_err(io_err(format!("cannot create {}", path.display())))?;
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let mut manifest = Manifest {
        version: BACKUP_VERSION,
        created_at: rfc3339(now_ms()),
        files: BTreeMap::new(),
    };
    let mut stats = BackupStats::default();
    for (name, src) in files {
        let bytes = fs::read(src).map_err(io_err(format!("cannot read {}", src.display())))?;
        append(&mut tar, name, &bytes)
            .map_err(io_err(format!("cannot write {}", path.display())))?;
        manifest
            .files
            .insert(name.clone(), (sha256_hex(&bytes), bytes.len() as u64));
        stats.files += 1;
        stats.bytes += bytes.len() as u64;
    }
    let json = serde_json::to_vec_pretty(&manifest).expect("a manifest serializes");
    append(&mut tar, MANIFEST, &json)
        .map_err(io_err(format!("cannot write {}", path.display())))?;
    let gz = tar
        .into_inner()
        .map_err(io_err(format!("cannot write {}", path.display())))?;
    let file = gz
        .finish()
        .map_err(io_err(format!("cannot write {}", path.display())))?;
    file.sync_all()
        .map_err(io_err(format!("cannot write {}", path.display())))?;
    Ok(stats)
}

fn append<W: Write>(tar: &mut tar::Builder<W>, name: &str, bytes: &[u8]) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    tar.append_data(&mut header, name, bytes)
}

/// Restores `archive` into the state in `layout`, merging with what is there. Every
/// checksum is verified before anything is written.
pub fn restore(layout: &Layout, archive: &Path) -> Result<BackupStats, BackupError> {
    let corrupt = |reason: String| BackupError::Corrupt {
        archive: archive.to_path_buf(),
        reason,
    };
    let file = File::open(archive).map_err(io_err(format!("cannot open {}", archive.display())))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut contents: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let entries = tar.entries().map_err(|e| corrupt(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| corrupt(e.to_string()))?;
        let path = entry
            .path()
            .map_err(|e| corrupt(e.to_string()))?
            .into_owned();
        let name =
            safe_name(&path).ok_or_else(|| corrupt(format!("unsafe path {}", path.display())))?;
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| corrupt(e.to_string()))?;
        contents.insert(name, bytes);
    }
    let manifest: Manifest = contents
        .remove(MANIFEST)
        .ok_or_else(|| corrupt("no manifest.json".into()))
        .and_then(|m| {
            serde_json::from_slice(&m).map_err(|e| corrupt(format!("bad manifest: {e}")))
        })?;
    if manifest.version > BACKUP_VERSION {
        return Err(corrupt(format!(
            "backup format version {} is newer than this fuzzfleet's ({BACKUP_VERSION})",
            manifest.version
        )));
    }
    for (name, (sum, size)) in &manifest.files {
        let bytes = contents
            .get(name)
            .ok_or_else(|| corrupt(format!("{name} is missing")))?;
        if bytes.len() as u64 != *size || &sha256_hex(bytes) != sum {
            return Err(corrupt(format!("{name} does not match its checksum")));
        }
    }
    if let Some(extra) = contents.keys().find(|k| !manifest.files.contains_key(*k)) {
        return Err(corrupt(format!("{extra} is not in the manifest")));
    }

    let mut stats = BackupStats::default();
    for (name, bytes) in &contents {
        if name == DB_SNAPSHOT {
            continue;
        }
        let dest = layout.root().join(name);
        if dest.exists() {
            stats.skipped += 1;
            continue;
        }
        crate::write_atomic(&dest, bytes)
            .map_err(io_err(format!("cannot write {}", dest.display())))?;
        stats.files += 1;
        stats.bytes += bytes.len() as u64;
    }
    if let Some(snapshot) = contents.get(DB_SNAPSHOT) {
        let tmp = layout.root().join(".restore-fleet.db");
        crate::write_atomic(&tmp, snapshot)
            .map_err(io_err(format!("cannot write {}", tmp.display())))?;
        let result = (|| {
            let db = Db::open(&layout.db_path())?;
            db.merge_from(&tmp, layout.root())
        })();
        let _ = fs::remove_file(&tmp);
        for suffix in ["-wal", "-shm"] {
            let mut p = tmp.clone().into_os_string();
            p.push(suffix);
            let _ = fs::remove_file(p);
        }
        stats.findings_added = result? as u64;
    }
    Ok(stats)
}

/// A relative path of plain components inside the archive, as a `/`-joined string;
/// `None` for anything absolute or with `..`.
fn safe_name(path: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str()?.to_string()),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FindingInsert, write_atomic};

    fn state_with(dir: &Path, entries: &[&str], finding: &str) -> (Layout, Db) {
        let layout = Layout::new(dir);
        let db = Db::open(&layout.db_path()).unwrap();
        for e in entries {
            write_atomic(
                &layout.corpus_dir("t").join(crate::sha1_hex(e.as_bytes())),
                e.as_bytes(),
            )
            .unwrap();
        }
        let input = layout.finding_input("t", "crash", finding);
        write_atomic(&input, finding.as_bytes()).unwrap();
        db.record_finding(&FindingInsert {
            target: "t",
            kind: "crash",
            sha1: finding,
            input_path: &input,
            report_path: None,
            size_bytes: 1,
            at_ms: 5,
            node: None,
        })
        .unwrap();
        (layout, db)
    }

    #[test]
    fn restore_merges_into_an_existing_state_without_duplicates() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let (la, dba) = state_with(a.path(), &["one", "two"], "aaa");
        let (lb, dbb) = state_with(b.path(), &["two", "three"], "bbb");
        let archive = a.path().join("backup.tar.gz");
        let made = backup(&la, &dba, &archive).unwrap();
        assert_eq!(made.files, 4, "db, two corpus entries, one finding");

        let restored = restore(&lb, &archive).unwrap();
        assert_eq!(
            (restored.files, restored.skipped, restored.findings_added),
            (2, 1, 1)
        );
        let corpus: Vec<_> = fs::read_dir(lb.corpus_dir("t")).unwrap().collect();
        assert_eq!(corpus.len(), 3);
        let findings = dbb.findings().unwrap();
        assert_eq!(findings.len(), 2);
        // Restored rows point into the state they were restored into.
        assert!(
            findings
                .iter()
                .all(|f| f.input_path.starts_with(b.path().to_str().unwrap()))
        );
        assert!(findings.iter().all(|f| Path::new(&f.input_path).exists()));
        // A second restore adds nothing.
        let again = restore(&lb, &archive).unwrap();
        assert_eq!((again.files, again.findings_added), (0, 0));
    }

    #[test]
    fn a_corrupt_archive_is_refused_and_nothing_is_written() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let (la, dba) = state_with(a.path(), &["one"], "aaa");
        let archive = a.path().join("backup.tar.gz");
        backup(&la, &dba, &archive).unwrap();
        let mut bytes = fs::read(&archive).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        bytes.truncate(bytes.len() - 10);
        fs::write(&archive, &bytes).unwrap();
        let lb = Layout::new(b.path());
        let err = restore(&lb, &archive).unwrap_err();
        assert!(
            err.to_string().contains("not a usable fuzzfleet backup"),
            "{err}"
        );
        assert!(!lb.corpus_dir("t").exists());
    }

    #[test]
    fn unsafe_archive_paths_are_refused() {
        assert_eq!(
            safe_name(Path::new("corpus/t/x")).as_deref(),
            Some("corpus/t/x")
        );
        assert_eq!(safe_name(Path::new("../etc/x")), None);
        assert_eq!(safe_name(Path::new("/etc/x")), None);
    }
}
