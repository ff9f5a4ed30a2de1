//! Bucketing as pure values: order independence, the input cap, and manual merge and split rules that later crashes respect.

mod common;

use common::{crash, report};
use fleet_crash::{
    Buckets, Crash, InputKey, Kept, RuleError, Rules, Severity, SignatureConfig, SplitBy,
};

/// Crashes of several bugs, each with `per_bug` different inputs.
fn crashes(per_bug: usize) -> Vec<Crash> {
    let bugs = [
        ("six_bugs", "rust-index-oob", b'A'),
        ("six_bugs", "rust-index-oob-other-input", b'A'),
        ("six_bugs", "rust-add-overflow", b'B'),
        ("six_bugs", "rust-assert-version", b'F'),
        ("six_bugs", "rust-assert-flags", b'G'),
        ("six_bugs", "rust-caller-rows", b'H'),
        ("six_bugs", "rust-caller-columns", b'I'),
        ("six_bugs", "rust-stack-overflow", b'E'),
        ("crash_memory", "c-heap-buffer-overflow-write", b'W'),
        ("crash_memory", "c-heap-use-after-free", b'U'),
    ];
    let mut out = Vec::new();
    for (target, log, first) in bugs {
        for i in 0..per_bug {
            let input = [
                vec![first],
                i.to_le_bytes().to_vec(),
                log.as_bytes().to_vec(),
            ]
            .concat();
            out.push(crash(target, log, &input));
        }
    }
    out
}

/// A deterministic Fisher-Yates shuffle (xorshift), so failures replay.
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        items.swap(i, (seed % (i as u64 + 1)) as usize);
    }
}

#[test]
fn same_crashes_in_any_order_give_the_same_buckets() {
    let all = crashes(30);
    let rules = Rules::new();
    let reference = Buckets::rebuild(10, &rules, &all);
    // index-oob twice, rows/columns once: 10 logs, 8 bugs.
    assert_eq!(reference.len(), 8);
    for seed in [1, 2, 3, 0x9e37_79b9_7f4a_7c15] {
        let mut shuffled = all.clone();
        shuffle(&mut shuffled, seed);
        assert_eq!(
            Buckets::rebuild(10, &rules, &shuffled),
            reference,
            "seed {seed}"
        );
    }
    let index = reference
        .iter()
        .find(|b| b.title == "panic: index out of bounds in six_bugs::lookup")
        .unwrap();
    assert_eq!(index.count, 60);
    assert_eq!(index.inputs.len(), 10);
    assert!(index.inputs.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(index.members.len(), 1);
    let callers = reference
        .iter()
        .find(|b| b.title.contains("decode_width"))
        .unwrap();
    assert_eq!(callers.count, 60);
}

#[test]
fn a_bucket_keeps_its_smallest_inputs_and_counts_the_rest() {
    let rules = Rules::new();
    let mut buckets = Buckets::new(3);
    let report = report("rust-index-oob");
    let config = SignatureConfig::default();
    let add = |buckets: &mut Buckets, bytes: &[u8]| {
        buckets.add(
            &rules,
            &Crash::new("six_bugs", InputKey::of(bytes), &report, &config),
        )
    };
    let first = add(&mut buckets, b"A\x20----");
    assert!(first.new_bucket && first.new_representative);
    assert_eq!(first.kept, Kept::Yes { evicted: None });
    add(&mut buckets, b"A\x20---");
    add(&mut buckets, b"A\x20--");
    let full = add(&mut buckets, b"A\x20-----");
    assert_eq!(full.kept, Kept::No);
    assert!(!full.new_bucket);
    let smaller = add(&mut buckets, b"A\x20");
    assert!(smaller.new_representative);
    assert_eq!(
        smaller.kept,
        Kept::Yes {
            evicted: Some(InputKey::of(b"A\x20----"))
        }
    );
    assert_eq!(add(&mut buckets, b"A\x20").kept, Kept::Duplicate);
    let bucket = buckets.iter().next().unwrap();
    assert_eq!(bucket.count, 6);
    assert_eq!(bucket.representative(), &InputKey::of(b"A\x20"));
    assert_eq!(
        bucket.inputs.iter().map(|i| i.len).collect::<Vec<_>>(),
        [2, 4, 5]
    );
}

#[test]
fn merges_route_later_crashes_and_keep_the_worst_severity() {
    let write = crash("crash_memory", "c-heap-buffer-overflow-write", b"WR1");
    let uaf = crash("crash_memory", "c-heap-use-after-free", b"UF1");
    let index = crash("six_bugs", "rust-index-oob", b"A1");
    let mut rules = Rules::new();
    let before = Buckets::rebuild(100, &rules, [&write, &uaf, &index]);
    assert_eq!(before.len(), 3);

    rules.merge(index.natural_id(), write.natural_id()).unwrap();
    let after = Buckets::rebuild(100, &rules, [&write, &uaf, &index]);
    assert_eq!(after.len(), 2);
    let merged = after.get(&write.natural_id()).unwrap();
    assert_eq!(merged.count, 2);
    assert_eq!(merged.members.len(), 2);
    assert_eq!(merged.severity, Severity::Critical);
    // A later crash of the merged bug lands in the target bucket.
    let mut live = after.clone();
    let again = crash("six_bugs", "rust-index-oob-other-input", b"A2");
    let added = live.add(&rules, &again);
    assert_eq!(added.bucket, write.natural_id());
    assert!(!added.new_bucket);

    // Chains resolve; cycles and self-merges are refused.
    rules.merge(write.natural_id(), uaf.natural_id()).unwrap();
    assert_eq!(rules.route(&index), uaf.natural_id());
    assert_eq!(
        rules.merge(uaf.natural_id(), index.natural_id()),
        Err(RuleError::Cycle {
            from: uaf.natural_id(),
            into: index.natural_id()
        })
    );
    assert!(matches!(
        rules.merge(uaf.natural_id(), uaf.natural_id()),
        Err(RuleError::SelfMerge(_))
    ));
    // Routing a bucket back out.
    rules.unmerge(&index.natural_id()).unwrap();
    assert_eq!(rules.route(&index), index.natural_id());
    assert!(rules.unmerge(&index.natural_id()).is_err());
}

#[test]
fn splits_tell_apart_crashes_that_share_a_signature() {
    // One function, one message, two lines: the case signatures cannot see.
    let first = report("rust-assert-version");
    let mut second = first.clone();
    second
        .panic
        .as_mut()
        .unwrap()
        .location
        .as_mut()
        .unwrap()
        .line += 9;
    let config = SignatureConfig::default();
    let a = Crash::new("six_bugs", InputKey::of(b"F1"), &first, &config);
    let b = Crash::new("six_bugs", InputKey::of(b"F22"), &second, &config);
    assert_eq!(a.natural_id(), b.natural_id());
    let mut rules = Rules::new();
    assert_eq!(Buckets::rebuild(100, &rules, [&a, &b]).len(), 1);

    rules.split(a.natural_id(), SplitBy::Line).unwrap();
    let split = Buckets::rebuild(100, &rules, [&a, &b]);
    assert_eq!(split.len(), 2);
    assert_ne!(rules.route(&a), rules.route(&b));
    // Sub-bucket ids are derived, so every node computes the same ones.
    let mut elsewhere = Rules::new();
    elsewhere.split(a.natural_id(), SplitBy::Line).unwrap();
    assert_eq!(elsewhere.route(&b), rules.route(&b));
    assert!(rules.unsplit(&a.natural_id()));
    assert_eq!(Buckets::rebuild(100, &rules, [&a, &b]).len(), 1);

    // The two callers of one bug are one bucket until split by frames.
    let rows = crash("six_bugs", "rust-caller-rows", b"H1");
    let columns = crash("six_bugs", "rust-caller-columns", b"I1");
    assert_eq!(rows.natural_id(), columns.natural_id());
    rules.split(rows.natural_id(), SplitBy::Frames(2)).unwrap();
    assert_ne!(rules.route(&rows), rules.route(&columns));
    assert_eq!(
        rows.split_key(SplitBy::Frames(2)),
        "decode_width@six_bugs.rs < parse_rows@six_bugs.rs"
    );
    assert_eq!(
        rules.split(rows.natural_id(), SplitBy::Frames(0)),
        Err(RuleError::ZeroFrames)
    );
    // A sub-bucket can be merged like any bucket.
    rules
        .merge(rules.route(&columns), rules.route(&rows))
        .unwrap();
    assert_eq!(rules.route(&rows), rules.route(&columns));
}

#[test]
fn rules_and_crashes_persist_as_json() {
    let a = crash("six_bugs", "rust-index-oob", b"A1");
    let b = crash("six_bugs", "rust-add-overflow", b"B1");
    let mut rules = Rules::new();
    rules.merge(a.natural_id(), b.natural_id()).unwrap();
    rules.split(b.natural_id(), SplitBy::Frames(2)).unwrap();
    let json = serde_json::to_string(&rules).unwrap();
    assert!(json.starts_with("{\"version\":1,"), "{json}");
    let back: Rules = serde_json::from_str(&json).unwrap();
    assert_eq!(back, rules);
    let crash_json = serde_json::to_string(&a).unwrap();
    assert_eq!(serde_json::from_str::<Crash>(&crash_json).unwrap(), a);
    let buckets = Buckets::rebuild(100, &rules, [&a, &b]);
    let text = serde_json::to_string(&buckets).unwrap();
    assert_eq!(serde_json::from_str::<Buckets>(&text).unwrap(), buckets);
}

#[test]
fn the_target_is_part_of_the_bucket_id() {
    let a = crash("target_one", "rust-index-oob", b"A1");
    let b = crash("target_two", "rust-index-oob", b"A1");
    assert_eq!(a.signature, b.signature);
    assert_ne!(a.natural_id(), b.natural_id());
}
