//! The documents every view of fuzzfleet shares — `status` (with the machine's figures,
//! the resource guard and the hub), `crashes`, and the API's series, node and fleet
//! documents — built from a state dir's database, and the one HTTP client that reads
//! them from a node's API. The CLI, the API, the dashboard and the live view all use
//! these types: a number means the same thing everywhere.
//!
//! This crate depends on the store only: the campaign (`fleet-run`) writes the state,
//! the views read it through here.

pub mod api;
pub mod fmt;
pub mod hub;
pub mod report;
pub mod resources;
pub mod system;

pub use api::{
    BucketDoc, CoverageDoc, CrashBin, CrashMark, ErrorDoc, FleetDoc, FleetNode, LineCoveragePoint,
    NodeDoc, SeriesDoc, SeriesPoint,
};
pub use hub::HubStatus;
pub use report::{Bucket, CrashesDoc, StatusDoc, TargetStatus};
pub use resources::{Alert, ResourcesStatus};
pub use system::SystemStatus;
