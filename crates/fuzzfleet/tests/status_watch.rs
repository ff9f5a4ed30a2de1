//! `status --watch` in a real terminal (tmux) over the state of a real fixture campaign,
//! and `status --node` against a real HTTP server on 127.0.0.1 serving that state.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use support::{Fleet, KillOnDrop, children_of};

const SCREEN_WAIT: Duration = Duration::from_secs(30);
const TARGETS: &str =
    "[tier.t]\ntargets = [\"clean\", \"crash_magic\", \"crash_often\"]\nbudget = \"1h\"\n";
/// Nothing listens on port 1: a node that does not answer.
const DEAD: &str = "http://127.0.0.1:1";

/// A tmux server of our own (its own socket), killed when the test ends.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// Runs `command` in a 160×40 pane; when it ends the pane prints its exit code and
    /// whether the terminal is back in cooked mode, then stays for the test to read.
    fn start(command: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let socket = format!(
            "fuzzfleet-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let tmux = Tmux { socket };
        let script = format!(
            "{command}; echo EXITED $?; \
             (stty -a | tr ' ;' '\\n\\n' | grep -qx icanon && echo COOKED); echo PANE-DONE; sleep 120"
        );
        let out = tmux
            .cmd(&["new-session", "-d", "-x", "160", "-y", "40"])
            .arg(script)
            .output()
            .expect("tmux must be installed (.ci/run installs it)");
        assert!(
            out.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        tmux
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.env("LANG", "C.UTF-8")
            .args(["-u", "-f", "/dev/null", "-L", &self.socket])
            .args(args);
        cmd
    }

    /// The pid of the program the pane's shell runs.
    fn program_pid(&self) -> u32 {
        let out = self
            .cmd(&["display-message", "-p", "#{pane_pid}"])
            .output()
            .unwrap();
        let shell: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        let children = children_of(shell);
        assert_eq!(children.len(), 1, "{children:?}");
        children.into_iter().next().unwrap()
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let out = self.cmd(&["send-keys", k]).output().unwrap();
            assert!(out.status.success());
        }
    }

    fn screen(&self) -> String {
        let out = self.cmd(&["capture-pane", "-p"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen satisfies `ok` and holds still (a capture can catch a
    /// frame half drawn), and returns it; on timeout the panic shows the last screen.
    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + SCREEN_WAIT;
        loop {
            let s = self.screen();
            if ok(&s) {
                thread::sleep(Duration::from_millis(50));
                if self.screen() == s {
                    return s;
                }
                continue;
            }
            if Instant::now() > deadline {
                panic!("the screen never showed {what} within {SCREEN_WAIT:?}; last screen:\n{s}");
            }
            thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]).output();
    }
}

/// The table's rows of the `known` targets: name → the row's cells, in screen order.
fn rows(screen: &str, known: &BTreeMap<String, Value>) -> Vec<(String, Vec<String>)> {
    screen
        .lines()
        .filter_map(|l| {
            let l = l.strip_prefix("▶ ").or_else(|| l.strip_prefix("  "))?;
            let cells: Vec<String> = l.split_whitespace().map(str::to_string).collect();
            known
                .contains_key(cells.first()?)
                .then(|| (cells[0].clone(), cells))
        })
        .collect()
}

/// The cell of the right-aligned column `label` in `target`'s row, read under its
/// header (a row's cells cannot be counted by spaces: `never run`, an empty trend).
fn column(screen: &str, label: &str, target: &str) -> String {
    let lines: Vec<Vec<char>> = screen.lines().map(|l| l.chars().collect()).collect();
    let header = lines
        .iter()
        .map(|l| l.iter().collect::<String>())
        .find(|l| l.contains("TARGET"))
        .unwrap_or_else(|| panic!("no header:\n{screen}"));
    let at = header
        .find(&format!(" {label}"))
        .unwrap_or_else(|| panic!("no column {label}:\n{screen}"));
    let mut end = header[..at + 1].chars().count() + label.chars().count();
    if matches!(header.chars().nth(end), Some('▼' | '▲')) {
        end += 1;
    }
    let row = lines
        .iter()
        .find(|l| {
            let l: String = l.iter().collect();
            let l = l.strip_prefix("▶ ").or_else(|| l.strip_prefix("  "));
            l.and_then(|l| l.split_whitespace().next()) == Some(target)
        })
        .unwrap_or_else(|| panic!("no row {target}:\n{screen}"));
    let cells: String = row[..end.min(row.len())].iter().collect();
    cells.split_whitespace().last().unwrap_or("").to_string()
}

/// "1 bug", "2 bugs".
fn plural(n: i64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn selected_row(screen: &str) -> Option<String> {
    screen
        .lines()
        .find_map(|l| l.strip_prefix("▶ "))
        .and_then(|l| l.split_whitespace().next())
        .map(str::to_string)
}

fn watch_command(fleet: &Fleet, args: &str) -> String {
    format!(
        "{} --config {} status --watch --interval 0.5 {args}",
        env!("CARGO_BIN_EXE_fuzzfleet"),
        fleet.path().join("fleet.toml").display()
    )
}

fn targets_by_name(status: &Value) -> BTreeMap<String, Value> {
    status["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap().to_string(), t.clone()))
        .collect()
}

#[test]
fn watch_shows_the_local_campaign_sorts_drills_in_and_restores_the_terminal() {
    let fleet = Fleet::new(TARGETS);
    fleet.run_once("3s", 2);
    let status = fleet.status();
    let targets = targets_by_name(&status);
    assert!(targets["crash_magic"]["crashes"].as_i64().unwrap() > 0);

    let tmux = Tmux::start(&watch_command(&fleet, ""));
    let screen = tmux.wait_for("a row per target, sorted by name", |s| {
        rows(s, &targets).len() == targets.len() && s.contains("TARGET▼")
    });
    let shown: Vec<String> = rows(&screen, &targets)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        shown,
        targets.keys().cloned().collect::<Vec<_>>(),
        "{screen}"
    );
    for (name, cells) in rows(&screen, &targets) {
        let t = &targets[&name];
        // The state as people read it: `never run` apart from `stopped`.
        let state = t["state"].as_str().unwrap();
        let word = if t["never_run"] == true && state != "running" && state != "failed" {
            "never run"
        } else {
            state
        };
        assert!(
            cells[1..].join(" ").starts_with(word),
            "{name}: {word}\n{screen}"
        );
        // The three counts under `status`'s names (docs/crashes.md#counts).
        for (label, field) in [("BUGS", "bugs"), ("INPUTS", "inputs"), ("HITS", "crashes")] {
            assert_eq!(
                column(&screen, label, &name),
                t[field].as_i64().unwrap().to_string(),
                "{name}: {label} is `{field}`\n{screen}"
            );
        }
    }
    assert!(
        !screen.contains("CRASHES") && !screen.contains("BKT"),
        "{screen}"
    );
    assert!(screen.contains("node local"), "{screen}");
    assert!(
        screen.contains("cpu ") && screen.contains("disk "),
        "{screen}"
    );

    // s: execs/s, coverage, bugs; the indicator moves with each press.
    tmux.keys(&["s"]);
    tmux.wait_for("the EXEC/S sort indicator", |s| {
        s.contains("EXEC/S▼") && !s.contains("TARGET▼")
    });
    tmux.keys(&["s", "s"]);
    let screen = tmux.wait_for("the BUGS sort indicator", |s| {
        s.contains("BUGS▼") && !s.contains("EXEC/S▼")
    });
    let order: Vec<String> = rows(&screen, &targets)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let counts = |name: &String| {
        let t = &targets[name];
        (t["bugs"].as_i64().unwrap(), t["crashes"].as_i64().unwrap())
    };
    assert!(
        order.windows(2).all(|w| counts(&w[0]) >= counts(&w[1])),
        "{screen}"
    );
    assert!(counts(&order[0]).0 > 0, "{screen}");

    // Down, Enter: the second row's detail, with its figures and plots.
    tmux.keys(&["Down"]);
    tmux.wait_for("the second row selected", |s| {
        selected_row(s).as_deref() == Some(order[1].as_str())
    });
    tmux.keys(&["Enter"]);
    let t = &targets[&order[1]];
    let facts = [
        format!("target {} ", order[1]),
        format!(
            "{}, {}, {}",
            plural(t["bugs"].as_i64().unwrap(), "bug"),
            plural(t["inputs"].as_i64().unwrap(), "crashing input"),
            plural(t["crashes"].as_i64().unwrap(), "crash hit")
        ),
        "execs/s ·".to_string(),
        "coverage ·".to_string(),
        "corpus files ·".to_string(),
    ];
    tmux.wait_for("the detail view with its figures and plots", |s| {
        facts.iter().all(|f| s.contains(f.as_str()))
    });

    tmux.keys(&["Escape"]);
    tmux.wait_for("the table again", |s| {
        s.contains("BUGS▼") && !s.contains(&format!("target {} ", order[1]))
    });
    tmux.keys(&["q"]);
    let end = tmux.wait_for("the exit", |s| s.contains("PANE-DONE"));
    assert!(end.contains("EXITED 0"), "{end}");
    assert!(end.contains("COOKED"), "raw mode left on:\n{end}");
    assert!(
        !end.contains("TARGET"),
        "the alternate screen was not left:\n{end}"
    );

    // A panic in the view leaves the terminal usable and the message readable.
    let tmux = Tmux::start(&format!(
        "FUZZFLEET_TUI_TEST_PANIC=1 {}",
        watch_command(&fleet, "")
    ));
    let end = tmux.wait_for("the exit after a panic", |s| s.contains("PANE-DONE"));
    assert!(end.contains("EXITED 101"), "{end}");
    assert!(
        end.contains("COOKED"),
        "raw mode left on after a panic:\n{end}"
    );
    assert!(end.contains("FUZZFLEET_TUI_TEST_PANIC is set"), "{end}");
    assert!(!end.contains("TARGET"), "{end}");

    // So does SIGTERM from elsewhere.
    let tmux = Tmux::start(&watch_command(&fleet, ""));
    tmux.wait_for("the table", |s| s.contains("TARGET▼"));
    let pid = tmux.program_pid();
    // SAFETY: kill with the pid of the fuzzfleet this test started in its pane.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGTERM) }, 0);
    let end = tmux.wait_for("the exit after SIGTERM", |s| s.contains("PANE-DONE"));
    assert!(end.contains("EXITED 0") && end.contains("COOKED"), "{end}");
    assert!(!end.contains("TARGET"), "{end}");
}

#[test]
fn watch_follows_a_campaign_that_starts_after_it() {
    let fleet = Fleet::new("[tier.t]\ntargets = [\"clean\"]\nbudget = \"1h\"\n");
    let tmux = Tmux::start(&watch_command(&fleet, ""));
    tmux.wait_for("the missing state explained", |s| {
        s.contains("no fuzzfleet state in") && s.contains("no figures yet")
    });

    let mut run = KillOnDrop(fleet.start(&["--workers", "1"]));
    let known: BTreeMap<String, Value> = [("clean".to_string(), Value::Null)].into();
    let running = |s: &str| {
        rows(s, &known).iter().any(|(_, cells)| {
            cells[1] == "running" && cells[3].parse::<f64>().is_ok_and(|eps| eps > 0.0)
        })
    };
    let screen = tmux.wait_for("clean running with its speed", running);
    assert!(!screen.contains("no fuzzfleet state"), "{screen}");
    // Its plots fill from the samples the campaign writes.
    tmux.keys(&["Enter"]);
    tmux.wait_for("a detail plot of execs/s with a sample above zero", |s| {
        s.lines().any(|l| {
            l.split("execs/s · now ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|n| n > 0)
        })
    });
    run.stop();
    tmux.keys(&["q"]);
    let end = tmux.wait_for("the exit", |s| s.contains("PANE-DONE"));
    assert!(end.contains("EXITED 0") && end.contains("COOKED"), "{end}");
}

#[test]
fn watch_without_a_terminal_is_a_usage_error() {
    let fleet = Fleet::new(TARGETS);
    let out = fleet.output(&["status", "--watch"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs a terminal"), "{err}");

    for args in [
        &["status", "--watch", "--interval", "0"][..],
        &["status", "--node", "ftp://example"],
        &["status", "--all-nodes"],
        &["status", "--json", "--watch"],
    ] {
        let out = fleet.output(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

/// Nodes that accept connections and never answer, sharing one count of the
/// connections open at once and its highest value.
struct SilentNodes {
    urls: Vec<String>,
    most_at_once: Arc<AtomicUsize>,
}

impl SilentNodes {
    fn start(n: usize) -> Self {
        let open = Arc::new(AtomicUsize::new(0));
        let most_at_once = Arc::new(AtomicUsize::new(0));
        let urls = (0..n)
            .map(|_| {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let url = format!("http://{}", listener.local_addr().unwrap());
                let (open, most) = (open.clone(), most_at_once.clone());
                thread::spawn(move || {
                    for mut stream in listener.incoming().flatten() {
                        let (open, most) = (open.clone(), most.clone());
                        thread::spawn(move || {
                            let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            // Held until the client gives up and closes it.
                            let _ = std::io::copy(&mut stream, &mut std::io::sink());
                            open.fetch_sub(1, Ordering::SeqCst);
                        });
                    }
                });
                url
            })
            .collect();
        SilentNodes { urls, most_at_once }
    }
}

#[test]
fn nodes_are_read_all_at_once_so_one_that_never_answers_does_not_hold_up_the_rest() {
    let fleet = Fleet::new(TARGETS);
    let silent = SilentNodes::start(3);
    let mut args = vec!["status", "--json"];
    for url in &silent.urls {
        args.extend(["--node", url.as_str()]);
    }
    let out = fleet.output(&args);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let doc = json_of(&out);
    let nodes = doc["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3, "{doc:#}");
    for (node, url) in nodes.iter().zip(&silent.urls) {
        assert_eq!(node["url"], url.as_str(), "{doc:#}");
        assert!(node["error"].is_string(), "{doc:#}");
    }
    // Read one after another, no two connections would ever be open together.
    assert_eq!(silent.most_at_once.load(Ordering::SeqCst), 3);
}

/// A node's API on 127.0.0.1, serving a fixed status document, a short series per
/// target and the node's info; every request needs `Authorization: Bearer TOKEN`.
struct Api {
    url: String,
    /// Each request's path and whether its token was right.
    seen: Arc<Mutex<Vec<(String, bool)>>>,
}

const TOKEN: &str = "s3cret-token-of-the-watch-test";

impl Api {
    fn start(status: Value) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        // The series ends here, on a whole second.
        let t0 = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
            * 1000;
        // Ends with the test process; it only ever answers on loopback.
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let status = status.clone();
                let log = log.clone();
                thread::spawn(move || serve(stream, &status, t0, &log));
            }
        });
        Api { url, seen }
    }

    fn paths(&self) -> Vec<(String, bool)> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, status: &Value, t0: i64, log: &Mutex<Vec<(String, bool)>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    let mut authorized = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("authorization")
        {
            authorized = v.trim() == format!("Bearer {TOKEN}");
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
    log.lock().unwrap().push((path.clone(), authorized));
    let (code, body) = if !authorized {
        (401, json!({"error": "unauthorized"}))
    } else {
        route(&path, status, t0)
    };
    let body = body.to_string();
    let reason = if code == 200 { "OK" } else { "Error" };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn route(path: &str, status: &Value, t0: i64) -> (u16, Value) {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    match path.split('/').collect::<Vec<_>>()[..] {
        ["", "api", "v1", "status"] => (200, status.clone()),
        ["", "api", "v1", "node"] => (
            200,
            json!({"version": 1, "node": "fixture-node", "fuzzfleet_version": "0.1.0",
                   "cores": 2, "state_dir": "/var/lib/fuzzfleet", "hub": null, "extra": true}),
        ),
        ["", "api", "v1", "targets", name, "series"] => {
            let Some(t) = status["targets"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["name"] == name)
            else {
                return (404, json!({"error": "no such target"}));
            };
            // Ten points ending at t0 with the target's coverage, two seconds apart;
            // those at or after `since`, as the API answers.
            let since: i64 = query
                .strip_prefix("since=")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let cov = t["coverage"].as_i64().unwrap_or(0);
            let points: Vec<Value> = (0..10i64)
                .map(|i| (i, t0 - (9 - i) * 2000))
                .filter(|&(_, at)| at >= since)
                .map(|(i, at)| {
                    json!({
                        "t": at,
                        "execs": i * 1000, "execs_per_sec": 500 + i * 10,
                        "coverage": cov - 9 + i, "features": cov * 3,
                        "corpus_files": t["corpus_files"], "corpus_bytes": t["corpus_bytes"],
                        "crashes": t["crashes"],
                    })
                })
                .collect();
            (200, json!({"version": 1, "target": name, "points": points}))
        }
        _ => (404, json!({"error": "no such route"})),
    }
}

/// A node that accepts connections and never answers; its URL.
fn silent_node() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    url
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The table above its system line (which is sampled afresh each time).
fn table_rows(out: &Output) -> String {
    let s = String::from_utf8_lossy(&out.stdout);
    s.split("\nsystem:").next().unwrap().to_string()
}

fn config_with_nodes(fleet: &Fleet, api: &str) -> std::path::PathBuf {
    let dir = fleet.path();
    std::fs::write(dir.join("token"), format!("{TOKEN}\n")).unwrap();
    std::fs::write(dir.join("wrong-token"), "a-wrong-token-of-22c\n").unwrap();
    let base = std::fs::read_to_string(dir.join("fleet.toml")).unwrap();
    let config = dir.join("nodes.toml");
    std::fs::write(
        &config,
        format!(
            "{base}\n[node.alpha]\napi = \"{api}\"\ntoken_file = \"token\"\ntiers = [\"t\"]\n\
             [node.beta]\napi = \"{DEAD}\"\ntiers = [\"t\"]\n\
             [node.gamma]\napi = \"{api}\"\ntoken_file = \"wrong-token\"\ntiers = [\"t\"]\n"
        ),
    )
    .unwrap();
    config
}

fn fuzzfleet(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fuzzfleet"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn remote_nodes_print_once_and_watch_like_the_local_one() {
    let fleet = Fleet::new(TARGETS);
    fleet.run_once("3s", 1);
    let local_json = fleet.status();
    let api = Api::start(local_json.clone());
    let token = fleet.path().join("token");
    std::fs::write(&token, TOKEN).unwrap();
    let token = token.to_str().unwrap();

    // One node: exactly its status document, and the same table as the local one.
    let out = fleet.output(&[
        "status",
        "--node",
        &api.url,
        "--token-file",
        token,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(json_of(&out), local_json);
    let remote = fleet.output(&["status", "--node", &api.url, "--token-file", token]);
    assert_eq!(remote.status.code(), Some(0));
    let local = fleet.output(&["status"]);
    assert_eq!(table_rows(&remote), table_rows(&local));
    assert!(String::from_utf8_lossy(&remote.stdout).contains("\nsystem: cpu "));

    // Without the token the node refuses, and status says so with exit 1.
    let out = fleet.output(&["status", "--node", &api.url, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("HTTP 401"),
        "{out:?}"
    );

    // A node that does not answer.
    let out = fleet.output(&["status", "--node", DEAD]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unreachable") && err.contains("127.0.0.1:1"),
        "{err}"
    );

    // Several nodes: one document with each node's status or error.
    let out = fleet.output(&[
        "status",
        "--node",
        &api.url,
        "--node",
        DEAD,
        "--token-file",
        token,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let doc = json_of(&out);
    assert_eq!(doc["version"], 1);
    let nodes = doc["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[0]["node"], "fixture-node");
    assert_eq!(nodes[0]["url"], api.url.as_str());
    assert_eq!(nodes[0]["status"], local_json);
    assert_eq!(nodes[0]["error"], Value::Null);
    assert_eq!(nodes[1]["node"], "127.0.0.1:1");
    assert_eq!(nodes[1]["status"], Value::Null);
    assert!(nodes[1]["error"].as_str().unwrap().contains("127.0.0.1:1"));

    // The config's nodes, each with its own token file.
    let config = config_with_nodes(&fleet, &api.url);
    let out = fuzzfleet(&config, &["status", "--all-nodes", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let doc = json_of(&out);
    let by_name: BTreeMap<&str, &Value> = doc["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["node"].as_str().unwrap(), n))
        .collect();
    assert_eq!(by_name["alpha"]["status"], local_json);
    assert!(
        by_name["beta"]["error"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1:1")
    );
    assert!(
        by_name["gamma"]["error"]
            .as_str()
            .unwrap()
            .contains("HTTP 401")
    );
    let out = fuzzfleet(&config, &["status", "--all-nodes"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("== node alpha ({})", api.url)),
        "{text}"
    );
    assert!(
        text.contains(&format!("== node beta ({DEAD})\nunreachable: ")),
        "{text}"
    );

    // The live view of three nodes: one that answers, one dead, and one that accepts
    // connections but never answers (the view must not wait for it).
    let silent = silent_node();
    let tmux = Tmux::start(&watch_command(
        &fleet,
        &format!(
            "--node {} --node {DEAD} --node {silent} --token-file {token}",
            api.url
        ),
    ));
    let targets = targets_by_name(&local_json);
    let screen = tmux.wait_for("the remote node's rows and the dead node marked", |s| {
        rows(s, &targets).len() == targets.len() && s.contains("127.0.0.1:1 unreachable")
    });
    assert!(screen.contains("node fixture-node (1/3)"), "{screen}");
    // The silent node: waiting, or unreachable once a request timed out.
    let silent_name = silent.trim_start_matches("http://");
    assert!(
        screen.contains(&format!("{silent_name} waiting"))
            || screen.contains(&format!("{silent_name} unreachable")),
        "{screen}"
    );
    assert!(screen.contains("fixture-node ok"), "{screen}");
    // Enter: the plots hold the series the node served.
    tmux.keys(&["Enter"]);
    let first = targets.keys().next().unwrap();
    let cov = targets[first]["coverage"].as_i64().unwrap();
    let detail = tmux.wait_for("the first target's detail with its series", |s| {
        s.contains(&format!("target {first} ")) && s.contains("10 samples")
    });
    assert!(
        detail.contains(&format!(
            "coverage · now {cov} · min {} · max {cov}",
            cov - 9
        )),
        "{detail}"
    );
    tmux.keys(&["Escape", "n"]);
    let dead = tmux.wait_for("the dead node's page", |s| {
        s.contains("(2/3)") && s.contains("no figures yet")
    });
    assert!(
        dead.contains("unreachable: http://127.0.0.1:1/api/v1/status"),
        "{dead}"
    );
    assert!(rows(&dead, &targets).is_empty(), "{dead}");
    tmux.keys(&["n"]);
    tmux.wait_for("the silent node's page", |s| {
        s.contains("(3/3)")
            && (s.contains("waiting for the first figures") || s.contains("timed out"))
    });
    // q is obeyed at once although a poller is still blocked on the silent node.
    let asked = Instant::now();
    tmux.keys(&["q"]);
    let end = tmux.wait_for("the exit", |s| s.contains("PANE-DONE"));
    assert!(end.contains("EXITED 0") && end.contains("COOKED"), "{end}");
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "{:?}",
        asked.elapsed()
    );

    let seen = api.paths();
    assert!(
        seen.iter()
            .any(|(p, ok)| *ok && p.starts_with(&format!("/api/v1/targets/{first}/series?since="))),
        "{seen:?}"
    );
}

#[test]
fn watch_ends_within_seconds_when_its_terminal_goes_away() {
    let fleet = Fleet::new("[tier.t]\ntargets = [\"clean\"]\nbudget = \"1h\"\n");
    let watch = watch_command(&fleet, "");
    // As a shell in a killed terminal leaves it (SIGHUP), and with SIGHUP blocked, so
    // only the terminal's hangup and end of file can end it.
    let blocked = format!(
        "perl -MPOSIX -e 'sigprocmask(SIG_BLOCK, POSIX::SigSet->new(SIGHUP)) or die; exec @ARGV or die' -- {watch}"
    );
    for (how, command) in [("SIGHUP", watch.clone()), ("SIGHUP blocked", blocked)] {
        let tmux = Tmux::start(&command);
        tmux.wait_for("the view", |s| s.contains("no figures yet"));
        let pid = tmux.program_pid();
        let out = tmux.cmd(&["kill-server"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let killed = Instant::now();
        while support::alive(pid) && killed.elapsed() < Duration::from_secs(5) {
            thread::sleep(Duration::from_millis(20));
        }
        if support::alive(pid) {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // SAFETY: kill with the pid of the fuzzfleet this test started.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("({how}) status --watch outlived its terminal by 5 s: {stat}");
        }
    }
}
