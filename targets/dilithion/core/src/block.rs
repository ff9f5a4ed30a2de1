//! Blocks: serialization and context-free checks (Bitcoin's `CheckBlock`).

use crate::compactsize::{read_length, write_compact_size};
use crate::difficulty::{PowError, check_proof_of_work};
use crate::hash::Hash256;
use crate::header::{BlockHeader, HEADER_BYTES};
use crate::merkle::merkle_root;
use crate::params::MAX_BLOCK_TX_BYTES;
use crate::reader::{DecodeError, Reader};
use crate::tx::Transaction;
use crate::validation::{TxError, check_transaction};
use thiserror::Error;

/// Smallest serialized transaction (no inputs, no outputs): version, two counts, lock time.
const MIN_TX_BYTES: usize = 10;

/// A block: header then transactions, the first of which must be the coinbase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// The 80-byte header.
    pub header: BlockHeader,
    /// Transactions in order.
    pub txs: Vec<Transaction>,
}

/// Whether [`check_block`] verifies the header's proof of work. Fuzz targets
/// and tests turn it off to reach the checks behind it; consensus never does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowCheck {
    /// Check the header hash against nBits.
    Enforce,
    /// Skip the proof-of-work check.
    Skip,
}

/// Why a block fails the context-free checks. Names follow Bitcoin's reject reasons.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BlockError {
    /// `high-hash` / `bad-diffbits`
    #[error("proof of work: {0}")]
    Pow(#[from] PowError),
    /// `bad-txnmrklroot`
    #[error("merkle root in header does not match the transactions")]
    BadMerkleRoot,
    /// `bad-txns-duplicate` (CVE-2012-2459)
    #[error("merkle tree is mutated: duplicate transactions")]
    MutatedMerkle,
    /// `bad-blk-length` (empty)
    #[error("block has no transactions")]
    NoTransactions,
    /// `bad-blk-length` (too big)
    #[error("block transactions take {size} bytes, over the {MAX_BLOCK_TX_BYTES}-byte limit")]
    Oversize {
        /// Sum of serialized transaction sizes.
        size: usize,
    },
    /// `bad-cb-missing`
    #[error("first transaction is not a coinbase")]
    FirstNotCoinbase,
    /// `bad-cb-multiple`
    #[error("transaction {index} is a second coinbase")]
    MultipleCoinbase {
        /// Index of the extra coinbase.
        index: usize,
    },
    /// A transaction fails [`check_transaction`].
    #[error("transaction {index}: {source}")]
    Tx {
        /// Index in the block.
        index: usize,
        /// The transaction's error.
        source: TxError,
    },
}

impl Block {
    /// The serialization: header, CompactSize count, transactions.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_BYTES + 9 + self.tx_bytes());
        out.extend_from_slice(&self.header.encode());
        write_compact_size(&mut out, self.txs.len() as u64);
        for tx in &self.txs {
            tx.encode_to(&mut out);
        }
        out
    }

    /// Reads one block from `r`.
    pub fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let header = BlockHeader::decode_from(r)?;
        let count = read_length(
            r,
            "transaction count",
            (MAX_BLOCK_TX_BYTES / MIN_TX_BYTES) as u64,
        )?;
        let mut txs = Vec::with_capacity(r.capacity_for(count, MIN_TX_BYTES));
        for _ in 0..count {
            txs.push(Transaction::decode_from(r)?);
        }
        Ok(Block { header, txs })
    }

    /// Decodes exactly one block; trailing bytes are an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let b = Self::decode_from(&mut r)?;
        r.finish()?;
        Ok(b)
    }

    /// Block hash (SHA3-256 of the header).
    pub fn hash(&self) -> Hash256 {
        self.header.hash()
    }

    /// Sum of the transactions' serialized sizes, the quantity the size limit bounds.
    pub fn tx_bytes(&self) -> usize {
        self.txs.iter().map(Transaction::encoded_len).sum()
    }

    /// The txids, in block order.
    pub fn txids(&self) -> Vec<Hash256> {
        self.txs.iter().map(Transaction::txid).collect()
    }
}

/// Checks a block without chain context, in Bitcoin's order: proof of work,
/// merkle root (and mutation), size, coinbase placement, each transaction.
pub fn check_block(block: &Block, pow: PowCheck) -> Result<(), BlockError> {
    if pow == PowCheck::Enforce {
        check_proof_of_work(&block.hash(), block.header.bits)?;
    }
    let merkle = merkle_root(&block.txids());
    if merkle.root != block.header.merkle_root {
        return Err(BlockError::BadMerkleRoot);
    }
    if merkle.mutated {
        return Err(BlockError::MutatedMerkle);
    }
    if block.txs.is_empty() {
        return Err(BlockError::NoTransactions);
    }
    let size = block.tx_bytes();
    if size > MAX_BLOCK_TX_BYTES {
        return Err(BlockError::Oversize { size });
    }
    if !block.txs[0].is_coinbase() {
        return Err(BlockError::FirstNotCoinbase);
    }
    if let Some(index) = block.txs.iter().skip(1).position(Transaction::is_coinbase) {
        return Err(BlockError::MultipleCoinbase { index: index + 1 });
    }
    for (index, tx) in block.txs.iter().enumerate() {
        check_transaction(tx).map_err(|source| BlockError::Tx { index, source })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    #[test]
    fn mined_fixture_block_passes_all_checks() {
        let block = fixture::sample_block();
        assert_eq!(check_block(&block, PowCheck::Enforce), Ok(()));
        assert_eq!(Block::decode(&block.encode()), Ok(block));
    }

    #[test]
    fn duplicated_last_transaction_is_mutated() {
        let mut block = fixture::sample_block();
        // Three transactions, so duplicating the third keeps the root.
        assert!(!block.txs.len().is_multiple_of(2));
        block.txs.push(block.txs.last().unwrap().clone());
        assert_eq!(merkle_root(&block.txids()).root, block.header.merkle_root);
        assert_eq!(
            check_block(&block, PowCheck::Skip),
            Err(BlockError::MutatedMerkle)
        );
    }

    #[test]
    fn wrong_merkle_root_is_rejected() {
        let mut block = fixture::sample_block();
        block.header.merkle_root.0[0] ^= 1;
        assert_eq!(
            check_block(&block, PowCheck::Skip),
            Err(BlockError::BadMerkleRoot)
        );
    }

    #[test]
    fn coinbase_must_be_first_and_unique() {
        let mut block = fixture::sample_block();
        block.txs.swap(0, 1);
        block.header.merkle_root = merkle_root(&block.txids()).root;
        assert_eq!(
            check_block(&block, PowCheck::Skip),
            Err(BlockError::FirstNotCoinbase)
        );
        block.txs.swap(0, 1);
        block.txs[1] = fixture::coinbase(7, 1, &[]);
        block.header.merkle_root = merkle_root(&block.txids()).root;
        assert_eq!(
            check_block(&block, PowCheck::Skip),
            Err(BlockError::MultipleCoinbase { index: 1 })
        );
    }

    #[test]
    fn unmined_header_fails_pow() {
        let mut block = fixture::sample_block();
        block.header.bits = crate::params::MIN_TARGET_BITS;
        assert!(matches!(
            check_block(&block, PowCheck::Enforce),
            Err(BlockError::Pow(_))
        ));
    }
}
