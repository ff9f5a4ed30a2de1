//! Heartbeats: each node's latest word on what it runs, one small object per node,
//! overwritten on every write, so reading the fleet costs one listing and a get per node.

use bytes::Bytes;
use fleet_config::{NodeName, TargetName};
use serde::{Deserialize, Serialize};

use crate::keys::{self, Refusal};
use crate::store::{Got, Store};
use crate::{HubError, meta};

const HEARTBEAT_VERSION: u32 = 1;
const MAX_HEARTBEAT_BYTES: u64 = 1 << 20;

/// `v1/heartbeats/<node>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub version: u32,
    pub node: NodeName,
    /// The fuzzfleet that wrote it.
    pub fuzzfleet_version: String,
    /// RFC 3339 UTC.
    pub time: String,
    pub targets: Vec<TargetSummary>,
}

/// One target's line in a heartbeat: the fields of `status --json` a fleet view needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetSummary {
    pub name: TargetName,
    /// As `status --json` says it ("running", "idle", …).
    pub state: String,
    #[serde(default)]
    pub workers: u32,
    #[serde(default)]
    pub execs: u64,
    #[serde(default)]
    pub execs_per_sec: f64,
    #[serde(default)]
    pub corpus_files: u64,
    #[serde(default)]
    pub crashes: u64,
}

impl Heartbeat {
    /// A heartbeat stamped now, by this build.
    pub fn new(node: NodeName, targets: Vec<TargetSummary>) -> Self {
        Self {
            version: HEARTBEAT_VERSION,
            node,
            fuzzfleet_version: env!("CARGO_PKG_VERSION").to_owned(),
            time: fleet_store::rfc3339(fleet_store::now_ms()),
            targets,
        }
    }
}

/// Every node's heartbeat, and the heartbeat objects that could not be used.
#[derive(Debug, Default, Clone)]
pub struct Heartbeats {
    pub heartbeats: Vec<Heartbeat>,
    pub refused: Vec<Refusal>,
}

pub(crate) async fn write(store: &Store, heartbeat: &Heartbeat) -> Result<(), HubError> {
    meta::ensure(store, heartbeat.node.as_str()).await?;
    let bytes = serde_json::to_vec_pretty(heartbeat).expect("heartbeat serializes");
    store
        .put(&keys::heartbeat(&heartbeat.node), Bytes::from(bytes))
        .await
}

pub(crate) async fn read_all(store: &Store) -> Result<Heartbeats, HubError> {
    meta::read(store).await?;
    let dir = keys::heartbeats_dir();
    let listed = store.list_after(&dir, None).await?;
    let mut out = Heartbeats {
        refused: listed.refused,
        ..Heartbeats::default()
    };
    for key in listed.keys {
        let name = keys::last_segment(&key);
        let node = match name.strip_suffix(".json").map(NodeName::new) {
            Some(Ok(node)) if key == dir.clone().join(name) => node,
            Some(Err(e)) => {
                out.refused.push(Refusal::new(&key, e.reason));
                continue;
            }
            _ => {
                out.refused
                    .push(Refusal::new(&key, "not a heartbeat name (<node>.json)"));
                continue;
            }
        };
        let bytes = match store.get(&key, MAX_HEARTBEAT_BYTES).await? {
            Got::Bytes(b) => b,
            Got::Missing => continue,
            refused => {
                let reason = refused.refusal(MAX_HEARTBEAT_BYTES).unwrap_or_default();
                out.refused.push(Refusal::new(&key, reason));
                continue;
            }
        };
        match serde_json::from_slice::<Heartbeat>(&bytes) {
            Ok(hb) if hb.node == node => out.heartbeats.push(hb),
            Ok(hb) => out.refused.push(Refusal::new(
                &key,
                format!("written for node {:?}", hb.node.as_str()),
            )),
            Err(e) => out
                .refused
                .push(Refusal::new(&key, format!("not a heartbeat: {e}"))),
        }
    }
    out.heartbeats.sort_by(|a, b| a.node.cmp(&b.node));
    Ok(out)
}
