//! The API's client is fuzzfleet's one HTTP client, in `fleet-docs`: async
//! ([`fleet_docs::Client`]) for code inside a runtime, and this blocking form for
//! `status --node`, the fleet view, benchmarks and tests.

pub use fleet_docs::client::{BlockingClient as Client, ClientError};
