//! `fleet.toml` as anyone may write it: parsing and validating never panics; a config
//! refused names its file in the error.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    // Relative paths resolve under a directory that does not exist: nothing of the
    // machine's is found by accident.
    let file = Path::new("/nonexistent/fuzzfleet-fuzz/fleet.toml");
    if let Err(e) = fleet_config::parse(file, text) {
        assert!(e.to_string().contains("fleet.toml"), "{e}");
    }
});
