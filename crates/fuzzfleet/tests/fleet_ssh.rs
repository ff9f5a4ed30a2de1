//! The fleet view through SSH: `status --all-nodes` reaches a node's agent on its
//! loopback API port through an SSH tunnel (a real sshd on 127.0.0.1 with its own host
//! key), refuses a node whose host key is not the known one, and marks a node whose sshd
//! is down as unreachable, each with a message naming the node.

mod support;

use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use support::ssh::{TestUser, can_run_sshd, client_config, keygen, mode, unit_command};
use support::{Fleet, KillOnDrop, wait_until};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// sshd on 127.0.0.1:`port` with its own host key, letting in `client_key`.
fn sshd(dir: &Path, port: u16, client_key: &Path) -> KillOnDrop {
    support::ssh::sshd(dir, &[], "127.0.0.1", port, client_key, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
}

fn status(fleet: &Fleet, ssh_config: &Path) -> (Option<i32>, Value, String) {
    let out = fleet
        .cmd(&["status", "--all-nodes", "--json"])
        .env("FUZZFLEET_SSH_CONFIG", ssh_config)
        .output()
        .unwrap();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code(),
        doc,
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn status_reaches_a_nodes_agent_through_an_ssh_tunnel_and_refuses_an_unknown_host_key() {
    if !can_run_sshd() {
        return;
    }
    let ssh_port = free_port();
    let hub = fleet_testkit::state_temp_dir();
    let fleet = Fleet::new(&format!(
        "[hub]\nurl = \"file://{}\"\n\
         [tier.t]\ntargets = [\"clean\"]\nbudget = \"1h\"\n\
         [node.alpha]\nssh = \"root@127.0.0.1:{ssh_port}\"\ntiers = [\"t\"]\n",
        hub.path().display()
    ));
    let dir = fleet.path().join("ssh");
    fs::create_dir_all(&dir).unwrap();
    let key = dir.join("id_ed25519");
    keygen(&key);
    let mut sshd = sshd(&dir, ssh_port, &key);

    // The node's agent, its API on loopback only (the default port, as deployed).
    let log = fs::File::create(fleet.path().join("agent.log")).unwrap();
    let _agent = KillOnDrop(
        fleet
            .cmd(&["agent", "--node", "alpha", "--workers", "1"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );

    let host_pub = fs::read_to_string(dir.join("host_key.pub")).unwrap();
    let good = client_config(
        &dir,
        "good",
        &key,
        &format!("[127.0.0.1]:{ssh_port} {host_pub}"),
    );
    let mut last = String::new();
    wait_until(
        "clean running, read through the tunnel",
        Duration::from_secs(60),
        || {
            let (code, doc, err) = status(&fleet, &good);
            last = format!("{code:?} {doc:#} {err}");
            code == Some(0)
                && doc["nodes"][0]["node"] == "alpha"
                && doc["nodes"][0]["status"]["targets"]
                    .as_array()
                    .is_some_and(|ts| {
                        ts.iter()
                            .any(|t| t["name"] == "clean" && t["state"] == "running")
                    })
        },
    );
    assert!(last.contains("\"error\": null"), "{last}");

    // Another key for that address: refused, and said so; host-key checking stays on.
    keygen(&dir.join("other_key"));
    let other_pub = fs::read_to_string(dir.join("other_key.pub")).unwrap();
    let wrong = client_config(
        &dir,
        "wrong",
        &key,
        &format!("[127.0.0.1]:{ssh_port} {other_pub}"),
    );
    let (code, doc, _) = status(&fleet, &wrong);
    assert_eq!(code, Some(1), "{doc:#}");
    let error = doc["nodes"][0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("node alpha") && error.contains("host key not known or changed"),
        "{doc:#}"
    );
    // No known key at all: the same refusal.
    let unknown = client_config(&dir, "unknown", &key, "");
    let (code, doc, _) = status(&fleet, &unknown);
    assert_eq!(code, Some(1));
    assert!(
        doc["nodes"][0]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("host key"),
        "{doc:#}"
    );

    // The node's sshd down: unreachable, named.
    sshd.0.kill().unwrap();
    sshd.0.wait().unwrap();
    let (code, doc, _) = status(&fleet, &good);
    assert_eq!(code, Some(1));
    let error = doc["nodes"][0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("node alpha") && error.contains("cannot connect"),
        "{doc:#}"
    );
    // How long it has been silent, from the heartbeat its agent writes to the hub.
    assert!(doc["nodes"][0]["last_heartbeat"].is_string(), "{doc:#}");
    assert!(
        doc["nodes"][0]["unreachable_for_s"].as_i64().is_some(),
        "{doc:#}"
    );
    let text = fleet
        .cmd(&["status", "--all-nodes"])
        .env("FUZZFLEET_SSH_CONFIG", &good)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("unreachable, no heartbeat for"),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );
}

#[test]
fn deploy_copies_as_the_nodes_user_changes_nothing_twice_and_its_unit_runs_the_agent() {
    if !can_run_sshd() {
        return;
    }
    let ssh_port = free_port();
    let fleet = Fleet::new("");
    // sshd reads authorized_keys as the user: the path to it must be readable.
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(fleet.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let dir = fleet.path().join("ssh");
    fs::create_dir_all(&dir).unwrap();
    let key = dir.join("id_ed25519");
    keygen(&key);
    let home = fleet.path().join("home");
    let user = TestUser::create("ffdeploy", &home);
    let mut sshd = sshd(&dir, ssh_port, &key);

    let config = fleet.path().join("fleet.toml");
    let base = fs::read_to_string(&config).unwrap();
    let body = |budget: &str| {
        format!(
            "{base}[tier.t]\ntargets = [\"clean\"]\nbudget = \"{budget}\"\n\
             [node.alpha]\nssh = \"{}@127.0.0.1:{ssh_port}\"\ntiers = [\"t\"]\n",
            user.0
        )
    };
    fs::write(&config, body("1h")).unwrap();
    let host_pub = fs::read_to_string(dir.join("host_key.pub")).unwrap();
    let good = client_config(
        &dir,
        "good",
        &key,
        &format!("[127.0.0.1]:{ssh_port} {host_pub}"),
    );
    let deploy = |args: &[&str], ssh_config: &Path| {
        let out = fleet
            .cmd(&[&["deploy"], args].concat())
            .env("FUZZFLEET_SSH_CONFIG", ssh_config)
            .output()
            .unwrap();
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };

    // A wrong host key: refused before anything is copied, naming the node.
    keygen(&dir.join("other_key"));
    let other_pub = fs::read_to_string(dir.join("other_key.pub")).unwrap();
    let wrong = client_config(
        &dir,
        "wrong",
        &key,
        &format!("[127.0.0.1]:{ssh_port} {other_pub}"),
    );
    let (code, out) = deploy(&["alpha"], &wrong);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("node alpha") && out.contains("host key"),
        "{out}"
    );
    let remote = home.join(".fuzzfleet");
    assert!(!remote.exists());

    // The first deploy: everything copied as the node's user, the unit the one root step.
    let (code, out) = deploy(&["alpha"], &good);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("needs root") && out.contains("sudo install -m 644"),
        "{out}"
    );
    for f in [
        "bin/fuzzfleet",
        "targets/clean",
        "fleet.toml",
        "token",
        "fuzzfleet-agent.service",
    ] {
        assert!(remote.join(f).is_file(), "{f} missing: {out}");
    }
    let owner = {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(remote.join("bin/fuzzfleet")).unwrap().uid()
    };
    assert_ne!(owner, 0, "copied as the node's user, not root");
    assert_eq!(mode(&remote.join("bin/fuzzfleet")), 0o755);
    assert_eq!(mode(&remote.join("token")), 0o600);
    let kept = fleet.state().join("tokens/alpha");
    assert_eq!(mode(&kept), 0o600);
    assert_eq!(
        fs::read_to_string(&kept).unwrap().trim(),
        fs::read_to_string(remote.join("token")).unwrap().trim()
    );

    // Again: nothing changes, and it says so.
    let (code, out) = deploy(&["alpha"], &good);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("up to date, nothing changed"), "{out}");

    // A config change, dry run: shown, not done.
    fs::write(&config, body("2h")).unwrap();
    let before = fs::read_to_string(remote.join("fleet.toml")).unwrap();
    let (code, out) = deploy(&["alpha", "--dry-run"], &good);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("would copy 1 files") && out.contains("fleet.toml"),
        "{out}"
    );
    assert_eq!(
        fs::read_to_string(remote.join("fleet.toml")).unwrap(),
        before
    );
    let (code, out) = deploy(&["alpha"], &good);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        fs::read_to_string(remote.join("fleet.toml"))
            .unwrap()
            .contains("budget = \"2h\"")
    );

    // The agent as the unit starts it: its ExecStart, as its User=, with its Environment=.
    let unit = fs::read_to_string(remote.join("fuzzfleet-agent.service")).unwrap();
    let line = |k: &str| {
        unit.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap()
            .to_string()
    };
    assert_eq!(line("User"), user.0);
    assert_eq!(line("Environment"), "FUZZFLEET_NODE=alpha");
    let log = fs::File::create(fleet.path().join("agent.log")).unwrap();
    let mut agent = KillOnDrop(
        unit_command(&unit, &home, &[])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    // The operator reads it through the tunnel with the token deploy kept.
    let mut last = String::new();
    let seen = (0..120).any(|_| {
        std::thread::sleep(Duration::from_millis(500));
        let (code, doc, err) = status(&fleet, &good);
        last = format!("{code:?} {doc:#} {err}");
        doc["nodes"][0]["status"]["targets"]
            .as_array()
            .is_some_and(|ts| {
                ts.iter()
                    .any(|t| t["name"] == "clean" && t["state"] == "running")
            })
    });
    assert!(
        seen,
        "the deployed agent was not seen fuzzing: {last}\n--- agent.log\n{}",
        fs::read_to_string(fleet.path().join("agent.log")).unwrap_or_default()
    );
    support::signal(&agent.0, libc::SIGTERM);
    let (code, _) = support::wait_exit(&mut agent.0, Duration::from_secs(20));
    assert_eq!(
        code,
        Some(0),
        "{}",
        fs::read_to_string(fleet.path().join("agent.log")).unwrap_or_default()
    );
    sshd.0.kill().unwrap();
    let _ = sshd.0.wait();
}
