//! Deploying to a node: puts what a node's agent needs on it over the system's OpenSSH
//! client (the user's keys and known_hosts; host-key checking stays on) as the node's
//! ssh user, without root: the fuzzfleet binary, the built targets the node's tiers
//! run, their seeds and dictionaries, a config written for the node, its API token, and
//! the systemd unit. Only files whose content changed are copied (a manifest of SHA-256
//! sums lives on the node), so a second deploy changes nothing and says so. Installing
//! the unit is the one step that needs root: it is tried with `sudo -n`, and when that
//! is not allowed the exact commands to run on the node are returned.
//!
//! On the node, everything lives in `~/.fuzzfleet/`: `bin/fuzzfleet`, `targets/<name>`,
//! `seeds/<name>/`, `dicts/<name>.dict`, `fleet.toml` (paths relative to it), `token`
//! (mode 600), `fuzzfleet-agent.service`, `manifest.json`, and the state in `state/`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use fleet_config::{NodePlan, Plan, SshDest};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::node_config::{self, NodeConfig};
use crate::{Error, plan, ssh, usage};

type Result<T> = std::result::Result<T, Error>;

/// The directory under the node user's home.
pub const REMOTE_DIR: &str = ".fuzzfleet";
pub const UNIT: &str = "fuzzfleet-agent.service";
/// The unit's `EnvironmentFile`: an S3 hub's credentials, from the operator's environment.
pub const HUB_ENV: &str = "hub.env";
/// What an S3 hub reads from the environment (see `fleet_hub::S3Config::from_env`).
pub const HUB_ENV_VARS: [&str; 8] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ALLOW_HTTP",
];
/// How long a short command on the node (`id`, `cat`, the unit's install) may take.
const COMMAND_DEADLINE: Duration = Duration::from_secs(120);
/// How long copying the changed files may take (binaries over a slow link).
const COPY_DEADLINE: Duration = Duration::from_secs(3600);
/// After a deadline: SIGTERM, this long, then SIGKILL.
const GRACE: Duration = Duration::from_secs(5);

/// One file to put on a node: its bytes and mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub bytes: Vec<u8>,
    pub mode: u32,
}

/// What is on a node: path under `~/.fuzzfleet` → SHA-256 of its content.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub files: BTreeMap<String, String>,
}

impl Manifest {
    /// The manifest of `files`.
    pub fn of(files: &BTreeMap<String, File>) -> Manifest {
        Manifest {
            version: 1,
            files: files
                .iter()
                .map(|(path, f)| (path.clone(), hex::encode(Sha256::digest(&f.bytes))))
                .collect(),
        }
    }

    /// The paths of `self` whose content `remote` does not have.
    pub fn changed_from(&self, remote: &Manifest) -> Vec<String> {
        self.files
            .iter()
            .filter(|(path, sum)| remote.files.get(*path) != Some(sum))
            .map(|(path, _)| path.clone())
            .collect()
    }
}

/// Where the node's unit stands after a deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitState {
    /// Nothing changed, so it was left alone.
    Unchanged,
    /// A dry run that would install and restart it.
    #[serde(rename = "would install")]
    WouldInstall,
    /// Installed and (re)started with `sudo -n`.
    Installed,
    /// `sudo -n` was refused: [`Outcome::root_steps`] say what to run.
    #[serde(rename = "needs root")]
    NeedsRoot,
    /// The deploy failed before it.
    #[serde(rename = "not reached")]
    NotReached,
}

/// What a deploy did (or would do) on one node.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub node: String,
    pub ssh: String,
    pub changed: Vec<String>,
    pub unchanged: usize,
    pub bytes: u64,
    pub token_created: bool,
    pub unit: UnitState,
    pub root_steps: Vec<String>,
    pub error: Option<String>,
}

/// The nodes `names` asks for (all of the config's when empty); a name the config does
/// not have, or a config without nodes, is a usage error.
pub fn select<'a>(plan: &'a Plan, names: &[String]) -> Result<Vec<&'a NodePlan>> {
    let nodes: Vec<&NodePlan> = if names.is_empty() {
        plan.nodes.iter().collect()
    } else {
        names
            .iter()
            .map(|n| {
                plan.node(n).ok_or_else(|| {
                    usage(format!(
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
        return Err(usage(format!(
            "{} has no [node.*] to deploy to",
            plan.file.display()
        )));
    }
    if let Some(node) = nodes.iter().find(|n| n.ssh.is_none()) {
        return Err(usage(format!(
            "node {}: deploy needs `ssh = \"user@host\"` in its [node.{}]",
            node.name, node.name
        )));
    }
    Ok(nodes)
}

/// What the operator should know before a deploy to an S3 hub's nodes, as sentences.
pub fn warnings(plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    if is_s3(plan) && std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        out.push(format!(
            "the hub is S3 and AWS_ACCESS_KEY_ID is not set here, so no {HUB_ENV} is \
             written: nodes keep the one they have (if any), else they need their own \
             credentials (an instance role, or AWS_* in the unit)"
        ));
    }
    if std::env::var_os("AWS_SESSION_TOKEN").is_some() {
        out.push(format!(
            "AWS_SESSION_TOKEN is set: those credentials expire, and the nodes' {HUB_ENV} \
             with them; give the nodes long-lived keys for the hub's prefix"
        ));
    }
    out
}

fn is_s3(plan: &Plan) -> bool {
    plan.hub
        .as_ref()
        .is_some_and(|h| matches!(h.url, fleet_config::HubUrl::S3 { .. }))
}

/// The names of the `AWS_*` variables an S3 hub's `hub.env` takes from this environment.
pub fn hub_env_names() -> String {
    HUB_ENV_VARS
        .iter()
        .filter(|n| std::env::var_os(n).is_some())
        .copied()
        .collect::<Vec<_>>()
        .join(", ")
}

/// Deploys to one node (its `ssh` set): `exe` is the fuzzfleet binary to put there, and
/// the node's token is kept in `state_dir/tokens/<node>`. A failure is the outcome's
/// `error`, naming the node.
pub fn deploy_node(
    plan: &Plan,
    state_dir: &Path,
    node: &NodePlan,
    exe: &Path,
    dry_run: bool,
) -> Outcome {
    let dest = node.ssh.as_ref().expect("a node deploy selected has ssh");
    match try_deploy(plan, state_dir, node, dest, exe, dry_run) {
        Ok(o) => o,
        Err(e) => Outcome {
            node: node.name.to_string(),
            ssh: dest.to_string(),
            changed: Vec::new(),
            unchanged: 0,
            bytes: 0,
            token_created: false,
            unit: UnitState::NotReached,
            root_steps: Vec::new(),
            error: Some(e.to_string()),
        },
    }
}

fn try_deploy(
    plan: &Plan,
    state_dir: &Path,
    node: &NodePlan,
    dest: &SshDest,
    exe: &Path,
    dry_run: bool,
) -> Result<Outcome> {
    let name = node.name.as_str();
    let remote_text = |out: Vec<u8>, what: &str| {
        String::from_utf8(out).map_err(|_| Error::Ssh(format!("node {name}: {what} is not UTF-8")))
    };
    // The node's home: where its files go, and the unit's paths.
    let home = remote_text(
        ssh_output(name, dest, "printf %s \"$HOME\"", None, COMMAND_DEADLINE)?,
        "its $HOME",
    )?;
    if !home.starts_with('/') {
        return Err(Error::Ssh(format!(
            "node {name}: its $HOME is {home:?}, not an absolute path"
        )));
    }
    let base = format!("{}/{REMOTE_DIR}", home.trim_end_matches('/'));
    let user = match &dest.user {
        Some(u) => u.clone(),
        None => remote_text(
            ssh_output(name, dest, "id -un", None, COMMAND_DEADLINE)?,
            "its user name",
        )?
        .trim()
        .to_string(),
    };

    // The operator keeps each node's token (mode 600); the node gets a copy.
    let token_path = state_dir.join("tokens").join(name);
    let (token, token_created) = match std::fs::read_to_string(&token_path) {
        Ok(t) if !t.trim().is_empty() => (t.trim().to_string(), false),
        _ => (new_token()?, true),
    };
    let mut files = bundle(plan, node, exe, &base, &user, &token)?;
    // An unreadable or missing manifest: everything is copied.
    let remote: Manifest = ssh_output(
        name,
        dest,
        &format!("cat {REMOTE_DIR}/manifest.json 2>/dev/null || true"),
        None,
        COMMAND_DEADLINE,
    )
    .ok()
    .and_then(|b| serde_json::from_slice(&b).ok())
    .unwrap_or_default();
    let manifest = Manifest::of(&files);
    let changed = manifest.changed_from(&remote);
    let bytes = changed.iter().map(|p| files[p].bytes.len() as u64).sum();
    let mut outcome = Outcome {
        node: name.to_string(),
        ssh: dest.to_string(),
        unchanged: files.len() - changed.len(),
        changed: changed.clone(),
        bytes,
        token_created: token_created && !dry_run,
        unit: UnitState::Unchanged,
        root_steps: Vec::new(),
        error: None,
    };
    if changed.is_empty() {
        return Ok(outcome);
    }
    if dry_run {
        outcome.unit = UnitState::WouldInstall;
        return Ok(outcome);
    }
    if token_created {
        write_private(&token_path, token.as_bytes())?;
    }
    // The changed files, as one tar stream unpacked under ~/.fuzzfleet; the manifest goes
    // last, so an interrupted deploy is redone next time.
    files.retain(|p, _| changed.contains(p));
    files.insert(
        "manifest.json".into(),
        File {
            bytes: serde_json::to_vec_pretty(&manifest).expect("a manifest serializes"),
            mode: 0o600,
        },
    );
    let tar = tar_of(&files).map_err(|e| io("cannot pack the files for the node", e))?;
    ssh_output(
        name,
        dest,
        &format!("umask 022 && mkdir -p {REMOTE_DIR}/state && tar -C {REMOTE_DIR} -xf -"),
        Some(&tar),
        COPY_DEADLINE,
    )?;
    // Installing the unit is the one root step: tried without a password, else said.
    let install = format!(
        "sudo -n install -m 644 {base}/{UNIT} /etc/systemd/system/{UNIT} && sudo -n systemctl daemon-reload && \
         sudo -n systemctl enable {UNIT} && sudo -n systemctl restart {UNIT}"
    );
    match ssh_output(name, dest, &install, None, COMMAND_DEADLINE) {
        Ok(_) => outcome.unit = UnitState::Installed,
        Err(_) => {
            outcome.unit = UnitState::NeedsRoot;
            outcome.root_steps = root_steps(&base);
        }
    }
    Ok(outcome)
}

/// What to run as root on the node to install its unit.
pub fn root_steps(base: &str) -> Vec<String> {
    vec![
        format!("sudo install -m 644 {base}/{UNIT} /etc/systemd/system/{UNIT}"),
        "sudo systemctl daemon-reload".to_string(),
        format!("sudo systemctl enable {UNIT}"),
        format!("sudo systemctl restart {UNIT}"),
    ]
}

fn io(what: impl Into<String>, source: std::io::Error) -> Error {
    Error::Io {
        what: what.into(),
        source,
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| io(format!("cannot read {}", path.display()), e))
}

/// Everything the node's agent needs, by path under `~/.fuzzfleet`: the binary `exe`,
/// the node's targets (built: their binaries must exist) with their seeds and
/// dictionaries, its config, its token, an S3 hub's credentials from this environment,
/// and its unit for `user` with its files under `base`.
pub fn bundle(
    plan: &Plan,
    node: &NodePlan,
    exe: &Path,
    base: &str,
    user: &str,
    token: &str,
) -> Result<BTreeMap<String, File>> {
    let mut files = BTreeMap::new();
    files.insert(
        "bin/fuzzfleet".into(),
        File {
            bytes: read(exe)?,
            mode: 0o755,
        },
    );
    let names = node_targets(plan, node);
    for name in &names {
        let t = plan::campaign_target(plan, name).map_err(|e| match e {
            Error::Usage(m) => usage(format!(
                "{m} (deploy copies built binaries: run `fuzzfleet build` first)"
            )),
            e => e,
        })?;
        files.insert(
            node_config::binary_path(name),
            File {
                bytes: read(&t.binary)?,
                mode: 0o755,
            },
        );
        if let Some(seeds) = &t.seeds {
            let entries = std::fs::read_dir(seeds)
                .map_err(|e| io(format!("cannot read {}", seeds.display()), e))?;
            for entry in entries {
                let entry = entry.map_err(|e| io(format!("cannot read {}", seeds.display()), e))?;
                if entry.file_type().is_ok_and(|t| t.is_file()) {
                    files.insert(
                        format!(
                            "{}/{}",
                            node_config::seeds_path(name),
                            entry.file_name().to_string_lossy()
                        ),
                        File {
                            bytes: read(&entry.path())?,
                            mode: 0o644,
                        },
                    );
                }
            }
        }
        if let Some(dict) = &t.dict {
            files.insert(
                node_config::dict_path(name),
                File {
                    bytes: read(dict)?,
                    mode: 0o644,
                },
            );
        }
    }
    files.insert(
        "fleet.toml".into(),
        File {
            bytes: NodeConfig::new(plan, node, &names)
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

/// The targets of the node's tiers, sorted, each once.
pub fn node_targets<'a>(plan: &'a Plan, node: &NodePlan) -> Vec<&'a str> {
    let mut names: Vec<&str> = plan
        .tiers
        .iter()
        .filter(|t| node.tiers.contains(&t.name))
        .flat_map(|t| t.targets.iter().map(|n| n.as_str()))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// For an S3 hub: the names of the `AWS_*` variables set in the operator's environment,
/// and them as a systemd `EnvironmentFile`. Nothing for a `file://` hub.
pub fn hub_env(plan: &Plan) -> (Vec<&'static str>, String) {
    let mut names = Vec::new();
    let mut env = String::new();
    for name in HUB_ENV_VARS.iter().filter(|_| is_s3(plan)) {
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
pub fn unit(base: &str, user: &str, node: &str) -> String {
    let template = include_str!("../../../deploy/systemd/fuzzfleet-agent.service");
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
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| io("cannot read /dev/urandom for a token", e))?;
    Ok(hex::encode(bytes))
}

/// Writes `bytes` to `path` (mode 600) through a temporary file renamed over it.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let failed = |e| io(format!("cannot write {}", path.display()), e);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(failed)?;
    f.write_all(bytes).map_err(failed)?;
    f.sync_all().map_err(failed)?;
    std::fs::rename(&tmp, path).map_err(failed)
}

/// The files as a tar stream, each with its mode and a fixed mtime.
pub fn tar_of(files: &BTreeMap<String, File>) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, f) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(f.bytes.len() as u64);
        header.set_mode(f.mode);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, path, f.bytes.as_slice())?;
    }
    tar.into_inner()
}

/// Runs `remote` on the node (in its home), `stdin` fed to it, and returns its stdout;
/// a failure is an error naming the node (host key, login, connection, the command's
/// own message, or the deadline). The ssh runs in a process group of its own, killed
/// whole past `deadline`.
fn ssh_output(
    node: &str,
    dest: &SshDest,
    remote: &str,
    stdin: Option<&[u8]>,
    deadline: Duration,
) -> Result<Vec<u8>> {
    let mut cmd = ssh::command(dest);
    cmd.arg(remote)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // The input goes through an unlinked file, so nothing but the child reads a pipe.
    match stdin {
        Some(bytes) => {
            let mut f =
                tempfile::tempfile().map_err(|e| io("cannot create a temporary file", e))?;
            f.write_all(bytes)
                .and_then(|()| std::io::Seek::rewind(&mut f))
                .map_err(|e| io("cannot write a temporary file", e))?;
            cmd.stdin(Stdio::from(f));
        }
        None => {
            cmd.stdin(Stdio::null());
        }
    }
    let mut group = fleet_proc::Spawn::new(cmd)
        .death_signal(libc::SIGTERM)
        .spawn()
        .map_err(|e| {
            Error::Ssh(format!(
                "cannot run ssh (is the OpenSSH client installed?): {e}"
            ))
        })?;
    // Both pipes read on threads of their own, so the deadline holds whatever ssh does.
    fn drain(
        pipe: Option<impl std::io::Read + Send + 'static>,
    ) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    }
    let stdout = drain(group.take_stdout());
    let stderr = drain(group.take_stderr());
    let ended = group
        .wait_deadline(deadline, GRACE)
        .map_err(|e| io(format!("cannot wait for ssh to node {node}"), e))?;
    // The group is gone, so are the pipes' writers.
    let out = stdout.join().unwrap_or_default();
    let said = String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned();
    if ended.timed_out {
        return Err(Error::Ssh(format!(
            "node {node} ({dest}): `{remote}` did not end within {}s",
            deadline.as_secs()
        )));
    }
    if ended.status.success() {
        return Ok(out);
    }
    // 255 is ssh's own failure; anything else is the remote command's.
    if ended.status.code() == Some(255) {
        return Err(Error::Ssh(ssh::explain(node, dest, &said)));
    }
    Err(Error::Ssh(format!(
        "node {node} ({dest}): `{remote}` failed ({}): {}",
        ended.status,
        said.trim()
    )))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;
    use std::path::PathBuf;

    use super::*;

    fn write(path: &Path, bytes: &[u8], mode: u32) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// An operator's config in `dir`: targets `a` (seeds, dict) and `b` in tier `t`,
    /// `c` in tier `u`; nodes `n` (tier t), `m` (tier u) and `api` (no ssh).
    fn operator(dir: &Path) -> Plan {
        write(&dir.join("bin/a"), b"binary a", 0o755);
        write(&dir.join("bin/b"), b"binary b", 0o755);
        write(&dir.join("bin/c"), b"binary c", 0o755);
        write(&dir.join("seeds/one"), b"1", 0o644);
        write(&dir.join("seeds/two"), b"22", 0o644);
        std::fs::create_dir_all(dir.join("seeds/not-a-file")).unwrap();
        write(&dir.join("a.dict"), b"kw=\"x\"\n", 0o644);
        fleet_config::parse(
            &dir.join("fleet.toml"),
            "[[target]]\nname = \"a\"\nbinary = \"bin/a\"\nseeds = \"seeds\"\ndict = \"a.dict\"\n\
             [[target]]\nname = \"b\"\nbinary = \"bin/b\"\n\
             [[target]]\nname = \"c\"\nbinary = \"bin/c\"\n\
             [tier.t]\ntargets = [\"b\", \"a\"]\nbudget = \"1h\"\n\
             [tier.u]\ntargets = [\"c\"]\nbudget = \"1h\"\n\
             [node.n]\nssh = \"fuzz@127.0.0.1\"\ntiers = [\"t\"]\n\
             [node.m]\nssh = \"127.0.0.2:2222\"\ntiers = [\"u\"]\n\
             [node.api]\napi = \"http://127.0.0.1:9\"\ntiers = [\"u\"]\n",
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn usage_of<T: std::fmt::Debug>(r: Result<T>) -> String {
        match r {
            Err(Error::Usage(m)) => m,
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn nodes_are_picked_by_name_and_need_ssh() {
        let dir = fleet_testkit::state_temp_dir();
        let plan = operator(dir.path());
        let picked = select(&plan, &["m".to_string(), "n".to_string()]).unwrap();
        let names: Vec<&str> = picked.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["m", "n"]);
        let all: Vec<&str> = plan.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            usage_of(select(&plan, &["x".to_string()])),
            format!(
                "no [node.x] in {} (it has: {})",
                dir.path().join("fleet.toml").display(),
                all.join(", ")
            )
        );
        assert_eq!(
            usage_of(select(&plan, &["api".to_string()])),
            "node api: deploy needs `ssh = \"user@host\"` in its [node.api]"
        );
        // All of them: the one without ssh is refused before any node is touched.
        assert!(usage_of(select(&plan, &[])).starts_with("node api: deploy needs"));
    }

    /// A node gets its own tiers' targets (binaries, seed files, dictionaries), its
    /// config, its token and its unit, each with its mode; another tier's target stays
    /// behind.
    #[test]
    fn a_nodes_bundle_holds_what_its_agent_needs_and_nothing_else() {
        let dir = fleet_testkit::state_temp_dir();
        let plan = operator(dir.path());
        let exe = dir.path().join("fuzzfleet");
        write(&exe, b"the binary", 0o755);
        let node = plan.node("n").unwrap();
        assert_eq!(node_targets(&plan, node), ["a", "b"]);
        let files = bundle(&plan, node, &exe, "/home/fuzz/.fuzzfleet", "fuzz", "t0ken").unwrap();
        let got: Vec<(&str, u32)> = files.iter().map(|(p, f)| (p.as_str(), f.mode)).collect();
        assert_eq!(
            got,
            [
                ("bin/fuzzfleet", 0o755),
                ("dicts/a.dict", 0o644),
                ("fleet.toml", 0o644),
                ("fuzzfleet-agent.service", 0o644),
                ("seeds/a/one", 0o644),
                ("seeds/a/two", 0o644),
                ("targets/a", 0o755),
                ("targets/b", 0o755),
                ("token", 0o600),
            ]
        );
        assert_eq!(files["bin/fuzzfleet"].bytes, b"the binary");
        assert_eq!(files["targets/b"].bytes, b"binary b");
        assert_eq!(files["seeds/a/two"].bytes, b"22");
        assert_eq!(files["token"].bytes, b"t0ken\n");
        let config = String::from_utf8(files["fleet.toml"].bytes.clone()).unwrap();
        assert!(config.contains("[node.n]"), "{config}");
        assert!(!config.contains("\"c\""), "{config}");
        // A file:// hub (or none) needs no credentials.
        assert_eq!(hub_env(&plan), (Vec::new(), String::new()));

        // A target not built yet: the deploy says to build first.
        std::fs::remove_file(dir.path().join("bin/b")).unwrap();
        let e = usage_of(bundle(&plan, node, &exe, "/h", "fuzz", "t"));
        assert!(
            e.ends_with("(deploy copies built binaries: run `fuzzfleet build` first)"),
            "{e}"
        );
    }

    /// Only what changed is copied: the manifest on the node says what it has.
    #[test]
    fn the_manifest_tells_what_changed() {
        let file = |b: &[u8]| File {
            bytes: b.to_vec(),
            mode: 0o644,
        };
        let mut files =
            BTreeMap::from([("a".to_string(), file(b"1")), ("b".to_string(), file(b"2"))]);
        let on_node = Manifest::of(&files);
        assert_eq!(on_node.changed_from(&Manifest::default()), ["a", "b"]);
        assert!(Manifest::of(&files).changed_from(&on_node).is_empty());
        files.insert("b".into(), file(b"3"));
        files.insert("c".into(), file(b""));
        assert_eq!(Manifest::of(&files).changed_from(&on_node), ["b", "c"]);
        // The manifest as the node keeps it reads back the same.
        let json = serde_json::to_vec_pretty(&on_node).unwrap();
        assert_eq!(serde_json::from_slice::<Manifest>(&json).unwrap(), on_node);
        assert_eq!(
            on_node.files["a"],
            "6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b"
        );
    }

    /// The unit is the packaged one with every path, the user and the node's name of
    /// this node: no line (but comments) keeps a packaged path.
    #[test]
    fn the_unit_runs_the_agent_as_the_nodes_user_from_its_home() {
        let text = unit("/home/fuzz/.fuzzfleet", "fuzz", "sg-1");
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        for packaged in [
            "/var/lib/fuzzfleet",
            "/etc/fuzzfleet",
            "/opt/fuzzfleet/bin",
            "User=fuzzfleet",
            "Group=fuzzfleet",
            "%H",
        ] {
            assert!(
                !lines.iter().any(|l| l.contains(packaged)),
                "{packaged} left in:\n{text}"
            );
        }
        for want in [
            "User=fuzz",
            "Group=fuzz",
            "WorkingDirectory=/home/fuzz/.fuzzfleet",
            "ReadWritePaths=/home/fuzz/.fuzzfleet",
            "Environment=FUZZFLEET_NODE=sg-1",
            "EnvironmentFile=-/home/fuzz/.fuzzfleet/hub.env",
            "ProtectHome=read-only",
            "ExecStart=/home/fuzz/.fuzzfleet/bin/fuzzfleet --config /home/fuzz/.fuzzfleet/fleet.toml \
             --state /home/fuzz/.fuzzfleet/state agent --node sg-1 --listen 127.0.0.1:7878 \
             --token-file /home/fuzz/.fuzzfleet/token",
        ] {
            assert!(lines.contains(&want), "no {want:?} in:\n{text}");
        }
        assert_eq!(
            root_steps("/b")[0],
            format!("sudo install -m 644 /b/{UNIT} /etc/systemd/system/{UNIT}")
        );
    }

    #[test]
    fn the_copy_is_a_tar_of_the_files_with_their_modes() {
        let files = BTreeMap::from([
            (
                "bin/fuzzfleet".to_string(),
                File {
                    bytes: b"elf".to_vec(),
                    mode: 0o755,
                },
            ),
            (
                "token".to_string(),
                File {
                    bytes: b"secret\n".to_vec(),
                    mode: 0o600,
                },
            ),
        ]);
        let tar = tar_of(&files).unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        let mut got = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path: PathBuf = entry.path().unwrap().into_owned();
            let mode = entry.header().mode().unwrap();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            got.push((path, mode, bytes));
        }
        assert_eq!(
            got,
            [
                (PathBuf::from("bin/fuzzfleet"), 0o755, b"elf".to_vec()),
                (PathBuf::from("token"), 0o600, b"secret\n".to_vec()),
            ]
        );
    }

    /// The operator's copy of a node's token is written private, replacing an old one.
    #[test]
    fn a_token_is_kept_private() {
        let dir = fleet_testkit::state_temp_dir();
        let path = dir.path().join("tokens/n");
        write_private(&path, b"one").unwrap();
        write_private(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!path.with_extension("tmp").exists());
        let t = new_token().unwrap();
        assert_eq!(t.len(), 64);
        assert_ne!(t, new_token().unwrap());
    }
}
