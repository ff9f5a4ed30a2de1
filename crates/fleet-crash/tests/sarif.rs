//! SARIF 2.1.0 export of buckets built from captured reports, pinned as a snapshot.

mod common;

use common::crash;
use fleet_crash::sarif::{SarifOptions, to_sarif};
use fleet_crash::{Buckets, Rules};

#[test]
fn buckets_export_as_sarif() {
    let crashes = [
        crash("crash_memory", "c-heap-buffer-overflow-write", b"WR\x20abc"),
        crash("crash_memory", "c-heap-use-after-free", b"UF\x03"),
        crash("six_bugs", "rust-index-oob", b"A\x20"),
        crash("six_bugs", "rust-index-oob-other-input", b"A\xf3junk"),
        crash("hang", "rust-timeout", b"HANG"),
    ];
    let buckets = Buckets::rebuild(100, &Rules::new(), &crashes);
    let mut sorted: Vec<_> = buckets.iter().collect();
    sorted.sort_by(|a, b| (a.severity, &a.id).cmp(&(b.severity, &b.id)));
    let options = SarifOptions {
        tool_version: "0.0.0-test".into(),
        // The logs were captured in a checkout at /work/main.
        source_root: Some("/work/main".into()),
        ..SarifOptions::default()
    };
    let sarif = to_sarif(sorted, &options);
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    assert_eq!(results[0]["level"], "error");
    assert_eq!(results[3]["ruleId"], "timeout");
    assert_eq!(results[3]["level"], "note");
    for result in results {
        assert!(
            result["locations"][0]["physicalLocation"]["region"]["startLine"]
                .as_u64()
                .is_some()
        );
        assert_eq!(
            result["partialFingerprints"]["fuzzfleetBucket/v1"],
            result["properties"]["bucket"]
        );
        // The count, said under its name in docs/crashes.md: crash hits (issue 13.5).
        let n = result["properties"]["count"].as_u64().unwrap();
        let hits = if n == 1 { "crash hit" } else { "crash hits" };
        let text = result["message"]["text"].as_str().unwrap();
        assert!(text.contains(&format!(", {n} {hits}, bucket ")), "{text}");
    }
    insta::assert_json_snapshot!(sarif);
}
