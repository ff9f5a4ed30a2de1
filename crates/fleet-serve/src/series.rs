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

/// Windows up to this long are read from the stored samples directly (at most 720 rows
/// of 10 s); longer ones from the in-memory rollup.
pub const RAW_WINDOW_MS: i64 = 2 * 3_600_000;

/// The rollup's levels: (bin width, how long its bins are kept). A window is served from
/// the finest level that holds all of it in at most `4 * MAX_POINTS` bins.
const LEVELS: [(i64, i64); 4] = [
    (60_000, 26 * 3_600_000),
    (300_000, 8 * 86_400_000),
    (3_600_000, 36 * 86_400_000),
    (86_400_000, i64::MAX),
];

/// One folded interval of samples.
#[derive(Clone, Copy, Debug, Default)]
struct Bin {
    start: i64,
    /// The newest sample's time.
    t: i64,
    samples: u32,
    /// Seconds of fuzzing the samples cover (weights their rates).
    span_s: i64,
    eps_weighted: f64,
    workers: i64,
    execs: i64,
    coverage: Option<i64>,
    features: Option<i64>,
    corpus_files: Option<i64>,
    corpus_bytes: Option<i64>,
}

impl Bin {
    fn of(start: i64, s: &Sample) -> Self {
        let span = s.span_s.max(1);
        Bin {
            start,
            t: s.ts,
            samples: 1,
            span_s: span,
            eps_weighted: s.execs_per_sec * span as f64,
            workers: s.workers,
            execs: s.execs,
            coverage: s.coverage,
            features: s.features,
            corpus_files: s.corpus_files,
            corpus_bytes: s.corpus_bytes,
        }
    }

    fn add(&mut self, s: &Sample) {
        let span = s.span_s.max(1);
        self.t = self.t.max(s.ts);
        self.samples += 1;
        self.span_s += span;
        self.eps_weighted += s.execs_per_sec * span as f64;
        self.workers = self.workers.max(s.workers);
        self.execs = self.execs.max(s.execs);
        self.coverage = self.coverage.max(s.coverage);
        self.features = self.features.max(s.features);
        self.corpus_files = self.corpus_files.max(s.corpus_files);
        self.corpus_bytes = self.corpus_bytes.max(s.corpus_bytes);
    }

    fn sample(&self) -> Sample {
        Sample {
            target: String::new(),
            ts: self.t,
            span_s: self.span_s,
            workers: self.workers,
            execs: self.execs,
            execs_per_sec: self.eps_weighted / self.span_s.max(1) as f64,
            coverage: self.coverage,
            features: self.features,
            corpus_files: self.corpus_files,
            corpus_bytes: self.corpus_bytes,
            rss_mb: None,
        }
    }
}

/// A target's history folded in memory at a few resolutions, so a series over days or
/// a month folds a few thousand bins instead of reading tens of thousands of rows. Built
/// once from the database, then fed only the samples newer than the newest it has.
#[derive(Debug, Default)]
pub struct Rollup {
    levels: Vec<(i64, i64, std::collections::VecDeque<Bin>)>,
    /// The newest sample folded in (`None`: nothing yet).
    pub newest: Option<i64>,
    oldest: Option<i64>,
}

impl Rollup {
    pub fn new() -> Self {
        Rollup {
            levels: LEVELS
                .iter()
                .map(|&(w, keep)| (w, keep, Default::default()))
                .collect(),
            newest: None,
            oldest: None,
        }
    }

    /// Folds `samples` in (any order; normally each newer than the last) and drops bins
    /// older than each level keeps, counted from `now`.
    pub fn extend(&mut self, samples: &[Sample], now: i64) {
        for s in samples {
            self.newest = self.newest.max(Some(s.ts));
            self.oldest = Some(self.oldest.map_or(s.ts, |o| o.min(s.ts)));
            for (width, _, bins) in &mut self.levels {
                let start = s.ts - s.ts.rem_euclid(*width);
                match bins.back_mut() {
                    Some(b) if b.start == start => b.add(s),
                    Some(b) if b.start > start => {
                        // Out of order: find its bin (or make one in place).
                        match bins.binary_search_by_key(&start, |b| b.start) {
                            Ok(i) => bins[i].add(s),
                            Err(i) => bins.insert(i, Bin::of(start, s)),
                        }
                    }
                    _ => bins.push_back(Bin::of(start, s)),
                }
            }
        }
        for (_, keep, bins) in &mut self.levels {
            let cutoff = now.saturating_sub(*keep);
            while bins.front().is_some_and(|b| b.start < cutoff) {
                bins.pop_front();
            }
        }
    }

    /// Where a window from `since` really starts: no earlier than the history does.
    pub fn start_of(&self, since: i64) -> i64 {
        since.max(self.oldest.unwrap_or(since))
    }

    /// The window's points (at most `max`) and how many stored samples they fold.
    pub fn points(
        &self,
        since: i64,
        until: i64,
        now: i64,
        max: usize,
    ) -> (Vec<SeriesPoint>, usize) {
        let from = self.start_of(since);
        let level = self
            .levels
            .iter()
            .find(|(width, keep, _)| {
                now.saturating_sub(*keep) <= from && ((until - from) / width) as usize <= 4 * max
            })
            .or(self.levels.last());
        let Some((_, _, bins)) = level else {
            return (Vec::new(), 0);
        };
        let first = bins.partition_point(|b| b.t < since);
        let samples: Vec<Sample> = bins.range(first..).map(Bin::sample).collect();
        let folded = bins.range(first..).map(|b| b.samples as usize).sum();
        (downsample(&samples, from, until, max), folded)
    }
}

/// The width of a crash-count bar for a window: the shortest of a few round widths that
/// splits the window into at most 60 bars.
pub fn bin_width(since: i64, until: i64) -> i64 {
    const WIDTHS: [i64; 8] = [
        60_000,
        300_000,
        900_000,
        3_600_000,
        6 * 3_600_000,
        86_400_000,
        7 * 86_400_000,
        30 * 86_400_000,
    ];
    let span = (until - since).max(1);
    WIDTHS
        .into_iter()
        .find(|w| span / w <= 60)
        .unwrap_or(WIDTHS[WIDTHS.len() - 1])
}

/// Counts of `times` (sorted) in `[since, until]` per bar of `width` (aligned to the
/// epoch): only bars with something in them.
pub fn count_bins(times: &[i64], since: i64, until: i64, width: i64) -> Vec<crate::docs::CrashBin> {
    let lo = times.partition_point(|&t| t < since);
    let hi = times.partition_point(|&t| t <= until);
    let mut out: Vec<crate::docs::CrashBin> = Vec::new();
    for &t in &times[lo..hi] {
        let start = t - t.rem_euclid(width);
        match out.last_mut() {
            Some(b) if b.t == start => b.inputs += 1,
            _ => out.push(crate::docs::CrashBin {
                t: start,
                inputs: 1,
            }),
        }
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

    #[test]
    fn the_rollup_serves_a_month_in_bounded_points_matching_the_raw_fold() {
        let day = 86_400_000;
        let now = 40 * day;
        // A month of samples every 10 s, coverage growing by one per hour.
        let samples: Vec<Sample> = (0..(30 * 8640))
            .map(|i| {
                let mut s = sample(
                    now - 30 * day + i * 10_000,
                    100.0 + (i % 2) as f64 * 20.0,
                    i / 360,
                );
                s.span_s = 10;
                s
            })
            .collect();
        let mut r = Rollup::new();
        r.extend(&samples[..1000], now);
        r.extend(&samples[1000..], now);
        for (window, at_most) in [
            (3 * 3_600_000, 600),
            (day, 600),
            (7 * day, 600),
            (30 * day, 600),
        ] {
            let since = now - window;
            let (points, folded) = r.points(since, now, now, MAX_POINTS);
            let raw: Vec<Sample> = samples.iter().filter(|s| s.ts >= since).cloned().collect();
            assert!(
                !points.is_empty() && points.len() <= at_most,
                "{window}: {}",
                points.len()
            );
            assert_eq!(folded, raw.len(), "{window}: every sample is folded once");
            // The newest point carries the newest values, every rate the mean.
            let last = points.last().unwrap();
            assert_eq!(last.coverage, raw.last().unwrap().coverage, "{window}");
            assert!(
                points.iter().all(|p| (p.execs_per_sec - 110.0).abs() < 0.5),
                "{window}"
            );
            assert!(points.windows(2).all(|w| w[0].t < w[1].t), "{window}");
            assert!(points[0].t >= since, "{window}");
        }
        // Bins older than a level keeps are dropped: the minute level holds about a day.
        assert!(
            r.levels[0].2.len() <= 26 * 60 + 1,
            "{}",
            r.levels[0].2.len()
        );
    }

    #[test]
    fn crash_bars_count_inputs_per_round_interval() {
        assert_eq!(bin_width(0, 3_600_000), 60_000);
        assert_eq!(bin_width(0, 86_400_000), 3_600_000);
        assert_eq!(bin_width(0, 30 * 86_400_000), 86_400_000);
        let times = [10, 59_999, 60_000, 200_000, 500_000];
        let bins = count_bins(&times, 0, 300_000, 60_000);
        let got: Vec<(i64, i64)> = bins.iter().map(|b| (b.t, b.inputs)).collect();
        assert_eq!(got, [(0, 2), (60_000, 1), (180_000, 1)]);
    }
}
