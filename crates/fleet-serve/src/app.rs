//! What every request shares: the state dir, a few read connections to its database,
//! the last system sample, and short-lived copies of the status and crash documents.

use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use fleet_docs::report::{self, CrashesDoc, StatusDoc};
use fleet_docs::system::{self, SystemStatus};
use fleet_store::{Db, Layout, StoreError};
use tokio::sync::Semaphore;

use crate::FleetView;
use crate::ServeOptions;
use crate::auth::Token;
use crate::docs::{CrashMark, FleetDoc, SeriesDoc};
use crate::series::Rollup;

/// Read connections at most: requests beyond wait their turn, so a crowd of clients
/// costs the campaign no more than this many readers.
const READERS: usize = 3;

/// How long a built status or crash document is served again: the campaign writes
/// every 2 s, so rebuilding more often shows nothing new.
const DOC_TTL: Duration = Duration::from_millis(1000);

/// How long the fleet's document is served again: reading every node takes a round trip
/// through each one's tunnel.
const FLEET_TTL: Duration = Duration::from_secs(5);

/// How often the system figures are refreshed (in the background, never per request).
const SYSTEM_EVERY: Duration = Duration::from_secs(2);
const CPU_WINDOW: Duration = Duration::from_millis(500);
/// The first sample's, taken before the server answers (it delays the start by that).
const FIRST_CPU_WINDOW: Duration = Duration::from_millis(100);

pub struct App {
    pub layout: Layout,
    pub known: Vec<String>,
    pub node: String,
    /// Read once: `available_parallelism` reads cgroup files on every call.
    pub cores: usize,
    pub token: Option<Token>,
    pub extras: crate::Extras,
    readers: Semaphore,
    idle: Mutex<Vec<Db>>,
    system: Arc<RwLock<SystemStatus>>,
    sampler: Mutex<Option<mpsc::Sender<()>>>,
    status: Cached<StatusDoc>,
    crashes: Cached<CrashesDoc>,
    /// Each target's default-window series (what every dashboard asks for).
    series: Mutex<HashMap<String, Arc<Cached<SeriesDoc>>>>,
    /// Each target's history folded in memory (see [`Rollup`]).
    rollups: Mutex<HashMap<String, Arc<Mutex<Rollup>>>>,
    /// Findings by target, for the series' bug marks and crash bars.
    findings: Cached<FindingsIndex>,
    fleet_view: Option<Arc<dyn FleetView>>,
    fleet: Cached<FleetDoc>,
    /// One fleet read at a time; the others wait for its result.
    fleet_reading: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("state", &self.layout.root())
            .finish_non_exhaustive()
    }
}

/// Why a request could not be answered from the state.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl App {
    pub fn new(opts: &ServeOptions, extras: crate::Extras) -> Arc<Self> {
        let layout = Layout::new(&opts.state_dir);
        let node = node_name(&layout);
        // A first sample before the first request: a page opened at once read "cpu 0% ·
        // memory 0B of 0B" while the sampler's first window ran.
        let first = system::sample(layout.root(), FIRST_CPU_WINDOW);
        let system = Arc::new(RwLock::new(first));
        let (stop, stopped) = mpsc::channel::<()>();
        spawn_sampler(layout.root(), system.clone(), stopped);
        Arc::new(Self {
            node,
            cores: thread::available_parallelism().map_or(1, |n| n.get()),
            known: opts.known_targets.clone(),
            token: opts.token.as_deref().map(Token::new),
            readers: Semaphore::new(READERS),
            idle: Mutex::new(Vec::new()),
            system,
            sampler: Mutex::new(Some(stop)),
            status: Cached::default(),
            crashes: Cached::default(),
            series: Mutex::new(HashMap::new()),
            rollups: Mutex::new(HashMap::new()),
            findings: Cached::default(),
            fleet_view: opts.fleet.clone(),
            fleet: Cached::default(),
            fleet_reading: tokio::sync::Mutex::new(()),
            extras,
            layout,
        })
    }

    /// Ends the background sampler.
    pub fn stop(&self) {
        self.sampler
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }

    pub fn system(&self) -> SystemStatus {
        self.system
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Runs `f` with a read connection on the blocking pool, at most [`READERS`] at once.
    pub async fn with_db<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Self, &Db) -> Result<T, StateError> + Send + 'static,
    ) -> Result<T, StateError> {
        let _permit = self.readers.acquire().await.expect("never closed");
        let app = self.clone();
        tokio::task::spawn_blocking(move || {
            let (db, real) = app.take_db()?;
            let out = f(&app, &db);
            if real {
                app.idle.lock().unwrap_or_else(|e| e.into_inner()).push(db);
            }
            out
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    }

    /// A read connection and whether it is the state's own. Before the first `run` made
    /// the database, an empty one in memory stands in for it (an empty campaign: the
    /// configured targets, never run, no crashes), and the state dir is left alone; the
    /// real database is opened as soon as it appears.
    fn take_db(&self) -> Result<(Db, bool), StateError> {
        if let Some(db) = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok((db, true));
        }
        let path = self.layout.db_path();
        if !path.exists() {
            return Ok((Db::open(std::path::Path::new(":memory:"))?, false));
        }
        Ok((Db::open(&path)?, true))
    }

    /// Whether a campaign has made the state's database yet.
    pub fn has_state(&self) -> bool {
        self.layout.db_path().exists()
    }

    /// The status document, rebuilt at most once per [`DOC_TTL`].
    pub async fn status(self: &Arc<Self>) -> Result<Arc<StatusDoc>, StateError> {
        if let Some(doc) = self.status.fresh() {
            return Ok(doc);
        }
        self.with_db(|app, db| {
            let mut doc = report::status(db, &app.known, app.system())?;
            if !app.extras.tiers.is_empty() {
                let mut places = report::schedule_places(db, &app.extras.tiers)?;
                for t in &mut doc.targets {
                    t.schedule = places.remove(&t.name);
                }
            }
            let doc = Arc::new(doc);
            app.status.put(doc.clone());
            Ok(doc)
        })
        .await
    }

    /// Worker time spent fuzzing, summed over the targets, in milliseconds.
    pub async fn fuzzed_ms(self: &Arc<Self>) -> Result<i64, StateError> {
        self.with_db(|_, db| Ok(db.targets()?.iter().map(|t| t.fuzz_ms).sum()))
            .await
    }

    /// The crash document, rebuilt at most once per [`DOC_TTL`].
    pub async fn crashes(self: &Arc<Self>) -> Result<Arc<CrashesDoc>, StateError> {
        if let Some(doc) = self.crashes.fresh() {
            return Ok(doc);
        }
        self.with_db(|app, db| {
            let doc = Arc::new(report::crashes(db, &app.node)?);
            app.crashes.put(doc.clone());
            Ok(doc)
        })
        .await
    }
}

impl App {
    /// Whether this server shows the fleet (`serve --all-nodes`).
    pub fn has_fleet(&self) -> bool {
        self.fleet_view.is_some()
    }

    /// Every node's status, read at most once per [`FLEET_TTL`]; `None` without a fleet.
    pub async fn fleet(self: &Arc<Self>) -> Option<Arc<FleetDoc>> {
        let view = self.fleet_view.clone()?;
        if let Some(doc) = self.fleet.fresh_within(FLEET_TTL) {
            return Some(doc);
        }
        let _reading = self.fleet_reading.lock().await;
        if let Some(doc) = self.fleet.fresh_within(FLEET_TTL) {
            return Some(doc);
        }
        // Cached by the read itself: a client that leaves mid-read does not waste it.
        let app = self.clone();
        let doc = tokio::task::spawn_blocking(move || {
            let doc = Arc::new(view.fleet());
            app.fleet.put(doc.clone());
            doc
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        Some(doc)
    }

    /// The default-window series of `target` if built less than [`DOC_TTL`] ago.
    pub fn cached_series(&self, target: &str) -> Option<Arc<SeriesDoc>> {
        let map = self.series.lock().unwrap_or_else(|e| e.into_inner());
        map.get(target)?.fresh()
    }

    /// Keeps a default-window series; only targets that exist are ever kept, so the map
    /// stays as small as the target list.
    pub fn keep_series(&self, doc: Arc<SeriesDoc>) {
        let mut map = self.series.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(doc.target.clone()).or_default().put(doc);
    }
}

/// Each target's findings as the plots need them.
#[derive(Debug, Default)]
pub struct FindingsIndex {
    pub targets: HashMap<String, TargetFindings>,
}

#[derive(Debug, Default)]
pub struct TargetFindings {
    /// Each triaged bug at its first finding, oldest first.
    pub bugs: Vec<CrashMark>,
    /// When each crashing input was first seen, sorted.
    pub inputs: Vec<i64>,
}

impl FindingsIndex {
    fn build(db: &Db) -> Result<Self, StateError> {
        let mut targets: HashMap<String, TargetFindings> = HashMap::new();
        let mut first: HashMap<(String, String), (i64, String)> = HashMap::new();
        for f in db.findings()?.into_iter().filter(|f| f.kind != "slow") {
            let t = targets.entry(f.target.clone()).or_default();
            t.inputs.push(f.first_seen);
            if let Some(bucket) = f.bucket {
                let e = first
                    .entry((f.target, bucket))
                    .or_insert((f.first_seen, f.kind.clone()));
                if f.first_seen < e.0 {
                    *e = (f.first_seen, f.kind);
                }
            }
        }
        for ((target, id), (t, kind)) in first {
            targets
                .entry(target)
                .or_default()
                .bugs
                .push(CrashMark { t, id, kind });
        }
        for t in targets.values_mut() {
            t.inputs.sort_unstable();
            t.bugs.sort_by(|a, b| (a.t, &a.id).cmp(&(b.t, &b.id)));
        }
        Ok(Self { targets })
    }
}

impl App {
    /// The findings index, rebuilt at most once per [`DOC_TTL`] (call on the blocking pool).
    pub fn findings_index(&self, db: &Db) -> Result<Arc<FindingsIndex>, StateError> {
        if let Some(doc) = self.findings.fresh() {
            return Ok(doc);
        }
        let doc = Arc::new(FindingsIndex::build(db)?);
        self.findings.put(doc.clone());
        Ok(doc)
    }

    /// `target`'s rollup brought up to date with the samples stored since its newest
    /// (built from the whole history the first time; call on the blocking pool).
    pub fn rollup(
        &self,
        db: &Db,
        target: &str,
        now: i64,
    ) -> Result<Arc<Mutex<Rollup>>, StateError> {
        let r = self
            .rollups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(target.to_string())
            .or_insert_with(|| Arc::new(Mutex::new(Rollup::new())))
            .clone();
        {
            let mut guard = r.lock().unwrap_or_else(|e| e.into_inner());
            let from = guard.newest.map_or(0, |t| t + 1);
            let fresh = db.samples(target, from)?;
            guard.extend(&fresh, now);
        }
        Ok(r)
    }
}

/// The node's name as `crashes list` reports it; the state dir is never written for it.
fn node_name(layout: &Layout) -> String {
    if let Ok(name) = std::env::var("FUZZFLEET_NODE") {
        return name;
    }
    std::fs::read_to_string(layout.root().join("node-name"))
        .map(|n| n.trim().to_string())
        .unwrap_or_else(|_| "unnamed".into())
}

/// Samples the machine every [`SYSTEM_EVERY`] until `stopped` says so (or its sender is gone).
fn spawn_sampler(state: &Path, into: Arc<RwLock<SystemStatus>>, stopped: mpsc::Receiver<()>) {
    let state = state.to_path_buf();
    let _ = thread::Builder::new()
        .name("fleet-serve-system".into())
        .spawn(move || {
            loop {
                let s = system::sample(&state, CPU_WINDOW);
                *into.write().unwrap_or_else(|e| e.into_inner()) = s;
                match stopped.recv_timeout(SYSTEM_EVERY) {
                    Err(RecvTimeoutError::Timeout) => continue,
                    _ => break,
                }
            }
        });
}

/// A value and when it was built.
struct Cached<T>(Mutex<Option<(Instant, Arc<T>)>>);

impl<T> Default for Cached<T> {
    fn default() -> Self {
        Self(Mutex::new(None))
    }
}

impl<T> Cached<T> {
    fn fresh(&self) -> Option<Arc<T>> {
        self.fresh_within(DOC_TTL)
    }

    fn fresh_within(&self, ttl: Duration) -> Option<Arc<T>> {
        let guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        guard
            .as_ref()
            .filter(|(at, _)| at.elapsed() < ttl)
            .map(|(_, v)| v.clone())
    }

    fn put(&self, v: Arc<T>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), v));
    }
}
