//! The files under `fixtures/configs/valid/` load into exactly the plan they describe,
//! and the defaults that are not in any file (implicit tier, discovered seeds and
//! dicts, one worker per core) hold.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fleet_config::{
    AflBinaries, AflppChoice, AlertsPlan, CorpusPlan, CoverageBuild, CoveragePlan, CrashesPlan,
    Engine, HttpUrl, HubPlan, HubUrl, NodePlan, Plan, ProjectPlan, Sanitizer, SshDest, TargetName,
    TargetPlan, TargetSource, TierMode, TierName, TierPlan, load, load_with_afl, parse,
};

fn valid_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/configs/valid")
        .canonicalize()
        .expect("fixtures/configs/valid exists")
}

fn target(name: &str) -> TargetName {
    TargetName::new(name).unwrap()
}

fn tier(name: &str) -> TierName {
    TierName::new(name).unwrap()
}

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn minimal_config_runs_its_binary_in_the_implicit_tier() {
    let dir = valid_dir();
    let plan = load(&dir.join("minimal.toml")).unwrap();
    let expected = Plan {
        file: dir.join("minimal.toml"),
        base_dir: dir.clone(),
        state_dir: dir.join(".fuzzfleet"),
        workers: None,
        tier_slice: HOUR,
        progress_every: Duration::from_secs(60),
        schedule: fleet_config::Schedule::Coverage,
        portfolio: true,
        projects: vec![],
        harnesses: vec![],
        targets: vec![TargetPlan {
            name: target("true"),
            engine: Engine::LibFuzzer,
            source: TargetSource::Binary("/bin/true".into()),
            dict: None,
            seeds: None,
            rss_limit_mb: 4096,
            timeout_s: 25,
            max_len: None,
            sanitizer: Sanitizer::Address,
            args: vec![],
            seed_zip: None,
            coverage: None,
        }],
        tiers: vec![TierPlan {
            name: tier("all"),
            targets: vec![target("true")],
            budget: HOUR,
            mode: TierMode::Sequential,
            workers: None,
        }],
        nodes: vec![],
        hub: None,
        alerts: AlertsPlan {
            webhook: None,
            cpu_percent: 80,
            mem_percent: 85,
            disk_percent: 80,
            disk_critical_percent: 95,
            sustain: Duration::from_secs(120),
            digest_after: 5,
        },
        corpus: CorpusPlan {
            minimize_growth: Some(2),
            minimize_min_files: 1000,
        },
        crashes: CrashesPlan {
            keep_inputs: 100,
            repro_runs: 3,
            minimize_budget: Duration::from_secs(60),
            triage_deadline: Duration::from_secs(30),
            recoverable_severity: "low".into(),
        },
        coverage: CoveragePlan {
            every: Some(Duration::from_secs(3600)),
        },
    };
    assert_eq!(plan, expected);
}

#[test]
fn full_config_sets_every_key() {
    let dir = valid_dir();
    let fuzz = dir.join("project/fuzz");
    let plan = load(&dir.join("full.toml")).unwrap();
    let project_target = |name: &str| TargetPlan {
        name: target(name),
        engine: Engine::LibFuzzer,
        source: TargetSource::Project { project: 0 },
        dict: None,
        seeds: None,
        rss_limit_mb: 2048,
        timeout_s: 10,
        max_len: Some(4096),
        sanitizer: Sanitizer::None,
        args: vec!["-use_value_profile=1".into()],
        seed_zip: None,
        coverage: None,
    };
    let expected = Plan {
        file: dir.join("full.toml"),
        base_dir: dir.clone(),
        state_dir: dir.join("state"),
        workers: NonZeroUsize::new(6),
        tier_slice: Duration::from_secs(1800),
        progress_every: Duration::from_secs(60),
        schedule: fleet_config::Schedule::Coverage,
        portfolio: true,
        projects: vec![ProjectPlan {
            path: fuzz.clone(),
            toolchain: "nightly-2025-06-01".into(),
            sanitizer: Sanitizer::None,
            targets: vec![target("block"), target("merkle"), target("utxo")],
            aflpp: AflppChoice::Off,
        }],
        harnesses: vec![],
        targets: vec![
            TargetPlan {
                // Found by convention in the project.
                dict: Some(fuzz.join("dicts/block.dict")),
                seeds: Some(fuzz.join("seeds/block")),
                ..project_target("block")
            },
            TargetPlan {
                name: target("c_parser"),
                engine: Engine::LibFuzzer,
                source: TargetSource::Binary("/bin/true".into()),
                dict: Some(dir.join("dicts/c_parser.dict")),
                seeds: Some(dir.join("seeds/c_parser")),
                rss_limit_mb: 1024,
                timeout_s: 5,
                max_len: Some(512),
                sanitizer: Sanitizer::None,
                args: vec!["-use_value_profile=1".into(), "-only_ascii=1".into()],
                seed_zip: None,
                coverage: Some(CoverageBuild {
                    command: Some("make -C c coverage".into()),
                    binary: dir.join("build/cov/c_parser"),
                }),
            },
            TargetPlan {
                // Overridden by a [[target]] without binary.
                rss_limit_mb: 512,
                timeout_s: 3,
                max_len: Some(128),
                args: vec!["-use_value_profile=1".into(), "-len_control=0".into()],
                ..project_target("merkle")
            },
            project_target("utxo"),
        ],
        // File order, not name order.
        tiers: vec![
            TierPlan {
                name: tier("critical"),
                targets: vec![target("merkle"), target("block")],
                budget: 48 * HOUR,
                mode: TierMode::Sequential,
                workers: None,
            },
            TierPlan {
                name: tier("background"),
                targets: vec![target("utxo"), target("c_parser")],
                budget: 12 * HOUR,
                mode: TierMode::Parallel {
                    slice: Duration::from_secs(30 * 60),
                },
                workers: NonZeroUsize::new(2),
            },
        ],
        nodes: vec![
            NodePlan {
                name: "singapore".parse().unwrap(),
                ssh: Some(SshDest {
                    user: Some("fuzz".into()),
                    host: "singapore.example".into(),
                    port: None,
                }),
                api: None,
                token_file: None,
                tiers: vec![tier("critical")],
            },
            NodePlan {
                name: "frankfurt".parse().unwrap(),
                ssh: Some(SshDest {
                    user: Some("fuzz".into()),
                    host: "frankfurt.example".into(),
                    port: Some(2222),
                }),
                api: Some("https://10.0.0.5:7878".parse::<HttpUrl>().unwrap()),
                token_file: Some(dir.join("tokens/frankfurt")),
                tiers: vec![tier("critical"), tier("background")],
            },
        ],
        hub: Some(HubPlan {
            url: HubUrl::S3 {
                bucket: "fuzzfleet-hub".into(),
                prefix: "fleet".into(),
            },
            every: Duration::from_secs(90),
        }),
        alerts: AlertsPlan {
            webhook: Some("https://hooks.example/fuzzfleet".parse().unwrap()),
            cpu_percent: 70,
            mem_percent: 90,
            disk_percent: 75,
            disk_critical_percent: 90,
            sustain: Duration::from_secs(300),
            digest_after: 3,
        },
        corpus: CorpusPlan {
            minimize_growth: Some(4),
            minimize_min_files: 500,
        },
        crashes: CrashesPlan {
            keep_inputs: 20,
            repro_runs: 5,
            minimize_budget: Duration::from_secs(120),
            triage_deadline: Duration::from_secs(30),
            recoverable_severity: "low".into(),
        },
        coverage: CoveragePlan {
            every: Some(Duration::from_secs(1800)),
        },
    };
    assert_eq!(plan, expected);

    // The lookups consumers use.
    let merkle = plan.target("merkle").unwrap();
    assert_eq!(plan.project_of(merkle).unwrap().path, fuzz);
    assert_eq!(plan.tier_of("c_parser").unwrap().name, "background");
    assert_eq!(plan.node("frankfurt").unwrap().tiers.len(), 2);
    assert!(plan.target("nope").is_none());

    // The prebuilt target's AFL++ builds, beside the plan.
    let (again, afl) = load_with_afl(&dir.join("full.toml")).unwrap();
    assert_eq!(again, plan);
    assert_eq!(
        afl.into_iter().collect::<Vec<_>>(),
        [(
            target("c_parser"),
            AflBinaries {
                binary: "/bin/true".into(),
                cmplog: Some("/bin/false".into()),
            }
        )]
    );
}

#[test]
fn engines_default_to_aflpp_when_available_and_libfuzzer_only_drops_afl_binaries() {
    let dir = valid_dir();
    let project = |defaults: &str, project: &str| {
        let text = format!(
            "[defaults]\n{defaults}\n[[project]]\npath = \"project/fuzz\"\n{project}\n\
             [[target]]\nname = \"c\"\nbinary = \"/bin/true\"\nafl_binary = \"/bin/true\"\n"
        );
        fleet_config::parse_with_afl(&dir.join("inline.toml"), &text)
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let (plan, afl) = project("", "");
    assert_eq!(plan.projects[0].aflpp, AflppChoice::Auto);
    assert_eq!(afl[&target("c")].cmplog, None);
    let (plan, _) = project("engines = [\"libfuzzer\", \"aflpp\"]", "");
    assert_eq!(plan.projects[0].aflpp, AflppChoice::On);
    let (plan, afl) = project(
        "engines = [\"libfuzzer\"]",
        "engines = [\"aflpp\", \"libfuzzer\"]",
    );
    assert_eq!(
        plan.projects[0].aflpp,
        AflppChoice::On,
        "the project's own list wins"
    );
    assert!(
        afl.is_empty(),
        "[defaults] engines = [\"libfuzzer\"] leaves AFL++ out"
    );
}

/// A config written next to `dir` (parse() checks paths relative to the file's
/// directory even though the file itself need not exist).
fn parse_in(dir: &Path, text: &str) -> Plan {
    parse(&dir.join("inline.toml"), text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn project_path_may_be_the_crate_that_contains_fuzz() {
    let dir = valid_dir();
    let plan = parse_in(&dir, "[[project]]\npath = \"project\"\n");
    assert_eq!(plan.projects[0].path, dir.join("project/fuzz"));
    assert_eq!(plan.projects[0].toolchain, "nightly");
    assert_eq!(plan.projects[0].sanitizer, Sanitizer::Address);
    assert_eq!(plan.targets.len(), 3);
    assert_eq!(plan.tiers[0].name, "all");
    assert_eq!(
        plan.tiers[0].targets,
        [target("block"), target("merkle"), target("utxo")]
    );
}

#[test]
fn workers_zero_means_one_per_core_and_no_targets_means_no_tier() {
    let plan = parse_in(&valid_dir(), "workers = 0\nstate_dir = \"/var/lib/ff\"\n");
    assert_eq!(plan.workers, None);
    assert_eq!(plan.state_dir, PathBuf::from("/var/lib/ff"));
    assert!(plan.targets.is_empty() && plan.tiers.is_empty());
}

#[test]
fn file_hub_and_parallel_default_slice() {
    let plan = parse_in(
        &valid_dir(),
        r#"
[[target]]
name = "t"
binary = "/bin/true"

[tier.side_by_side]
targets = ["t"]
budget = "2d"
mode = "parallel"

[node.local]
api = "http://127.0.0.1:7878"
tiers = ["side_by_side"]

[hub]
url = "file:///srv/fuzzfleet-hub"
"#,
    );
    assert_eq!(
        plan.tiers[0].mode,
        TierMode::Parallel {
            slice: TierMode::DEFAULT_SLICE
        }
    );
    assert_eq!(plan.tiers[0].budget, 48 * HOUR);
    assert_eq!(
        plan.hub.unwrap().url,
        HubUrl::Dir("/srv/fuzzfleet-hub".into())
    );
    assert!(plan.nodes[0].ssh.is_none());
}

#[test]
fn project_seeds_fall_back_to_the_cargo_fuzz_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let fuzz = dir.path().join("fuzz");
    std::fs::create_dir_all(fuzz.join("fuzz_targets")).unwrap();
    std::fs::create_dir_all(fuzz.join("corpus/only_corpus")).unwrap();
    std::fs::write(fuzz.join("Cargo.toml"), "[package]\nname = \"f\"\n").unwrap();
    std::fs::write(fuzz.join("fuzz_targets/only_corpus.rs"), "").unwrap();
    let plan = parse_in(dir.path(), "[[project]]\npath = \"fuzz\"\n");
    let t = plan.target("only_corpus").unwrap();
    assert_eq!(
        t.seeds.as_deref(),
        Some(fuzz.join("corpus/only_corpus").as_path())
    );
    assert_eq!(t.dict, None);
}
