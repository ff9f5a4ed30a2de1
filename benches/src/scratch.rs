//! Where the runs of one benchmark invocation live: a fresh directory per run under
//! `<repo>/target/bench-tmp/` (not `/tmp`: fuzzfleet gives workers a private `/tmp`),
//! removed at the end unless `FLEET_BENCH_KEEP` is set.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

#[derive(Debug)]
pub struct Scratch {
    dir: Option<tempfile::TempDir>,
    runs: usize,
}

impl Scratch {
    pub fn new(bench: &str) -> Self {
        let base = fleet_testkit::repo_root().join("target/bench-tmp");
        fs::create_dir_all(&base)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", base.display()));
        let dir = tempfile::Builder::new()
            .prefix(&format!("{bench}-"))
            .tempdir_in(&base)
            .unwrap_or_else(|e| panic!("cannot create a dir in {}: {e}", base.display()));
        Self {
            dir: Some(dir),
            runs: 0,
        }
    }

    /// A new, empty directory for one run.
    pub fn run_dir(&mut self, label: &str) -> PathBuf {
        self.runs += 1;
        let dir = self.path().join(format!("{:02}-{label}", self.runs));
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        dir
    }

    pub fn path(&self) -> &Path {
        self.dir.as_ref().expect("scratch dir").path()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::env::var_os("FLEET_BENCH_KEEP").is_some()
            && let Some(dir) = self.dir.take()
        {
            eprintln!("bench: kept {}", dir.keep().display());
        }
    }
}

/// Copies the seed files of `seeds` (and of its direct subdirectories) into `corpus`,
/// each named by the SHA-1 of its content as fuzzfleet's seed import names them.
pub fn copy_seeds(seeds: &Path, corpus: &Path) -> io::Result<usize> {
    fs::create_dir_all(corpus)?;
    let mut copied = 0;
    let mut dirs = vec![(seeds.to_path_buf(), 1)];
    while let Some((dir, depth)) = dirs.pop() {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let ty = entry.file_type()?;
            if ty.is_dir() && depth > 0 {
                dirs.push((entry.path(), depth - 1));
            } else if ty.is_file() {
                let bytes = fs::read(entry.path())?;
                fs::write(corpus.join(hex::encode(Sha1::digest(&bytes))), bytes)?;
                copied += 1;
            }
        }
    }
    Ok(copied)
}
