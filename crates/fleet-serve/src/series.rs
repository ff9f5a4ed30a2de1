//! Per-target history for plots: the time window a request asks for, and the folding of
//! stored samples into a bounded number of points.

use fleet_store::Sample;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::docs::SeriesPoint;

/// At most this many points per series, whatever the window: bounded work per plot.
pub const MAX_POINTS: usize = 600;

/// The window when a request names none.
pub const DEFAULT_WINDOW_MS: i64 = 24 * 3_600_000;

/// `since` as milliseconds since the epoch: digits are milliseconds, anything else must be
/// an RFC 3339 time (`t`/`z` in either case; a leap second counts as the second before).
pub fn parse_since(raw: &str) -> Result<i64, String> {
    if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        return raw
            .parse::<i64>()
            .ok()
            .filter(|ms| *ms <= MAX_MS)
            .ok_or_else(|| format!("since={raw}: milliseconds out of range"));
    }
    let bad = |e: &dyn std::fmt::Display| {
        format!("since={raw}: not an RFC 3339 time or milliseconds since the epoch ({e})")
    };
    let mut text = raw.to_ascii_uppercase();
    if text.get(17..19) == Some("60") {
        text.replace_range(17..19, "59");
    }
    let t = OffsetDateTime::parse(&text, &Rfc3339).map_err(|e| bad(&e))?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// The largest `since` in milliseconds (15 digits, far past any sample).
const MAX_MS: i64 = 999_999_999_999_999;

/// Folds `samples` (oldest first) into at most `max` points of equal time width over
/// `[since, until]`.
pub fn downsample(samples: &[Sample], since: i64, until: i64, max: usize) -> Vec<SeriesPoint> {
    let point = |s: &Sample| SeriesPoint {
        t: s.ts,
        workers: s.workers,
        execs: s.execs,
        execs_per_sec: s.execs_per_sec,
        coverage: s.coverage,
        features: s.features,
        corpus_files: s.corpus_files,
        corpus_bytes: s.corpus_bytes,
    };
    if samples.len() <= max {
        return samples.iter().map(point).collect();
    }
    let width = ((until - since).max(1) as u64).div_ceil(max.max(1) as u64) as i64;
    let mut out: Vec<SeriesPoint> = Vec::with_capacity(max);
    let mut group = (i64::MIN, 0usize, 0.0f64);
    for s in samples {
        let key = (s.ts - since).max(0) / width.max(1);
        match out.last_mut() {
            Some(p) if group.0 == key => {
                group.1 += 1;
                group.2 += s.execs_per_sec;
                p.t = p.t.max(s.ts);
                p.workers = p.workers.max(s.workers);
                p.execs = p.execs.max(s.execs);
                p.execs_per_sec = group.2 / group.1 as f64;
                p.coverage = p.coverage.max(s.coverage);
                p.features = p.features.max(s.features);
                p.corpus_files = p.corpus_files.max(s.corpus_files);
                p.corpus_bytes = p.corpus_bytes.max(s.corpus_bytes);
            }
            _ => {
                group = (key, 1, s.execs_per_sec);
                out.push(point(s));
            }
        }
    }
    for p in &mut out {
        p.execs_per_sec = (p.execs_per_sec * 10.0).round() / 10.0;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ts: i64, eps: f64, cov: i64) -> Sample {
        Sample {
            target: "t".into(),
            ts,
            span_s: 10,
            workers: 1,
            execs: ts,
            execs_per_sec: eps,
            coverage: Some(cov),
            ..Sample::default()
        }
    }

    #[test]
    fn few_samples_pass_through() {
        let s = vec![sample(1_000, 5.0, 1), sample(2_000, 7.0, 2)];
        let p = downsample(&s, 0, 3_000, 10);
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].coverage, Some(2));
    }

    #[test]
    fn many_samples_fold_to_at_most_max_keeping_maxima_and_means() {
        let s: Vec<_> = (0..10_000)
            .map(|i| sample(i * 10_000, (i % 2) as f64 * 10.0, i))
            .collect();
        let p = downsample(&s, 0, 10_000 * 10_000, 100);
        assert!(p.len() <= 100 && p.len() >= 90, "{}", p.len());
        assert_eq!(p.last().unwrap().coverage, Some(9_999));
        assert!(p.iter().all(|p| (p.execs_per_sec - 5.0).abs() < 0.01));
        assert!(p.windows(2).all(|w| w[0].t < w[1].t));
    }

    #[test]
    fn since_takes_milliseconds_or_rfc3339() {
        assert_eq!(parse_since("1700000000000"), Ok(1_700_000_000_000));
        assert_eq!(parse_since("2023-11-14T22:13:20Z"), Ok(1_700_000_000_000));
        assert!(parse_since("yesterday").is_err());
        assert_eq!(parse_since("2023-11-14t22:13:20z"), Ok(1_700_000_000_000));
        assert_eq!(parse_since("2016-12-31T23:59:60Z"), Ok(1_483_228_799_000));
        assert!(parse_since("").is_err());
        assert!(parse_since("99999999999999999999999").is_err());
        assert!(parse_since("1000000000000000").is_err());
    }
}
