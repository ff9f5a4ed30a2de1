//! What fuzzfleet reads from the kernel, in one place. Every `/proc` file is read and
//! parsed here and nowhere else: the machine's CPU and memory figures, and a
//! process's state, parent, group, session, CPU time and memory.

pub mod procfs;
