//! Configs a careful tester writes to break things (issue 14, points 4 and 5): huge
//! numbers, state dirs that cannot hold state, empty files, bytes that are not UTF-8.
//! Each is a config error naming the file, the line and the key — never a panic, a
//! wrapped number, or an "internal" failure later.

use std::fs;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use fleet_config::{defaults, load, parse};

/// A fresh directory under the target dir's test tmp (never the machine's /tmp).
fn temp() -> tempfile::TempDir {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    fs::create_dir_all(&base).unwrap();
    tempfile::tempdir_in(base).unwrap()
}

/// `line: key: message` of every problem of `text` loaded as `dir/fleet.toml`.
fn problems_in(dir: &Path, text: &str) -> Vec<String> {
    let file = dir.join("fleet.toml");
    let error = parse(&file, text).expect_err("invalid");
    assert!(error.all().all(|e| e.path == file));
    error
        .all()
        .map(|e| match e.line {
            Some(line) => format!("{line}: {}: {}", e.key, e.message),
            None => format!("-: {}: {}", e.key, e.message),
        })
        .collect()
}

fn problems(text: &str) -> Vec<String> {
    let dir = temp();
    problems_in(dir.path(), text)
}

const TARGET: &str = "[[target]]\nname = \"t\"\nbinary = \"/bin/true\"\n";

#[test]
fn huge_worker_counts_are_refused_not_planned() {
    assert_eq!(
        problems("workers = 9223372036854775807\n"),
        ["1: workers: must be 0 (one per core) or at most 4096 workers, got 9223372036854775807"]
    );
    assert_eq!(
        problems("workers = 4097\n"),
        ["1: workers: must be 0 (one per core) or at most 4096 workers, got 4097"]
    );
    let dir = temp();
    let plan = parse(&dir.path().join("fleet.toml"), "workers = 4096\n").unwrap();
    assert_eq!(
        plan.workers.map(|w| w.get() as u64),
        Some(defaults::MAX_WORKERS)
    );
    let tier = format!("{TARGET}[tier.a]\ntargets = [\"t\"]\nbudget = \"1h\"\nworkers = 5000\n");
    assert_eq!(
        problems(&tier),
        ["7: tier.a.workers: must be at most 4096 workers, got 5000"]
    );
}

#[test]
fn memory_and_time_limits_have_ceilings() {
    let text = format!(
        "[defaults]\nrss_limit_mb = 9223372036854775807\ntimeout_s = 9223372036854775807\n\
         max_len = 9223372036854775807\n{TARGET}rss_limit_mb = 1048577\ntimeout_s = 86401\n"
    );
    assert_eq!(
        problems(&text),
        [
            "2: defaults.rss_limit_mb: must be at most 1048576 MiB (1 TiB), got 9223372036854775807",
            "3: defaults.timeout_s: must be at most 86400 seconds (one day), got 9223372036854775807",
            "4: defaults.max_len: must be at most 1073741824 bytes, got 9223372036854775807",
            "8: target[0].rss_limit_mb: must be at most 1048576 MiB (1 TiB), got 1048577",
            "9: target[0].timeout_s: must be at most 86400 seconds (one day), got 86401",
        ]
    );
    // The ceilings themselves are accepted.
    let dir = temp();
    let text = format!("{TARGET}rss_limit_mb = 1048576\ntimeout_s = 86400\n");
    let plan = parse(&dir.path().join("fleet.toml"), &text).unwrap();
    assert_eq!(
        (plan.targets[0].rss_limit_mb, plan.targets[0].timeout_s),
        (1_048_576, 86_400)
    );
    // Negative numbers still get the positive-integer message.
    assert_eq!(
        problems("[defaults]\ntimeout_s = -5\n"),
        ["2: defaults.timeout_s: must be a positive integer, got -5"]
    );
}

#[test]
fn a_state_dir_that_is_a_file_is_a_config_error() {
    let dir = temp();
    fs::write(dir.path().join("state"), "not a dir").unwrap();
    let shown = dir.path().join("state");
    assert_eq!(
        problems_in(dir.path(), "workers = 1\nstate_dir = \"state\"\n"),
        [format!(
            "2: state_dir: \"{}\" is not a directory",
            shown.display()
        )]
    );
    // Below a file: it could never be created.
    assert_eq!(
        problems_in(dir.path(), "state_dir = \"state/sub\"\n"),
        [format!(
            "1: state_dir: \"{}\" cannot be created: \"{}\" is not a directory",
            shown.join("sub").display(),
            shown.display()
        )]
    );
}

#[test]
fn a_default_state_dir_that_is_a_file_is_a_config_error_without_a_line() {
    let dir = temp();
    fs::write(dir.path().join(".fuzzfleet"), "").unwrap();
    let error = parse(&dir.path().join("fleet.toml"), "workers = 1\n").unwrap_err();
    assert_eq!((error.line, error.key.as_str()), (None, ""));
    assert_eq!(
        error.message,
        format!(
            "state_dir (default \".fuzzfleet\"): \"{}\" is not a directory; set `state_dir` to a writable directory",
            dir.path().join(".fuzzfleet").display()
        )
    );
}

#[test]
fn a_state_dir_under_proc_or_sys_is_a_config_error() {
    assert_eq!(
        problems("state_dir = \"/proc/fuzzfleet\"\n"),
        [
            "1: state_dir: \"/proc/fuzzfleet\" cannot be created: \"/proc\" is on /proc, a kernel pseudo-filesystem that cannot hold files"
        ]
    );
    assert_eq!(
        problems("\nstate_dir = \"/proc/self\"\n"),
        [
            "2: state_dir: \"/proc/self\" is on /proc, a kernel pseudo-filesystem that cannot hold files"
        ]
    );
    assert_eq!(
        problems("state_dir = \"/sys/kernel/fuzzfleet\"\n"),
        [
            "1: state_dir: \"/sys/kernel/fuzzfleet\" cannot be created: \"/sys/kernel\" is on /sys, a kernel pseudo-filesystem that cannot hold files"
        ]
    );
}

/// The user `nobody`: a read-only directory is only read-only for someone who is not
/// root, so the check runs in this test binary re-executed as that user.
const NOBODY: u32 = 65534;

#[test]
fn a_read_only_state_dir_is_a_config_error() {
    if let Ok(dir) = std::env::var("FLEET_CONFIG_READ_ONLY_DIR") {
        // The re-executed half, running as `nobody`.
        let dir = Path::new(&dir);
        assert_eq!(
            problems_in(dir, "workers = 1\n\nstate_dir = \"state\"\n"),
            [format!(
                "3: state_dir: \"{}\" is read-only for this user (fuzzfleet writes its database, corpora and findings there)",
                dir.join("state").display()
            )]
        );
        assert_eq!(
            problems_in(dir, "state_dir = \"state/new\"\n"),
            [format!(
                "1: state_dir: \"{}\" cannot be created: \"{}\" is read-only for this user (fuzzfleet writes its database, corpora and findings there)",
                dir.join("state/new").display(),
                dir.join("state").display()
            )]
        );
        // The default state dir beside a config in a directory this user may not
        // write is not an error: such a config is used with `--state` elsewhere.
        parse(&dir.join("state/fleet.toml"), "workers = 1\n").unwrap();
        return;
    }
    let dir = temp();
    let state = dir.path().join("state");
    fs::create_dir(&state).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    // Everyone may enter and read; only root may write.
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&state, fs::Permissions::from_mode(0o555)).unwrap();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "a_read_only_state_dir_is_a_config_error",
        "--nocapture",
    ])
    .env("FLEET_CONFIG_READ_ONLY_DIR", dir.path());
    if nix_is_root() {
        // SAFETY: setgid/setuid are async-signal-safe; nothing else runs in the hook.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(NOBODY) != 0
                    || libc::setuid(NOBODY) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let out = cmd.output().unwrap();
    fs::set_permissions(&state, fs::Permissions::from_mode(0o755)).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn nix_is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn an_empty_or_comment_only_file_names_the_file() {
    let dir = temp();
    for text in ["", "\n\n", "# just a comment\n   # and another\n"] {
        let file = dir.path().join("fleet.toml");
        fs::write(&file, text).unwrap();
        let error = load(&file).unwrap_err();
        assert_eq!((error.line, error.key.as_str()), (None, ""));
        assert!(
            error.to_string().starts_with(&format!(
                "{}: the config has no settings (it is empty or only comments)",
                file.display()
            )),
            "{error}"
        );
    }
    // Nothing was created beside it.
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["fleet.toml"]);
}

#[test]
fn invalid_utf8_names_line_column_and_key() {
    let dir = temp();
    let file = dir.path().join("fleet.toml");
    let mut bytes = b"workers = 2\n[[target]]\nname = \"t\"\nbinary = \"/bin/tr".to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe]);
    bytes.extend_from_slice(b"ue\"\n");
    fs::write(&file, &bytes).unwrap();
    let error = load(&file).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{}:4: target[0].binary: invalid UTF-8 (byte 0xff at column 18): the file must be UTF-8 text",
            file.display()
        )
    );
    // In a comment, where no key owns it, the line is still given.
    fs::write(&file, b"# caf\xe9\nworkers = 1\n").unwrap();
    let error = load(&file).unwrap_err();
    assert_eq!(error.line, Some(1));
    assert!(error.message.contains("byte 0xe9 at column 6"), "{error}");
}
