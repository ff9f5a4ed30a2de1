//! Worker runs of the second engine, AFL++ (with CmpLog when the target has that build),
//! on the same targets and the same corpus: each run starts from a snapshot of the
//! target's corpus (`-i`), imports libFuzzer's new entries as it goes (`-F`, a foreign
//! sync dir the campaign copies them into), and what it finds is taken back while it
//! runs — new queue entries into the corpus (named by content, as libFuzzer's are),
//! crashes and hangs copied into the incoming dir under libFuzzer's artifact names and
//! taken in like any artifact. AFL++ keeps no report: triage runs the input through the
//! libFuzzer binary for one. A run's files live under `<state>/aflpp/<target>/<run>/`
//! until it ends.
//!
//! Why not the corpus dir itself, for both: afl-fuzz lists its input dir and its foreign
//! dirs at its start, then opens each file, and stops ("Unable to open") at one that
//! vanished in between — which libFuzzer's workers do to the target's corpus all the
//! time (a `REDUCE` replaces an entry). A snapshot of hard links keeps an entry libFuzzer
//! removes, and nothing is ever removed from the run's foreign dir.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fleet_engine::EngineCommand;
use fleet_engine::aflpp::{AflOptions, CmpLog, FuzzerStats, OutputScan, fuzz_command};
use fleet_store::{Layout, sha1_hex, write_atomic};

use super::strategy_files::Exchange;
use super::{AflTarget, CampaignTarget};
use crate::corpus::{self, Imported};
use crate::events::RunId;

/// The instance name of a run (one instance per run: `<out>/main/`).
const INSTANCE: &str = "main";

/// How long an entry must be unchanged before it is taken while AFL++ runs.
pub const SETTLE: Duration = Duration::from_secs(1);

/// One AFL++ run's files and what has been taken from them.
#[derive(Debug)]
pub struct AflRun {
    dir: PathBuf,
    scan: OutputScan,
    /// Whether afl-fuzz has started fuzzing (its `fuzzer_stats` exists).
    pub fuzzing: bool,
    /// The names of the corpus entries this run added (over all its takes): what its
    /// pay is measured on.
    pub added: Vec<String>,
    /// What the target's corpus gains while the run goes is copied into `foreign`.
    feed: Exchange,
    foreign: PathBuf,
}

fn run_dir(layout: &Layout, target: &str, run: RunId) -> PathBuf {
    layout
        .root()
        .join("aflpp")
        .join(target)
        .join(run.to_string())
}

/// Prepares run `run` of `target` and gives its `afl-fuzz` command: CmpLog when
/// `cmplog` and the target has that build, ending by itself after `max_total_time`.
pub fn prepare(
    layout: &Layout,
    target: &CampaignTarget,
    afl: &AflTarget,
    run: RunId,
    cmplog: bool,
    max_total_time: Option<Duration>,
) -> io::Result<(EngineCommand, AflRun)> {
    let dir = run_dir(layout, &target.name, run);
    let out = dir.join("out");
    fs::create_dir_all(&out)?;
    // What the corpus holds now is the run's start; only later entries are fed to it.
    let feed = Exchange::starting(layout, &target.name)?;
    let input = dir.join("input");
    // afl-fuzz refuses an empty input dir: a target with no corpus yet starts from one
    // byte.
    if snapshot(&layout.corpus_dir(&target.name), &input)? == 0 {
        fs::write(input.join("0"), b"0")?;
    }
    let foreign = dir.join("foreign");
    fs::create_dir_all(&foreign)?;
    let mut o = AflOptions::new(&afl.afl_fuzz, &afl.binary, input, &out, INSTANCE);
    o.cmplog = afl
        .cmplog
        .as_ref()
        .filter(|_| cmplog)
        .map(|p| CmpLog::Binary(p.clone()));
    o.foreign = vec![foreign.clone()];
    o.timeout_ms = Some(target.timeout_s.saturating_mul(1000));
    o.max_total_time_s = max_total_time.map(|d| d.as_secs().max(1));
    o.dict = target.dict.clone();
    o.max_len = target.max_len.map(|n| n as u64);
    let cmd = fuzz_command(&o).map_err(io::Error::other)?;
    let scan = OutputScan::new(out.join(INSTANCE));
    Ok((
        cmd,
        AflRun {
            dir,
            scan,
            fuzzing: false,
            added: Vec::new(),
            feed,
            foreign,
        },
    ))
}

/// Links (or, across filesystems, copies) every file of `corpus` into `to`, a new
/// directory; an entry removed since the listing is left out. Returns how many it holds.
fn snapshot(corpus: &Path, to: &Path) -> io::Result<usize> {
    fs::create_dir_all(to)?;
    let mut n = 0;
    for entry in fs::read_dir(corpus)? {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            continue;
        }
        if corpus::link_or_copy(&entry.path(), &to.join(entry.file_name()))? {
            n += 1;
        }
    }
    Ok(n)
}

impl AflRun {
    /// The figures afl-fuzz last wrote, once it writes them.
    pub fn stats(&self) -> Option<FuzzerStats> {
        let text = fs::read_to_string(self.scan.instance_dir().join("fuzzer_stats")).ok()?;
        fleet_engine::aflpp::parse_fuzzer_stats(&text).ok()
    }

    /// Takes what the run found since the last call: new queue entries into the corpus
    /// (returns how many were new there) and crashes and hangs into the incoming dir
    /// under libFuzzer's artifact names (returns their paths, for the intake).
    /// `settle`: [`SETTLE`] while it runs, zero once it has exited.
    pub fn take(
        &mut self,
        layout: &Layout,
        target: &str,
        settle: Duration,
    ) -> io::Result<(u64, Vec<PathBuf>)> {
        let found = self.scan.scan(settle)?;
        let corpus = layout.corpus_dir(target);
        let quarantine = layout.quarantine_dir(target);
        let mut added = 0;
        for entry in found.corpus {
            let bytes = fs::read(&entry.path)?;
            match corpus::import_bytes(&bytes, &corpus, &quarantine)? {
                Imported::Added(name) => {
                    added += 1;
                    self.feed.mark_known(&name);
                    self.added.push(name);
                }
                // Not to be fed back to the run that has it.
                Imported::Known(name) => self.feed.mark_known(&name),
            }
        }
        let incoming = layout.incoming_dir(target);
        fs::create_dir_all(&incoming)?;
        let mut artifacts = Vec::new();
        for f in found.findings {
            // Copied, not moved: AFL++'s own directories stay as it wrote them.
            let bytes = fs::read(&f.input)?;
            let path = incoming.join(f.artifact_name(&sha1_hex(&bytes)));
            write_atomic(&path, &bytes)?;
            artifacts.push(path);
        }
        Ok((added, artifacts))
    }

    /// Copies what the target's corpus gained since the run started, and the run did not
    /// find itself, into its foreign sync dir, where afl-fuzz imports it.
    pub fn feed(&mut self, layout: &Layout, target: &str) -> io::Result<()> {
        self.feed.give(layout, target, &self.foreign)
    }

    /// The run is over and everything taken: its files go.
    pub fn remove(self) -> io::Result<()> {
        match fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// What runs cut off by a `kill -9` left: their finds join the corpus and the incoming
/// dir (taken in by the start's sweep), then their files go. Returns the entries added.
pub fn recover(layout: &Layout, target: &str) -> io::Result<u64> {
    let base = layout.root().join("aflpp").join(target);
    let Ok(runs) = fs::read_dir(&base) else {
        return Ok(0);
    };
    let mut added = 0;
    for run in runs.flatten() {
        let dir = run.path();
        let mut r = AflRun {
            scan: OutputScan::new(dir.join("out").join(INSTANCE)),
            foreign: dir.join("foreign"),
            dir,
            fuzzing: true,
            added: Vec::new(),
            feed: Exchange::default(),
        };
        added += r.take(layout, target, Duration::ZERO)?.0;
        r.remove()?;
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::campaign::test_layout as layout;

    fn target() -> CampaignTarget {
        crate::campaign::test_target("t", "/bin/true")
    }

    fn afl() -> AflTarget {
        AflTarget {
            afl_fuzz: "/opt/afl/afl-fuzz".into(),
            binary: "/b/afl".into(),
            cmplog: Some("/b/cmplog".into()),
        }
    }

    #[test]
    fn a_run_starts_from_a_snapshot_is_fed_what_comes_later_and_uses_cmplog_when_asked() {
        let (_d, layout) = layout("afl-cmd");
        fs::write(layout.corpus_dir("t").join("a"), b"x").unwrap();
        let (cmd, _) = prepare(
            &layout,
            &target(),
            &afl(),
            3,
            true,
            Some(Duration::from_secs(299)),
        )
        .unwrap();
        let args: Vec<String> = cmd
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let at = |flag: &str| args[args.iter().position(|a| a == flag).unwrap() + 1].clone();
        let dir = run_dir(&layout, "t", 3);
        assert_eq!(at("-i"), dir.join("input").display().to_string());
        assert_eq!(at("-F"), dir.join("foreign").display().to_string());
        assert_eq!(fs::read(dir.join("input/a")).unwrap(), b"x");
        assert_eq!(at("-c"), "/b/cmplog");
        assert_eq!(at("-V"), "299");
        assert_eq!(at("-t"), "5000");
        assert_eq!(args.last().unwrap(), "/b/afl");
        let (cmd, _) = prepare(&layout, &target(), &afl(), 4, false, None).unwrap();
        assert!(!cmd.args.iter().any(|a| a == "-c"));
    }

    /// libFuzzer's workers replace corpus entries while afl-fuzz starts (a `REDUCE`);
    /// afl-fuzz stops at an input that vanished. The run's input is a snapshot that keeps
    /// them, and later entries reach it by copy in a dir nothing is removed from.
    #[test]
    fn the_corpus_changing_under_a_run_changes_neither_its_input_nor_its_feed() {
        let (_d, layout) = layout("afl-feed");
        let corpus = layout.corpus_dir("t");
        fs::write(corpus.join("old"), b"old").unwrap();
        let (_, mut run) = prepare(&layout, &target(), &afl(), 5, true, None).unwrap();
        let dir = run_dir(&layout, "t", 5);
        // A worker reduces `old` away and writes a new entry.
        fs::remove_file(corpus.join("old")).unwrap();
        fs::write(corpus.join(sha1_hex(b"later")), b"later").unwrap();
        assert_eq!(fs::read(dir.join("input/old")).unwrap(), b"old");
        // The run finds an entry of its own: taken into the corpus, not fed back.
        let queue = run.scan.instance_dir().join("queue");
        fs::create_dir_all(&queue).unwrap();
        fs::write(queue.join("id:000001,src:000000,+cov"), b"mine").unwrap();
        run.take(&layout, "t", Duration::ZERO).unwrap();
        assert!(corpus.join(sha1_hex(b"mine")).exists());
        run.feed(&layout, "t").unwrap();
        let mut fed: Vec<String> = fs::read_dir(dir.join("foreign"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        fed.sort();
        assert_eq!(fed, [sha1_hex(b"later")]);
    }

    #[test]
    fn an_empty_corpus_starts_from_one_byte() {
        let (_d, layout) = layout("afl-empty");
        let (cmd, _) = prepare(&layout, &target(), &afl(), 1, false, None).unwrap();
        let i = cmd.args.iter().position(|a| a == "-i").unwrap();
        let seeds = PathBuf::from(&cmd.args[i + 1]);
        assert_eq!(fs::read(seeds.join("0")).unwrap(), b"0");
    }

    #[test]
    fn finds_join_the_corpus_and_crashes_become_artifacts_even_after_a_kill() {
        let (_d, layout) = layout("afl-take");
        let (_, run) = prepare(&layout, &target(), &afl(), 7, false, None).unwrap();
        let inst = run.scan.instance_dir().to_path_buf();
        fs::create_dir_all(inst.join("queue")).unwrap();
        fs::create_dir_all(inst.join("crashes")).unwrap();
        fs::write(inst.join("queue/id:000000,time:0,execs:0,orig:0"), b"seed").unwrap();
        fs::write(
            inst.join("queue/id:000001,src:000000,time:10,execs:20,op:havoc,rep:2,+cov"),
            b"new",
        )
        .unwrap();
        fs::write(
            inst.join("crashes/id:000000,sig:06,src:000001,time:30,execs:50,op:havoc,rep:1"),
            b"boom",
        )
        .unwrap();
        drop(run);
        // The campaign was killed: the next one takes what the run left.
        assert_eq!(recover(&layout, "t").unwrap(), 1);
        assert!(layout.corpus_dir("t").join(sha1_hex(b"new")).exists());
        let incoming: Vec<String> = fs::read_dir(layout.incoming_dir("t"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(incoming, [format!("crash-{}", sha1_hex(b"boom"))]);
        assert!(!run_dir(&layout, "t", 7).exists());
    }
}
