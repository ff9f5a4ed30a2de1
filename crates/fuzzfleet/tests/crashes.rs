//! The crash pipeline end to end through the CLI: a live campaign finds, reproduces,
//! buckets and minimizes bugs and fires one webhook per bug at a receiver on 127.0.0.1;
//! a rebuilt target marks its bug fixed, then regressed; merge and split persist and
//! later crashes follow them; export writes inputs, reports and SARIF; a bad id exits 2.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use fleet_testkit::webhook::Webhook;
use serde_json::Value;
use support::{Fleet, KillOnDrop};

fn triaged(buckets: &[Value]) -> Vec<&Value> {
    buckets
        .iter()
        .filter(|b| !b["signature"].is_null())
        .collect()
}

#[test]
fn a_live_campaign_reproduces_buckets_and_minimizes_bugs_and_fires_one_webhook_per_bug() {
    let hook = Webhook::start();
    let fleet = Fleet::new(&format!(
        "[tier.t]\ntargets = [\"six_bugs\"]\nbudget = \"1h\"\n\
         [crashes]\nminimize_budget = \"5s\"\n\
         [alerts]\nwebhook = \"{}\"\ndigest_after = 100\n",
        hook.url
    ));
    let started = Instant::now();
    let mut run = KillOnDrop(fleet.start(&["--workers", "2"]));
    // Bugs found, each reproduced (not pending), its input minimized, and announced.
    let done = |b: &&&Value| {
        b["repro"] != "pending"
            && !b["minimized_path"].is_null()
            && hook
                .texts()
                .iter()
                .any(|t| t.contains(b["id"].as_str().unwrap()))
    };
    fleet_testkit::wait_until(
        "three bugs reproduced, minimized and announced",
        Duration::from_secs(120),
        || triaged(&fleet.buckets()).iter().filter(done).count() >= 3,
    );
    let took = started.elapsed();
    println!("three bugs found, reproduced, minimized and announced in {took:.1?}");
    run.stop();

    let buckets = fleet.buckets();
    let bugs = triaged(&buckets);
    let log = fleet.run_log();
    // One bucket per bug: distinct signatures, each with a title naming its function.
    let mut signatures: Vec<&str> = bugs
        .iter()
        .map(|b| b["signature"].as_str().unwrap())
        .collect();
    signatures.sort();
    signatures.dedup();
    assert_eq!(signatures.len(), bugs.len(), "{buckets:#?}");
    let planted = [
        "lookup",
        "add_lengths",
        "find_terminator",
        "check_budget",
        "nest",
        "check_header",
        "decode_width",
    ];
    for b in &bugs {
        let title = b["title"].as_str().unwrap();
        assert!(
            planted.iter().any(|f| title.contains(f)),
            "{title} names no planted bug\n{log}"
        );
        assert_eq!(b["state"], "open");
        assert!(b["severity"].is_string());
        assert!(b["id"].as_str().unwrap().len() == 16);
        // The minimized input is kept beside the original, and both exist.
        assert!(
            Path::new(b["input_path"].as_str().unwrap()).is_file(),
            "{b:#}"
        );
        if let Some(m) = b["minimized_path"].as_str() {
            assert!(Path::new(m).is_file(), "{b:#}");
        }
    }
    assert!(
        bugs.iter()
            .filter(|b| !b["minimized_path"].is_null())
            .count()
            >= 3
    );
    // Exactly one message per bug announced, each naming its bucket (resource alerts,
    // "fuzzfleet: ALERT …", share the webhook and are not bug announcements).
    let texts: Vec<String> = hook
        .texts()
        .into_iter()
        .filter(|t| !t.starts_with("fuzzfleet: "))
        .collect();
    for b in &bugs {
        let id = b["id"].as_str().unwrap();
        let n = texts.iter().filter(|t| t.contains(id)).count();
        assert!(n <= 1, "bucket {id} announced {n} times: {texts:#?}");
    }
    assert_eq!(
        texts.len(),
        bugs.iter()
            .filter(|b| texts.iter().any(|t| t.contains(b["id"].as_str().unwrap())))
            .count(),
        "{texts:#?}"
    );
    assert!(texts.len() >= 3, "{texts:#?}");
    assert!(log.contains("NEW BUG"), "{log}");
}

/// `crash_heap.c` with its bug fixed (the loop stays within the record).
fn build_heap(dir: &Path, fixed: bool) -> std::path::PathBuf {
    let src = fleet_testkit::repo_root().join("fixtures/c/crash_heap.c");
    let mut code = fs::read_to_string(&src).unwrap();
    if fixed {
        assert!(code.contains("i <= declared"));
        code = code.replace("i <= declared", "i < RECORD_BYTES");
    }
    let name = if fixed { "heap_fixed" } else { "heap_buggy" };
    let c = dir.join(format!("{name}.c"));
    fs::write(&c, code).unwrap();
    let out = dir.join(name);
    let status = Command::new("clang-14")
        .args(["-g", "-O1", "-fsanitize=fuzzer,address", "-o"])
        .arg(&out)
        .arg(&c)
        .status()
        .expect("clang-14 (apt-get install -y clang-14 libclang-rt-14-dev)");
    assert!(status.success());
    out
}

/// Replaces the target binary the way a rebuild does: a new file renamed into place.
fn install(from: &Path, to: &Path) {
    let tmp = to.with_extension("new");
    fs::copy(from, &tmp).unwrap();
    fs::rename(&tmp, to).unwrap();
}

fn regress(fleet: &Fleet) -> (i32, Value) {
    let out = fleet.output(&["regress", "--target", "heap", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), v)
}

#[test]
fn a_rebuilt_target_marks_its_bug_fixed_and_putting_the_bug_back_marks_it_regressed() {
    let fleet = Fleet::new("");
    let builds = fleet.path().join("builds");
    fs::create_dir_all(&builds).unwrap();
    let buggy = build_heap(&builds, false);
    let fixed = build_heap(&builds, true);
    let binary = fleet.path().join("heap");
    install(&buggy, &binary);
    // A seed that crashes: the campaign sets it aside as a finding.
    let seeds = fleet.path().join("seeds");
    fs::create_dir_all(&seeds).unwrap();
    fs::write(seeds.join("overflow"), b"BUG\x40 and some record bytes").unwrap();
    fs::write(seeds.join("fine"), b"hello 123").unwrap();
    let config = fleet.path().join("fleet.toml");
    let mut text = fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "[[target]]\nname = \"heap\"\nbinary = \"{}\"\nseeds = \"{}\"\n\
         [tier.t]\ntargets = [\"heap\"]\nbudget = \"1h\"\n",
        binary.display(),
        seeds.display()
    ));
    fs::write(&config, text).unwrap();

    fleet.run_once("3s", 1);
    fleet.triage();
    let buckets = fleet.buckets();
    let bugs = triaged(&buckets);
    assert_eq!(bugs.len(), 1, "{buckets:#?}");
    let id = bugs[0]["id"].as_str().unwrap().to_string();
    assert_eq!(bugs[0]["repro"], "always");
    assert_eq!(bugs[0]["severity"], "high", "{:#}", bugs[0]);
    assert_eq!(bugs[0]["state"], "open");

    // The same build: still open, and regress fails on the crash.
    let (code, _) = regress(&fleet);
    assert_eq!(code, 1);

    install(&fixed, &binary);
    let (code, doc) = regress(&fleet);
    assert_eq!(code, 0, "{doc:#}");
    let state = |doc: &Value| doc["targets"][0]["buckets"][0]["state"].clone();
    assert_eq!(state(&doc), "fixed", "{doc:#}");
    let shown = fleet.output(&["crashes", "show", &id]);
    assert!(String::from_utf8_lossy(&shown.stdout).contains("state:      fixed in build"));
    let repro = fleet.output(&["crashes", "repro", &id]);
    assert_eq!(
        repro.status.code(),
        Some(1),
        "a fixed bug does not reproduce"
    );

    install(&buggy, &binary);
    let (code, doc) = regress(&fleet);
    assert_eq!(code, 1, "{doc:#}");
    assert_eq!(state(&doc), "regressed", "{doc:#}");
    let b = triaged(&fleet.buckets())[0].clone();
    assert_eq!(b["state"], "regressed");
    let repro = fleet.output(&["crashes", "repro", &id]);
    assert_eq!(
        repro.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&repro.stdout)
    );
    assert!(String::from_utf8_lossy(&repro.stdout).contains("heap-buffer-overflow"));
}

/// Puts crashing inputs into six_bugs' corpus: the next campaign sets each aside as a
/// finding when it crashes on load.
fn import(fleet: &Fleet, dir: &Path) {
    let out = fleet.output(&[
        "corpus",
        "import",
        dir.to_str().unwrap(),
        "--target",
        "six_bugs",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ids_by_title(fleet: &Fleet) -> BTreeMap<String, String> {
    triaged(&fleet.buckets())
        .iter()
        .map(|b| {
            (
                b["title"].as_str().unwrap().to_string(),
                b["id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn find<'a>(by_title: &'a BTreeMap<String, String>, function: &str) -> &'a str {
    by_title
        .iter()
        .find(|(t, _)| t.contains(function))
        .unwrap_or_else(|| panic!("no bucket for {function}: {by_title:#?}"))
        .1
}

#[test]
fn merge_and_split_persist_and_later_crashes_follow_them_and_export_writes_sarif() {
    let seeds = fleet_testkit::temp_dir();
    // Crashing seeds of three planted bugs: F and G are two asserts in one function.
    fs::write(seeds.path().join("d"), b"D\xff").unwrap();
    fs::write(seeds.path().join("f"), b"F\x00\x00").unwrap();
    fs::write(seeds.path().join("g"), b"G\x01\x80").unwrap();
    let fleet = Fleet::new("[tier.t]\ntargets = [\"six_bugs\"]\nbudget = \"1h\"\n");
    fleet_testkit::rust_fixture("six_bugs");
    import(&fleet, seeds.path());
    fleet.run_once("8s", 1);
    fleet.triage();
    // The fuzzer may find more of the planted bugs in the time; these three are there.
    let by_title = ids_by_title(&fleet);
    let titles: Vec<&String> = by_title.keys().collect();
    let version = by_title
        .iter()
        .find(|(t, _)| t.contains("version must not be zero"))
        .unwrap_or_else(|| panic!("{titles:#?}"))
        .1
        .clone();
    let flags = by_title
        .iter()
        .find(|(t, _)| t.contains("reserved flag"))
        .unwrap_or_else(|| panic!("{titles:#?}"))
        .1
        .clone();
    let budget = find(&by_title, "check_budget").to_string();

    // Bad ids are usage errors, and change nothing.
    for args in [
        vec!["crashes", "show", "0123456789abcdef"],
        vec!["crashes", "merge", "nonsense", flags.as_str()],
        vec!["crashes", "split", "0123456789abcdef"],
        vec!["crashes", "repro", "zz"],
    ] {
        let out = fleet.output(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("no bucket"));
    }
    assert_eq!(ids_by_title(&fleet), by_title);
    let count = |id: &str| -> i64 {
        fleet
            .buckets()
            .iter()
            .find(|b| b["id"] == id)
            .map_or(0, |b| b["count"].as_i64().unwrap())
    };
    let (version_n, flags_n) = (count(&version), count(&flags));
    assert!(version_n >= 1 && flags_n >= 1);

    // A triager decides the two header asserts are one bug.
    let out = fleet.output(&["crashes", "merge", &flags, &version]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(count(&flags), 0, "merged away");
    assert_eq!(count(&version), version_n + flags_n);

    // A later crash of the flags assert goes to the merged bucket.
    fs::write(seeds.path().join("g2"), b"G\x02\x81").unwrap();
    import(&fleet, seeds.path());
    fleet.run_once("8s", 1);
    fleet.triage();
    assert_eq!(count(&flags), 0, "the merge holds for later crashes");
    let merged_n = count(&version);
    assert!(merged_n > version_n + flags_n, "{merged_n}");

    // Undone: the flags assert is its own bug again, with both of its crashes.
    let out = fleet.output(&["crashes", "split", &version]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every crash is in one of the two again, the later flags crash with the flags bug.
    assert!(count(&flags) > flags_n);
    assert_eq!(count(&flags) + count(&version), merged_n);

    // Export: a directory per bucket with its input and report, and a SARIF log.
    let out_dir = fleet.path().join("export");
    let out = fleet.output(&["crashes", "export", out_dir.to_str().unwrap(), "--sarif"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for id in [&version, &flags, &budget] {
        let dir = out_dir.join("six_bugs").join(id);
        assert!(dir.join("input").is_file(), "{}", dir.display());
        assert!(
            fs::read_to_string(dir.join("report.txt"))
                .unwrap()
                .contains("panicked"),
            "{}",
            dir.display()
        );
        let b: Value = serde_json::from_slice(&fs::read(dir.join("bucket.json")).unwrap()).unwrap();
        assert_eq!(b["id"], id.as_str());
    }
    let sarif: Value =
        serde_json::from_slice(&fs::read(out_dir.join("fuzzfleet.sarif")).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), triaged(&fleet.buckets()).len(), "{sarif:#}");
    // Each result counts what `crashes list` counts for its bucket, named as
    // docs/crashes.md names it (SARIF said "105 crashes" for a bucket listed with 159).
    for r in results {
        let id = r["properties"]["bucket"].as_str().unwrap();
        let n = count(id);
        assert!(n > 0, "{id}: {sarif:#}");
        assert_eq!(r["properties"]["count"], n, "{id}: {r:#}");
        let hits = if n == 1 { "crash hit" } else { "crash hits" };
        let text = r["message"]["text"].as_str().unwrap();
        assert!(
            text.contains(&format!(", {n} {hits}, bucket {id})")),
            "{text}"
        );
    }
    assert!(
        results.iter().any(|r| r["message"]["text"]
            .as_str()
            .unwrap()
            .contains("check_budget")),
        "{sarif:#}"
    );
}
