//! The `fleet.toml` a node of the fleet gets: its targets as prebuilt binaries under
//! the node's `~/.fuzzfleet`, its tiers, itself as a node, and every fleet-wide section
//! of the operator's config (hub, alerts, corpus, crashes), serialized with serde from
//! the operator's validated plan. Paths are relative to the node's config file.
//!
//! Each section of the plan is taken apart field by field, with no `..`: a key added to
//! the config does not compile here until it is either carried to the node or left out
//! on purpose, so a node never runs silently with a default the operator changed.

use std::collections::BTreeMap;
use std::time::Duration;

use fleet_config::{
    AlertsPlan, CorpusPlan, CoveragePlan, CrashesPlan, HubPlan, NodePlan, Plan, TargetPlan,
    TargetSource, TierMode, TierPlan,
};
use serde::{Serialize, Serializer};

use crate::plan::seeds_of;

/// The node's config, as its file has it.
#[derive(Debug, Clone, Serialize)]
pub struct NodeConfig {
    pub state_dir: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
    pub tier_slice: Dur,
    pub progress_every: Dur,
    pub schedule: &'static str,
    pub strategies: &'static str,
    pub target: Vec<NodeTarget>,
    /// In the operator's order, which is the order the tiers take turns in.
    pub tier: Ordered<NodeTier>,
    pub node: BTreeMap<String, NodeEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hub: Option<NodeHub>,
    pub alerts: NodeAlerts,
    pub corpus: NodeCorpus,
    pub crashes: NodeCrashes,
    pub coverage: NodeCoverage,
}

/// A `[[target]]`: the binary deploy copied, with the operator's options resolved
/// (`[defaults]` applied).
#[derive(Debug, Clone, Serialize)]
pub struct NodeTarget {
    pub name: String,
    pub binary: String,
    pub engine: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seeds: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dict: Option<String>,
    pub rss_limit_mb: u64,
    pub timeout_s: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_len: Option<usize>,
    /// What it was built with, so the agent sets the same sanitizer runtime options.
    pub sanitizer: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeTier {
    pub targets: Vec<String>,
    pub budget: Dur,
    pub mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slice: Option<Dur>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    pub tiers: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeHub {
    pub url: String,
    pub every: Dur,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeAlerts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    pub cpu_percent: u8,
    pub mem_percent: u8,
    pub disk_percent: u8,
    pub disk_critical_percent: u8,
    pub sustain: Dur,
    pub digest_after: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeCorpus {
    /// `0`: automatic minimization off.
    pub minimize_growth: u64,
    pub minimize_min_files: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeCrashes {
    pub keep_inputs: u64,
    pub repro_runs: u32,
    pub minimize_budget: Dur,
    pub triage_deadline: Dur,
    pub recoverable_severity: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeCoverage {
    pub every: Dur,
}

/// A TOML table whose keys keep their order (a `BTreeMap` would sort them).
#[derive(Debug, Clone, Default)]
pub struct Ordered<T>(pub Vec<(String, T)>);

impl<T: Serialize> Serialize for Ordered<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// A duration as the config writes it: `"1h30m"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(
            &humantime::format_duration(self.0)
                .to_string()
                .replace(' ', ""),
        )
    }
}

/// Where deploy puts a target's files on the node, relative to its config.
pub fn binary_path(name: &str) -> String {
    format!("targets/{name}")
}
pub fn seeds_path(name: &str) -> String {
    format!("seeds/{name}")
}
pub fn dict_path(name: &str) -> String {
    format!("dicts/{name}.dict")
}

impl NodeConfig {
    /// The config of `node`, which runs the targets `names` (those of its tiers).
    ///
    /// # Panics
    /// If a name is not a target of the plan.
    pub fn new(plan: &Plan, node: &NodePlan, names: &[&str]) -> NodeConfig {
        let Plan {
            file: _,
            base_dir: _,
            // The node keeps its state beside its config.
            state_dir: _,
            workers,
            tier_slice,
            progress_every,
            schedule,
            portfolio,
            // Built here; the node gets binaries.
            projects: _,
            harnesses: _,
            targets: _,
            tiers,
            // The node knows itself only.
            nodes: _,
            hub,
            alerts,
            corpus,
            crashes,
            // Nodes get fuzzing builds only; coverage is computed where the toolchain is.
            coverage: CoveragePlan { every: _ },
        } = plan;
        let target = names
            .iter()
            .map(|name| node_target(plan.target(name).expect("a configured target")))
            .collect();
        let tier = Ordered(
            tiers
                .iter()
                .filter(|t| node.tiers.contains(&t.name))
                .map(node_tier)
                .collect(),
        );
        let NodePlan {
            name,
            ssh,
            api,
            // The operator's file; the node's own API reads `token` beside its config.
            token_file: _,
            tiers: node_tiers,
        } = node;
        let entry = NodeEntry {
            ssh: ssh.as_ref().map(ToString::to_string),
            api: api.as_ref().map(ToString::to_string),
            tiers: node_tiers.iter().map(ToString::to_string).collect(),
        };
        NodeConfig {
            state_dir: "state".into(),
            workers: workers.map(|w| w.get()),
            tier_slice: Dur(*tier_slice),
            progress_every: Dur(*progress_every),
            schedule: schedule.as_str(),
            strategies: if *portfolio { "portfolio" } else { "plain" },
            target,
            tier,
            node: BTreeMap::from([(name.to_string(), entry)]),
            hub: hub.as_ref().map(|HubPlan { url, every }| NodeHub {
                url: url.to_string(),
                every: Dur(*every),
            }),
            alerts: node_alerts(alerts),
            corpus: {
                let CorpusPlan {
                    minimize_growth,
                    minimize_min_files,
                } = corpus;
                NodeCorpus {
                    minimize_growth: minimize_growth.unwrap_or(0),
                    minimize_min_files: *minimize_min_files,
                }
            },
            crashes: {
                let CrashesPlan {
                    keep_inputs,
                    repro_runs,
                    minimize_budget,
                    triage_deadline,
                    recoverable_severity,
                } = crashes;
                NodeCrashes {
                    keep_inputs: *keep_inputs,
                    repro_runs: *repro_runs,
                    minimize_budget: Dur(*minimize_budget),
                    triage_deadline: Dur(*triage_deadline),
                    recoverable_severity: recoverable_severity.clone(),
                }
            },
            coverage: NodeCoverage {
                every: Dur(Duration::ZERO),
            },
        }
    }

    /// The file's text, with a first line saying where it came from.
    pub fn to_toml(&self, plan: &Plan) -> String {
        let body = toml::to_string(self).expect("a node config serializes");
        let node = self.node.keys().next().map_or("", String::as_str);
        format!(
            "# Written by `fuzzfleet deploy` from {} for node {node}; deploy again to change it.\n{body}",
            plan.file.display()
        )
    }
}

fn node_target(t: &TargetPlan) -> NodeTarget {
    let TargetPlan {
        name,
        engine,
        // Whatever built it, the node gets the binary.
        source: TargetSource::Binary(_) | TargetSource::Project { .. },
        dict,
        seeds: _,
        rss_limit_mb,
        timeout_s,
        max_len,
        sanitizer,
        args,
        // Unpacked here into the seeds deploy copies (see `seeds_of`).
        seed_zip: _,
        coverage: _,
    } = t;
    NodeTarget {
        name: name.to_string(),
        binary: binary_path(name.as_str()),
        engine: engine.as_str().into(),
        seeds: seeds_of(t).map(|_| seeds_path(name.as_str())),
        dict: dict.as_ref().map(|_| dict_path(name.as_str())),
        rss_limit_mb: *rss_limit_mb,
        timeout_s: *timeout_s,
        max_len: *max_len,
        sanitizer: sanitizer.as_str().into(),
        args: args.clone(),
    }
}

fn node_tier(t: &TierPlan) -> (String, NodeTier) {
    let TierPlan {
        name,
        targets,
        budget,
        mode,
        workers,
    } = t;
    let (mode, slice) = match mode {
        TierMode::Sequential => ("sequential", None),
        TierMode::Parallel { slice } => ("parallel", Some(Dur(*slice))),
    };
    (
        name.to_string(),
        NodeTier {
            targets: targets.iter().map(ToString::to_string).collect(),
            budget: Dur(*budget),
            mode,
            slice,
            workers: workers.map(|w| w.get()),
        },
    )
}

fn node_alerts(a: &AlertsPlan) -> NodeAlerts {
    let AlertsPlan {
        webhook,
        cpu_percent,
        mem_percent,
        disk_percent,
        disk_critical_percent,
        sustain,
        digest_after,
    } = a;
    NodeAlerts {
        webhook: webhook.as_ref().map(ToString::to_string),
        cpu_percent: *cpu_percent,
        mem_percent: *mem_percent,
        disk_percent: *disk_percent,
        disk_critical_percent: *disk_critical_percent,
        sustain: Dur(*sustain),
        digest_after: *digest_after,
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;
    use std::path::Path;

    use super::*;

    fn executable(path: &Path) {
        std::fs::write(path, b"").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// Loads `text` as the node's `fleet.toml` in `dir`, with the files deploy would
    /// have put beside it for `names`.
    fn load_on_node(dir: &Path, text: &str, names: &[&str]) -> Plan {
        for d in ["targets", "seeds", "dicts"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        for name in names {
            executable(&dir.join(binary_path(name)));
            std::fs::create_dir_all(dir.join(seeds_path(name))).unwrap();
            std::fs::write(dir.join(dict_path(name)), b"kw=\"x\"\n").unwrap();
        }
        fleet_config::parse(&dir.join("fleet.toml"), text)
            .unwrap_or_else(|e| panic!("the node's config does not load: {e}\n{text}"))
    }

    /// Every key of the operator's config that a node needs arrives on the node: the
    /// node's config, loaded back with fleet-config, has the operator's values (none of
    /// them a default), the node's tiers and targets only, and the files deploy copies.
    #[test]
    fn a_node_gets_every_key_of_the_operators_config_it_needs() {
        let dir = fleet_testkit::state_temp_dir();
        let op = dir.path().join("operator");
        std::fs::create_dir_all(op.join("seeds-a")).unwrap();
        std::fs::write(op.join("a.dict"), b"kw=\"y\"\n").unwrap();
        for name in ["a", "b", "c"] {
            executable(&op.join(name));
        }
        let hub = dir.path().join("hub");
        std::fs::create_dir_all(&hub).unwrap();
        let operator = format!(
            "state_dir = \"s\"\nworkers = 3\ntier_slice = \"2h\"\nprogress_every = \"5m\"\n\
             [defaults]\nrss_limit_mb = 1500\ntimeout_s = 9\nargs = [\"-use_value_profile=1\"]\n\
             [[target]]\nname = \"a\"\nbinary = \"a\"\nseeds = \"seeds-a\"\ndict = \"a.dict\"\n\
             max_len = 4096\nsanitizer = \"none\"\nargs = [\"-only_ascii=1\"]\n\
             [[target]]\nname = \"b\"\nbinary = \"b\"\ntimeout_s = 3\n\
             [[target]]\nname = \"c\"\nbinary = \"c\"\n\
             [tier.t]\ntargets = [\"a\"]\nbudget = \"3h\"\n\
             [tier.p]\ntargets = [\"b\"]\nbudget = \"20m\"\nmode = \"parallel\"\n\
             slice = \"90s\"\nworkers = 2\n\
             [tier.elsewhere]\ntargets = [\"c\"]\nbudget = \"1h\"\n\
             [node.n]\nssh = \"fuzz@127.0.0.1:2222\"\ntiers = [\"t\", \"p\"]\n\
             [node.m]\nssh = \"fuzz@127.0.0.2\"\ntiers = [\"elsewhere\"]\n\
             [hub]\nurl = \"file://{}\"\nevery = \"45s\"\n\
             [alerts]\nwebhook = \"http://127.0.0.1:9/hook\"\ncpu_percent = 71\n\
             mem_percent = 72\ndisk_percent = 73\ndisk_critical_percent = 96\n\
             sustain = \"7m\"\ndigest_after = 9\n\
             [corpus]\nminimize_growth = 3\nminimize_min_files = 500\n\
             [crashes]\nkeep_inputs = 42\nrepro_runs = 5\nminimize_budget = \"90s\"\n\
             triage_deadline = \"45s\"\nrecoverable_severity = \"medium\"\n\
             [coverage]\nevery = \"2h\"\n",
            hub.display()
        );
        let plan = fleet_config::parse(&op.join("fleet.toml"), &operator).unwrap();
        let node = plan.node("n").unwrap();
        let text = NodeConfig::new(&plan, node, &["a", "b"]).to_toml(&plan);
        assert!(
            text.starts_with("# Written by `fuzzfleet deploy` from "),
            "{text}"
        );
        let got = load_on_node(&dir.path().join("node"), &text, &["a", "b"]);

        // Fleet-wide keys: the operator's values, none of them the default.
        assert_eq!(got.workers, plan.workers);
        assert_eq!(got.tier_slice, plan.tier_slice);
        assert_eq!(got.progress_every, plan.progress_every);
        assert_eq!(got.hub, plan.hub);
        assert_eq!(got.alerts, plan.alerts);
        assert_eq!(got.corpus, plan.corpus);
        assert_eq!(got.crashes, plan.crashes);
        assert_ne!(plan.alerts, fleet_config::AlertsPlan::default());
        assert_ne!(plan.corpus, fleet_config::CorpusPlan::default());
        assert_ne!(plan.crashes, fleet_config::CrashesPlan::default());
        // Nodes fuzz; coverage is computed where the toolchain is.
        assert_eq!(got.coverage.every, None);
        assert!(plan.coverage.every.is_some());

        // The node's tiers, whole, and no other.
        let mine: Vec<&TierPlan> = plan
            .tiers
            .iter()
            .filter(|t| t.name != "elsewhere")
            .collect();
        assert_eq!(got.tiers.iter().collect::<Vec<_>>(), mine);
        // Itself as a node, and no other.
        assert_eq!(got.nodes.len(), 1);
        assert_eq!(got.nodes[0].name, node.name);
        assert_eq!(got.nodes[0].ssh, node.ssh);
        assert_eq!(got.nodes[0].tiers, node.tiers);

        // The targets of its tiers, with every option resolved as the operator's were,
        // their files where deploy puts them.
        let names: Vec<&str> = got.targets.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        for t in &got.targets {
            let o = plan.target(t.name.as_str()).unwrap();
            let node_dir = dir.path().join("node");
            assert_eq!(
                t.source,
                TargetSource::Binary(node_dir.join(binary_path(t.name.as_str())))
            );
            assert_eq!(
                (
                    t.engine,
                    t.rss_limit_mb,
                    t.timeout_s,
                    t.max_len,
                    t.sanitizer,
                    &t.args
                ),
                (
                    o.engine,
                    o.rss_limit_mb,
                    o.timeout_s,
                    o.max_len,
                    o.sanitizer,
                    &o.args
                ),
                "{}",
                t.name
            );
            assert_eq!(t.seeds.is_some(), o.seeds.is_some(), "{}", t.name);
            assert_eq!(t.dict.is_some(), o.dict.is_some(), "{}", t.name);
        }
        let a = got.target("a").unwrap();
        assert_eq!(a.args, ["-use_value_profile=1", "-only_ascii=1"]);
        assert_eq!(a.seeds, Some(dir.path().join("node/seeds/a")));
        assert_eq!(a.dict, Some(dir.path().join("node/dicts/a.dict")));
    }

    /// A config at its defaults (no hub, minimization off) loads back the same on the node.
    #[test]
    fn a_plain_config_arrives_as_it_is() {
        let dir = fleet_testkit::state_temp_dir();
        executable(&dir.path().join("x"));
        let plan = fleet_config::parse(
            &dir.path().join("fleet.toml"),
            "[[target]]\nname = \"x\"\nbinary = \"x\"\n\
             [tier.t]\ntargets = [\"x\"]\nbudget = \"1d\"\n\
             [node.n]\napi = \"https://10.0.0.5:7878\"\ntiers = [\"t\"]\n\
             [corpus]\nminimize_growth = 0\n",
        )
        .unwrap();
        let text = NodeConfig::new(&plan, &plan.nodes[0], &["x"]).to_toml(&plan);
        let got = load_on_node(&dir.path().join("node"), &text, &["x"]);
        assert_eq!(got.workers, None);
        assert_eq!(got.hub, None);
        assert_eq!(got.corpus.minimize_growth, None);
        assert_eq!(got.alerts, plan.alerts);
        assert_eq!(got.tiers, plan.tiers);
        assert_eq!(got.nodes[0].api, plan.nodes[0].api);
        assert_eq!(got.targets[0].seeds, None);
        assert_eq!(got.targets[0].dict, None);
    }
}
