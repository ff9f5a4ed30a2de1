//! Sync between state dirs through a real hub: each scenario runs against a directory
//! hub and against a real S3-compatible server (moto) on 127.0.0.1.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::time::Duration;

use common::*;
use fleet_hub::{Heartbeat, HubError, TargetSummary};
use fleet_store::{Layout, sha1_hex};

/// Runs a scenario once per kind of hub.
macro_rules! on_both_hubs {
    ($($name:ident),* $(,)?) => {
        mod dir_hub {
            $(#[test]
            fn $name() {
                let tmp = tempfile::tempdir().unwrap();
                let mut hub = super::TestHub::dir(&tmp.path().join("hub"));
                super::$name(&mut hub, tmp.path());
            })*
        }
        mod s3_hub {
            $(#[test]
            fn $name() {
                let tmp = tempfile::tempdir().unwrap();
                let mut hub = super::TestHub::s3(tmp.path());
                super::$name(&mut hub, tmp.path());
            })*
        }
    };
}

on_both_hubs!(
    two_nodes_converge_on_the_union,
    a_crash_found_by_one_node_reaches_the_other_with_its_report,
    hostile_keys_are_refused_and_nothing_is_written_outside_the_state_dir,
    a_newer_layout_is_never_written_to,
    a_hub_replaced_by_an_empty_one_is_filled_again,
    heartbeats_round_trip,
);

fn two_nodes_converge_on_the_union(hub: &mut TestHub, tmp: &Path) {
    let t = target("merkle");
    let (a, b) = (Layout::new(tmp.join("a")), Layout::new(tmp.join("b")));
    let mut union = add_entries(&a, &t, "a", 30);
    union.extend(add_entries(&b, &t, "b", 20));
    // Both nodes started from the same seeds.
    union.extend(add_entries(&a, &t, "seed", 5));
    add_entries(&b, &t, "seed", 5);

    let hub_a = hub.open();
    let hub_b = hub.open();
    let ra = hub_a
        .sync(&a, &node("a"), std::slice::from_ref(&t))
        .unwrap();
    assert_eq!((ra.pushed_corpus, ra.pulled_corpus), (35, 0));
    let rb = hub_b
        .sync(&b, &node("b"), std::slice::from_ref(&t))
        .unwrap();
    // b pulls a's 30 first, sees the 5 seeds are already local, pushes only its own 20.
    assert_eq!((rb.pulled_corpus, rb.pushed_corpus), (30, 20));
    let ra = hub_a
        .sync(&a, &node("a"), std::slice::from_ref(&t))
        .unwrap();
    assert_eq!((ra.pulled_corpus, ra.pushed_corpus), (20, 0));
    assert!(
        ra.refused.is_empty() && rb.refused.is_empty(),
        "{ra:?} {rb:?}"
    );

    assert_eq!(corpus(&a, &t), union);
    assert_eq!(corpus(&b, &t), union);
    let in_hub: BTreeSet<String> = hub_a
        .contents(&t)
        .unwrap()
        .corpus
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(in_hub, union);

    // Nothing new: a round costs a handful of requests and moves nothing.
    let quiet = hub_b
        .sync(&b, &node("b"), std::slice::from_ref(&t))
        .unwrap();
    assert_eq!((quiet.pushed(), quiet.pulled()), (0, 0));
    assert_eq!(quiet.requests.put, 0);
    assert!(quiet.requests.total() <= 5, "{:?}", quiet.requests);
}

fn a_crash_found_by_one_node_reaches_the_other_with_its_report(hub: &mut TestHub, tmp: &Path) {
    let t = target("tx_validation");
    let (a, b) = (Layout::new(tmp.join("a")), Layout::new(tmp.join("b")));
    let report = "==1==ERROR: AddressSanitizer: heap-buffer-overflow\n    #0 0x1 in parse_tx\n";
    let sha = add_crash(&a, &t, b"\xde\xad\xbe\xef", Some(report));
    let quiet_sha = add_crash(&a, &t, b"no report yet", None);

    let ra = hub
        .open()
        .sync(&a, &node("a"), std::slice::from_ref(&t))
        .unwrap();
    assert_eq!(ra.pushed_crashes, 2);
    let hub_b = hub.open();
    let rb = hub_b
        .sync(&b, &node("b"), std::slice::from_ref(&t))
        .unwrap();
    assert_eq!(rb.pulled_crashes.len(), 2, "{rb:?}");
    let pulled = rb.pulled_crashes.iter().find(|c| c.sha1 == sha).unwrap();
    assert_eq!(pulled.node, "a");
    assert_eq!(pulled.kind.as_str(), "crash");
    assert_eq!(
        pulled.input,
        b.finding_input("tx_validation", "crash", &sha)
    );
    assert_eq!(fs::read(&pulled.input).unwrap(), b"\xde\xad\xbe\xef");
    let report_path = pulled.report.clone().expect("report pulled with the input");
    assert_eq!(fs::read_to_string(report_path).unwrap(), report);
    let quiet = rb
        .pulled_crashes
        .iter()
        .find(|c| c.sha1 == quiet_sha)
        .unwrap();
    assert_eq!(quiet.report, None);

    // The report a later reproduction writes travels too, without the input again.
    let later = "reproduced: panicked at src/tx.rs:10:5\n";
    fs::write(
        a.finding_report("tx_validation", "crash", &quiet_sha),
        later,
    )
    .unwrap();
    let ra = hub
        .open()
        .sync(&a, &node("a"), std::slice::from_ref(&t))
        .unwrap();
    assert_eq!(ra.pushed_crashes, 1);
    let rb = hub_b
        .sync(&b, &node("b"), std::slice::from_ref(&t))
        .unwrap();
    assert!(rb.pulled_crashes.is_empty(), "input already there: {rb:?}");
    assert_eq!(
        fs::read_to_string(b.finding_report("tx_validation", "crash", &quiet_sha)).unwrap(),
        later
    );

    // Both nodes found the same input and each wrote its own report: each keeps its own,
    // and they do not push it back and forth forever.
    let both = b"found twice".as_slice();
    let twice = add_crash(&a, &t, both, Some("a's report"));
    add_crash(&b, &t, both, Some("b's report"));
    for _ in 0..2 {
        hub.open()
            .sync(&a, &node("a"), std::slice::from_ref(&t))
            .unwrap();
        hub_b
            .sync(&b, &node("b"), std::slice::from_ref(&t))
            .unwrap();
    }
    let ra = hub
        .open()
        .sync(&a, &node("a"), std::slice::from_ref(&t))
        .unwrap();
    let rb = hub_b
        .sync(&b, &node("b"), std::slice::from_ref(&t))
        .unwrap();
    assert_eq!((ra.pushed(), rb.pushed()), (0, 0), "{ra:?}\n{rb:?}");
    let report_of = |l: &Layout| {
        fs::read_to_string(l.finding_report("tx_validation", "crash", &twice)).unwrap()
    };
    assert_eq!(
        (report_of(&a).as_str(), report_of(&b).as_str()),
        ("a's report", "b's report")
    );
}

fn hostile_keys_are_refused_and_nothing_is_written_outside_the_state_dir(
    hub: &mut TestHub,
    tmp: &Path,
) {
    let t = target("utxo");
    let b = Layout::new(tmp.join("nodes/b"));
    let hub_b = hub.open();
    // The hub is set up (meta.json) by an honest sync first.
    hub_b
        .sync(&b, &node("b"), std::slice::from_ref(&t))
        .unwrap();

    let good = b"an honest entry".as_slice();
    let good_sha = sha1_hex(good);
    let liar_sha = sha1_hex(b"what the name promises");
    hub.put(&format!("v1/corpus/utxo/{good_sha}"), good);
    hub.put(
        &format!("v1/corpus/utxo/{liar_sha}"),
        b"something else entirely",
    );
    let batch = serde_json::json!({
        "version": 1, "target": "utxo", "node": "evil", "seq": 1, "time": "2026-11-25T00:00:00Z",
        "corpus": ["../../etc/x", "/etc/x", "..", liar_sha, good_sha],
        "crashes": [
            {"name": "crash-../../../x", "report_sha1": null},
            {"name": "../crash-0000000000000000000000000000000000000000", "report_sha1": null},
            {"name": format!("crash-{good_sha}"), "report_sha1": "../../etc/passwd"},
        ],
    });
    hub.put(
        "v1/log/utxo/evil/00000000000000000001.json",
        batch.to_string().as_bytes(),
    );
    // A batch claiming to be another node's, and names no node or batch may have.
    let spoof = batch.to_string().replace("\"evil\"", "\"a\"");
    hub.put(
        "v1/log/utxo/evil/00000000000000000002.json",
        spoof.as_bytes(),
    );
    hub.put("v1/log/utxo/evil/../x.json", b"{}");
    hub.put(
        "v1/log/utxo/.hidden/00000000000000000001.json",
        batch.to_string().as_bytes(),
    );
    hub.put("v1/log/utxo/evil/nested/00000000000000000003.json", b"{}");
    hub.put("v1/log/utxo/evil/not-a-seq.json", b"{}");

    let before_outside = all_files(tmp);
    let report = hub_b
        .sync(&b, &node("b"), std::slice::from_ref(&t))
        .unwrap();
    let refused: Vec<String> = report.refused.iter().map(|r| r.to_string()).collect();
    let shown = refused.join("\n");
    for expected in [
        "\"../../etc/x\" is not a SHA-1 name",
        "\"/etc/x\" is not a SHA-1 name",
        &format!("v1/corpus/utxo/{liar_sha}: content has SHA-1"),
        "finding entry: unknown finding kind \"../crash\"",
        "\"../../etc/passwd\" is not a SHA-1 name",
        "v1/log/utxo/evil/00000000000000000002.json: batch says target \"utxo\", node \"a\"",
        "v1/log/utxo/evil/not-a-seq.json",
        "v1/log/utxo/evil/nested/00000000000000000003.json",
    ] {
        assert!(
            shown.contains(expected),
            "no refusal containing {expected:?} in:\n{shown}"
        );
    }
    assert!(
        refused
            .iter()
            .all(|r| r.starts_with("refused hub key v1/") || r.starts_with("refused hub key ")),
        "{shown}"
    );
    // Only the honest entry arrived, inside the state dir.
    assert_eq!(report.pulled_corpus, 1);
    assert_eq!(corpus(&b, &t), BTreeSet::from([good_sha.clone()]));
    let after_outside = all_files(tmp);
    let new: Vec<_> = after_outside.difference(&before_outside).collect();
    assert!(
        new.iter()
            .all(|p| p.starts_with("nodes/b") || p.starts_with("hub")),
        "written outside the state dir: {new:?}"
    );
    assert!(!tmp.join("etc").exists() && !tmp.join("nodes/etc").exists());
    assert!(!Path::new("/etc/x").exists());
    // The crash whose report name was hostile was not taken either.
    assert!(!b.finding_input("utxo", "crash", &good_sha).exists());
}

fn a_newer_layout_is_never_written_to(hub: &mut TestHub, tmp: &Path) {
    let t = target("block");
    let a = Layout::new(tmp.join("a"));
    add_entries(&a, &t, "a", 3);
    let meta = r#"{"format":"fuzzfleet-hub","layout":2,"hub_id":"from-the-future","somewhere_else":"v2/"}"#;
    hub.put("meta.json", meta.as_bytes());
    let before = hub.keys();

    let h = hub.open();
    let err = h
        .sync(&a, &node("a"), std::slice::from_ref(&t))
        .unwrap_err();
    assert!(
        matches!(
            err,
            HubError::NewerLayout {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{err}"
    );
    let shown = err.to_string();
    assert!(
        shown.contains("layout 2") && shown.contains("nothing was written"),
        "{shown}"
    );
    assert!(!err.is_degraded());
    let err = h
        .write_heartbeat(&Heartbeat::new(node("a"), Vec::new()))
        .unwrap_err();
    assert!(matches!(err, HubError::NewerLayout { .. }), "{err}");
    assert_eq!(hub.keys(), before, "a node wrote into a newer layout");
    assert_eq!(h.requests().put, 0);
}

fn a_hub_replaced_by_an_empty_one_is_filled_again(hub: &mut TestHub, tmp: &Path) {
    let t = target("merkle");
    let (a, b) = (Layout::new(tmp.join("a")), Layout::new(tmp.join("b")));
    let mut union = add_entries(&a, &t, "a", 10);
    union.extend(add_entries(&b, &t, "b", 10));
    let crash = add_crash(&b, &t, b"boom", Some("report of boom"));
    let (hub_a, hub_b) = (hub.open(), hub.open());
    for _ in 0..2 {
        hub_a
            .sync(&a, &node("a"), std::slice::from_ref(&t))
            .unwrap();
        hub_b
            .sync(&b, &node("b"), std::slice::from_ref(&t))
            .unwrap();
    }
    assert_eq!(corpus(&a, &t), union);

    hub.replace_with_empty();
    assert!(hub.keys().is_empty());
    let ra = hub_a
        .sync(&a, &node("a"), std::slice::from_ref(&t))
        .unwrap();
    assert!(ra.hub_reset, "{ra:?}");
    assert_eq!(ra.pushed_corpus, 20);
    assert_eq!(ra.pushed_crashes, 1, "a offers the crash it had pulled");
    let rb = hub_b
        .sync(&b, &node("b"), std::slice::from_ref(&t))
        .unwrap();
    assert!(rb.hub_reset, "{rb:?}");

    let contents = hub_a.contents(&t).unwrap();
    let in_hub: BTreeSet<String> = contents.corpus.iter().map(|s| s.to_string()).collect();
    assert_eq!(in_hub, union);
    assert_eq!(contents.crashes.len(), 1);
    assert_eq!(contents.crashes[0].0.sha1.as_str(), crash);
    assert!(contents.crashes[0].1, "report back in the hub");
    // Nothing lost locally either.
    assert_eq!(corpus(&a, &t), union);
    assert_eq!(corpus(&b, &t), union);

    // A hub that keeps its meta.json but lost the logs (restored from an old copy) is
    // noticed through the node's own last batch.
    for key in hub.keys() {
        if key.contains("v1/") {
            hub.delete(&key);
        }
    }
    let ra = hub_a
        .sync(&a, &node("a"), std::slice::from_ref(&t))
        .unwrap();
    assert!(ra.hub_reset, "{ra:?}");
    assert_eq!(ra.pushed_corpus, 20);
}

fn heartbeats_round_trip(hub: &mut TestHub, _tmp: &Path) {
    let h = hub.open();
    let summary = |n: &str| TargetSummary {
        name: target(n),
        state: "running".into(),
        workers: 2,
        execs: 1_000_000,
        execs_per_sec: 1234.5,
        corpus_files: 321,
        crashes: 1,
    };
    h.write_heartbeat(&Heartbeat::new(node("sg"), vec![summary("merkle")]))
        .unwrap();
    h.write_heartbeat(&Heartbeat::new(
        node("fra"),
        vec![summary("utxo"), summary("block")],
    ))
    .unwrap();
    // Rewritten, not added to.
    h.write_heartbeat(&Heartbeat::new(node("sg"), vec![summary("merkle")]))
        .unwrap();
    hub.put("v1/heartbeats/..evil.json", b"{}");
    hub.put(
        "v1/heartbeats/liar.json",
        serde_json::to_string(&Heartbeat::new(node("sg"), Vec::new()))
            .unwrap()
            .as_bytes(),
    );

    let read = h.heartbeats().unwrap();
    let nodes: Vec<&str> = read.heartbeats.iter().map(|b| b.node.as_str()).collect();
    assert_eq!(nodes, ["fra", "sg"]);
    assert_eq!(read.heartbeats[0].targets.len(), 2);
    assert_eq!(
        read.heartbeats[0].fuzzfleet_version,
        env!("CARGO_PKG_VERSION")
    );
    let refused: Vec<String> = read.refused.iter().map(|r| r.to_string()).collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(
        refused
            .iter()
            .any(|r| r.contains("v1/heartbeats/..evil.json")),
        "{refused:?}"
    );
    assert!(
        refused
            .iter()
            .any(|r| r.contains("written for node \"sg\"")),
        "{refused:?}"
    );
}

// ---- faults that need a real server ----

#[test]
fn s3_server_paused_mid_sync_converges_on_the_next_sync() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = TestHub::s3(tmp.path());
    let server = hub.server.as_ref().unwrap();
    let t = target("difficulty");
    let (a, b) = (
        Layout::new(tmp.path().join("a")),
        Layout::new(tmp.path().join("b")),
    );
    let entries = add_entries(&a, &t, "a", 300);
    add_crash(&a, &t, b"crash input", Some("its report"));

    let hub_a = hub.open();
    std::thread::scope(|s| {
        let syncing = s.spawn(|| hub_a.sync(&a, &node("a"), std::slice::from_ref(&t)));
        wait_until("the sync to be under way", Duration::from_secs(60), || {
            hub_a.requests().put >= 40
        });
        server.pause();
        // Until requests in flight have timed out and been tried again: every attempt
        // is counted as it starts, and at most `concurrency` are open at once, so more
        // attempts than that since the pause means some were retried after their limit.
        let paused = hub_a.requests().total();
        let open_at_once = fast_options(None).concurrency as u64;
        wait_until(
            "requests in flight timed out and retried",
            Duration::from_secs(60),
            || hub_a.requests().total() - paused > open_at_once,
        );
        server.resume();
        match syncing.join().unwrap() {
            Ok(report) => eprintln!("the paused sync finished after the pause: {report:?}"),
            Err(e) => {
                eprintln!("the paused sync gave up: {e}");
                assert!(e.is_degraded(), "{e}");
            }
        }
    });
    // Paused for longer than the retry budget: the sync gives up, saying why.
    let entries_more = add_entries(&a, &t, "more", 300);
    std::thread::scope(|s| {
        let base = hub_a.requests().put;
        let syncing = s.spawn(|| hub_a.sync(&a, &node("a"), std::slice::from_ref(&t)));
        wait_until(
            "the second sync to be under way",
            Duration::from_secs(60),
            || hub_a.requests().put >= base + 20,
        );
        server.pause();
        let outcome = syncing.join().unwrap();
        server.resume();
        let err = outcome.expect_err("a sync against a paused server gives up");
        assert!(err.is_degraded(), "{err}");
        eprintln!("the long-paused sync gave up: {err}");
    });

    let again = hub_a
        .sync(&a, &node("a"), std::slice::from_ref(&t))
        .unwrap();
    let rb = hub
        .open()
        .sync(&b, &node("b"), std::slice::from_ref(&t))
        .unwrap();
    let all: BTreeSet<String> = entries.union(&entries_more).cloned().collect();
    assert_eq!(rb.pulled_corpus, 600, "first: {again:?}\nthen: {rb:?}");
    assert_eq!(rb.pulled_crashes.len(), 1);
    assert_eq!(corpus(&b, &t), all);
    assert_eq!(corpus(&a, &t), all);
    assert_eq!(hub_a.contents(&t).unwrap().corpus.len(), 600);
}

#[test]
fn nodes_meeting_an_empty_hub_at_once_agree_on_its_identity() {
    for kind in ["dir", "s3"] {
        let tmp = tempfile::tempdir().unwrap();
        let hub = match kind {
            "dir" => TestHub::dir(&tmp.path().join("hub")),
            _ => TestHub::s3(tmp.path()),
        };
        let t = target("merkle");
        let layouts: Vec<Layout> = (0..4)
            .map(|i| Layout::new(tmp.path().join(format!("n{i}"))))
            .collect();
        let hubs: Vec<_> = (0..4).map(|_| hub.open()).collect();
        std::thread::scope(|s| {
            for (i, (layout, h)) in layouts.iter().zip(&hubs).enumerate() {
                let t = t.clone();
                s.spawn(move || h.sync(layout, &node(&format!("n{i}")), &[t]).unwrap());
            }
        });
        for (i, (layout, h)) in layouts.iter().zip(&hubs).enumerate() {
            let again = h
                .sync(layout, &node(&format!("n{i}")), std::slice::from_ref(&t))
                .unwrap();
            assert!(
                !again.hub_reset,
                "{kind}: node n{i} met a second hub identity"
            );
        }
    }
}

#[test]
fn an_unreachable_hub_is_a_degraded_error_and_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let t = target("merkle");
    let a = Layout::new(tmp.path().join("a"));
    let entries = add_entries(&a, &t, "a", 5);

    // Nothing listens on this port (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s3 = fleet_hub::S3Config {
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
        ..Default::default()
    };
    let url = fleet_config::HubUrl::S3 {
        bucket: BUCKET.into(),
        prefix: String::new(),
    };
    let hub = fleet_hub::Hub::open(&url, fast_options(Some(s3))).unwrap();
    let err = hub
        .sync(&a, &node("a"), std::slice::from_ref(&t))
        .unwrap_err();
    assert!(err.is_degraded(), "{err}");
    let shown = err.to_string();
    assert!(
        shown.contains("unreachable") && shown.contains(BUCKET) && shown.contains("3 attempt"),
        "{shown}"
    );
    assert_eq!(hub.requests().get, 3, "bounded retries");
    assert_eq!(corpus(&a, &t), entries);

    // A directory hub whose directory went away (an unmounted share) is not recreated.
    let dir = tmp.path().join("share");
    fs::create_dir(&dir).unwrap();
    let hub =
        fleet_hub::Hub::open(&fleet_config::HubUrl::Dir(dir.clone()), fast_options(None)).unwrap();
    fs::remove_dir(&dir).unwrap();
    let err = hub
        .sync(&a, &node("a"), std::slice::from_ref(&t))
        .unwrap_err();
    assert!(err.is_degraded(), "{err}");
    assert!(!dir.exists());
    assert_eq!(corpus(&a, &t), entries);
}

#[test]
fn a_missing_hub_directory_is_a_configuration_error() {
    let err = fleet_hub::Hub::open(
        &fleet_config::HubUrl::Dir("/nonexistent/fleet-hub".into()),
        fast_options(None),
    )
    .unwrap_err();
    assert!(!err.is_degraded());
    assert!(
        err.to_string()
            .contains("/nonexistent/fleet-hub does not exist"),
        "{err}"
    );
}

#[test]
fn plain_http_to_a_remote_endpoint_is_refused() {
    let s3 = fleet_hub::S3Config {
        endpoint: Some("http://s3.internal.example:9000".into()),
        ..Default::default()
    };
    let url = fleet_config::HubUrl::S3 {
        bucket: BUCKET.into(),
        prefix: String::new(),
    };
    let err = fleet_hub::Hub::open(&url, fast_options(Some(s3))).unwrap_err();
    assert!(err.to_string().contains("AWS_ALLOW_HTTP"), "{err}");
}
