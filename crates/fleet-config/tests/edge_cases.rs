//! Problems that need no fixture of their own: how several problems interact (none
//! hides another, none is reported twice as a consequence of another), and messages
//! of the rarer checks.

use std::path::PathBuf;

fn valid_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/configs/valid")
        .canonicalize()
        .unwrap()
}

/// Parses `text` as `fixtures/configs/valid/x.toml` and returns its problems as
/// `line: key: message` lines.
fn problems(text: &str) -> Vec<String> {
    let error = fleet_config::parse(&valid_dir().join("x.toml"), text).expect_err("invalid");
    error
        .all()
        .map(|e| format!("{}: {}: {}", e.line.unwrap(), e.key, e.message))
        .collect()
}

const ONE_TARGET: &str = "[[target]]\nname = \"t\"\nbinary = \"/bin/true\"\n";

#[test]
fn node_without_a_way_to_reach_it() {
    let text = format!("{ONE_TARGET}[node.x]\ntiers = [\"all\"]\n");
    assert_eq!(
        problems(&text),
        ["4: node.x: node needs `ssh = \"user@host\"` or `api = \"https://…\"` to be reached"]
    );
}

#[test]
fn bad_names_of_tiers_and_nodes_are_quoted_in_the_key() {
    let text = format!(
        "{ONE_TARGET}[tier.\".x\"]\ntargets = [\"t\"]\nbudget = \"1h\"\n\
         [node.\"a b\"]\nssh = \"h\"\ntiers = [\".x\"]\n"
    );
    assert_eq!(
        problems(&text),
        [
            "4: tier.\".x\": invalid tier name \".x\": starts with '.' (names become directory names)",
            "7: node.\"a b\": invalid node name \"a b\": contains ' ' (names become directory names: only A-Z, a-z, 0-9, '_', '.', '-')",
        ]
    );
}

#[test]
fn project_options_errors_do_not_hide_its_targets() {
    let text = "[[project]]\npath = \"project\"\ntoolchain = \"+nightly\"\n\
                [[target]]\nname = \"block\"\nengine = \"libfuzzer\"\nsanitizer = \"none\"\n\
                [[target]]\nname = \"block\"\nmax_len = 5\n\
                [[project]]\npath = \"project/fuzz\"\n";
    assert_eq!(
        problems(text),
        [
            "3: project[0].toolchain: invalid toolchain \"+nightly\" (expected a rustup toolchain such as \"nightly\" or \"nightly-2025-06-01\")",
            "6: target[0].engine: a project's targets are built for libfuzzer; `engine` cannot be set for \"block\"",
            "7: target[0].sanitizer: \"block\" is built by its project: set `sanitizer` on its [[project]]",
            "9: target[1].name: options for target \"block\" are already given on line 5",
            &format!(
                "12: project[1].path: project \"{}\" is already declared on line 2",
                valid_dir().join("project/fuzz").display()
            ),
        ]
    );
}

#[test]
fn a_missing_project_does_not_make_its_targets_unknown() {
    // "zzz" may be one of the missing project's targets: only the project is reported.
    let text = "[[project]]\npath = \"/nonexistent/fuzz\"\n\
                [tier.a]\ntargets = [\"zzz\"]\nbudget = \"1h\"\n";
    assert_eq!(
        problems(text),
        ["2: project[0].path: project directory \"/nonexistent/fuzz\" does not exist"]
    );
}

#[test]
fn a_rejected_target_is_not_also_unknown_in_its_tier() {
    let text = "[[target]]\nname = \"t\"\nbinary = \"/nonexistent/t\"\n\
                [tier.a]\ntargets = [\"t\"]\nbudget = \"1h\"\n";
    assert_eq!(
        problems(text),
        ["3: target[0].binary: binary \"/nonexistent/t\" does not exist"]
    );
}

#[test]
fn paths_of_the_wrong_kind() {
    let text =
        "[[target]]\nname = \"t\"\nbinary = \"/bin\"\nseeds = \"/bin/true\"\ndict = \"/bin\"\n";
    assert_eq!(
        problems(text),
        [
            "3: target[0].binary: binary \"/bin\" is not a file",
            "4: target[0].seeds: seeds \"/bin/true\" is not a directory",
            "5: target[0].dict: dict \"/bin\" is not a file",
        ]
    );
}

#[test]
fn hub_and_webhook_urls() {
    let text = "[hub]\nurl = \"file://relative/x\"\n[alerts]\nwebhook = \"hooks.example\"\n";
    assert_eq!(
        problems(text),
        [
            "2: hub.url: hub url \"file://relative/x\" must name an absolute path (e.g. \"file:///srv/fuzzfleet-hub\")",
            "4: alerts.webhook: invalid url \"hooks.example\" (expected \"http://…\" or \"https://…\")",
        ]
    );
}

#[test]
fn several_syntax_errors_are_all_reported() {
    let text = "workers = 1\nworkers = 2\n[[target]\nname = \"t\"\n";
    assert_eq!(
        problems(text),
        [
            "2: workers: invalid TOML: duplicate key",
            "3: target: invalid TOML: unclosed array table, expected `]`",
        ]
    );
}

#[test]
fn serde_type_errors_are_worded_for_toml() {
    assert_eq!(
        problems("tier = 3\n"),
        ["1: tier: invalid type: integer `3`, expected a table"]
    );
    assert_eq!(
        problems("[[target]]\nbinary = \"/bin/true\"\n"),
        ["1: target[0]: missing key `name`"]
    );
    assert_eq!(
        problems("workers = 99999999999999999999\n"),
        [
            "1: workers: invalid type: integer `99999999999999999999` (too large), expected an integer"
        ]
    );
}

#[test]
fn coverage_every_zero_turns_the_schedule_off() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fleet.toml");
    std::fs::write(&file, "[coverage]\nevery = \"0s\"\n").unwrap();
    assert_eq!(fleet_config::load(&file).unwrap().coverage.every, None);
    std::fs::write(&file, "[coverage]\nevery = \"90m\"\n").unwrap();
    assert_eq!(
        fleet_config::load(&file).unwrap().coverage.every,
        Some(std::time::Duration::from_secs(5400))
    );
}
