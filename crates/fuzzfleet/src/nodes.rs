//! The fleet's nodes as the operator reaches them: through an SSH tunnel to each agent's
//! loopback API port (the default), or a configured API URL with its token; each node's
//! last heartbeat in the hub; and one document of them all, which `status --all-nodes`
//! prints and `serve --all-nodes` serves (a tunnel that died is opened again on the next
//! read, so a long-running view sees a node come back).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Result;
use fleet_config::{Plan, SshDest};
use fleet_serve::{FleetDoc, FleetNode};
use fleet_tui::Client;
use fleet_tui::source::remote::{RemoteError, host_port};

use crate::exit;
use crate::ssh::Tunnel;

/// A remote node to read: its configured name (if any) and its API.
pub struct Remote {
    pub name: Option<String>,
    pub client: Client,
    /// The SSH tunnel the client goes through (a node with `ssh` and no `api`).
    pub tunnel: Option<Tunnel>,
    /// Why the node could not be reached at all (its tunnel did not open).
    pub error: Option<String>,
    /// How to open the tunnel again.
    ssh: Option<SshDest>,
    token: Option<String>,
    /// When its tunnel was last (re)opened: not again within [`REOPEN_AFTER`].
    opened_at: Option<Instant>,
}

/// A tunnel opened less than this long ago is not opened again on a failed read (a node
/// that just refused is not asked twice in a row).
const REOPEN_AFTER: Duration = Duration::from_secs(5);

/// The agent's API port on its node's loopback.
fn api_port() -> u16 {
    fleet_serve::DEFAULT_LISTEN
        .rsplit(':')
        .next()
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(7878)
}

impl Remote {
    /// A node's API at `url` (no tunnel).
    pub fn at_url(name: Option<String>, url: &str, token: Option<String>) -> Remote {
        Remote {
            name,
            client: Client::new(url, token.clone()),
            tunnel: None,
            error: None,
            ssh: None,
            token,
            opened_at: None,
        }
    }

    /// A node reached through a tunnel to `ssh`, opened now; a failure is kept as its error.
    pub fn through(name: &str, ssh: &SshDest, token: Option<String>) -> Remote {
        let mut r = Remote {
            name: Some(name.to_string()),
            client: Client::new(&format!("ssh://{ssh}"), token.clone()),
            tunnel: None,
            error: None,
            ssh: Some(ssh.clone()),
            token,
            opened_at: None,
        };
        r.open_tunnel();
        r
    }

    fn open_tunnel(&mut self) {
        let (Some(ssh), Some(name)) = (&self.ssh, &self.name) else {
            return;
        };
        self.tunnel = None;
        self.opened_at = Some(Instant::now());
        match Tunnel::open(name, ssh, api_port()) {
            Ok(tunnel) => {
                self.client = Client::new(&tunnel.url(), self.token.clone());
                self.tunnel = Some(tunnel);
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// The node's status document. A tunnelled node whose tunnel is gone, or that could
    /// not be reached through it, gets a new tunnel and one more try, unless its tunnel
    /// was opened moments ago. An answer (even 401 or 503) never costs the tunnel.
    pub fn read(&mut self) -> Result<serde_json::Value, String> {
        let may_reopen =
            |r: &Remote| r.ssh.is_some() && r.opened_at.is_none_or(|t| t.elapsed() >= REOPEN_AFTER);
        if may_reopen(self) && !self.tunnel.as_mut().is_some_and(Tunnel::alive) {
            self.open_tunnel();
        }
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        match self.client.status_json() {
            Ok(doc) => Ok(doc),
            Err(RemoteError::Transport { .. }) if may_reopen(self) => {
                self.open_tunnel();
                if let Some(e) = &self.error {
                    return Err(e.clone());
                }
                self.client.status_json().map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        }
    }
}

pub fn read_token(path: &Path) -> Result<String> {
    let token = std::fs::read_to_string(path).map_err(|e| {
        exit::usage(format!(
            "cannot read the token file {}: {e}",
            path.display()
        ))
    })?;
    Ok(token.trim().to_string())
}

/// Every `[node.*]` of the config: a node's `api` URL is read directly; otherwise its
/// agent's loopback port is reached through an SSH tunnel (the API never leaves the
/// node). The token is the config's `token_file`, else the one `deploy` kept in
/// `<state>/tokens/<node>`.
pub fn configured(plan: &Plan, state_dir: &Path) -> Result<Vec<Remote>> {
    let kept = state_dir.join("tokens");
    plan.nodes
        .iter()
        .map(|n| {
            let token = match &n.token_file {
                Some(file) => Some(read_token(file)?),
                None => {
                    let file = kept.join(n.name.as_str());
                    file.is_file().then(|| read_token(&file)).transpose()?
                }
            };
            let name = n.name.to_string();
            Ok(match (&n.api, &n.ssh) {
                (Some(api), _) => Remote::at_url(Some(name), api.as_str(), token),
                (None, Some(ssh)) => Remote::through(&name, ssh, token),
                (None, None) => unreachable!("a validated node has ssh or api"),
            })
        })
        .collect()
}

/// Each node's last heartbeat in the config's hub (ms since the epoch), by node name:
/// how long an unreachable node has been silent. Empty without a hub or when it cannot
/// be read (the view does not depend on it).
pub fn heartbeats(plan: Option<&Plan>) -> BTreeMap<String, i64> {
    let Some(hub) = plan.and_then(|p| p.hub.as_ref()) else {
        return Default::default();
    };
    let Ok(hub) = fleet_hub::Hub::open(&hub.url, fleet_hub::HubOptions::default()) else {
        return Default::default();
    };
    hub.heartbeats()
        .map(|h| {
            h.heartbeats
                .into_iter()
                .filter_map(|b| {
                    let t = humantime::parse_rfc3339(&b.time).ok()?;
                    let ms = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis();
                    Some((b.node.to_string(), i64::try_from(ms).ok()?))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Reads every node once: its status, or why not and how long it has been silent.
pub fn fleet_doc(remotes: &mut [Remote], heartbeats: &BTreeMap<String, i64>) -> FleetDoc {
    let now = fleet_store::now_ms();
    let nodes = remotes
        .iter_mut()
        .map(|r| {
            let result = r.read();
            let name = r.name.clone().unwrap_or_else(|| {
                // A URL alone: the node's own name when it tells it.
                result
                    .as_ref()
                    .ok()
                    .and_then(|_| r.client.node().ok())
                    .and_then(|n| n.name)
                    .unwrap_or_else(|| host_port(r.client.base()))
            });
            let last = heartbeats.get(&name).copied();
            let url = r.client.base().to_string();
            match result {
                Ok(status) => FleetNode {
                    node: name,
                    url,
                    status: Some(status),
                    error: None,
                    last_heartbeat: last.map(fleet_store::rfc3339),
                    unreachable_for_s: None,
                },
                Err(e) => FleetNode {
                    node: name,
                    url,
                    status: None,
                    error: Some(e),
                    last_heartbeat: last.map(fleet_store::rfc3339),
                    unreachable_for_s: last.map(|t| (now - t).max(0) / 1000),
                },
            }
        })
        .collect();
    FleetDoc {
        version: fleet_run::report::DOC_VERSION,
        nodes,
    }
}

/// The fleet as `serve --all-nodes` shows it: the config's nodes, their tunnels kept
/// open between reads. The tunnels belong to one thread that lives as long as the probe:
/// ssh dies with the thread that started it (its parent-death signal follows threads),
/// and the server's blocking threads come and go.
pub struct FleetProbe {
    nodes: usize,
    requests: std::sync::Mutex<mpsc::Sender<mpsc::Sender<FleetDoc>>>,
}

impl FleetProbe {
    /// Opens every node's tunnel (a bad token file is an error now, not on each read).
    pub fn new(plan: Plan, state_dir: &Path) -> Result<FleetProbe> {
        let (requests, incoming) = mpsc::channel::<mpsc::Sender<FleetDoc>>();
        let (ready, started) = mpsc::channel::<Result<()>>();
        let nodes = plan.nodes.len();
        let state_dir = state_dir.to_path_buf();
        std::thread::Builder::new()
            .name("fleet-nodes".into())
            .spawn(move || {
                let mut remotes = match configured(&plan, &state_dir) {
                    Ok(r) => {
                        let _ = ready.send(Ok(()));
                        r
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                for reply in incoming {
                    let doc = fleet_doc(&mut remotes, &heartbeats(Some(&plan)));
                    let _ = reply.send(doc);
                }
            })?;
        started
            .recv()
            .map_err(|_| anyhow::anyhow!("the fleet reader did not start"))??;
        Ok(FleetProbe {
            nodes,
            requests: std::sync::Mutex::new(requests),
        })
    }
}

impl std::fmt::Debug for FleetProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetProbe")
            .field("nodes", &self.nodes)
            .finish_non_exhaustive()
    }
}

impl fleet_serve::FleetView for FleetProbe {
    fn fleet(&self) -> FleetDoc {
        let (reply, answer) = mpsc::channel();
        let sent = self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(reply)
            .is_ok();
        match answer.recv() {
            Ok(doc) if sent => doc,
            _ => FleetDoc {
                version: fleet_run::report::DOC_VERSION,
                nodes: Vec::new(),
            },
        }
    }
}
