//! Manual corrections to bucketing, as data the caller persists: merges (this bucket is that bug) and splits (this bucket is several bugs).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::bucket::Crash;
use crate::id::BucketId;

/// Version of the serialized [`Rules`] format.
pub const RULES_VERSION: u32 = 1;

/// Longest merge chain followed when routing (`a → b → c …`); merges
/// refuse to create cycles, so this only guards against a hand-edited file.
const MAX_MERGE_HOPS: usize = 64;

/// How a split tells apart the crashes of a bucket whose signature is too
/// coarse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "by", content = "n")]
pub enum SplitBy {
    /// By source line: a panic's `file:line`, else the top meaningful
    /// frame's (two identical asserts in one function). Lines move with
    /// edits, so buckets split this way re-split after a rebuild that
    /// shifts them: a deliberate, local trade the person asked for.
    Line,
    /// By the first `n` meaningful frames instead of the signature's
    /// (one helper's bug that is really its callers' bugs).
    Frames(usize),
}

/// Persisted merge and split decisions; later crashes respect them.
///
/// Routing a crash ([`Rules::route`]): start from its natural bucket id
/// (its signature's); if that id has a split rule, go to the sub-bucket
/// of the crash's split key; then follow merges to the final bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    pub version: u32,
    /// `from → into`: crashes routed to `from` go to `into`.
    merges: BTreeMap<BucketId, BucketId>,
    /// Natural ids whose crashes are told apart further.
    splits: BTreeMap<BucketId, SplitBy>,
}

/// A rule change that would make routing ambiguous.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("cannot merge bucket {0} into itself")]
    SelfMerge(BucketId),
    #[error("merging {from} into {into} would make a cycle ({into} already ends up in {from})")]
    Cycle { from: BucketId, into: BucketId },
    #[error("bucket {0} was not merged into another bucket")]
    NotMerged(BucketId),
    #[error("a split by frames needs at least one frame")]
    ZeroFrames,
}

impl Default for Rules {
    fn default() -> Self {
        Rules::new()
    }
}

impl Rules {
    /// No rules.
    pub fn new() -> Rules {
        Rules {
            version: RULES_VERSION,
            merges: BTreeMap::new(),
            splits: BTreeMap::new(),
        }
    }

    /// Records that bucket `from` is the same bug as bucket `into`: its
    /// crashes, past (once the caller rebuilds) and future, go to `into`'s
    /// final bucket. Merging into a bucket that is itself merged follows
    /// that merge.
    pub fn merge(&mut self, from: BucketId, into: BucketId) -> Result<(), RuleError> {
        if from == into {
            return Err(RuleError::SelfMerge(from));
        }
        if self.resolve(&into) == from {
            return Err(RuleError::Cycle { from, into });
        }
        self.merges.insert(from, into);
        Ok(())
    }

    /// Routes bucket `id` back out of the bucket it was merged into.
    pub fn unmerge(&mut self, id: &BucketId) -> Result<BucketId, RuleError> {
        self.merges
            .remove(id)
            .ok_or_else(|| RuleError::NotMerged(id.clone()))
    }

    /// Records that the crashes of the natural bucket `id` are several
    /// bugs, told apart by `by`. Each sub-bucket's id derives from `id`
    /// and the crash's split key, so it is the same on every node.
    pub fn split(&mut self, id: BucketId, by: SplitBy) -> Result<(), RuleError> {
        if by == SplitBy::Frames(0) {
            return Err(RuleError::ZeroFrames);
        }
        self.splits.insert(id, by);
        Ok(())
    }

    /// Undoes a split; returns whether there was one.
    pub fn unsplit(&mut self, id: &BucketId) -> bool {
        self.splits.remove(id).is_some()
    }

    pub fn merges(&self) -> &BTreeMap<BucketId, BucketId> {
        &self.merges
    }

    pub fn splits(&self) -> &BTreeMap<BucketId, SplitBy> {
        &self.splits
    }

    /// The bucket `crash` belongs to under these rules.
    pub fn route(&self, crash: &Crash) -> BucketId {
        let natural = crash.natural_id();
        let id = match self.splits.get(&natural) {
            Some(by) => BucketId::of_text(&format!(
                "fuzzfleet-split-v1\nparent={natural}\nby={}\nkey={}\n",
                by_name(*by),
                crash.split_key(*by)
            )),
            None => natural,
        };
        self.resolve(&id)
    }

    /// Follows merges from `id` to the final bucket.
    pub fn resolve(&self, id: &BucketId) -> BucketId {
        let mut current = id;
        for _ in 0..MAX_MERGE_HOPS {
            match self.merges.get(current) {
                Some(next) => current = next,
                None => break,
            }
        }
        current.clone()
    }
}

fn by_name(by: SplitBy) -> String {
    match by {
        SplitBy::Line => "line".into(),
        SplitBy::Frames(n) => format!("frames:{n}"),
    }
}
