//! Rust port of the Dilithion consensus primitives (see docs/suite.md).
