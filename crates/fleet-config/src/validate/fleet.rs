//! The fleet sections: `[node.NAME]`, `[hub]` and `[alerts]`.

use std::collections::{BTreeMap, BTreeSet};

use toml::Spanned;

use super::Ctx;
use super::values;
use crate::names::{NodeName, TierName};
use crate::plan::{
    AlertsPlan, CorpusPlan, CoveragePlan, CrashesPlan, HubPlan, NodePlan, TierPlan, defaults,
};
use crate::raw::{RawAlerts, RawCorpus, RawCoverage, RawCrashes, RawHub, RawNode};

/// Nodes in file order. `declared_tiers` are the tier names the file declares, valid
/// or not: a node naming a tier that failed validation is not told it is unknown.
pub(super) fn nodes(
    ctx: &mut Ctx<'_>,
    raw: &BTreeMap<Spanned<String>, Spanned<RawNode>>,
    tiers: &[TierPlan],
    declared_tiers: &BTreeSet<&str>,
) -> Vec<NodePlan> {
    let mut in_file_order: Vec<_> = raw.iter().collect();
    in_file_order.sort_by_key(|(key, _)| key.span().start);
    let mut nodes = Vec::new();
    for (key, node) in in_file_order {
        let before = ctx.problems.len();
        let name = NodeName::new(key.get_ref().as_str())
            .map_err(|e| ctx.error(key.span(), e.to_string()))
            .ok();
        let raw_node = node.get_ref();
        if raw_node.ssh.is_none() && raw_node.api.is_none() {
            ctx.error(
                node.span(),
                "node needs `ssh = \"user@host\"` or `api = \"https://…\"` to be reached",
            );
        }
        let ssh = raw_node.ssh.as_ref().and_then(|s| values::parsed(ctx, s));
        let api = raw_node.api.as_ref().and_then(|a| values::parsed(ctx, a));
        let token_file = raw_node
            .token_file
            .as_ref()
            .map(|t| ctx.resolve(t.get_ref()));
        let node_tiers = node_tiers(ctx, raw_node, tiers, declared_tiers);
        if let (Some(name), true) = (name, ctx.problems.len() == before) {
            nodes.push(NodePlan {
                name,
                ssh,
                api,
                token_file,
                tiers: node_tiers,
            });
        }
    }
    nodes
}

fn node_tiers(
    ctx: &mut Ctx<'_>,
    node: &RawNode,
    tiers: &[TierPlan],
    declared_tiers: &BTreeSet<&str>,
) -> Vec<TierName> {
    let list = node.tiers.get_ref();
    if list.is_empty() {
        ctx.error(
            node.tiers.span(),
            "node has no tiers: list the tiers it runs",
        );
    }
    let mut names: Vec<TierName> = Vec::new();
    for item in list {
        let text = item.get_ref().as_str();
        match tiers.iter().find(|t| t.name == text) {
            Some(tier) if names.contains(&tier.name) => {
                ctx.error(item.span(), format!("tier \"{text}\" is listed twice"))
            }
            Some(tier) => names.push(tier.name.clone()),
            None if declared_tiers.contains(text) => {}
            None => {
                let hint = values::suggestion(text, tiers.iter().map(|t| t.name.as_str()));
                ctx.error(item.span(), format!("unknown tier \"{text}\"{hint}"));
            }
        }
    }
    names
}

pub(super) fn hub(ctx: &mut Ctx<'_>, raw: &RawHub) -> Option<HubPlan> {
    let every = raw
        .every
        .as_ref()
        .and_then(|v| values::duration(ctx, v))
        .unwrap_or(defaults::HUB_EVERY);
    values::parsed(ctx, &raw.url).map(|url| HubPlan { url, every })
}

pub(super) fn alerts(ctx: &mut Ctx<'_>, raw: Option<&RawAlerts>) -> AlertsPlan {
    let mut plan = AlertsPlan::default();
    let Some(raw) = raw else {
        return plan;
    };
    plan.webhook = raw.webhook.as_ref().and_then(|w| values::parsed(ctx, w));
    for (value, slot) in [
        (&raw.cpu_percent, &mut plan.cpu_percent),
        (&raw.mem_percent, &mut plan.mem_percent),
        (&raw.disk_percent, &mut plan.disk_percent),
    ] {
        if let Some(percent) = value.as_ref().and_then(|v| values::percent(ctx, v)) {
            *slot = percent;
        }
    }
    match &raw.disk_critical_percent {
        Some(v) => {
            if let Some(percent) = values::percent(ctx, v) {
                if percent <= plan.disk_percent {
                    ctx.error(
                        v.span(),
                        format!(
                            "must be above disk_percent ({}), got {percent}: the warning comes before the pause",
                            plan.disk_percent
                        ),
                    );
                } else {
                    plan.disk_critical_percent = percent;
                }
            }
        }
        // A warning set at or above the default pause point moves the pause to a full disk.
        None if plan.disk_percent >= plan.disk_critical_percent => plan.disk_critical_percent = 100,
        None => {}
    }
    if let Some(d) = raw.sustain.as_ref().and_then(|v| values::duration(ctx, v)) {
        plan.sustain = d;
    }
    if let Some(n) = raw
        .digest_after
        .as_ref()
        .and_then(|v| values::positive(ctx, v))
    {
        plan.digest_after = n;
    }
    plan
}

/// `[crashes]`, with its defaults.
pub(super) fn crashes(ctx: &mut Ctx<'_>, raw: Option<&RawCrashes>) -> CrashesPlan {
    let mut plan = CrashesPlan::default();
    let Some(raw) = raw else {
        return plan;
    };
    if let Some(n) = raw
        .keep_inputs
        .as_ref()
        .and_then(|v| values::positive(ctx, v))
    {
        plan.keep_inputs = n;
    }
    if let Some(v) = &raw.repro_runs {
        match *v.get_ref() {
            n @ 1..=20 => plan.repro_runs = n as u32,
            n => ctx.error(v.span(), format!("must be 1 to 20 runs, got {n}")),
        }
    }
    if let Some(d) = raw
        .minimize_budget
        .as_ref()
        .and_then(|v| values::duration(ctx, v))
    {
        plan.minimize_budget = d;
    }
    if let Some(d) = raw
        .triage_deadline
        .as_ref()
        .and_then(|v| values::duration(ctx, v))
    {
        plan.triage_deadline = d;
    }
    if let Some(v) = &raw.recoverable_severity {
        let name = v.get_ref().as_str();
        if defaults::SEVERITIES.contains(&name) {
            plan.recoverable_severity = name.to_owned();
        } else {
            let mut hint = values::suggestion(name, defaults::SEVERITIES);
            if hint.is_empty() {
                hint = " (expected \"critical\", \"high\", \"medium\" or \"low\")".to_owned();
            }
            ctx.error(v.span(), format!("unknown severity \"{name}\"{hint}"));
        }
    }
    plan
}

/// `[coverage]`, with its defaults.
pub(super) fn coverage(ctx: &mut Ctx<'_>, raw: Option<&RawCoverage>) -> CoveragePlan {
    let mut plan = CoveragePlan::default();
    let Some(every) = raw.and_then(|r| r.every.as_ref()) else {
        return plan;
    };
    // A zero duration is this key's way to say "off".
    if humantime::parse_duration(&every.get_ref().0).is_ok_and(|d| d.is_zero()) {
        plan.every = None;
    } else if let Some(d) = values::duration(ctx, every) {
        plan.every = Some(d);
    }
    plan
}

/// `[corpus]`, with its defaults.
pub(super) fn corpus(ctx: &mut Ctx<'_>, raw: Option<&RawCorpus>) -> CorpusPlan {
    let mut plan = CorpusPlan::default();
    let Some(raw) = raw else {
        return plan;
    };
    if let Some(g) = &raw.minimize_growth {
        match *g.get_ref() {
            0 => plan.minimize_growth = None,
            n if n >= 2 => plan.minimize_growth = Some(n as u64),
            n => ctx.error(
                g.span(),
                format!("must be 0 (off) or a growth factor of at least 2, got {n}"),
            ),
        }
    }
    if let Some(n) = &raw.minimize_min_files
        && let Some(n) = super::values::positive(ctx, n)
    {
        plan.minimize_min_files = n;
    }
    plan
}
