//! The fleet view through SSH: `status --all-nodes` reaches a node's agent on its
//! loopback API port through an SSH tunnel (a real sshd on 127.0.0.1 with its own host
//! key), refuses a node whose host key is not the known one, and marks a node whose sshd
//! is down as unreachable, each with a message naming the node.

mod support;

use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::{Fleet, KillOnDrop, wait_until};

/// Runs a program that must succeed.
fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn keygen(path: &Path) {
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path));
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// sshd on 127.0.0.1:`port` with its own host key, letting in root with `client_key`.
fn sshd(dir: &Path, port: u16, client_key: &Path) -> KillOnDrop {
    keygen(&dir.join("host_key"));
    fs::copy(
        client_key.with_extension("pub"),
        dir.join("authorized_keys"),
    )
    .unwrap();
    let config = dir.join("sshd_config");
    fs::write(
        &config,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {dir}/host_key\n\
             AuthorizedKeysFile {dir}/authorized_keys\nPidFile {dir}/sshd.pid\n\
             StrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             AllowTcpForwarding local\nPrintMotd no\n",
            dir = dir.display()
        ),
    )
    .unwrap();
    fs::create_dir_all("/run/sshd").unwrap();
    let child = Command::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-f"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(fs::File::create(dir.join("sshd.log")).unwrap())
        .spawn()
        .unwrap();
    wait_until("sshd listening", Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    KillOnDrop(child)
}

/// A client config for `ssh -F`: this key, this known_hosts, nothing of the user's.
fn client_config(dir: &Path, name: &str, key: &Path, known_hosts: &str) -> std::path::PathBuf {
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
    let root = nix::unistd::Uid::effective().is_root();
    if !root || !Path::new("/usr/sbin/sshd").exists() {
        assert!(
            std::env::var_os("FUZZFLEET_CI").is_none(),
            "this test needs root and openssh-server (.ci/run installs it)"
        );
        eprintln!("skipped: needs root and /usr/sbin/sshd (apt-get install openssh-server)");
        return;
    }
    let ssh_port = free_port();
    let fleet = Fleet::new(&format!(
        "[tier.t]\ntargets = [\"clean\"]\nbudget = \"1h\"\n\
         [node.alpha]\nssh = \"root@127.0.0.1:{ssh_port}\"\ntiers = [\"t\"]\n"
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
}
