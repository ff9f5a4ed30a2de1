//! The hub: the shared store nodes sync corpora, findings and heartbeats through, a
//! directory (`file://`) or an S3-compatible bucket (`s3://bucket/prefix`).
//!
//! The API is blocking: a [`Hub`] runs each call to completion on the process's one I/O
//! runtime ([`fleet_docs::runtime`], which the API server and the HTTP client use too),
//! waiting on the caller's thread, so the campaign dispatcher (a plain thread) and the
//! CLI call it directly. Do not call it from inside an async task; use `spawn_blocking`
//! there.
//!
//! ```no_run
//! # fn demo(plan_hub: &fleet_config::HubUrl, layout: &fleet_store::Layout,
//! #         node: &fleet_config::NodeName, targets: &[fleet_config::TargetName]) {
//! use fleet_hub::{Hub, HubOptions};
//! let hub = Hub::open(plan_hub, HubOptions::default()).expect("hub config");
//! match hub.sync(layout, node, targets) {
//!     Ok(report) => println!("pushed {}, pulled {}", report.pushed(), report.pulled()),
//!     Err(e) if e.is_degraded() => eprintln!("hub degraded: {e}"),
//!     Err(e) => eprintln!("hub: {e}"),
//! }
//! # }
//! ```
//!
//! Key layout, object formats and the sync protocol: `docs/hub.md`.

mod dirstore;
mod error;
mod heartbeat;
mod keys;
mod local;
mod meta;
mod names;
mod options;
mod store;
mod sync;

use fleet_config::{HubUrl, NodeName, TargetName};
use fleet_store::Layout;

pub use error::HubError;
pub use heartbeat::{Heartbeat, Heartbeats, TargetSummary};
pub use keys::{CrashName, LAYOUT_VERSION, Refusal, Sha1Name};
pub use options::{HubOptions, S3Config};
pub use store::RequestCounts;
pub use sync::{PulledCrash, SyncReport};

/// What a full listing of one target found in the hub.
#[derive(Debug, Default, Clone)]
pub struct Contents {
    pub corpus: Vec<Sha1Name>,
    /// Finding inputs, and whether a report sits beside each.
    pub crashes: Vec<(CrashName, bool)>,
    /// Keys under the target that are not what the layout allows.
    pub refused: Vec<Refusal>,
}

async fn contents(store: &store::Store, target: &TargetName) -> Result<Contents, HubError> {
    meta::read(store).await?;
    let mut out = Contents::default();
    let dir = keys::corpus_dir(target);
    let listed = store.list_after(&dir, None).await?;
    out.refused.extend(listed.refused);
    for key in listed.keys {
        let name = keys::last_segment(&key);
        match Sha1Name::new(name) {
            Ok(sha) if key == dir.clone().join(name) => out.corpus.push(sha),
            Ok(_) => out
                .refused
                .push(Refusal::new(&key, "nested below the corpus")),
            Err(reason) => out.refused.push(Refusal::new(&key, reason)),
        }
    }
    let dir = keys::crashes_dir(target);
    let mut reports = std::collections::HashSet::new();
    let mut inputs = Vec::new();
    let listed = store.list_after(&dir, None).await?;
    out.refused.extend(listed.refused);
    for key in listed.keys {
        let name = keys::last_segment(&key);
        let (stem, is_report) = match name.strip_suffix(".log") {
            Some(stem) => (stem, true),
            None => (name, false),
        };
        match stem.parse::<CrashName>() {
            Ok(crash) if key == dir.clone().join(name) => {
                if is_report {
                    reports.insert(crash);
                } else {
                    inputs.push(crash);
                }
            }
            Ok(_) => out
                .refused
                .push(Refusal::new(&key, "nested below the crashes")),
            Err(reason) => out.refused.push(Refusal::new(&key, reason)),
        }
    }
    out.corpus.sort();
    inputs.sort();
    out.crashes = inputs
        .into_iter()
        .map(|c| {
            let has = reports.contains(&c);
            (c, has)
        })
        .collect();
    Ok(out)
}

/// An opened hub. Cheap to keep for the life of the process; one per hub URL.
///
/// A directory-hub read that never answers (a hung share) stays on one of the
/// runtime's blocking threads; the runtime lives as long as the process and is never
/// waited for, so neither dropping the hub nor exiting waits on it.
pub struct Hub {
    store: store::Store,
    runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("url", &self.store.url())
            .finish()
    }
}

impl Hub {
    /// Opens the hub `url` names. Makes no request: an unreachable hub shows up in the
    /// first [`Hub::sync`], as an error for which [`HubError::is_degraded`] is true.
    /// Fails only on configuration (a directory that does not exist, a bad endpoint).
    pub fn open(url: &HubUrl, options: HubOptions) -> Result<Self, HubError> {
        let runtime = fleet_docs::runtime::handle();
        // object_store's S3 client must be built inside a runtime context.
        let store = {
            let _guard = runtime.enter();
            store::Store::open(url, options)?
        };
        Ok(Self { store, runtime })
    }

    fn block_on<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        self.runtime.block_on(f)
    }

    /// The hub's URL as configured, for messages.
    pub fn url(&self) -> &str {
        self.store.url()
    }

    /// Requests made through this hub so far (all calls, all threads).
    pub fn requests(&self) -> RequestCounts {
        self.store.counts()
    }

    /// Exchanges `targets`' corpora and findings between the state dir and the hub, as
    /// `node`. Pulls what other nodes pushed since this state dir's last sync, then
    /// pushes what the hub does not hold yet. Waits for any other sync of the same state
    /// dir to finish first. Local files are only ever added, never removed.
    ///
    /// `Err` leaves everything done so far recorded; the next sync resumes. Refused hub
    /// objects (bad names or hashes) do not fail the sync: they are listed in the report.
    pub fn sync(
        &self,
        layout: &Layout,
        node: &NodeName,
        targets: &[TargetName],
    ) -> Result<SyncReport, HubError> {
        self.block_on(sync::run(&self.store, layout, node, targets))
    }

    /// Everything the hub holds for `target`, by full listing: for audits (`doctor`,
    /// `collect`, tests), never for sync, whose cost must not grow with the corpus.
    pub fn contents(&self, target: &TargetName) -> Result<Contents, HubError> {
        self.block_on(contents(&self.store, target))
    }

    /// Writes (replaces) this node's heartbeat.
    pub fn write_heartbeat(&self, heartbeat: &Heartbeat) -> Result<(), HubError> {
        self.block_on(heartbeat::write(&self.store, heartbeat))
    }

    /// Every node's latest heartbeat.
    pub fn heartbeats(&self) -> Result<Heartbeats, HubError> {
        self.block_on(heartbeat::read_all(&self.store))
    }
}

#[cfg(test)]
mod tests {
    /// The agent runs syncs on a thread of their own and reads counters from another.
    #[test]
    fn hub_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<super::Hub>();
    }
}
