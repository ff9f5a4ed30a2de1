//! The files a worker run's strategy needs, and what is taken back from them when it
//! ends: a target's recommended dictionary (accumulated from the runs' final output), the
//! user's and recommended dictionaries merged into one `-dict` file, and a corpus subset
//! with the run's own writable corpus. All live under `<state>/strategy/<target>/`.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use fleet_engine::libfuzzer::strategy::{
    RecommendedDict, Strategy, StrategyFiles, choose_subset, constant_seeds, escape_dict,
    merge_dict_files,
};
use fleet_store::Layout;

use crate::corpus::{self, Imported};
use crate::events::RunId;

/// How much of a worker's log end is read for its recommended dictionary (libFuzzer
/// prints it last, after its final stats).
const LOG_TAIL: u64 = 256 * 1024;

pub fn strategy_dir(layout: &Layout, target: &str) -> PathBuf {
    layout.root().join("strategy").join(target)
}

fn run_dir(layout: &Layout, target: &str, run: RunId) -> PathBuf {
    strategy_dir(layout, target)
        .join("runs")
        .join(run.to_string())
}

fn dict_json(layout: &Layout, target: &str) -> PathBuf {
    strategy_dir(layout, target).join("recommended.json")
}

fn dict_file(layout: &Layout, target: &str) -> PathBuf {
    strategy_dir(layout, target).join("recommended.dict")
}

fn merged_file(layout: &Layout, target: &str) -> PathBuf {
    strategy_dir(layout, target).join("merged.dict")
}

fn harvested_file(layout: &Layout, target: &str) -> PathBuf {
    strategy_dir(layout, target).join("harvested.dict")
}

/// A target's recommended dictionary as earlier runs left it (empty when there is none
/// or it does not parse: it is rebuilt from the next runs).
pub fn load_dict(layout: &Layout, target: &str) -> RecommendedDict {
    fs::read_to_string(dict_json(layout, target))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// Writes a target's recommended dictionary: its state and its `-dict` file, and the
/// file merged with the user's dictionary when there is one.
pub fn save_dict(
    layout: &Layout,
    target: &str,
    dict: &RecommendedDict,
    user_dict: Option<&Path>,
) -> io::Result<()> {
    fs::create_dir_all(strategy_dir(layout, target))?;
    let json = serde_json::to_string(dict).expect("a map of strings serializes");
    fleet_store::write_atomic(&dict_json(layout, target), json.as_bytes())?;
    let header = "libFuzzer's recommended dictionary, over runs";
    let text = dict_text(
        header,
        dict.entries().into_iter().map(|(b, n)| (b, Some(n))),
    );
    fleet_store::write_atomic(&dict_file(layout, target), text.as_bytes())?;
    let harvested = dict.harvested_entries();
    if !harvested.is_empty() {
        let header = "the constants the binary compares with";
        let text = dict_text(header, harvested.into_iter().map(|b| (b, None)));
        fleet_store::write_atomic(&harvested_file(layout, target), text.as_bytes())?;
    }
    if let Some(user) = user_dict {
        let mine = fs::read_to_string(user)?;
        let merged = merge_dict_files(&[&mine, &text]);
        fleet_store::write_atomic(&merged_file(layout, target), merged.as_bytes())?;
    }
    Ok(())
}

/// Entries in libFuzzer's `-dict` format under a header comment. An entry's use count,
/// where it has one, is a comment line of its own: libFuzzer refuses anything after an
/// entry on its line.
fn dict_text(header: &str, entries: impl Iterator<Item = (Vec<u8>, Option<u64>)>) -> String {
    let mut out = format!("# fuzzfleet: {header}\n");
    for (bytes, uses) in entries {
        if let Some(uses) = uses {
            out.push_str(&format!("# uses: {uses}\n"));
        }
        out.push_str(&format!("\"{}\"\n", escape_dict(&bytes)));
    }
    out
}

/// The constants `binary` compares with ([`fleet_engine::libfuzzer::harvest`]): read
/// from its code, where its sanitizer-coverage build traces each comparison with a
/// constant. None for a binary that is not x86-64 ELF or has no such comparisons.
pub fn harvest(binary: &Path) -> io::Result<Vec<Vec<u8>>> {
    use fleet_engine::libfuzzer::harvest::{CONST_CMP_FUNCTIONS, cmp_constants};
    use object::{Object as _, ObjectSection as _, ObjectSymbol as _};
    let data = fs::read(binary)?;
    let Ok(file) = object::read::elf::ElfFile64::<object::Endianness>::parse(&*data) else {
        return Ok(Vec::new());
    };
    if file.architecture() != object::Architecture::X86_64 {
        return Ok(Vec::new());
    }
    let functions: Vec<(u64, usize)> = file
        .symbols()
        .filter_map(|sym| {
            let name = sym.name().ok()?;
            let (_, width) = CONST_CMP_FUNCTIONS.iter().find(|(n, _)| *n == name)?;
            Some((sym.address(), *width))
        })
        .collect();
    let Some(text) = file.section_by_name(".text") else {
        return Ok(Vec::new());
    };
    if functions.is_empty() {
        return Ok(Vec::new());
    }
    let code = text
        .data()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    Ok(cmp_constants(code, text.address(), &functions))
}

/// Reads the end of a worker's log for the recommended dictionary its run printed;
/// returns how many entries were new.
pub fn absorb_log(dict: &mut RecommendedDict, log: &Path) -> io::Result<usize> {
    let mut f = fs::File::open(log)?;
    let len = f.metadata()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL)))?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    Ok(dict.absorb(&String::from_utf8_lossy(&bytes)))
}

/// Prepares what `strategy` needs for run `run` of `target`: the dictionaries exist
/// once [`save_dict`] wrote them; a corpus subset is linked into a directory of its own;
/// a run that is paid by a replay ([`Strategy::needs_run_corpus`]) gets an empty corpus
/// of its own to write to; a run that starts from the constants
/// ([`Strategy::starts_from_constants`]) gets their seeds written to a directory of its
/// own.
pub fn prepare(
    layout: &Layout,
    target: &str,
    run: RunId,
    strategy: &Strategy,
    seed: u64,
) -> io::Result<StrategyFiles> {
    let mut files = StrategyFiles::default();
    if strategy.needs_recommended_dict() {
        files.recommended_dict = Some(dict_file(layout, target));
        files.merged_dict = Some(merged_file(layout, target)).filter(|p| p.exists());
    }
    if strategy.needs_harvested_dict() {
        files.harvested_dict = Some(harvested_file(layout, target));
    }
    if strategy.needs_run_corpus() {
        let own = run_dir(layout, target, run).join("corpus");
        fs::create_dir_all(&own)?;
        files.run_corpus = Some(own);
    }
    if let Some(max_len) = strategy
        .max_len
        .filter(|_| strategy.starts_from_constants())
    {
        let seeds = run_dir(layout, target, run).join("seeds");
        fs::create_dir_all(&seeds)?;
        let constants = load_dict(layout, target).harvested_entries();
        for (i, seed) in constant_seeds(&constants, max_len).iter().enumerate() {
            fs::write(seeds.join(format!("constant-{i:03}")), seed)?;
        }
        files.seeds = Some(seeds);
    }
    if let Some(n) = strategy.corpus_subset {
        let subset = run_dir(layout, target, run).join("subset");
        fs::create_dir_all(&subset)?;
        let corpus_dir = layout.corpus_dir(target);
        let names: Vec<String> = fs::read_dir(&corpus_dir)?
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        for name in choose_subset(&names, n, seed) {
            // An entry gone since the listing (a minimization) is simply not in the
            // subset.
            crate::corpus::link_or_copy(&corpus_dir.join(&name), &subset.join(&name))?;
        }
        files.subset = Some(subset);
    }
    Ok(files)
}

/// What [`Exchange::run`] knows of one run's own corpus between calls.
#[derive(Debug, Default)]
pub struct Exchange {
    /// The run's files taken into the target's corpus, and the target's entries that are
    /// not the run's to give: there when it started, given to it since, or its own.
    seen: HashSet<OsString>,
    /// The target corpus's modification time when it was last read: while it stays,
    /// the corpus has nothing new to give.
    shared_mtime: Option<SystemTime>,
    /// Takes the run's finds but gives it nothing: a run that starts from the constants
    /// stays on its few short inputs ([`Strategy::starts_from_constants`]).
    keeps_apart: bool,
}

impl Exchange {
    /// For a run of `target` that starts now: what the target's corpus holds is the
    /// run's start (it reads the corpus, or a subset chosen from it, at its start), so
    /// only later entries are given to it — a subset run stays on its subset.
    pub fn starting(layout: &Layout, target: &str) -> io::Result<Self> {
        let corpus_dir = layout.corpus_dir(target);
        let shared_mtime = fs::metadata(&corpus_dir)?.modified().ok();
        let seen = fs::read_dir(&corpus_dir)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        Ok(Self {
            seen,
            shared_mtime,
            keeps_apart: false,
        })
    }

    /// For a run that is given nothing: only what it finds is exchanged, into the
    /// target's corpus.
    pub fn apart() -> Self {
        Self {
            keeps_apart: true,
            ..Self::default()
        }
    }

    /// Exchanges entries between run `run`'s own corpus and the target's, while it
    /// runs: libFuzzer reloads (`-reload`) only its first corpus directory, so without
    /// this the target's other workers would see the run's finds only when it ends, and
    /// the run theirs never.
    /// - What the run wrote is taken into the target's corpus once it has not changed
    ///   for `settle` (libFuzzer writes in place).
    /// - What the target's corpus gained since the run started, and the run does not
    ///   have, is copied into the run's corpus for its next reload (not for a run kept
    ///   apart, [`Exchange::apart`]). A copy, not a link:
    ///   libFuzzer's reload skips files older than its last read of the directory, and a
    ///   link keeps the original's time.
    ///
    /// Returns the names of the entries the run added to the target's corpus (an entry
    /// already there is not the run's).
    pub fn run(
        &mut self,
        layout: &Layout,
        target: &str,
        run: RunId,
        settle: Duration,
    ) -> io::Result<Vec<String>> {
        let own = run_dir(layout, target, run).join("corpus");
        let entries = match fs::read_dir(&own) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let corpus_dir = layout.corpus_dir(target);
        let quarantine = layout.quarantine_dir(target);
        let added = take_settled(entries, &corpus_dir, &quarantine, &mut self.seen, settle)?;
        if !self.keeps_apart {
            self.give(layout, target, &own)?;
        }
        Ok(added)
    }

    /// An entry of the target's corpus that is not to be given to the run: it has it.
    pub fn mark_known(&mut self, name: &str) {
        self.seen.insert(name.into());
    }

    /// Copies what the target's corpus gained since the run started, and the run does
    /// not have, into `own`.
    pub fn give(&mut self, layout: &Layout, target: &str, own: &Path) -> io::Result<()> {
        let corpus_dir = layout.corpus_dir(target);
        // Read before the listing: an entry written during it changes the time again.
        let mtime = fs::metadata(&corpus_dir)?.modified().ok();
        if mtime.is_some() && mtime == self.shared_mtime {
            return Ok(());
        }
        self.shared_mtime = mtime;
        for entry in fs::read_dir(&corpus_dir)? {
            let entry = entry?;
            let name = entry.file_name();
            if self.seen.contains(&name) || !entry.file_type()?.is_file() {
                continue;
            }
            let to = own.join(&name);
            if !to.exists() {
                match fs::read(entry.path()) {
                    Ok(bytes) => fleet_store::write_atomic(&to, &bytes)?,
                    // Gone since the listing (a corpus entry set aside).
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                }
            }
            self.seen.insert(name);
        }
        Ok(())
    }
}

/// Copies the settled files among `entries` (a run's own corpus) that are not in `seen`
/// into `corpus_dir`, named by content; returns the names it added there.
fn take_settled(
    entries: fs::ReadDir,
    corpus_dir: &Path,
    quarantine: &Path,
    seen: &mut HashSet<OsString>,
    settle: Duration,
) -> io::Result<Vec<String>> {
    let now = SystemTime::now();
    let mut added = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        if seen.contains(&name) {
            continue;
        }
        let meta = match entry.metadata() {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if !meta.is_file() {
            continue;
        }
        let settled = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age >= settle);
        if !settled {
            continue;
        }
        let bytes = match fs::read(entry.path()) {
            Ok(b) => b,
            // Gone since the listing: libFuzzer replaced it with a reduced input.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        seen.insert(name);
        let sha1 = match corpus::import_bytes(&bytes, corpus_dir, quarantine)? {
            Imported::Added(sha1) => {
                added.push(sha1.clone());
                sha1
            }
            Imported::Known(sha1) => sha1,
        };
        // The shared entry of that content is the run's own file: never given back.
        seen.insert(sha1.into());
    }
    Ok(added)
}

/// A run ended: what it wrote to a corpus of its own joins the target's corpus, and its
/// files go. Returns the names of the entries taken in.
pub fn finish_run(layout: &Layout, target: &str, run: RunId) -> io::Result<Vec<String>> {
    take_in(layout, target, &run_dir(layout, target, run))
}

/// What runs cut off by a `kill -9` left in their own corpora joins the target's corpus
/// (nothing a run found is lost).
pub fn recover(layout: &Layout, target: &str) -> io::Result<u64> {
    let runs = strategy_dir(layout, target).join("runs");
    let Ok(entries) = fs::read_dir(&runs) else {
        return Ok(0);
    };
    let mut taken = 0;
    for e in entries.flatten() {
        taken += take_in(layout, target, &e.path())?.len() as u64;
    }
    Ok(taken)
}

fn take_in(layout: &Layout, target: &str, dir: &Path) -> io::Result<Vec<String>> {
    let own = dir.join("corpus");
    let mut taken = Vec::new();
    if own.is_dir() {
        taken = corpus::import_dir_named(
            &own,
            &layout.corpus_dir(target),
            &layout.quarantine_dir(target),
        )?;
    }
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(taken),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::campaign::test_layout as layout;

    #[test]
    fn a_subset_run_fuzzes_some_entries_and_what_it_finds_joins_the_corpus() {
        let (_d, layout) = layout("subset");
        for i in 0..10 {
            fs::write(layout.corpus_dir("t").join(format!("e{i}")), [i]).unwrap();
        }
        let strategy: Strategy = "max_len:128+subset:3".parse().unwrap();
        let files = prepare(&layout, "t", 5, &strategy, 1).unwrap();
        let subset = files.subset.unwrap();
        assert_eq!(fs::read_dir(&subset).unwrap().count(), 3);
        let own = files.run_corpus.unwrap();
        assert_eq!(fs::read_dir(&own).unwrap().count(), 0);
        fs::write(own.join("new"), b"found by the run").unwrap();
        let taken = finish_run(&layout, "t", 5).unwrap();
        assert_eq!(taken, [fleet_store::sha1_hex(b"found by the run")]);
        assert_eq!(fs::read_dir(layout.corpus_dir("t")).unwrap().count(), 11);
        assert!(!run_dir(&layout, "t", 5).exists());
        // The subset's entries were links or copies: the corpus still has all of them.
        assert!(layout.corpus_dir("t").join("e9").exists());
    }

    /// A value-profile run writes to a corpus of its own too (it reads the target's
    /// whole corpus): the names of what it added are what its replay pays it for.
    #[test]
    fn a_value_profile_run_writes_to_its_own_corpus_and_its_entries_are_named() {
        let (_d, layout) = layout("vp");
        let seed = fleet_store::sha1_hex(b"seed");
        fs::write(layout.corpus_dir("t").join(seed), b"seed").unwrap();
        let strategy: Strategy = "value_profile".parse().unwrap();
        let files = prepare(&layout, "t", 3, &strategy, 1).unwrap();
        assert_eq!(files.subset, None);
        let own = files.run_corpus.unwrap();
        assert_eq!(fs::read_dir(&own).unwrap().count(), 0);
        fs::write(own.join("a"), b"one").unwrap();
        fs::write(own.join("b"), b"seed").unwrap(); // already in the corpus
        let taken = finish_run(&layout, "t", 3).unwrap();
        assert_eq!(taken, [fleet_store::sha1_hex(b"one")]);
        assert_eq!(fs::read_dir(layout.corpus_dir("t")).unwrap().count(), 2);
        // Other strategies write straight into the target's corpus.
        let plain: Strategy = "mutate_depth:20".parse().unwrap();
        let files = prepare(&layout, "t", 4, &plain, 1).unwrap();
        assert_eq!(files.run_corpus, None);
        assert_eq!(finish_run(&layout, "t", 4).unwrap(), Vec::<String>::new());
    }

    /// What a run writes to its own corpus reaches the shared one while it runs, each
    /// file once settled and once only; the names returned are the run's additions. What
    /// the shared corpus has reaches the run's, and is not the run's.
    #[test]
    fn a_run_and_the_shared_corpus_exchange_entries_while_it_runs() {
        let (_d, layout) = layout("so-far");
        let strategy: Strategy = "value_profile".parse().unwrap();
        let own = prepare(&layout, "t", 6, &strategy, 1)
            .unwrap()
            .run_corpus
            .unwrap();
        // The corpus when the run starts: the run reads it itself, it is not given.
        let known = fleet_store::sha1_hex(b"known");
        fs::write(layout.corpus_dir("t").join(&known), b"known").unwrap();
        let mut x = Exchange::starting(&layout, "t").unwrap();
        fs::write(own.join("a"), b"new one").unwrap();
        fs::write(own.join("b"), b"known").unwrap();
        // Not settled yet: nothing is taken.
        let hour = Duration::from_secs(3600);
        assert!(x.run(&layout, "t", 6, hour).unwrap().is_empty());
        assert!(!own.join(&known).exists());
        let taken = x.run(&layout, "t", 6, Duration::ZERO).unwrap();
        assert_eq!(taken, [fleet_store::sha1_hex(b"new one")]);
        assert!(layout.corpus_dir("t").join(&taken[0]).exists());
        // Taken once; a later find is taken next time, and another worker's find
        // reaches the run as a file of its own time: libFuzzer's reload skips a file
        // older than its last read of the directory, and this one was written an hour
        // ago.
        fs::write(own.join("c"), b"later").unwrap();
        let other = fleet_store::sha1_hex(b"other");
        let theirs = layout.corpus_dir("t").join(&other);
        fs::write(&theirs, b"other").unwrap();
        let old = SystemTime::now() - hour;
        fs::File::options()
            .write(true)
            .open(&theirs)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let taken = x.run(&layout, "t", 6, Duration::ZERO).unwrap();
        assert_eq!(taken, [fleet_store::sha1_hex(b"later")]);
        assert_eq!(fs::read(own.join(&other)).unwrap(), b"other");
        let given = fs::metadata(own.join(&other)).unwrap().modified().unwrap();
        assert!(given > old + hour / 2, "{given:?}");
        // The shared file keeps its time (a copy, not a touched link).
        let kept = fs::metadata(&theirs).unwrap().modified().unwrap();
        assert!(kept < old + hour / 2, "{kept:?}");
        assert!(x.run(&layout, "t", 6, Duration::ZERO).unwrap().is_empty());
        // The shared corpus unchanged since: nothing to give, and it is not listed.
        assert_eq!(
            x.shared_mtime,
            fs::metadata(layout.corpus_dir("t"))
                .unwrap()
                .modified()
                .ok()
        );
        // At the end nothing is taken twice, and nothing of the shared corpus is the run's.
        assert_eq!(finish_run(&layout, "t", 6).unwrap(), Vec::<String>::new());
        assert_eq!(fs::read_dir(layout.corpus_dir("t")).unwrap().count(), 4);
        // A run without a corpus of its own has nothing to exchange.
        assert!(
            Exchange::default()
                .run(&layout, "t", 7, Duration::ZERO)
                .unwrap()
                .is_empty()
        );
    }

    /// A subset run is given only what the corpus gains after its start, not the rest of
    /// the corpus it was not chosen from.
    #[test]
    fn a_subset_run_is_given_only_entries_newer_than_its_start() {
        let (_d, layout) = layout("subset-x");
        for i in 0..6u8 {
            fs::write(
                layout.corpus_dir("t").join(fleet_store::sha1_hex(&[i])),
                [i],
            )
            .unwrap();
        }
        let strategy: Strategy = "subset:2".parse().unwrap();
        let files = prepare(&layout, "t", 8, &strategy, 1).unwrap();
        let own = files.run_corpus.unwrap();
        let mut x = Exchange::starting(&layout, "t").unwrap();
        assert!(x.run(&layout, "t", 8, Duration::ZERO).unwrap().is_empty());
        assert_eq!(fs::read_dir(&own).unwrap().count(), 0);
        let new = fleet_store::sha1_hex(b"new");
        fs::write(layout.corpus_dir("t").join(&new), b"new").unwrap();
        x.run(&layout, "t", 8, Duration::ZERO).unwrap();
        let given: Vec<_> = fs::read_dir(&own)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(given, [OsString::from(&new)]);
    }

    /// The real libFuzzer build of `plant_checksum`: its `OK` (a 2-byte comparison behind
    /// a CRC-32, which libFuzzer never recommends) is read from its code; a file that is
    /// not a binary has no constants and is no error.
    #[test]
    fn constants_are_harvested_from_a_real_binarys_comparisons() {
        let constants = harvest(&fleet_testkit::rust_fixture("plant_checksum")).unwrap();
        assert!(constants.contains(&b"OK".to_vec()), "{constants:?}");
        // plant_magic's 8-byte magic, compared as one u64.
        let magic = harvest(&fleet_testkit::rust_fixture("plant_magic")).unwrap();
        let want = 0x1bad_b002_dead_beef_u64.to_le_bytes().to_vec();
        assert!(magic.contains(&want), "{magic:?}");
        let (d, _layout) = layout("harvest");
        let text = d.path().join("not-a-binary");
        fs::write(&text, "#!/bin/sh\nexit 0\n").unwrap();
        assert_eq!(harvest(&text).unwrap(), Vec::<Vec<u8>>::new());
        assert!(harvest(&d.path().join("missing")).is_err());
    }

    #[test]
    fn a_run_killed_mid_way_leaves_its_finds_for_the_next_campaign() {
        let (_d, layout) = layout("recover");
        let strategy: Strategy = "subset:2".parse().unwrap();
        let files = prepare(&layout, "t", 9, &strategy, 1).unwrap();
        fs::write(files.run_corpus.unwrap().join("x"), b"kept").unwrap();
        assert_eq!(recover(&layout, "t").unwrap(), 1);
        assert_eq!(fs::read_dir(layout.corpus_dir("t")).unwrap().count(), 1);
    }

    #[test]
    fn the_recommended_dictionary_accumulates_from_worker_logs_and_merges_with_the_users() {
        let (d, layout) = layout("dict");
        let log = d.path().join("w0.log");
        fs::write(
            &log,
            "#1000 DONE cov: 10 ft: 20\n###### Recommended dictionary. ######\n\"ABCD\" # Uses: 7\n\"\\x01\\x02\" # Uses: 2\n###### End of recommended dictionary. ######\n",
        )
        .unwrap();
        let mut dict = load_dict(&layout, "t");
        assert!(dict.is_empty());
        assert_eq!(absorb_log(&mut dict, &log).unwrap(), 2);
        assert_eq!(absorb_log(&mut dict, &log).unwrap(), 0);
        let user = d.path().join("user.dict");
        fs::write(&user, "kw=\"SELECT\"\n").unwrap();
        save_dict(&layout, "t", &dict, Some(&user)).unwrap();
        assert_eq!(load_dict(&layout, "t"), dict);
        let merged = fs::read_to_string(merged_file(&layout, "t")).unwrap();
        assert!(
            merged.contains("\"SELECT\"") && merged.contains("\"ABCD\""),
            "{merged}"
        );
        let strategy: Strategy = "value_profile+dict:both".parse().unwrap();
        let files = prepare(&layout, "t", 1, &strategy, 0).unwrap();
        assert_eq!(files.merged_dict, Some(merged_file(&layout, "t")));
        assert!(files.recommended_dict.unwrap().exists());
        // Nothing harvested yet: no file of harvested constants.
        assert!(!harvested_file(&layout, "t").exists());
        dict.set_harvested(&[b"OK".to_vec(), b"\x7fELF".to_vec()]);
        save_dict(&layout, "t", &dict, Some(&user)).unwrap();
        let strategy: Strategy = "dict:harvested+max_len:8".parse().unwrap();
        let files = prepare(&layout, "t", 2, &strategy, 0).unwrap();
        let harvested = fs::read_to_string(files.harvested_dict.unwrap()).unwrap();
        let entries: Vec<&str> = harvested.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(entries, ["\"OK\"", "\"\\x7fELF\""], "{harvested}");
        assert!(files.recommended_dict.is_none());
        // Its seeds: each constant, then a field of ones.
        let seeds = files.seeds.unwrap();
        let mut written: Vec<Vec<u8>> = fs::read_dir(&seeds)
            .unwrap()
            .map(|e| fs::read(e.unwrap().path()).unwrap())
            .collect();
        written.sort();
        assert_eq!(
            written,
            [
                b"OK\xff\xff\xff\xff".to_vec(),
                b"\x7fELF\xff\xff\xff\xff".to_vec()
            ]
        );
        assert!(seeds.starts_with(strategy_dir(&layout, "t")));
    }

    /// A run from the constants gives its finds to the target's corpus and is given
    /// none of the corpus's.
    #[test]
    fn a_run_from_the_constants_is_taken_from_and_given_nothing() {
        let (_d, layout) = layout("apart");
        let mut dict = RecommendedDict::default();
        dict.set_harvested(&[b"OK".to_vec()]);
        save_dict(&layout, "t", &dict, None).unwrap();
        let strategy: Strategy = "dict:harvested+max_len:8".parse().unwrap();
        let files = prepare(&layout, "t", 3, &strategy, 1).unwrap();
        let own = files.run_corpus.unwrap();
        let mut x = Exchange::apart();
        fs::write(own.join("a"), b"its find").unwrap();
        let theirs = fleet_store::sha1_hex(b"another worker's");
        fs::write(layout.corpus_dir("t").join(&theirs), b"another worker's").unwrap();
        let taken = x.run(&layout, "t", 3, Duration::ZERO).unwrap();
        assert_eq!(taken, [fleet_store::sha1_hex(b"its find")]);
        assert!(!own.join(&theirs).exists());
        assert_eq!(fs::read_dir(&own).unwrap().count(), 1);
        // Its seeds are not finds: at its end only what it wrote joins the corpus, and
        // the seeds go with the run's files.
        assert_eq!(
            fs::read_dir(files.seeds.as_ref().unwrap()).unwrap().count(),
            1
        );
        fs::write(own.join("b"), b"second find").unwrap();
        let seeds = files.seeds.clone().unwrap();
        let taken = finish_run(&layout, "t", 3).unwrap();
        assert_eq!(taken, [fleet_store::sha1_hex(b"second find")]);
        assert!(!seeds.exists());
        assert!(
            !layout
                .corpus_dir("t")
                .join(fleet_store::sha1_hex(b"OK\xff\xff\xff\xff"))
                .exists()
        );
    }
}
