//! Real SSH for fleet tests: host and client keys, an sshd with its own host key (the
//! system's openssh-server, run by the test), client configs that use nothing of the
//! user's, Unix users made for one test, and the agent started as the unit `deploy`
//! wrote would start it.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{KillOnDrop, wait_until};

/// Whether this machine can run a test sshd (root, openssh-server); under FUZZFLEET_CI it
/// must.
pub fn can_run_sshd() -> bool {
    let root = nix::unistd::Uid::effective().is_root();
    if root && Path::new("/usr/sbin/sshd").exists() {
        return true;
    }
    fleet_testkit::missing(
        "this test needs root and /usr/sbin/sshd (apt-get install openssh-server; .ci/run does)",
    );
    false
}

/// Runs a program that must succeed; returns its stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn keygen(path: &Path) {
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path));
}

/// sshd on `addr`:`port` with its own host key in `dir`, letting in `client_key`, run
/// through `wrap` (e.g. `ip netns exec NS`), waited for until `ready` says it listens.
pub fn sshd(
    dir: &Path,
    wrap: &[&str],
    addr: &str,
    port: u16,
    client_key: &Path,
    ready: impl FnMut() -> bool,
) -> KillOnDrop {
    use std::os::unix::fs::PermissionsExt;
    fs::create_dir_all(dir).unwrap();
    keygen(&dir.join("host_key"));
    let keys = dir.join("authorized_keys");
    fs::copy(client_key.with_extension("pub"), &keys).unwrap();
    // sshd reads it as the user logging in.
    fs::set_permissions(&keys, fs::Permissions::from_mode(0o644)).unwrap();
    let config = dir.join("sshd_config");
    fs::write(
        &config,
        format!(
            "Port {port}\nListenAddress {addr}\nHostKey {dir}/host_key\n\
             AuthorizedKeysFile {dir}/authorized_keys\nPidFile {dir}/sshd.pid\n\
             StrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             AllowTcpForwarding local\nPrintMotd no\n",
            dir = dir.display()
        ),
    )
    .unwrap();
    fs::create_dir_all("/run/sshd").unwrap();
    let child = wrapped(wrap, "/usr/sbin/sshd")
        .args(["-D", "-e", "-f"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(fs::File::create(dir.join("sshd.log")).unwrap())
        .spawn()
        .unwrap();
    let guard = KillOnDrop(child);
    wait_until("sshd listening", Duration::from_secs(10), ready);
    guard
}

/// A client config for `ssh -F`: this key, these known hosts, nothing of the user's.
pub fn client_config(dir: &Path, name: &str, key: &Path, known_hosts: &str) -> PathBuf {
    let hosts = dir.join(format!("{name}.known_hosts"));
    fs::write(&hosts, known_hosts).unwrap();
    let path = dir.join(format!("{name}.ssh_config"));
    fs::write(
        &path,
        format!(
            "Host *\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  \
             GlobalKnownHostsFile /dev/null\n",
            key.display(),
            hosts.display()
        ),
    )
    .unwrap();
    path
}

/// A Unix user for one test, removed at the end. Its password is `*` (no password
/// login) rather than useradd's `!`, which sshd without PAM reads as a locked account.
pub struct TestUser(pub String);

impl TestUser {
    /// `prefix` and this process's id make the name; `home` is created and given to it.
    pub fn create(prefix: &str, home: &Path) -> TestUser {
        let name = format!("{prefix}{}", std::process::id() % 100_000);
        let _ = Command::new("userdel").arg(&name).output();
        run(Command::new("useradd")
            .args(["-M", "-p", "*", "-s", "/bin/sh", "-d"])
            .arg(home)
            .arg(&name));
        fs::create_dir_all(home).unwrap();
        run(Command::new("chown")
            .arg(format!("{name}:{name}"))
            .arg(home));
        TestUser(name)
    }

    /// `fuzzfleet ARGS` as this user, on the config and state `deploy` put in `base`.
    pub fn fuzzfleet(&self, base: &Path, args: &[&str]) -> Command {
        let mut cmd = self.command(base.join("bin/fuzzfleet").to_str().unwrap());
        cmd.arg("--config")
            .arg(base.join("fleet.toml"))
            .arg("--state")
            .arg(base.join("state"))
            .args(args);
        cmd
    }

    /// `program` run as this user (its uid, gid and groups).
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            &format!("--reuid={}", self.0),
            &format!("--regid={}", self.0),
            "--init-groups",
            "--",
            program,
        ]);
        cmd
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        // Its last processes may still be exiting (they die with their parent).
        for _ in 0..50 {
            let done = Command::new("userdel")
                .arg(&self.0)
                .output()
                .is_ok_and(|o| o.status.success() || o.status.code() == Some(6));
            if done {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// What systemd would run for the unit `deploy` wrote: its `ExecStart` as its `User=`,
/// in its `WorkingDirectory=`, with its `Environment=` and `EnvironmentFile=` (a missing
/// optional one skipped), after `wrap` (e.g. `ip netns exec NS`).
pub fn unit_command(unit: &str, home: &Path, wrap: &[&str]) -> Command {
    let value = |k: &str| {
        unit.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("the unit has no {k}=:\n{unit}"))
            .to_string()
    };
    let user = value("User");
    let mut env = BTreeMap::new();
    for line in unit.lines().filter_map(|l| l.strip_prefix("Environment=")) {
        let (k, v) = line.split_once('=').unwrap();
        env.insert(k.to_string(), v.to_string());
    }
    for line in unit
        .lines()
        .filter_map(|l| l.strip_prefix("EnvironmentFile="))
    {
        let (optional, path) = match line.strip_prefix('-') {
            Some(p) => (true, p),
            None => (false, line),
        };
        match fs::read_to_string(path) {
            Ok(text) => {
                for l in text.lines().filter(|l| !l.trim().is_empty()) {
                    let (k, v) = l.split_once('=').unwrap();
                    let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"'));
                    let v = v.unwrap().replace("\\\"", "\"").replace("\\\\", "\\");
                    env.insert(k.to_string(), v);
                }
            }
            Err(e) => assert!(optional, "EnvironmentFile {path}: {e}"),
        }
    }
    let exec = value("ExecStart");
    let argv: Vec<&str> = exec.split_whitespace().collect();
    let mut cmd = wrapped(wrap, "setpriv");
    cmd.args([
        &format!("--reuid={user}"),
        &format!("--regid={user}"),
        "--init-groups",
        "--",
    ])
    .args(&argv)
    .env_clear()
    .env("PATH", "/usr/local/bin:/usr/bin:/bin")
    .env("HOME", home)
    .envs(&env)
    .current_dir(value("WorkingDirectory"));
    cmd
}

/// `program` run through `wrap` (e.g. `ip netns exec NS`), or directly when it is empty.
fn wrapped(wrap: &[&str], program: &str) -> Command {
    match wrap.split_first() {
        Some((first, rest)) => {
            let mut cmd = Command::new(first);
            cmd.args(rest).arg(program);
            cmd
        }
        None => Command::new(program),
    }
}
