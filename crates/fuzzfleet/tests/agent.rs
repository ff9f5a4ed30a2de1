//! `fuzzfleet agent`, the node daemon: it runs only its node's tiers, serves the API,
//! reloads its config on SIGHUP (keeping the old one when the new one is broken), and
//! exits 0 on SIGTERM leaving no process behind. The shipped systemd unit and
//! Kubernetes example run it with flags it has.

mod support;

use std::fs;
use std::net::TcpListener;
use std::time::Duration;

use serde_json::Value;
use support::{Fleet, KillOnDrop, alive, children_of, signal, wait_exit, wait_until};

const MINUTE: Duration = Duration::from_secs(60);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn api_status(port: u16) -> Option<Value> {
    let doc = fleet_serve::Client::new(&format!("http://127.0.0.1:{port}"), None)
        .status()
        .ok()?;
    serde_json::to_value(doc).ok()
}

fn state_of(status: &Value, target: &str) -> String {
    status["targets"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["name"] == target))
        .map(|t| t["state"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default()
}

fn config(tiers: &str) -> String {
    format!(
        "[tier.one]\ntargets = [\"clean\"]\nbudget = \"1h\"\n\
         [tier.two]\ntargets = [\"slow_unit\"]\nbudget = \"1h\"\n\
         [node.alpha]\nssh = \"fuzz@127.0.0.1\"\ntiers = [{tiers}]\n"
    )
}

#[test]
fn an_agent_runs_its_nodes_tiers_serves_the_api_reloads_on_sighup_and_stops_on_sigterm() {
    let fleet = Fleet::new(&config("\"one\""));
    fleet_testkit::rust_fixture("slow_unit");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let log = fs::File::create(fleet.path().join("agent.log")).unwrap();
    let mut agent = KillOnDrop(
        fleet
            .cmd(&[
                "agent",
                "--node",
                "alpha",
                "--listen",
                &listen,
                "--workers",
                "2",
            ])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let agent_log = || fs::read_to_string(fleet.path().join("agent.log")).unwrap_or_default();

    // Its node's tier only, and the API on the address asked for.
    wait_until("clean fuzzing, seen through the API", MINUTE, || {
        api_status(port).is_some_and(|s| state_of(&s, "clean") == "running")
    });
    let status = api_status(port).unwrap();
    assert_ne!(state_of(&status, "slow_unit"), "running", "{status:#}");
    assert!(agent_log().contains("node alpha"), "{}", agent_log());

    // A broken config on SIGHUP: the agent says so and keeps fuzzing on the old one.
    let file = fleet.path().join("fleet.toml");
    let good = fs::read_to_string(&file).unwrap();
    fs::write(&file, good.replace("[tier.one]", "[tier.one\nbroken")).unwrap();
    signal(&agent.0, libc::SIGHUP);
    wait_until("the broken config reported", MINUTE, || {
        agent_log().contains("does not load, keeping the old one")
    });
    wait_until(
        "clean fuzzing again after the failed reload",
        MINUTE,
        || api_status(port).is_some_and(|s| state_of(&s, "clean") == "running"),
    );

    // A good new config: node alpha now runs both tiers.
    fs::write(
        &file,
        good.replace("tiers = [\"one\"]", "tiers = [\"one\", \"two\"]"),
    )
    .unwrap();
    signal(&agent.0, libc::SIGHUP);
    wait_until("slow_unit fuzzing after the reload", MINUTE, || {
        api_status(port).is_some_and(|s| {
            state_of(&s, "slow_unit") == "running" && state_of(&s, "clean") == "running"
        })
    });
    assert!(agent_log().contains("config reloaded"), "{}", agent_log());

    // SIGTERM: a clean exit, no worker left.
    let workers = children_of(agent.0.id());
    assert!(!workers.is_empty());
    signal(&agent.0, libc::SIGTERM);
    let (code, took) = wait_exit(&mut agent.0, Duration::from_secs(20));
    assert_eq!(code, Some(0), "{}", agent_log());
    assert!(took < Duration::from_secs(15), "{took:?}");
    wait_until("workers gone", Duration::from_secs(5), || {
        workers.iter().all(|&p| !alive(p))
    });
    assert!(api_status(port).is_none(), "the API stops with the agent");
}

#[test]
fn the_systemd_unit_and_the_kubernetes_example_run_the_agent_with_flags_it_has() {
    let root = fleet_testkit::repo_root();
    let help = Fleet::new("").output(&["agent", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout).to_string();
    let flags_exist = |args: &[&str]| {
        for a in args.iter().filter(|a| a.starts_with("--")) {
            let global = ["--config", "--state"].contains(a);
            assert!(
                global || help.contains(a),
                "{a} is not an agent flag:\n{help}"
            );
        }
    };

    let unit = fs::read_to_string(root.join("deploy/systemd/fuzzfleet-agent.service")).unwrap();
    let key = |k: &str| -> Vec<String> {
        unit.lines()
            .filter_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(key("User"), ["fuzzfleet"]);
    assert_eq!(key("ProtectSystem"), ["strict"]);
    assert_eq!(key("NoNewPrivileges"), ["yes"]);
    assert_eq!(key("Restart"), ["on-failure"]);
    assert_eq!(key("ExecReload"), ["/bin/kill -HUP $MAINPID"]);
    let exec = key("ExecStart");
    assert_eq!(exec.len(), 1);
    let argv: Vec<&str> = exec[0].split_whitespace().collect();
    assert!(argv.contains(&"agent"), "{argv:?}");
    flags_exist(&argv);

    // The manifest is valid YAML whose containers run `agent` with real flags.
    let manifest = root.join("deploy/kubernetes/fuzzfleet.yaml");
    let script = format!(
        "import json, yaml\nprint(json.dumps([d for d in yaml.safe_load_all(open({:?}))]))",
        manifest.display().to_string()
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3 with PyYAML (installed with moto by .ci/run)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let sets: Vec<&Value> = docs.iter().filter(|d| d["kind"] == "StatefulSet").collect();
    assert!(sets.len() >= 2);
    for set in sets {
        let args: Vec<&str> = set["spec"]["template"]["spec"]["containers"][0]["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert!(
            args.contains(&"agent") && args.contains(&"--tier"),
            "{args:?}"
        );
        flags_exist(&args);
    }
    // The tiers it names are the bundled config's.
    let config = docs.iter().find(|d| d["kind"] == "ConfigMap").unwrap()["data"]["fleet.toml"]
        .as_str()
        .unwrap()
        .to_string();
    let bundled = fs::read_to_string(root.join("fleet.toml")).unwrap();
    for tier in ["[tier.tier1]", "[tier.tier2]"] {
        assert!(config.contains(tier) && bundled.contains(tier), "{tier}");
    }
}
