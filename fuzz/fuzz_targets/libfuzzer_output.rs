//! Whatever a worker prints, line by line: each line's parse (status lines, notices)
//! and the assembler that turns crash output into whole reports never panic, and each
//! report's headline is one of its own lines.
#![no_main]

use fleet_engine::libfuzzer::{Assembled, ReportAssembler, headline, parse_line};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let mut assembler = ReportAssembler::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let _ = parse_line(line);
        out.extend(assembler.feed(line));
    }
    out.extend(assembler.end());
    for assembled in &out {
        let report = match assembled {
            Assembled::Artifact { report, .. }
            | Assembled::LostReport { report }
            | Assembled::Recoverable { report, .. } => report,
        };
        let head = headline(report);
        assert!(
            head.is_empty() || report.contains(head),
            "headline {head:?} not in its report"
        );
    }
});
