//! Sources feed the model: each polls one node (the local state dir, or a remote
//! agent's API) on its own thread, so a slow or dead node never blocks the view.

pub mod local;
pub mod remote;

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::model::{NodeData, Point, Update, extend_history};

/// One node's figures, read on demand.
pub trait Source: Send {
    /// The name shown before the first poll answers.
    fn name(&self) -> String;
    /// Where the figures come from (a state dir, a URL).
    fn origin(&self) -> String;
    /// Reads the node now: its own name if it tells one, and its figures or why not.
    fn poll(&mut self) -> (Option<String>, Result<NodeData, String>);
}

/// Keeps each target's history between polls, so each poll asks only for what is new.
#[derive(Debug, Default)]
pub struct HistoryBook {
    series: BTreeMap<String, Vec<Point>>,
}

impl HistoryBook {
    /// The time after which `target`'s samples are new, or `None` before its first.
    pub fn last_t_ms(&self, target: &str) -> Option<i64> {
        self.series.get(target)?.last().map(|p| p.t_ms)
    }

    pub fn add(&mut self, target: &str, fresh: impl IntoIterator<Item = Point>) {
        extend_history(self.series.entry(target.to_string()).or_default(), fresh);
    }

    /// Puts each target's history into `data`; forgets targets the node no longer has.
    pub fn attach(&mut self, data: &mut NodeData) {
        self.series
            .retain(|name, _| data.targets.iter().any(|t| &t.name == name));
        for t in &mut data.targets {
            t.history = self.series.get(&t.name).cloned().unwrap_or_default();
        }
    }
}

/// How far back a node's history goes on the first poll.
pub const HISTORY_WINDOW: Duration = Duration::from_secs(30 * 60);

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Running pollers; dropping this stops them after their poll in flight (a thread
/// blocked on a dead node ends at its request timeout, or with the process).
#[derive(Debug)]
pub struct Pollers {
    _stop: Vec<mpsc::Sender<()>>,
}

/// Starts one thread per source, each polling every `interval` and sending `Update`s
/// for node `i` (its index in `sources`) to `tx`.
pub fn spawn(
    sources: Vec<Box<dyn Source>>,
    interval: Duration,
    tx: mpsc::Sender<Update>,
) -> Pollers {
    let mut stop = Vec::new();
    for (node, mut source) in sources.into_iter().enumerate() {
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        stop.push(stop_tx);
        let tx = tx.clone();
        thread::Builder::new()
            .name(format!("poll-{node}"))
            .spawn(move || {
                loop {
                    let (name, result) = source.poll();
                    let update = Update {
                        node,
                        name,
                        result,
                        at_ms: now_ms(),
                    };
                    if tx.send(update).is_err() {
                        return;
                    }
                    // The stop channel doubles as the interval's deadline.
                    match stop_rx.recv_timeout(interval) {
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                }
            })
            .expect("spawning a poller thread");
    }
    Pollers { _stop: stop }
}
