//! The fleet's nodes as the operator reaches them: through an SSH tunnel to each agent's
//! loopback API port (the default), or a configured API URL with its token; each node's
//! last heartbeat in the hub; and one document of them all, which `status --all-nodes`
//! prints and `serve --all-nodes` serves (a tunnel that died is opened again on the next
//! read, so a long-running view sees a node come back).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fleet_config::{Plan, SshDest};
use fleet_serve::{FleetDoc, FleetNode};
use fleet_tui::Client;
use fleet_tui::source::remote::{RemoteError, host_port};

use crate::ssh::{Opening, Tunnel};
use crate::{Error, usage};

type Result<T> = std::result::Result<T, Error>;

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
    fn into_result(self) -> std::result::Result<serde_json::Value, String> {
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
        usage(format!(
            "cannot read the token file {}: {e}",
            path.display()
        ))
    })?;
    // The rules every token follows, wherever it comes from (trimmed, at least 16
    // characters), so a token `serve` would refuse is not sent either.
    fleet_serve::check_token(&token)
        .map_err(|e| usage(format!("the token file {}: {e}", path.display())))
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
        let failed = |source| Error::Io {
            what: "cannot start the fleet reader".into(),
            source,
        };
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
            })
            .map_err(failed)?;
        started
            .recv()
            .map_err(|_| failed(std::io::Error::other("it ended before it read the config")))??;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(dir: &Path, nodes: &str) -> Plan {
        use std::os::unix::fs::PermissionsExt as _;
        let bin = dir.join("x");
        std::fs::write(&bin, b"").unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        fleet_config::parse(
            &dir.join("fleet.toml"),
            &format!(
                "[[target]]\nname = \"x\"\nbinary = \"x\"\n\
                 [tier.t]\ntargets = [\"x\"]\nbudget = \"1h\"\n{nodes}"
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A local port nothing listens on.
    fn closed_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    #[test]
    fn a_token_file_follows_the_rules_every_token_follows() {
        let dir = fleet_testkit::state_temp_dir();
        let file = dir.path().join("token");
        std::fs::write(&file, "  0123456789abcdef0123\n").unwrap();
        assert_eq!(read_token(&file).unwrap(), "0123456789abcdef0123");
        std::fs::write(&file, "short\n").unwrap();
        let Err(Error::Usage(m)) = read_token(&file) else {
            panic!("a short token is refused")
        };
        assert!(
            m.starts_with(&format!("the token file {}: ", file.display())),
            "{m}"
        );
        let Err(Error::Usage(m)) = read_token(&dir.path().join("none")) else {
            panic!("a missing file is refused")
        };
        assert!(m.starts_with("cannot read the token file "), "{m}");
    }

    /// A node's token is its `token_file`, else the one deploy kept for it.
    #[test]
    fn a_node_is_read_with_its_own_token() {
        let dir = fleet_testkit::state_temp_dir();
        let state = dir.path().join("state");
        std::fs::create_dir_all(state.join("tokens")).unwrap();
        std::fs::write(state.join("tokens/kept"), "kept-token-0123456789\n").unwrap();
        std::fs::write(dir.path().join("own"), "own-token-0123456789\n").unwrap();
        let plan = plan(
            dir.path(),
            "[node.kept]\napi = \"http://127.0.0.1:9\"\ntiers = [\"t\"]\n\
             [node.own]\napi = \"http://127.0.0.1:10\"\ntoken_file = \"own\"\ntiers = [\"t\"]\n\
             [node.none]\napi = \"http://127.0.0.1:11\"\ntiers = [\"t\"]\n",
        );
        let remotes = configured(&plan, &state).unwrap();
        let got: Vec<(Option<String>, Option<String>, bool)> = remotes
            .iter()
            .map(|r| (r.name.clone(), r.token.clone(), r.tunnel.is_none()))
            .collect();
        let expected: Vec<_> = plan
            .nodes
            .iter()
            .map(|n| {
                let token = match n.name.as_str() {
                    "kept" => Some("kept-token-0123456789".to_string()),
                    "own" => Some("own-token-0123456789".to_string()),
                    _ => None,
                };
                (Some(n.name.to_string()), token, true)
            })
            .collect();
        assert_eq!(got, expected);
    }

    /// A node that does not answer is listed with why, and with how long it has been
    /// silent when the hub has its heartbeat; one that is named by URL alone is named
    /// by its host and port.
    #[test]
    fn a_node_down_is_listed_with_how_long_it_has_been_silent() {
        let dir = fleet_testkit::state_temp_dir();
        let port = closed_port();
        let plan = plan(
            dir.path(),
            &format!("[node.down]\napi = \"http://127.0.0.1:{port}\"\ntiers = [\"t\"]\n"),
        );
        let mut remotes = configured(&plan, dir.path()).unwrap();
        let other = closed_port();
        remotes.push(Remote::at_url(
            None,
            &format!("http://127.0.0.1:{other}"),
            None,
        ));
        let minute_ago = fleet_store::now_ms() - 60_000;
        let beats = BTreeMap::from([("down".to_string(), minute_ago)]);
        let doc = fleet_doc(&mut remotes, &beats);
        assert_eq!(doc.nodes.len(), 2);
        let down = &doc.nodes[0];
        assert_eq!(down.node, "down");
        assert!(down.status.is_none() && down.error.is_some(), "{down:?}");
        assert!(
            (60..70).contains(&down.unreachable_for_s.unwrap()),
            "{down:?}"
        );
        assert_eq!(down.last_heartbeat, Some(fleet_store::rfc3339(minute_ago)));
        let unnamed = &doc.nodes[1];
        assert_eq!(unnamed.node, format!("127.0.0.1:{other}"));
        assert_eq!(unnamed.unreachable_for_s, None, "no heartbeat known");
    }

    /// Each node is read on a thread of its own, and the results come back in order.
    #[test]
    fn nodes_are_read_at_once_and_answered_in_order() {
        let mut remotes: Vec<Remote> = (0..6)
            .map(|i| Remote::at_url(Some(format!("n{i}")), "http://127.0.0.1:9", None))
            .collect();
        let pick = [true, false, true, true, false, true];
        let barrier = std::sync::Barrier::new(4);
        let got = in_parallel(&mut remotes, &pick, |r| {
            // Returns only once all four picked nodes are being read at once.
            barrier.wait();
            r.name.clone().unwrap()
        });
        assert_eq!(
            got,
            [
                Some("n0".to_string()),
                None,
                Some("n2".to_string()),
                Some("n3".to_string()),
                None,
                Some("n5".to_string())
            ]
        );
    }
}
