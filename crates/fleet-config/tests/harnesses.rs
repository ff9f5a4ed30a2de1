//! `[[harnesses]]` on real libFuzzer binaries: the C++ fixture project
//! (`fixtures/cpp-project`) built with its own `make fuzz` (clang-14), then found by
//! glob, named without their prefix, with their `.options`, dictionary and seed archive
//! beside them; explicit `[[target]]`s winning; a name found twice; a directory still
//! to be built.

use std::path::{Path, PathBuf};
use std::process::Command;

use fleet_config::{TargetSource, parse};

/// A built copy of the fixture project in its own temp dir under the target dir,
/// removed when the test ends; `None` (after a SKIP line) without clang++-14.
struct Project {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

fn project() -> Option<Project> {
    if Command::new("clang++-14")
        .arg("--version")
        .output()
        .is_err()
    {
        fleet_testkit::missing(
            "clang++-14 is missing (apt-get install -y clang-14 libclang-rt-14-dev)",
        );
        return None;
    }
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&base).unwrap();
    let tmp = tempfile::tempdir_in(&base).unwrap();
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cpp-project");
    let dir = tmp.path().join("proj");
    copy_dir(&src, &dir);
    let out = Command::new("make")
        .args(["-j2", "fuzz"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "make fuzz: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(Project { _tmp: tmp, dir })
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

const GROUP: &str = "[[harnesses]]\ndir = \"build\"\nglob = \"fuzz_*\"\nstrip_prefix = \"fuzz_\"\n";

fn problems(dir: &Path, text: &str) -> Vec<String> {
    let e = parse(&dir.join("fleet.toml"), text).expect_err("invalid");
    e.all()
        .map(|e| {
            let file = e
                .path
                .strip_prefix(dir)
                .unwrap_or(&e.path)
                .display()
                .to_string();
            format!("{file}:{}: {}: {}", e.line.unwrap_or(0), e.key, e.message)
        })
        .collect()
}

#[test]
fn harnesses_are_found_by_glob_with_their_options_dict_and_seeds() {
    let Some(p) = project() else { return };
    let dir = p.dir.as_path();
    let plan = parse(&dir.join("fleet.toml"), GROUP).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = plan.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["checksum", "parse", "varint"]);
    assert_eq!(plan.harnesses.len(), 1);
    assert!(plan.harnesses[0].built);
    assert_eq!(plan.harnesses[0].targets.len(), 3);
    // The implicit tier has them all.
    assert_eq!(plan.tiers[0].targets.len(), 3);

    let parse_t = plan.target("parse").unwrap();
    assert_eq!(
        parse_t.source,
        TargetSource::Binary(dir.join("build/fuzz_parse"))
    );
    // fuzz_parse.options: [libfuzzer] max_len, dict, a flag; close_fd_mask left out.
    assert_eq!(parse_t.max_len, Some(64));
    assert_eq!(
        parse_t.dict.as_deref(),
        Some(dir.join("build/fuzz_parse.dict").as_path())
    );
    assert_eq!(parse_t.args, ["-use_value_profile=1"]);
    assert_eq!(parse_t.seed_zip, None);

    let checksum = plan.target("checksum").unwrap();
    assert_eq!(
        checksum.seed_zip.as_deref(),
        Some(dir.join("build/fuzz_checksum_seed_corpus.zip").as_path())
    );
    assert_eq!((checksum.max_len, checksum.dict.as_ref()), (None, None));
    assert_eq!(plan.harnesses_of("varint").unwrap().dir, dir.join("build"));

    // Without strip_prefix, names are the file names; a glob that matches none is an
    // error when there is no build command to make them.
    let plan = parse(&dir.join("fleet.toml"), "[[harnesses]]\ndir = \"build\"\n").unwrap();
    let names: Vec<&str> = plan.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["fuzz_checksum", "fuzz_parse", "fuzz_varint"]);
    assert_eq!(
        problems(
            dir,
            "workers = 1\n[[harnesses]]\ndir = \"build\"\nglob = \"png_*\"\n"
        ),
        [format!(
            "fleet.toml:3: harnesses[0].dir: no libFuzzer harness matching \"png_*\" in \"{}\" (executables that define LLVMFuzzerTestOneInput)",
            dir.join("build").display()
        )]
    );
}

#[test]
fn executables_that_are_not_harnesses_are_left_out() {
    let Some(p) = project() else { return };
    let dir = p.dir.as_path();
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::copy("/bin/true", other.join("fuzz_true")).unwrap();
    std::fs::copy(dir.join("build/fuzz_varint"), other.join("fuzz_varint")).unwrap();
    // A harness that is not executable is not one either.
    std::fs::copy(dir.join("build/fuzz_parse"), other.join("fuzz_parse")).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(
        other.join("fuzz_parse"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let plan = parse(&dir.join("fleet.toml"), "[[harnesses]]\ndir = \"other\"\n").unwrap();
    let names: Vec<&str> = plan.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["fuzz_varint"]);
}

#[test]
fn explicit_targets_win_and_options_entries_apply() {
    let Some(p) = project() else { return };
    let dir = p.dir.as_path();
    let text = format!(
        "{GROUP}[[target]]\nname = \"varint\"\nbinary = \"/bin/true\"\n\
         [[target]]\nname = \"parse\"\nmax_len = 8\nargs = [\"-only_ascii=1\"]\n\
         [tier.t]\ntargets = [\"parse\", \"varint\", \"checksum\"]\nbudget = \"1h\"\n"
    );
    let plan = parse(&dir.join("fleet.toml"), &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        plan.target("varint").unwrap().source,
        TargetSource::Binary("/bin/true".into())
    );
    assert_eq!(
        plan.harnesses[0].targets.len(),
        2,
        "varint is no longer the dir's"
    );
    let p = plan.target("parse").unwrap();
    assert_eq!(
        p.max_len,
        Some(8),
        "the [[target]] entry overrides .options"
    );
    assert_eq!(p.args, ["-use_value_profile=1", "-only_ascii=1"]);
}

#[test]
fn a_name_found_twice_is_an_error_naming_both() {
    let Some(p) = project() else { return };
    let dir = p.dir.as_path();
    let copy = dir.join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::copy(dir.join("build/fuzz_varint"), copy.join("varint")).unwrap();
    let text = format!("{GROUP}\n[[harnesses]]\ndir = \"copy\"\n");
    assert_eq!(
        problems(dir, &text),
        [format!(
            "fleet.toml:7: harnesses[1].dir: target \"varint\" is found twice: \"{}\" (line 2) and \"{}\" (rename one, or set `strip_prefix` or `glob`)",
            dir.join("build/fuzz_varint").display(),
            copy.join("varint").display()
        )]
    );
}

#[test]
fn a_dir_still_to_be_built_leaves_its_names_open() {
    let Some(p) = project() else { return };
    let dir = p.dir.as_path();
    let text = "[[harnesses]]\ndir = \"not-built-yet\"\nglob = \"fuzz_*\"\nstrip_prefix = \"fuzz_\"\n\
                build = \"make fuzz OUT=not-built-yet\"\nenv = { FUZZ_CXX = \"clang++-14\" }\n\
                [[target]]\nname = \"parse\"\nmax_len = 8\n\
                [tier.t]\ntargets = [\"parse\", \"varint\"]\nbudget = \"1h\"\n";
    let plan = parse(&dir.join("fleet.toml"), text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.unbuilt_harnesses().count(), 1);
    assert!(plan.targets.is_empty());
    let build = plan.harnesses[0].build.as_ref().unwrap();
    assert_eq!(build.command, "make fuzz OUT=not-built-yet");
    assert_eq!(build.dir, dir);
    assert_eq!(
        build.env,
        [("FUZZ_CXX".to_owned(), "clang++-14".to_owned())]
    );
    // Built, the same file loads with every name known.
    let out = Command::new("sh")
        .args(["-c", &build.command])
        .current_dir(&build.dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let plan = parse(&dir.join("fleet.toml"), text).unwrap_or_else(|e| panic!("{e}"));
    assert!(plan.harnesses[0].built);
    assert_eq!(plan.tiers[0].targets.len(), 2);
    assert_eq!(plan.target("parse").unwrap().max_len, Some(8));
    // Built, a name no harness has is an error again.
    let wrong = text.replace("\"varint\"]", "\"varnit\"]");
    assert_eq!(
        problems(dir, &wrong),
        ["fleet.toml:11: tier.t.targets[1]: unknown target \"varnit\" (did you mean \"varint\"?)"]
    );
    // Without a build command, a missing dir is an error.
    assert_eq!(
        problems(dir, "[[harnesses]]\ndir = \"nowhere\"\n"),
        [format!(
            "fleet.toml:2: harnesses[0].dir: harness dir \"{}\" cannot be read: No such file or directory (os error 2) (set `build` to the command that makes it)",
            dir.join("nowhere").display()
        )]
    );
}

#[test]
fn a_bad_options_file_names_its_own_line() {
    let Some(p) = project() else { return };
    let dir = p.dir.as_path();
    let bad = dir.join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::copy(dir.join("build/fuzz_varint"), bad.join("fuzz_varint")).unwrap();
    std::fs::write(
        bad.join("fuzz_varint.options"),
        "[libfuzzer]\nmax_len = lots\ntimeout = 25\nno equals sign\n",
    )
    .unwrap();
    assert_eq!(
        problems(dir, "[[harnesses]]\ndir = \"bad\"\n"),
        [
            "bad/fuzz_varint.options:4: : expected \"key = value\" or a [section], got \"no equals sign\""
        ]
    );
    std::fs::write(
        bad.join("fuzz_varint.options"),
        "[libfuzzer]\nmax_len = lots\ntimeout = 25\n--bad = 1\n",
    )
    .unwrap();
    assert_eq!(
        problems(dir, "[[harnesses]]\ndir = \"bad\"\n"),
        [
            "bad/fuzz_varint.options:2: libfuzzer.max_len: must be an integer from 1 to 1073741824, got \"lots\"",
            "bad/fuzz_varint.options:4: libfuzzer.--bad: invalid libFuzzer flag \"---bad=1\" (expected \"-name=value\")",
        ]
    );
}

#[test]
fn keys_of_the_entry_are_checked() {
    let Some(p) = project() else { return };
    let dir = p.dir.as_path();
    let text = "[[harnesses]]\ndir = \"build\"\nglob = \"a/b*\"\nbuild = \" \"\n\
                [[harnesses]]\ndir = \"build\"\nenv = { X = \"1\" }\nbuild_dir = \"nope\"\n";
    assert_eq!(
        problems(dir, text),
        [
            "fleet.toml:3: harnesses[0].glob: invalid glob \"a/b*\": a pattern of file names in `dir`, such as \"fuzz_*\" (no '/')".to_owned(),
            "fleet.toml:4: harnesses[0].build: `build` is empty (expected a shell command such as \"make -j fuzz\")".to_owned(),
            "fleet.toml:7: harnesses[1].env: `env` is only used with `build`".to_owned(),
            "fleet.toml:8: harnesses[1].build_dir: `build_dir` is only used with `build`".to_owned(),
        ]
    );
    let text = "[[harnesses]]\ndir = \"build\"\nbuild = \"make\"\nenv = { \"1X\" = \"1\" }\n";
    assert_eq!(
        problems(dir, text),
        [
            "fleet.toml:4: harnesses[0].env.1X: invalid environment variable name \"1X\" (letters, digits and '_')"
        ]
    );
}
