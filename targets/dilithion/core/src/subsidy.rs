//! Block subsidy schedule: 50 coins halving every 210,000 blocks, zero after 64 halvings.

use crate::params::{HALVING_INTERVAL, INITIAL_SUBSIDY, MAX_HALVINGS};

/// New coins a block at `height` may create.
pub fn block_subsidy(height: u32) -> u64 {
    let halvings = height / HALVING_INTERVAL;
    if halvings >= MAX_HALVINGS {
        return 0;
    }
    INITIAL_SUBSIDY >> halvings
}

/// Total subsidy of blocks 0..=height, computed era by era (at most 64 eras
/// contribute, so this is constant time).
pub fn cumulative_supply(height: u32) -> u64 {
    let mut total = 0u64;
    let last_era = height / HALVING_INTERVAL;
    for era in 0..=last_era.min(MAX_HALVINGS) {
        let era_start = era * HALVING_INTERVAL;
        let blocks = if era == last_era {
            u64::from(height - era_start) + 1
        } else {
            u64::from(HALVING_INTERVAL)
        };
        total += blocks * block_subsidy(era_start);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::{COIN, MAX_MONEY};
    use proptest::prelude::*;

    #[test]
    fn schedule_points() {
        assert_eq!(block_subsidy(0), 50 * COIN);
        assert_eq!(block_subsidy(209_999), 50 * COIN);
        assert_eq!(block_subsidy(210_000), 25 * COIN);
        assert_eq!(block_subsidy(420_000), 1_250_000_000);
        assert_eq!(block_subsidy(210_000 * 33), 0);
        assert_eq!(block_subsidy(210_000 * 64), 0);
        assert_eq!(block_subsidy(u32::MAX), 0);
    }

    #[test]
    fn final_supply_matches_bitcoin() {
        // Same schedule as Bitcoin: 20,999,999.9769 coins in the end.
        assert_eq!(cumulative_supply(u32::MAX), 2_099_999_997_690_000);
        assert!(cumulative_supply(u32::MAX) < MAX_MONEY);
    }

    proptest! {
        #[test]
        fn cumulative_is_running_sum(h in 1u32..u32::MAX) {
            prop_assert_eq!(cumulative_supply(h), cumulative_supply(h - 1) + block_subsidy(h));
        }
    }
}
