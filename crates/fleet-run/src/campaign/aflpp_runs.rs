//! Worker runs of the second engine, AFL++ (with CmpLog when the target has that build),
//! on the same targets and the same corpus: each run starts from the target's corpus
//! (`-i`), imports libFuzzer's new entries as it goes (`-F`, the corpus dir as a foreign
//! sync dir), and what it finds is taken back while it runs — new queue entries into the
//! corpus (named by content, as libFuzzer's are), crashes and hangs copied into the
//! incoming dir under libFuzzer's artifact names and taken in like any artifact. AFL++
//! keeps no report: triage runs the input through the libFuzzer binary for one.
//! A run's files live under `<state>/aflpp/<target>/<run>/` until it ends.

use std::fs;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use fleet_engine::EngineCommand;
use fleet_engine::aflpp::{AflOptions, CmpLog, FuzzerStats, OutputScan, fuzz_command};
use fleet_store::{Layout, sha1_hex, write_atomic};

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
    let corpus = layout.corpus_dir(&target.name);
    let has_entries = fs::read_dir(&corpus)?.flatten().next().is_some();
    // afl-fuzz refuses an empty input dir: a target with no corpus yet starts from one
    // byte.
    let input = if has_entries {
        corpus.clone()
    } else {
        let seeds = dir.join("seed");
        fs::create_dir_all(&seeds)?;
        fs::write(seeds.join("0"), b"0")?;
        seeds
    };
    let mut o = AflOptions::new(&afl.afl_fuzz, &afl.binary, input, &out, INSTANCE);
    o.cmplog = afl
        .cmplog
        .as_ref()
        .filter(|_| cmplog)
        .map(|p| CmpLog::Binary(p.clone()));
    o.foreign = vec![corpus];
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
        },
    ))
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
            if let Imported::Added(name) = corpus::import_bytes(&bytes, &corpus, &quarantine)? {
                added += 1;
                self.added.push(name);
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
            dir,
            fuzzing: true,
            added: Vec::new(),
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
    fn a_run_starts_from_the_corpus_imports_it_as_it_goes_and_uses_cmplog_when_asked() {
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
        let corpus = layout.corpus_dir("t").display().to_string();
        let at = |flag: &str| args[args.iter().position(|a| a == flag).unwrap() + 1].clone();
        assert_eq!(at("-i"), corpus);
        assert_eq!(at("-F"), corpus);
        assert_eq!(at("-c"), "/b/cmplog");
        assert_eq!(at("-V"), "299");
        assert_eq!(at("-t"), "5000");
        assert_eq!(args.last().unwrap(), "/b/afl");
        let (cmd, _) = prepare(&layout, &target(), &afl(), 4, false, None).unwrap();
        assert!(!cmd.args.iter().any(|a| a == "-c"));
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
