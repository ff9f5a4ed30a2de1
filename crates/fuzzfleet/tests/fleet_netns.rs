//! The fleet on one machine, as on three: the operator and three nodes, each a network
//! namespace this test makes, joined by veth pairs to a bridge in the operator's
//! namespace; each node with its own Unix user, home, state and sshd, and an S3 server
//! (moto) on the operator's side as the hub. The operator deploys over SSH, the test
//! starts each agent as the unit deploy wrote would (no systemd here), and then:
//! a crash found on node a is listed on node b and on the operator's machine; a corpus
//! entry of node a reaches node b; the fleet status shows three nodes; node a's link cut
//! shows it unreachable while b and c go on; after the link returns, what node a found
//! during the cut arrives, nothing lost; a restarted agent resumes its campaign.
//! All traffic stays inside the namespaces the test made.

mod support;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::ssh::{TestUser, can_run_sshd, client_config, keygen, mode, run, unit_command};
use support::{Fleet, KillOnDrop, names, signal, wait_exit, wait_until};

const MINUTE: Duration = Duration::from_secs(60);
const HUB_PORT: u16 = 9000;
const OPERATOR_IP: &str = "10.77.0.1";
const BUCKET: &str = "fleet-hub";

/// The namespaces (and with them the veth pairs and the bridge), removed at the end.
struct Netns {
    operator: String,
    nodes: Vec<(String, String)>,
}

impl Netns {
    /// The operator's namespace with a bridge at 10.77.0.1/24, and one namespace per node
    /// at 10.77.0.(11+i)/24, its `eth0` paired with `v<node>` on the bridge.
    fn create(nodes: &[&str]) -> Netns {
        let tag = std::process::id();
        // Each namespace is recorded before anything can fail, so that Drop removes it.
        let mut net = Netns {
            operator: format!("ff{tag}op"),
            nodes: Vec::new(),
        };
        let op = net.operator.clone();
        ip(&["netns", "add", &op]);
        ip(&["-n", &op, "link", "set", "lo", "up"]);
        ip(&["-n", &op, "link", "add", "br0", "type", "bridge"]);
        ip(&[
            "-n",
            &op,
            "addr",
            "add",
            &format!("{OPERATOR_IP}/24"),
            "dev",
            "br0",
        ]);
        ip(&["-n", &op, "link", "set", "br0", "up"]);
        for (i, node) in nodes.iter().enumerate() {
            let (ns, addr) = (format!("ff{tag}{node}"), format!("10.77.0.{}", 11 + i));
            let veth = format!("v{node}");
            net.nodes.push((ns.clone(), addr.clone()));
            ip(&["netns", "add", &ns]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
            ip(&[
                "-n", &op, "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns",
                &ns,
            ]);
            ip(&["-n", &op, "link", "set", &veth, "master", "br0", "up"]);
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                "eth0",
            ]);
            ip(&["-n", &ns, "link", "set", "eth0", "up"]);
        }
        net
    }

    /// `ip netns exec NS`, to put before a command.
    fn exec(ns: &str) -> [&str; 4] {
        ["ip", "netns", "exec", ns]
    }

    fn ns(&self, i: usize) -> &str {
        &self.nodes[i].0
    }

    fn addr(&self, i: usize) -> &str {
        &self.nodes[i].1
    }

    /// Sets node `node`'s veth on the operator's bridge up or down.
    fn link(&self, node: &str, up: bool) {
        let state = if up { "up" } else { "down" };
        ip(&[
            "-n",
            &self.operator,
            "link",
            "set",
            &format!("v{node}"),
            state,
        ]);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for (ns, _) in &self.nodes {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.operator])
            .output();
    }
}

fn ip(args: &[&str]) {
    run(Command::new("ip").args(args));
}

/// A command run inside namespace `ns`.
fn in_ns(ns: &str, program: &str) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, program]);
    cmd
}

/// Whether a TCP connect from inside `ns` to `addr:port` succeeds.
fn connects(ns: &str, addr: &str, port: u16) -> bool {
    in_ns(ns, "python3")
        .args([
            "-c",
            &format!("import socket; socket.create_connection(('{addr}', {port}), 1).close()"),
        ])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `GET http://127.0.0.1:{port}{path}` from inside `ns`: the status code and body.
fn http_get(ns: &str, port: u16, path: &str) -> (u16, String) {
    let out = in_ns(ns, "python3")
        .args([
            "-c",
            &format!(
                "import sys, urllib.request as u, urllib.error as e\n\
                 try:\n    r = u.urlopen('http://127.0.0.1:{port}{path}', timeout=60)\n\
                 except e.HTTPError as x:\n    r = x\n\
                 sys.stdout.write(str(r.status) + '\\n' + r.read().decode())"
            ),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (code, body) = text.split_once('\n').unwrap_or(("0", ""));
    (code.parse().unwrap_or(0), body.to_string())
}

/// A process group this test started, killed as a group at the end.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        // SAFETY: kill with the process group of a child we started in its own group.
        unsafe {
            libc::kill(-(self.0.id() as i32), libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

/// moto's S3 server in the operator's namespace, with the hub's bucket.
fn moto(net: &Netns, log: &Path) -> Group {
    let child = in_ns(&net.operator, "python3")
        .args([
            "-m",
            "moto.server",
            "-H",
            OPERATOR_IP,
            "-p",
            &HUB_PORT.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(fs::File::create(log).unwrap())
        .process_group(0)
        .spawn()
        .unwrap();
    let group = Group(child);
    wait_until("moto listening", MINUTE, || {
        connects(&net.operator, OPERATOR_IP, HUB_PORT)
    });
    // Unsigned bucket creation, as moto allows.
    run(in_ns(&net.operator, "python3").args([
        "-c",
        &format!(
            "import urllib.request as u; u.urlopen(u.Request('http://{OPERATOR_IP}:{HUB_PORT}/{BUCKET}', method='PUT'))"
        ),
    ]));
    group
}

/// The environment an S3 hub client reads: moto's endpoint, any credentials.
fn hub_env(cmd: &mut Command) -> &mut Command {
    cmd.env(
        "AWS_ENDPOINT_URL",
        format!("http://{OPERATOR_IP}:{HUB_PORT}"),
    )
    .env("AWS_ACCESS_KEY_ID", "fleet-test")
    .env("AWS_SECRET_ACCESS_KEY", "fleet-test-secret")
    .env("AWS_REGION", "us-east-1")
    .env("AWS_ALLOW_HTTP", "true")
}

/// One node: its user, home, deployed dir, sshd and (once started) agent.
struct Node {
    // Dropped in this order: the agent and sshd before their user is removed.
    agent: Option<KillOnDrop>,
    _sshd: KillOnDrop,
    user: TestUser,
    name: &'static str,
    home: PathBuf,
}

impl Node {
    fn base(&self) -> PathBuf {
        self.home.join(".fuzzfleet")
    }

    fn state(&self) -> PathBuf {
        self.base().join("state")
    }

    /// Starts the agent as its unit would, inside the node's namespace.
    fn start_agent(&mut self, ns: &str) {
        let unit = fs::read_to_string(self.base().join("fuzzfleet-agent.service")).unwrap();
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.home.join("agent.log"))
            .unwrap();
        let child = unit_command(&unit, &self.home, &Netns::exec(ns))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.agent = Some(KillOnDrop(child));
    }

    fn log(&self) -> String {
        fs::read_to_string(self.home.join("agent.log")).unwrap_or_default()
    }

    /// `crashes list --json` on the node, as its user, on its own state.
    fn buckets(&self) -> Vec<Value> {
        let out = self
            .user
            .fuzzfleet(&self.base(), &["crashes", "list", "--json"])
            .output()
            .unwrap();
        serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null)["buckets"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Its crashing inputs (every finding, triaged or not), from `crashes list --json`:
    /// unlike the entries, their number never falls when triage files pending ones.
    fn inputs(&self) -> usize {
        self.buckets()
            .iter()
            .map(|b| b["findings"].as_array().map_or(0, Vec::len))
            .sum()
    }

    /// Executions over all its targets, from its own `status --json`.
    fn execs(&self) -> i64 {
        let out = self
            .user
            .fuzzfleet(&self.base(), &["status", "--json"])
            .output()
            .unwrap();
        serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null)["targets"]
            .as_array()
            .map_or(0, |ts| ts.iter().filter_map(|t| t["execs"].as_i64()).sum())
    }

    /// Files in a directory of its state (corpus or crashes of a target).
    fn files(&self, dir: &str) -> BTreeSet<String> {
        names(&self.state().join(dir))
    }
}

/// Marks a step in the test's output, with the time since the test started.
fn step(started: std::time::Instant, what: &str) {
    eprintln!("[{:>5.1}s] {what}", started.elapsed().as_secs_f64());
}

/// Nodes listed on a bucket of `target` with a signature (a triaged bug).
fn nodes_of_bug(buckets: &[Value], target: &str) -> BTreeSet<String> {
    buckets
        .iter()
        .filter(|b| b["target"] == target && !b["signature"].is_null())
        .flat_map(|b| b["nodes"].as_array().cloned().unwrap_or_default())
        .filter_map(|n| n.as_str().map(str::to_string))
        .collect()
}

/// A corpus entry no fuzzer would write, named by its SHA-1 as corpus entries are.
fn plant(node: &Node, target: &str, tag: &str) -> String {
    let bytes = format!("{tag}, planted on {} by {}", node.name, std::process::id());
    plant_bytes(node, target, bytes.as_bytes())
}

/// Writes `bytes` into a target's corpus on `node` as the node's user would; returns
/// its name.
fn plant_bytes(node: &Node, target: &str, bytes: &[u8]) -> String {
    let sha = fleet_store::sha1_hex(bytes);
    let dir = node.state().join("corpus").join(target);
    let tmp = dir.join(format!(".{sha}.tmp"));
    fs::write(&tmp, bytes).unwrap();
    run(Command::new("chown")
        .arg(format!("{0}:{0}", node.user.0))
        .arg(&tmp));
    fs::rename(&tmp, dir.join(&sha)).unwrap();
    sha
}

#[test]
fn three_nodes_in_their_own_namespaces_deploy_share_findings_and_survive_a_cut_link() {
    if !can_run_sshd() {
        return;
    }
    let moto_ok = Command::new("python3")
        .args(["-c", "import moto.server"])
        .status()
        .is_ok_and(|s| s.success());
    if !moto_ok {
        fleet_testkit::missing(
            "this test needs moto (python3 -m pip install 'moto[server]'; .ci/run does)",
        );
        return;
    }
    fleet_testkit::rust_fixture("crash_magic");
    let t0 = std::time::Instant::now();
    let names_of_nodes = ["a", "b", "c"];
    let net = Netns::create(&names_of_nodes);

    // The operator's machine: its config, its keys, the known host keys of the nodes.
    let mut nodes_toml = String::new();
    let mut users = Vec::new();
    let fleet = Fleet::new("");
    {
        use std::os::unix::fs::PermissionsExt;
        // Homes live under it; sshd and the node users must be able to pass through.
        fs::set_permissions(fleet.path(), fs::Permissions::from_mode(0o755)).unwrap();
    }
    for (i, name) in names_of_nodes.iter().enumerate() {
        let home = fleet.path().join(format!("home-{name}"));
        let user = TestUser::create(&format!("ff{name}"), &home);
        nodes_toml.push_str(&format!(
            "[node.{name}]\nssh = \"{}@{}\"\ntiers = [\"t\"]\n",
            user.0,
            net.addr(i)
        ));
        users.push((user, home));
    }
    let config = fleet.path().join("fleet.toml");
    let base = fs::read_to_string(&config).unwrap();
    // One worker per node: two targets take turns every few seconds, so each node fuzzes
    // both; the hub syncs every 3 s. No automatic corpus minimization: it would drop the
    // entries this test plants (they add no coverage) before they are synced.
    fs::write(
        &config,
        format!(
            "workers = 1\n{base}\
             [tier.t]\ntargets = [\"crash_magic\", \"clean\"]\nbudget = \"1h\"\n\
             mode = \"parallel\"\nslice = \"4s\"\n\
             [hub]\nurl = \"s3://{BUCKET}/fleet\"\nevery = \"3s\"\n\
             [corpus]\nminimize_growth = 0\n{nodes_toml}"
        ),
    )
    .unwrap();
    let ssh_dir = fleet.path().join("ssh");
    fs::create_dir_all(&ssh_dir).unwrap();
    let key = ssh_dir.join("id_ed25519");
    keygen(&key);

    let mut known = String::new();
    let mut nodes = Vec::new();
    for (i, ((user, home), name)) in users.into_iter().zip(names_of_nodes).enumerate() {
        let dir = fleet.path().join(format!("sshd-{name}"));
        let (ns, addr) = (net.ns(i).to_string(), net.addr(i).to_string());
        let sshd = support::ssh::sshd(&dir, &Netns::exec(&ns), &addr, 22, &key, || {
            connects(&ns, &addr, 22)
        });
        let host = fs::read_to_string(dir.join("host_key.pub")).unwrap();
        known.push_str(&format!("{addr} {host}"));
        nodes.push(Node {
            name,
            user,
            home,
            _sshd: sshd,
            agent: None,
        });
    }
    let ssh_config = client_config(&ssh_dir, "operator", &key, &known);
    let _moto = moto(&net, &fleet.path().join("moto.log"));

    // Every operator command runs in the operator's namespace, with the hub's settings.
    let operator = |args: &[&str]| -> Output {
        let mut cmd = in_ns(&net.operator, env!("CARGO_BIN_EXE_fuzzfleet"));
        cmd.arg("--config").arg(&config).args(args);
        cmd.env("FUZZFLEET_SSH_CONFIG", &ssh_config);
        hub_env(&mut cmd).output().unwrap()
    };
    let text = |o: &Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };

    step(t0, "deploy");
    // Deploy: everything copied as each node's user; the unit the one root step; the
    // S3 hub's settings in a private file the unit reads.
    let out = operator(&["deploy"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let said = text(&out);
    for n in &nodes {
        assert!(said.contains(&format!("node {} (", n.name)), "{said}");
        assert!(n.base().join("bin/fuzzfleet").is_file(), "{said}");
        assert_eq!(mode(&n.base().join("hub.env")), 0o600, "{said}");
        let unit = fs::read_to_string(n.base().join("fuzzfleet-agent.service")).unwrap();
        assert!(
            unit.contains(&format!("User={}", n.user.0))
                && unit.contains(&format!(
                    "EnvironmentFile=-{}",
                    n.base().join("hub.env").display()
                )),
            "{unit}"
        );
    }
    assert!(
        said.contains("hub.env holds the S3 hub's AWS_ACCESS_KEY_ID"),
        "{said}"
    );
    assert!(said.contains("needs root"), "{said}");
    // A second deploy changes nothing, and says so for every node.
    let again = operator(&["deploy"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(
        text(&again).matches("up to date, nothing changed").count(),
        3,
        "{}",
        text(&again)
    );

    step(t0, "agents");
    for (i, n) in nodes.iter_mut().enumerate() {
        n.start_agent(net.ns(i));
    }
    let logs = |nodes: &[Node]| {
        nodes
            .iter()
            .map(|n| format!("--- agent {}\n{}", n.name, n.log()))
            .collect::<Vec<_>>()
            .join("\n")
    };

    // The fleet status: three nodes, each reached through its own SSH tunnel.
    let fleet_status = || {
        let out = operator(&["status", "--all-nodes", "--json"]);
        (
            out.status.code(),
            serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null),
        )
    };
    let running = |doc: &Value, node: &str| {
        doc["nodes"].as_array().is_some_and(|ns| {
            ns.iter().any(|n| {
                n["node"] == node
                    && n["error"].is_null()
                    && n["status"]["targets"]
                        .as_array()
                        .is_some_and(|ts| ts.iter().any(|t| t["execs"].as_i64() > Some(0)))
            })
        })
    };
    let mut last = Value::Null;
    let seen = (0..90).any(|_| {
        let (code, doc) = fleet_status();
        last = doc;
        if code == Some(0) && names_of_nodes.iter().all(|n| running(&last, n)) {
            return true;
        }
        std::thread::sleep(Duration::from_secs(1));
        false
    });
    assert!(
        seen,
        "three nodes fuzzing: {last:#}\n{}\n{}",
        logs(&nodes),
        fs::read_to_string(fleet.path().join("moto.log")).unwrap_or_default()
    );
    assert_eq!(last["nodes"].as_array().unwrap().len(), 3, "{last:#}");

    // The operator's dashboard shows the fleet: every node, through its own tunnels.
    let serve_port = 7979;
    let serve_log = fs::File::create(fleet.path().join("serve.log")).unwrap();
    let mut serve = in_ns(&net.operator, env!("CARGO_BIN_EXE_fuzzfleet"));
    serve
        .arg("--config")
        .arg(&config)
        .args(["serve", "--all-nodes", "--listen"])
        .arg(format!("127.0.0.1:{serve_port}"))
        .env("FUZZFLEET_SSH_CONFIG", &ssh_config);
    let _serve = KillOnDrop(
        hub_env(&mut serve)
            .stdout(serve_log.try_clone().unwrap())
            .stderr(serve_log)
            .spawn()
            .unwrap(),
    );
    let dashboard_fleet = || {
        let (code, body) = http_get(&net.operator, serve_port, "/api/v1/fleet");
        (code == 200)
            .then(|| serde_json::from_str::<Value>(&body).ok())
            .flatten()
            .unwrap_or(Value::Null)
    };
    wait_until("the dashboard's fleet with three nodes up", MINUTE, || {
        names_of_nodes
            .iter()
            .all(|n| running(&dashboard_fleet(), n))
    });
    let (code, page) = http_get(&net.operator, serve_port, "/fleet");
    assert_eq!(code, 200, "{page}");
    assert_eq!(page.matches("class=\"node up\"").count(), 3, "{page}");
    assert!(page.contains("3 of 3 nodes reached"), "{page}");
    // The operator's machine fuzzes nothing itself: its front page is the fleet's.
    let (_, front) = http_get(&net.operator, serve_port, "/");
    assert!(front.contains("<h1>Fleet</h1>"), "{front}");
    step(t0, "dashboard");

    step(t0, "three nodes seen");
    // A crash node a found is on node b's list, with node a named.
    wait_until("node a's crash listed on node b", 2 * MINUTE, || {
        nodes_of_bug(&nodes[1].buckets(), "crash_magic").contains("a")
    });
    step(t0, "crash on b");
    // A corpus entry of node a reaches node b.
    let planted = plant(&nodes[0], "clean", "before the cut");
    wait_until("node a's corpus entry on node b", MINUTE, || {
        nodes[1].files("corpus/clean").contains(&planted)
    });

    step(t0, "corpus on b");
    // Node a's link cut: a unreachable, b and c go on.
    net.link("a", false);
    let planted_in_cut = plant(&nodes[0], "clean", "during the cut");
    // A crash only node a can find: an input of its own that crash_magic crashes on.
    // Six bytes, so it stays among the bucket's kept inputs (`keep_inputs` keeps the
    // smallest 100, and by the cut the fleet has found a hundred inputs of the bug, most
    // far longer): a longer one is counted and its input dropped, as it should be. Two
    // bytes of this run's own, so the other nodes do not find the same input.
    let pid = std::process::id().to_le_bytes();
    let crash_in_cut = format!(
        "crash-{}",
        plant_bytes(
            &nodes[0],
            "crash_magic",
            &[b'F', b'U', b'Z', b'Z', pid[0], pid[1]]
        )
    );
    let found = (0..120).any(|_| {
        std::thread::sleep(Duration::from_secs(1));
        nodes[0]
            .files("crashes/crash_magic")
            .contains(&crash_in_cut)
    });
    assert!(
        found,
        "node a did not find {crash_in_cut} while cut off: {:?} {:?}\n{}",
        nodes[0].files("corpus/crash_magic"),
        nodes[0].files("quarantine/crash_magic"),
        logs(&nodes[..1])
    );
    step(t0, "crash found in the cut");
    let (code, doc) = fleet_status();
    assert_eq!(code, Some(1), "{doc:#}");
    let a = doc["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"] == "a")
        .cloned()
        .unwrap();
    let error = a["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("node a") && error.contains("cannot connect"),
        "{doc:#}"
    );
    assert!(a["last_heartbeat"].is_string(), "{doc:#}");
    assert!(a["unreachable_for_s"].as_i64().is_some(), "{doc:#}");
    assert!(running(&doc, "b") && running(&doc, "c"), "{doc:#}");
    wait_until("the dashboard marking node a unreachable", MINUTE, || {
        let (_, page) = http_get(&net.operator, serve_port, "/fleet");
        page.contains("<tr class=\"node down\" data-node=\"a\">")
            && page.contains("2 of 3 nodes reached")
    });
    // Nothing of it has left the node: the operator's pull does not have it.
    let sync = operator(&["corpus", "sync"]);
    assert_eq!(sync.status.code(), Some(0), "{}", text(&sync));
    let operator_crashes = || names(&fleet.state().join("crashes/crash_magic"));
    assert!(
        !operator_crashes().contains(&crash_in_cut),
        "{crash_in_cut} reached the operator through a cut link"
    );

    // A minute after it was found, node a still has it: its triage kept the input.
    assert!(
        nodes[0]
            .files("crashes/crash_magic")
            .contains(&crash_in_cut),
        "node a dropped {crash_in_cut} in triage"
    );

    step(t0, "status in the cut");
    // The link returns: what node a found while cut off arrives, and it is reachable.
    net.link("a", true);
    let deadline = std::time::Instant::now() + 3 * MINUTE;
    let (arrived, last_sync) = loop {
        let sync = operator(&["corpus", "sync"]);
        if sync.status.success() && operator_crashes().contains(&crash_in_cut) {
            break (true, text(&sync));
        }
        if std::time::Instant::now() > deadline {
            break (false, text(&sync));
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    assert!(
        arrived,
        "node a's crash from the cut never reached the operator; its last sync: \
         {last_sync}\nnode a still has it: {}\n{}",
        nodes[0]
            .files("crashes/crash_magic")
            .contains(&crash_in_cut),
        logs(&nodes[..1])
    );
    wait_until("the entry planted during the cut on node b", MINUTE, || {
        nodes[1].files("corpus/clean").contains(&planted_in_cut)
    });
    wait_until("node a reachable again", MINUTE, || {
        let (code, doc) = fleet_status();
        code == Some(0) && running(&doc, "a")
    });
    // The dashboard, running all along, opens a new tunnel to node a by itself.
    wait_until("node a back on the dashboard", MINUTE, || {
        running(&dashboard_fleet(), "a")
    });

    step(t0, "after the cut");
    // The operator's machine: the fleet's buckets merged, the bug with nodes a and b.
    let collected = fleet.path().join("collected");
    let out = operator(&["collect", collected.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let listed = operator(&["crashes", "list", "--json"]);
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let bug_nodes = nodes_of_bug(listed["buckets"].as_array().unwrap(), "crash_magic");
    assert!(
        bug_nodes.contains("a") && bug_nodes.contains("b"),
        "{listed:#}"
    );
    assert!(collected.join("crash_magic").is_dir());

    step(t0, "collected");
    // Node a's agent killed and started again: it resumes its campaign where it was
    // (its figures go on from what they were, nothing found is lost).
    let kept = nodes[0].inputs();
    let execs_before = nodes[0].execs();
    {
        let agent = nodes[0].agent.as_mut().unwrap();
        signal(&agent.0, libc::SIGKILL);
        let _ = agent.0.wait();
    }
    nodes[0].start_agent(net.ns(0));
    wait_until("node a fuzzing again after a restart", MINUTE, || {
        let (_, doc) = fleet_status();
        running(&doc, "a")
    });
    let after = nodes[0].inputs();
    assert!(
        after >= kept,
        "crashing inputs {kept} before the restart, {after} after"
    );
    wait_until(
        "node a's figures going on from where they were",
        MINUTE,
        || nodes[0].execs() > execs_before,
    );

    step(t0, "restarted");
    // Every agent stops cleanly on SIGTERM.
    for n in &mut nodes {
        let agent = n.agent.as_mut().unwrap();
        signal(&agent.0, libc::SIGTERM);
        let (code, _) = wait_exit(&mut agent.0, Duration::from_secs(30));
        assert_eq!(code, Some(0), "agent {}:\n{}", n.name, n.log());
    }
}
