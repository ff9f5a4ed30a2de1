//! How durations, rates and byte sizes read in every human-facing output: `2d 4h`,
//! `12h`, `3m 20s`, `1.2k`, `3.4M` — short, with spaces, never `2days`; and the line
//! that says a campaign's errors.

use std::time::Duration;

/// `45s`, `3m 20s`, `12h`, `2d 4h`: the two largest units, dropping a zero second one.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    let units = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    let Some(i) = units.iter().position(|(n, _)| s >= *n) else {
        return "0s".into();
    };
    let (n, u) = units[i];
    let mut out = format!("{}{u}", s / n);
    if let Some((m, v)) = units.get(i + 1) {
        let rest = (s % n) / m;
        if rest > 0 {
            out.push_str(&format!(" {rest}{v}"));
        }
    }
    out
}

/// An exec rate: `850`, `12.3k`, `1.5M`.
pub fn rate(r: f64) -> String {
    // An empty sum is -0.0: nothing runs, and nothing reads "-0".
    if r.is_nan() || r < 0.5 {
        return "0".into();
    }
    if r >= 1e6 {
        format!("{:.1}M", r / 1e6)
    } else if r >= 1e4 {
        format!("{:.0}k", r / 1e3)
    } else if r >= 1e3 {
        format!("{:.1}k", r / 1e3)
    } else {
        format!("{r:.0}")
    }
}

/// A size in binary units, compact, as the status table, the live view and the
/// dashboard print corpus and memory sizes: `512B`, `1.5K`, `29.5K`, `2.3G`.
pub fn bytes(n: u64) -> String {
    let mut v = n as f64;
    for unit in ["K", "M", "G", "T"] {
        v /= 1024.0;
        if v < 1024.0 || unit == "T" {
            return if n < 1024 {
                format!("{n}B")
            } else {
                format!("{v:.1}{unit}")
            };
        }
    }
    unreachable!("the last unit returns")
}

/// The line saying the last campaign's errors (under `status`'s table, the live view's
/// totals and the dashboard's system line), or `None` when it met none:
/// `errors: 3 (last at 2026-12-07T14:05:57Z: cannot save the error count: database is
/// locked)`.
pub fn errors(e: Option<&crate::report::ErrorsDoc>) -> Option<String> {
    let e = e.filter(|e| e.count > 0)?;
    let at = e
        .last_at
        .as_deref()
        .map_or(String::new(), |at| format!(" at {at}"));
    Some(match e.last.as_deref().map(str::trim) {
        Some(last) if !last.is_empty() => format!("errors: {} (last{at}: {last})", e.count),
        _ if !at.is_empty() => format!("errors: {} (last{at})", e.count),
        _ => format!("errors: {}", e.count),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_short() {
        let d = |s| duration(Duration::from_secs(s));
        assert_eq!(d(0), "0s");
        assert_eq!(d(45), "45s");
        assert_eq!(d(200), "3m 20s");
        assert_eq!(d(43_200), "12h");
        assert_eq!(d(2 * 86_400), "2d");
        assert_eq!(d(2 * 86_400 + 4 * 3600 + 59), "2d 4h");
    }

    #[test]
    fn rates_and_bytes() {
        assert_eq!(rate(850.4), "850");
        assert_eq!(rate(1_234.0), "1.2k");
        assert_eq!(rate(45_000.0), "45k");
        assert_eq!(rate(1_500_000.0), "1.5M");
        assert_eq!(bytes(512), "512B");
        assert_eq!(bytes(1536), "1.5K");
        assert_eq!(bytes(3 * 1024 * 1024 + 400 * 1024), "3.4M");
        assert_eq!(bytes(5 << 40), "5.0T");
        assert_eq!(bytes(5 << 50), "5120.0T");
    }
}
