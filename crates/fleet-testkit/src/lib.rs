//! Test support shared by the integration tests: fixture binaries, temp dirs, deadlines.
