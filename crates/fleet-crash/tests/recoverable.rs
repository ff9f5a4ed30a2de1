//! Recoverable UBSan reports (a harness built with `-fsanitize-recover=undefined` goes on
//! fuzzing): classified by location and message class, from real captured output.

mod common;

use fleet_crash::{
    RECOVERABLE_KIND, Severity, Signature, SignatureConfig, classify_recoverable, parse_report,
    recoverable_severity, title,
};
use fleet_engine::libfuzzer::{Assembled, ReportAssembler};

/// The recoverable reports of `libfuzzer/ubsan-recover.log`, as a worker's reader
/// assembles them: `(location, message, report)`.
fn recovered() -> Vec<(String, String, String)> {
    let mut a = ReportAssembler::new();
    let mut out = Vec::new();
    for line in common::log("libfuzzer/ubsan-recover.log").lines() {
        out.extend(a.feed(line));
    }
    out.extend(a.end());
    out.into_iter()
        .map(|x| match x {
            Assembled::Recoverable {
                location,
                message,
                report,
            } => (location, message, report),
            other => panic!("{other:#?}"),
        })
        .collect()
}

#[test]
fn each_site_is_its_own_finding_with_a_title_that_says_where() {
    let got = recovered();
    assert_eq!(got.len(), 2);
    let mut keys = Vec::new();
    let mut titles = Vec::new();
    for (location, message, report) in &got {
        let class = classify_recoverable(location, message);
        assert!(class.key.starts_with(RECOVERABLE_KIND));
        keys.push(class.key.clone());
        titles.push(class.title.clone());
        // The crash pipeline reads the same report the same way.
        let parsed = parse_report(report).unwrap();
        assert_eq!(parsed.kind.to_string(), format!("ubsan:{}", class.class));
        assert!(title(&parsed).ends_with(&format!(
            " at {}",
            class.location.rsplit_once(':').unwrap().0
        )));
    }
    assert_eq!(
        titles,
        [
            "ubsan: load of misaligned address at c/ubsan_recover.c:16:12",
            "ubsan: signed integer overflow at c/ubsan_recover.c:12:18",
        ]
    );
    assert_ne!(keys[0], keys[1]);
    assert_eq!(recoverable_severity(None), Severity::Low);
}

#[test]
fn two_sites_with_one_message_are_two_signatures() {
    let (_, _, report) = &recovered()[1];
    let elsewhere = report.replace("ubsan_recover.c:12:18", "ubsan_recover.c:40:7");
    let config = SignatureConfig::default();
    let a = Signature::of(&parse_report(report).unwrap(), &config);
    let b = Signature::of(&parse_report(&elsewhere).unwrap(), &config);
    assert_eq!(a.kind, b.kind);
    assert_eq!(a.location.as_deref(), Some("c/ubsan_recover.c:12"));
    assert_ne!(a, b);
}
