//! Plain-text formatting shared by the live view and the one-shot `status` table.

use crate::wire::StatusWire;

/// 1536 → "1.5K": binary units, one decimal.
pub fn human_bytes(n: i64) -> String {
    let mut v = n as f64;
    for unit in ["", "K", "M", "G"] {
        if v < 1024.0 {
            return if unit.is_empty() {
                format!("{n}B")
            } else {
                format!("{v:.1}{unit}")
            };
        }
        v /= 1024.0;
    }
    format!("{v:.1}T")
}

/// A duration in ms as its two largest units: "45s", "12m05s", "3h20m", "2d04h".
pub fn age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

/// The one-shot `status` table of one node's status document.
pub fn table(doc: &StatusWire) -> String {
    let mut out = format!(
        "{:<22} {:<8} {:>3} {:>12} {:>9} {:>7} {:>8} {:>15} {:>7} {:>7}  {}\n",
        "TARGET",
        "STATE",
        "W",
        "EXECS",
        "EXEC/S",
        "COV",
        "FT",
        "CORPUS",
        "CRASHES",
        "UPTIME",
        "LAST NEW COVERAGE"
    );
    for t in &doc.targets {
        out += &format!(
            "{:<22} {:<8} {:>3} {:>12} {:>9.0} {:>7} {:>8} {:>15} {:>7} {:>7}  {}\n",
            t.name,
            t.state,
            t.workers.unwrap_or(0),
            t.execs.unwrap_or(0),
            t.execs_per_sec.unwrap_or(0.0),
            t.coverage.map_or("-".into(), |c| c.to_string()),
            t.features.map_or("-".into(), |c| c.to_string()),
            format!(
                "{}/{}",
                t.corpus_files.unwrap_or(0),
                human_bytes(t.corpus_bytes.unwrap_or(0))
            ),
            t.crashes.unwrap_or(0),
            t.uptime
                .map_or("-".into(), |u| format!("{:.1}%", u * 100.0)),
            t.last_new_coverage_at.as_deref().unwrap_or("-"),
        );
        if let Some(m) = &t.message {
            out += &format!("  └ {m}\n");
        }
    }
    if let Some(s) = &doc.system {
        out += &format!(
            "\nsystem: cpu {:.0}%  memory {} of {}  disk {:.0}% used\n",
            s.cpu_percent.unwrap_or(0.0),
            human_bytes(s.mem_used_bytes.unwrap_or(0) as i64),
            human_bytes(s.mem_total_bytes.unwrap_or(0) as i64),
            s.disk_used_percent.unwrap_or(0.0)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ages_read_short() {
        assert_eq!(human_bytes(512), "512B");
        assert_eq!(human_bytes(1536), "1.5K");
        assert_eq!(age(45_000), "45s");
        assert_eq!(age(725_000), "12m05s");
        assert_eq!(age(3 * 3_600_000 + 20 * 60_000), "3h20m");
        assert_eq!(age(-5), "0s");
    }
}
