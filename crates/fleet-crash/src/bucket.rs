//! Buckets as pure values: crashes in, one bucket per bug out, the same whatever order the crashes arrive in.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use crate::frames::meaningful_frames;
use crate::id::BucketId;
use crate::kind::CrashKind;
use crate::normalize::{frame_key, normalize_path};
use crate::report::{Frame, Report};
use crate::rules::{Rules, SplitBy};
use crate::severity::Severity;
use crate::signature::{Signature, SignatureConfig, title_with_frames};

/// How many inputs a bucket keeps by default; the rest are only counted.
pub const DEFAULT_KEEP_INPUTS: usize = 100;

/// Meaningful frames a crash keeps for display, SARIF and splits.
const KEPT_FRAMES: usize = 8;

/// Which input: its length and SHA-1 (the name libFuzzer gives artifacts).
/// Ordered by length, then hash: the order in which a bucket keeps inputs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct InputKey {
    pub len: u64,
    /// Lowercase hex SHA-1 of the input's bytes.
    pub sha1: String,
}

impl InputKey {
    /// The key of these input bytes.
    pub fn of(bytes: &[u8]) -> InputKey {
        InputKey {
            len: bytes.len() as u64,
            sha1: hex::encode(Sha1::digest(bytes)),
        }
    }
}

/// One reproduced crash, reduced to what bucketing needs. Serializable, so
/// the store can keep one per finding and rebuild buckets after a rule
/// change ([`Buckets::rebuild`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crash {
    pub target: String,
    pub input: InputKey,
    pub signature: Signature,
    pub title: String,
    pub severity: Severity,
    /// The report's meaningful frames, innermost first (at most 8).
    pub frames: Vec<Frame>,
    /// `file:line` of the panic, else of the top meaningful frame.
    pub line: Option<String>,
}

impl Crash {
    /// The crash of `input` in `target` that `report` describes.
    pub fn new(target: &str, input: InputKey, report: &Report, config: &SignatureConfig) -> Crash {
        let meaningful = meaningful_frames(&report.frames);
        let frames: Vec<Frame> = meaningful
            .iter()
            .take(KEPT_FRAMES)
            .map(|f| (*f).clone())
            .collect();
        let line = match report.panic.as_ref().and_then(|p| p.location.as_ref()) {
            Some(l) => Some(format!("{}:{}", normalize_path(&l.file), l.line)),
            None => frames.first().and_then(|f| {
                let file = f.file.as_deref()?;
                Some(format!("{}:{}", normalize_path(file), f.line?))
            }),
        };
        Crash {
            target: target.to_owned(),
            input,
            signature: Signature::with_frames(report, &meaningful, config),
            title: title_with_frames(report, &meaningful),
            severity: Severity::of(&report.kind),
            frames,
            line,
        }
    }

    /// The bucket this crash belongs to without any rules.
    pub fn natural_id(&self) -> BucketId {
        self.signature.bucket_id(&self.target)
    }

    /// What tells this crash apart from others with its signature under a split.
    pub fn split_key(&self, by: SplitBy) -> String {
        match by {
            SplitBy::Line => self.line.clone().unwrap_or_default(),
            SplitBy::Frames(n) => self
                .frames
                .iter()
                .filter_map(frame_key)
                .take(n)
                .collect::<Vec<_>>()
                .join(" < "),
        }
    }
}

/// One bug: every crash routed to one id.
///
/// Everything here is a function of the *set* of crashes added, never of
/// their order: the representative (whose title, signature, kind and
/// frames the bucket shows, and whose input is the one to minimize) is the
/// crash with the smallest input; the kept inputs are the smallest ones;
/// severity is the highest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    pub id: BucketId,
    pub target: String,
    pub kind: CrashKind,
    pub signature: Signature,
    pub title: String,
    pub severity: Severity,
    /// Crashes added, kept or not.
    pub count: u64,
    /// The kept inputs, smallest first (at most the cap).
    pub inputs: Vec<InputKey>,
    /// The representative's meaningful frames.
    pub frames: Vec<Frame>,
    /// The natural (pre-rules) ids of the crashes in this bucket: more
    /// than one after a merge.
    pub members: BTreeSet<BucketId>,
}

impl Bucket {
    /// The input that stands for the bucket: its smallest.
    pub fn representative(&self) -> &InputKey {
        &self.inputs[0]
    }
}

/// What adding a crash did to its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    /// The input is kept; `evicted` is a bigger input that made room for
    /// it and that the caller may now delete.
    Yes { evicted: Option<InputKey> },
    /// The bucket already keeps this very input.
    Duplicate,
    /// The bucket is full of smaller inputs: only counted.
    No,
}

/// The result of [`Buckets::add`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    pub bucket: BucketId,
    /// The first crash of a new bug (the one to notify about).
    pub new_bucket: bool,
    /// A smaller input became the bucket's representative (minimize it).
    pub new_representative: bool,
    pub kept: Kept,
}

/// All buckets of a campaign, keyed by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buckets {
    keep_inputs: usize,
    buckets: BTreeMap<BucketId, Bucket>,
}

impl Default for Buckets {
    fn default() -> Self {
        Buckets::new(DEFAULT_KEEP_INPUTS)
    }
}

impl Buckets {
    /// No buckets; each will keep at most `keep_inputs` inputs (at least 1).
    pub fn new(keep_inputs: usize) -> Buckets {
        Buckets {
            keep_inputs: keep_inputs.max(1),
            buckets: BTreeMap::new(),
        }
    }

    /// Buckets for `crashes` under `rules`: what a store does after a
    /// merge or split, or to check that its incremental state is right.
    pub fn rebuild<'a>(
        keep_inputs: usize,
        rules: &Rules,
        crashes: impl IntoIterator<Item = &'a Crash>,
    ) -> Buckets {
        let mut buckets = Buckets::new(keep_inputs);
        for crash in crashes {
            buckets.add(rules, crash);
        }
        buckets
    }

    /// Adds one crash, routed by `rules`.
    pub fn add(&mut self, rules: &Rules, crash: &Crash) -> Added {
        let id = rules.route(crash);
        let natural = crash.natural_id();
        let new_bucket = !self.buckets.contains_key(&id);
        let bucket = self.buckets.entry(id.clone()).or_insert_with(|| Bucket {
            id: id.clone(),
            target: crash.target.clone(),
            kind: crash.signature.kind.clone(),
            signature: crash.signature.clone(),
            title: crash.title.clone(),
            severity: crash.severity,
            count: 0,
            inputs: Vec::new(),
            frames: crash.frames.clone(),
            members: BTreeSet::new(),
        });
        bucket.count += 1;
        bucket.members.insert(natural);
        bucket.severity = bucket.severity.min(crash.severity);
        let kept = keep(&mut bucket.inputs, &crash.input, self.keep_inputs);
        let new_representative =
            matches!(kept, Kept::Yes { .. }) && bucket.inputs.first() == Some(&crash.input);
        if new_representative {
            bucket.target = crash.target.clone();
            bucket.kind = crash.signature.kind.clone();
            bucket.signature = crash.signature.clone();
            bucket.title = crash.title.clone();
            bucket.frames = crash.frames.clone();
        }
        Added {
            bucket: id,
            new_bucket,
            new_representative,
            kept,
        }
    }

    pub fn get(&self, id: &BucketId) -> Option<&Bucket> {
        self.buckets.get(id)
    }

    /// Buckets in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Bucket> {
        self.buckets.values()
    }

    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    pub fn keep_inputs(&self) -> usize {
        self.keep_inputs
    }
}

/// Keeps `input` among the `cap` smallest of `inputs` (sorted).
fn keep(inputs: &mut Vec<InputKey>, input: &InputKey, cap: usize) -> Kept {
    match inputs.binary_search(input) {
        Ok(_) => Kept::Duplicate,
        Err(at) if at >= cap => Kept::No,
        Err(at) => {
            inputs.insert(at, input.clone());
            let evicted = (inputs.len() > cap).then(|| inputs.pop()).flatten();
            Kept::Yes { evicted }
        }
    }
}
