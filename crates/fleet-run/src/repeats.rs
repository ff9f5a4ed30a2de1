//! One line for an error that repeats: the first time it is said at once, copies within
//! [`QUIET_FOR`] are counted, and the count is said when the error changes or once per
//! [`QUIET_FOR`] while it goes on ("repeated 30 times in the last 60s"). A full disk must
//! not print the same database error every two seconds.

use std::time::{Duration, Instant};

/// How long copies of one error are counted before the count is said.
pub const QUIET_FOR: Duration = Duration::from_secs(60);

/// The errors said so far and the copies not said yet.
#[derive(Debug, Default)]
pub struct Repeats {
    last: Option<(String, Instant)>,
    copies: u64,
    /// Errors reported in all, said or counted (shown in `status`).
    pub total: u64,
}

impl Repeats {
    /// What to say for `message` now: nothing (a counted copy), or lines to print.
    pub fn admit(&mut self, message: &str, now: Instant) -> Vec<String> {
        self.total += 1;
        let mut out = Vec::new();
        match &mut self.last {
            Some((last, since)) if last == message => {
                self.copies += 1;
                if now.duration_since(*since) >= QUIET_FOR {
                    out.push(format!(
                        "{message} (repeated {} times in the last {}s)",
                        self.copies,
                        now.duration_since(*since).as_secs()
                    ));
                    *since = now;
                    self.copies = 0;
                }
            }
            _ => {
                out.extend(self.flush());
                out.push(message.to_owned());
                self.last = Some((message.to_owned(), now));
            }
        }
        out
    }

    /// The count of copies not said yet (at a change, or when the campaign ends).
    pub fn flush(&mut self) -> Option<String> {
        let (last, _) = self.last.as_ref()?;
        let line = (self.copies > 0).then(|| {
            format!(
                "the previous error repeated {} more times: {last}",
                self.copies
            )
        });
        self.copies = 0;
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_error_is_said_once_then_counted() {
        let t0 = Instant::now();
        let mut r = Repeats::default();
        assert_eq!(r.admit("disk full", t0), vec!["disk full"]);
        for i in 1..=29 {
            assert!(
                r.admit("disk full", t0 + Duration::from_secs(2 * i))
                    .is_empty()
            );
        }
        let said = r.admit("disk full", t0 + Duration::from_secs(60));
        assert_eq!(said, vec!["disk full (repeated 30 times in the last 60s)"]);
        assert!(
            r.admit("disk full", t0 + Duration::from_secs(62))
                .is_empty()
        );
        let said = r.admit("hub down", t0 + Duration::from_secs(64));
        assert_eq!(
            said,
            vec![
                "the previous error repeated 1 more times: disk full".to_string(),
                "hub down".to_string()
            ]
        );
        assert_eq!(r.flush(), None);
        assert_eq!(r.total, 33);
    }
}
