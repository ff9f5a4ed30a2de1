//! fleet-run
