//! Two state dirs ("nodes") sharing a directory hub through the CLI: what one finds, the
//! other gets; an unreachable hub never stops fuzzing and shows as degraded.

mod support;

use std::fs;

use support::{Fleet, names};

#[test]
fn two_nodes_converge_on_the_union_of_corpora_and_share_findings_through_the_hub() {
    let hub_dir = fleet_testkit::state_temp_dir();
    let hub = format!("[hub]\nurl = \"file://{}\"\n", hub_dir.path().display());
    let a = Fleet::new(&format!(
        "{hub}[tier.t]\ntargets = [\"crash_magic\"]\nbudget = \"1h\"\n"
    ));
    let b = Fleet::new(&format!(
        "{hub}[tier.t]\ntargets = [\"crash_magic\"]\nbudget = \"1h\"\n"
    ));
    // B has something of its own to share.
    let extra = b.path().join("extra");
    fs::create_dir_all(&extra).unwrap();
    fs::write(extra.join("mine"), b"only on node b").unwrap();
    let out = b.output(&[
        "corpus",
        "import",
        extra.to_str().unwrap(),
        "--target",
        "crash_magic",
    ]);
    assert!(out.status.success());

    // A fuzzes; its last sync at stop pushes its corpus and crashes.
    a.run_once("6s", 1);
    // What a's campaign left untriaged at its stop is triaged now.
    a.triage();
    let a_buckets = a.buckets();
    assert!(!a_buckets.is_empty());
    assert_eq!(a.status()["hub"]["state"], "ok", "{}", a.status());

    for node in [&b, &a, &b] {
        let out = node.output(&["corpus", "sync"]);
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The hub holds the union of what both pushed, and B, which fuzzed nothing of its
    // own, now holds exactly that. A holds all of it except entries its own fuzzer
    // replaced with smaller ones of the same features (libFuzzer's `-reduce_inputs`)
    // after pushing them: A never takes back what it pushed itself.
    let ca = names(&a.state().join("corpus/crash_magic"));
    let cb = names(&b.state().join("corpus/crash_magic"));
    let in_hub = names(&hub_dir.path().join("v1/corpus/crash_magic"));
    assert_eq!(cb, in_hub, "b did not converge on the hub's corpus");
    let only_a: Vec<_> = ca
        .difference(&cb)
        .map(|n| {
            let bytes = fs::read(a.state().join("corpus/crash_magic").join(n)).unwrap();
            format!("{n} (content {})", fleet_store::sha1_hex(&bytes))
        })
        .collect();
    assert!(only_a.is_empty(), "a holds entries b lacks: {only_a:?}");
    assert!(ca.contains(&fleet_store::sha1_hex(b"only on node b")));

    // A's crashes are in B's list — triaged on B into the same buckets, since a bucket's
    // id comes from the bug's signature — with their reports and A as the node.
    b.triage();
    let b_buckets = b.buckets();
    for found in &a_buckets {
        let there = b_buckets
            .iter()
            .find(|x| x["id"] == found["id"])
            .unwrap_or_else(|| panic!("{} missing on b", found["id"]));
        // Found on node a, and b says so (each state dir is its own node).
        assert_eq!(there["nodes"], found["nodes"]);
        assert_ne!(
            fs::read_to_string(a.state().join("node-name")).unwrap(),
            fs::read_to_string(b.state().join("node-name")).unwrap()
        );
        let show = b.output(&["crashes", "show", there["id"].as_str().unwrap()]);
        assert!(String::from_utf8_lossy(&show.stdout).contains("index out of bounds"));
    }
}

#[test]
fn an_unreachable_hub_never_stops_fuzzing_and_status_says_degraded() {
    let fleet = Fleet::new(
        "[hub]\nurl = \"s3://fuzzfleet-hub/test\"\n[tier.t]\ntargets = [\"clean\"]\nbudget = \"1h\"\n",
    );
    let out = fleet
        .cmd(&[
            "run",
            "--no-build",
            "--once",
            "--budget",
            "5s",
            "--workers",
            "1",
        ])
        // Nothing listens on port 1 of loopback: every request fails at once.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("hub sync failed"));
    let status = fleet.status();
    assert_eq!(status["hub"]["state"], "degraded", "{status}");
    let clean = status["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "clean")
        .unwrap();
    assert!(clean["execs"].as_i64().unwrap() > 0);
}

#[test]
fn collect_brings_the_fleets_findings_into_one_bucket_per_bug_with_every_node_listed() {
    let hub_dir = fleet_testkit::state_temp_dir();
    let config = format!(
        "[hub]\nurl = \"file://{}\"\n[tier.t]\ntargets = [\"crash_magic\"]\nbudget = \"1h\"\n",
        hub_dir.path().display()
    );
    // Two nodes find the same bug; each pushes its findings at its stop.
    let (a, b) = (Fleet::new(&config), Fleet::new(&config));
    a.run_once("6s", 1);
    b.run_once("6s", 1);
    let node = |f: &Fleet| fs::read_to_string(f.state().join("node-name")).unwrap();
    let (na, nb) = (node(&a), node(&b));

    // The operator's machine: a state dir of its own that never fuzzed.
    let operator = Fleet::new(&config);
    let out_dir = operator.path().join("collected");
    let out = operator.output(&["collect", out_dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let buckets: Vec<serde_json::Value> = fs::read_dir(out_dir.join("crash_magic"))
        .unwrap()
        .map(|e| {
            let json = fs::read(e.unwrap().path().join("bucket.json")).unwrap();
            serde_json::from_slice(&json).unwrap()
        })
        .collect();
    let bugs: Vec<_> = buckets
        .iter()
        .filter(|b| !b["signature"].is_null())
        .collect();
    assert_eq!(bugs.len(), 1, "one bug: {buckets:#?}");
    let nodes: Vec<&str> = bugs[0]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        nodes.contains(&na.as_str()) && nodes.contains(&nb.as_str()),
        "{nodes:?} should list {na} and {nb}"
    );
    let dir = out_dir
        .join("crash_magic")
        .join(bugs[0]["id"].as_str().unwrap());
    assert!(dir.join("input").is_file());
    assert!(
        fs::read_to_string(dir.join("report.txt"))
            .unwrap()
            .contains("index out of bounds")
    );
    // The operator's list is the same: one bucket, both nodes.
    let listed: Vec<_> = operator
        .buckets()
        .into_iter()
        .filter(|b| !b["signature"].is_null())
        .collect();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["nodes"], bugs[0]["nodes"]);
}

/// Whoever can write to a shared hub directory planted FIFOs where a batch and a corpus
/// entry a batch names are, and an entry that is a link to a file outside the hub (its
/// content matching its name, so only the link gives it away). `corpus sync` used to
/// hang on the FIFO entry for good; now it ends, with a line naming each, and still
/// pushes this node's new entry.
#[test]
fn corpus_sync_on_a_hub_with_a_fifo_and_a_link_ends_with_a_line_naming_each() {
    use std::os::unix::fs::symlink;
    use std::time::{Duration, Instant};

    let hub_dir = fleet_testkit::state_temp_dir();
    let hub = hub_dir.path();
    let node = Fleet::new(&format!(
        "[hub]\nurl = \"file://{}\"\n[tier.t]\ntargets = [\"clean\"]\nbudget = \"1h\"\n",
        hub.display()
    ));
    // A first sync makes the hub (meta.json).
    assert!(node.output(&["corpus", "sync"]).status.success());

    fs::create_dir_all(hub.join("v1/log/clean/evil")).unwrap();
    let fifo = "v1/log/clean/evil/00000000000000000001.json";
    nix::unistd::mkfifo(
        &hub.join(fifo),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    let outside = node.path().join("outside");
    fs::write(&outside, b"a file outside the hub").unwrap();
    let lure = fleet_store::sha1_hex(b"a file outside the hub");
    fs::create_dir_all(hub.join("v1/corpus/clean")).unwrap();
    symlink(&outside, hub.join(format!("v1/corpus/clean/{lure}"))).unwrap();
    let fifo_entry = fleet_store::sha1_hex(b"never written");
    nix::unistd::mkfifo(
        &hub.join(format!("v1/corpus/clean/{fifo_entry}")),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    fs::create_dir_all(hub.join("v1/log/clean/liar")).unwrap();
    let batch = serde_json::json!({
        "version": 1, "target": "clean", "node": "liar", "seq": 1,
        "time": "2026-12-01T00:00:00Z", "corpus": [lure, fifo_entry], "crashes": [],
    });
    fs::write(
        hub.join("v1/log/clean/liar/00000000000000000001.json"),
        batch.to_string(),
    )
    .unwrap();
    // Something new of this node's own to push.
    let extra = node.path().join("extra");
    fs::create_dir_all(&extra).unwrap();
    fs::write(extra.join("mine"), b"this node's entry").unwrap();
    let out = node.output(&[
        "corpus",
        "import",
        extra.to_str().unwrap(),
        "--target",
        "clean",
    ]);
    assert!(out.status.success());

    let log = node.path().join("sync.log");
    let mut child = node
        .cmd(&["corpus", "sync"])
        .stdout(fs::File::create(&log).unwrap())
        .stderr(fs::File::create(node.path().join("sync.err")).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("corpus sync did not end within 120 s on a hub holding a FIFO");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = fs::read_to_string(&log).unwrap();
    let stderr = fs::read_to_string(node.path().join("sync.err")).unwrap();
    assert!(status.success(), "{stdout}{stderr}");
    for line in [
        format!("refused a hub object: refused hub key {fifo}: a FIFO, not a regular file"),
        format!("refused a hub object: refused hub key v1/corpus/clean/{lure}: a symbolic link"),
        format!(
            "refused a hub object: refused hub key v1/corpus/clean/{fifo_entry}: a FIFO, not a regular file"
        ),
        "pushed 1 corpus entries".to_owned(),
    ] {
        assert!(stdout.contains(&line), "no {line:?} in:\n{stdout}{stderr}");
    }
    assert!(!names(&node.state().join("corpus/clean")).contains(&lure));
    assert!(
        names(&hub.join("v1/corpus/clean")).contains(&fleet_store::sha1_hex(b"this node's entry"))
    );
}
