//! A webhook receiver for alert tests: a real HTTP server on 127.0.0.1 that answers each
//! POST (503 for the first `fail_first`, then 200), closes the connection, and keeps the
//! accepted bodies in order.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

pub struct Webhook {
    pub url: String,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl Webhook {
    pub fn start() -> Webhook {
        Webhook::failing_first(0)
    }

    /// A receiver whose first `n` requests are answered 503 Service Unavailable.
    pub fn failing_first(n: usize) -> Webhook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let keep = bodies.clone();
        std::thread::spawn(move || {
            let mut seen = 0;
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(body) = read_request(&mut stream) else {
                    continue;
                };
                seen += 1;
                let status = if seen <= n {
                    "503 Service Unavailable"
                } else {
                    keep.lock().unwrap().push(body);
                    "200 OK"
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            }
        });
        Webhook { url, bodies }
    }

    /// The accepted bodies, oldest first.
    pub fn bodies(&self) -> Vec<String> {
        self.bodies.lock().unwrap().clone()
    }

    /// The `text` of each accepted body (Slack-style `{"text": …}`; empty if none).
    pub fn texts(&self) -> Vec<String> {
        self.bodies()
            .iter()
            .map(|b| {
                serde_json::from_str::<serde_json::Value>(b).unwrap_or_default()["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    }

    /// How many accepted bodies' `text` starts with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        self.texts()
            .iter()
            .filter(|t| t.starts_with(prefix))
            .count()
    }
}

/// One request's body (headers up to the blank line, then `content-length` bytes).
fn read_request(stream: &mut std::net::TcpStream) -> Option<String> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut len = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if let Some((k, v)) = line.trim_end().split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().unwrap_or(0);
        }
        if line.trim_end().is_empty() {
            break;
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(String::from_utf8_lossy(&body).into_owned())
}
