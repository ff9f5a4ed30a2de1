//! Real parts for hub tests: state dirs with real files, a directory hub, and a real
//! S3-compatible server (moto, from PyPI) started on 127.0.0.1 in its own process group
//! and killed by that group at the end.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fleet_config::{HubUrl, NodeName, TargetName};
use fleet_hub::{Hub, HubOptions, S3Config};
use fleet_store::{Layout, sha1_hex, write_atomic};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use object_store::ObjectStore;
use object_store::ObjectStoreExt;
use object_store::path::Path as Key;

pub const BUCKET: &str = "fleet-hub-test";
pub const PREFIX: &str = "team/hub";

pub fn target(name: &str) -> TargetName {
    TargetName::new(name).unwrap()
}

pub fn node(name: &str) -> NodeName {
    NodeName::new(name).unwrap()
}

/// Short limits so a paused or missing server costs seconds, not minutes.
pub fn fast_options(s3: Option<S3Config>) -> HubOptions {
    HubOptions {
        s3,
        request_timeout: Duration::from_secs(2),
        attempts: 3,
        backoff_initial: Duration::from_millis(100),
        backoff_max: Duration::from_millis(400),
        ..HubOptions::default()
    }
}

/// Polls `cond` until it holds or `limit` passes.
pub fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---- state dirs ----

pub fn add_corpus(layout: &Layout, t: &TargetName, bytes: &[u8]) -> String {
    let sha = sha1_hex(bytes);
    write_atomic(&layout.corpus_dir(t.as_str()).join(&sha), bytes).unwrap();
    sha
}

/// `n` distinct entries whose content starts with `tag`.
pub fn add_entries(layout: &Layout, t: &TargetName, tag: &str, n: usize) -> BTreeSet<String> {
    (0..n)
        .map(|i| add_corpus(layout, t, format!("{tag}-{i}").as_bytes()))
        .collect()
}

pub fn add_crash(layout: &Layout, t: &TargetName, input: &[u8], report: Option<&str>) -> String {
    let sha = sha1_hex(input);
    if let Some(report) = report {
        write_atomic(
            &layout.finding_report(t.as_str(), "crash", &sha),
            report.as_bytes(),
        )
        .unwrap();
    }
    write_atomic(&layout.finding_input(t.as_str(), "crash", &sha), input).unwrap();
    sha
}

pub fn corpus(layout: &Layout, t: &TargetName) -> BTreeSet<String> {
    names(&layout.corpus_dir(t.as_str()))
}

pub fn names(dir: &Path) -> BTreeSet<String> {
    match fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect(),
        Err(_) => BTreeSet::new(),
    }
}

/// Every file under `root`, relative, for "nothing was written elsewhere" checks.
pub fn all_files(root: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    out
}

// ---- hubs ----

/// One hub under test: how to open it, and raw access for planting and inspecting keys
/// the way another (possibly hostile) writer would.
pub struct TestHub {
    pub url: HubUrl,
    pub s3: Option<S3Config>,
    raw: Arc<dyn ObjectStore>,
    rt: tokio::runtime::Runtime,
    pub server: Option<Moto>,
    dir: Option<PathBuf>,
}

impl TestHub {
    pub fn dir(path: &Path) -> Self {
        fs::create_dir_all(path).unwrap();
        let raw = object_store::local::LocalFileSystem::new_with_prefix(path).unwrap();
        Self {
            url: HubUrl::Dir(path.to_path_buf()),
            s3: None,
            raw: Arc::new(raw),
            rt: runtime(),
            server: None,
            dir: Some(path.to_path_buf()),
        }
    }

    pub fn s3(scratch: &Path) -> Self {
        let server = Moto::start(scratch);
        let s3 = server.config();
        let rt = runtime();
        let raw = {
            let _g = rt.enter();
            object_store::prefix::PrefixStore::new(
                object_store::aws::AmazonS3Builder::new()
                    .with_bucket_name(BUCKET)
                    .with_region("us-east-1")
                    .with_endpoint(s3.endpoint.clone().unwrap())
                    .with_allow_http(true)
                    .with_access_key_id("test")
                    .with_secret_access_key("test")
                    .build()
                    .unwrap(),
                PREFIX,
            )
        };
        Self {
            url: HubUrl::S3 {
                bucket: BUCKET.into(),
                prefix: PREFIX.into(),
            },
            s3: Some(s3),
            raw: Arc::new(raw),
            rt,
            server: Some(server),
            dir: None,
        }
    }

    pub fn open(&self) -> Hub {
        Hub::open(&self.url, fast_options(self.s3.clone())).unwrap()
    }

    pub fn put(&self, key: &str, bytes: &[u8]) {
        let key = Key::from(key);
        self.rt
            .block_on(self.raw.put(&key, bytes.to_vec().into()))
            .unwrap();
    }

    pub fn delete(&self, key: &str) {
        self.rt.block_on(self.raw.delete(&Key::from(key))).unwrap();
    }

    pub fn keys(&self) -> BTreeSet<String> {
        use futures::TryStreamExt;
        self.rt
            .block_on(
                self.raw
                    .list(None)
                    .map_ok(|m| m.location.to_string())
                    .try_collect(),
            )
            .unwrap()
    }

    /// Empties the hub: the directory recreated, or the server replaced by a new empty one.
    pub fn replace_with_empty(&mut self) {
        if let Some(dir) = &self.dir {
            fs::remove_dir_all(dir).unwrap();
            fs::create_dir_all(dir).unwrap();
        }
        if let Some(server) = &mut self.server {
            server.replace_with_empty();
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

// ---- moto ----

/// `python3 -m moto.server` on a free loopback port, in its own process group.
pub struct Moto {
    child: Child,
    pub port: u16,
    log: PathBuf,
}

impl Moto {
    pub fn start(scratch: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = scratch.join(format!("moto-{port}.log"));
        let child = spawn_moto(port, &log);
        let mut moto = Moto { child, port, log };
        moto.await_ready();
        moto
    }

    pub fn config(&self) -> S3Config {
        S3Config {
            endpoint: Some(format!("http://127.0.0.1:{}", self.port)),
            region: Some("us-east-1".into()),
            access_key_id: Some("test".into()),
            secret_access_key: Some("test".into()),
            session_token: None,
            allow_http: false,
        }
    }

    fn pgid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    pub fn pause(&self) {
        killpg(self.pgid(), Signal::SIGSTOP).unwrap();
    }

    pub fn resume(&self) {
        killpg(self.pgid(), Signal::SIGCONT).unwrap();
    }

    fn kill(&mut self) {
        let _ = killpg(self.pgid(), Signal::SIGKILL);
        let _ = self.child.wait();
    }

    pub fn replace_with_empty(&mut self) {
        self.kill();
        // Same port, so the nodes' configuration does not change: only the data is gone.
        self.child = spawn_moto(self.port, &self.log);
        self.await_ready();
    }

    fn await_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let log = fs::read_to_string(&self.log).unwrap_or_default();
                panic!(
                    "moto server exited ({status}) before serving; is it installed? \
                     (python3 -m pip install 'moto[server]')\n{log}"
                );
            }
            if http(self.port, "PUT", &format!("/{BUCKET}")).is_some_and(|s| s == 200) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "moto did not answer on 127.0.0.1:{} within 60 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // SIGKILL ends a stopped process too; SIGCONT first leaves nothing stopped
        // behind even if the kill were refused.
        let _ = killpg(self.pgid(), Signal::SIGCONT);
        self.kill();
    }
}

fn spawn_moto(port: u16, log: &Path) -> Child {
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new("python3")
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .process_group(0)
        .spawn()
        .expect("python3 must be installed to run the S3 hub tests")
}

/// One plain HTTP/1.1 request (no signing: moto accepts bucket creation unsigned).
fn http(port: u16, method: &str, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}
