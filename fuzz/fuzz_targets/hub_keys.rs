//! Names read from a hub's keys (another node's, or an attacker's): target, node, corpus
//! entry and crash names are either refused or round-trip exactly, and an accepted name
//! is never a path that leaves its directory.
#![no_main]

use fleet_config::{NodeName, TargetName};
use names::{CrashName, Sha1Name};

/// The hub's name parsing, compiled here alone (not the hub's storage).
#[path = "../../crates/fleet-hub/src/names.rs"]
#[allow(dead_code)]
mod names;
use libfuzzer_sys::fuzz_target;

fn safe(name: &str) {
    assert!(!name.is_empty(), "an empty name was accepted");
    assert!(!name.contains('/') && !name.contains('\0'), "{name:?}");
    assert!(name != "." && name != "..", "{name:?}");
}

fuzz_target!(|name: &str| {
    if let Ok(t) = TargetName::new(name) {
        assert_eq!(t.as_str(), name);
        safe(t.as_str());
    }
    if let Ok(n) = NodeName::new(name) {
        assert_eq!(n.as_str(), name);
        safe(n.as_str());
    }
    if let Ok(s) = Sha1Name::new(name) {
        assert_eq!(s.as_str(), name);
        safe(s.as_str());
    }
    if let Ok(c) = name.parse::<CrashName>() {
        let shown = c.to_string();
        assert_eq!(shown, name);
        safe(&shown);
        assert_eq!(shown.parse::<CrashName>().map(|c| c.to_string()), Ok(shown));
    }
});
