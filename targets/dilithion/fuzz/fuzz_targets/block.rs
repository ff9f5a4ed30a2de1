//! Block parse/serialize round trip and the context-free checks against restated rules:
//! merkle root (naive reference, mutation), size limit, exactly one coinbase, first.
//! Input: a serialized block.
#![no_main]

use dilithion_core::block::{Block, BlockError, PowCheck, check_block};
use dilithion_core::difficulty::check_proof_of_work;
use dilithion_core::params::MAX_BLOCK_TX_BYTES;
use dilithion_core::validation::check_transaction;
use dilithion_fuzz::naive_merkle;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(block) = Block::decode(data) else {
        return;
    };
    assert_eq!(
        block.encode(),
        data,
        "block does not re-serialize identically"
    );

    let (root, mutated) = naive_merkle(&block.txids());
    let expect_ok = root == block.header.merkle_root
        && !mutated
        && !block.txs.is_empty()
        && block.txs.iter().map(|t| t.encode().len()).sum::<usize>() <= MAX_BLOCK_TX_BYTES
        && block.txs[0].is_coinbase()
        && !block.txs[1..].iter().any(|t| t.is_coinbase())
        && block.txs.iter().all(|t| check_transaction(t).is_ok());
    let result = check_block(&block, PowCheck::Skip);
    assert_eq!(result.is_ok(), expect_ok, "{result:?}");

    // With proof of work enforced, the result is the PoW check then the rest.
    let pow = check_proof_of_work(&block.hash(), block.header.bits);
    let enforced = check_block(&block, PowCheck::Enforce);
    match pow {
        Err(e) => assert_eq!(enforced, Err(BlockError::Pow(e))),
        Ok(()) => assert_eq!(enforced, result),
    }

    // CVE-2012-2459: duplicating the tail of an odd level keeps the root but must be rejected.
    if expect_ok && !block.txs.len().is_multiple_of(2) && block.txs.len() > 1 {
        let mut dup = block.clone();
        dup.txs.push(block.txs[block.txs.len() - 1].clone());
        assert_eq!(naive_merkle(&dup.txids()).0, block.header.merkle_root);
        assert_eq!(
            check_block(&dup, PowCheck::Skip),
            Err(BlockError::MutatedMerkle)
        );
    }
});
