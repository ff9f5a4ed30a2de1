//! A hostile hub: whoever can write to a shared hub directory plants links and FIFOs
//! where nodes write and read, or an unusable `meta.json` (directory and S3 hubs). Each
//! is refused with a line naming its key; nothing is read or written outside the hub;
//! every sync ends, and the honest objects still move.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use fleet_config::TargetName;
use fleet_hub::{Heartbeat, HubError, SyncReport};
use fleet_store::{Layout, sha1_hex};

/// A sync (or any hub call) that must end: run on its own thread, given a deadline.
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{what} did not end within 60 s"))
}

fn shown(report: &SyncReport) -> String {
    let lines: Vec<String> = report.refused.iter().map(|r| r.to_string()).collect();
    lines.join("\n")
}

fn assert_refused(report: &SyncReport, line: &str) {
    let all = shown(report);
    assert!(
        report.refused.iter().any(|r| r.to_string().contains(line)),
        "no refusal containing {line:?} in:\n{all}"
    );
}

/// Moves a hub directory outside the hub and leaves a link to it in its place, so a
/// node that follows links would read and write there.
fn move_out_and_link(hub: &Path, key: &str, outside: &Path) -> PathBuf {
    let there = outside.join(key.replace('/', "_"));
    let here = hub.join(key);
    if here.exists() {
        fs::rename(&here, &there).unwrap();
    } else {
        fs::create_dir_all(&there).unwrap();
        fs::create_dir_all(here.parent().unwrap()).unwrap();
    }
    symlink(&there, &here).unwrap();
    there
}

fn mkfifo(path: &Path) {
    let _ = fs::remove_file(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
}

fn batch(target: &str, node: &str, seq: u64, corpus: &[&str]) -> String {
    serde_json::json!({
        "version": 1, "target": target, "node": node, "seq": seq,
        "time": "2026-12-01T00:00:00Z", "corpus": corpus, "crashes": [],
    })
    .to_string()
}

#[test]
fn links_planted_in_a_directory_hub_are_refused_and_nothing_moves_outside_it() {
    let tmp = tempfile::tempdir().unwrap();
    let hub_dir = tmp.path().join("hub");
    let hub = TestHub::dir(&hub_dir);
    let outside = tmp.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    let (a, b) = (
        Layout::new(tmp.path().join("a")),
        Layout::new(tmp.path().join("b")),
    );
    // One target per place a link is planted, and one left alone.
    let (tc, tx, tl, ok) = (target("tc"), target("tx"), target("tl"), target("ok"));
    let all: Vec<TargetName> = vec![tc.clone(), tx.clone(), tl.clone(), ok.clone()];
    for t in &all {
        add_entries(&a, t, &format!("a-{t}"), 3);
        add_crash(
            &a,
            t,
            format!("a's crash in {t}").as_bytes(),
            Some("a's report"),
        );
        add_entries(&b, t, &format!("b-{t}"), 2);
    }
    let r = hub.open().sync(&a, &node("a"), &all).unwrap();
    assert_eq!(r.pushed(), 16, "{r:?}");

    // The attacker moves what a pushed outside the hub and links to it, and links the
    // directories b is about to write into to directories outside.
    move_out_and_link(&hub_dir, "v1/corpus/tc", &outside);
    move_out_and_link(&hub_dir, "v1/crashes/tx", &outside);
    move_out_and_link(&hub_dir, "v1/log/tl/b", &outside);
    move_out_and_link(&hub_dir, "v1/heartbeats", &outside);
    // An object that is itself a link, to a file whose content matches its name, named
    // by a batch of its own.
    let lure = outside.join("lure");
    fs::write(&lure, b"lure").unwrap();
    let lure_sha = sha1_hex(b"lure");
    symlink(&lure, hub_dir.join(format!("v1/corpus/ok/{lure_sha}"))).unwrap();
    hub.put(
        "v1/log/ok/evil/00000000000000000001.json",
        batch("ok", "evil", 1, &[&lure_sha]).as_bytes(),
    );
    let before = all_files(&outside);

    let hub_b = hub.open();
    for round in 0..2 {
        let (h, l, t) = (hub.open(), b.clone(), all.clone());
        let r = within("b's sync", move || h.sync(&l, &node("b"), &t)).unwrap();
        // b's own writes are refused on every round, with the key and what is wrong.
        assert_refused(&r, "v1/corpus/tc is a symbolic link");
        assert_refused(&r, "v1/log/tl/b is a symbolic link");
        if round == 0 {
            // What b was to read, once: the cursor moves past the batch naming it.
            assert_refused(&r, "v1/crashes/tx is a symbolic link");
            assert_refused(&r, &format!("v1/corpus/ok/{lure_sha}: a symbolic link"));
            assert_refused(&r, "v1/log/tl/b: a symbolic link");
        }
        assert!(
            r.refused
                .iter()
                .all(|x| x.to_string().starts_with("refused hub key v1/")),
            "{}",
            shown(&r)
        );
        assert_eq!(
            all_files(&outside),
            before,
            "round {round} wrote outside the hub"
        );
        if round == 0 {
            // The honest objects moved all the same: a's entries where nothing is
            // linked, and b's own where it could write.
            // a's entries of tx, tl and ok; none of tc (read through the link).
            assert_eq!(r.pulled_corpus, 9, "{r:?}");
            assert_eq!(r.pulled_crashes.len(), 3, "{r:?}");
        }
    }
    let corpus_ok = corpus(&b, &ok);
    assert_eq!(corpus_ok.len(), 5);
    assert!(
        !corpus_ok.contains(&lure_sha),
        "imported a file outside the hub"
    );
    assert_eq!(
        corpus(&b, &tc).len(),
        2,
        "nothing read through v1/corpus/tc"
    );
    assert!(
        names(&b.crashes_dir("tx"))
            .iter()
            .all(|n| !n.contains("crash"))
    );
    let hub_ok = names(&hub_dir.join("v1/corpus/ok"));
    assert!(corpus(&b, &ok).iter().all(|sha| hub_ok.contains(sha)));
    assert!(names(&hub_dir.join("v1/log/ok")).contains("b"));

    // The heartbeat cannot be written through the link either, and says where.
    let err = hub_b
        .write_heartbeat(&Heartbeat::new(node("b"), Vec::new()))
        .unwrap_err();
    let line = err.to_string();
    assert!(
        line.contains("v1/heartbeats/b.json") && line.contains("v1/heartbeats is a symbolic link"),
        "{line}"
    );
    assert!(matches!(err, HubError::Refused(_)) && !err.is_degraded());
    let read = hub_b.heartbeats().unwrap();
    assert!(read.heartbeats.is_empty());
    assert_eq!(read.refused.len(), 1, "{:?}", read.refused);
    assert_eq!(all_files(&outside), before);
}

#[test]
fn a_fifo_in_a_directory_hub_is_skipped_and_the_sync_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let hub_dir = tmp.path().join("hub");
    let hub = TestHub::dir(&hub_dir);
    let t = target("merkle");
    let (a, b) = (
        Layout::new(tmp.path().join("a")),
        Layout::new(tmp.path().join("b")),
    );
    let entries: Vec<String> = add_entries(&a, &t, "a", 5).into_iter().collect();
    let crash = add_crash(&a, &t, b"boom", Some("its report"));
    hub.open()
        .sync(&a, &node("a"), std::slice::from_ref(&t))
        .unwrap();

    // FIFOs where an entry, a report, a batch and a heartbeat are; nobody writes to them.
    let fifo_entry = format!("v1/corpus/merkle/{}", entries[0]);
    let fifo_report = format!("v1/crashes/merkle/crash-{crash}.log");
    let fifo_batch = "v1/log/merkle/evil/00000000000000000001.json";
    for key in [
        fifo_entry.as_str(),
        &fifo_report,
        fifo_batch,
        "v1/heartbeats/evil.json",
    ] {
        mkfifo(&hub_dir.join(key));
    }

    for round in 0..2 {
        let (h, l, tt) = (hub.open(), b.clone(), t.clone());
        let r = within("a sync of a hub holding FIFOs", move || {
            h.sync(&l, &node("b"), &[tt])
        })
        .unwrap();
        // The batch is refused as it is listed, on every round; what batches name is
        // refused once (the cursor moves on past the batch naming it).
        assert_refused(&r, &format!("{fifo_batch}: a FIFO, not a regular file"));
        if round == 0 {
            for key in [&fifo_entry, &fifo_report] {
                assert_refused(&r, &format!("{key}: a FIFO, not a regular file"));
            }
            assert_eq!(r.pulled_corpus, 4, "{r:?}");
            assert_eq!(
                r.pulled_crashes.len(),
                1,
                "the input came without its report"
            );
        }
    }
    let expected: BTreeSet<String> = entries[1..].iter().cloned().collect();
    assert_eq!(corpus(&b, &t), expected);
    assert!(b.finding_input("merkle", "crash", &crash).exists());

    let h = hub.open();
    let read = within("reading heartbeats", move || h.heartbeats().unwrap());
    let refused: Vec<String> = read.refused.iter().map(|r| r.to_string()).collect();
    assert!(
        refused
            .iter()
            .any(|r| r.contains("v1/heartbeats/evil.json: a FIFO")),
        "{refused:?}"
    );
    let (h, tt) = (hub.open(), t.clone());
    let contents = within("listing the hub", move || h.contents(&tt).unwrap());
    assert_eq!(contents.corpus.len(), 4);
    assert!(
        contents
            .refused
            .iter()
            .any(|r| r.key == fifo_entry && r.reason.contains("FIFO")),
        "{:?}",
        contents.refused
    );
}

#[test]
fn a_directory_or_a_link_where_meta_json_belongs_says_what_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let hub_dir = tmp.path().join("hub");
    let hub = TestHub::dir(&hub_dir);
    let t = target("merkle");
    let a = Layout::new(tmp.path().join("a"));
    add_entries(&a, &t, "a", 2);
    fs::create_dir(hub_dir.join("meta.json")).unwrap();
    let h = hub.open();
    let err = h
        .sync(&a, &node("a"), std::slice::from_ref(&t))
        .unwrap_err();
    let line = err.to_string();
    assert!(
        line.contains("meta.json") && line.contains("a directory, not a regular file"),
        "{line}"
    );
    assert!(!line.contains("appears and disappears"), "{line}");

    let outside = tmp.path().join("outside.json");
    fs::write(
        &outside,
        r#"{"format":"fuzzfleet-hub","layout":1,"hub_id":"elsewhere","created":"x","created_by":"x"}"#,
    )
    .unwrap();
    fs::remove_dir(hub_dir.join("meta.json")).unwrap();
    symlink(&outside, hub_dir.join("meta.json")).unwrap();
    let err = h
        .sync(&a, &node("a"), std::slice::from_ref(&t))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("meta.json is unusable: a symbolic link"),
        "{err}"
    );
    assert!(
        !hub_dir.join("v1").exists(),
        "nothing written beside a bad meta.json"
    );
    assert_eq!(names(&hub_dir), BTreeSet::from(["meta.json".to_owned()]));
}

#[test]
fn a_hub_id_that_is_not_a_name_is_refused_on_both_hubs() {
    for kind in ["dir", "s3"] {
        let tmp = tempfile::tempdir().unwrap();
        let hub = match kind {
            "dir" => TestHub::dir(&tmp.path().join("hub")),
            _ => TestHub::s3(tmp.path()),
        };
        let t = target("merkle");
        let a = Layout::new(tmp.path().join("a"));
        add_entries(&a, &t, "a", 2);
        for (id, why) in [
            ("../../x", "starts with '.'"),
            ("a/../../x", "contains '/'"),
            ("", "is empty"),
        ] {
            let meta = serde_json::json!({
                "format": "fuzzfleet-hub", "layout": 1, "hub_id": id,
                "created": "2026-12-01T00:00:00Z", "created_by": "evil",
            });
            hub.put("meta.json", meta.to_string().as_bytes());
            let before = hub.keys();
            let h = hub.open();
            let err = h
                .sync(&a, &node("a"), std::slice::from_ref(&t))
                .unwrap_err();
            let line = err.to_string();
            assert!(
                line.contains("meta.json") && line.contains(&format!("hub_id {id:?} {why}")),
                "{kind}: {line}"
            );
            assert!(!err.is_degraded(), "{kind}: {line}");
            assert_eq!(hub.keys(), before, "{kind}: written to a hub with a bad id");
            assert!(!a.root().join("hub/state.json").exists(), "{kind}");
        }
    }
}
