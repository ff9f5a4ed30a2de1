//! fleet-engine
