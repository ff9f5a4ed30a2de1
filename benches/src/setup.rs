//! What both benchmarks do first: read the knobs, build fuzzfleet in release, build the
//! fixture, make a scratch dir, and say what is about to be measured.

use std::path::PathBuf;

use crate::knobs::Knobs;
use crate::scratch::Scratch;
use crate::{fleet, hand, procs};

/// A benchmark's inputs, ready to run.
pub struct Setup {
    pub knobs: Knobs,
    pub fuzzfleet: PathBuf,
    pub binary: PathBuf,
    pub seeds: PathBuf,
    pub scratch: Scratch,
}

impl Setup {
    /// Prepares benchmark `name` on fixture `target`, with its default seconds per run
    /// and pairs, and prints the header line.
    pub fn new(name: &str, target: &str, secs: u64, pairs: usize) -> Self {
        procs::stop_on_signals();
        let knobs = Knobs::read(secs, pairs);
        let fuzzfleet = fleet::build_release();
        let binary = fleet_testkit::rust_fixture(target);
        let seeds = fleet_testkit::rust_fixture_seeds(target);
        let scratch = Scratch::new(name);
        println!(
            "{name}: {} workers of `{target}` for {} s, {} pairs; fuzzfleet {} ({}); \
             {} cores; baseline output: {:?}; runs in {}",
            knobs.workers,
            knobs.run_for.as_secs(),
            knobs.pairs,
            fuzzfleet.display(),
            fleet::source_label(),
            std::thread::available_parallelism().map_or(0, |c| c.get()),
            hand::Output::from_env(),
            scratch.path().display()
        );
        Self {
            knobs,
            fuzzfleet,
            binary,
            seeds,
            scratch,
        }
    }
}
