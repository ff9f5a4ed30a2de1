//! Subsidy schedule against a closed form and an iterative halving; cumulative supply
//! stays below 21 M coins and grows by exactly the subsidy at every height.
//! Input: u32 height.
#![no_main]

use dilithion_core::params::{COIN, HALVING_INTERVAL};
use dilithion_core::subsidy::{block_subsidy, cumulative_supply};
use dilithion_fuzz::Input;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let height = Input::new(data).u32();
    let halvings = height / HALVING_INTERVAL;
    let closed = if halvings >= 64 {
        0
    } else {
        (50 * COIN) >> halvings
    };
    let mut iterative = 50 * COIN;
    for _ in 0..halvings.min(64) {
        iterative /= 2;
    }
    let got = block_subsidy(height);
    assert_eq!(got, closed, "height {height}");
    assert_eq!(got, iterative, "height {height}");

    let supply = cumulative_supply(height);
    assert!(supply < 21_000_000 * COIN, "supply {supply} at {height}");
    assert!(u128::from(supply) <= (u128::from(height) + 1) * u128::from(50 * COIN));
    if height > 0 {
        assert_eq!(supply, cumulative_supply(height - 1) + got);
        assert!(block_subsidy(height - 1) >= got);
        if height.is_multiple_of(HALVING_INTERVAL) {
            assert_eq!(got, block_subsidy(height - 1) / 2, "halving at {height}");
        }
    }
});
