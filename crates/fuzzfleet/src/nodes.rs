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
use crate::ssh::{Opening, Tunnel};

/// A remote node to read: its configured name (if any) and its API.
pub struct Remote {
    pub name: Option<String>,
    pub client: Client,
    /// The SSH tunnel the client goes through (a node with `ssh` and no `api`).
    pub tunnel: Option<Tunnel>,
    /// Its tunnel's ssh, started and not yet waited for.
    opening: Option<Opening>,
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
            opening: None,
            error: None,
            ssh: None,
            token,
            opened_at: None,
        }
    }

    /// A node reached through a tunnel to `ssh`, its ssh started now (on this thread,
    /// which the tunnel lives as long as); the first read waits for it.
    pub fn through(name: &str, ssh: &SshDest, token: Option<String>) -> Remote {
        let mut r = Remote {
            name: Some(name.to_string()),
            client: Client::new(&format!("ssh://{ssh}"), token.clone()),
            tunnel: None,
            opening: None,
            error: None,
            ssh: Some(ssh.clone()),
            token,
            opened_at: None,
        };
        r.start_tunnel();
        r
    }

    /// Starts a new tunnel's ssh. Call it on the thread that owns the remotes: the ssh
    /// ends with that thread.
    fn start_tunnel(&mut self) {
        let (Some(ssh), Some(name)) = (&self.ssh, &self.name) else {
            return;
        };
        self.tunnel = None;
        self.opened_at = Some(Instant::now());
        match Tunnel::start(name, ssh, api_port()) {
            Ok(opening) => {
                self.opening = Some(opening);
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// Waits for a tunnel being opened; any thread may do this.
    fn settle(&mut self) {
        let Some(opening) = self.opening.take() else {
            return;
        };
        match opening.wait() {
            Ok(tunnel) => {
                self.client = Client::new(&tunnel.url(), self.token.clone());
                self.tunnel = Some(tunnel);
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// A tunnelled node whose tunnel was not (re)opened in the last [`REOPEN_AFTER`].
    fn may_reopen(&self) -> bool {
        self.ssh.is_some() && self.opened_at.is_none_or(|t| t.elapsed() >= REOPEN_AFTER)
    }

    /// Before a read, on the owning thread: a tunnel that is gone is started again
    /// (unless it was opened moments ago).
    fn prepare(&mut self) {
        if self.opening.is_none()
            && self.may_reopen()
            && !self.tunnel.as_mut().is_some_and(Tunnel::alive)
        {
            self.start_tunnel();
        }
    }

    /// One read of the status document, waiting for the tunnel first; any thread.
    fn attempt(&mut self) -> Attempt {
        self.settle();
        if let Some(e) = &self.error {
            return Attempt::Failed(e.clone());
        }
        match self.client.status_json() {
            Ok(doc) => Attempt::Read(doc),
            Err(e @ RemoteError::Transport { .. }) => Attempt::Transport(e.to_string()),
            Err(e) => Attempt::Failed(e.to_string()),
        }
    }

    /// Waits for the tunnels being opened, all at once (`status --watch` reads the
    /// clients itself).
    pub fn settle_all(remotes: &mut [Remote]) {
        let all = vec![true; remotes.len()];
        in_parallel(remotes, &all, Remote::settle);
    }
}

/// What one read of a node came to.
enum Attempt {
    Read(serde_json::Value),
    /// The connection failed: through a tunnel, a new tunnel gets one more try.
    Transport(String),
    /// An answer that is an error (401, 503, a bad document), or no tunnel at all.
    Failed(String),
}

impl Attempt {
    fn into_result(self) -> Result<serde_json::Value, String> {
        match self {
            Attempt::Read(doc) => Ok(doc),
            Attempt::Transport(e) | Attempt::Failed(e) => Err(e),
        }
    }
}

/// Runs `f` on each remote picked, each on its own thread, and returns the results in
/// order (`None` where not picked): a node that does not answer costs its own timeout,
/// not everyone's. A few dozen nodes are a few dozen short-lived threads, each waiting
/// on a socket.
fn in_parallel<T: Send>(
    remotes: &mut [Remote],
    pick: &[bool],
    f: impl Fn(&mut Remote) -> T + Sync,
) -> Vec<Option<T>> {
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = remotes
            .iter_mut()
            .zip(pick)
            .map(|(r, &picked)| picked.then(|| scope.spawn(move || f(r))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))))
            .collect()
    })
}

pub fn read_token(path: &Path) -> Result<String> {
    let token = std::fs::read_to_string(path).map_err(|e| {
        exit::usage(format!(
            "cannot read the token file {}: {e}",
            path.display()
        ))
    })?;
    // The rules every token follows, wherever it comes from (trimmed, at least 16
    // characters), so a token `serve` would refuse is not sent either.
    fleet_serve::check_token(&token)
        .map_err(|e| exit::usage(format!("the token file {}: {e}", path.display())))
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

/// Reads every node once, all nodes at once: its status, or why not and how long it has
/// been silent. A tunnelled node that cannot be reached through its tunnel gets a new
/// tunnel and one more try. Call it on the thread that owns the remotes (it may start
/// tunnels).
pub fn fleet_doc(remotes: &mut [Remote], heartbeats: &BTreeMap<String, i64>) -> FleetDoc {
    let now = fleet_store::now_ms();
    for r in remotes.iter_mut() {
        r.prepare();
    }
    let all = vec![true; remotes.len()];
    let mut attempts: Vec<Attempt> = in_parallel(remotes, &all, Remote::attempt)
        .into_iter()
        .flatten()
        .collect();
    let retry: Vec<bool> = remotes
        .iter_mut()
        .zip(&attempts)
        .map(|(r, a)| {
            let again = matches!(a, Attempt::Transport(_)) && r.may_reopen();
            if again {
                r.start_tunnel();
            }
            again
        })
        .collect();
    for (slot, again) in attempts
        .iter_mut()
        .zip(in_parallel(remotes, &retry, Remote::attempt))
    {
        if let Some(again) = again {
            *slot = again;
        }
    }
    let results: Vec<_> = attempts.into_iter().map(Attempt::into_result).collect();
    // A node given by URL alone is named as it names itself, when it answers.
    let ask: Vec<bool> = remotes
        .iter()
        .zip(&results)
        .map(|(r, result)| r.name.is_none() && result.is_ok())
        .collect();
    let told = in_parallel(remotes, &ask, |r| r.client.node().ok().map(|n| n.node));
    let nodes = remotes
        .iter()
        .zip(results)
        .zip(told)
        .map(|((r, result), told)| {
            let name = r
                .name
                .clone()
                .or(told.flatten())
                .unwrap_or_else(|| host_port(r.client.base()));
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
