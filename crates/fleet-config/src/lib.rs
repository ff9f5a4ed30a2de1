//! fleet-config
