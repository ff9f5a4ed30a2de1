//! Alert bookkeeping: a condition becomes an alert once (after it has held for the
//! sustain time, where that applies) and a recovery once, never one message per check.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub use fleet_docs::resources::Alert;

/// An alert raised or recovered: what the log, the webhook and the CLI are told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub kind: String,
    pub severity: String,
    pub message: String,
    pub recovered: bool,
}

impl Report {
    /// The one line the log and the webhook carry.
    pub fn text(&self) -> String {
        if self.recovered {
            format!("RECOVERED {}: {}", self.kind, self.message)
        } else {
            format!("ALERT {} ({}): {}", self.kind, self.severity, self.message)
        }
    }
}

/// A condition that counts only once it has held for `hold` (and is over only once it
/// has been absent as long): one sample over a threshold is not an alert.
#[derive(Clone, Debug, Default)]
pub struct Sustained {
    /// Since when the observed value disagrees with `active`.
    changing_since: Option<Instant>,
    pub active: bool,
}

impl Sustained {
    /// Feeds one observation; returns `Some(true)` when the condition becomes active,
    /// `Some(false)` when it recovers.
    pub fn observe(&mut self, over: bool, now: Instant, hold: Duration) -> Option<bool> {
        if over == self.active {
            self.changing_since = None;
            return None;
        }
        let since = *self.changing_since.get_or_insert(now);
        if now.duration_since(since) >= hold {
            self.active = over;
            self.changing_since = None;
            return Some(over);
        }
        None
    }
}

/// The active alerts by kind.
#[derive(Debug, Default)]
pub struct Alerts {
    active: BTreeMap<String, Alert>,
}

impl Alerts {
    /// Raises `kind` unless it is already active (its message is refreshed then).
    pub fn raise(&mut self, kind: &str, severity: &str, message: String) -> Option<Report> {
        if let Some(a) = self.active.get_mut(kind) {
            a.message = message;
            return None;
        }
        self.active.insert(
            kind.to_string(),
            Alert {
                kind: kind.to_string(),
                severity: severity.to_string(),
                message: message.clone(),
                since: fleet_store::rfc3339(fleet_store::now_ms()),
            },
        );
        Some(Report {
            kind: kind.to_string(),
            severity: severity.to_string(),
            message,
            recovered: false,
        })
    }

    /// Clears `kind` if active, with the recovery's message.
    pub fn recover(&mut self, kind: &str, message: String) -> Option<Report> {
        let a = self.active.remove(kind)?;
        Some(Report {
            kind: a.kind,
            severity: a.severity,
            message,
            recovered: true,
        })
    }

    pub fn is_active(&self, kind: &str) -> bool {
        self.active.contains_key(kind)
    }

    pub fn list(&self) -> Vec<Alert> {
        self.active.values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOLD: Duration = Duration::from_secs(60);

    #[test]
    fn one_sample_over_is_no_alert_a_sustained_run_is_one() {
        let t0 = Instant::now();
        let s = |secs| t0 + Duration::from_secs(secs);
        let mut c = Sustained::default();
        assert_eq!(c.observe(true, s(0), HOLD), None);
        // A dip resets the clock.
        assert_eq!(c.observe(false, s(30), HOLD), None);
        assert_eq!(c.observe(true, s(40), HOLD), None);
        assert_eq!(c.observe(true, s(90), HOLD), None);
        assert_eq!(c.observe(true, s(100), HOLD), Some(true));
        // Held: no repeat.
        for i in 0..10 {
            assert_eq!(c.observe(true, s(110 + i * 5), HOLD), None);
        }
        // Recovery is sustained too.
        assert_eq!(c.observe(false, s(200), HOLD), None);
        assert_eq!(c.observe(true, s(210), HOLD), None);
        assert_eq!(c.observe(false, s(220), HOLD), None);
        assert_eq!(c.observe(false, s(280), HOLD), Some(false));
        assert_eq!(c.observe(false, s(300), HOLD), None);
    }

    #[test]
    fn an_alert_is_raised_once_and_recovered_once() {
        let mut a = Alerts::default();
        let first = a.raise("disk", "warning", "disk 85% used".into()).unwrap();
        assert_eq!(first.text(), "ALERT disk (warning): disk 85% used");
        assert_eq!(a.raise("disk", "warning", "disk 86% used".into()), None);
        assert_eq!(a.list()[0].message, "disk 86% used");
        let back = a.recover("disk", "disk 70% used".into()).unwrap();
        assert_eq!(back.text(), "RECOVERED disk: disk 70% used");
        assert_eq!(a.recover("disk", "again".into()), None);
        assert!(a.list().is_empty());
    }
}
