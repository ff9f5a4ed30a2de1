//! The live view's remote source against a real API server (`fleet_serve::spawn` over a
//! real state database): what the view shows of a node is what the server serves,
//! read through the same document types.

use fleet_store::{Db, Sample, TargetRecord};
use fleet_tui::{Client, RemoteSource, Source};

fn temp_dir() -> tempfile::TempDir {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-tmp");
    std::fs::create_dir_all(&root).unwrap();
    tempfile::tempdir_in(root).unwrap()
}

#[test]
fn a_remote_node_shows_its_name_figures_and_history() {
    let state = temp_dir();
    let db = Db::open(&state.path().join("fleet.db")).unwrap();
    std::fs::write(state.path().join("node-name"), "node-7\n").unwrap();
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
    let server = fleet_serve::spawn(fleet_serve::ServeOptions {
        state_dir: state.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        token: None,
        known_targets: Vec::new(),
        fleet: None,
    })
    .unwrap();
    let mut source = RemoteSource::new(None, Client::new(&server.base_url(), None));
    let (told, data) = source.poll();
    let data = data.unwrap();
    // The node's own name (`/api/v1/node`), not its host:port.
    assert_eq!(told.as_deref(), Some("node-7"));
    let t = &data.targets[0];
    assert_eq!(
        (t.name.as_str(), t.execs, t.coverage),
        ("alpha", 1000, Some(7))
    );
    // The series the server holds, as the plots' history.
    let coverage: Vec<_> = t.history.iter().map(|p| p.coverage).collect();
    assert_eq!(coverage, [Some(5), Some(6), Some(7)]);
    server.stop().unwrap();
}
