//! Deterministic sample objects shared by the unit tests, the seed generator and the fuzz targets.

use crate::block::Block;
use crate::difficulty::check_proof_of_work;
use crate::hash::{Hash256, sha3_256};
use crate::header::BlockHeader;
use crate::merkle::merkle_root;
use crate::params::{COIN, POW_LIMIT_BITS, PROTOCOL_VERSION};
use crate::payload::{NetAddr, VersionMessage};
use crate::subsidy::block_subsidy;
use crate::tx::{OutPoint, Transaction, TxIn, TxOut};
use crate::utxo::{Coin, UtxoSet};

/// Height at which the fixture blocks connect to [`utxo_fixture`].
pub const FIXTURE_HEIGHT: u32 = 1_000;
/// Number of coins in [`utxo_fixture`].
pub const FIXTURE_COINS: u32 = 6;

/// Outpoint of fixture coin `i`.
pub fn fixture_outpoint(i: u32) -> OutPoint {
    OutPoint {
        txid: sha3_256(format!("dilithion fixture coin {i}").as_bytes()),
        vout: i % 2,
    }
}

/// Coin `i` of the fixture set: even coins are ordinary outputs, coin 1 a
/// mature coinbase, coin 3 a coinbase ten blocks before [`FIXTURE_HEIGHT`]
/// (immature), coin 5 a coinbase exactly 100 blocks before (just mature).
pub fn fixture_coin(i: u32) -> Coin {
    let (height, is_coinbase) = match i {
        1 => (100, true),
        3 => (FIXTURE_HEIGHT - 10, true),
        5 => (FIXTURE_HEIGHT - 100, true),
        _ => (10 + i, false),
    };
    Coin {
        output: TxOut {
            value: u64::from(i + 1) * COIN,
            script_pubkey: vec![0x11 + i as u8; 20],
        },
        height,
        is_coinbase,
    }
}

/// The fixture UTXO set: [`FIXTURE_COINS`] coins, see [`fixture_coin`].
pub fn utxo_fixture() -> UtxoSet {
    let mut set = UtxoSet::new();
    for i in 0..FIXTURE_COINS {
        set.insert(fixture_outpoint(i), fixture_coin(i));
    }
    set
}

/// A coinbase for `height` paying `value` base units; the height leads the
/// scriptSig (as BIP-34 does) so coinbases of different heights differ.
pub fn coinbase(height: u32, value: u64, extra: &[u8]) -> Transaction {
    let mut script_sig = height.to_le_bytes().to_vec();
    script_sig.extend_from_slice(extra);
    Transaction {
        version: 1,
        inputs: vec![TxIn {
            prevout: OutPoint::NULL,
            script_sig,
            sequence: u32::MAX,
        }],
        outputs: vec![TxOut {
            value,
            script_pubkey: vec![0xcb; 20],
        }],
        lock_time: 0,
    }
}

/// A transaction spending fixture coin `i` into two outputs, leaving a 0.5 coin fee.
pub fn spend_of(i: u32) -> Transaction {
    let value = fixture_coin(i).output.value;
    let fee = COIN / 2;
    Transaction {
        version: 1,
        inputs: vec![TxIn {
            prevout: fixture_outpoint(i),
            script_sig: Vec::new(),
            sequence: u32::MAX,
        }],
        outputs: vec![
            TxOut {
                value: (value - fee) / 2,
                script_pubkey: vec![0xa1; 20],
            },
            TxOut {
                value: value - fee - (value - fee) / 2,
                script_pubkey: vec![0xa2; 20],
            },
        ],
        lock_time: 0,
    }
}

/// An unsigned spend of fixture coin 0.
pub fn sample_spend() -> Transaction {
    spend_of(0)
}

/// Builds a block at `height` from `spends`, with a coinbase claiming subsidy plus fees.
/// The header is not mined; see [`mine`].
pub fn block_with(height: u32, spends: Vec<Transaction>, fees: u64) -> Block {
    let mut txs = vec![coinbase(height, block_subsidy(height) + fees, b"fuzzfleet")];
    txs.extend(spends);
    let mut block = Block {
        header: BlockHeader {
            version: 1,
            prev_block: Hash256::ZERO,
            merkle_root: Hash256::ZERO,
            time: 1_700_000_000 + height * 240,
            bits: POW_LIMIT_BITS,
            nonce: 0,
        },
        txs,
    };
    block.header.merkle_root = merkle_root(&block.txids()).root;
    block
}

/// A block at `height` spending fixture coins 0 and 5 (5 is a coinbase that
/// matures exactly at [`FIXTURE_HEIGHT`]): three transactions.
pub fn spend_block(height: u32) -> Block {
    let spends = vec![spend_of(0), spend_of(5)];
    block_with(height, spends, 2 * (COIN / 2))
}

/// A block at `height` that spends the immature fixture coinbase (coin 3).
pub fn immature_spend_block(height: u32) -> Block {
    block_with(height, vec![spend_of(3)], COIN / 2)
}

/// Searches nonces until the header meets its own bits (fast at the PoW limit).
pub fn mine(block: &mut Block) {
    for nonce in 0..=u32::MAX {
        block.header.nonce = nonce;
        if check_proof_of_work(&block.hash(), block.header.bits).is_ok() {
            return;
        }
    }
}

/// [`spend_block`] at [`FIXTURE_HEIGHT`], mined at the PoW limit (three transactions).
pub fn sample_block() -> Block {
    let mut block = spend_block(FIXTURE_HEIGHT);
    mine(&mut block);
    block
}

/// A typical `version` payload.
pub fn sample_version() -> VersionMessage {
    let mut ip = [0u8; 16];
    ip[10] = 0xff;
    ip[11] = 0xff;
    ip[12..].copy_from_slice(&[127, 0, 0, 1]);
    VersionMessage {
        version: PROTOCOL_VERSION,
        services: 1,
        timestamp: 1_700_000_000,
        addr_recv: NetAddr {
            services: 1,
            ip,
            port: 8444,
        },
        addr_from: NetAddr {
            services: 1,
            ip,
            port: 8444,
        },
        nonce: 0x0123_4567_89ab_cdef,
        user_agent: b"/fuzzfleet:0.1.0/".to_vec(),
        start_height: FIXTURE_HEIGHT as i32,
        relay: true,
    }
}
