//! `fuzzfleet serve` against the real thing: the binary on an ephemeral loopback port,
//! a real state database, and a live fixture campaign. One campaign is shared by the
//! API, metrics, OpenAPI (schemathesis) and browser (headless Chromium) checks.

mod serve_support;
mod support;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Map, Value};
use serve_support::Server;
use support::{Fleet, KillOnDrop, wait_until};

const MINUTE: Duration = Duration::from_secs(60);

/// A fleet whose state holds an empty database (no campaign needed).
fn fleet_with_empty_state() -> Fleet {
    let fleet = Fleet::new("[tier.t]\ntargets = [\"clean\"]\nbudget = \"1h\"\n");
    fleet_store::Db::open(&fleet.state().join("fleet.db")).unwrap();
    fleet
}

/// A unit may start `serve` before the first `run`: it serves an empty campaign (the
/// configured targets, never run) without making the state dir, and the campaign's state
/// once it appears.
#[test]
fn serve_started_before_the_first_run_picks_the_campaign_up() {
    let fleet = Fleet::new("[tier.t]\ntargets = [\"clean\"]\nbudget = \"1h\"\n");
    let mut server = Server::start(&fleet, "127.0.0.1:0", &[], &[]);
    let client = server.client(None);
    let status = client.status().unwrap();
    let clean = status.targets.iter().find(|t| t.name == "clean").unwrap();
    assert_eq!(clean.execs, 0, "{clean:?}");
    assert!(client.crashes().unwrap().buckets.is_empty());
    for page in ["/", "/target/clean", "/crashes"] {
        let r = server.get(page, &[]);
        assert_eq!(r.status, 200, "{page}: {}", r.text());
        assert!(!r.text().contains("no fuzzfleet state"), "{page}");
    }
    assert!(!fleet.state().exists(), "serve made the state dir");

    let out = fleet.run_once("3s", 1);
    assert!(out.status.success(), "{out:?}");
    wait_until("serve to read the campaign", MINUTE, || {
        client.status().is_ok_and(|s| {
            s.targets
                .iter()
                .any(|t| t.name == "clean" && t.execs > 0 && t.coverage.is_some())
        })
    });
    assert!(!client.series("clean").unwrap().points.is_empty());
    server.stop();
}

/// Pages load the built-in assets at addresses that carry their version, so a browser
/// that kept an older binary's script asks for the new one; at its version an asset is
/// cached for good, at a bare address for 5 minutes.
#[test]
fn pages_load_assets_at_versioned_addresses_cached_for_good() {
    let fleet = fleet_with_empty_state();
    let mut server = Server::start(&fleet, "127.0.0.1:0", &[], &[]);
    let page = server.get("/", &[]);
    assert_eq!(page.status, 200, "{}", page.text());
    let html = page.text();
    let mut seen = Vec::new();
    for bare in [
        "/assets/app.js",
        "/assets/style.css",
        "/assets/vendor/uPlot.iife.min.js",
        "/assets/vendor/uPlot.min.css",
    ] {
        let at = html
            .find(&format!("\"{bare}?v="))
            .unwrap_or_else(|| panic!("{bare} is not loaded at a versioned address: {html}"));
        let rest = &html[at + 1..];
        let url = &rest[..rest.find('"').unwrap()];
        let version = &url[url.find("?v=").unwrap() + 3..];
        assert_eq!(version.len(), 12, "{url}");
        assert!(version.bytes().all(|b| b.is_ascii_hexdigit()), "{url}");
        seen.push(version.to_string());

        let current = server.get(url, &[]);
        assert_eq!(current.status, 200, "{url}");
        assert_eq!(
            current.header("cache-control"),
            Some("max-age=31536000, immutable"),
            "{url}"
        );
        let plain = server.get(bare, &[]);
        assert_eq!(plain.status, 200, "{bare}");
        assert_eq!(plain.text(), current.text(), "{bare}");
        assert_eq!(plain.header("cache-control"), Some("max-age=300"));
        let stale = server.get(&format!("{bare}?v=000000000000"), &[]);
        assert_eq!(stale.header("cache-control"), Some("max-age=300"));
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 4, "each asset has its own version: {seen:?}");
    server.stop();
}

/// The node page says the campaign's errors as `status` does, with when the last one
/// happened, and nothing when it met none.
#[test]
fn the_node_page_says_the_campaigns_errors_and_when() {
    let fleet = fleet_with_empty_state();
    let mut server = Server::start(&fleet, "127.0.0.1:0", &[], &[]);
    let page = server.get("/", &[]);
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(!page.text().contains("errors-line"), "{}", page.text());
    // The machine's figures are there from the first request, not zeros.
    assert!(!page.text().contains("memory 0B of 0B"), "{}", page.text());
    let db = fleet_store::Db::open(&fleet.state().join("fleet.db")).unwrap();
    let doc = r#"{"count": 2, "last": "cannot record an event: <locked>", "last_at": "2026-12-07T14:05:57Z"}"#;
    db.put_meta(fleet_run::campaign::ERRORS_META, doc, 0)
        .unwrap();
    // The server reads the state at most every few seconds.
    let line = "<p class=\"errors\" id=\"errors-line\">errors: 2 (last at 2026-12-07T14:05:57Z: \
                cannot record an event: &lt;locked&gt;)</p>";
    wait_until("the page to say the errors", MINUTE, || {
        server.get("/", &[]).text().contains(line)
    });
    let table = String::from_utf8_lossy(&fleet.output(&["status"]).stdout).to_string();
    assert!(
        table
            .contains("errors: 2 (last at 2026-12-07T14:05:57Z: cannot record an event: <locked>)"),
        "{table}"
    );
    server.stop();
}

#[test]
fn serve_refuses_what_it_must_not_do_with_exit_2() {
    let fleet = fleet_with_empty_state();
    let out = fleet
        .cmd(&["serve", "--listen", "0.0.0.0:0"])
        .env_remove("FUZZFLEET_TOKEN")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("refusing to listen on 0.0.0.0:0 without a token"),
        "{stderr}"
    );

    let empty = fleet.path().join("empty-token");
    fs::write(&empty, "\n").unwrap();
    let out = fleet.output(&[
        "serve",
        "--listen",
        "0.0.0.0:0",
        "--token-file",
        empty.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is empty"));

    let out = fleet.output(&["serve", "--token-file", "/nonexistent/token"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/token"));

    let out = fleet.output(&["serve", "--listen", "not-an-address"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Every source of a token follows the same rules: trimmed, refused when blank or shorter
/// than 16 characters, with a line saying which source and why, and exit 2.
#[test]
fn blank_or_short_tokens_are_refused_from_every_source() {
    let fleet = fleet_with_empty_state();
    let refused = |args: &[&str], env: Option<&str>| {
        let mut cmd = fleet.cmd(&["serve", "--listen", "0.0.0.0:0"]);
        cmd.args(args);
        match env {
            Some(v) => cmd.env("FUZZFLEET_TOKEN", v),
            None => cmd.env_remove("FUZZFLEET_TOKEN"),
        };
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {stderr}");
        assert!(!stderr.contains("serving"), "{stderr}");
        stderr
    };
    for blank in ["", "   ", "\t\n"] {
        let stderr = refused(&[], Some(blank));
        assert!(
            stderr.contains("FUZZFLEET_TOKEN: the token is empty"),
            "{blank:?}: {stderr}"
        );
    }
    let stderr = refused(&[], Some("   short-token   "));
    assert!(
        stderr.contains("FUZZFLEET_TOKEN: the token is 11 characters long")
            && stderr.contains("at least 16"),
        "{stderr}"
    );
    for (name, text, why) in [
        ("blank", "   \n", "the token is empty"),
        ("short", "0123456789abcde\n", "15 characters long"),
    ] {
        let file = fleet.path().join(name);
        fs::write(&file, text).unwrap();
        let stderr = refused(&["--token-file", file.to_str().unwrap()], None);
        assert!(
            stderr.contains(&format!("the token file {}: ", file.display()))
                && stderr.contains(why),
            "{stderr}"
        );
    }
    // Sixteen characters once trimmed are enough.
    let file = fleet.path().join("ok");
    fs::write(&file, "  0123456789abcdef \n").unwrap();
    let mut server = Server::start(
        &fleet,
        "127.0.0.1:0",
        &["--token-file", file.to_str().unwrap()],
        &[],
    );
    let ok = server.get(
        "/api/v1/status",
        &[("Authorization", "Bearer 0123456789abcdef")],
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
    server.stop();
}

#[test]
fn a_token_guards_every_route_but_healthz_on_a_non_loopback_listener() {
    let fleet = fleet_with_empty_state();
    let token_file = fleet.path().join("token");
    fs::write(&token_file, "s3cret-token-xyz+/=\n").unwrap();
    let token = "s3cret-token-xyz+/=";
    // Bound on every address, reached through loopback only.
    let mut server = Server::start(
        &fleet,
        "0.0.0.0:0",
        &["--token-file", token_file.to_str().unwrap()],
        &[],
    );
    let right = format!("Bearer {token}");
    assert_eq!(server.get("/healthz", &[]).status, 200);
    for path in [
        "/api/v1/status",
        "/api/v1/node",
        "/api/v1/crashes",
        "/api/v1/crashes/abc",
        "/api/v1/targets/clean/series",
        "/api/openapi.json",
        "/metrics",
        "/",
        "/target/clean",
        "/assets/app.js",
        "/no/such/route",
    ] {
        let none = server.get(path, &[]);
        assert_eq!(none.status, 401, "{path} without a token");
        assert!(none.json()["error"].is_string(), "{path}");
        assert!(none.header("www-authenticate").is_some(), "{path}");
        let wrong = server.get(path, &[("Authorization", "Bearer s3cret-token-xyz+/")]);
        assert_eq!(wrong.status, 401, "{path} with a wrong token");
        let wrong = server.get(path, &[("Authorization", "Bearer s3cret-token-xyz+/=x")]);
        assert_eq!(wrong.status, 401, "{path} with a longer token");
    }
    for path in [
        "/api/v1/status",
        "/api/v1/node",
        "/metrics",
        "/",
        "/api/openapi.json",
    ] {
        let ok = server.get(path, &[("Authorization", &right)]);
        assert_eq!(ok.status, 200, "{path}: {}", ok.text());
    }
    // The typed client sends the token; without it, it reports the 401.
    assert_eq!(server.client(Some(token)).status().unwrap().version, 1);
    let err = server.client(None).status().unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    let err = server.client(Some("nope")).node().unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");

    // A browser opens a page once with ?token=: it is sent back without the token in
    // the address, with an HttpOnly cookie that then authenticates pages and the API.
    for guess in ["guess", "%20%20%20", "", "%20s3cret-token-xyz%2B%2F%3D%20x"] {
        let wrong = server.get(&format!("/?token={guess}"), &[]);
        assert_eq!(wrong.status, 401, "?token={guess}");
        assert_eq!(wrong.header("set-cookie"), None, "?token={guess}");
    }
    let first = server.get("/target/clean?token=s3cret-token-xyz%2B%2F%3D&x=1", &[]);
    assert_eq!(first.status, 303, "{}", first.text());
    assert_eq!(first.header("location"), Some("/target/clean?x=1"));
    let cookie = first.header("set-cookie").unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_string();
    let page = server.get("/target/clean", &[("Cookie", &pair)]);
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("Target clean"));
    let api = server.get("/api/v1/status", &[("Cookie", &pair)]);
    assert_eq!(api.status, 200);
    let bad = server.get("/api/v1/status", &[("Cookie", "fuzzfleet_token=guess")]);
    assert_eq!(bad.status, 401);
    server.stop();

    // The token may come from the environment; it is then required on loopback too.
    let mut server = Server::start(
        &fleet,
        "127.0.0.1:0",
        &[],
        &[("FUZZFLEET_TOKEN", " env-token-of-20-chars\n")],
    );
    assert_eq!(server.get("/api/v1/status", &[]).status, 401);
    let ok = server.get(
        "/api/v1/status",
        &[("Authorization", "Bearer env-token-of-20-chars")],
    );
    assert_eq!(ok.status, 200);
    server.stop();
}

/// A JSON value with every leaf replaced by its type (as in contract.rs).
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), shape(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(a) => Value::Array(a.first().map(shape).into_iter().collect()),
        Value::String(_) => "string".into(),
        Value::Number(_) => "number".into(),
        Value::Bool(_) => "bool".into(),
        Value::Null => "null".into(),
    }
}

#[test]
fn a_live_campaign_is_served_as_api_metrics_and_dashboard() {
    // disk_percent = 1: a disk alert is active on any machine, so its shape is pinned.
    let fleet = Fleet::new(
        "[alerts]\ndisk_percent = 1\n\
         [tier.t]\ntargets = [\"clean\", \"crash_magic\"]\nbudget = \"1h\"\nmode = \"parallel\"\n",
    );
    let mut run = KillOnDrop(fleet.start(&["--workers", "2"]));
    wait_until("the campaign's database", MINUTE, || {
        fleet.state().join("fleet.db").exists()
    });
    // `serve` beside `run` on the same state: it takes no lock.
    let mut server = Server::start(&fleet, "127.0.0.1:0", &[], &[("FUZZFLEET_NODE", "node-a")]);
    let client = server.client(None);
    wait_until(
        "a crash bucket and history of both targets",
        Duration::from_secs(90),
        || {
            // A bug triaged and minimized (pending entries come and go as triage runs).
            let crashed = client.crashes().is_ok_and(|c| {
                c.buckets
                    .iter()
                    .any(|b| b.signature.is_some() && b.minimized_path.is_some())
            });
            let history = ["clean", "crash_magic"].iter().all(|t| {
                client
                    .series(t)
                    .is_ok_and(|s| s.points.iter().filter(|p| p.coverage.is_some()).count() >= 2)
            });
            crashed && history
        },
    );

    check_api(&fleet, &server);
    check_metrics(&server);
    check_openapi_with_schemathesis(&fleet, &server);
    check_dashboard_in_chromium(&server);

    server.stop();
    run.stop();
}

fn check_api(fleet: &Fleet, server: &Server) {
    let client = server.client(None);
    let status = client.status().unwrap();
    // Every configured target is listed (the fixture project declares more than run).
    let names: BTreeSet<&str> = status.targets.iter().map(|t| t.name.as_str()).collect();
    assert!(
        names.is_superset(&BTreeSet::from(["clean", "crash_magic"])),
        "{names:?}"
    );
    let cli_status = fleet.status();
    let cli_names: BTreeSet<&str> = cli_status["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, cli_names);
    let clean = status.targets.iter().find(|t| t.name == "clean").unwrap();
    assert!(clean.execs > 0 && clean.coverage.is_some(), "{clean:?}");
    // The same document as `status --json`, field for field (live values aside).
    let cli = fleet.status();
    let api = serde_json::to_value(&status).unwrap();
    assert_eq!(shape(&api["targets"][0]), shape(&cli["targets"][0]));
    assert_eq!(
        api.as_object().unwrap().keys().collect::<Vec<_>>(),
        cli.as_object().unwrap().keys().collect::<Vec<_>>()
    );

    let crashes = client.crashes().unwrap();
    let cli_ids: BTreeSet<String> = fleet
        .buckets()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect();
    // Triaged buckets stay; untriaged entries may be filed between the two reads.
    let api_ids: BTreeSet<String> = crashes
        .buckets
        .iter()
        .filter(|b| b.signature.is_some())
        .map(|b| b.id.clone())
        .collect();
    assert!(
        api_ids.is_subset(&cli_ids) && !api_ids.is_empty(),
        "{api_ids:?} {cli_ids:?}"
    );
    let b = crashes
        .buckets
        .iter()
        .find(|b| b.signature.is_some() && b.minimized_path.is_some())
        .unwrap();
    assert_eq!(b.target, "crash_magic");
    assert_eq!(b.nodes, vec!["node-a".to_string()]);

    let doc = client.bucket(&b.id).unwrap();
    assert_eq!(doc.bucket.id, b.id);
    let report = doc.report.clone().expect("a report");
    assert!(
        report.contains("crash_magic") || report.contains("panicked"),
        "{report}"
    );
    let (code, input) = client
        .get_raw(&format!("/api/v1/crashes/{}/input", b.id))
        .unwrap();
    assert_eq!(code, 200);
    assert_eq!(input, fs::read(&b.input_path).unwrap());
    let download = server.get(&format!("/api/v1/crashes/{}/input", b.id), &[]);
    assert_eq!(
        download.header("content-type"),
        Some("application/octet-stream")
    );
    assert!(
        download
            .header("content-disposition")
            .unwrap()
            .starts_with("attachment")
    );

    let series = client.series("crash_magic").unwrap();
    assert!(!series.points.is_empty() && series.points.len() <= fleet_serve::MAX_POINTS);
    assert!(series.points.windows(2).all(|w| w[0].t <= w[1].t));
    assert!(
        series.bugs.iter().any(|c| c.id == b.id),
        "{:?}",
        series.bugs
    );
    // One mark per bug, however many findings it has.
    let ids: BTreeSet<&str> = series.bugs.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids.len(), series.bugs.len(), "{:?}", series.bugs);
    assert!(series.crash_bins.iter().map(|c| c.inputs).sum::<i64>() >= 1);
    // A window that starts now has no points yet; one from the epoch has them all.
    let now = fleet_store::now_ms();
    assert!(
        client
            .series_since("clean", now + 60_000)
            .unwrap()
            .points
            .is_empty()
    );
    // The default window is served from a cache up to a second old, and the campaign
    // adds a sample every 10 s: the two agree once both read the same rows.
    let mut last = (0, 0);
    let agree = (0..100).any(|_| {
        last = (
            client.series_since("clean", 0).unwrap().samples,
            client.series("clean").unwrap().samples,
        );
        last.0 == last.1 || {
            std::thread::sleep(Duration::from_millis(100));
            false
        }
    });
    assert!(
        agree,
        "?since=0 and the default window disagree for 10 s: {last:?} samples"
    );
    let rfc = server.get(
        "/api/v1/targets/clean/series?since=2020-01-01T00:00:00Z",
        &[],
    );
    assert_eq!(rfc.status, 200, "{}", rfc.text());

    let node = client.node().unwrap();
    assert_eq!(node.node, "node-a");
    assert!(node.cores >= 1);
    assert_eq!(
        Path::new(&node.state_dir).canonicalize().unwrap(),
        fleet.state().canonicalize().unwrap()
    );

    // Bad input: JSON errors with 4xx, never a crash or a file outside the state.
    for (path, code) in [
        ("/api/v1/targets/no_such_target/series", 404),
        ("/api/v1/targets/..%2F..%2Fetc/series", 404),
        ("/api/v1/targets/clean/series?since=yesterday", 400),
        (
            "/api/v1/targets/clean/series?since=99999999999999999999999",
            400,
        ),
        ("/api/v1/crashes/0123456789ab", 404),
        ("/api/v1/crashes/..%2F..%2Fetc%2Fpasswd", 404),
        ("/api/v1/crashes/..%2F..%2Fetc%2Fpasswd/input", 404),
        ("/api/v1/crashes/%ff%fe", 400),
        ("/api/v1/nothing", 404),
    ] {
        let r = server.get(path, &[]);
        assert_eq!(r.status, code, "{path}: {}", r.text());
        assert!(r.json()["error"].is_string(), "{path}");
    }
    assert_eq!(server.get("/healthz", &[]).text(), "ok\n");

    let mut s = serde_json::to_value(&series).unwrap();
    // A sample saved before the target's first run reported has no coverage yet (the
    // OpenAPI document says so): the shape is a point's once it has.
    let measured = s["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| !p["coverage"].is_null())
        .cloned()
        .unwrap_or_else(|| panic!("no measured point in {:?}", series.points));
    s["points"] = Value::Array(vec![measured]);
    insta::assert_json_snapshot!("series_shape", shape(&s));
    insta::assert_json_snapshot!("bucket_shape", shape(&serde_json::to_value(&doc).unwrap()));
    insta::assert_json_snapshot!("node_shape", shape(&serde_json::to_value(&node).unwrap()));
    insta::assert_json_snapshot!("status_api_shape", shape(&api));
}

fn check_metrics(server: &Server) {
    let r = server.get("/metrics", &[]);
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = r.text();
    let mut families = Vec::new();
    let mut typed = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge"].contains(&kind), "{line}");
            typed.insert(name.to_string());
            families.push(format!("{name} {kind}"));
        } else if !line.starts_with("# HELP ") {
            // name{labels} value: every sample belongs to a declared family and parses.
            let (series, value) = line.rsplit_once(' ').unwrap();
            let name = series.split('{').next().unwrap();
            assert!(typed.contains(name), "undeclared: {line}");
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
    for target in ["clean", "crash_magic"] {
        for family in [
            "fuzzfleet_execs_total",
            "fuzzfleet_execs_per_second",
            "fuzzfleet_coverage",
            "fuzzfleet_corpus_files",
            "fuzzfleet_corpus_bytes",
            "fuzzfleet_crashes_total",
            "fuzzfleet_buckets",
            "fuzzfleet_worker_restarts_total",
        ] {
            let prefix = format!("{family}{{target=\"{target}\"}} ");
            assert!(
                text.lines().any(|l| l.starts_with(&prefix)),
                "{prefix}\n{text}"
            );
        }
    }
    let crashes: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("fuzzfleet_crashes_total{target=\"crash_magic\"} "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(crashes >= 1.0);
    assert!(text.contains("\nfuzzfleet_system_memory_total_bytes "));
    insta::assert_snapshot!("metrics_families", families.join("\n"));
}

/// Whether a tool is there; when it is not, the one rule for a missing tool
/// ([`fleet_testkit::missing`]: a failure under `FUZZFLEET_CI=1`, else a SKIPPED line).
fn required(tool: &str, works: bool) -> bool {
    if !works {
        fleet_testkit::missing(&format!("{tool} is not installed (`.ci/run` installs it)"));
    }
    works
}

fn check_openapi_with_schemathesis(fleet: &Fleet, server: &Server) {
    let spec: Value = server
        .client(None)
        .get_raw("/api/openapi.json")
        .map(|(_, b)| serde_json::from_slice(&b).unwrap())
        .unwrap();
    for path in [
        "/api/v1/status",
        "/api/v1/node",
        "/api/v1/crashes",
        "/api/v1/crashes/{id}",
        "/api/v1/crashes/{id}/input",
        "/api/v1/crashes/{id}/minimized",
        "/api/v1/targets/{name}/series",
        "/metrics",
        "/healthz",
    ] {
        assert!(
            spec["paths"][path]["get"].is_object(),
            "{path} undocumented"
        );
    }
    let st = Command::new("st").arg("--version").output();
    if !required("schemathesis (st)", st.is_ok_and(|o| o.status.success())) {
        return;
    }
    // A second server on the same state, with a token, so the checks of auth run too.
    let mut guarded = Server::start(
        fleet,
        "127.0.0.1:0",
        &[],
        &[("FUZZFLEET_TOKEN", "schemathesis-token")],
    );
    // st keeps a cache dir in its working directory: not in the source tree.
    let cwd = tempfile::tempdir().unwrap();
    let out = Command::new("st")
        .current_dir(cwd.path())
        .args(["run", &format!("{}/api/openapi.json", guarded.url)])
        .args(["--header", "Authorization: Bearer schemathesis-token"])
        .args(["--checks", "all", "--max-examples", "25", "--workers", "1"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--request-timeout", "10", "--max-time", "25"])
        .output()
        .unwrap();
    guarded.stop();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found the API and its OpenAPI document disagree:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// The page's DOM after its scripts ran for a while (headless Chromium, virtual time).
fn rendered(browser: &str, url: &str, screenshot: Option<&Path>) -> String {
    rendered_in(browser, url, screenshot, "1400,900")
}

/// [`rendered`] in a window of `size` ("W,H").
fn rendered_in(browser: &str, url: &str, screenshot: Option<&Path>, size: &str) -> String {
    // Its profile and its own temporary files (it leaves empty .org.chromium.* files
    // behind in TMPDIR) stay under the repository's test dir, out of the machine's /tmp.
    let root = fleet_testkit::repo_root().join("target/test-tmp");
    fs::create_dir_all(&root).unwrap();
    let profile = tempfile::tempdir_in(&root).unwrap();
    let mut cmd = Command::new(browser);
    cmd.env("TMPDIR", profile.path());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .arg("--virtual-time-budget=5000")
    .arg(format!("--window-size={size}"));
    match screenshot {
        Some(file) => cmd.arg(format!("--screenshot={}", file.display())),
        None => cmd.arg("--dump-dom"),
    };
    let out = cmd.arg(url).output().unwrap();
    assert!(
        out.status.success(),
        "chromium failed on {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every value of attribute `attr` in `html` (enough for the markup we write).
fn attrs<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
    html.split(&format!(" {attr}=\""))
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect()
}

/// The text of the element with `id` (its inner HTML up to the element's end tag).
fn element<'a>(html: &'a str, tag: &str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<{tag} id=\"{id}\""))
        .unwrap_or_else(|| panic!("no <{tag} id={id}>:\n{html}"));
    let rest = &html[start..];
    let body = &rest[rest.find('>').unwrap() + 1..];
    &body[..body.find(&format!("</{tag}>")).unwrap()]
}

/// HTML entities the pages write, decoded.
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// `/crashes` has a row per bug (as the API lists them), its filters work, and each
/// bucket page has commands to paste that name the real binary and input.
fn check_crash_pages(browser: &str, server: &Server) {
    let client = server.client(None);
    let bug_ids = || -> BTreeSet<String> {
        client
            .crashes()
            .unwrap()
            .buckets
            .into_iter()
            .filter(|b| b.signature.is_some())
            .map(|b| b.id)
            .collect()
    };
    // Triage may file a bug between two reads: compare with the API read on each side.
    let (dom, api) = loop {
        let before = bug_ids();
        let dom = rendered(browser, &format!("{}/crashes", server.url), None);
        if bug_ids() == before {
            break (dom, before);
        }
    };
    let rows: BTreeSet<String> = dom
        .split("<tr class=\"bucket\" data-id=\"")
        .skip(1)
        .map(|r| r.split('"').next().unwrap().to_string())
        .collect();
    assert_eq!(rows, api, "a row per bug:\n{dom}");
    assert_eq!(
        dom.matches("<tr class=\"bucket\"").count(),
        api.len(),
        "one row each"
    );
    let crashes = client.crashes().unwrap();
    let b = crashes
        .buckets
        .iter()
        .find(|b| b.signature.is_some() && b.minimized_path.is_some())
        .unwrap();
    let severity = b.severity.clone().unwrap();
    for (query, has) in [
        ("target=clean", false),
        ("target=crash_magic", true),
        (&format!("severity={severity}") as &str, true),
        ("state=fixed", false),
        ("state=open", true),
    ] {
        let page = server.get(&format!("/crashes?{query}"), &[]);
        assert_eq!(page.status, 200, "{query}");
        let text = page.text();
        assert_eq!(
            text.contains(&format!("data-id=\"{}\"", b.id)),
            has,
            "{query}:\n{text}"
        );
        assert!(text.contains("<form id=\"filters\""), "{query}");
    }

    let page = rendered(browser, &format!("{}/bucket/{}", server.url, b.id), None);
    let repro = unescape(element(&page, "pre", "repro"));
    let lines: Vec<&str> = repro.lines().collect();
    assert!(
        lines[0].starts_with("fuzzfleet --config ")
            && lines[0].ends_with(&format!("crashes repro {}", b.id)),
        "{repro}"
    );
    // libFuzzer's own command: the target's real binary on the (minimized) input.
    let (binary, input) = lines[1].split_once(' ').unwrap();
    assert!(
        binary.ends_with("crash_magic") && Path::new(binary).is_file(),
        "{repro}"
    );
    let minimized = b.minimized_path.as_deref().unwrap();
    assert_eq!(
        Path::new(input).canonicalize().unwrap(),
        Path::new(minimized).canonicalize().unwrap()
    );
    let size = fs::metadata(minimized).unwrap().len();
    assert!(
        page.contains(&format!("id=\"minimized-size\" data-bytes=\"{size}\"")),
        "{page}"
    );
    let dump = unescape(element(&page, "pre", "hexdump"));
    let first = fs::read(minimized).unwrap();
    let hex: String = first.iter().take(4).map(|b| format!("{b:02x} ")).collect();
    assert!(dump.starts_with(&format!("00000000  {hex}")), "{dump}");
    assert!(page.contains("id=\"download-minimized\""), "{page}");
    let (code, got) = client
        .get_raw(&format!("/api/v1/crashes/{}/minimized", b.id))
        .unwrap();
    assert_eq!((code, got), (200, first));
    let actions = unescape(element(&page, "pre", "actions"));
    assert!(
        actions.contains(&format!("crashes merge {} INTO", b.id))
            && actions.contains(&format!("crashes split {}", b.id)),
        "{actions}"
    );
    let history = element(&page, "table", "history");
    let counted: i64 = attrs(history, "data-crashes")
        .iter()
        .map(|n| n.parse::<i64>().unwrap())
        .sum();
    assert!(counted >= 1, "{history}");
}

fn check_dashboard_in_chromium(server: &Server) {
    let Some(browser) = chromium() else {
        required("chromium", false);
        return;
    };
    let dom = rendered(browser, &format!("{}/", server.url), None);
    let status = server.client(None).status().unwrap();
    // A row per target.
    let rows: Vec<&str> = dom
        .split("<tr class=\"target\" data-target=\"")
        .skip(1)
        .collect();
    let row_names: BTreeSet<&str> = rows.iter().map(|r| r.split('"').next().unwrap()).collect();
    let names: BTreeSet<&str> = status.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(row_names, names, "{dom}");
    // The running targets' sparklines were drawn by the script from the series API.
    for target in ["clean", "crash_magic"] {
        let row = rows
            .iter()
            .find(|r| r.starts_with(&format!("{target}\"")))
            .unwrap();
        let row = row.split("</tr>").next().unwrap();
        let points: usize = attrs(row, "data-points")[0].parse().unwrap();
        assert!(points > 0, "{target}: empty sparkline: {row}");
        assert!(row.contains("<canvas"), "{row}");
    }
    assert!(
        attrs(&dom, "data-refreshed")
            .iter()
            .any(|n| n.parse::<u32>().unwrap_or(0) >= 1)
    );

    // Follow the bucket link the page shows, as a click would.
    let link = dom
        .split("class=\"bucket-link\" href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no bucket link:\n{dom}"));
    let bucket = rendered(browser, &format!("{}{link}", server.url), None);
    assert!(bucket.contains("<pre id=\"report\">"), "{bucket}");
    assert!(!bucket.contains("(no report was captured)"), "{bucket}");
    assert!(bucket.contains("id=\"download\""), "{bucket}");
    check_crash_pages(browser, server);
    let target = rendered(browser, &format!("{}/target/crash_magic", server.url), None);
    // Every libFuzzer chart has points; line coverage has none until a coverage round ran
    // (tests/coverage.rs covers that chart's data).
    // A campaign minutes old is drawn from its first sample, not in the last pixels of
    // the default day: every chart spans well under an hour.
    for chart in ["execs", "coverage", "corpus", "line_coverage", "crashes"] {
        let tag = tag_of(&target, &format!("chart-{chart}"));
        let points = num(tag, "data-points");
        assert!(!attr(tag, "data-x-ticks").is_empty(), "{tag}");
        let span = num(tag, "data-x-max") - num(tag, "data-x-min");
        assert!(
            (60_000..3_600_000).contains(&span),
            "{chart}: span {span}: {tag}"
        );
        if chart == "line_coverage" {
            assert_eq!(points, 0, "{tag}");
        } else {
            assert!(points > 0, "{tag}");
        }
    }
    assert!(target.contains("no coverage round yet"), "{target}");
    let bars = tag_of(&target, "chart-crashes");
    assert!(num(bars, "data-markers") >= 1, "{bars}");

    let artifacts = fleet_testkit::repo_root().join("target/test-artifacts");
    fs::create_dir_all(&artifacts).unwrap();
    let png = artifacts.join("dashboard.png");
    let _ = fs::remove_file(&png);
    rendered(browser, &format!("{}/", server.url), Some(&png));
    assert!(fs::metadata(&png).unwrap().len() > 1000);
    rendered(
        browser,
        &format!("{}/target/crash_magic", server.url),
        Some(&artifacts.join("dashboard-target.png")),
    );
}

/// The opening tag of the element with `id`: where the charts keep their state.
fn tag_of<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html
        .find(&format!(" id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element {id}:\n{html}"));
    let start = html[..at].rfind('<').unwrap();
    let end = at + html[at..].find('>').unwrap();
    &html[start..=end]
}

fn attr<'a>(tag: &'a str, name: &str) -> &'a str {
    attrs(tag, name)
        .first()
        .copied()
        .unwrap_or_else(|| panic!("no {name} in {tag}"))
}

fn num(tag: &str, name: &str) -> i64 {
    attr(tag, name)
        .parse()
        .unwrap_or_else(|e| panic!("{name} in {tag}: {e}"))
}

/// What the history test adds to [`serve_support::history_state`], written through the
/// store as a campaign that ended leaves it: each target's last rate and its run's
/// average and when it last found new coverage, the coverage-following schedule's shares
/// and one target's strategies, and the older bug regressed in a later build (the newer
/// one is fixed).
fn finish_history(state: &Path, planted: &serve_support::History) {
    let db = fleet_store::Db::open(&state.join("fleet.db")).unwrap();
    let now = fleet_store::now_ms();
    for (name, last, avg) in [
        ("crash_magic", 2437.3, 2391.8),
        ("clean", 12_345.6, 9_876.5),
    ] {
        db.put_target_rates(&fleet_store::TargetRates {
            name: name.into(),
            last_execs_per_sec: last,
            avg_execs_per_sec: avg,
            lost_findings: 0,
            updated_at: now,
        })
        .unwrap();
    }
    db.set_bucket_state(&planted.bugs[0], "regressed", Some(&"d".repeat(40)), now)
        .unwrap();
    // The newer bug reproduces only sometimes: minimization ran its input, which did
    // not crash (the store's mark for that is an empty minimized path).
    db.set_bucket_minimized(&planted.bugs[1], "", "").unwrap();
    // New coverage came last shortly before each run ended.
    for (name, ago) in [("crash_magic", 240_000), ("clean", 5_400_000)] {
        let mut t = db.target(name).unwrap().unwrap();
        t.last_new_coverage_at = Some(now - ago);
        db.put_target(&t).unwrap();
    }
    let strategy = |label: &str, runs: u64, cpu_s: f64, features: u64, bugs: u64, chosen: f64| {
        let rate = features as f64 / cpu_s;
        serde_json::json!({
            "label": label, "runs": runs, "cpu_s": cpu_s, "features": features, "bugs": bugs,
            "rate": rate, "chosen_share": chosen,
            "text": format!("{label}: {rate:.2} new features/cpu-s over {runs} runs, chosen {:.0} %", chosen * 100.0),
        })
    };
    let portfolio = serde_json::json!({
        "shares": [
            {"target": "crash_magic", "share": 0.7, "rate": 0.42,
             "reason": "growing: 0.42 new features/worker-s: share 70 % (new bug 30m ago)"},
            {"target": "clean", "share": 0.3, "rate": 0.01, "reason": "plateaued 6h 25m: share 30 %"},
        ],
        "bandits": {"crash_magic": [
            strategy("value_profile+dict:recommended", 14, 5400.0, 310, 2, 0.62),
            strategy("plain", 9, 3600.0, 95, 0, 0.38),
        ]},
    });
    db.put_meta(
        fleet_run::report::PORTFOLIO_META,
        &portfolio.to_string(),
        now,
    )
    .unwrap();
}

/// The element carrying `data-field="{name}"` in `html`: its opening tag and its text.
fn field<'a>(html: &'a str, name: &str) -> (&'a str, &'a str) {
    let at = html
        .find(&format!(" data-field=\"{name}\""))
        .unwrap_or_else(|| panic!("no field {name}:\n{html}"));
    let start = html[..at].rfind('<').unwrap();
    let end = at + html[at..].find('>').unwrap();
    let text = &html[end + 1..];
    (&html[start..=end], &text[..text.find('<').unwrap()])
}

/// A target's row of the overview (up to its end tag).
fn row_of<'a>(dom: &'a str, target: &str) -> &'a str {
    dom.split(&format!("<tr class=\"target\" data-target=\"{target}\""))
        .nth(1)
        .unwrap_or_else(|| panic!("no row for {target}:\n{dom}"))
        .split("</tr>")
        .next()
        .unwrap()
}

/// A target's sample of a `/metrics` family.
fn gauge(metrics: &str, family: &str, target: &str) -> f64 {
    let prefix = format!("{family}{{target=\"{target}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {prefix}in\n{metrics}"))
        .parse()
        .unwrap()
}

/// A stopped target's execs/s cell shows its last rate and its run's average, labelled,
/// the numbers of the status document (as `status --json` prints them).
fn assert_last_and_average(html: &str, t: &fleet_serve::docs::TargetStatus) {
    let (tag, text) = field(html, "execs_per_sec");
    let value = |name| attr(tag, name).parse::<f64>().unwrap();
    assert!(
        t.last_execs_per_sec > 0.0 && t.avg_execs_per_sec > 0.0,
        "{t:?}"
    );
    assert_eq!(value("data-last"), t.last_execs_per_sec, "{tag}");
    assert_eq!(value("data-avg"), t.avg_execs_per_sec, "{tag}");
    assert_eq!(attr(tag, "data-running"), "false", "{tag}");
    let rate = fleet_run::fmt::rate;
    assert_eq!(
        text,
        format!(
            "last {}/s · avg {}/s",
            rate(t.last_execs_per_sec),
            rate(t.avg_execs_per_sec)
        ),
        "{tag}"
    );
}

/// Three days of a campaign (a crashing target with 300 findings in 2 bugs, one fixed
/// and one regressed, and a 9-minute gap; a quiet one; targets never run), as Chromium
/// renders it: charts with time and value axes over every range, one marker per bug,
/// crash bars; the overview's totals, rates and counts equal to the API's and
/// `/metrics`', under the names docs/crashes.md gives them, its sorting and each target's
/// place in the schedule; the crashes page a row per bug; fixed and regressed bugs.
#[test]
fn a_campaigns_history_is_drawn_with_axes_one_marker_per_bug_and_true_totals() {
    let Some(browser) = chromium() else {
        required("chromium", false);
        return;
    };
    let fleet = Fleet::new("[tier.t]\ntargets = [\"clean\", \"crash_magic\"]\nbudget = \"1h\"\n");
    let planted = serve_support::history_state(&fleet.state());
    finish_history(&fleet.state(), &planted);
    let mut server = Server::start(&fleet, "127.0.0.1:0", &[], &[]);
    let client = server.client(None);
    let url = |path: &str| format!("{}{path}", server.url);

    // A week: both bugs are one marker each, on every chart, whatever the findings.
    let dom = rendered(browser, &url("/target/crash_magic?range=7d"), None);
    for chart in ["execs", "coverage", "corpus", "line_coverage", "crashes"] {
        let tag = tag_of(&dom, &format!("chart-{chart}"));
        assert_eq!(attr(tag, "data-range"), "7d", "{tag}");
        let x = attr(tag, "data-x-ticks");
        let y = attr(tag, "data-y-ticks");
        assert!(x.split('|').count() >= 3, "{chart}: time axis labels {x:?}");
        assert!(
            y.split('|').count() >= 2,
            "{chart}: value axis labels {y:?}"
        );
        let span = num(tag, "data-x-max") - num(tag, "data-x-min");
        assert!((span - 7 * 86_400_000).abs() < 60_000, "{chart}: {span}");
        assert!(num(tag, "data-points") > 0, "{chart}: {tag}");
        assert_eq!(num(tag, "data-markers"), 2, "{chart}: one per bug: {tag}");
        let ids: BTreeSet<&str> = attr(tag, "data-marker-ids").split(' ').collect();
        assert_eq!(
            ids,
            planted.bugs.iter().map(String::as_str).collect(),
            "{chart}"
        );
    }
    assert_eq!(planted.findings, 300);
    assert_eq!(dom.matches("class=\"bug-marker\"").count(), 2 * 5, "{dom}");
    let execs = tag_of(&dom, "chart-execs");
    assert!(
        attr(execs, "data-y-ticks")
            .split('|')
            .all(|l| l.ends_with("/s")),
        "{execs}"
    );
    // Line coverage is drawn on 0–100 %, so 9.7 % sits low.
    let line = tag_of(&dom, "chart-line_coverage");
    assert_eq!(num(line, "data-points"), 4, "{line}");
    assert!(attr(line, "data-y-ticks").contains("100 %"), "{line}");
    assert!(attr(line, "data-y-ticks").starts_with("0 %"), "{line}");
    let bars = tag_of(&dom, "chart-crashes");
    assert!(num(bars, "data-bars") >= 2, "{bars}");
    // The bars' width is written as every duration is (fleet_docs::fmt::duration).
    let bin_ms = client
        .series_since("crash_magic", fleet_store::now_ms() - 7 * 86_400_000)
        .unwrap()
        .bin_ms;
    let window = element(&dom, "span", "window");
    let width = fleet_run::fmt::duration(Duration::from_millis(bin_ms as u64));
    assert!(
        window.ends_with(&format!(" samples, bars of {width}")),
        "{window}"
    );

    // 30 days and all the history: the window asked for, and the history's extent, the
    // same on every chart (three days, less at most one of the 600 slices the points fold
    // into, 7.2 min here); both bugs marked on each.
    for (range, min_span, max_span) in [
        ("30d", 30 * 86_400_000 - 60_000, 30 * 86_400_000 + 60_000),
        ("all", 3 * 86_400_000 - 600_000, 3 * 86_400_000 + 60_000),
    ] {
        let dom = rendered(
            browser,
            &url(&format!("/target/crash_magic?range={range}")),
            None,
        );
        assert!(
            dom.contains(&format!("data-range=\"{range}\" class=\"active\""))
                || dom.contains(&format!("class=\"active\" data-range=\"{range}\"")),
            "{range}: the range shown as chosen"
        );
        for chart in ["execs", "coverage", "corpus", "crashes"] {
            let tag = tag_of(&dom, &format!("chart-{chart}"));
            assert_eq!(attr(tag, "data-range"), range, "{tag}");
            assert!(num(tag, "data-points") > 0, "{range} {chart}: {tag}");
            assert_eq!(num(tag, "data-markers"), 2, "{range} {chart}: {tag}");
            let span = num(tag, "data-x-max") - num(tag, "data-x-min");
            assert!(
                (min_span..=max_span).contains(&span),
                "{range} {chart}: span {span}: {tag}"
            );
            assert!(
                (num(tag, "data-x-max") - fleet_store::now_ms()).abs() < 120_000,
                "{range} {chart} ends now: {tag}"
            );
        }
    }

    // A day: the 9-minute gap between runs an hour ago is a gap in the lines.
    let dom = rendered(browser, &url("/target/crash_magic"), None);
    for chart in ["execs", "coverage", "corpus"] {
        let tag = tag_of(&dom, &format!("chart-{chart}"));
        assert_eq!(attr(tag, "data-range"), "24h", "{tag}");
        assert_eq!(num(tag, "data-gaps"), 1, "{tag}");
        assert_eq!(attr(tag, "data-marker-ids"), planted.bugs[1], "{tag}");
    }
    // Its header after the run: the last rate and the run's average (after the page's
    // script refreshed it from the API), the crash hits under their name, its share and
    // strategies as the status document has them.
    let status = client.status().unwrap();
    let magic = status
        .targets
        .iter()
        .find(|t| t.name == "crash_magic")
        .unwrap();
    let figures = element(&dom, "table", "figures");
    assert_last_and_average(figures, magic);
    assert!(
        figures.contains("<th>crash hits</th><td data-field=\"crashes\">"),
        "{figures}"
    );
    assert_eq!(field(figures, "crashes").1, magic.crashes.to_string());
    assert!(!figures.contains(">crashes<"), "{figures}");
    let strategies = element(&dom, "table", "strategies");
    let labels: Vec<&str> = attrs(strategies, "data-strategy");
    let want: Vec<&str> = magic.strategies.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(labels, want, "{strategies}");
    assert_eq!(want.len(), 2);

    // An hour: only the bug first seen half an hour ago.
    let dom = rendered(browser, &url("/target/crash_magic?range=1h"), None);
    let bars = tag_of(&dom, "chart-crashes");
    assert_eq!(attr(bars, "data-marker-ids"), planted.bugs[1], "{bars}");
    let span = num(bars, "data-x-max") - num(bars, "data-x-min");
    assert!((span - 3_600_000).abs() < 60_000, "{span}");
    let series = client
        .series_since("crash_magic", fleet_store::now_ms() - 3_600_000)
        .unwrap();
    assert_eq!(series.bugs.len(), 1);
    assert_eq!(
        num(bars, "data-bars") as usize,
        series.crash_bins.len(),
        "{bars}"
    );

    // The overview: its totals are the API's numbers.
    let dom = rendered(browser, &url("/"), None);
    let status = client.status().unwrap();
    let crashes = client.crashes().unwrap();
    let totals = tag_of(&dom, "totals");
    let sum = |f: fn(&fleet_serve::docs::TargetStatus) -> i64| -> i64 {
        status.targets.iter().map(f).sum()
    };
    assert_eq!(num(totals, "data-execs"), sum(|t| t.execs), "{totals}");
    assert_eq!(num(totals, "data-crashes"), sum(|t| t.crashes), "{totals}");
    assert_eq!(num(totals, "data-inputs"), sum(|t| t.inputs), "{totals}");
    // The three counts under the names docs/crashes.md gives them; no rate of 0 when
    // nothing runs.
    let totals_text = element(&dom, "p", "totals");
    for (n, name) in [
        (sum(|t| t.crashes), "crash hits"),
        (sum(|t| t.inputs), "crashing inputs"),
    ] {
        assert!(n > 1, "{name}: {n}");
        assert!(
            totals_text.contains(&format!("{n} {name}")),
            "{name}: {totals_text}"
        );
    }
    assert!(!totals_text.contains(" crashes"), "{totals_text}");
    assert!(!totals_text.contains("at <b>0</b>/s"), "{totals_text}");
    assert!(totals_text.contains("none fuzzing now"), "{totals_text}");
    assert!(
        dom.contains("href=\"/?sort=crashes\">crash hits</a>"),
        "the column's name: {dom}"
    );
    assert_eq!(
        num(totals, "data-running"),
        status
            .targets
            .iter()
            .filter(|t| t.state == "running")
            .count() as i64
    );
    assert_eq!(num(totals, "data-targets"), status.targets.len() as i64);
    let bugs: Vec<_> = crashes
        .buckets
        .iter()
        .filter(|b| b.signature.is_some())
        .collect();
    assert_eq!(num(totals, "data-bugs"), bugs.len() as i64);
    for sev in ["high", "low"] {
        assert_eq!(
            num(totals, &format!("data-bugs-{sev}")),
            bugs.iter()
                .filter(|b| b.severity.as_deref() == Some(sev))
                .count() as i64,
            "{sev}"
        );
    }
    assert_eq!(
        dom.matches("class=\"system\"").count(),
        1,
        "the system line once"
    );
    // Never run is told apart; the two that ran have a sparkline with min and max.
    for t in &status.targets {
        let row = dom
            .split(&format!("<tr class=\"target\" data-target=\"{}\"", t.name))
            .nth(1)
            .unwrap_or_else(|| panic!("no row for {}:\n{dom}", t.name));
        let row = row.split("</tr>").next().unwrap();
        let spark = row.split("class=\"spark\"").nth(1).unwrap();
        if t.execs == 0 {
            assert!(row.starts_with(" data-state=\"never run\""), "{row}");
            assert_eq!(attrs(spark, "data-points")[0], "0", "{row}");
        } else {
            assert!(row.starts_with(" data-state=\"stopped\""), "{row}");
            let min: i64 = attrs(spark, "data-min")[0].parse().unwrap();
            let max: i64 = attrs(spark, "data-max")[0].parse().unwrap();
            assert!(min < max && max <= t.coverage.unwrap(), "{row}");
            assert!(
                row.contains("class=\"spark-min\">min ")
                    && row.contains("class=\"spark-max\">max "),
                "{row}"
            );
        }
    }
    assert!(
        status.targets.iter().any(|t| t.execs == 0),
        "a target never ran"
    );
    // After the run: each target that ran shows its last rate and its run's average, and
    // /metrics has them as gauges, all equal to the status document's; each shows its
    // share of the node and why.
    let metrics = server.get("/metrics", &[]).text();
    let cli = fleet.status();
    for t in status.targets.iter().filter(|t| t.execs > 0) {
        let row = row_of(&dom, &t.name);
        assert_last_and_average(row, t);
        // The API's document is `status --json`'s, number for number.
        let printed = cli["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == t.name.as_str())
            .unwrap();
        assert_eq!(printed["last_execs_per_sec"], t.last_execs_per_sec);
        assert_eq!(printed["avg_execs_per_sec"], t.avg_execs_per_sec);
        for (family, want) in [
            ("fuzzfleet_last_execs_per_second", t.last_execs_per_sec),
            ("fuzzfleet_average_execs_per_second", t.avg_execs_per_sec),
            ("fuzzfleet_execs_per_second", 0.0),
            ("fuzzfleet_crashing_inputs", t.inputs as f64),
        ] {
            assert_eq!(
                gauge(&metrics, family, &t.name),
                want,
                "{family} {}",
                t.name
            );
        }
        assert_eq!(field(row, "crashes").1, t.crashes.to_string(), "{row}");
        let share = t.share.as_ref().unwrap();
        let span = row.split("<span class=\"place\"").nth(1).unwrap();
        assert_eq!(
            attrs(span, "data-share")[0].parse::<f64>().unwrap(),
            (share.share * 1000.0).round() / 1000.0,
            "{row}"
        );
        assert!(
            span.contains(&format!(">{}</span>", share.reason)),
            "{}: {row}",
            t.name
        );
    }

    // Sorting: each column's order, the sorted column marked.
    for (key, label) in [
        ("name", "target"),
        ("execs_per_sec", "execs/s"),
        ("coverage", "coverage"),
        ("crashes", "crash hits"),
        ("last_new_coverage_at", "last new coverage"),
        ("state", "state"),
    ] {
        let html = if key == "crashes" {
            rendered(browser, &url(&format!("/?sort={key}")), None)
        } else {
            server.get(&format!("/?sort={key}"), &[]).text()
        };
        assert!(
            html.contains(&format!("href=\"/?sort={key}\">{label}</a> ▾</th>")),
            "{key}: {html}"
        );
        assert!(html.contains(&format!("data-sort=\"{key}\"")), "{key}");
        let order: Vec<&fleet_serve::docs::TargetStatus> = html
            .split("<tr class=\"target\" data-target=\"")
            .skip(1)
            .map(|r| r.split('"').next().unwrap())
            .map(|n| status.targets.iter().find(|t| t.name == n).unwrap())
            .collect();
        assert_eq!(order.len(), status.targets.len(), "{key}");
        let shown_rate = |t: &fleet_serve::docs::TargetStatus| {
            if t.state == "running" {
                t.execs_per_sec
            } else {
                t.last_execs_per_sec
            }
        };
        let sorted = order.windows(2).all(|w| match key {
            "name" => w[0].name <= w[1].name,
            "execs_per_sec" => shown_rate(w[0]) >= shown_rate(w[1]),
            "coverage" => w[0].coverage >= w[1].coverage,
            "crashes" => w[0].crashes >= w[1].crashes,
            "last_new_coverage_at" => w[0].last_new_coverage_at >= w[1].last_new_coverage_at,
            // Targets that ran before those never run.
            _ => w[0].execs > 0 || w[1].execs == 0,
        });
        let names: Vec<&str> = order.iter().map(|t| t.name.as_str()).collect();
        assert!(sorted, "sorted by {key}: {names:?}");
    }
    // The orders differ where the data does: the quiet target is faster, the crashing
    // one crashes more and found new coverage last.
    let first = |key: &str| -> String {
        let html = server.get(&format!("/?sort={key}"), &[]).text();
        let first = html
            .split("<tr class=\"target\" data-target=\"")
            .nth(1)
            .unwrap();
        first.split('"').next().unwrap().to_string()
    };
    assert_eq!(first("execs_per_sec"), "clean");
    assert_eq!(first("crashes"), "crash_magic");
    assert_eq!(first("last_new_coverage_at"), "crash_magic");

    // The crashes page: a row per bug, its hits under their name.
    let dom = rendered(browser, &url("/crashes"), None);
    assert_eq!(dom.matches("<tr class=\"bucket\"").count(), 2, "{dom}");
    assert!(dom.contains("<th>crash hits</th>"), "{dom}");
    let crash_totals = element(&dom, "p", "crash-totals");
    assert!(
        crash_totals.contains(&format!("{} crash hits", sum(|t| t.crashes))),
        "{crash_totals}"
    );
    // Fixed and regressed: each state filters to its bug, and the bug's page says which
    // build decided it.
    for (state, bug, build) in [("fixed", 1, 'c'), ("regressed", 0, 'd')] {
        let id = &planted.bugs[bug];
        let only = rendered(browser, &url(&format!("/crashes?state={state}")), None);
        assert_eq!(only.matches("<tr class=\"bucket\"").count(), 1, "{only}");
        assert!(
            only.contains(&format!("data-id=\"{id}\" data-target=\"crash_magic\" data-severity=\"{}\" data-state=\"{state}\"", ["high", "low"][bug])),
            "{state}: {only}"
        );
        let page = rendered(browser, &url(&format!("/bucket/{id}")), None);
        let shown = tag_of(&page, "bucket-state");
        assert_eq!(attr(shown, "data-state"), state, "{shown}");
        assert_eq!(attr(shown, "data-build"), build.to_string().repeat(40));
        let words = element(&page, "span", "bucket-state");
        assert_eq!(
            words,
            format!("{state} in build {}", build.to_string().repeat(12))
        );
        // Neither has a minimized input, and its page says why, as the API does.
        let api = crashes.buckets.iter().find(|b| &b.id == id).unwrap();
        let why = tag_of(&page, "not-minimized");
        let said = element(&page, "span", "not-minimized");
        if bug == 1 {
            assert_eq!(api.minimize_result.as_deref(), Some("did-not-crash"));
            assert_eq!(attr(why, "data-minimize-result"), "did-not-crash");
            assert_eq!(
                said,
                "no: its input did not crash when minimization ran it (reproduces: sometimes)"
            );
        } else {
            assert_eq!(api.minimize_result, None);
            assert_eq!(said, "not yet", "{why}");
        }
        let facts = element(&page, "table", "facts");
        let hits = api.count;
        assert!(
            facts.contains(&format!("<th>crash hits</th><td>{hits}</td>")),
            "{facts}"
        );
    }

    if let Some(dir) = std::env::var_os("FUZZFLEET_SCREENSHOTS") {
        let dir = Path::new(&dir);
        fs::create_dir_all(dir).unwrap();
        for (name, path, size) in [
            ("overview", "/".to_string(), "1400,820"),
            ("target", "/target/crash_magic?range=7d".into(), "1400,1390"),
            ("crashes", "/crashes".into(), "1400,420"),
            (
                "bucket",
                format!("/bucket/{}", planted.bugs[0]),
                "1400,1500",
            ),
        ] {
            let png = dir.join(format!("dashboard-{name}.png"));
            rendered_in(browser, &url(&path), Some(&png), size);
            assert!(fs::metadata(&png).unwrap().len() > 1000);
            eprintln!("wrote {}", png.display());
        }
    }
    server.stop();
}
