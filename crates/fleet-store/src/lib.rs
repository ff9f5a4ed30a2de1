//! fleet-store
