//! fleet-build
