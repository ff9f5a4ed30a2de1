//! One background-worker type for the campaign's helper threads (triage, webhook, hub
//! sync, corpus minimization, an AFL++ run's replay): a thread fed by a channel, asked to stop (a flag it sees
//! at once, and a wake-up if it is waiting), and joined with a deadline that is never
//! a hang: a thread that does not end in time, or that panicked, comes back as a
//! [`JoinError`] naming it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::Duration;

enum Envelope<M> {
    Msg(M),
    /// Wakes a worker waiting on its inbox so it sees the stop flag at once.
    Stop,
}

/// Sends messages to a worker; cloned freely (a worker may hold one to another).
pub struct Mailbox<M> {
    tx: Sender<Envelope<M>>,
    stop: Arc<AtomicBool>,
}

impl<M> Clone for Mailbox<M> {
    fn clone(&self) -> Self {
        Mailbox {
            tx: self.tx.clone(),
            stop: self.stop.clone(),
        }
    }
}

impl<M> std::fmt::Debug for Mailbox<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mailbox")
    }
}

impl<M> Mailbox<M> {
    /// Queues `msg`; false when the worker is gone.
    pub fn send(&self, msg: M) -> bool {
        self.tx.send(Envelope::Msg(msg)).is_ok()
    }
}

/// What a worker reads its messages from.
pub struct Inbox<M> {
    rx: Receiver<Envelope<M>>,
    stop: Arc<AtomicBool>,
}

impl<M> std::fmt::Debug for Inbox<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Inbox")
    }
}

/// What a worker got from its inbox.
#[derive(Debug, PartialEq, Eq)]
pub enum Recv<M> {
    Msg(M),
    /// Nothing came in time (or, for [`Inbox::try_recv`], nothing is queued).
    Timeout,
    /// It was asked to stop.
    Stop,
    /// Every mailbox is gone and nothing is left queued.
    Closed,
}

impl<M> Inbox<M> {
    /// Whether the worker was asked to stop.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// The next message, waiting up to `wait`.
    pub fn recv_timeout(&self, wait: Duration) -> Recv<M> {
        if self.stopping() {
            return Recv::Stop;
        }
        match self.rx.recv_timeout(wait) {
            Ok(envelope) => self.open(envelope),
            Err(RecvTimeoutError::Timeout) => Recv::Timeout,
            Err(RecvTimeoutError::Disconnected) => Recv::Closed,
        }
    }

    /// The next message if one is queued.
    pub fn try_recv(&self) -> Recv<M> {
        if self.stopping() {
            return Recv::Stop;
        }
        match self.rx.try_recv() {
            Ok(envelope) => self.open(envelope),
            Err(TryRecvError::Empty) => Recv::Timeout,
            Err(TryRecvError::Disconnected) => Recv::Closed,
        }
    }

    fn open(&self, envelope: Envelope<M>) -> Recv<M> {
        match envelope {
            Envelope::Msg(m) if !self.stopping() => Recv::Msg(m),
            _ => Recv::Stop,
        }
    }
}

/// A new channel for a worker: mailboxes may be handed out (to another worker) before
/// the worker starts with [`Background::start`].
pub fn channel<M>() -> (Mailbox<M>, Inbox<M>) {
    let (tx, rx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    (
        Mailbox {
            tx,
            stop: stop.clone(),
        },
        Inbox { rx, stop },
    )
}

/// Why a worker could not be joined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    #[error("the {name} thread did not end within {}s; left running", waited.as_secs_f64())]
    Deadline { name: String, waited: Duration },
    #[error("the {name} thread panicked: {message}")]
    Panicked { name: String, message: String },
}

/// A running worker thread, owned by whoever started it.
pub struct Background<M> {
    name: String,
    mailbox: Option<Mailbox<M>>,
    stop: Arc<AtomicBool>,
    /// Disconnected once the worker's closure has ended, normally or by a panic.
    ended: Receiver<()>,
    handle: Option<JoinHandle<()>>,
}

impl<M> std::fmt::Debug for Background<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Background")
            .field("name", &self.name)
            .finish()
    }
}

impl<M: Send + 'static> Background<M> {
    /// Starts `work` on a thread named `name`, with a channel of its own.
    pub fn spawn<F>(name: &str, work: F) -> std::io::Result<Background<M>>
    where
        F: FnOnce(Inbox<M>) + Send + 'static,
    {
        Background::start(name, channel(), work)
    }

    /// Starts `work` on a thread named `name`, reading the channel made earlier with
    /// [`channel`].
    pub fn start<F>(
        name: &str,
        (mailbox, inbox): (Mailbox<M>, Inbox<M>),
        work: F,
    ) -> std::io::Result<Background<M>>
    where
        F: FnOnce(Inbox<M>) + Send + 'static,
    {
        let (ended_tx, ended) = mpsc::channel::<()>();
        let stop = mailbox.stop.clone();
        let handle = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                // Dropped when `work` returns or unwinds: the joiner's signal.
                let _ended = ended_tx;
                work(inbox);
            })?;
        Ok(Background {
            name: name.to_string(),
            mailbox: Some(mailbox),
            stop,
            ended,
            handle: Some(handle),
        })
    }
}

impl<M> Background<M> {
    /// Queues `msg` (dropped once the worker is closed or gone).
    pub fn send(&self, msg: M) {
        if let Some(m) = &self.mailbox {
            m.send(msg);
        }
    }

    /// A mailbox to the worker, for others to send on.
    pub fn mailbox(&self) -> Option<Mailbox<M>> {
        self.mailbox.clone()
    }

    /// Whether the thread has ended.
    pub fn is_finished(&self) -> bool {
        self.handle.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Asks the worker to stop: it sees [`Recv::Stop`] at its next receive, at once if
    /// it is waiting.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(m) = &self.mailbox {
            let _ = m.tx.send(Envelope::Stop);
        }
    }

    /// Drops this side's mailbox: the worker sees [`Recv::Closed`] once every other
    /// mailbox is gone too and it has read what was queued.
    pub fn close(&mut self) {
        self.mailbox = None;
    }

    /// Closes the channel and waits up to `wait` for the thread to end (without
    /// polling: the wait ends the moment it does).
    pub fn join(mut self, wait: Duration) -> Result<(), JoinError> {
        self.close();
        match self.ended.recv_timeout(wait) {
            Err(RecvTimeoutError::Timeout) => {
                return Err(JoinError::Deadline {
                    name: self.name.clone(),
                    waited: wait,
                });
            }
            Ok(()) | Err(RecvTimeoutError::Disconnected) => {}
        }
        let Some(handle) = self.handle.take() else {
            return Ok(());
        };
        handle.join().map_err(|payload| JoinError::Panicked {
            name: self.name.clone(),
            message: payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn messages_arrive_in_order_and_closing_ends_the_worker() {
        let (tx, rx) = mpsc::channel();
        let worker = Background::spawn("echo", move |inbox: Inbox<u32>| {
            loop {
                match inbox.recv_timeout(Duration::from_secs(60)) {
                    Recv::Msg(n) => tx.send(n).unwrap(),
                    Recv::Closed => return tx.send(0).unwrap(),
                    Recv::Timeout | Recv::Stop => return,
                }
            }
        })
        .unwrap();
        worker.send(1);
        worker.send(2);
        worker.join(Duration::from_secs(30)).unwrap();
        assert_eq!(rx.iter().collect::<Vec<_>>(), [1, 2, 0]);
    }

    #[test]
    fn a_stop_wakes_a_waiting_worker_at_once() {
        let worker = Background::spawn("sleeper", |inbox: Inbox<()>| {
            // Would wait an hour if the stop did not wake it.
            assert_eq!(inbox.recv_timeout(Duration::from_secs(3600)), Recv::Stop);
            assert!(inbox.stopping());
        })
        .unwrap();
        // A mailbox still held elsewhere does not keep a stopped worker waiting.
        let _other = worker.mailbox();
        let start = Instant::now();
        worker.stop();
        worker.join(Duration::from_secs(30)).unwrap();
        assert!(start.elapsed() < Duration::from_secs(30));
    }

    #[test]
    fn a_queued_message_is_not_handed_out_after_a_stop() {
        let (mailbox, inbox) = channel::<u32>();
        mailbox.send(7);
        let (go, gate) = mpsc::channel::<()>();
        let worker = Background::start("late", (mailbox, inbox), move |inbox| {
            gate.recv().unwrap();
            assert_eq!(inbox.try_recv(), Recv::Stop);
            assert_eq!(inbox.recv_timeout(Duration::from_secs(3600)), Recv::Stop);
        })
        .unwrap();
        worker.stop();
        go.send(()).unwrap();
        worker.join(Duration::from_secs(30)).unwrap();
    }

    #[test]
    fn a_worker_past_the_join_deadline_is_an_error_not_a_hang() {
        let (release, wait) = mpsc::channel::<()>();
        let worker = Background::spawn("stuck", move |_: Inbox<()>| {
            // Ignores its inbox until the test lets it go.
            let _ = wait.recv();
        })
        .unwrap();
        let start = Instant::now();
        let err = worker.join(Duration::from_millis(100)).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(30));
        assert_eq!(
            err,
            JoinError::Deadline {
                name: "stuck".into(),
                waited: Duration::from_millis(100)
            }
        );
        assert!(
            err.to_string()
                .contains("the stuck thread did not end within 0.1s")
        );
        release.send(()).unwrap();
    }

    #[test]
    fn a_panicking_worker_is_reported_with_its_message() {
        let worker = Background::spawn("doomed", |_: Inbox<()>| {
            panic!("the pipeline broke");
        })
        .unwrap();
        let err = worker.join(Duration::from_secs(30)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the doomed thread panicked: the pipeline broke"
        );
    }
}
