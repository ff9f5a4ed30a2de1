//! fuzzfleet's view of one node over HTTP: a versioned JSON API, Prometheus `/metrics`,
//! a web dashboard (assets built in), bearer-token auth; the API's client is
//! `fleet-docs`' (re-exported here as [`Client`]).
//!
//! The server only reads the state dir: it opens its own read connections to the
//! database (WAL lets them run beside the campaign's writer) and never takes the run lock.

mod api;
mod app;
mod auth;
pub mod client;
mod crash_pages;
mod dashboard;
pub mod docs;
mod figures;
mod metrics;
mod series;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::{Arc, mpsc};

use axum::Router;
use tokio::sync::oneshot;

pub use app::App;
pub use client::Client;
pub use crash_pages::shell_word;
pub use docs::{FleetDoc, FleetNode};
pub use series::MAX_POINTS;

/// Where `serve` listens unless told otherwise: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7878";

/// What one server serves and how.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub state_dir: PathBuf,
    pub listen: SocketAddr,
    /// Required on every route but `/healthz` when set; required to listen off loopback.
    pub token: Option<String>,
    /// The configured targets, listed by `status` even before they first ran.
    pub known_targets: Vec<String>,
    /// Every node of the fleet (`serve --all-nodes`): `/api/v1/fleet` and the dashboard's
    /// fleet page. `None`: this node only.
    pub fleet: Option<Arc<dyn FleetView>>,
}

/// What `fuzzfleet serve` knows from the config beyond [`ServeOptions`]: how to call
/// fuzzfleet on this state and each target's executable (for the commands to paste on
/// the bucket page), and the tiers (for each target's place in the schedule). Without it
/// the bucket page still prints `fuzzfleet crashes repro ID` and the libFuzzer command
/// with the binary left to fill, and `schedule` stays null.
#[derive(Clone, Debug, Default)]
pub struct Extras {
    /// The config's tiers, for `status`'s `schedule` of each target.
    pub tiers: Vec<fleet_docs::report::TierBudget>,
    /// The start of a fuzzfleet command line for this state, e.g.
    /// `fuzzfleet --config /etc/fuzzfleet/fleet.toml --state /var/lib/fuzzfleet`.
    pub fuzzfleet: Option<String>,
    /// Each target's executable, by target name.
    pub binaries: std::collections::BTreeMap<String, PathBuf>,
}

/// Reads every node of the fleet (through SSH tunnels or configured URLs). Called on the
/// blocking pool, one call at a time, its result served for a few seconds.
pub trait FleetView: Send + Sync + std::fmt::Debug {
    fn fleet(&self) -> FleetDoc;
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "refusing to listen on {0} without a token: anything but loopback needs one \
         (--token-file FILE or FUZZFLEET_TOKEN), or listen on 127.0.0.1 and reach it through \
         an SSH tunnel"
    )]
    NeedsToken(SocketAddr),
    #[error("the token is empty (or only whitespace)")]
    EmptyToken,
    #[error("{0}")]
    BadToken(TokenError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the server failed: {0}")]
    Io(#[from] std::io::Error),
}

impl ServeOptions {
    /// Refuses what must never run: a non-loopback listener without a token, a token that
    /// breaks [`check_token`]'s rules (as given: callers trim it with [`check_token`]).
    pub fn check(&self) -> Result<(), ServeError> {
        match &self.token {
            Some(t) => match check_token(t) {
                Ok(checked) if checked == *t => Ok(()),
                Ok(_) => Err(ServeError::BadToken(TokenError::Whitespace)),
                Err(TokenError::Empty) => Err(ServeError::EmptyToken),
                Err(e) => Err(ServeError::BadToken(e)),
            },
            None if !self.listen.ip().is_loopback() => Err(ServeError::NeedsToken(self.listen)),
            None => Ok(()),
        }
    }

    /// Checks the options and binds the listener, so bind errors surface before serving.
    pub fn bind(&self) -> Result<TcpListener, ServeError> {
        self.check()?;
        let listener = TcpListener::bind(self.listen).map_err(|source| ServeError::Bind {
            addr: self.listen,
            source,
        })?;
        listener.set_nonblocking(true)?;
        Ok(listener)
    }
}

/// The fewest characters a token may have (`deploy` makes 64).
pub const MIN_TOKEN_LEN: usize = 16;

/// Why a token is refused. The same rules hold for every source of a token: the
/// `FUZZFLEET_TOKEN` variable, `--token-file`, a node's `token_file` and the tokens
/// `deploy` keeps.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is empty (or only whitespace)")]
    Empty,
    #[error(
        "the token is {0} characters long; a token needs at least {MIN_TOKEN_LEN} \
         (`head -c 32 /dev/urandom | base64` makes one)"
    )]
    TooShort(usize),
    #[error("the token has whitespace around it")]
    Whitespace,
}

/// The token as used: `raw` without the whitespace around it (a file's final newline),
/// refused when nothing is left or it is shorter than [`MIN_TOKEN_LEN`] characters.
pub fn check_token(raw: &str) -> Result<String, TokenError> {
    let t = raw.trim();
    match t.chars().count() {
        0 => Err(TokenError::Empty),
        n if n < MIN_TOKEN_LEN => Err(TokenError::TooShort(n)),
        _ => Ok(t.to_string()),
    }
}

/// The whole HTTP surface over one state dir.
pub fn router(app: Arc<App>) -> Router {
    api::routes()
        .merge(dashboard::routes())
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            auth::require,
        ))
        .with_state(app)
}

/// Serves on `listener` until `shutdown` resolves. Must run inside a tokio runtime.
pub async fn serve(
    opts: &ServeOptions,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    serve_with(opts, Extras::default(), listener, shutdown).await
}

/// [`serve`], with what the pages need from the config ([`Extras`]).
pub async fn serve_with(
    opts: &ServeOptions,
    extras: Extras,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let app = App::new(opts, extras);
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let result = axum::serve(listener, router(app.clone()))
        .with_graceful_shutdown(shutdown)
        .await;
    app.stop();
    Ok(result?)
}

/// A server running as a task of the process's I/O runtime (for the agent, benchmarks
/// and tests).
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    /// The task's result, sent when it ends.
    done: Option<mpsc::Receiver<Result<(), ServeError>>>,
}

impl ServerHandle {
    /// The address it listens on (the real port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` with a loopback host when it listens on every address.
    pub fn base_url(&self) -> String {
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        format!("http://{addr}")
    }

    /// Stops serving (in-flight requests finish) and waits for the server to end.
    pub fn stop(mut self) -> Result<(), ServeError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), ServeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.done.take().map(|d| d.recv()) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(ServeError::Io(std::io::Error::other(
                "the server's task ended without a result (it panicked)",
            ))),
            None => Ok(()),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// Starts a server for `state_dir` on `listen` on the process's I/O runtime
/// ([`fleet_docs::runtime`], shared with the HTTP client and the webhook); listener
/// errors (and a non-loopback address without a token) are returned here.
pub fn spawn(opts: ServeOptions) -> Result<ServerHandle, ServeError> {
    let listener = opts.bind()?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let (done_tx, done) = mpsc::channel();
    fleet_docs::runtime::handle().spawn(async move {
        let result = serve(&opts, listener, async {
            let _ = stopped.await;
        })
        .await;
        let _ = done_tx.send(result);
    });
    Ok(ServerHandle {
        addr,
        stop: Some(stop),
        done: Some(done),
    })
}

/// Serves on `listener` on the process's I/O runtime until SIGINT or SIGTERM (for
/// `fuzzfleet serve`).
pub fn run_until_signal(
    opts: &ServeOptions,
    extras: Extras,
    listener: TcpListener,
) -> Result<(), ServeError> {
    fleet_docs::runtime::block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        serve_with(opts, extras, listener, async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        })
        .await
    })
}
