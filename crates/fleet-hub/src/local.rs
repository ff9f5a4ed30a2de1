//! The node's side of a sync: what it remembers about the hub (cursors, sequence numbers,
//! which entries the hub already holds), the lock that keeps two syncs of one state dir
//! apart, and writing pulled objects into the corpus and crashes dirs.
//!
//! ```text
//! <state>/hub/state.json       hub identity, per target: own last batch, per node: last batch read
//! <state>/hub/known/<target>   append-only: entries the hub is known to hold (pushed or pulled)
//! <state>/hub/lock             flock held for the length of a sync
//! <state>/hub/tmp/             pulled objects are written here, then renamed into place
//! ```
//!
//! `known/<target>` is a journal rather than part of `state.json` so that a sync writes
//! what changed (a few lines) instead of rewriting 100,000 names; its first line names
//! the hub it describes, so a journal left from another hub is ignored, never trusted.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

use fleet_config::{NodeName, TargetName};
use fleet_store::{Layout, write_atomic};
use serde::{Deserialize, Serialize};

use crate::HubError;
use crate::keys::{CrashName, Sha1Name};

const STATE_VERSION: u32 = 1;

fn hub_dir(layout: &Layout) -> PathBuf {
    layout.root().join("hub")
}

fn state_path(layout: &Layout) -> PathBuf {
    hub_dir(layout).join("state.json")
}

fn known_path(layout: &Layout, target: &TargetName) -> PathBuf {
    hub_dir(layout).join("known").join(target.as_str())
}

fn tmp_dir(layout: &Layout) -> PathBuf {
    hub_dir(layout).join("tmp")
}

/// An exclusive lock on the state dir's hub state, released on drop.
pub(crate) struct SyncLock {
    _lock: nix::fcntl::Flock<fs::File>,
}

impl SyncLock {
    /// Waits for any other sync of this state dir (the agent's periodic one, a
    /// `corpus sync` by hand) to finish first.
    pub(crate) fn acquire(layout: &Layout) -> Result<Self, HubError> {
        let dir = hub_dir(layout);
        fs::create_dir_all(&dir).map_err(HubError::local(&dir))?;
        let path = dir.join("lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(HubError::local(&path))?;
        let lock = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive).map_err(
            |(_, errno)| HubError::Local {
                path,
                source: io::Error::from(errno),
            },
        )?;
        Ok(Self { _lock: lock })
    }
}

/// `state.json`: small, rewritten atomically after every batch.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct State {
    version: u32,
    /// The `hub_id` of the hub's `meta.json` this state describes.
    pub(crate) hub_id: Option<String>,
    #[serde(default)]
    pub(crate) targets: BTreeMap<TargetName, TargetState>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct TargetState {
    /// This node's newest batch for the target; never goes down, even across hub resets,
    /// so a reader's cursor on this node never skips a batch.
    #[serde(default)]
    pub(crate) last_seq: Option<u64>,
    /// Per other node: the last batch read.
    #[serde(default)]
    pub(crate) cursors: BTreeMap<NodeName, u64>,
}

impl State {
    pub(crate) fn load(layout: &Layout) -> Result<Self, HubError> {
        let path = state_path(layout);
        match fs::read(&path) {
            Ok(bytes) => {
                let state: State = serde_json::from_slice(&bytes).map_err(|e| HubError::Local {
                    path: path.clone(),
                    source: io::Error::new(io::ErrorKind::InvalidData, e),
                })?;
                if state.version > STATE_VERSION {
                    return Err(HubError::Local {
                        path,
                        source: io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("written by a newer fuzzfleet (version {})", state.version),
                        ),
                    });
                }
                Ok(state)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(State {
                version: STATE_VERSION,
                ..State::default()
            }),
            Err(e) => Err(HubError::Local { path, source: e }),
        }
    }

    pub(crate) fn save(&self, layout: &Layout) -> Result<(), HubError> {
        let path = state_path(layout);
        let mut bytes = serde_json::to_vec_pretty(self).expect("state serializes");
        bytes.push(b'\n');
        write_atomic(&path, &bytes).map_err(HubError::local(path))
    }

    pub(crate) fn target(&mut self, target: &TargetName) -> &mut TargetState {
        self.targets.entry(target.clone()).or_default()
    }
}

/// Entries of one target the hub is known to hold, and the journal that remembers them.
pub(crate) struct Known {
    path: PathBuf,
    pub(crate) corpus: HashSet<Sha1Name>,
    /// Finding name → SHA-1 of the report last exchanged for it (pushed, or the local
    /// one after a pull): a local report that differs from it is pushed.
    pub(crate) crashes: HashMap<CrashName, Option<Sha1Name>>,
    pending: Vec<String>,
    /// The file is missing or describes another hub: the next flush rewrites it whole.
    stale: bool,
}

impl Known {
    /// Reads the journal; one written for another hub counts as empty.
    pub(crate) fn load(
        layout: &Layout,
        target: &TargetName,
        hub_id: &str,
    ) -> Result<Self, HubError> {
        let path = known_path(layout, target);
        let mut known = Known {
            path: path.clone(),
            corpus: HashSet::new(),
            crashes: HashMap::new(),
            pending: Vec::new(),
            stale: true,
        };
        let file = match fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(known),
            Err(e) => return Err(HubError::Local { path, source: e }),
        };
        let mut lines = io::BufReader::new(file).lines();
        let header = lines.next().transpose().map_err(HubError::local(&path))?;
        if header.as_deref() != Some(&header_line(hub_id)) {
            return Ok(known);
        }
        known.stale = false;
        for line in lines {
            let line = line.map_err(HubError::local(&path))?;
            // A line cut short by a crash does not parse and is skipped: at worst the
            // entry is pushed again.
            known.apply(&line);
        }
        Ok(known)
    }

    fn apply(&mut self, line: &str) {
        let mut parts = line.split(' ');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("c"), Some(sha), None, None) => {
                if let Ok(sha) = Sha1Name::new(sha) {
                    self.corpus.insert(sha);
                }
            }
            (Some("x"), Some(name), Some(report), None) => {
                let report = match report {
                    "-" => Some(None),
                    r => Sha1Name::new(r).ok().map(Some),
                };
                if let (Ok(name), Some(report)) = (name.parse::<CrashName>(), report) {
                    self.crashes.insert(name, report);
                }
            }
            _ => {}
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.corpus.is_empty() && self.crashes.is_empty()
    }

    pub(crate) fn add_corpus(&mut self, sha: Sha1Name) {
        self.pending.push(format!("c {sha}"));
        self.corpus.insert(sha);
    }

    pub(crate) fn add_crash(&mut self, name: CrashName, report: Option<Sha1Name>) {
        let shown = report.as_ref().map_or("-", Sha1Name::as_str);
        self.pending.push(format!("x {name} {shown}"));
        self.crashes.insert(name, report);
    }

    /// Appends what was added since the last flush, durably.
    pub(crate) fn flush(&mut self, hub_id: &str) -> Result<(), HubError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut text = String::new();
        if self.stale {
            text.push_str(&header_line(hub_id));
            text.push('\n');
        }
        for line in self.pending.drain(..) {
            text.push_str(&line);
            text.push('\n');
        }
        if self.stale {
            write_atomic(&self.path, text.as_bytes()).map_err(HubError::local(&self.path))?;
            self.stale = false;
            return Ok(());
        }
        let result = (|| {
            let mut f = fs::OpenOptions::new().append(true).open(&self.path)?;
            f.write_all(text.as_bytes())?;
            f.sync_data()
        })();
        result.map_err(HubError::local(&self.path))
    }

    /// Forgets everything: the hub lost what it held (reset or replaced).
    pub(crate) fn reset(&mut self, hub_id: &str) -> Result<(), HubError> {
        self.corpus.clear();
        self.crashes.clear();
        self.pending.clear();
        let header = format!("{}\n", header_line(hub_id));
        write_atomic(&self.path, header.as_bytes()).map_err(HubError::local(&self.path))?;
        self.stale = false;
        Ok(())
    }
}

fn header_line(hub_id: &str) -> String {
    format!("hub {hub_id}")
}

/// The target's corpus entries, by name. Names that are not SHA-1s (temp files, seeds
/// under their own names) are left out: the hub is content-addressed.
pub(crate) fn corpus_names(
    layout: &Layout,
    target: &TargetName,
) -> Result<Vec<Sha1Name>, HubError> {
    let mut names: Vec<Sha1Name> = read_names(&layout.corpus_dir(target.as_str()))?
        .iter()
        .filter_map(|n| Sha1Name::new(n).ok())
        .collect();
    names.sort();
    Ok(names)
}

/// The target's kept findings (inputs; reports are found beside them).
pub(crate) fn crash_names(
    layout: &Layout,
    target: &TargetName,
) -> Result<Vec<CrashName>, HubError> {
    let mut names: Vec<CrashName> = read_names(&layout.crashes_dir(target.as_str()))?
        .iter()
        .filter_map(|n| n.parse().ok())
        .collect();
    names.sort();
    Ok(names)
}

fn read_names(dir: &Path) -> Result<Vec<String>, HubError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(HubError::Local {
                path: dir.to_path_buf(),
                source: e,
            });
        }
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(HubError::local(dir))?;
        if entry.file_type().is_ok_and(|t| t.is_file())
            && let Ok(name) = entry.file_name().into_string()
        {
            names.push(name);
        }
    }
    Ok(names)
}

/// Reads a local file; `None` if it is not there.
pub(crate) fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, HubError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(HubError::Local {
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

/// Writes a pulled object into place: staged in `hub/tmp/` (not in the corpus dir, where
/// a libFuzzer reload could read a half-written temp file), synced, then renamed.
pub(crate) fn place(layout: &Layout, dest: &Path, bytes: &[u8]) -> Result<(), HubError> {
    let tmp_dir = tmp_dir(layout);
    let name = dest
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("object");
    let tmp = tmp_dir.join(format!("{}-{name}", std::process::id()));
    let result = (|| {
        fs::create_dir_all(&tmp_dir)?;
        fs::create_dir_all(dest.parent().expect("destination has a parent"))?;
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, dest)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(HubError::local(dest))
}
