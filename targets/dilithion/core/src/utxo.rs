//! In-memory UTXO set: connect a block (with undo data) and disconnect it again.

use crate::block::Block;
use crate::hash::Hash256;
use crate::params::{COINBASE_MATURITY, MAX_MONEY};
use crate::subsidy::block_subsidy;
use crate::tx::{OutPoint, Transaction, TxOut};
use crate::validation::{TxError, check_transaction};
use std::collections::BTreeMap;
use thiserror::Error;

/// An unspent output and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coin {
    /// The output itself.
    pub output: TxOut,
    /// Height of the block that created it.
    pub height: u32,
    /// Whether a coinbase created it (and so it must mature).
    pub is_coinbase: bool,
}

/// The coins a block spent, in the order its inputs spent them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockUndo {
    /// One coin per non-coinbase input, in block order.
    pub spent: Vec<Coin>,
}

/// Why a block cannot be connected or disconnected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UtxoError {
    /// The block has no transactions.
    #[error("block has no transactions")]
    NoTransactions,
    /// The first transaction is not a coinbase.
    #[error("first transaction is not a coinbase")]
    FirstNotCoinbase,
    /// A later transaction is a coinbase.
    #[error("transaction {index} is a second coinbase")]
    MultipleCoinbase {
        /// Its index.
        index: usize,
    },
    /// A transaction fails the context-free checks.
    #[error("transaction {index}: {source}")]
    Tx {
        /// Its index.
        index: usize,
        /// Why.
        source: TxError,
    },
    /// `bad-txns-inputs-missingorspent`
    #[error("transaction {tx} input {input} spends a missing or spent output")]
    MissingInput {
        /// Transaction index.
        tx: usize,
        /// Input index.
        input: usize,
    },
    /// `bad-txns-premature-spend-of-coinbase`
    #[error(
        "transaction {tx} input {input} spends a coinbase from height {coin_height} at height {height}"
    )]
    ImmatureCoinbaseSpend {
        /// Transaction index.
        tx: usize,
        /// Input index.
        input: usize,
        /// Height of the coinbase.
        coin_height: u32,
        /// Height of the spending block.
        height: u32,
    },
    /// `bad-txns-inputvalues-outofrange`
    #[error("transaction {tx} input values exceed the money range")]
    InputValueOutOfRange {
        /// Transaction index.
        tx: usize,
    },
    /// `bad-txns-in-belowout`
    #[error("transaction {tx} spends {outputs} but only has {inputs}")]
    InputsBelowOutputs {
        /// Transaction index.
        tx: usize,
        /// Sum of inputs.
        inputs: u64,
        /// Sum of outputs.
        outputs: u64,
    },
    /// `bad-txns-BIP30`
    #[error("output {vout} of {txid} already exists unspent")]
    OutputAlreadyExists {
        /// Creating transaction.
        txid: Hash256,
        /// Output index.
        vout: u32,
    },
    /// `bad-cb-amount`
    #[error("coinbase pays {paid}, more than subsidy plus fees {limit}")]
    CoinbaseTooLarge {
        /// What the coinbase pays.
        paid: u64,
        /// Subsidy plus fees.
        limit: u64,
    },
    /// Undo data does not match the block or the set.
    #[error("undo data does not match the block")]
    UndoMismatch,
}

/// One reversible change, so a failed connect or disconnect can be rolled back exactly.
enum Change {
    Added(OutPoint),
    Removed(OutPoint, Coin),
}

/// The set of unspent outputs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UtxoSet {
    coins: BTreeMap<OutPoint, Coin>,
}

impl UtxoSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a coin directly (genesis allocations, fixtures).
    pub fn insert(&mut self, outpoint: OutPoint, coin: Coin) {
        self.coins.insert(outpoint, coin);
    }

    /// The coin at `outpoint`, if unspent.
    pub fn get(&self, outpoint: &OutPoint) -> Option<&Coin> {
        self.coins.get(outpoint)
    }

    /// Number of unspent outputs.
    pub fn len(&self) -> usize {
        self.coins.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.coins.is_empty()
    }

    /// Sum of all unspent values (u128: a hostile set cannot overflow it).
    pub fn total_value(&self) -> u128 {
        self.coins
            .values()
            .map(|c| u128::from(c.output.value))
            .sum()
    }

    /// Connects `block` at `height`: checks coinbase placement, each
    /// transaction, input existence, coinbase maturity, value balance and the
    /// coinbase amount, then spends and creates outputs. On error the set is
    /// left exactly as it was.
    pub fn apply_block(&mut self, block: &Block, height: u32) -> Result<BlockUndo, UtxoError> {
        check_shape(block)?;
        let mut journal = Vec::new();
        let result = self.connect(block, height, &mut journal);
        if result.is_err() {
            self.roll_back(journal);
        }
        result
    }

    /// Disconnects `block`, the last block applied, with its undo data. On
    /// error the set is left exactly as it was.
    pub fn undo_block(&mut self, block: &Block, undo: &BlockUndo) -> Result<(), UtxoError> {
        let mut journal = Vec::new();
        let result = self.disconnect(block, undo, &mut journal);
        if result.is_err() {
            self.roll_back(journal);
        }
        result
    }

    fn connect(
        &mut self,
        block: &Block,
        height: u32,
        journal: &mut Vec<Change>,
    ) -> Result<BlockUndo, UtxoError> {
        let mut undo = BlockUndo::default();
        let mut fees = 0u64;
        for (tx_index, tx) in block.txs.iter().enumerate() {
            if tx_index > 0 {
                let mut inputs = 0u64;
                for (input_index, input) in tx.inputs.iter().enumerate() {
                    let coin = self
                        .coins
                        .get(&input.prevout)
                        .ok_or(UtxoError::MissingInput {
                            tx: tx_index,
                            input: input_index,
                        })?;
                    if coin.is_coinbase && height.saturating_sub(coin.height) < COINBASE_MATURITY {
                        return Err(UtxoError::ImmatureCoinbaseSpend {
                            tx: tx_index,
                            input: input_index,
                            coin_height: coin.height,
                            height,
                        });
                    }
                    inputs = inputs
                        .checked_add(coin.output.value)
                        .filter(|v| *v <= MAX_MONEY)
                        .ok_or(UtxoError::InputValueOutOfRange { tx: tx_index })?;
                    let coin = self
                        .coins
                        .remove(&input.prevout)
                        .ok_or(UtxoError::UndoMismatch)?;
                    undo.spent.push(coin.clone());
                    journal.push(Change::Removed(input.prevout, coin));
                }
                let outputs = output_total(tx);
                if inputs < outputs {
                    return Err(UtxoError::InputsBelowOutputs {
                        tx: tx_index,
                        inputs,
                        outputs,
                    });
                }
                fees = fees
                    .checked_add(inputs - outputs)
                    .filter(|v| *v <= MAX_MONEY)
                    .ok_or(UtxoError::InputValueOutOfRange { tx: tx_index })?;
            }
            self.add_outputs(tx, height, tx_index == 0, journal)?;
        }
        let paid = output_total(&block.txs[0]);
        let limit = block_subsidy(height) + fees;
        if paid > limit {
            return Err(UtxoError::CoinbaseTooLarge { paid, limit });
        }
        Ok(undo)
    }

    fn add_outputs(
        &mut self,
        tx: &Transaction,
        height: u32,
        is_coinbase: bool,
        journal: &mut Vec<Change>,
    ) -> Result<(), UtxoError> {
        let txid = tx.txid();
        for (vout, output) in tx.outputs.iter().enumerate() {
            let vout = vout as u32;
            let outpoint = OutPoint { txid, vout };
            if self.coins.contains_key(&outpoint) {
                return Err(UtxoError::OutputAlreadyExists { txid, vout });
            }
            let coin = Coin {
                output: output.clone(),
                height,
                is_coinbase,
            };
            self.coins.insert(outpoint, coin);
            journal.push(Change::Added(outpoint));
        }
        Ok(())
    }

    fn disconnect(
        &mut self,
        block: &Block,
        undo: &BlockUndo,
        journal: &mut Vec<Change>,
    ) -> Result<(), UtxoError> {
        let spends: usize = block.txs.iter().skip(1).map(|t| t.inputs.len()).sum();
        if spends != undo.spent.len() {
            return Err(UtxoError::UndoMismatch);
        }
        let mut restore = undo.spent.iter().rev();
        for (tx_index, tx) in block.txs.iter().enumerate().rev() {
            let txid = tx.txid();
            for (vout, output) in tx.outputs.iter().enumerate().rev() {
                let outpoint = OutPoint {
                    txid,
                    vout: vout as u32,
                };
                match self.coins.remove(&outpoint) {
                    Some(coin) if coin.output == *output => {
                        journal.push(Change::Removed(outpoint, coin));
                    }
                    Some(coin) => {
                        self.coins.insert(outpoint, coin);
                        return Err(UtxoError::UndoMismatch);
                    }
                    None => return Err(UtxoError::UndoMismatch),
                }
            }
            if tx_index == 0 {
                continue;
            }
            for input in tx.inputs.iter().rev() {
                let coin = restore.next().ok_or(UtxoError::UndoMismatch)?;
                if self.coins.contains_key(&input.prevout) {
                    return Err(UtxoError::UndoMismatch);
                }
                self.coins.insert(input.prevout, coin.clone());
                journal.push(Change::Added(input.prevout));
            }
        }
        Ok(())
    }

    fn roll_back(&mut self, journal: Vec<Change>) {
        for change in journal.into_iter().rev() {
            match change {
                Change::Added(outpoint) => {
                    self.coins.remove(&outpoint);
                }
                Change::Removed(outpoint, coin) => {
                    self.coins.insert(outpoint, coin);
                }
            }
        }
    }
}

/// Sum of a checked transaction's outputs (already bounded by MAX_MONEY).
fn output_total(tx: &Transaction) -> u64 {
    tx.outputs.iter().map(|o| o.value).sum()
}

fn check_shape(block: &Block) -> Result<(), UtxoError> {
    let first = block.txs.first().ok_or(UtxoError::NoTransactions)?;
    if !first.is_coinbase() {
        return Err(UtxoError::FirstNotCoinbase);
    }
    if let Some(i) = block.txs.iter().skip(1).position(Transaction::is_coinbase) {
        return Err(UtxoError::MultipleCoinbase { index: i + 1 });
    }
    for (index, tx) in block.txs.iter().enumerate() {
        check_transaction(tx).map_err(|source| UtxoError::Tx { index, source })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use crate::params::COIN;

    #[test]
    fn apply_then_undo_restores_the_set() {
        let mut set = fixture::utxo_fixture();
        let before = set.clone();
        let block = fixture::spend_block(fixture::FIXTURE_HEIGHT);
        let undo = set.apply_block(&block, fixture::FIXTURE_HEIGHT).unwrap();
        assert_ne!(set, before);
        assert!(
            set.total_value()
                <= before.total_value() + u128::from(block_subsidy(fixture::FIXTURE_HEIGHT))
        );
        set.undo_block(&block, &undo).unwrap();
        assert_eq!(set, before);
    }

    #[test]
    fn outputs_of_a_connected_block_are_spendable_in_the_next() {
        use crate::tx::{TxIn, TxOut};
        let mut set = fixture::utxo_fixture();
        let first = fixture::spend_block(fixture::FIXTURE_HEIGHT);
        let undo1 = set.apply_block(&first, fixture::FIXTURE_HEIGHT).unwrap();
        let txid = first.txs[1].txid();
        let value: u64 = first.txs[1].outputs.iter().map(|o| o.value).sum();
        let follow = Transaction {
            version: 1,
            inputs: (0..2)
                .map(|vout| TxIn {
                    prevout: OutPoint { txid, vout },
                    script_sig: vec![],
                    sequence: u32::MAX,
                })
                .collect(),
            outputs: vec![TxOut {
                value: value - COIN / 10,
                script_pubkey: vec![0xb1; 20],
            }],
            lock_time: 0,
        };
        let second = fixture::block_with(fixture::FIXTURE_HEIGHT + 1, vec![follow], COIN / 10);
        let after_first = set.clone();
        let undo2 = set
            .apply_block(&second, fixture::FIXTURE_HEIGHT + 1)
            .unwrap();
        set.undo_block(&second, &undo2).unwrap();
        assert_eq!(set, after_first);
        set.undo_block(&first, &undo1).unwrap();
        assert_eq!(set, fixture::utxo_fixture());
    }

    #[test]
    fn immature_coinbase_spend_is_rejected_and_leaves_set_unchanged() {
        let mut set = fixture::utxo_fixture();
        let before = set.clone();
        let block = fixture::immature_spend_block(fixture::FIXTURE_HEIGHT);
        assert!(matches!(
            set.apply_block(&block, fixture::FIXTURE_HEIGHT),
            Err(UtxoError::ImmatureCoinbaseSpend { .. })
        ));
        assert_eq!(set, before);
    }

    #[test]
    fn overpaying_coinbase_is_rejected() {
        let mut set = fixture::utxo_fixture();
        let mut block = fixture::spend_block(fixture::FIXTURE_HEIGHT);
        block.txs[0].outputs[0].value += 100 * COIN;
        assert!(matches!(
            set.apply_block(&block, fixture::FIXTURE_HEIGHT),
            Err(UtxoError::CoinbaseTooLarge { .. })
        ));
        assert_eq!(set, fixture::utxo_fixture());
    }

    #[test]
    fn double_spend_across_blocks_is_missing_input() {
        let mut set = fixture::utxo_fixture();
        let block = fixture::spend_block(fixture::FIXTURE_HEIGHT);
        set.apply_block(&block, fixture::FIXTURE_HEIGHT).unwrap();
        let mut again = fixture::spend_block(fixture::FIXTURE_HEIGHT + 1);
        again.txs[0] = fixture::coinbase(fixture::FIXTURE_HEIGHT + 1, 0, &[]);
        assert!(matches!(
            set.apply_block(&again, fixture::FIXTURE_HEIGHT + 1),
            Err(UtxoError::MissingInput { .. })
        ));
    }

    #[test]
    fn undo_with_wrong_data_is_refused_atomically() {
        let mut set = fixture::utxo_fixture();
        let block = fixture::spend_block(fixture::FIXTURE_HEIGHT);
        let undo = set.apply_block(&block, fixture::FIXTURE_HEIGHT).unwrap();
        let after = set.clone();
        let mut bad = undo.clone();
        bad.spent.pop();
        assert_eq!(set.undo_block(&block, &bad), Err(UtxoError::UndoMismatch));
        assert_eq!(set, after);
    }
}
