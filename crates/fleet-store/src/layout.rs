//! Where everything lives inside a state dir. Every path fuzzfleet touches comes from here.
//!
//! ```text
//! <state>/fleet.db                      SQLite (WAL)
//! <state>/run.lock                      held by the one `run` using this state
//! <state>/corpus/<target>/<sha1>        content-addressed corpus, shared by the target's workers
//! <state>/incoming/<target>/            libFuzzer's -artifact_prefix; swept into crashes/
//! <state>/crashes/<target>/<kind>-<sha1>      a kept finding input
//! <state>/crashes/<target>/<kind>-<sha1>.log  the report excerpt around it
//! <state>/quarantine/<target>/<sha1>    corpus entries that crash on load, set aside (kept)
//! <state>/logs/<target>/w<slot>.log     bounded per-worker logs
//! <state>/tmp/w<slot>/                  a worker's private TMPDIR (and /tmp where possible)
//! ```

use std::path::{Path, PathBuf};

/// Paths inside one state dir.
#[derive(Clone, Debug)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn db_path(&self) -> PathBuf {
        self.root.join("fleet.db")
    }

    pub fn lock_path(&self) -> PathBuf {
        self.root.join("run.lock")
    }

    pub fn corpus_dir(&self, target: &str) -> PathBuf {
        self.root.join("corpus").join(target)
    }

    pub fn incoming_dir(&self, target: &str) -> PathBuf {
        self.root.join("incoming").join(target)
    }

    pub fn crashes_dir(&self, target: &str) -> PathBuf {
        self.root.join("crashes").join(target)
    }

    /// The kept input of a finding: `<kind>-<sha1>`, the name libFuzzer gave it.
    pub fn finding_input(&self, target: &str, kind: &str, sha1: &str) -> PathBuf {
        self.crashes_dir(target).join(format!("{kind}-{sha1}"))
    }

    /// The report excerpt kept beside a finding's input.
    pub fn finding_report(&self, target: &str, kind: &str, sha1: &str) -> PathBuf {
        self.crashes_dir(target).join(format!("{kind}-{sha1}.log"))
    }

    /// Minimized inputs of a target's buckets: `minimized/<target>/<bucket id>`.
    pub fn minimized_dir(&self, target: &str) -> PathBuf {
        self.root.join("minimized").join(target)
    }

    /// The verified minimized input of bucket `id`.
    pub fn bucket_minimized(&self, target: &str, id: &str) -> PathBuf {
        self.minimized_dir(target).join(id)
    }

    pub fn quarantine_dir(&self, target: &str) -> PathBuf {
        self.root.join("quarantine").join(target)
    }

    pub fn logs_dir(&self, target: &str) -> PathBuf {
        self.root.join("logs").join(target)
    }

    pub fn worker_log(&self, target: &str, slot: usize) -> PathBuf {
        self.logs_dir(target).join(format!("w{slot}.log"))
    }

    pub fn worker_tmp(&self, slot: usize) -> PathBuf {
        self.root.join("tmp").join(format!("w{slot}"))
    }
}
