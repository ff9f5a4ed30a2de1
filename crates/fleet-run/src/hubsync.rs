//! Syncing a state dir with the hub: one round (push what is new here, pull what other
//! nodes found, record their findings, write this node's heartbeat), the node's name,
//! and the hub's health as `status` shows it.

use std::fs;
use std::io;

use fleet_config::{NodeName, TargetName};
use fleet_hub::{Heartbeat, Hub, HubError, SyncReport, TargetSummary};
use fleet_store::{Db, FindingInsert, Layout, StoreError, now_ms, rfc3339};

pub use fleet_docs::hub::{HUB_META, HubStatus};

/// What one round did, for the campaign's notices.
#[derive(Debug)]
pub struct Round {
    pub report: SyncReport,
    /// Findings of other nodes now recorded here: (target, kind, id, new).
    pub findings: Vec<(String, String, i64, bool)>,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("hub: {0}")]
    Hub(#[from] HubError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    /// The hub is unreachable or refuses us: fuzzing goes on, sync retries later.
    pub fn is_degraded(&self) -> bool {
        matches!(self, SyncError::Hub(e) if e.is_degraded())
    }
}

/// This state dir's node name: `FUZZFLEET_NODE` if set, else the one saved in the state
/// dir, else a new one (the host name and a random suffix, so two state dirs on one
/// machine are two nodes), saved for next time.
pub fn node_name(layout: &Layout) -> io::Result<NodeName> {
    let invalid =
        |e: fleet_config::NameError| io::Error::new(io::ErrorKind::InvalidData, e.to_string());
    if let Ok(name) = std::env::var("FUZZFLEET_NODE") {
        return NodeName::new(name).map_err(invalid);
    }
    let file = layout.root().join("node-name");
    if let Ok(name) = fs::read_to_string(&file) {
        return NodeName::new(name.trim()).map_err(invalid);
    }
    let host: String = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "node".into())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    let suffix = fleet_store::sha1_hex(
        format!("{}{:?}", std::process::id(), std::time::SystemTime::now()).as_bytes(),
    );
    let name = NodeName::new(format!("{}-{}", host.trim_start_matches('.'), &suffix[..6]))
        .map_err(invalid)?;
    fleet_store::write_atomic(&file, name.as_str().as_bytes())?;
    Ok(name)
}

/// One sync round; the hub's health is recorded either way.
pub fn sync_round(
    hub: &Hub,
    layout: &Layout,
    db: &Db,
    node: &NodeName,
    targets: &[TargetName],
) -> Result<Round, SyncError> {
    let previous: HubStatus = db
        .meta(HUB_META)?
        .and_then(|(v, _)| serde_json::from_str(&v).ok())
        .unwrap_or_default();
    let now = now_ms();
    let result = hub.sync(layout, node, targets);
    let mut status = HubStatus {
        url: hub.url().to_string(),
        last_sync_at: Some(rfc3339(now)),
        ..previous
    };
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            status.state = if e.is_degraded() { "degraded" } else { "error" }.into();
            status.message = Some(e.to_string());
            db.put_meta(
                HUB_META,
                &serde_json::to_string(&status).unwrap_or_default(),
                now,
            )?;
            return Err(e.into());
        }
    };
    let mut findings = Vec::new();
    for c in &report.pulled_crashes {
        let size = fs::metadata(&c.input).map(|m| m.len()).unwrap_or(0);
        let kind = c.kind.to_string();
        let (id, new) = db.record_finding(&FindingInsert {
            target: c.target.as_str(),
            kind: &kind,
            sha1: &c.sha1,
            input_path: &c.input,
            report_path: c.report.as_deref(),
            size_bytes: size,
            at_ms: now,
            node: Some(c.node.as_str()),
        })?;
        findings.push((c.target.to_string(), kind, id, new));
    }
    let summaries: Vec<TargetSummary> = db
        .targets()?
        .into_iter()
        .filter_map(|t| {
            Some(TargetSummary {
                name: TargetName::new(&t.name).ok()?,
                state: t.state,
                workers: t.workers.max(0) as u32,
                execs: t.execs.max(0) as u64,
                execs_per_sec: t.execs_per_sec,
                corpus_files: t.corpus_files.max(0) as u64,
                crashes: 0,
            })
        })
        .collect();
    let heartbeat = hub.write_heartbeat(&Heartbeat::new(node.clone(), summaries));
    // Objects the hub holds but this node would not use (bad names, links or FIFOs in a
    // directory hub, objects not read in time) were skipped: the round itself is ok, and
    // says what it skipped.
    status.state = "ok".into();
    status.last_ok_at = status.last_sync_at.clone();
    let notes: Vec<String> = heartbeat
        .err()
        .map(|e| format!("heartbeat not written: {e}"))
        .into_iter()
        .chain(skipped_note(&report.refused))
        .collect();
    status.message = (!notes.is_empty()).then(|| notes.join("; "));
    status.pushed += report.pushed() as u64;
    status.pulled += report.pulled() as u64;
    db.put_meta(
        HUB_META,
        &serde_json::to_string(&status).unwrap_or_default(),
        now,
    )?;
    Ok(Round { report, findings })
}

/// How many hub objects a round skipped, and the first few keys with why.
fn skipped_note(refused: &[fleet_hub::Refusal]) -> Option<String> {
    const SHOWN: usize = 3;
    let first = refused.first()?;
    let mut note = format!("skipped {} hub object(s): {first}", refused.len());
    for r in refused.iter().skip(1).take(SHOWN - 1) {
        note.push_str("; ");
        note.push_str(&r.to_string());
    }
    if refused.len() > SHOWN {
        note.push_str(&format!("; and {} more", refused.len() - SHOWN));
    }
    Some(note)
}

/// The campaign's sync thread: a round at once, then every `every`, and a last one when
/// the campaign stops. Results arrive as [`Event::HubSynced`](crate::events::Event).
pub struct SyncThread {
    worker: crate::background::Background<()>,
}

impl std::fmt::Debug for SyncThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SyncThread")
    }
}

/// What the dispatcher hears of a round.
#[derive(Debug)]
pub struct RoundOutcome {
    pub pushed: usize,
    pub pulled: usize,
    pub findings: Vec<(String, String, i64, bool)>,
    pub error: Option<String>,
    /// Hub objects the round skipped, one line each naming the key and why: the round
    /// went on without them and is not a failure.
    pub skipped: Vec<String>,
}

impl SyncThread {
    pub fn spawn(
        url: fleet_config::HubUrl,
        layout: Layout,
        node: NodeName,
        targets: Vec<TargetName>,
        every: std::time::Duration,
        tx: std::sync::mpsc::Sender<crate::events::Event>,
    ) -> io::Result<Self> {
        use crate::background::{Background, Recv};
        let worker = Background::spawn("hub-sync", move |inbox| {
            let send = |outcome: RoundOutcome| {
                let _ = tx.send(crate::events::Event::HubSynced(outcome));
            };
            let opened = Hub::open(&url, fleet_hub::HubOptions::default())
                .map_err(|e| e.to_string())
                .and_then(|hub| {
                    Db::open(&layout.db_path())
                        .map(|db| (hub, db))
                        .map_err(|e| e.to_string())
                });
            let (hub, db) = match opened {
                Ok(pair) => pair,
                Err(error) => {
                    return send(RoundOutcome {
                        pushed: 0,
                        pulled: 0,
                        findings: Vec::new(),
                        error: Some(error),
                        skipped: Vec::new(),
                    });
                }
            };
            loop {
                let outcome = match sync_round(&hub, &layout, &db, &node, &targets) {
                    Ok(round) => RoundOutcome {
                        pushed: round.report.pushed(),
                        pulled: round.report.pulled(),
                        skipped: round.report.refused.iter().map(|r| r.to_string()).collect(),
                        findings: round.findings,
                        error: None,
                    },
                    Err(e) => RoundOutcome {
                        pushed: 0,
                        pulled: 0,
                        findings: Vec::new(),
                        error: Some(e.to_string()),
                        skipped: Vec::new(),
                    },
                };
                send(outcome);
                match inbox.recv_timeout(every) {
                    Recv::Timeout | Recv::Msg(()) => continue,
                    // Stopping: one last round so what was found last reaches the hub.
                    Recv::Stop | Recv::Closed => {
                        let error = sync_round(&hub, &layout, &db, &node, &targets)
                            .err()
                            .map(|e| format!("the last sync: {e}"));
                        // Said only when it failed: the campaign is ending.
                        if error.is_some() {
                            send(RoundOutcome {
                                pushed: 0,
                                pulled: 0,
                                findings: Vec::new(),
                                error,
                                skipped: Vec::new(),
                            });
                        }
                        return;
                    }
                }
            }
        })?;
        Ok(Self { worker })
    }

    /// Asks for the last round and waits for it up to `wait`; a round still running
    /// then (or a thread that panicked) comes back as the error, and is left behind.
    pub fn finish(self, wait: std::time::Duration) -> Option<crate::background::JoinError> {
        self.worker.stop();
        self.worker.join(wait).err()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A FIFO planted in a directory hub used to hang every round (the hub then showed
    /// as degraded for good); now the round ends, ok, and names what it skipped.
    #[test]
    fn a_round_skips_a_fifo_in_the_hub_names_it_and_the_hub_stays_ok() {
        let tmp = fleet_testkit::state_temp_dir();
        let hub_dir = tmp.path().join("hub");
        fs::create_dir_all(hub_dir.join("v1/log/t/evil")).unwrap();
        let fifo = |path: &std::path::Path| {
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        };
        // A FIFO where a batch is, and one where an entry another batch names is (the
        // one that hung every round).
        fifo(&hub_dir.join("v1/log/t/evil/00000000000000000001.json"));
        let sha = fleet_store::sha1_hex(b"never written");
        fifo(&hub_dir.join("v1/corpus/t").join(&sha));
        let batch = serde_json::json!({
            "version": 1, "target": "t", "node": "liar", "seq": 1,
            "time": "2026-12-01T00:00:00Z", "corpus": [sha], "crashes": [],
        });
        fs::create_dir_all(hub_dir.join("v1/log/t/liar")).unwrap();
        fs::write(
            hub_dir.join("v1/log/t/liar/00000000000000000001.json"),
            batch.to_string(),
        )
        .unwrap();
        let layout = Layout::new(tmp.path().join("state"));
        fs::create_dir_all(layout.root()).unwrap();
        let entry = b"an entry of this node";
        fleet_store::write_atomic(
            &layout.corpus_dir("t").join(fleet_store::sha1_hex(entry)),
            entry,
        )
        .unwrap();
        let db = Db::open(&layout.db_path()).unwrap();
        let options = fleet_hub::HubOptions {
            request_timeout: std::time::Duration::from_secs(5),
            ..fleet_hub::HubOptions::default()
        };
        let hub = Hub::open(&fleet_config::HubUrl::Dir(hub_dir.clone()), options).unwrap();
        let (node, targets) = (NodeName::new("n").unwrap(), [TargetName::new("t").unwrap()]);
        // The rounds run on a thread of their own, so a round that hangs fails the test
        // at its deadline instead of hanging it.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for _ in 0..2 {
                let round = sync_round(&hub, &layout, &db, &node, &targets).map(|r| r.report);
                let status = db.meta(HUB_META).unwrap().unwrap().0;
                if tx.send((round, status)).is_err() {
                    return;
                }
            }
        });
        for round in 0..2 {
            let (report, json) = rx
                .recv_timeout(std::time::Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("round {round} did not end within 60 s"));
            assert_eq!(report.unwrap().pushed(), usize::from(round == 0));
            let status: HubStatus = serde_json::from_str(&json).unwrap();
            assert_eq!(status.state, "ok", "{status:?}");
            let message = status.message.unwrap_or_default();
            // The batch is refused as it is listed, every round; the entry once, when
            // the batch naming it is read.
            let skipped = if round == 0 { 2 } else { 1 };
            assert!(
                message.contains(&format!(
                    "skipped {skipped} hub object(s): refused hub key \
                     v1/log/t/evil/00000000000000000001.json: a FIFO"
                )),
                "{message}"
            );
            assert_eq!(
                message.contains(&format!("refused hub key v1/corpus/t/{sha}: a FIFO")),
                round == 0,
                "{message}"
            );
        }
    }
}
