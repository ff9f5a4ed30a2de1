//! Corpus care through the CLI: minimize keeps coverage, export and import round-trip.

mod support;

use std::fs;

use support::Fleet;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `N files, B bytes, F features -> N files, B bytes, F features` as numbers.
fn figures(line: &str) -> Vec<u64> {
    line.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect()
}

#[test]
fn minimize_shrinks_the_corpus_without_losing_features_and_export_import_round_trip() {
    let fleet = Fleet::new("[tier.t]\ntargets = [\"clean\"]\nbudget = \"1h\"\n");
    fleet.run_once("8s", 2);

    let out = fleet.output(&["corpus", "minimize", "clean"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    let f = figures(text.lines().next().unwrap());
    let (files_before, features_before, files_after, features_after) = (f[0], f[2], f[3], f[5]);
    assert!(files_after < files_before, "{text}");
    assert!(features_after >= features_before, "{text}");
    assert!(text.contains("corpus replaced"), "{text}");
    let corpus = fleet.state().join("corpus/clean");
    assert_eq!(fs::read_dir(&corpus).unwrap().count() as u64, files_after);

    let export = fleet.path().join("export");
    let out = fleet.output(&[
        "corpus",
        "export",
        export.to_str().unwrap(),
        "--target",
        "clean",
    ]);
    assert!(out.status.success());
    assert_eq!(
        fs::read_dir(export.join("clean")).unwrap().count() as u64,
        files_after
    );

    // Importing the export into a fresh state adds everything; a second import adds nothing.
    let other = Fleet::new("[tier.t]\ntargets = [\"clean\"]\nbudget = \"1h\"\n");
    let out = other.output(&["corpus", "import", export.to_str().unwrap()]);
    assert!(
        stdout(&out).contains(&format!("clean: {files_after} added, 0 already there")),
        "{}",
        stdout(&out)
    );
    let out = other.output(&["corpus", "import", export.to_str().unwrap()]);
    assert!(
        stdout(&out).contains(&format!("clean: 0 added, {files_after} already there")),
        "{}",
        stdout(&out)
    );
}

#[test]
fn corpus_commands_refuse_unknown_targets_and_a_running_campaign() {
    let fleet = Fleet::new("[tier.t]\ntargets = [\"clean\"]\nbudget = \"1h\"\n");
    let out = fleet.output(&["corpus", "minimize", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    let mut run = support::KillOnDrop(fleet.start(&["--workers", "1"]));
    support::wait_until(
        "the run started",
        std::time::Duration::from_secs(60),
        || fleet.target("clean")["state"] == "running",
    );
    let out = fleet.output(&["corpus", "minimize", "clean"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stop the run first"));
    run.stop();
}

#[test]
fn backup_restores_into_another_state_and_a_corrupt_archive_is_refused() {
    let fleet = Fleet::new("[tier.t]\ntargets = [\"crash_magic\"]\nbudget = \"1h\"\n");
    fleet.run_once("6s", 1);
    let ids: Vec<String> = fleet
        .buckets()
        .iter()
        .map(|b| b["id"].to_string())
        .collect();
    assert!(!ids.is_empty());
    let archive = fleet.path().join("state.tar.gz");
    let out = fleet.output(&["backup", archive.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let other = Fleet::new("[tier.t]\ntargets = [\"crash_magic\"]\nbudget = \"1h\"\n");
    let out = other.output(&["restore", archive.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let restored: Vec<String> = other
        .buckets()
        .iter()
        .map(|b| b["id"].to_string())
        .collect();
    assert_eq!(restored, ids);
    for b in other.buckets() {
        let input = b["input_path"].as_str().unwrap();
        assert!(input.starts_with(other.path().to_str().unwrap()), "{input}");
        assert!(fs::metadata(input).is_ok(), "{input}");
    }
    let corpus = |f: &Fleet| {
        fs::read_dir(f.state().join("corpus/crash_magic"))
            .unwrap()
            .count()
    };
    assert_eq!(corpus(&other), corpus(&fleet));
    // Restoring twice duplicates nothing.
    let out = other.output(&["restore", archive.to_str().unwrap()]);
    assert!(
        stdout(&out).contains("restored 0 files"),
        "{}",
        stdout(&out)
    );
    assert_eq!(other.buckets().len(), ids.len());

    let mut bytes = fs::read(&archive).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0x55;
    let bad = fleet.path().join("bad.tar.gz");
    fs::write(&bad, bytes).unwrap();
    let third = Fleet::new("[tier.t]\ntargets = [\"crash_magic\"]\nbudget = \"1h\"\n");
    let out = third.output(&["restore", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a usable fuzzfleet backup"));
    assert!(!third.state().join("corpus").exists());
}

#[test]
fn a_merge_that_would_lose_features_keeps_the_old_corpus() {
    let fleet = Fleet::new("");
    let seeds = fleet.path().join("inputs");
    fs::create_dir_all(&seeds).unwrap();
    for i in 0..40 {
        fs::write(seeds.join(format!("s{i}")), format!("input {i}")).unwrap();
    }
    let out = fleet.output(&[
        "corpus",
        "import",
        seeds.to_str().unwrap(),
        "--target",
        "stateful",
    ]);
    assert!(
        stdout(&out).contains("stateful: 40 added"),
        "{}",
        stdout(&out)
    );
    let out = fleet.output(&["corpus", "minimize", "stateful"]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("kept the old corpus"), "{text}");
    let f = figures(text.lines().next().unwrap());
    assert!(f[5] < f[2], "the merge lost no features: {text}");
    assert_eq!(
        fs::read_dir(fleet.state().join("corpus/stateful"))
            .unwrap()
            .count(),
        40
    );
    assert!(!fleet.state().join("minimize").exists(), "merge leftovers");
}

#[test]
fn regress_replays_corpora_and_known_crashes_and_fails_while_a_bug_is_there() {
    let fleet = Fleet::new(
        "[tier.t]\ntargets = [\"crash_magic\", \"clean\"]\nbudget = \"1h\"\nmode = \"parallel\"\n",
    );
    fleet.run_once("6s", 2);
    assert!(!fleet.buckets().is_empty());

    let out = fleet.output(&["regress", "--target", "clean"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("pass"));

    let out = fleet.output(&["regress", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let crash = doc["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"] == "crash_magic")
        .unwrap();
    assert_eq!(crash["passed"], false);
    assert_eq!(
        crash["corpus_crash"],
        serde_json::Value::Null,
        "the corpus itself is clean"
    );
    assert_eq!(
        crash["still_crashing"].as_array().unwrap().len() as u64,
        crash["findings"].as_u64().unwrap(),
        "every kept crash input still crashes"
    );
}

#[test]
fn a_corpus_input_that_crashes_in_the_merge_becomes_a_finding_and_the_next_merge_goes_through() {
    let fleet = Fleet::new("");
    let seeds = fleet.path().join("inputs");
    fs::create_dir_all(&seeds).unwrap();
    for i in 0..20 {
        fs::write(seeds.join(format!("s{i}")), format!("record {i}")).unwrap();
    }
    // crash_magic panics on an input that starts with FUZZ: a corpus entry that crashes
    // (a target rebuilt with a new bug, an entry synced from an older build).
    let crasher = b"FUZZ\x07 in the corpus";
    fs::write(seeds.join("crasher"), crasher).unwrap();
    let sha1 = fleet_store::sha1_hex(crasher);
    let out = fleet.output(&[
        "corpus",
        "import",
        seeds.to_str().unwrap(),
        "--target",
        "crash_magic",
    ]);
    assert!(out.status.success(), "{}", stdout(&out));

    // The merge cannot go on over it, and says so; the crash is kept, not lost with the
    // merge's leftovers, and the entry is set aside.
    let out = fleet.output(&["corpus", "minimize", "crash_magic"]);
    let text = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains(&format!("kept as finding {sha1}")), "{text}");
    let crashes = support::names(&fleet.state().join("crashes/crash_magic"));
    assert!(crashes.contains(&format!("crash-{sha1}")), "{crashes:?}");
    let quarantined = support::names(&fleet.state().join("quarantine/crash_magic"));
    assert!(quarantined.contains(&sha1), "{quarantined:?}");
    assert!(
        !fleet
            .state()
            .join("corpus/crash_magic")
            .join(&sha1)
            .exists()
    );
    assert!(
        !fleet
            .state()
            .join("incoming/crash_magic")
            .join(format!("crash-{sha1}"))
            .exists()
    );

    // Triaged like any finding: one bug, reproduced from the kept input.
    fleet.triage();
    let buckets = fleet.buckets();
    assert!(
        buckets
            .iter()
            .any(|b| b["target"] == "crash_magic" && b["repro"] == "always"),
        "{buckets:#?}"
    );

    // The next minimization goes through the rest of the corpus.
    let out = fleet.output(&["corpus", "minimize", "crash_magic"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!fleet.state().join("minimize").exists(), "merge leftovers");
}
