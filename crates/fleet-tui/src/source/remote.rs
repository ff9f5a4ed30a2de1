//! A remote node through its agent's HTTP API (`/api/v1/status`, `/api/v1/node`,
//! `/api/v1/targets/{name}/series`), read with fuzzfleet's one HTTP client
//! (`fleet_docs::client`, blocking form: each poller thread waits for its node on the
//! process's I/O runtime).

use super::{HISTORY_WINDOW, HistoryBook, Source, now_ms};
use crate::model::NodeData;

/// One agent's API: base URL and bearer token (`http://` or `https://`).
pub use fleet_docs::client::BlockingClient as Client;
/// Why a node did not answer with a document.
pub use fleet_docs::client::ClientError as RemoteError;

/// "http://10.0.0.5:7878/x" → "10.0.0.5:7878".
pub fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest).to_string()
}

/// How the view's errors of a node that did not answer begin.
pub const UNREACHABLE: &str = "unreachable: ";

/// A remote node in the live view.
#[derive(Debug)]
pub struct RemoteSource {
    name: String,
    client: Client,
    book: HistoryBook,
    /// The node's own name, asked once it answers, when none was configured.
    told_name: Option<String>,
    ask_name: bool,
}

impl RemoteSource {
    /// `name`: the configured node name; without one, the URL's host:port is shown
    /// until the node tells its own.
    pub fn new(name: Option<String>, client: Client) -> Self {
        RemoteSource {
            ask_name: name.is_none(),
            name: name.unwrap_or_else(|| host_port(client.base())),
            client,
            book: HistoryBook::default(),
            told_name: None,
        }
    }

    fn read(&mut self) -> Result<NodeData, RemoteError> {
        let status = self.client.status()?;
        if self.ask_name && self.told_name.is_none() {
            // Optional: an agent without `/node` still shows under the configured name.
            self.told_name = self
                .client
                .node()
                .ok()
                .map(|n| n.node)
                .filter(|n| !n.is_empty());
        }
        let mut data = crate::wire::node_data(&status);
        let first = now_ms() - HISTORY_WINDOW.as_millis() as i64;
        for t in &data.targets {
            let since = self.book.last_t_ms(&t.name).map_or(first, |t| t + 1);
            // A target whose series fails still shows its current figures.
            if let Ok(series) = self.client.series_since(&t.name, since) {
                self.book
                    .add(&t.name, series.points.iter().map(crate::wire::point));
            }
        }
        self.book.attach(&mut data);
        Ok(data)
    }
}

impl Source for RemoteSource {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn origin(&self) -> String {
        self.client.base().to_string()
    }

    fn poll(&mut self) -> (Option<String>, Result<NodeData, String>) {
        let result = self.read().map_err(|e| format!("{UNREACHABLE}{e}"));
        (self.told_name.clone(), result)
    }
}
