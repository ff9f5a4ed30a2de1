//! A sanitizer or panic report, whole or cut anywhere: parsing it, its signature and
//! its title never panic, and a report's signature does not depend on anything but the
//! report (two parses of the same text agree).
#![no_main]

use fleet_crash::{Signature, SignatureConfig, parse_report, title};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Some(report) = parse_report(text) else {
        return;
    };
    let config = SignatureConfig::default();
    let signature = Signature::of(&report, &config);
    let _ = title(&report);
    let again = parse_report(text).expect("a report parses the same way twice");
    assert_eq!(Signature::of(&again, &config), signature);
});
