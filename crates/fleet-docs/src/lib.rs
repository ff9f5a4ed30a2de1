//! The documents every view of fuzzfleet shares — `status` (with the machine's figures,
//! the resource guard and the hub), `crashes`, and the API's series, node and fleet
//! documents — built from a state dir's database, and the one HTTP client that reads
//! them from a node's API. The CLI, the API, the dashboard and the live view all use
//! these types: a number means the same thing everywhere.
//!
//! Of fuzzfleet's crates it depends on the store only: the campaign (`fleet-run`) writes
//! the state, the views read it through here. [`client`] is fuzzfleet's one HTTP client
//! and [`runtime`] the process's one I/O runtime, which the API server shares.

pub mod api;
pub mod client;
pub mod fmt;
pub mod hub;
pub mod report;
pub mod resources;
pub mod runtime;
pub mod system;

pub use api::{
    BucketDoc, CoverageDoc, CrashBin, CrashMark, ErrorDoc, FleetDoc, FleetNode, LineCoveragePoint,
    NodeDoc, SeriesDoc, SeriesPoint,
};
pub use client::{BlockingClient, Client, ClientError};
pub use hub::HubStatus;
pub use report::{Bucket, CrashesDoc, StatusDoc, TargetStatus};
pub use resources::{Alert, ResourcesStatus};
pub use system::SystemStatus;
