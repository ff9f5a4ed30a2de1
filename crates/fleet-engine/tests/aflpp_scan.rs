//! The AFL++ output collector on a real directory laid out as afl-fuzz 4.40c lays out
//! an instance (`queue/` with `.state/`, `crashes/` and `hangs/` with README.txt), with
//! entry names copied from a real run.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fleet_engine::FindingKind;
use fleet_engine::aflpp::{ENGINE_NAME, OutputScan};

/// A fresh dir under `<repo>/target/test-tmp/`, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../target/test-tmp")
            .join(format!("aflpp-scan-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn put(dir: &Path, sub: &str, name: &str, bytes: &[u8]) -> PathBuf {
    let d = dir.join(sub);
    fs::create_dir_all(&d).unwrap();
    fs::write(d.join(name), bytes).unwrap();
    d.join(name)
}

fn instance(dir: &Path) {
    fs::create_dir_all(dir.join("queue/.state/auto_extras")).unwrap();
    put(
        dir,
        "crashes",
        "README.txt",
        b"Command line used to find this crash",
    );
    put(dir, "hangs", "README.txt", b"");
    put(
        dir,
        "queue",
        "id:000000,time:0,execs:0,orig:near_magic",
        b"FUZ",
    );
    put(dir, "queue", "id:000001,time:0,execs:0,orig:text", b"hello");
    put(
        dir,
        "queue",
        "id:000002,src:000000,time:1,execs:22,op:(null),pos:0,+cov",
        b"FUZZ",
    );
    put(
        dir,
        "queue",
        "id:000003,sync:corpus_0,src:000017",
        b"from libFuzzer",
    );
    put(
        dir,
        "crashes",
        "id:000000,sig:06,src:000000,time:339,execs:36,op:its,pos:0",
        b"FUZZ\xff",
    );
    put(
        dir,
        "hangs",
        "id:000000,src:000002,time:900,execs:4000,op:havoc,rep:4",
        b"slow",
    );
}

#[test]
fn scans_report_each_new_entry_once_and_skip_what_is_not_an_entry() {
    let dir = Dir::new("once");
    instance(&dir.0);
    let mut scan = OutputScan::new(&dir.0);
    let first = scan.scan(Duration::ZERO).unwrap();
    // Seeds (orig:) and imports (sync:) came from the corpus: not corpus again.
    let corpus: Vec<u32> = first.corpus.iter().map(|e| e.id).collect();
    assert_eq!(corpus, [2]);
    assert_eq!(fs::read(&first.corpus[0].path).unwrap(), b"FUZZ");
    assert_eq!(first.findings.len(), 2, "{:?}", first.findings);
    let crash = &first.findings[0];
    assert_eq!(
        (crash.engine, crash.kind, crash.signal),
        (ENGINE_NAME, FindingKind::Crash, Some(6))
    );
    assert_eq!(fs::read(&crash.input).unwrap(), b"FUZZ\xff");
    let hang = &first.findings[1];
    assert_eq!((hang.kind, hang.signal), (FindingKind::Timeout, None));

    // Nothing new: nothing reported.
    assert_eq!(scan.scan(Duration::ZERO).unwrap(), Default::default());

    // New entries only.
    put(
        &dir.0,
        "queue",
        "id:000004,src:000002,time:2000,execs:9000,op:havoc,rep:2,+cov",
        b"FUZZ1",
    );
    put(
        &dir.0,
        "crashes",
        "id:000001,sig:11,src:000004,time:2100,execs:9100,op:havoc,rep:8",
        b"x",
    );
    let next = scan.scan(Duration::ZERO).unwrap();
    assert_eq!(next.corpus.iter().map(|e| e.id).collect::<Vec<_>>(), [4]);
    assert_eq!(next.findings.len(), 1);
    assert_eq!(next.findings[0].signal, Some(11));
}

#[test]
fn young_entries_wait_for_the_next_scan_and_a_restart_skips_what_was_taken() {
    let dir = Dir::new("settle");
    instance(&dir.0);
    // Everything was just written: with a settle time, nothing is taken yet.
    let mut scan = OutputScan::new(&dir.0);
    let young = scan.scan(Duration::from_secs(3600)).unwrap();
    assert!(
        young.corpus.is_empty() && young.findings.is_empty(),
        "{young:?}"
    );
    // Once the instance has exited, everything is.
    let all = scan.scan(Duration::ZERO).unwrap();
    assert_eq!((all.corpus.len(), all.findings.len()), (1, 2));

    // A campaign restarted over the same dir counts what is there as taken.
    let mut resumed = OutputScan::after_existing(&dir.0).unwrap();
    assert_eq!(resumed.scan(Duration::ZERO).unwrap(), Default::default());
    put(
        &dir.0,
        "hangs",
        "id:000001,src:000002,time:5000,execs:1,op:havoc,rep:1",
        b"z",
    );
    let later = resumed.scan(Duration::ZERO).unwrap();
    assert_eq!(later.findings.len(), 1);
    assert_eq!(later.findings[0].kind, FindingKind::Timeout);

    // An instance that has not started yet has no entries.
    let mut none = OutputScan::new(dir.0.join("not-started"));
    assert_eq!(none.scan(Duration::ZERO).unwrap(), Default::default());
}
