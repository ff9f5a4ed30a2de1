//! The webhook: a Slack-style `{"text": …}` POST per new or regressed bug (Slack,
//! Mattermost and Discord's Slack endpoint accept it), a digest when more than
//! `digest_after` arrive within a minute, retries with backoff. It runs on a thread of its
//! own: sending never blocks fuzzing or triage. Each POST goes through fuzzfleet's one
//! HTTP client (`fleet_docs::client`) on the process's I/O runtime, the one the API
//! server runs on too; this thread only waits for it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::background::{Background, JoinError, Recv};

/// The window the digest threshold counts in.
const WINDOW: Duration = Duration::from_secs(60);
/// Attempts per message, with doubling waits from the first.
const ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What the notifier reports back (for the campaign's log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    Sent { messages: usize },
    Failed { error: String, dropped: usize },
}

enum Msg {
    Alert(String),
}

/// A running notifier.
pub struct Notifier {
    worker: Background<Msg>,
}

impl Notifier {
    /// Starts the notifier thread for `url`.
    pub fn spawn(
        url: String,
        digest_after: usize,
        mut on_delivery: Box<dyn FnMut(Delivery) + Send>,
    ) -> std::io::Result<Notifier> {
        let worker = Background::spawn("webhook", move |inbox| {
            let post = |text: &str| post_with_retries(&url, text);
            let mut sent_at: VecDeque<Instant> = VecDeque::new();
            let mut held: Vec<String> = Vec::new();
            let mut window_end: Option<Instant> = None;
            let mut open = true;
            while open || !held.is_empty() {
                let wait = window_end
                    .map(|end| end.saturating_duration_since(Instant::now()))
                    .unwrap_or(Duration::from_secs(3600));
                let msg = if open {
                    match inbox.recv_timeout(wait) {
                        Recv::Msg(m) => Some(m),
                        Recv::Timeout => None,
                        Recv::Closed | Recv::Stop => {
                            open = false;
                            None
                        }
                    }
                } else {
                    None
                };
                let now = Instant::now();
                while sent_at.front().is_some_and(|t| now - *t >= WINDOW) {
                    sent_at.pop_front();
                }
                if let Some(Msg::Alert(text)) = msg {
                    if sent_at.len() < digest_after && held.is_empty() {
                        sent_at.push_back(now);
                        on_delivery(outcome(post(&text), 1));
                    } else {
                        held.push(text);
                        window_end.get_or_insert(now + WINDOW);
                    }
                    continue;
                }
                // The window ran out (or we are stopping): one digest of what was held.
                if !held.is_empty() && (window_end.is_some_and(|e| now >= e) || !open) {
                    let text = digest(&held);
                    let n = held.len();
                    held.clear();
                    window_end = None;
                    sent_at.push_back(now);
                    on_delivery(outcome(post(&text), n));
                }
            }
        })?;
        Ok(Notifier { worker })
    }

    /// Queues one alert.
    pub fn alert(&self, text: String) {
        self.worker.send(Msg::Alert(text));
    }

    /// Sends what is held (as a digest) and waits up to `wait` for the thread; one
    /// still sending then (or that panicked) comes back as the error.
    pub fn finish(self, wait: Duration) -> Option<JoinError> {
        self.worker.join(wait).err()
    }
}

fn outcome(r: Result<(), String>, messages: usize) -> Delivery {
    match r {
        Ok(()) => Delivery::Sent { messages },
        Err(error) => Delivery::Failed {
            error,
            dropped: messages,
        },
    }
}

fn digest(held: &[String]) -> String {
    let mut text = format!("{} more bugs in the last minute:", held.len());
    for line in held.iter().take(50) {
        text.push_str("\n• ");
        text.push_str(line);
    }
    if held.len() > 50 {
        text.push_str(&format!("\n… and {} more", held.len() - 50));
    }
    text
}

/// POSTs `{"text": text}`; retries failures and 5xx/429 answers with doubling waits.
fn post_with_retries(url: &str, text: &str) -> Result<(), String> {
    let body = serde_json::json!({ "text": text });
    let mut backoff = FIRST_BACKOFF;
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        let sent = fleet_docs::runtime::block_on(fleet_docs::client::post_json(
            url,
            &body,
            REQUEST_TIMEOUT,
        ));
        match sent {
            Ok(status) if status.is_success() => return Ok(()),
            Ok(status) if status.is_client_error() && status.as_u16() != 429 => {
                return Err(format!("webhook {url} refused the message: {status}"));
            }
            Ok(status) => last = format!("webhook {url} answered {status}"),
            Err(e) => last = format!("webhook {e}"),
        }
        if attempt < ATTEMPTS {
            std::thread::sleep(backoff);
            backoff *= 2;
        }
    }
    Err(format!("{last} (gave up after {ATTEMPTS} attempts)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleet_testkit::webhook::Webhook;
    use std::sync::{Arc, Mutex};

    #[test]
    fn one_message_per_alert_then_a_digest_past_the_threshold() {
        let hook = Webhook::start();
        let notifier = Notifier::spawn(hook.url.clone(), 2, Box::new(|_| {})).unwrap();
        for i in 0..5 {
            notifier.alert(format!("bug {i}"));
        }
        // Stopping flushes the held ones as one digest instead of waiting the minute.
        notifier.finish(Duration::from_secs(20));
        let texts = hook.texts();
        assert_eq!(texts.len(), 3, "{texts:?}");
        assert_eq!(texts[0], "bug 0");
        assert_eq!(texts[1], "bug 1");
        assert!(
            texts[2].starts_with("3 more bugs in the last minute:"),
            "{}",
            texts[2]
        );
        assert!(texts[2].contains("bug 2") && texts[2].contains("bug 4"));
    }

    #[test]
    fn a_failing_receiver_is_retried_with_backoff() {
        let hook = Webhook::failing_first(2);
        let deliveries = Arc::new(Mutex::new(Vec::new()));
        let d = deliveries.clone();
        let notifier = Notifier::spawn(
            hook.url.clone(),
            5,
            Box::new(move |x| d.lock().unwrap().push(x)),
        )
        .unwrap();
        let start = Instant::now();
        notifier.alert("bug".into());
        notifier.finish(Duration::from_secs(20));
        assert_eq!(hook.bodies().len(), 1);
        assert_eq!(
            deliveries.lock().unwrap().as_slice(),
            &[Delivery::Sent { messages: 1 }]
        );
        // Two failures: waits of 1 s and 2 s before the third attempt.
        assert!(start.elapsed() >= Duration::from_secs(3));
    }

    #[test]
    fn an_unreachable_webhook_gives_up_without_blocking_the_sender() {
        // Nothing listens on port 1 of loopback.
        let deliveries = Arc::new(Mutex::new(Vec::new()));
        let d = deliveries.clone();
        let notifier = Notifier::spawn(
            "http://127.0.0.1:1/hook".into(),
            5,
            Box::new(move |x| d.lock().unwrap().push(x)),
        )
        .unwrap();
        let start = Instant::now();
        notifier.alert("bug".into());
        assert!(start.elapsed() < Duration::from_millis(100));
        notifier.finish(Duration::from_secs(40));
        let got = deliveries.lock().unwrap().clone();
        assert!(
            matches!(&got[..], [Delivery::Failed { dropped: 1, error }] if error.contains("gave up")),
            "{got:?}"
        );
    }
}
