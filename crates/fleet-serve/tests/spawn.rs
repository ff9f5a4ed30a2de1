//! `fleet_serve::spawn`, as the agent will use it: a server on its own thread over a
//! real state database, read through the typed client, stopped through its handle.

use fleet_serve::{Client, ServeError, ServeOptions, spawn};
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

#[test]
fn spawn_refuses_a_non_loopback_address_without_a_token_and_guards_with_one() {
    let state = state_with_one_target();
    let err = spawn(options(state.path(), "0.0.0.0:0", None)).unwrap_err();
    assert!(matches!(err, ServeError::NeedsToken(_)), "{err}");
    let err = spawn(options(state.path(), "127.0.0.1:0", Some(""))).unwrap_err();
    assert!(matches!(err, ServeError::EmptyToken), "{err}");
    let server = spawn(options(state.path(), "0.0.0.0:0", Some("tok"))).unwrap();
    assert!(server.base_url().starts_with("http://127.0.0.1:"));
    let right = Client::new(&server.base_url(), Some("tok".into()));
    assert_eq!(
        right.node().unwrap().cores,
        std::thread::available_parallelism().unwrap().get()
    );
    let wrong = Client::new(&server.base_url(), Some("tak".into()));
    assert_eq!(wrong.status().unwrap_err().status(), Some(401));
    let (code, body) = wrong.get_raw("/healthz").unwrap();
    assert_eq!((code, body.as_slice()), (200, &b"ok\n"[..]));
}

#[test]
fn a_state_without_a_database_answers_503_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn(options(dir.path(), "127.0.0.1:0", None)).unwrap();
    let client = Client::new(&server.base_url(), None);
    assert_eq!(client.status().unwrap_err().status(), Some(503));
    assert!(
        !dir.path().join("fleet.db").exists(),
        "the server created a database"
    );
}
