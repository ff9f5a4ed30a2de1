//! The documents the API serves, shared by the server, the client and the live view:
//! they live in `fleet-docs`.

pub use fleet_docs::api::*;
