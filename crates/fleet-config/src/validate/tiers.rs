//! `[tier.NAME]`: tiers in file order, each target in at most one tier, and the
//! implicit tier `"all"` when the file declares none.
//!
//! Why a target may not be in two tiers (even two tiers that different nodes run): a
//! target has one corpus, one schedule position and one budget per cycle. In two
//! tiers it would get two budgets and two schedulers writing its corpus, and a plain
//! local `fuzzfleet run` (which runs every tier) would run it twice. Give a target
//! more time with a larger budget instead.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;

use toml::Spanned;

use super::Ctx;
use super::targets::Targets;
use super::values;
use crate::names::{TargetName, TierName};
use crate::plan::{TierPlan, defaults};
use crate::raw::RawTier;
use crate::types::TierMode;

pub(super) fn tiers(
    ctx: &mut Ctx<'_>,
    raw: &BTreeMap<Spanned<String>, Spanned<RawTier>>,
    known: &Targets,
) -> Vec<TierPlan> {
    if raw.is_empty() {
        if known.targets.is_empty() {
            return Vec::new();
        }
        return vec![TierPlan {
            name: TierName::new(defaults::IMPLICIT_TIER).expect("a valid name"),
            targets: known.targets.iter().map(|t| t.name.clone()).collect(),
            budget: defaults::IMPLICIT_TIER_BUDGET,
            mode: TierMode::Sequential,
            workers: None,
        }];
    }
    // Tables come out of the map sorted by name; the file's order is the order of
    // their keys' spans.
    let mut in_file_order: Vec<_> = raw.iter().collect();
    in_file_order.sort_by_key(|(key, _)| key.span().start);

    let mut owner: BTreeMap<TargetName, TierName> = BTreeMap::new();
    let mut tiers = Vec::new();
    for (key, tier) in in_file_order {
        let name = TierName::new(key.get_ref().as_str())
            .map_err(|e| ctx.error(key.span(), e.to_string()))
            .ok();
        let tier = tier.get_ref();
        let targets = tier_targets(ctx, tier, name.as_ref(), known, &mut owner);
        let budget = values::duration(ctx, &tier.budget);
        let mode = mode(ctx, tier);
        let workers = tier.workers.as_ref().and_then(|w| {
            values::bounded(ctx, w, defaults::MAX_WORKERS, "workers")
                .and_then(|n| usize::try_from(n).ok())
                .and_then(NonZeroUsize::new)
        });
        let workers_ok = tier.workers.is_none() || workers.is_some();
        if let (Some(name), Some(targets), Some(budget), Some(mode), true) =
            (name, targets, budget, mode, workers_ok)
        {
            tiers.push(TierPlan {
                name,
                targets,
                budget,
                mode,
                workers,
            });
        }
    }
    tiers
}

fn tier_targets(
    ctx: &mut Ctx<'_>,
    tier: &RawTier,
    tier_name: Option<&TierName>,
    known: &Targets,
    owner: &mut BTreeMap<TargetName, TierName>,
) -> Option<Vec<TargetName>> {
    let list = tier.targets.get_ref();
    if list.is_empty() {
        ctx.error(tier.targets.span(), "empty tier: list at least one target");
        return None;
    }
    let before = ctx.problems.len();
    let mut targets: Vec<TargetName> = Vec::new();
    for item in list {
        let text = item.get_ref().as_str();
        let Some(target) = known.targets.iter().find(|t| t.name == text) else {
            if known.surely_unknown(text) {
                let hint = values::suggestion(text, known.targets.iter().map(|t| t.name.as_str()));
                ctx.error(item.span(), format!("unknown target \"{text}\"{hint}"));
            }
            continue;
        };
        if targets.contains(&target.name) {
            ctx.error(
                item.span(),
                format!("target \"{text}\" is listed twice in this tier"),
            );
            continue;
        }
        if let Some(tier_name) = tier_name {
            if let Some(first) = owner.get(&target.name) {
                ctx.error(
                    item.span(),
                    format!(
                        "target \"{text}\" is already in tier \"{first}\" (a target belongs to one tier)"
                    ),
                );
                continue;
            }
            owner.insert(target.name.clone(), tier_name.clone());
        }
        targets.push(target.name.clone());
    }
    (ctx.problems.len() == before).then_some(targets)
}

fn mode(ctx: &mut Ctx<'_>, tier: &RawTier) -> Option<TierMode> {
    let parallel = match &tier.mode {
        None => false,
        Some(m) => match m.get_ref().as_str() {
            "sequential" => false,
            "parallel" => true,
            other => {
                ctx.error(
                    m.span(),
                    format!("unknown mode \"{other}\" (expected \"sequential\" or \"parallel\")"),
                );
                return None;
            }
        },
    };
    match (&tier.slice, parallel) {
        (Some(slice), false) => {
            ctx.error(
                slice.span(),
                "`slice` is only used with mode = \"parallel\"",
            );
            None
        }
        (Some(slice), true) => {
            values::duration(ctx, slice).map(|slice| TierMode::Parallel { slice })
        }
        (None, true) => Some(TierMode::Parallel {
            slice: TierMode::DEFAULT_SLICE,
        }),
        (None, false) => Some(TierMode::Sequential),
    }
}
