//! Rust port of the Dilithion consensus primitives (see docs/suite.md).
//!
//! Every parser takes untrusted bytes and returns a typed error; none panics,
//! allocates more than its input can justify, or loops on hostile input.
//! These are the code under test of the bundled fuzz suite.

pub mod address;
pub mod base58;
pub mod bech32;
pub mod block;
pub mod compactsize;
pub mod difficulty;
pub mod fixture;
pub mod hash;
pub mod header;
pub mod merkle;
pub mod message;
pub mod params;
pub mod payload;
pub mod reader;
pub mod sig;
pub mod subsidy;
pub mod tx;
pub mod u256;
pub mod utxo;
pub mod validation;

pub use hash::Hash256;
pub use reader::DecodeError;
