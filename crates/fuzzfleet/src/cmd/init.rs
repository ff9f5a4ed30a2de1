//! `fuzzfleet init`: writes a commented `fleet.toml` for the directory it runs in —
//! its cargo-fuzz projects, its directories of libFuzzer harness binaries (with the
//! Makefile or CMake target that builds them, when it can tell) — all in one tier.
//! It never overwrites a file, and writes only a config that loads.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::Context;
use crate::exit;

/// Directories never searched: build output of other tools, VCS data, dependencies.
const SKIP_DIRS: &[&str] = &[
    "target",
    "node_modules",
    ".git",
    ".fuzzfleet",
    "__pycache__",
];
/// How deep below the directory to look.
const MAX_DEPTH: usize = 4;
/// Budget per target of the one tier.
const TIER_BUDGET: &str = "1h";

/// What `init` found.
#[derive(Debug, Default)]
struct Found {
    /// cargo-fuzz `fuzz/` dirs, relative, with their targets.
    projects: Vec<(PathBuf, Vec<String>)>,
    /// Directories of harness binaries, relative, with the binaries' file names.
    harness_dirs: BTreeMap<PathBuf, Vec<String>>,
    /// A build command that makes the harnesses, and why it is believed to.
    build: Option<(String, String)>,
}

pub fn init(ctx: &Context) -> Result<i32> {
    let config = std::path::absolute(&ctx.config)?;
    if config.exists() {
        return Err(exit::usage(format!(
            "{} already exists: `fuzzfleet init` never overwrites a config (remove it, or pass --config NEW.toml)",
            config.display()
        )));
    }
    let root = config
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    let mut found = Found::default();
    scan(&root, &root, 0, &mut found);
    found.build = build_command(&root);
    if found.projects.is_empty() && found.harness_dirs.is_empty() && found.build.is_none() {
        return Err(exit::usage(format!(
            "found nothing to fuzz under {}: no cargo-fuzz project (fuzz/ with fuzz_targets/), no executable defining {}, no Makefile or CMake fuzz target. Build your harnesses first, or write {} by hand (docs/config.md)",
            root.display(),
            fleet_config::FUZZ_ENTRY,
            config.display()
        )));
    }
    let text = render(&found);
    // Only a config that loads is written.
    let plan = fleet_config::parse(&config, &text).map_err(|e| {
        anyhow::anyhow!(
            "the config `init` made does not load (a bug; it is not written):\n{e}\n---\n{text}"
        )
    })?;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&config)
        .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
        .with_context(|| format!("cannot write {}", config.display()))?;
    eprintln!(
        "wrote {}: {} from {} and {}{}",
        config.display(),
        super::run::plural(plan.targets.len(), "target"),
        super::run::plural(found.projects.len(), "cargo-fuzz project"),
        super::run::plural(found.harness_dirs.len(), "harness dir"),
        match &found.build {
            Some((command, _)) => format!(", built by `{command}`"),
            None => String::new(),
        }
    );
    eprintln!("next: read and edit it (tiers, budgets, limits), then `fuzzfleet run`");
    Ok(exit::OK)
}

fn scan(root: &Path, dir: &Path, depth: usize, found: &mut Found) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    let rel = |p: &Path| p.strip_prefix(root).unwrap_or(p).to_path_buf();
    if dir.join(fleet_config::FUZZ_TARGETS_DIR).is_dir()
        && let Ok(fuzz) = fleet_config::fuzz_dir(dir)
        && let Ok(targets) = fleet_config::discover_targets(&fuzz)
    {
        found
            .projects
            .push((rel(&fuzz), targets.into_iter().map(|t| t.name).collect()));
        // A cargo-fuzz project's own binaries live under its target/, skipped anyway.
        return;
    }
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if depth < MAX_DEPTH && !name.starts_with('.') && !SKIP_DIRS.contains(&name.as_str()) {
                scan(root, &path, depth + 1, found);
            }
        } else if kind.is_file() && fleet_config::is_libfuzzer_binary(&path) {
            found.harness_dirs.entry(rel(dir)).or_default().push(name);
        }
    }
}

/// `make -j fuzz` when a Makefile has a `fuzz` target; a CMake build of its `fuzz`
/// target (or of everything, when the project builds with `-fsanitize=fuzzer`).
fn build_command(root: &Path) -> Option<(String, String)> {
    for makefile in ["GNUmakefile", "makefile", "Makefile"] {
        let Ok(text) = std::fs::read_to_string(root.join(makefile)) else {
            continue;
        };
        for target in ["fuzz", "fuzzers", "fuzz-targets", "fuzz_targets"] {
            let defines = text.lines().any(|l| {
                l.strip_prefix(target)
                    .is_some_and(|rest| rest.trim_start().starts_with(':') && !rest.contains(":="))
            });
            if defines {
                return Some((
                    format!("make -j {target}"),
                    format!("{makefile} has a `{target}` target"),
                ));
            }
        }
    }
    let cmake = std::fs::read_to_string(root.join("CMakeLists.txt")).ok()?;
    let configure = "cmake -S . -B build -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++";
    if cmake.contains("add_custom_target(fuzz") {
        return Some((
            format!("{configure} && cmake --build build --target fuzz -j"),
            "CMakeLists.txt has a `fuzz` target".into(),
        ));
    }
    if cmake.contains("-fsanitize=fuzzer") {
        return Some((
            format!("{configure} && cmake --build build -j"),
            "CMakeLists.txt builds with -fsanitize=fuzzer".into(),
        ));
    }
    None
}

/// The prefix every name shares up to its last `_` or `-` (e.g. `fuzz_`), if any.
fn common_prefix(names: &[String]) -> Option<String> {
    let first = names.first()?;
    let mut len = first.len();
    for n in names {
        len = len.min(
            first
                .bytes()
                .zip(n.bytes())
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    let prefix = &first[..len];
    let cut = prefix.rfind(['_', '-'])? + 1;
    // Every name must keep something after the prefix.
    (names.iter().all(|n| n.len() > cut)).then(|| first[..cut].to_owned())
}

fn q(s: &str) -> String {
    format!("{:?}", s)
}

fn render(found: &Found) -> String {
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(
        w,
        "# fuzzfleet's config, written by `fuzzfleet init`: every target found here, in one
# tier. Edit it (tiers, budgets, limits), then:
#
#   fuzzfleet build                      run the build below, find the harnesses
#   fuzzfleet run --budget 10s --once    a smoke run: every target for 10 s
#   fuzzfleet run                        the campaign, until Ctrl-C
#
# Every key is documented in docs/config.md.

state_dir = \".fuzzfleet\"           # corpora, findings and the database
workers = 0                        # 0 = one per core

[defaults]
rss_limit_mb = 4096                # memory per worker, MiB
timeout_s = 25                     # per input, seconds"
    );
    let mut names: Vec<String> = Vec::new();
    for (path, targets) in &found.projects {
        let _ = writeln!(
            w,
            "\n# A cargo-fuzz project: {} (built on nightly, no cargo-fuzz needed).\n[[project]]\npath = {}",
            targets.join(", "),
            q(&path.to_string_lossy())
        );
        names.extend(targets.iter().cloned());
    }
    let mut build = found.build.clone();
    for (dir, files) in &found.harness_dirs {
        let prefix = common_prefix(files);
        let _ = writeln!(
            w,
            "\n# libFuzzer harnesses: every executable in `dir` matching `glob` that defines\n# {}. Beside each, <file>.dict, <file>.options ([libfuzzer] flags)\n# and <file>_seed_corpus.zip are used.\n[[harnesses]]\ndir = {}",
            fleet_config::FUZZ_ENTRY,
            q(&dir.to_string_lossy())
        );
        match &prefix {
            Some(p) => {
                let _ = writeln!(
                    w,
                    "glob = {}\nstrip_prefix = {}              # {} -> {}",
                    q(&format!("{p}*")),
                    q(p),
                    files[0],
                    &files[0][p.len()..]
                );
                names.extend(files.iter().map(|f| f[p.len()..].to_owned()));
            }
            None => {
                let _ = writeln!(w, "glob = \"*\"");
                names.extend(files.iter().cloned());
            }
        }
        if let Some((command, why)) = build.take() {
            let _ = writeln!(
                w,
                "build = {}             # {why}; run by `fuzzfleet build` and before `run`\n# build_dir = \".\"\n# env = {{ CC = \"clang\", CXX = \"clang++\" }}",
                q(&command)
            );
        }
    }
    if let Some((command, why)) = build {
        // A build but no harness yet: where it puts them is a guess to check.
        let _ = writeln!(
            w,
            "\n# {why}, but no harness is built yet: set `dir` (and `glob`) to where the\n# build puts them; `fuzzfleet build` says if it finds none there.\n[[harnesses]]\ndir = \"build\"\nglob = \"fuzz_*\"\nstrip_prefix = \"fuzz_\"\nbuild = {}",
            q(&command)
        );
    }
    names.sort();
    names.dedup();
    if names.is_empty() {
        let _ = writeln!(
            w,
            "\n# No tier yet: every target found after the build runs in one tier \"all\"."
        );
    } else {
        let _ = writeln!(
            w,
            "\n# One tier. Every target gets a first turn, then core time goes where coverage\n# still grows (schedule = \"coverage\"); a tier's `budget` weighs its targets.\n# Split them into tiers with their own budgets (e.g. 48h / 24h / 12h) to say\n# which matter most; schedule = \"fixed\" makes budgets a wall clock instead.\n[tier.all]\ntargets = [\n{}\n]\nbudget = {}",
            names
                .iter()
                .map(|n| format!("    {},", q(n)))
                .collect::<Vec<_>>()
                .join("\n"),
            q(TIER_BUDGET)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp() -> tempfile::TempDir {
        let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-tmp");
        std::fs::create_dir_all(&base).unwrap();
        tempfile::tempdir_in(base).unwrap()
    }

    #[test]
    fn build_commands_it_can_tell() {
        let dir = temp();
        let root = dir.path();
        assert_eq!(build_command(root), None);
        std::fs::write(
            root.join("CMakeLists.txt"),
            "add_compile_options(-fsanitize=fuzzer)\n",
        )
        .unwrap();
        assert_eq!(
            build_command(root).unwrap().0,
            "cmake -S . -B build -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ && cmake --build build -j"
        );
        std::fs::write(
            root.join("CMakeLists.txt"),
            "add_custom_target(fuzz DEPENDS a b)\n",
        )
        .unwrap();
        assert!(build_command(root).unwrap().0.ends_with("--target fuzz -j"));
        // A Makefile's target wins; a variable named like one is not a target.
        std::fs::write(root.join("Makefile"), "fuzz := yes\nall:\n").unwrap();
        assert!(build_command(root).unwrap().0.starts_with("cmake"));
        std::fs::write(root.join("Makefile"), "all:\nfuzz_targets: a b\n").unwrap();
        assert_eq!(
            build_command(root).unwrap(),
            (
                "make -j fuzz_targets".to_owned(),
                "Makefile has a `fuzz_targets` target".to_owned()
            )
        );
    }

    #[test]
    fn a_cargo_fuzz_project_and_a_make_target_make_a_config_that_loads() {
        let dir = temp();
        let root = dir.path();
        let fuzz = root.join("crate/fuzz");
        std::fs::create_dir_all(fuzz.join("fuzz_targets")).unwrap();
        std::fs::write(fuzz.join("Cargo.toml"), "[package]\nname = \"f\"\n").unwrap();
        for t in ["alpha", "beta"] {
            std::fs::write(fuzz.join(format!("fuzz_targets/{t}.rs")), "").unwrap();
        }
        std::fs::write(root.join("Makefile"), "fuzz: build/fuzz_x\n").unwrap();
        let mut found = Found::default();
        scan(root, root, 0, &mut found);
        found.build = build_command(root);
        assert_eq!(
            found.projects,
            [(
                PathBuf::from("crate/fuzz"),
                vec!["alpha".to_owned(), "beta".to_owned()]
            )]
        );
        let text = render(&found);
        let plan = fleet_config::parse(&root.join("fleet.toml"), &text)
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(plan.projects.len(), 1);
        assert_eq!(plan.tiers[0].name, "all");
        assert_eq!(plan.tiers[0].targets.len(), 2);
        // The make target, with nothing built yet: a harness entry to check.
        assert_eq!(plan.harnesses.len(), 1);
        assert!(!plan.harnesses[0].built);
        assert_eq!(
            plan.harnesses[0].build.as_ref().unwrap().command,
            "make -j fuzz"
        );
    }

    #[test]
    fn prefixes() {
        let v = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            common_prefix(&v(&["fuzz_parse", "fuzz_png"])).as_deref(),
            Some("fuzz_")
        );
        assert_eq!(common_prefix(&v(&["fuzz_parse"])).as_deref(), Some("fuzz_"));
        assert_eq!(common_prefix(&v(&["parse", "png"])), None);
        assert_eq!(common_prefix(&v(&["fuzz_", "fuzz_a"])), None);
    }
}
