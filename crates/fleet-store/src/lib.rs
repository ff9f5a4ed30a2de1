//! fuzzfleet's state: the on-disk layout of a state dir, atomic blob writes,
//! and the SQLite database (the only crate that speaks SQL).

mod atomic;
pub mod backup;
mod buckets;
mod db;
mod layout;
mod time_util;

pub use atomic::{sha1_hex, write_atomic};
pub use buckets::{BucketPut, BucketRecord, Triage};
pub use db::{
    CoverageRow, Db, FindingInsert, FindingRecord, RAW_SPAN_S, Sample, ScheduleRow, StoreError,
    TargetRates, TargetRecord, WorkerEvent,
};
pub use layout::Layout;
pub use time_util::{now_ms, rfc3339};
