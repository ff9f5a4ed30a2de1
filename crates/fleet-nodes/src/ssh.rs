//! The system's OpenSSH client, as fuzzfleet uses it to reach nodes: the user's keys and
//! known_hosts, host-key checking always on, never a password prompt. A connection or
//! host-key failure is an error naming the node and what to do.

use std::io::Read as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fleet_config::SshDest;
use fleet_proc::{Group, Spawn};

/// An extra `ssh -F FILE` for every connection (tests, or an operator's separate
/// fleet config); unset: the user's own `~/.ssh/config`.
pub const CONFIG_ENV: &str = "FUZZFLEET_SSH_CONFIG";
/// How long a connection may take before the node counts as unreachable.
const CONNECT_TIMEOUT_S: u32 = 10;

/// `ssh` with fuzzfleet's fixed options for `dest`; the caller adds the remote command.
pub fn command(dest: &SshDest) -> Command {
    let mut cmd = Command::new("ssh");
    if let Some(file) = std::env::var_os(CONFIG_ENV) {
        cmd.arg("-F").arg(file);
    }
    cmd.args([
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        &format!("ConnectTimeout={CONNECT_TIMEOUT_S}"),
        "-o",
        "ServerAliveInterval=15",
    ]);
    if let Some(port) = dest.port {
        cmd.arg("-p").arg(port.to_string());
    }
    cmd.arg(dest.destination());
    cmd
}

/// What a failed `ssh` said, turned into an error that names the node and the fix.
pub fn explain(node: &str, dest: &SshDest, stderr: &str) -> String {
    let said = stderr.trim();
    if said.contains("Host key verification failed")
        || said.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
        || said.contains("No ED25519 host key is known")
        || said.contains("host key is known")
    {
        format!(
            "node {node} ({dest}): host key not known or changed; fuzzfleet never skips the check. \
             Verify the node's key and add it to known_hosts (e.g. ssh-keyscan -p {} {} after \
             checking its fingerprint out of band). ssh said: {said}",
            dest.port.unwrap_or(22),
            dest.host
        )
    } else if said.contains("Permission denied") {
        format!(
            "node {node} ({dest}): ssh refused the login (no key of yours is authorized there). ssh said: {said}"
        )
    } else {
        format!("node {node} ({dest}): cannot connect over ssh: {said}")
    }
}

/// A local port forwarded to a node's loopback API port through `ssh -N -L`, closed when
/// dropped.
pub struct Tunnel {
    /// The tunnel's ssh; dropping it kills its group.
    ssh: Group,
    pub local: SocketAddr,
    _port: PortHold,
}

/// A tunnel's ssh started and not yet carrying connections: [`Opening::wait`] may run on
/// any thread, while the ssh stays tied to the thread that started it. Dropped unwaited,
/// its ssh is stopped.
pub struct Opening {
    node: String,
    dest: SshDest,
    tunnel: Tunnel,
}

/// Local ports handed to tunnels of this process and not yet released. A port is found
/// free by binding it and letting it go; ssh binds it later, so tunnels started together
/// must not be handed the same one.
static PORTS: std::sync::Mutex<std::collections::BTreeSet<u16>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// A local port of [`PORTS`], released when dropped.
struct PortHold(u16);

impl PortHold {
    fn take() -> Result<PortHold, String> {
        for _ in 0..64 {
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .and_then(|l| l.local_addr())
                .map_err(|e| format!("no free local port for a tunnel: {e}"))?
                .port();
            if PORTS.lock().unwrap_or_else(|e| e.into_inner()).insert(port) {
                return Ok(PortHold(port));
            }
        }
        Err("no free local port for a tunnel".into())
    }
}

impl Drop for PortHold {
    fn drop(&mut self) {
        PORTS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.0);
    }
}

impl Tunnel {
    /// Starts the tunnel's ssh; [`Opening::wait`] waits until it carries connections.
    /// The ssh receives SIGTERM when the thread that called this
    /// ends, so call it on a thread that lives as long as the tunnel.
    pub fn start(node: &str, dest: &SshDest, remote_port: u16) -> Result<Opening, String> {
        let hold = PortHold::take()?;
        let port = hold.0;
        let local = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let mut cmd = command(dest);
        cmd.args([
            "-N",
            "-o",
            "ExitOnForwardFailure=yes",
            "-L",
            &format!("127.0.0.1:{port}:127.0.0.1:{remote_port}"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        let ssh = Spawn::new(cmd)
            .death_signal(libc::SIGTERM)
            .spawn()
            .map_err(|e| format!("cannot run ssh (is the OpenSSH client installed?): {e}"))?;
        Ok(Opening {
            node: node.to_string(),
            dest: dest.clone(),
            tunnel: Tunnel {
                ssh,
                local,
                _port: hold,
            },
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.local)
    }

    /// Whether its ssh still runs (it exits when the connection to the node is lost).
    pub fn alive(&mut self) -> bool {
        matches!(self.ssh.try_wait(), Ok(None))
    }
}

impl Opening {
    /// Waits until the tunnel carries connections, or ssh gives up (its error explained),
    /// or [`CONNECT_TIMEOUT_S`] and 5 s more have passed.
    pub fn wait(self) -> Result<Tunnel, String> {
        let Opening {
            node,
            dest,
            mut tunnel,
        } = self;
        let deadline = Instant::now() + Duration::from_secs(u64::from(CONNECT_TIMEOUT_S) + 5);
        loop {
            if let Ok(Some(_)) = tunnel.ssh.try_wait() {
                let mut said = String::new();
                if let Some(mut err) = tunnel.ssh.take_stderr() {
                    let _ = err.read_to_string(&mut said);
                }
                return Err(explain(&node, &dest, &said));
            }
            if TcpStream::connect_timeout(&tunnel.local, Duration::from_millis(200)).is_ok() {
                return Ok(tunnel);
            }
            if Instant::now() > deadline {
                // Dropping the tunnel stops its ssh.
                return Err(format!(
                    "node {node} ({dest}): the ssh tunnel did not open within {}s",
                    CONNECT_TIMEOUT_S + 5
                ));
            }
            // Returns at once if ssh gives up meanwhile (seen at the top of the loop).
            let _ = tunnel.ssh.wait_timeout(Duration::from_millis(50));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(s: &str) -> SshDest {
        s.parse().unwrap()
    }

    /// Host-key checking stays on and no prompt can wait for a password, whatever the
    /// destination.
    #[test]
    fn every_connection_checks_the_host_key_and_never_prompts() {
        let cmd = command(&dest("fuzz@10.0.0.5:2222"));
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let args = args.join(" ");
        assert!(
            args.ends_with(
                "-o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=10 \
                 -o ServerAliveInterval=15 -p 2222 fuzz@10.0.0.5"
            ),
            "{args}"
        );
        let args: Vec<String> = command(&dest("[::1]"))
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args.last().map(String::as_str), Some("::1"));
        assert!(!args.contains(&"-p".to_string()));
    }

    #[test]
    fn ssh_failures_are_explained_with_the_fix() {
        let d = dest("fuzz@sg.example:2222");
        let key = explain("sg", &d, "Host key verification failed.\n");
        assert!(
            key.starts_with("node sg (fuzz@sg.example:2222): host key not known or changed"),
            "{key}"
        );
        assert!(key.contains("ssh-keyscan -p 2222 sg.example"), "{key}");
        let login = explain("sg", &d, "fuzz@sg.example: Permission denied (publickey).");
        assert!(login.contains("ssh refused the login"), "{login}");
        let other = explain(
            "sg",
            &d,
            "ssh: connect to host sg.example port 2222: Connection refused\n",
        );
        assert_eq!(
            other,
            "node sg (fuzz@sg.example:2222): cannot connect over ssh: ssh: connect to host \
             sg.example port 2222: Connection refused"
        );
    }
}
