//! Helpers shared by the tests that read the captured libFuzzer logs.

use std::path::{Path, PathBuf};

use fleet_engine::libfuzzer::{LogLine, Notice, Status, parse_line};

pub fn logs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/logs/libfuzzer")
}

pub fn read(name: &str) -> String {
    let path = logs_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Everything the parser found in one log.
pub struct Parsed {
    pub statuses: Vec<Status>,
    pub notices: Vec<Notice>,
}

pub fn parse_log(name: &str) -> Parsed {
    let text = read(name);
    let mut parsed = Parsed {
        statuses: Vec::new(),
        notices: Vec::new(),
    };
    for (i, line) in text.lines().enumerate() {
        match parse_line(line) {
            Ok(Some(LogLine::Status(s))) => parsed.statuses.push(s),
            Ok(Some(LogLine::Notice(n))) => parsed.notices.push(n),
            Ok(None) => {}
            Err(e) => panic!("{name}:{}: {e}", i + 1),
        }
    }
    parsed
}
