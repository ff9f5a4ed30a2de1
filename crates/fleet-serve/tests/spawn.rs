//! `fleet_serve::spawn`, as the agent will use it: a server on its own thread over a
//! real state database, read through the typed client, stopped through its handle.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use fleet_serve::{
    Client, FleetDoc, FleetNode, FleetView, ServeError, ServeOptions, TokenError, spawn,
};
use fleet_store::{Db, Sample, TargetRecord};

fn state_with_one_target() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("fleet.db")).unwrap();
    let now = fleet_store::now_ms();
    db.put_target(&TargetRecord {
        name: "alpha".into(),
        state: "running".into(),
        workers: 1,
        execs: 1000,
        execs_per_sec: 100.0,
        coverage: Some(7),
        updated_at: now,
        ..TargetRecord::default()
    })
    .unwrap();
    for i in 0..3 {
        db.put_sample(&Sample {
            target: "alpha".into(),
            ts: now - 30_000 + i * 10_000,
            span_s: 10,
            workers: 1,
            execs: 100 * i,
            execs_per_sec: 100.0,
            coverage: Some(5 + i),
            ..Sample::default()
        })
        .unwrap();
    }
    dir
}

fn options(state: &std::path::Path, listen: &str, token: Option<&str>) -> ServeOptions {
    ServeOptions {
        state_dir: state.to_path_buf(),
        listen: listen.parse().unwrap(),
        token: token.map(str::to_string),
        known_targets: vec!["beta".into()],
        fleet: None,
    }
}

#[test]
fn a_spawned_server_serves_the_state_until_stopped() {
    let state = state_with_one_target();
    let server = spawn(options(state.path(), "127.0.0.1:0", None)).unwrap();
    let client = Client::new(&server.base_url(), None);
    let status = client.status().unwrap();
    let names: Vec<_> = status.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["alpha", "beta"],
        "configured targets are listed too"
    );
    let series = client.series("alpha").unwrap();
    assert_eq!(series.points.len(), 3);
    assert_eq!(series.points[2].coverage, Some(7));
    assert!(client.series("beta").unwrap().points.is_empty());
    assert_eq!(client.series("gamma").unwrap_err().status(), Some(404));
    assert_eq!(client.bucket("abc").unwrap_err().status(), Some(404));
    assert!(client.crashes().unwrap().buckets.is_empty());
    let addr = server.local_addr();
    server.stop().unwrap();
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "still listening"
    );
}

const TOKEN: &str = "tok-sixteen-chars";

#[test]
fn spawn_refuses_a_non_loopback_address_without_a_token_and_guards_with_one() {
    let state = state_with_one_target();
    let err = spawn(options(state.path(), "0.0.0.0:0", None)).unwrap_err();
    assert!(matches!(err, ServeError::NeedsToken(_)), "{err}");
    let err = spawn(options(state.path(), "127.0.0.1:0", Some(""))).unwrap_err();
    assert!(matches!(err, ServeError::EmptyToken), "{err}");
    let err = spawn(options(state.path(), "127.0.0.1:0", Some("   "))).unwrap_err();
    assert!(matches!(err, ServeError::EmptyToken), "{err}");
    let err = spawn(options(state.path(), "0.0.0.0:0", Some("tok"))).unwrap_err();
    assert!(
        matches!(err, ServeError::BadToken(TokenError::TooShort(3))),
        "{err}"
    );
    let err = spawn(options(
        state.path(),
        "0.0.0.0:0",
        Some(" sixteen-chars-tok"),
    ))
    .unwrap_err();
    assert!(
        matches!(err, ServeError::BadToken(TokenError::Whitespace)),
        "{err}"
    );
    let server = spawn(options(state.path(), "0.0.0.0:0", Some(TOKEN))).unwrap();
    assert!(server.base_url().starts_with("http://127.0.0.1:"));
    let right = Client::new(&server.base_url(), Some(TOKEN.into()));
    assert_eq!(
        right.node().unwrap().cores,
        std::thread::available_parallelism().unwrap().get()
    );
    let wrong = Client::new(&server.base_url(), Some("tok-sixteen-chars-long".into()));
    assert_eq!(wrong.status().unwrap_err().status(), Some(401));
    let (code, body) = wrong.get_raw("/healthz").unwrap();
    assert_eq!((code, body.as_slice()), (200, &b"ok\n"[..]));
}

#[test]
fn a_state_without_a_database_is_an_empty_campaign_until_one_appears() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let server = spawn(options(&state, "127.0.0.1:0", None)).unwrap();
    let client = Client::new(&server.base_url(), None);
    let status = client.status().unwrap();
    let names: Vec<_> = status.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["beta"], "the configured targets, never run");
    assert!(client.crashes().unwrap().buckets.is_empty());
    assert!(client.series("beta").unwrap().points.is_empty());
    assert!(!state.exists(), "the server created the state dir");
    // The campaign starts: its database is read from then on.
    std::fs::rename(state_with_one_target().keep(), &state).unwrap();
    wait_for(|| {
        client.status().is_ok_and(|s| {
            s.targets
                .iter()
                .any(|t| t.name == "alpha" && t.execs == 1000)
        })
    });
    assert_eq!(client.series("alpha").unwrap().points.len(), 3);
}

/// Polls `ok` until it holds (at most 10 s: the documents are cached for a second).
fn wait_for(ok: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !ok() {
        assert!(std::time::Instant::now() < deadline, "not within 10 s");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A fleet of two nodes read over HTTP: one a real server, one an address nobody serves.
#[derive(Debug)]
struct TwoNodes {
    up: String,
    down: String,
    reads: AtomicUsize,
}

impl FleetView for TwoNodes {
    fn fleet(&self) -> FleetDoc {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let node = |name: &str, url: &str| {
            let read = Client::new(url, None).status();
            FleetNode {
                node: name.into(),
                url: url.into(),
                status: read.as_ref().ok().map(|s| serde_json::to_value(s).unwrap()),
                error: read.err().map(|e| e.to_string()),
                last_heartbeat: None,
                unreachable_for_s: Some(42),
            }
        };
        FleetDoc {
            version: 1,
            nodes: vec![node("up", &self.up), node("down", &self.down)],
        }
    }
}

#[test]
fn the_fleet_page_and_api_show_every_node_reading_them_at_most_every_few_seconds() {
    let node_state = state_with_one_target();
    let node = spawn(options(node_state.path(), "127.0.0.1:0", None)).unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let view = Arc::new(TwoNodes {
        up: node.base_url(),
        down,
        reads: AtomicUsize::new(0),
    });

    // Without --all-nodes: no fleet, said so.
    let state = state_with_one_target();
    let single = spawn(options(state.path(), "127.0.0.1:0", None)).unwrap();
    let (code, _) = Client::new(&single.base_url(), None)
        .get_raw("/api/v1/fleet")
        .unwrap();
    assert_eq!(code, 404);

    let server = spawn(ServeOptions {
        fleet: Some(view.clone()),
        ..options(state.path(), "127.0.0.1:0", None)
    })
    .unwrap();
    let client = Client::new(&server.base_url(), None);
    let first = std::time::Instant::now();
    let doc = client.fleet().unwrap();
    assert_eq!(doc.nodes.len(), 2);
    assert!(doc.nodes[0].error.is_none() && doc.nodes[0].status.is_some());
    assert!(doc.nodes[1].error.is_some() && doc.nodes[1].status.is_none());
    let (code, page) = client.get_raw("/fleet").unwrap();
    let page = String::from_utf8(page).unwrap();
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("1 of 2 nodes reached"), "{page}");
    assert!(
        page.contains("<tr class=\"node up\" data-node=\"up\">") && page.contains("alpha"),
        "{page}"
    );
    assert!(
        page.contains("<tr class=\"node down\" data-node=\"down\">")
            && page.contains("no heartbeat for 42s"),
        "{page}"
    );
    // Many readers at once: the nodes are read once for all of them.
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let url = server.base_url();
            std::thread::spawn(move || Client::new(&url, None).fleet().unwrap())
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap().nodes.len(), 2);
    }
    // Once, unless this machine was slow enough for the 5 s cache to run out.
    let allowed = 1 + first.elapsed().as_secs() as usize / 5;
    assert!(view.reads.load(Ordering::SeqCst) <= allowed);
    // The node's own pages link to the fleet's.
    let (_, front) = client.get_raw("/").unwrap();
    assert!(
        String::from_utf8(front)
            .unwrap()
            .contains("href=\"/fleet\"")
    );
}

/// `--node https://…` is spoken over TLS: an https URL to this plain-HTTP server gets
/// as far as a TLS handshake, which fails on the server's plain answer; it is not refused
/// as a scheme the client cannot speak.
#[test]
fn the_client_speaks_tls_to_https_urls() {
    let state = state_with_one_target();
    let server = spawn(options(state.path(), "127.0.0.1:0", None)).unwrap();
    let https = server.base_url().replacen("http://", "https://", 1);
    let err = Client::new(&https, None).status().unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, fleet_serve::client::ClientError::Transport { .. }),
        "{text}"
    );
    assert!(
        text.starts_with(&format!("{https}/api/v1/status: ")),
        "{text}"
    );
    assert!(text.contains("corrupt message"), "{text}");
    server.stop().unwrap();
}
