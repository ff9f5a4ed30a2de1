//! Context-free transaction checks (Bitcoin's `CheckTransaction`).

use crate::params::{
    MAX_COINBASE_SCRIPT_BYTES, MAX_MONEY, MAX_SCRIPT_BYTES, MAX_TX_BYTES, MIN_COINBASE_SCRIPT_BYTES,
};
use crate::tx::Transaction;
use std::collections::HashSet;
use thiserror::Error;

/// Why a transaction is structurally invalid. Names follow Bitcoin's reject reasons.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TxError {
    /// `bad-txns-vin-empty`
    #[error("transaction has no inputs")]
    NoInputs,
    /// `bad-txns-vout-empty`
    #[error("transaction has no outputs")]
    NoOutputs,
    /// `bad-txns-oversize`
    #[error("transaction is {size} bytes, over the {MAX_TX_BYTES}-byte limit")]
    Oversize {
        /// Serialized size.
        size: usize,
    },
    /// `bad-txns-vout-toolarge`
    #[error("output {index} value {value} exceeds the money range")]
    OutputValueTooLarge {
        /// Output index.
        index: usize,
        /// Its value.
        value: u64,
    },
    /// `bad-txns-txouttotal-toolarge`
    #[error("sum of outputs exceeds the money range")]
    OutputTotalTooLarge,
    /// `bad-txns-inputs-duplicate`
    #[error("input {index} spends the same outpoint as an earlier input")]
    DuplicateInput {
        /// Index of the second spend.
        index: usize,
    },
    /// `bad-cb-length`
    #[error("coinbase scriptSig is {len} bytes, outside 2..=100")]
    BadCoinbaseLength {
        /// Its length.
        len: usize,
    },
    /// `bad-txns-prevout-null`
    #[error("input {index} of a non-coinbase transaction spends the null outpoint")]
    NullPrevout {
        /// Input index.
        index: usize,
    },
    /// A scriptSig or scriptPubKey over the script size limit.
    #[error("script of {len} bytes exceeds the {MAX_SCRIPT_BYTES}-byte limit")]
    ScriptTooLarge {
        /// Its length.
        len: usize,
    },
}

/// Checks everything about `tx` that does not depend on the chain.
pub fn check_transaction(tx: &Transaction) -> Result<(), TxError> {
    if tx.inputs.is_empty() {
        return Err(TxError::NoInputs);
    }
    if tx.outputs.is_empty() {
        return Err(TxError::NoOutputs);
    }
    let size = tx.encoded_len();
    if size > MAX_TX_BYTES {
        return Err(TxError::Oversize { size });
    }
    let mut total = 0u64;
    for (index, out) in tx.outputs.iter().enumerate() {
        if out.value > MAX_MONEY {
            return Err(TxError::OutputValueTooLarge {
                index,
                value: out.value,
            });
        }
        total = total
            .checked_add(out.value)
            .filter(|t| *t <= MAX_MONEY)
            .ok_or(TxError::OutputTotalTooLarge)?;
        if out.script_pubkey.len() > MAX_SCRIPT_BYTES {
            return Err(TxError::ScriptTooLarge {
                len: out.script_pubkey.len(),
            });
        }
    }
    let mut seen = HashSet::with_capacity(tx.inputs.len());
    for (index, input) in tx.inputs.iter().enumerate() {
        if !seen.insert(input.prevout) {
            return Err(TxError::DuplicateInput { index });
        }
        if input.script_sig.len() > MAX_SCRIPT_BYTES {
            return Err(TxError::ScriptTooLarge {
                len: input.script_sig.len(),
            });
        }
    }
    if tx.is_coinbase() {
        let len = tx.inputs[0].script_sig.len();
        if !(MIN_COINBASE_SCRIPT_BYTES..=MAX_COINBASE_SCRIPT_BYTES).contains(&len) {
            return Err(TxError::BadCoinbaseLength { len });
        }
    } else if let Some(index) = tx.inputs.iter().position(|i| i.prevout.is_null()) {
        return Err(TxError::NullPrevout { index });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    #[test]
    fn fixtures_are_valid() {
        assert_eq!(check_transaction(&fixture::sample_spend()), Ok(()));
        assert_eq!(check_transaction(&fixture::coinbase(1, 50, &[])), Ok(()));
    }

    #[test]
    fn duplicate_inputs_are_rejected() {
        let mut tx = fixture::sample_spend();
        tx.inputs.push(tx.inputs[0].clone());
        assert_eq!(
            check_transaction(&tx),
            Err(TxError::DuplicateInput { index: 1 })
        );
    }

    #[test]
    fn value_overflow_is_rejected() {
        let mut tx = fixture::sample_spend();
        tx.outputs[0].value = MAX_MONEY;
        tx.outputs.push(tx.outputs[0].clone());
        assert_eq!(check_transaction(&tx), Err(TxError::OutputTotalTooLarge));
        tx.outputs[0].value = u64::MAX;
        assert!(matches!(
            check_transaction(&tx),
            Err(TxError::OutputValueTooLarge { index: 0, .. })
        ));
    }

    #[test]
    fn oversize_script_is_rejected() {
        let mut tx = fixture::sample_spend();
        tx.outputs[0].script_pubkey = vec![0; MAX_SCRIPT_BYTES + 1];
        assert_eq!(
            check_transaction(&tx),
            Err(TxError::ScriptTooLarge {
                len: MAX_SCRIPT_BYTES + 1
            })
        );
    }

    #[test]
    fn coinbase_script_length_is_bounded() {
        let mut cb = fixture::coinbase(1, 50, &[]);
        cb.inputs[0].script_sig = vec![0];
        assert_eq!(
            check_transaction(&cb),
            Err(TxError::BadCoinbaseLength { len: 1 })
        );
    }

    #[test]
    fn null_prevout_outside_coinbase_is_rejected() {
        let mut tx = fixture::sample_spend();
        tx.inputs.push(tx.inputs[0].clone());
        tx.inputs[1].prevout = crate::tx::OutPoint::NULL;
        assert_eq!(
            check_transaction(&tx),
            Err(TxError::NullPrevout { index: 1 })
        );
    }
}
