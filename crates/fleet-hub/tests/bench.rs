//! Benchmark, not a test (no timing is asserted): a sync of 100 new entries into a hub
//! that already holds 100,000, against a full listing of the same hub as the baseline.
//!
//! ```text
//! cargo test -p fleet-hub --release --test bench -- --ignored --nocapture
//! FLEET_HUB_BENCH_S3_N=10000 …   # size of the S3 (moto) variant's hub, default 10,000
//! ```

mod common;

use std::fs;
use std::path::Path;
use std::time::Instant;

use common::*;
use fleet_config::TargetName;
use fleet_hub::{Hub, SyncReport};
use fleet_store::{Layout, sha1_hex};

const HUB_ENTRIES: usize = 100_000;
const NEW_ENTRIES: usize = 100;

fn show(what: &str, r: &SyncReport) {
    let q = r.requests;
    println!(
        "{what:<44} {:>9.3} s  requests {:>6} (get {}, put {}, head {}, list {})  pushed {} pulled {}",
        r.elapsed.as_secs_f64(),
        q.total(),
        q.get,
        q.put,
        q.head,
        q.list,
        r.pushed(),
        r.pulled()
    );
}

/// The measured part, the same for every hub: two nodes that already hold what the hub
/// holds catch up once, then one adds 100 entries and the other pulls them.
fn measure(kind: &str, hub: &Hub, a: &Layout, b: &Layout, t: &TargetName, hub_size: usize) {
    println!("\n== {kind} hub holding {hub_size} entries");
    let ts = std::slice::from_ref(t);
    let r = hub.sync(a, &node("a"), ts).unwrap();
    show("first sync of node a (reads the log once)", &r);
    let r = hub.sync(b, &node("b"), ts).unwrap();
    show("first sync of node b", &r);
    let r = hub.sync(a, &node("a"), ts).unwrap();
    show("sync with nothing new", &r);

    add_entries(a, t, "new", NEW_ENTRIES);
    let push = hub.sync(a, &node("a"), ts).unwrap();
    show("node a pushes 100 new entries", &push);
    assert_eq!(push.pushed_corpus, NEW_ENTRIES);
    let pull = hub.sync(b, &node("b"), ts).unwrap();
    show("node b pulls them", &pull);
    assert_eq!(pull.pulled_corpus, NEW_ENTRIES);

    let before = hub.requests();
    let started = Instant::now();
    let listed = hub.contents(t).unwrap();
    let list_time = started.elapsed();
    let list_requests = hub.requests().since(&before).total();
    assert_eq!(listed.corpus.len(), hub_size + NEW_ENTRIES);
    println!(
        "{:<44} {:>9.3} s  requests {:>6}",
        "baseline: one full listing of the corpus",
        list_time.as_secs_f64(),
        list_requests
    );
    println!(
        "full listing / incremental push: {:.1}x the time; its list requests alone: {} vs the push's {} \
         (a sync lists per node, never per entry)",
        list_time.as_secs_f64() / push.elapsed.as_secs_f64(),
        list_requests,
        push.requests.list
    );
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture (and --release)"]
fn dir_hub_sync_of_100_new_entries_into_100k() {
    let tmp = tempfile::tempdir().unwrap();
    let t = target("block");
    let hub_dir = tmp.path().join("hub");
    let (a, b) = (
        Layout::new(tmp.path().join("a")),
        Layout::new(tmp.path().join("b")),
    );
    let started = Instant::now();
    seed_dir_hub(&hub_dir, &t, &[&a, &b]);
    println!(
        "seeded {HUB_ENTRIES} entries (hub + two nodes' corpora) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let hub = TestHub::dir(&hub_dir).open();
    measure("directory", &hub, &a, &b, &t, HUB_ENTRIES);
}

/// Writes the hub the way 100 syncs of a node "seed" would have left it, without the
/// cost: the objects, 100 batches of 1000 names, and `meta.json`. The nodes' corpora
/// hold the same files (hard links).
fn seed_dir_hub(hub: &Path, t: &TargetName, nodes: &[&Layout]) {
    let corpus = hub.join("v1/corpus").join(t.as_str());
    let log = hub.join("v1/log").join(t.as_str()).join("seed");
    fs::create_dir_all(&corpus).unwrap();
    fs::create_dir_all(&log).unwrap();
    for n in nodes {
        fs::create_dir_all(n.corpus_dir(t.as_str())).unwrap();
    }
    let mut names = Vec::with_capacity(1000);
    for i in 0..HUB_ENTRIES {
        let bytes = format!("seed-{i}");
        let sha = sha1_hex(bytes.as_bytes());
        let path = corpus.join(&sha);
        fs::write(&path, bytes).unwrap();
        for n in nodes {
            fs::hard_link(&path, n.corpus_dir(t.as_str()).join(&sha)).unwrap();
        }
        names.push(sha);
        if names.len() == 1000 {
            let seq = (i / 1000 + 1) as u64;
            let batch = serde_json::json!({
                "version": 1, "target": t.as_str(), "node": "seed", "seq": seq,
                "time": "2026-11-25T00:00:00Z", "corpus": names, "crashes": [],
            });
            fs::write(log.join(format!("{seq:020}.json")), batch.to_string()).unwrap();
            names.clear();
        }
    }
    let meta = r#"{"format":"fuzzfleet-hub","layout":1,"hub_id":"bench","created":"2026-11-25T00:00:00Z","created_by":"seed"}"#;
    fs::write(hub.join("meta.json"), meta).unwrap();
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture (and --release)"]
fn s3_hub_sync_of_100_new_entries() {
    let n: usize = std::env::var("FLEET_HUB_BENCH_S3_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let tmp = tempfile::tempdir().unwrap();
    let t = target("block");
    let test_hub = TestHub::s3(tmp.path());
    let hub = test_hub.open();
    let (seed, a, b) = (
        Layout::new(tmp.path().join("seed")),
        Layout::new(tmp.path().join("a")),
        Layout::new(tmp.path().join("b")),
    );
    // Seeded through sync itself: node "seed" pushes n entries, which a and b also hold.
    for l in [&seed, &a, &b] {
        fs::create_dir_all(l.corpus_dir(t.as_str())).unwrap();
    }
    for i in 0..n {
        let bytes = format!("seed-{i}");
        let sha = sha1_hex(bytes.as_bytes());
        let path = seed.corpus_dir(t.as_str()).join(&sha);
        fs::write(&path, bytes).unwrap();
        for l in [&a, &b] {
            fs::hard_link(&path, l.corpus_dir(t.as_str()).join(&sha)).unwrap();
        }
    }
    let r = hub
        .sync(&seed, &node("seed"), std::slice::from_ref(&t))
        .unwrap();
    show(&format!("seeding: node seed pushes {n} entries"), &r);
    measure("S3 (moto)", &hub, &a, &b, &t, n);
}
