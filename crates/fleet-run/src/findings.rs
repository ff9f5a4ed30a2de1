//! Keeping what the workers find: artifacts move atomically from a target's incoming dir
//! (libFuzzer's `-artifact_prefix`) into the state dir with their report excerpt, and are
//! recorded in the database. An identical input found again is stored once and counted.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use fleet_store::{Db, FindingInsert, Layout, StoreError, sha1_hex, write_atomic};

use crate::output::{FindingKind, classify_artifact};
use crate::triage::FIRST_REPORT_MARK;

/// A sweep leaves files younger than this alone unless told the writer is done:
/// libFuzzer writes artifacts in place, so a young file may still be growing.
const SETTLE: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("cannot keep finding {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A finding that was kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kept {
    pub id: i64,
    pub kind: FindingKind,
    pub sha1: String,
    pub new: bool,
}

/// Moves one artifact into the state dir and records it.
pub fn intake(
    layout: &Layout,
    db: &Db,
    target: &str,
    artifact: &Path,
    report: Option<&str>,
    at_ms: i64,
) -> Result<Kept, IntakeError> {
    let io_err = |source| IntakeError::Io {
        path: artifact.to_path_buf(),
        source,
    };
    let name = artifact
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Anything in the incoming dir is a finding; a name libFuzzer did not give is kept as a crash.
    let kind = classify_artifact(&name).map_or(FindingKind::Crash, |(k, _)| k);
    let bytes = fs::read(artifact).map_err(io_err)?;
    let sha1 = sha1_hex(&bytes);
    let kind_name = kind.to_string();
    let input = layout.finding_input(target, &kind_name, &sha1);
    let report_path = layout.finding_report(target, &kind_name, &sha1);
    fs::create_dir_all(layout.crashes_dir(target)).map_err(io_err)?;
    if let Some(text) = report.filter(|t| !t.is_empty())
        && !report_path.exists()
    {
        write_atomic(&report_path, text.as_bytes()).map_err(io_err)?;
    }
    if input.exists() {
        fs::remove_file(artifact).map_err(io_err)?;
    } else {
        // Same filesystem (both under the state dir): rename is atomic.
        fs::rename(artifact, &input).map_err(io_err)?;
    }
    let (id, new) = db.record_finding(&FindingInsert {
        target,
        kind: &kind_name,
        sha1: &sha1,
        input_path: &input,
        report_path: report_path.exists().then_some(report_path.as_path()),
        size_bytes: bytes.len() as u64,
        at_ms,
        node: None,
    })?;
    Ok(Kept {
        id,
        kind,
        sha1,
        new,
    })
}

/// A report whose artifact a sweep took in first: written beside the finding (named by
/// libFuzzer's `<prefix><sha1>` artifact name) when the finding has none yet, where
/// triage reads it; when triage already wrote a reproduction's output there, under the
/// mark that says what the fuzzer first reported (nothing, then).
pub fn late_report(layout: &Layout, db: &Db, target: &str, artifact: &Path, report: &str) {
    let name = artifact
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Some((kind, _)) = classify_artifact(&name) else {
        return;
    };
    let Some(sha1) = name.rsplit('-').next().filter(|s| s.len() == 40) else {
        return;
    };
    let path = layout.finding_report(target, &kind.to_string(), sha1);
    if report.is_empty()
        || !layout
            .finding_input(target, &kind.to_string(), sha1)
            .exists()
    {
        return;
    }
    let text = match fs::read_to_string(&path) {
        Err(_) => report.to_owned(),
        Ok(reproduced) if reproduced.ends_with(FIRST_REPORT_MARK) => {
            format!("{reproduced}{report}")
        }
        Ok(_) => return,
    };
    // The finding was recorded with no report: the database, which the API and
    // `crashes show` read, learns of it too.
    if write_atomic(&path, text.as_bytes()).is_ok() {
        let _ = db.set_report_path(target, &kind.to_string(), sha1, &path);
    }
}

/// Keeps a sanitizer report the target recovered from (UBSan built with
/// `-fsanitize-recover`), which has no input: one finding of kind `ubsan` per target and
/// `key` (fleet-crash's location and message class), named by the key's SHA-1; its first
/// report is kept (as its report and, there being no input, as its input path), later
/// sightings are counted.
pub fn intake_recoverable(
    layout: &Layout,
    db: &Db,
    target: &str,
    key: &str,
    report: &str,
    at_ms: i64,
) -> Result<Kept, IntakeError> {
    let kind = FindingKind::Ubsan;
    let kind_name = kind.to_string();
    let sha1 = sha1_hex(key.as_bytes());
    let report_path = layout.finding_report(target, &kind_name, &sha1);
    let io_err = |source| IntakeError::Io {
        path: report_path.clone(),
        source,
    };
    fs::create_dir_all(layout.crashes_dir(target)).map_err(io_err)?;
    if !report_path.exists() {
        write_atomic(&report_path, report.as_bytes()).map_err(io_err)?;
    }
    let (id, new) = db.record_finding(&FindingInsert {
        target,
        kind: &kind_name,
        sha1: &sha1,
        input_path: &report_path,
        report_path: Some(&report_path),
        size_bytes: 0,
        at_ms,
        node: None,
    })?;
    Ok(Kept {
        id,
        kind,
        sha1,
        new,
    })
}

/// Takes in every artifact waiting in a target's incoming dir. With `settled_only`, files
/// modified in the last two seconds are left for the next sweep.
pub fn sweep(
    layout: &Layout,
    db: &Db,
    target: &str,
    settled_only: bool,
    at_ms: i64,
) -> Vec<Result<Kept, IntakeError>> {
    let dir = layout.incoming_dir(target);
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| !settled_only || is_settled(&e.path()))
        .map(|e| e.path())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| intake(layout, db, target, p, None, at_ms))
        .collect()
}

fn is_settled(path: &Path) -> bool {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age >= SETTLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, Layout, Db) {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        let db = Db::open(&layout.db_path()).unwrap();
        fs::create_dir_all(layout.incoming_dir("t")).unwrap();
        (dir, layout, db)
    }

    #[test]
    fn every_artifact_kind_is_kept_and_recorded_including_oom_and_slow_units() {
        let (_dir, layout, db) = setup();
        let incoming = layout.incoming_dir("t");
        for (prefix, body) in [
            ("crash-", &b"c"[..]),
            ("oom-", b"o"),
            ("slow-unit-", b"s"),
            ("timeout-", b"t"),
            ("leak-", b"l"),
        ] {
            fs::write(incoming.join(format!("{prefix}{}", sha1_hex(body))), body).unwrap();
        }
        // A name libFuzzer would not give is still a finding, kept as a crash.
        fs::write(incoming.join("odd-name"), b"x").unwrap();
        let kept: Vec<Kept> = sweep(&layout, &db, "t", false, 1)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(kept.len(), 6);
        let mut kinds: Vec<String> = db
            .findings()
            .unwrap()
            .iter()
            .map(|f| f.kind.clone())
            .collect();
        kinds.sort();
        assert_eq!(kinds, ["crash", "crash", "leak", "oom", "slow", "timeout"]);
        assert_eq!(fs::read_dir(&incoming).unwrap().count(), 0);
        for f in db.findings().unwrap() {
            assert!(Path::new(&f.input_path).exists(), "{}", f.input_path);
        }
    }

    #[test]
    fn the_same_input_found_again_is_stored_once_and_counted_and_keeps_its_first_report() {
        let (_dir, layout, db) = setup();
        let incoming = layout.incoming_dir("t");
        let path = incoming.join("crash-x");
        fs::write(&path, b"same").unwrap();
        let first = intake(&layout, &db, "t", &path, Some("first report"), 1).unwrap();
        fs::write(&path, b"same").unwrap();
        let again = intake(&layout, &db, "t", &path, Some("second report"), 2).unwrap();
        assert!(first.new && !again.new);
        assert_eq!(first.id, again.id);
        let f = db.finding(first.id).unwrap().unwrap();
        assert_eq!(f.count, 2);
        assert_eq!(
            fs::read_to_string(f.report_path.unwrap()).unwrap(),
            "first report"
        );
        assert_eq!(fs::read_dir(layout.crashes_dir("t")).unwrap().count(), 2);
    }

    #[test]
    fn a_report_that_comes_after_the_sweep_is_recorded_with_its_finding() {
        let (_dir, layout, db) = setup();
        let name = format!("timeout-{}", sha1_hex(b"slow"));
        let artifact = layout.incoming_dir("t").join(&name);
        fs::write(&artifact, b"slow").unwrap();
        let kept = sweep(&layout, &db, "t", false, 1).pop().unwrap().unwrap();
        assert_eq!(db.finding(kept.id).unwrap().unwrap().report_path, None);
        late_report(
            &layout,
            &db,
            "t",
            &artifact,
            "==1== ERROR: libFuzzer: timeout",
        );
        let f = db.finding(kept.id).unwrap().unwrap();
        let path = f.report_path.clone().expect("the late report is recorded");
        assert_eq!(
            fs::read_to_string(path).unwrap(),
            "==1== ERROR: libFuzzer: timeout"
        );
        // A second report changes neither the file nor the record.
        late_report(&layout, &db, "t", &artifact, "another");
        assert_eq!(
            db.finding(kept.id).unwrap().unwrap().report_path,
            f.report_path
        );
        assert_eq!(
            fs::read_to_string(f.report_path.unwrap()).unwrap(),
            "==1== ERROR: libFuzzer: timeout"
        );

        // Triage reproduced another such finding before its report came: the report
        // goes under the mark, after the reproduction's output.
        let name = format!("timeout-{}", sha1_hex(b"slower"));
        let artifact = layout.incoming_dir("t").join(&name);
        fs::write(&artifact, b"slower").unwrap();
        let kept = sweep(&layout, &db, "t", false, 1).pop().unwrap().unwrap();
        let path = layout.finding_report("t", "timeout", &kept.sha1);
        fs::write(&path, format!("reproduced{FIRST_REPORT_MARK}")).unwrap();
        late_report(&layout, &db, "t", &artifact, "the fuzzer's");
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            format!("reproduced{FIRST_REPORT_MARK}the fuzzer's")
        );
    }

    #[test]
    fn a_young_artifact_is_left_for_the_next_sweep_unless_the_writer_is_done() {
        let (_dir, layout, db) = setup();
        fs::write(layout.incoming_dir("t").join("crash-young"), b"y").unwrap();
        assert!(sweep(&layout, &db, "t", true, 1).is_empty());
        assert_eq!(sweep(&layout, &db, "t", false, 1).len(), 1);
    }
}
