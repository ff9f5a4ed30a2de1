//! `fuzzfleet serve` under test: the real binary on an ephemeral port, and a raw HTTP
//! GET for what a typed client hides (status codes, headers, cookies).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::support::{Fleet, signal, wait_exit};

pub struct Server {
    pub child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub port: u16,
}

impl Server {
    /// `fuzzfleet serve --listen LISTEN ARGS` with `env`; waits for its "serving" line.
    pub fn start(fleet: &Fleet, listen: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = fleet.cmd(&["serve", "--listen", listen]);
        cmd.args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        let Some(addr) = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split('/').next())
        else {
            let mut rest = String::new();
            let _ = stderr.read_to_string(&mut rest);
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve did not start: {line}{rest}");
        };
        // Drain the rest of stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            let _ = stderr.read_to_string(&mut sink);
        });
        let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            port,
        }
    }

    pub fn client(&self, token: Option<&str>) -> fleet_serve::Client {
        fleet_serve::Client::new(&self.url, token.map(str::to_string))
    }

    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        raw_get(self.port, path, headers)
    }

    /// SIGTERM; the server must exit 0 promptly.
    pub fn stop(&mut self) {
        signal(&self.child, libc::SIGTERM);
        assert_eq!(
            wait_exit(&mut self.child, Duration::from_secs(10)).0,
            Some(0)
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// One HTTP/1.1 GET to 127.0.0.1:`port` with `Connection: close`, read to the end.
pub fn raw_get(port: u16, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req += &format!("{k}: {v}\r\n");
    }
    req += "\r\n";
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no header end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&raw[..eol])
                .split(';')
                .next()
                .unwrap()
                .trim(),
            16,
        )
        .unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        raw = &raw[eol + 2 + size + 2..];
    }
}

/// What [`history_state`] planted, for tests to compare pages with.
#[allow(dead_code)]
pub struct History {
    /// The crashing target's bugs (bucket ids), oldest first.
    pub bugs: Vec<String>,
    /// Findings filed under them.
    pub findings: usize,
    /// The coverage rounds' line coverage, percent.
    pub line_percent: f64,
}

/// A state as three days of a campaign leave it, written through the store as the
/// campaign writes it: `crash_magic` fuzzed with a 9-minute gap between two runs, 300
/// crashing inputs filed under 2 bugs (one fixed), coverage rounds at 9.7 %; `clean`
/// fuzzed quietly; every other configured target never run.
#[allow(dead_code)]
pub fn history_state(state: &std::path::Path) -> History {
    use fleet_store::{BucketPut, CoverageRow, Db, FindingInsert, Sample, TargetRecord};
    let db = Db::open(&state.join("fleet.db")).unwrap();
    let now = fleet_store::now_ms();
    let start = now - 3 * 86_400_000;
    let gap = (now - 3_600_000, now - 3_600_000 + 9 * 60_000);
    for (name, eps, cov0) in [("crash_magic", 2400.0, 40), ("clean", 5200.0, 12)] {
        let mut ts = start;
        let mut i = 0i64;
        db.batch(|db| {
            while ts < now {
                if !(gap.0..gap.1).contains(&ts) {
                    db.put_sample(&Sample {
                        target: name.into(),
                        ts,
                        span_s: 60,
                        workers: 1,
                        execs: i * 60 * eps as i64,
                        execs_per_sec: eps + (i % 7) as f64 * 50.0,
                        coverage: Some(cov0 + (i as f64).sqrt() as i64),
                        features: Some(4 * cov0 + 3 * (i as f64).sqrt() as i64),
                        corpus_files: Some(5 + (i as f64).sqrt() as i64 / 2),
                        corpus_bytes: Some(200 + i / 10),
                        rss_mb: Some(40),
                    })?;
                }
                ts += 60_000;
                i += 1;
            }
            db.put_target(&TargetRecord {
                name: name.into(),
                state: "stopped".into(),
                execs: i * 60 * eps as i64,
                coverage: Some(cov0 + (i as f64).sqrt() as i64),
                features: Some(4 * cov0 + 3 * (i as f64).sqrt() as i64),
                corpus_files: 5 + (i as f64).sqrt() as i64 / 2,
                corpus_bytes: 200 + i / 10,
                fuzz_ms: 3 * 86_400_000 - 9 * 60_000,
                slot_ms: 3 * 86_400_000,
                updated_at: now,
                ..TargetRecord::default()
            })?;
            Ok(())
        })
        .unwrap();
    }
    let line_percent = 9.7;
    for k in 0..4 {
        db.put_coverage(&CoverageRow {
            target: "crash_magic".into(),
            at_ms: start + k * 86_400_000 / 2 + 3_600_000,
            lines_covered: 97,
            lines_total: 1000,
            regions_covered: 50,
            regions_total: 600,
            functions_covered: 5,
            functions_total: 40,
            inputs: 20,
            build_id: "b".repeat(40),
        })
        .unwrap();
    }
    let dir = state.join("crashes/crash_magic");
    std::fs::create_dir_all(&dir).unwrap();
    let bugs = vec![
        "0123456789abcdef".to_string(),
        "fedcba9876543210".to_string(),
    ];
    let mut findings = 0;
    for n in 0..300i64 {
        let input = format!("FUZZ{n:04}\x00\x01\x02 magic input number {n}");
        let sha1 = fleet_store::sha1_hex(input.as_bytes());
        let path = dir.join(format!("crash-{sha1}"));
        std::fs::write(&path, &input).unwrap();
        let report = dir.join(format!("crash-{sha1}.txt"));
        std::fs::write(
            &report,
            format!("thread '<unnamed>' panicked at src/lib.rs:9:9:\nmagic {n}\n==1== ERROR: libFuzzer: deadly signal\n"),
        )
        .unwrap();
        // The first bug two days ago and for a day and a half after; the second in the
        // last run, first seen half an hour ago.
        let k = usize::from(n >= 200);
        let at = if k == 0 {
            start + 86_400_000 + n * 600_000
        } else {
            now - 1_800_000 + (n - 200) * 10_000
        };
        let (id, _) = db
            .record_finding(&FindingInsert {
                target: "crash_magic",
                kind: "crash",
                sha1: &sha1,
                input_path: &path,
                report_path: Some(&report),
                size_bytes: input.len() as u64,
                at_ms: at,
                node: None,
            })
            .unwrap();
        db.set_finding_bucket(id, &bugs[k]).unwrap();
        db.set_repro(id, ["always", "sometimes"][k]).unwrap();
        findings += 1;
    }
    for (k, id) in bugs.iter().enumerate() {
        let title = format!("panic in crash_magic::check{k} (src/lib.rs:{})", 9 + k);
        db.put_bucket(&BucketPut {
            id,
            target: "crash_magic",
            kind: "crash",
            signature: &format!("crash_magic::check{k}|src/lib.rs:{}", 9 + k),
            title: &title,
            severity: ["high", "low"][k],
            representative: &fleet_store::sha1_hex(
                format!("FUZZ{n:04}\x00\x01\x02 magic input number {n}", n = k * 200).as_bytes(),
            ),
            data: "{}",
        })
        .unwrap();
    }
    db.set_bucket_state(&bugs[1], "fixed", Some(&"c".repeat(40)), now)
        .unwrap();
    History {
        bugs,
        findings,
        line_percent,
    }
}
