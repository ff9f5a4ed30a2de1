//! `fuzzfleet status --watch`: a live terminal view of one node or several. Sources
//! (the local state, or nodes' HTTP API) feed one `Model`; the view draws only from
//! it; keys change only the `UiState`.

pub mod app;
pub mod keys;
pub mod model;
pub mod source;
pub mod terminal;
pub mod text;
pub mod view;
pub mod wire;

pub use app::{has_tty, watch};
pub use source::Source;
pub use source::local::LocalSource;
pub use source::remote::{Client, RemoteError, RemoteSource};
