//! The process's one tokio runtime for I/O: the API server, the HTTP client (reads of
//! nodes' APIs, the webhook) all run on it, so `fuzzfleet agent` or `serve` runs one
//! runtime however many of them it uses. It is built on first use (two worker threads,
//! which drive the sockets and timers, so synchronous callers can wait on it from any
//! thread) and lives as long as the process.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Handle, Runtime};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The runtime's handle, building the runtime on first use.
pub fn handle() -> Handle {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .max_blocking_threads(8)
                .thread_name("fleet-io")
                .enable_all()
                .build()
                .expect("cannot start the I/O runtime (out of threads or file descriptors)")
        })
        .handle()
        .clone()
}

/// Runs `f` to completion on the runtime, for synchronous callers: any thread that is
/// not itself running async code (a plain thread, or one of the runtime's blocking
/// threads). Panics when called from inside async code, as [`Handle::block_on`] does.
pub fn block_on<F: Future>(f: F) -> F::Output {
    handle().block_on(f)
}
