//! Mainnet consensus constants, in one place so every module agrees on them.

/// Base units per coin.
pub const COIN: u64 = 100_000_000;
/// No amount (single output, sum of outputs, or total supply) may exceed this.
pub const MAX_MONEY: u64 = 21_000_000 * COIN;
/// Subsidy of the first era.
pub const INITIAL_SUBSIDY: u64 = 50 * COIN;
/// Blocks between two halvings.
pub const HALVING_INTERVAL: u32 = 210_000;
/// After this many halvings the subsidy is zero (a shift by 64 would be undefined).
pub const MAX_HALVINGS: u32 = 64;
/// Blocks a coinbase output must wait before it can be spent.
pub const COINBASE_MATURITY: u32 = 100;

/// Target block spacing in seconds.
pub const TARGET_SPACING_S: i64 = 240;
/// Blocks between two difficulty retargets.
pub const RETARGET_INTERVAL: u32 = 2016;
/// Timespan a retarget interval should take: 2016 × 240 s.
pub const TARGET_TIMESPAN_S: i64 = RETARGET_INTERVAL as i64 * TARGET_SPACING_S;
/// Easiest allowed target, in compact form (the proof-of-work limit).
pub const POW_LIMIT_BITS: u32 = 0x1f0f_ffff;
/// Hardest target a retarget may produce, in compact form.
pub const MIN_TARGET_BITS: u32 = 0x1d00_ffff;

/// Sum of the serialized sizes of a block's transactions.
pub const MAX_BLOCK_TX_BYTES: usize = 1_000_000;
/// Serialized size of one transaction.
pub const MAX_TX_BYTES: usize = 100_000;
/// Size of a scriptSig or scriptPubKey.
pub const MAX_SCRIPT_BYTES: usize = 10_000;
/// Coinbase scriptSig bounds (Bitcoin's `bad-cb-length`).
pub const MIN_COINBASE_SCRIPT_BYTES: usize = 2;
/// Upper coinbase scriptSig bound.
pub const MAX_COINBASE_SCRIPT_BYTES: usize = 100;

/// Largest P2P payload a peer may announce (32 MiB).
pub const MAX_PAYLOAD_BYTES: u32 = 32 * 1024 * 1024;
/// Protocol version spoken by this port.
pub const PROTOCOL_VERSION: i32 = 70_001;
/// Largest number of entries in one `inv` message (Bitcoin's `MAX_INV_SZ`).
pub const MAX_INV_ENTRIES: u64 = 50_000;
/// Longest user agent in a `version` message (Bitcoin's `MAX_SUBVERSION_LENGTH`).
pub const MAX_USER_AGENT_BYTES: u64 = 256;
