//! What an AFL++ instance leaves in its directory (`<-o>/<name>/`): new queue entries
//! for the shared corpus, and new crashes and hangs as findings.
//!
//! Every entry is a file named `id:NNNNNN,<fields>` (`README.txt`, `.state/` and other
//! names are not entries); ids grow by one per directory, so "new since the last scan"
//! is "an id above the last one taken". AFL++ creates an entry and then writes it, so a
//! scan leaves entries younger than the settle time for the next one, unless the
//! instance has exited.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::FindingKind;
use crate::libfuzzer::artifact_file_name;

use super::command::ENGINE_NAME;

/// The directories of an instance that hold entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AflSubdir {
    Queue,
    Crashes,
    Hangs,
}

impl AflSubdir {
    pub const ALL: [AflSubdir; 3] = [AflSubdir::Queue, AflSubdir::Crashes, AflSubdir::Hangs];

    pub fn dir_name(self) -> &'static str {
        match self {
            AflSubdir::Queue => "queue",
            AflSubdir::Crashes => "crashes",
            AflSubdir::Hangs => "hangs",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One entry's name, parsed: `id:000001,sig:06,src:000000,time:796,op:havoc,rep:2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AflEntry {
    pub subdir: AflSubdir,
    pub id: u32,
    pub path: PathBuf,
    /// The signal that ended the run (`sig:`), crashes only.
    pub signal: Option<i32>,
    /// Imported from another instance or a foreign dir (`sync:`), not found here.
    pub imported: bool,
    /// A seed the instance started from (`orig:`), not found here.
    pub seed: bool,
}

/// Parses an entry's file name; `None` for anything that is not an entry.
pub fn parse_entry_name(subdir: AflSubdir, dir: &Path, name: &str) -> Option<AflEntry> {
    let mut fields = name.split(',');
    let id = fields.next()?.strip_prefix("id:")?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let id: u32 = id.parse().ok()?;
    let mut entry = AflEntry {
        subdir,
        id,
        path: dir.join(name),
        signal: None,
        imported: false,
        seed: false,
    };
    for field in fields {
        if let Some(sig) = field.strip_prefix("sig:") {
            entry.signal = sig.parse().ok();
        } else if field.starts_with("sync:") {
            entry.imported = true;
        } else if field.starts_with("orig:") {
            entry.seed = true;
        }
    }
    Some(entry)
}

/// A crash or hang AFL++ kept, for the campaign's finding intake. AFL++ prints no
/// report: triage reproduces `input` with the target's libFuzzer binary to get one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AflFinding {
    /// Always [`ENGINE_NAME`] (`"aflpp"`).
    pub engine: &'static str,
    /// `Crash` (from `crashes/`) or `Timeout` (from `hangs/`).
    pub kind: FindingKind,
    /// The input, in the instance's directory (AFL++ keeps it there; copy, do not move,
    /// or AFL++'s own count and the next scan disagree).
    pub input: PathBuf,
    /// The signal that ended the crashing run, e.g. 6 (a Rust panic aborts).
    pub signal: Option<i32>,
}

impl AflFinding {
    /// The name libFuzzer would give this finding's artifact (`crash-<sha1>`), which
    /// the campaign's intake classifies, for an input whose SHA-1 is `sha1_hex`.
    pub fn artifact_name(&self, sha1_hex: &str) -> String {
        artifact_file_name(self.kind, sha1_hex)
    }
}

/// What one scan found that the scans before it had not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanResult {
    /// New queue entries this instance found itself (seeds and imports left out: they
    /// came from the corpus), oldest first.
    pub corpus: Vec<AflEntry>,
    /// New crashes and hangs, oldest first.
    pub findings: Vec<AflFinding>,
}

/// Remembers, per directory of one instance, the last entry taken.
#[derive(Debug, Clone)]
pub struct OutputScan {
    instance_dir: PathBuf,
    /// The next id wanted per subdir (queue, crashes, hangs).
    next_id: [u32; 3],
}

impl OutputScan {
    /// A scanner of `<-o>/<name>/` that reports every entry it finds there.
    pub fn new(instance_dir: impl Into<PathBuf>) -> Self {
        OutputScan {
            instance_dir: instance_dir.into(),
            next_id: [0; 3],
        }
    }

    /// A scanner that counts what is there already as taken (a restarted campaign
    /// took it in on its earlier run).
    pub fn after_existing(instance_dir: impl Into<PathBuf>) -> io::Result<Self> {
        let mut scan = OutputScan::new(instance_dir);
        scan.scan(Duration::ZERO)?;
        Ok(scan)
    }

    pub fn instance_dir(&self) -> &Path {
        &self.instance_dir
    }

    /// New entries since the last scan. Entries modified less than `settle` ago (and
    /// any after them) wait for the next scan; pass `Duration::ZERO` once the instance
    /// has exited. A missing directory (an instance not started yet) has no entries.
    pub fn scan(&mut self, settle: Duration) -> io::Result<ScanResult> {
        let now = SystemTime::now();
        let mut result = ScanResult::default();
        for subdir in AflSubdir::ALL {
            let dir = self.instance_dir.join(subdir.dir_name());
            let mut entries = match list_entries(subdir, &dir) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            entries.retain(|e| e.id >= self.next_id[subdir.index()]);
            entries.sort_by_key(|e| e.id);
            for entry in entries {
                if !settle.is_zero() {
                    let young = match fs::metadata(&entry.path).and_then(|m| m.modified()) {
                        Ok(mtime) => now.duration_since(mtime).unwrap_or_default() < settle,
                        // Gone between listing and now: nothing to take.
                        Err(_) => false,
                    };
                    if young {
                        break;
                    }
                }
                self.next_id[subdir.index()] = entry.id + 1;
                match subdir {
                    AflSubdir::Queue => {
                        if !entry.imported && !entry.seed {
                            result.corpus.push(entry);
                        }
                    }
                    AflSubdir::Crashes | AflSubdir::Hangs => result.findings.push(AflFinding {
                        engine: ENGINE_NAME,
                        kind: if subdir == AflSubdir::Hangs {
                            FindingKind::Timeout
                        } else {
                            FindingKind::Crash
                        },
                        input: entry.path,
                        signal: entry.signal,
                    }),
                }
            }
        }
        Ok(result)
    }
}

fn list_entries(subdir: AflSubdir, dir: &Path) -> io::Result<Vec<AflEntry>> {
    let mut out = Vec::new();
    for item in fs::read_dir(dir)? {
        let item = item?;
        let Some(name) = item.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if !item.file_type()?.is_file() {
            continue;
        }
        if let Some(entry) = parse_entry_name(subdir, dir, &name) {
            out.push(entry);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_as_afl_4_writes_them() {
        let d = Path::new("/o/w0/crashes");
        let e = parse_entry_name(
            AflSubdir::Crashes,
            d,
            "id:000001,sig:06,src:000000,time:796,execs:572,op:havoc,rep:2",
        )
        .unwrap();
        assert_eq!(e.id, 1);
        assert_eq!(e.signal, Some(6));
        assert!(!e.imported && !e.seed);
        assert_eq!(
            e.path,
            d.join("id:000001,sig:06,src:000000,time:796,execs:572,op:havoc,rep:2")
        );
        let q = Path::new("/o/w0/queue");
        assert!(
            parse_entry_name(
                AflSubdir::Queue,
                q,
                "id:000000,time:0,execs:0,orig:near_magic"
            )
            .unwrap()
            .seed
        );
        assert!(
            parse_entry_name(AflSubdir::Queue, q, "id:000093,sync:corpus_0,src:000012")
                .unwrap()
                .imported
        );
        for not_entry in [
            "README.txt",
            ".state",
            "id:",
            "id:12x,op:havoc",
            "x,id:000001",
        ] {
            assert_eq!(parse_entry_name(AflSubdir::Queue, q, not_entry), None);
        }
    }

    #[test]
    fn finding_names_are_libfuzzer_s() {
        let f = AflFinding {
            engine: ENGINE_NAME,
            kind: FindingKind::Timeout,
            input: "/o/w0/hangs/id:000000".into(),
            signal: None,
        };
        let sha = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(f.artifact_name(sha), format!("timeout-{sha}"));
        assert_eq!(
            crate::libfuzzer::classify_artifact(&f.artifact_name(sha)),
            Some((FindingKind::Timeout, sha))
        );
    }
}
