//! `fuzzfleet deploy NODE…`: puts what a node's agent needs on it over the system's
//! OpenSSH client (the user's keys and known_hosts; host-key checking stays on) as the
//! node's ssh user, without root: the fuzzfleet binary, the built targets the node's
//! tiers run, their seeds and dictionaries, a config written for the node, its API token,
//! and the systemd unit. Only files whose content changed are copied (a manifest of
//! SHA-256 sums lives on the node), so a second deploy changes nothing and says so.
//! Installing the unit is the one step that needs root: it is tried with `sudo -n`,
//! and when that is not allowed the exact commands to run on the node are printed.
//!
//! On the node, everything lives in `~/.fuzzfleet/`: `bin/fuzzfleet`, `targets/<name>`,
//! `seeds/<name>/`, `dicts/<name>.dict`, `fleet.toml` (paths relative to it), `token`
//! (mode 600), `fuzzfleet-agent.service`, `manifest.json`, and the state in `state/`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::Stdio;

use anyhow::{Context as _, Result, bail};
use fleet_config::{NodePlan, Plan, SshDest};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Context;
use crate::cli::DeployArgs;
use crate::{exit, plan, ssh};

/// The directory under the node user's home.
const REMOTE_DIR: &str = ".fuzzfleet";
const UNIT: &str = "fuzzfleet-agent.service";
/// The unit's `EnvironmentFile`: an S3 hub's credentials, from the operator's environment.
const HUB_ENV: &str = "hub.env";
/// What an S3 hub reads from the environment (see `fleet_hub::S3Config::from_env`).
const HUB_ENV_VARS: [&str; 8] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ALLOW_HTTP",
];

/// One file to put on a node: its path under `~/.fuzzfleet`, bytes and mode.
struct File {
    bytes: Vec<u8>,
    mode: u32,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    version: u32,
    /// Path under `~/.fuzzfleet` → SHA-256 of its content.
    files: BTreeMap<String, String>,
}

/// What a deploy did (or would do) on one node.
#[derive(Debug, Serialize)]
struct Outcome {
    node: String,
    ssh: String,
    changed: Vec<String>,
    unchanged: usize,
    bytes: u64,
    token_created: bool,
    unit: &'static str,
    root_steps: Vec<String>,
    error: Option<String>,
}

pub fn deploy(ctx: &Context, args: &DeployArgs) -> Result<i32> {
    let plan = ctx.plan()?;
    let s3 = plan
        .hub
        .as_ref()
        .is_some_and(|h| matches!(h.url, fleet_config::HubUrl::S3 { .. }));
    if s3 && std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        eprintln!(
            "fuzzfleet: warning: the hub is S3 and AWS_ACCESS_KEY_ID is not set here, so no \
             {HUB_ENV} is written: nodes keep the one they have (if any), else they need \
             their own credentials (an instance role, or AWS_* in the unit)"
        );
    }
    if std::env::var_os("AWS_SESSION_TOKEN").is_some() {
        eprintln!(
            "fuzzfleet: warning: AWS_SESSION_TOKEN is set: those credentials expire, and the \
             nodes' {HUB_ENV} with them; give the nodes long-lived keys for the hub's prefix"
        );
    }
    let nodes: Vec<&NodePlan> = if args.nodes.is_empty() {
        plan.nodes.iter().collect()
    } else {
        args.nodes
            .iter()
            .map(|n| {
                plan.nodes
                    .iter()
                    .find(|p| p.name.as_str() == n)
                    .ok_or_else(|| {
                        exit::usage(format!(
                            "no [node.{n}] in {} (it has: {})",
                            plan.file.display(),
                            plan.nodes
                                .iter()
                                .map(|p| p.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    })
            })
            .collect::<Result<_>>()?
    };
    if nodes.is_empty() {
        return Err(exit::usage(format!(
            "{} has no [node.*] to deploy to",
            plan.file.display()
        )));
    }
    let layout = fleet_store::Layout::new(ctx.state_dir(Some(&plan)));
    let mut outcomes = Vec::new();
    for node in nodes {
        let Some(dest) = &node.ssh else {
            return Err(exit::usage(format!(
                "node {}: deploy needs `ssh = \"user@host\"` in its [node.{}]",
                node.name, node.name
            )));
        };
        let outcome = match deploy_node(&plan, &layout, node, dest, args) {
            Ok(o) => o,
            Err(e) => Outcome {
                node: node.name.to_string(),
                ssh: dest.to_string(),
                changed: Vec::new(),
                unchanged: 0,
                bytes: 0,
                token_created: false,
                unit: "not reached",
                root_steps: Vec::new(),
                error: Some(format!("{e:#}")),
            },
        };
        if !args.json {
            print_outcome(&outcome, args.dry_run);
        }
        outcomes.push(outcome);
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "version": 1,
                "dry_run": args.dry_run,
                "nodes": outcomes,
            }))?
        );
    }
    let failed = outcomes.iter().any(|o| o.error.is_some());
    Ok(if failed { exit::PROBLEM } else { exit::OK })
}

fn print_outcome(o: &Outcome, dry_run: bool) {
    let verb = if dry_run { "would copy" } else { "copied" };
    if let Some(e) = &o.error {
        println!("node {}: FAILED: {e}", o.node);
        return;
    }
    if o.changed.is_empty() && o.unit != "installed" {
        println!(
            "node {} ({}): up to date, nothing changed ({} files)",
            o.node, o.ssh, o.unchanged
        );
    } else {
        println!(
            "node {} ({}): {verb} {} files ({} bytes), {} unchanged{}",
            o.node,
            o.ssh,
            o.changed.len(),
            o.bytes,
            o.unchanged,
            if o.token_created {
                "; created its API token"
            } else {
                ""
            }
        );
        for f in &o.changed {
            println!("  {f}");
        }
        if o.changed.iter().any(|f| f == HUB_ENV) {
            println!(
                "node {}: {HUB_ENV} holds the S3 hub's {} from your environment (mode 600)",
                o.node,
                hub_env_names(),
            );
        }
    }
    match o.unit {
        "needs root" => {
            println!(
                "node {}: installing the systemd unit needs root (sudo -n was refused); run on the node:",
                o.node
            );
            for step in &o.root_steps {
                println!("  {step}");
            }
        }
        "would install" => println!("node {}: would install and restart the unit", o.node),
        "installed" => println!("node {}: unit installed, agent (re)started", o.node),
        _ => {}
    }
}

fn hub_env_names() -> String {
    HUB_ENV_VARS
        .iter()
        .filter(|n| std::env::var_os(n).is_some())
        .copied()
        .collect::<Vec<_>>()
        .join(", ")
}

fn deploy_node(
    plan: &Plan,
    layout: &fleet_store::Layout,
    node: &NodePlan,
    dest: &SshDest,
    args: &DeployArgs,
) -> Result<Outcome> {
    let name = node.name.as_str();
    // The node's home: where its files go, and the unit's paths.
    let home = ssh_output(name, dest, "printf %s \"$HOME\"", None)?;
    let home = String::from_utf8(home).context("the node's $HOME is not UTF-8")?;
    if !home.starts_with('/') {
        bail!("node {name}: its $HOME is {home:?}, not an absolute path");
    }
    let base = format!("{}/{REMOTE_DIR}", home.trim_end_matches('/'));
    let user = match &dest.user {
        Some(u) => u.clone(),
        None => String::from_utf8(ssh_output(name, dest, "id -un", None)?)?
            .trim()
            .to_string(),
    };

    // The operator keeps each node's token (mode 600); the node gets a copy.
    let token_path = layout.root().join("tokens").join(name);
    let (token, token_created) = match std::fs::read_to_string(&token_path) {
        Ok(t) if !t.trim().is_empty() => (t.trim().to_string(), false),
        _ => (new_token()?, true),
    };
    let mut files = bundle(plan, node, &base, &user, &token)?;
    let remote: Manifest = ssh_output(
        name,
        dest,
        &format!("cat {REMOTE_DIR}/manifest.json 2>/dev/null || true"),
        None,
    )
    .ok()
    .and_then(|b| serde_json::from_slice(&b).ok())
    .unwrap_or_default();
    let mut manifest = Manifest {
        version: 1,
        files: BTreeMap::new(),
    };
    let mut changed = Vec::new();
    let mut bytes = 0;
    for (path, f) in &files {
        let sum = hex::encode(Sha256::digest(&f.bytes));
        if remote.files.get(path) != Some(&sum) {
            changed.push(path.clone());
            bytes += f.bytes.len() as u64;
        }
        manifest.files.insert(path.clone(), sum);
    }
    let unchanged = files.len() - changed.len();
    let root_steps = vec![
        format!("sudo install -m 644 {base}/{UNIT} /etc/systemd/system/{UNIT}"),
        "sudo systemctl daemon-reload".to_string(),
        format!("sudo systemctl enable {UNIT}"),
        format!("sudo systemctl restart {UNIT}"),
    ];
    let mut outcome = Outcome {
        node: name.to_string(),
        ssh: dest.to_string(),
        changed: changed.clone(),
        unchanged,
        bytes,
        token_created: token_created && !args.dry_run,
        unit: "unchanged",
        root_steps: Vec::new(),
        error: None,
    };
    if args.dry_run {
        if !changed.is_empty() {
            outcome.unit = "would install";
        }
        return Ok(outcome);
    }
    if changed.is_empty() {
        return Ok(outcome);
    }
    if token_created {
        std::fs::create_dir_all(token_path.parent().expect("tokens dir"))?;
        write_private(&token_path, token.as_bytes())?;
    }
    // The changed files, as one tar stream unpacked under ~/.fuzzfleet; the manifest goes
    // last, so an interrupted deploy is redone next time.
    files.retain(|p, _| changed.contains(p));
    files.insert(
        "manifest.json".into(),
        File {
            bytes: serde_json::to_vec_pretty(&manifest)?,
            mode: 0o600,
        },
    );
    let tar = tar_of(&files)?;
    ssh_output(
        name,
        dest,
        &format!("umask 022 && mkdir -p {REMOTE_DIR}/state && tar -C {REMOTE_DIR} -xf -"),
        Some(&tar),
    )?;
    // Installing the unit is the one root step: tried without a password, else said.
    let install = format!(
        "sudo -n install -m 644 {base}/{UNIT} /etc/systemd/system/{UNIT} && sudo -n systemctl daemon-reload && \
         sudo -n systemctl enable {UNIT} && sudo -n systemctl restart {UNIT}"
    );
    match ssh_output(name, dest, &install, None) {
        Ok(_) => outcome.unit = "installed",
        Err(_) => {
            outcome.unit = "needs root";
            outcome.root_steps = root_steps;
        }
    }
    Ok(outcome)
}

/// Everything the node's agent needs, by path under `~/.fuzzfleet`.
fn bundle(
    plan: &Plan,
    node: &NodePlan,
    base: &str,
    user: &str,
    token: &str,
) -> Result<BTreeMap<String, File>> {
    let mut files = BTreeMap::new();
    let exe = std::env::current_exe()?;
    files.insert(
        "bin/fuzzfleet".into(),
        File {
            bytes: std::fs::read(&exe).with_context(|| format!("cannot read {}", exe.display()))?,
            mode: 0o755,
        },
    );
    let tiers: Vec<_> = plan
        .tiers
        .iter()
        .filter(|t| node.tiers.contains(&t.name))
        .collect();
    let mut names: Vec<&str> = tiers
        .iter()
        .flat_map(|t| t.targets.iter().map(|n| n.as_str()))
        .collect();
    names.sort();
    names.dedup();
    for name in &names {
        let t = plan::campaign_target(plan, name).map_err(|e| {
            anyhow::anyhow!("{e:#} (deploy copies built binaries: run `fuzzfleet build` first)")
        })?;
        files.insert(
            format!("targets/{name}"),
            File {
                bytes: std::fs::read(&t.binary)?,
                mode: 0o755,
            },
        );
        if let Some(seeds) = &t.seeds {
            for entry in std::fs::read_dir(seeds)? {
                let entry = entry?;
                if entry.file_type()?.is_file() {
                    files.insert(
                        format!("seeds/{name}/{}", entry.file_name().to_string_lossy()),
                        File {
                            bytes: std::fs::read(entry.path())?,
                            mode: 0o644,
                        },
                    );
                }
            }
        }
        if let Some(dict) = &t.dict {
            files.insert(
                format!("dicts/{name}.dict"),
                File {
                    bytes: std::fs::read(dict)?,
                    mode: 0o644,
                },
            );
        }
    }
    files.insert(
        "fleet.toml".into(),
        File {
            bytes: fleet_nodes::node_config::NodeConfig::new(plan, node, &names)
                .to_toml(plan)
                .into_bytes(),
            mode: 0o644,
        },
    );
    files.insert(
        "token".into(),
        File {
            bytes: format!("{token}\n").into_bytes(),
            mode: 0o600,
        },
    );
    let (vars, env) = hub_env(plan);
    if !vars.is_empty() {
        files.insert(
            HUB_ENV.into(),
            File {
                bytes: env.into_bytes(),
                mode: 0o600,
            },
        );
    }
    files.insert(
        UNIT.into(),
        File {
            bytes: unit(base, user, node.name.as_str()).into_bytes(),
            mode: 0o644,
        },
    );
    Ok(files)
}

/// For an S3 hub: the names of the `AWS_*` variables set in the operator's environment,
/// and them as a systemd `EnvironmentFile`. Nothing for a `file://` hub.
fn hub_env(plan: &Plan) -> (Vec<&'static str>, String) {
    let s3 = plan
        .hub
        .as_ref()
        .is_some_and(|h| matches!(h.url, fleet_config::HubUrl::S3 { .. }));
    let mut names = Vec::new();
    let mut env = String::new();
    for name in HUB_ENV_VARS.iter().filter(|_| s3) {
        if let Ok(value) = std::env::var(name) {
            names.push(*name);
            // systemd's double quotes, with its escapes for `"` and `\`.
            let value = value.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = writeln!(env, "{name}=\"{value}\"");
        }
    }
    (names, env)
}

/// The systemd unit for this node: deploy/systemd/fuzzfleet-agent.service with the
/// node's user and paths.
fn unit(base: &str, user: &str, node: &str) -> String {
    let template = include_str!("../../../../deploy/systemd/fuzzfleet-agent.service");
    template
        .replace("User=fuzzfleet", &format!("User={user}"))
        .replace("Group=fuzzfleet", &format!("Group={user}"))
        .replace("WorkingDirectory=/var/lib/fuzzfleet", &format!("WorkingDirectory={base}"))
        .replace("ReadWritePaths=/var/lib/fuzzfleet", &format!("ReadWritePaths={base}"))
        .replace("Environment=FUZZFLEET_NODE=%H", &format!("Environment=FUZZFLEET_NODE={node}"))
        .replace(
            "EnvironmentFile=-/etc/fuzzfleet/hub.env",
            &format!("EnvironmentFile=-{base}/{HUB_ENV}"),
        )
        .replace("ProtectHome=yes", "ProtectHome=read-only")
        .replace(
            "ExecStart=/opt/fuzzfleet/bin/fuzzfleet --config /etc/fuzzfleet/fleet.toml --state /var/lib/fuzzfleet/state agent --listen 127.0.0.1:7878 --token-file /etc/fuzzfleet/token",
            &format!(
                "ExecStart={base}/bin/fuzzfleet --config {base}/fleet.toml --state {base}/state agent --node {node} --listen 127.0.0.1:7878 --token-file {base}/token"
            ),
        )
}

fn new_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .context("cannot read /dev/urandom for a token")?;
    Ok(hex::encode(bytes))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn tar_of(files: &BTreeMap<String, File>) -> Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, f) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(f.bytes.len() as u64);
        header.set_mode(f.mode);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, path, f.bytes.as_slice())?;
    }
    Ok(tar.into_inner()?)
}

/// Runs `remote` on the node (in its home) and returns its stdout; a failure is an error
/// naming the node (host key, login, connection, or the command's own message).
fn ssh_output(node: &str, dest: &SshDest, remote: &str, stdin: Option<&[u8]>) -> Result<Vec<u8>> {
    let mut cmd = ssh::command(dest);
    cmd.arg(remote)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .context("cannot run ssh (is the OpenSSH client installed?)")?;
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().expect("piped");
        let bytes = bytes.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        });
    }
    let out = child.wait_with_output()?;
    if out.status.success() {
        return Ok(out.stdout);
    }
    let said = String::from_utf8_lossy(&out.stderr);
    // 255 is ssh's own failure; anything else is the remote command's.
    if out.status.code() == Some(255) {
        bail!("{}", ssh::explain(node, dest, &said));
    }
    bail!(
        "node {node} ({dest}): `{remote}` failed ({}): {}",
        out.status,
        said.trim()
    )
}
