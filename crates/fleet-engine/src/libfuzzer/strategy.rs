//! libFuzzer strategies for one worker run: value profile, dictionaries, `-max_len`,
//! corpus subsets, mutation depth and entropic settings, as data with a one-line
//! description recorded with the run (`value_profile+dict:recommended+max_len:4096`),
//! and the recommended-dictionary block libFuzzer prints when its loop ends by itself.
//!
//! Which strategies a run gets is decided elsewhere (the portfolio's bandit picks among
//! [`Strategy::portfolio`]'s arms by their measured payoff); this module only turns a
//! choice into [`LibFuzzerOptions`] through the same typed options and validated
//! [`ExtraFlag`]s as configuration, so a strategy can never set a flag fuzzfleet owns.
//!
//! Constants harvested from the target's comparisons: libFuzzer traces every comparison
//! (`-use_cmp=1`, its default) and keeps the operands that led to new coverage as its
//! "persistent auto-dictionary"; at the end of a run it prints them, with their use
//! counts, as the recommended dictionary. [`RecommendedDict`] accumulates those blocks
//! over a target's runs (so what one run learnt about the target's magic values and
//! integer comparisons seeds the next), and [`RecommendedDict::to_dict_file`] writes them
//! in the `-dict` format, which — unlike the block — only knows `\xNN` escapes.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::flags::ExtraFlag;
use super::options::LibFuzzerOptions;

/// The line libFuzzer prints before its recommended dictionary
/// (`MutationDispatcher::PrintRecommendedDictionary`), only when the fuzzing loop ends
/// by itself (`-runs`, `-max_total_time`), never after a signal or a crash.
pub const RECOMMENDED_DICT_START: &str = "###### Recommended dictionary. ######";
/// The line after the last entry.
pub const RECOMMENDED_DICT_END: &str = "###### End of recommended dictionary. ######";

/// Which dictionary a run gets. libFuzzer takes one `-dict` file, so `Both` is a file the
/// executor writes with [`merge_dict_files`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DictChoice {
    /// The dictionary named in the target's configuration.
    User,
    /// The target's accumulated recommended dictionary ([`RecommendedDict`]).
    Recommended,
    /// Only the constants harvested from the target's binary
    /// ([`RecommendedDict::harvested_entries`]): a handful of entries, so each is
    /// chosen often, where the recommended dictionary holds hundreds.
    Harvested,
    /// Both in one file.
    Both,
}

/// libFuzzer's entropic power schedule settings (`-entropic=1` is its default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Entropic {
    /// `-entropic=0`: the older, vanilla schedule.
    Off,
    /// `-entropic_scale_per_exec_time=1`: entropic, favouring inputs that run fast.
    ExecTime,
}

/// The strategies of one worker run. The default (everything off) is libFuzzer as
/// fuzzfleet ran it before strategies: its description is `plain`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Strategy {
    /// `-use_value_profile=1`: comparisons' operand distances become features, which
    /// walks libFuzzer towards multi-byte magic values and relations between fields.
    pub value_profile: bool,
    pub dict: Option<DictChoice>,
    /// `-max_len=N` for this run instead of the configured or inferred one.
    pub max_len: Option<usize>,
    /// Fuzz a random subset of this many corpus entries instead of the whole corpus
    /// (ClusterFuzz's corpus subset): fewer, shorter seeds get more mutations each.
    pub corpus_subset: Option<usize>,
    /// `-mutate_depth=N` (libFuzzer's default is 5 mutations in a row per input).
    pub mutate_depth: Option<u32>,
    pub entropic: Option<Entropic>,
}

/// Why a description did not parse; each message names the part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrategyError {
    #[error(
        "`{0}` is not a strategy (known: plain, value_profile, dict:user|recommended|harvested|both, max_len:N, subset:N, mutate_depth:N, entropic:off|exec_time)"
    )]
    Unknown(String),
    #[error("`{0}` needs a positive number")]
    BadNumber(String),
    #[error("`{0}` is given twice")]
    Repeated(String),
    #[error("the strategy needs {0}, which the run was not given")]
    MissingFile(&'static str),
}

impl Strategy {
    /// The arms the portfolio chooses among: libFuzzer as before, each strategy alone,
    /// and the pairs that help each other (value profile with a dictionary, a short
    /// `-max_len` with a corpus subset). `user_dict` adds the dictionary arms that need
    /// one. Small on purpose: every arm costs runs before the bandit knows it.
    pub fn portfolio(user_dict: bool) -> Vec<Strategy> {
        let s = Strategy::default;
        let mut arms = vec![
            s(),
            // Second: what plain libFuzzer's comparison tracing cannot solve, an
            // arithmetic relation between input fields, value profile rewards step by
            // step.
            Strategy {
                value_profile: true,
                ..s()
            },
            // Short inputs from the harvested constants alone, away from the corpus
            // ([`Strategy::starts_from_constants`]): a magic placed where a format
            // checks it, with a checksum or length after it fixed by libFuzzer's
            // comparison mutation, is likelier in 8 bytes than in 4,000, and in a
            // corpus of a few inputs than of hundreds. Early in the order: the
            // target's own constants are the cheapest lead it offers.
            Strategy {
                dict: Some(DictChoice::Harvested),
                max_len: Some(8),
                ..s()
            },
            Strategy {
                dict: Some(DictChoice::Recommended),
                ..s()
            },
            Strategy {
                value_profile: true,
                dict: Some(DictChoice::Recommended),
                ..s()
            },
            Strategy {
                max_len: Some(128),
                corpus_subset: Some(100),
                ..s()
            },
            Strategy {
                max_len: Some(65536),
                ..s()
            },
            Strategy {
                mutate_depth: Some(20),
                ..s()
            },
            Strategy {
                entropic: Some(Entropic::ExecTime),
                ..s()
            },
            Strategy {
                entropic: Some(Entropic::Off),
                ..s()
            },
        ];
        if user_dict {
            arms.push(Strategy {
                dict: Some(DictChoice::Both),
                value_profile: true,
                ..s()
            });
        }
        arms
    }

    pub fn is_plain(&self) -> bool {
        *self == Strategy::default()
    }

    /// Whether the run needs the target's recommended dictionary on disk: the caller
    /// leaves such arms out (the bandit's `available`) until that dictionary has entries.
    pub fn needs_recommended_dict(&self) -> bool {
        matches!(self.dict, Some(DictChoice::Recommended | DictChoice::Both))
    }

    /// Whether the run needs the constants harvested from the target's binary on disk:
    /// the caller leaves such arms out until the harvest found some.
    pub fn needs_harvested_dict(&self) -> bool {
        self.dict == Some(DictChoice::Harvested)
    }

    /// Whether the run writes to a corpus of its own ([`StrategyFiles::run_corpus`]), so
    /// that what it added can be named and replayed to pay it: its own count of features
    /// is not in the unit of a plain run over the whole corpus. A value-profile run
    /// counts comparisons too; a subset run starts from part of the corpus, and a
    /// `max_len` run from the corpus cut to that length (libFuzzer reads no more of an
    /// input), so what they count as new may be in the corpus already.
    pub fn needs_run_corpus(&self) -> bool {
        self.corpus_subset.is_some() || self.value_profile || self.max_len.is_some()
    }

    /// Whether the run starts from inputs built of the constants harvested from the
    /// binary ([`constant_seeds`], in [`StrategyFiles::seeds`]) instead of the target's
    /// corpus: the harvested dictionary with a short `-max_len`. Such a run searches a
    /// few short inputs of the target's own constants, where one behind a check of a
    /// field computed from the rest of the input (a checksum) is found in seconds; the
    /// corpus, cut to that length, would be hundreds of near-copies to share the
    /// mutations with. What it finds joins the corpus as any own-corpus run's does.
    pub fn starts_from_constants(&self) -> bool {
        self.dict == Some(DictChoice::Harvested) && self.max_len.is_some()
    }

    /// Whether the run needs the user's dictionary (the target's `dict`).
    pub fn needs_user_dict(&self) -> bool {
        matches!(self.dict, Some(DictChoice::User | DictChoice::Both))
    }

    /// The libFuzzer flags this strategy passes besides typed options (`-dict`,
    /// `-max_len`) and the corpus layout.
    pub fn flags(&self) -> Vec<ExtraFlag> {
        let mut raw = Vec::new();
        if self.value_profile {
            raw.push("-use_value_profile=1".to_string());
        }
        if let Some(d) = self.mutate_depth {
            raw.push(format!("-mutate_depth={d}"));
        }
        match self.entropic {
            Some(Entropic::Off) => raw.push("-entropic=0".into()),
            Some(Entropic::ExecTime) => raw.push("-entropic_scale_per_exec_time=1".into()),
            None => {}
        }
        raw.iter()
            .map(|f| {
                f.parse()
                    .expect("strategy flags are known, unreserved libFuzzer flags")
            })
            .collect()
    }

    /// Applies the strategy to a worker's options and returns what was in effect (the
    /// description to record with the run). The configuration wins over a strategy: an
    /// extra flag the user set (say `-use_value_profile=0`) or a configured `max_len`
    /// stays, and that part of the strategy is dropped from what is returned.
    ///
    /// A corpus subset runs on `files.subset` (a directory of the chosen entries, read
    /// only) with `files.run_corpus` (fresh, empty) as the writable first directory, so
    /// the run loads only the subset; the executor copies the new entries it leaves in
    /// `run_corpus` into the target's shared corpus when the run ends. A value-profile
    /// or `max_len` run reads the whole shared corpus and writes to `files.run_corpus`
    /// the same way (see [`Strategy::needs_run_corpus`]); a run that starts from the
    /// constants reads `files.seeds` instead of the shared corpus
    /// ([`Strategy::starts_from_constants`]).
    pub fn apply(
        &self,
        opts: &mut LibFuzzerOptions,
        files: &StrategyFiles,
    ) -> Result<Strategy, StrategyError> {
        let mut effective = self.clone();
        let user_sets = |name: &str| opts.extra_args.iter().any(|f| f.name() == name);
        if self.value_profile && user_sets("use_value_profile") {
            effective.value_profile = false;
        }
        if self.mutate_depth.is_some() && user_sets("mutate_depth") {
            effective.mutate_depth = None;
        }
        if self.entropic.is_some()
            && (user_sets("entropic") || user_sets("entropic_scale_per_exec_time"))
        {
            effective.entropic = None;
        }
        if self.max_len.is_some() && opts.max_len.is_some() {
            effective.max_len = None;
        }
        if let Some(choice) = self.dict {
            let path = match choice {
                DictChoice::User => opts.dict.clone().ok_or(StrategyError::MissingFile(
                    "a user dictionary (the target's dict)",
                ))?,
                DictChoice::Recommended => {
                    files
                        .recommended_dict
                        .clone()
                        .ok_or(StrategyError::MissingFile(
                            "the target's recommended dictionary",
                        ))?
                }
                DictChoice::Harvested => {
                    files
                        .harvested_dict
                        .clone()
                        .ok_or(StrategyError::MissingFile(
                            "the constants harvested from the target's binary",
                        ))?
                }
                DictChoice::Both => files.merged_dict.clone().ok_or(StrategyError::MissingFile(
                    "the merged user and recommended dictionary",
                ))?,
            };
            opts.dict = Some(path);
        }
        if let Some(n) = effective.max_len {
            opts.max_len = Some(n);
        }
        if effective.starts_from_constants() {
            let (Some(run_corpus), Some(seeds)) = (&files.run_corpus, &files.seeds) else {
                return Err(StrategyError::MissingFile(
                    "a fresh run corpus and the constants' seeds",
                ));
            };
            opts.extra_corpus_dirs.insert(0, seeds.clone());
            opts.corpus_dir = run_corpus.clone();
        } else if self.corpus_subset.is_some() {
            let (Some(run_corpus), Some(subset)) = (&files.run_corpus, &files.subset) else {
                return Err(StrategyError::MissingFile(
                    "a fresh run corpus and a subset directory",
                ));
            };
            opts.extra_corpus_dirs.insert(0, subset.clone());
            opts.corpus_dir = run_corpus.clone();
        } else if effective.needs_run_corpus() {
            let Some(run_corpus) = &files.run_corpus else {
                return Err(StrategyError::MissingFile("a fresh run corpus"));
            };
            let shared = std::mem::replace(&mut opts.corpus_dir, run_corpus.clone());
            opts.extra_corpus_dirs.insert(0, shared);
        }
        opts.extra_args.extend(effective.flags());
        Ok(effective)
    }
}

/// Files the executor prepares for a run's strategy (only those it needs; see
/// [`Strategy::dict`] and [`Strategy::corpus_subset`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StrategyFiles {
    /// [`RecommendedDict::to_dict_file`] of the target, written to disk.
    pub recommended_dict: Option<PathBuf>,
    /// [`merge_dict_files`] of the user's and the recommended dictionary.
    pub merged_dict: Option<PathBuf>,
    /// [`RecommendedDict::harvested_entries`] of the target, written to disk.
    pub harvested_dict: Option<PathBuf>,
    /// An empty directory: the run's writable corpus.
    pub run_corpus: Option<PathBuf>,
    /// A directory holding the entries [`choose_subset`] picked.
    pub subset: Option<PathBuf>,
    /// A directory holding [`constant_seeds`] of the harvested constants.
    pub seeds: Option<PathBuf>,
}

/// The most seeds [`constant_seeds`] makes.
pub const MAX_CONSTANT_SEEDS: usize = 256;

/// The inputs a run that starts from the constants reads ([`Strategy::starts_from_constants`]):
/// each constant followed by a four-byte field of ones, at most [`MAX_CONSTANT_SEEDS`]. A
/// constant with no room for the field within `max_len` (the run's, which libFuzzer cuts
/// its inputs to) is a seed alone.
///
/// Why ones: a check of a field against a value computed from the rest of the input is
/// often compiled to compare neither. `!crc32(payload) != stored` became
/// `crc ^ stored == 0xffffffff` in `plant_checksum`, so comparison tracing sees
/// `0xffffffff` and `crc ^ stored`, and the field's bytes are not an operand to replace.
/// With the field all ones, the second operand is the value the field must hold, and the
/// first is what the input has there: libFuzzer's comparison mutation writes the one
/// over the other. (A check compiled as is, `computed != stored`, is solved from any
/// field value.)
pub fn constant_seeds(constants: &[Vec<u8>], max_len: usize) -> Vec<Vec<u8>> {
    constants
        .iter()
        .take(MAX_CONSTANT_SEEDS)
        .map(|c| {
            let mut seed = c.clone();
            if seed.len() + 4 <= max_len {
                seed.extend_from_slice(&[0xff; 4]);
            }
            seed.truncate(max_len);
            seed
        })
        .collect()
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if self.value_profile {
            parts.push("value_profile".into());
        }
        if let Some(d) = self.dict {
            parts.push(
                match d {
                    DictChoice::User => "dict:user",
                    DictChoice::Recommended => "dict:recommended",
                    DictChoice::Harvested => "dict:harvested",
                    DictChoice::Both => "dict:both",
                }
                .into(),
            );
        }
        if let Some(n) = self.max_len {
            parts.push(format!("max_len:{n}"));
        }
        if let Some(n) = self.corpus_subset {
            parts.push(format!("subset:{n}"));
        }
        if let Some(n) = self.mutate_depth {
            parts.push(format!("mutate_depth:{n}"));
        }
        match self.entropic {
            Some(Entropic::Off) => parts.push("entropic:off".into()),
            Some(Entropic::ExecTime) => parts.push("entropic:exec_time".into()),
            None => {}
        }
        if parts.is_empty() {
            f.write_str("plain")
        } else {
            f.write_str(&parts.join("+"))
        }
    }
}

impl FromStr for Strategy {
    type Err = StrategyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut st = Strategy::default();
        if s == "plain" {
            return Ok(st);
        }
        for part in s.split('+') {
            let (name, value) = part.split_once(':').unwrap_or((part, ""));
            let number = || -> Result<u64, StrategyError> {
                value
                    .parse::<u64>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| StrategyError::BadNumber(part.to_string()))
            };
            let repeated = || StrategyError::Repeated(name.to_string());
            match (name, value) {
                ("value_profile", "") if !st.value_profile => st.value_profile = true,
                ("value_profile", "") => return Err(repeated()),
                ("dict", v) => {
                    let d = match v {
                        "user" => DictChoice::User,
                        "recommended" => DictChoice::Recommended,
                        "harvested" => DictChoice::Harvested,
                        "both" => DictChoice::Both,
                        _ => return Err(StrategyError::Unknown(part.to_string())),
                    };
                    if st.dict.replace(d).is_some() {
                        return Err(repeated());
                    }
                }
                ("max_len", _) => {
                    let n = usize::try_from(number()?)
                        .map_err(|_| StrategyError::BadNumber(part.to_string()))?;
                    if st.max_len.replace(n).is_some() {
                        return Err(repeated());
                    }
                }
                ("subset", _) => {
                    let n = usize::try_from(number()?)
                        .map_err(|_| StrategyError::BadNumber(part.to_string()))?;
                    if st.corpus_subset.replace(n).is_some() {
                        return Err(repeated());
                    }
                }
                ("mutate_depth", _) => {
                    let n = u32::try_from(number()?)
                        .map_err(|_| StrategyError::BadNumber(part.to_string()))?;
                    if st.mutate_depth.replace(n).is_some() {
                        return Err(repeated());
                    }
                }
                ("entropic", v) => {
                    let e = match v {
                        "off" => Entropic::Off,
                        "exec_time" => Entropic::ExecTime,
                        _ => return Err(StrategyError::Unknown(part.to_string())),
                    };
                    if st.entropic.replace(e).is_some() {
                        return Err(repeated());
                    }
                }
                _ => return Err(StrategyError::Unknown(part.to_string())),
            }
        }
        Ok(st)
    }
}

impl Serialize for Strategy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Strategy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A target's recommended dictionary, accumulated over its runs: each entry with the
/// highest use count any run reported, and the constants its binary compares with
/// ([`super::harvest`]), which libFuzzer cannot recommend before an input reaches
/// them (and never for 2-byte comparisons). Persist it with serde (entries as hex).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecommendedDict {
    /// Hex of the entry's bytes → uses.
    entries: BTreeMap<String, u64>,
    /// Hex of each constant harvested from the target's binary, in the code's order.
    #[serde(default)]
    harvested: Vec<String>,
}

/// At most this many entries are written to a dict file: the harvested constants first
/// (at most [`HARVESTED_MAX`]), then the most used. A long dictionary dilutes the
/// mutations that use it.
pub const RECOMMENDED_DICT_MAX: usize = 200;
/// At most this many harvested constants go into the dict file.
pub const HARVESTED_MAX: usize = 100;

impl RecommendedDict {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds every entry of the recommended-dictionary blocks in `output` (a run's
    /// output); returns how many entries were new. Lines inside a block that do not
    /// parse are skipped (libFuzzer escapes every byte, so none should).
    pub fn absorb(&mut self, output: &str) -> usize {
        let mut added = 0;
        for (bytes, uses) in parse_recommended_dict(output) {
            let key = hex(&bytes);
            let slot = self.entries.entry(key).or_insert_with(|| {
                added += 1;
                0
            });
            *slot = (*slot).max(uses);
        }
        added
    }

    /// Replaces the constants harvested from the target's binary (a new build has its
    /// own); returns whether they changed.
    pub fn set_harvested(&mut self, constants: &[Vec<u8>]) -> bool {
        let harvested: Vec<String> = constants.iter().map(|c| hex(c)).collect();
        let changed = harvested != self.harvested;
        self.harvested = harvested;
        changed
    }

    /// How many constants were harvested from the binary.
    pub fn harvested_len(&self) -> usize {
        self.harvested.len()
    }

    pub fn len(&self) -> usize {
        self.entries.len() + self.harvested.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.harvested.is_empty()
    }

    /// The constants harvested from the binary alone (at most [`HARVESTED_MAX`]), in the
    /// code's order.
    pub fn harvested_entries(&self) -> Vec<Vec<u8>> {
        self.harvested
            .iter()
            .take(HARVESTED_MAX)
            .map(|h| unhex(h))
            .collect()
    }

    /// The entries: the harvested constants (uses 0; at most [`HARVESTED_MAX`]) not also
    /// recommended, then the recommended ones, most used first (then by bytes), at most
    /// [`RECOMMENDED_DICT_MAX`] in all.
    pub fn entries(&self) -> Vec<(Vec<u8>, u64)> {
        let mut all: Vec<(Vec<u8>, u64)> = self
            .harvested
            .iter()
            .filter(|h| !self.entries.contains_key(*h))
            .take(HARVESTED_MAX)
            .map(|h| (unhex(h), 0))
            .collect();
        let mut used: Vec<(Vec<u8>, u64)> =
            self.entries.iter().map(|(k, &u)| (unhex(k), u)).collect();
        used.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        all.extend(used);
        all.truncate(RECOMMENDED_DICT_MAX);
        all
    }

    /// The dictionary in libFuzzer's `-dict` format, one `"…"` entry per line.
    pub fn to_dict_file(&self) -> String {
        let mut out = String::from("# fuzzfleet: libFuzzer's recommended dictionary, over runs\n");
        for (bytes, uses) in self.entries() {
            out.push_str(&format!("\"{}\" # uses: {uses}\n", escape_dict(&bytes)));
        }
        out
    }
}

/// The entries (bytes, uses) of every recommended-dictionary block in `output`.
pub fn parse_recommended_dict(output: &str) -> Vec<(Vec<u8>, u64)> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in output.lines() {
        let line = line.trim_end();
        if line == RECOMMENDED_DICT_START {
            inside = true;
        } else if line == RECOMMENDED_DICT_END {
            inside = false;
        } else if inside && let Some(entry) = parse_block_entry(line) {
            out.push(entry);
        }
    }
    out
}

/// `"\001FUZ\"" # Uses: 12`: libFuzzer's `PrintASCII` writes printable bytes as they
/// are, `\\` and `\"` escaped, and every other byte as three octal digits.
fn parse_block_entry(line: &str) -> Option<(Vec<u8>, u64)> {
    let rest = line.strip_prefix('"')?;
    let (body, tail) = rest.rsplit_once('"')?;
    let uses = tail
        .trim()
        .strip_prefix("# Uses:")
        .and_then(|u| u.trim().parse().ok())
        .unwrap_or(0);
    let b = body.as_bytes();
    let mut bytes = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            bytes.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1)? {
            c @ (b'\\' | b'"') => {
                bytes.push(*c);
                i += 2;
            }
            b'x' => {
                let h = std::str::from_utf8(b.get(i + 2..i + 4)?).ok()?;
                bytes.push(u8::from_str_radix(h, 16).ok()?);
                i += 4;
            }
            _ => {
                let o = std::str::from_utf8(b.get(i + 1..i + 4)?).ok()?;
                bytes.push(u8::from_str_radix(o, 8).ok()?);
                i += 4;
            }
        }
    }
    (!bytes.is_empty()).then_some((bytes, uses))
}

/// Escapes bytes for a `-dict` file: libFuzzer's `ParseOneDictionaryEntry` accepts
/// printable ASCII, `\\`, `\"` and `\xNN`, and refuses octal.
pub fn escape_dict(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            0x20..=0x7e => s.push(char::from(b)),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

/// One `-dict` file out of several (the user's and the recommended one): the lines of
/// each, comments and blank lines dropped, each entry once, in order.
pub fn merge_dict_files(files: &[&str]) -> String {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = String::new();
    for text in files {
        for line in text.lines() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            // An entry is `name="…"` or `"…"`; a trailing comment is not part of it.
            let entry = match (t.find('"'), t.rfind('"')) {
                (Some(l), Some(r)) if r > l => &t[l..=r],
                _ => continue,
            };
            if seen.insert(entry.to_string()) {
                out.push_str(entry);
                out.push('\n');
            }
        }
    }
    out
}

/// A random subset of `n` corpus entries (file names), chosen by `seed`: the same
/// names and seed give the same subset. All of them when there are no more than `n`.
pub fn choose_subset(entries: &[String], n: usize, seed: u64) -> Vec<String> {
    let mut names: Vec<String> = entries.to_vec();
    names.sort();
    let mut state = seed;
    let k = n.min(names.len());
    // A partial Fisher–Yates shuffle driven by SplitMix64.
    for i in 0..k {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let j = i + (z % (names.len() - i) as u64) as usize;
        names.swap(i, j);
    }
    names.truncate(k);
    names
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::libfuzzer::worker_command;
    use std::path::Path;

    fn opts() -> LibFuzzerOptions {
        LibFuzzerOptions::new("/fz/t", "/st/corpus/t", "/st/art/t")
    }

    #[test]
    fn descriptions_round_trip_and_name_every_part() {
        for arm in Strategy::portfolio(true) {
            let text = arm.to_string();
            assert_eq!(text.parse::<Strategy>(), Ok(arm.clone()), "{text}");
            let json = serde_json::to_string(&arm).unwrap();
            assert_eq!(serde_json::from_str::<Strategy>(&json).unwrap(), arm);
        }
        let s: Strategy = "value_profile+dict:recommended+max_len:4096"
            .parse()
            .unwrap();
        assert!(s.value_profile);
        assert_eq!(s.dict, Some(DictChoice::Recommended));
        assert_eq!(s.max_len, Some(4096));
        assert_eq!(s.to_string(), "value_profile+dict:recommended+max_len:4096");
        assert_eq!(Strategy::default().to_string(), "plain");
        assert!(s.needs_recommended_dict() && !s.needs_user_dict());
        let both: Strategy = "dict:both".parse().unwrap();
        assert!(both.needs_recommended_dict() && both.needs_user_dict());
        let harvested: Strategy = "dict:harvested+max_len:8".parse().unwrap();
        assert_eq!(harvested.dict, Some(DictChoice::Harvested));
        assert!(harvested.needs_harvested_dict() && !harvested.needs_recommended_dict());
        let mut o = opts();
        assert_eq!(
            harvested.apply(&mut o, &StrategyFiles::default()),
            Err(StrategyError::MissingFile(
                "the constants harvested from the target's binary"
            ))
        );
        let files = StrategyFiles {
            harvested_dict: Some("/st/h.dict".into()),
            run_corpus: Some("/st/run/1/corpus".into()),
            seeds: Some("/st/run/1/seeds".into()),
            ..StrategyFiles::default()
        };
        assert_eq!(harvested.apply(&mut o, &files), Ok(harvested.clone()));
        assert_eq!(o.dict.as_deref(), Some(Path::new("/st/h.dict")));
        assert_eq!(
            Strategy::portfolio(false)
                .iter()
                .filter(|s| s.needs_user_dict())
                .count(),
            0
        );
        assert!("plain".parse::<Strategy>().unwrap().is_plain());
    }

    #[test]
    fn bad_descriptions_are_refused_with_the_part() {
        let err = |s: &str| s.parse::<Strategy>().unwrap_err();
        assert_eq!(err("fork:2"), StrategyError::Unknown("fork:2".into()));
        assert_eq!(
            err("max_len:0"),
            StrategyError::BadNumber("max_len:0".into())
        );
        assert_eq!(err("subset:x"), StrategyError::BadNumber("subset:x".into()));
        assert_eq!(
            err("value_profile+value_profile"),
            StrategyError::Repeated("value_profile".into())
        );
        assert_eq!(err("dict:mine"), StrategyError::Unknown("dict:mine".into()));
    }

    #[test]
    fn a_strategy_becomes_typed_options_and_validated_flags() {
        let s: Strategy =
            "value_profile+dict:recommended+max_len:128+mutate_depth:20+entropic:exec_time"
                .parse()
                .unwrap();
        let mut o = opts();
        let files = StrategyFiles {
            recommended_dict: Some("/st/dict/t.dict".into()),
            run_corpus: Some("/st/run/3/corpus".into()),
            ..Default::default()
        };
        let effective = s.apply(&mut o, &files).unwrap();
        assert_eq!(effective, s);
        let args = worker_command(&o).args_lossy();
        for want in [
            "-dict=/st/dict/t.dict",
            "-max_len=128",
            "-use_value_profile=1",
            "-mutate_depth=20",
            "-entropic_scale_per_exec_time=1",
        ] {
            assert!(args.contains(&want.to_string()), "{want} in {args:?}");
        }
        let mut o = opts();
        "entropic:off"
            .parse::<Strategy>()
            .unwrap()
            .apply(&mut o, &files)
            .unwrap();
        assert!(
            worker_command(&o)
                .args_lossy()
                .contains(&"-entropic=0".to_string())
        );
    }

    #[test]
    fn the_configuration_wins_and_the_recorded_strategy_says_so() {
        let s: Strategy = "value_profile+max_len:128+mutate_depth:3".parse().unwrap();
        let mut o = opts();
        o.max_len = Some(1000);
        o.extra_args = vec!["-use_value_profile=0".parse().unwrap()];
        let effective = s.apply(&mut o, &StrategyFiles::default()).unwrap();
        assert_eq!(effective.to_string(), "mutate_depth:3");
        assert_eq!(o.max_len, Some(1000));
        let args = worker_command(&o).args_lossy();
        assert!(!args.contains(&"-use_value_profile=1".to_string()));
        assert!(args.contains(&"-mutate_depth=3".to_string()));
    }

    #[test]
    fn a_subset_run_loads_only_the_subset_and_writes_to_its_own_dir() {
        let s: Strategy = "subset:100".parse().unwrap();
        let mut o = opts();
        o.extra_corpus_dirs = vec!["/seeds/t".into()];
        assert_eq!(
            s.apply(&mut o.clone(), &StrategyFiles::default()),
            Err(StrategyError::MissingFile(
                "a fresh run corpus and a subset directory"
            ))
        );
        let files = StrategyFiles {
            run_corpus: Some("/st/run/7/corpus".into()),
            subset: Some("/st/run/7/subset".into()),
            ..Default::default()
        };
        s.apply(&mut o, &files).unwrap();
        let args = worker_command(&o).args_lossy();
        let tail = &args[args.len() - 3..];
        assert_eq!(tail, ["/st/run/7/corpus", "/st/run/7/subset", "/seeds/t"]);
    }

    /// The harvested-constants arm reads its seeds and writes to a corpus of its own,
    /// and never the shared corpus.
    #[test]
    fn a_run_from_the_constants_reads_its_seeds_not_the_corpus() {
        let s: Strategy = "dict:harvested+max_len:8".parse().unwrap();
        assert!(s.starts_from_constants() && s.needs_run_corpus());
        for text in ["dict:harvested", "max_len:8", "dict:recommended+max_len:8"] {
            let other: Strategy = text.parse().unwrap();
            assert!(!other.starts_from_constants(), "{text}");
        }
        let mut o = opts();
        o.extra_corpus_dirs = vec!["/seeds/t".into()];
        let shared = o.corpus_dir.to_string_lossy().into_owned();
        let files = StrategyFiles {
            harvested_dict: Some("/st/harvested.dict".into()),
            run_corpus: Some("/st/run/7/corpus".into()),
            ..Default::default()
        };
        assert_eq!(
            s.apply(&mut o.clone(), &files),
            Err(StrategyError::MissingFile(
                "a fresh run corpus and the constants' seeds"
            ))
        );
        let files = StrategyFiles {
            seeds: Some("/st/run/7/seeds".into()),
            ..files
        };
        s.apply(&mut o, &files).unwrap();
        let args = worker_command(&o).args_lossy();
        assert!(!args.contains(&shared), "{args:?}");
        let tail = &args[args.len() - 3..];
        assert_eq!(tail, ["/st/run/7/corpus", "/st/run/7/seeds", "/seeds/t"]);
        assert!(args.contains(&"-max_len=8".to_string()), "{args:?}");
        // A configured max_len wins: the run is the dictionary alone, on the corpus.
        let mut o = opts();
        o.max_len = Some(100);
        let dict_only = StrategyFiles {
            harvested_dict: Some("/st/harvested.dict".into()),
            ..Default::default()
        };
        let effective = s.apply(&mut o, &dict_only).unwrap();
        assert_eq!(effective.to_string(), "dict:harvested");
        assert_eq!(o.corpus_dir.to_string_lossy(), shared);

        let seeds = constant_seeds(&[b"OK".to_vec(), vec![7; 4], vec![8; 8]], 8);
        assert_eq!(
            seeds,
            [
                b"OK\xff\xff\xff\xff".to_vec(),
                vec![7, 7, 7, 7, 255, 255, 255, 255],
                // No room for the field in 8 bytes: the constant alone.
                vec![8; 8],
            ]
        );
        assert_eq!(constant_seeds(&[vec![9; 12]], 8), [vec![9; 8]]);
        assert_eq!(
            constant_seeds(&vec![vec![1]; MAX_CONSTANT_SEEDS + 5], 8).len(),
            MAX_CONSTANT_SEEDS
        );
    }

    /// A value-profile run reads the shared corpus but writes what it finds to a
    /// corpus of its own, whose entries a replay then pays it for.
    #[test]
    fn a_value_profile_run_reads_the_corpus_and_writes_to_its_own_dir() {
        let s: Strategy = "value_profile+max_len:64".parse().unwrap();
        for (text, own) in [
            ("value_profile", true),
            ("max_len:8", true),
            ("subset:10", true),
            ("dict:recommended+mutate_depth:20", false),
            ("entropic:off", false),
        ] {
            let s: Strategy = text.parse().unwrap();
            assert_eq!(s.needs_run_corpus(), own, "{text}");
        }
        let mut o = opts();
        o.extra_corpus_dirs = vec!["/seeds/t".into()];
        let shared = o.corpus_dir.clone();
        assert_eq!(
            s.apply(&mut o.clone(), &StrategyFiles::default()),
            Err(StrategyError::MissingFile("a fresh run corpus"))
        );
        let files = StrategyFiles {
            run_corpus: Some("/st/run/7/corpus".into()),
            ..Default::default()
        };
        s.apply(&mut o, &files).unwrap();
        let args = worker_command(&o).args_lossy();
        let tail = &args[args.len() - 3..];
        let shared = shared.to_string_lossy().into_owned();
        assert_eq!(tail, ["/st/run/7/corpus", shared.as_str(), "/seeds/t"]);
        // With the user's own -use_value_profile and max_len, every run counts alike:
        // no own dir.
        let mut o = opts();
        o.extra_args = vec!["-use_value_profile=1".parse().unwrap()];
        o.max_len = Some(100);
        let effective = s.apply(&mut o, &StrategyFiles::default()).unwrap();
        assert_eq!(effective.to_string(), "plain");
        assert_eq!(o.corpus_dir.to_string_lossy(), shared);
    }

    #[test]
    fn a_dictionary_strategy_needs_its_file() {
        let mut o = opts();
        let user: Strategy = "dict:user".parse().unwrap();
        assert!(matches!(
            user.apply(&mut o, &StrategyFiles::default()),
            Err(StrategyError::MissingFile(_))
        ));
        o.dict = Some("/cfg/t.dict".into());
        user.apply(&mut o, &StrategyFiles::default()).unwrap();
        assert_eq!(o.dict.as_deref(), Some(Path::new("/cfg/t.dict")));
    }

    const FINAL_STATS_LOG: &str =
        include_str!("../../../../fixtures/logs/libfuzzer/fuzz-final-stats.log");
    const BIG_CORPUS_LOG: &str = include_str!("../../../../fixtures/logs/libfuzzer/big-corpus.log");

    #[test]
    fn reads_the_recommended_dictionary_libfuzzer_printed() {
        let entries = parse_recommended_dict(FINAL_STATS_LOG);
        assert_eq!(
            entries,
            [
                (vec![1, 0, 0, 0], 79137),
                (vec![0x17, 0, 0, 0, 0, 0, 0, 0], 72717)
            ]
        );
        let big = parse_recommended_dict(BIG_CORPUS_LOG);
        assert_eq!(big.len(), 11);
        assert_eq!(big[3], (b"nD\0\0\0\0\0\0".to_vec(), 18));
        assert_eq!(big[8].0, [0x9e, 0xb1, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn escapes_in_the_block_are_read_back_exactly() {
        let block = format!(
            "{RECOMMENDED_DICT_START}\n\"a\\\\b\\\"c\\377\" # Uses: 3\n\"\\x41\" # Uses: 1\n{RECOMMENDED_DICT_END}\n\"\\001\" # Uses: 9\n"
        );
        assert_eq!(
            parse_recommended_dict(&block),
            [(b"a\\b\"c\xff".to_vec(), 3), (b"A".to_vec(), 1)]
        );
    }

    #[test]
    fn accumulates_over_runs_and_writes_a_dict_file_libfuzzer_accepts() {
        let mut d = RecommendedDict::new();
        assert_eq!(d.absorb(FINAL_STATS_LOG), 2);
        assert_eq!(d.absorb(BIG_CORPUS_LOG), 10, "one entry is in both");
        assert_eq!(d.absorb(BIG_CORPUS_LOG), 0);
        assert_eq!(d.len(), 12);
        // The most used first, with the highest count any run gave.
        assert_eq!(d.entries()[0], (vec![1, 0, 0, 0], 79137));
        let file = d.to_dict_file();
        assert!(
            file.contains("\"\\x01\\x00\\x00\\x00\" # uses: 79137\n"),
            "{file}"
        );
        assert!(
            file.contains("\"nD\\x00\\x00\\x00\\x00\\x00\\x00\""),
            "{file}"
        );
        // Octal, which -dict refuses, never appears.
        assert!(!file.contains("\\0"), "{file}");
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<RecommendedDict>(&json).unwrap(), d);
    }

    /// Harvested constants lead the dict file (a recommended dictionary of 200 entries
    /// must not push them out), once each, and survive a save and load; a state saved
    /// before they existed loads without them.
    #[test]
    fn harvested_constants_come_first_and_persist() {
        let mut d = RecommendedDict::new();
        assert!(d.set_harvested(&[b"OK".to_vec(), vec![1, 0, 0, 0]]));
        assert!(!d.set_harvested(&[b"OK".to_vec(), vec![1, 0, 0, 0]]));
        assert_eq!(d.harvested_len(), 2);
        assert!(!d.is_empty());
        d.absorb(FINAL_STATS_LOG);
        d.absorb(BIG_CORPUS_LOG);
        let entries = d.entries();
        assert_eq!(entries[0], (b"OK".to_vec(), 0));
        // Recommended too: listed once, with its uses.
        assert_eq!(entries.iter().filter(|e| e.0 == [1, 0, 0, 0]).count(), 1);
        assert_eq!(entries[1], (vec![1, 0, 0, 0], 79137));
        // The harvested dictionary is the constants alone, recommended or not.
        assert_eq!(
            d.harvested_entries(),
            vec![b"OK".to_vec(), vec![1, 0, 0, 0]]
        );
        assert!(entries.len() > 2);
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<RecommendedDict>(&json).unwrap(), d);
        let old: RecommendedDict = serde_json::from_str(r#"{"entries":{"4f4b":3}}"#).unwrap();
        assert_eq!(old.harvested_len(), 0);
        assert_eq!(old.entries(), vec![(b"OK".to_vec(), 3)]);
    }

    #[test]
    fn merges_dict_files_once_each() {
        let user = "# mine\nkw1=\"FUZZ\"\n\"\\xff\\x00\"\n\n";
        let rec = "# fuzzfleet\n\"\\xff\\x00\" # uses: 3\n\"GET\"\n";
        assert_eq!(
            merge_dict_files(&[user, rec]),
            "\"FUZZ\"\n\"\\xff\\x00\"\n\"GET\"\n"
        );
    }

    #[test]
    fn subsets_are_random_but_repeatable() {
        let names: Vec<String> = (0..50).map(|i| format!("{i:040x}")).collect();
        let a = choose_subset(&names, 10, 7);
        assert_eq!(a.len(), 10);
        assert_eq!(a, choose_subset(&names, 10, 7));
        assert_ne!(a, choose_subset(&names, 10, 8));
        let mut unique = a.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 10);
        assert!(a.iter().all(|n| names.contains(n)));
        assert_eq!(choose_subset(&names[..3], 10, 1).len(), 3);
        assert!(choose_subset(&[], 10, 1).is_empty());
    }
}
