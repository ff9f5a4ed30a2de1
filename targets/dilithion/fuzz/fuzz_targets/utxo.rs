//! UTXO apply/undo: undo restores the set exactly, a failed apply changes nothing,
//! value never grows beyond the subsidy, immature coinbase spends are rejected.
//! Input: i8 height offset from the fixture height, then up to four serialized blocks
//! applied in sequence to the fixture set.
#![no_main]

use dilithion_core::block::Block;
use dilithion_core::fixture::{FIXTURE_HEIGHT, utxo_fixture};
use dilithion_core::params::COINBASE_MATURITY;
use dilithion_core::reader::Reader;
use dilithion_core::subsidy::block_subsidy;
use dilithion_core::utxo::UtxoSet;
use libfuzzer_sys::fuzz_target;

/// Whether `block` at `height` spends a coinbase output younger than the maturity,
/// from the set or from its own coinbase.
fn spends_immature(set: &UtxoSet, block: &Block, height: u32) -> bool {
    let own_coinbase = block.txs.first().map(|cb| cb.txid());
    block
        .txs
        .iter()
        .skip(1)
        .flat_map(|tx| &tx.inputs)
        .any(|input| {
            Some(input.prevout.txid) == own_coinbase
                || set.get(&input.prevout).is_some_and(|c| {
                    c.is_coinbase && height.saturating_sub(c.height) < COINBASE_MATURITY
                })
        })
}

fuzz_target!(|data: &[u8]| {
    let Some((&offset, rest)) = data.split_first() else {
        return;
    };
    let start = FIXTURE_HEIGHT.wrapping_add_signed(i32::from(offset as i8));
    let mut reader = Reader::new(rest);
    let mut set = utxo_fixture();
    let initial = set.clone();
    let mut applied = Vec::new();
    for height in start..start + 4 {
        let Ok(block) = Block::decode_from(&mut reader) else {
            break;
        };
        let before = set.clone();
        let immature = spends_immature(&set, &block, height);
        match set.apply_block(&block, height) {
            Ok(undo) => {
                assert!(
                    !immature,
                    "immature coinbase spend accepted at height {height}"
                );
                assert!(
                    set.total_value() <= before.total_value() + u128::from(block_subsidy(height)),
                    "value grew beyond the subsidy"
                );
                // Every spent outpoint is gone.
                for input in block.txs.iter().skip(1).flat_map(|t| &t.inputs) {
                    assert!(
                        set.get(&input.prevout).is_none(),
                        "spent outpoint still present"
                    );
                }
                applied.push((block, undo, before));
            }
            Err(_) => assert_eq!(set, before, "failed apply changed the set"),
        }
    }
    for (block, undo, before) in applied.into_iter().rev() {
        set.undo_block(&block, &undo)
            .expect("undo of an applied block");
        assert_eq!(set, before, "undo did not restore the set");
    }
    assert_eq!(set, initial);
});
