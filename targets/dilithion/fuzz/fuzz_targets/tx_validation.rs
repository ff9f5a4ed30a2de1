//! Transaction structural checks: never panic, accepted txs re-serialize identically,
//! overflowing values, duplicate inputs and oversize scripts are always rejected.
//! Input: a serialized transaction.
#![no_main]

use dilithion_core::params::{MAX_MONEY, MAX_SCRIPT_BYTES, MAX_TX_BYTES};
use dilithion_core::tx::Transaction;
use dilithion_core::validation::{TxError, check_transaction};
use libfuzzer_sys::fuzz_target;

/// Reasons a transaction must be rejected, computed without the validator.
fn must_reject(tx: &Transaction, size: usize) -> bool {
    let empty = tx.inputs.is_empty() || tx.outputs.is_empty();
    let value_overflow = tx
        .outputs
        .iter()
        .try_fold(0u64, |acc, o| {
            acc.checked_add(o.value).filter(|s| *s <= MAX_MONEY)
        })
        .is_none();
    let mut prevouts: Vec<_> = tx.inputs.iter().map(|i| i.prevout).collect();
    prevouts.sort();
    let duplicate = prevouts.windows(2).any(|w| w[0] == w[1]);
    let big_script = tx
        .inputs
        .iter()
        .any(|i| i.script_sig.len() > MAX_SCRIPT_BYTES)
        || tx
            .outputs
            .iter()
            .any(|o| o.script_pubkey.len() > MAX_SCRIPT_BYTES);
    let coinbase_len = tx.is_coinbase() && !(2..=100).contains(&tx.inputs[0].script_sig.len());
    let null_prevout = !tx.is_coinbase() && tx.inputs.iter().any(|i| i.prevout.is_null());
    empty
        || size > MAX_TX_BYTES
        || value_overflow
        || duplicate
        || big_script
        || coinbase_len
        || null_prevout
}

fuzz_target!(|data: &[u8]| {
    let Ok(tx) = Transaction::decode(data) else {
        return;
    };
    let result = check_transaction(&tx);
    // The validator and the restated rules agree in both directions.
    assert_eq!(result.is_err(), must_reject(&tx, data.len()), "{result:?}");
    if result.is_err() {
        return;
    }
    assert_eq!(
        tx.encode(),
        data,
        "accepted tx does not re-serialize identically"
    );

    // Mutations of an accepted transaction that must each be rejected.
    let mut dup = tx.clone();
    dup.inputs.push(tx.inputs[0].clone());
    assert!(check_transaction(&dup).is_err(), "duplicate input accepted");

    let mut too_much = tx.clone();
    too_much.outputs[0].value = MAX_MONEY + 1;
    assert!(matches!(
        check_transaction(&too_much),
        Err(TxError::OutputValueTooLarge { index: 0, .. })
    ));

    let total: u64 = tx.outputs.iter().map(|o| o.value).sum();
    if total > 0 {
        let mut overflow = tx.clone();
        overflow.outputs.push(dilithion_core::tx::TxOut {
            value: MAX_MONEY,
            script_pubkey: vec![],
        });
        assert!(
            check_transaction(&overflow).is_err(),
            "output total over MAX_MONEY accepted"
        );
    }

    let mut big = tx.clone();
    big.outputs[0].script_pubkey.resize(MAX_SCRIPT_BYTES + 1, 0);
    assert!(
        check_transaction(&big).is_err(),
        "oversize scriptPubKey accepted"
    );
});
