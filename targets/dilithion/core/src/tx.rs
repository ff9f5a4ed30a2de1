//! Transactions: types, canonical serialization and txid.

use crate::compactsize::{read_length, read_var_bytes, write_compact_size, write_var_bytes};
use crate::hash::{Hash256, sha3_256};
use crate::params::MAX_TX_BYTES;
use crate::reader::{DecodeError, Reader};

/// Smallest serialized input: 36-byte outpoint, 1-byte script length, 4-byte sequence.
pub const MIN_TXIN_BYTES: usize = 41;
/// Smallest serialized output: 8-byte value, 1-byte script length.
pub const MIN_TXOUT_BYTES: usize = 9;

/// A reference to an output of an earlier transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OutPoint {
    /// Transaction that created the output.
    pub txid: Hash256,
    /// Index of the output in that transaction.
    pub vout: u32,
}

impl OutPoint {
    /// The outpoint a coinbase input carries.
    pub const NULL: OutPoint = OutPoint {
        txid: Hash256::ZERO,
        vout: u32::MAX,
    };

    /// Whether this is the coinbase marker.
    pub fn is_null(&self) -> bool {
        *self == Self::NULL
    }
}

/// A transaction input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxIn {
    /// Output being spent.
    pub prevout: OutPoint,
    /// Unlocking data: `[u16 sig_len][sig][u16 pk_len][pk]` for ML-DSA spends, free-form in a coinbase.
    pub script_sig: Vec<u8>,
    /// Sequence number, carried but not interpreted.
    pub sequence: u32,
}

/// A transaction output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxOut {
    /// Amount in base units.
    pub value: u64,
    /// Locking data: the 20-byte address hash of the owner's public key.
    pub script_pubkey: Vec<u8>,
}

/// A transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    /// Format version.
    pub version: u32,
    /// Inputs, in order.
    pub inputs: Vec<TxIn>,
    /// Outputs, in order.
    pub outputs: Vec<TxOut>,
    /// Lock time, carried but not interpreted.
    pub lock_time: u32,
}

impl Transaction {
    /// A coinbase has exactly one input, and it spends the null outpoint.
    pub fn is_coinbase(&self) -> bool {
        self.inputs.len() == 1 && self.inputs[0].prevout.is_null()
    }

    /// Appends the serialization to `out`.
    pub fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.version.to_le_bytes());
        write_compact_size(out, self.inputs.len() as u64);
        for input in &self.inputs {
            out.extend_from_slice(&input.prevout.txid.0);
            out.extend_from_slice(&input.prevout.vout.to_le_bytes());
            write_var_bytes(out, &input.script_sig);
            out.extend_from_slice(&input.sequence.to_le_bytes());
        }
        write_compact_size(out, self.outputs.len() as u64);
        for output in &self.outputs {
            out.extend_from_slice(&output.value.to_le_bytes());
            write_var_bytes(out, &output.script_pubkey);
        }
        out.extend_from_slice(&self.lock_time.to_le_bytes());
    }

    /// The serialization.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_to(&mut out);
        out
    }

    /// Length of the serialization, computed without serializing.
    pub fn encoded_len(&self) -> usize {
        use crate::compactsize::compact_size_len as cs;
        let ins: usize = self
            .inputs
            .iter()
            .map(|i| 40 + cs(i.script_sig.len() as u64) + i.script_sig.len())
            .sum();
        let outs: usize = self
            .outputs
            .iter()
            .map(|o| 8 + cs(o.script_pubkey.len() as u64) + o.script_pubkey.len())
            .sum();
        8 + cs(self.inputs.len() as u64) + ins + cs(self.outputs.len() as u64) + outs
    }

    /// Reads one transaction from `r`. Scripts longer than the consensus limit
    /// are refused here already, so a hostile length never reaches an allocation.
    pub fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let version = r.u32_le()?;
        let n_in = read_length(r, "input count", MAX_TX_BYTES as u64)?;
        let mut inputs = Vec::with_capacity(r.capacity_for(n_in, MIN_TXIN_BYTES));
        for _ in 0..n_in {
            let txid = Hash256(r.array()?);
            let vout = r.u32_le()?;
            let script_sig = read_var_bytes(r, "scriptSig length", MAX_TX_BYTES as u64)?;
            let sequence = r.u32_le()?;
            inputs.push(TxIn {
                prevout: OutPoint { txid, vout },
                script_sig,
                sequence,
            });
        }
        let n_out = read_length(r, "output count", MAX_TX_BYTES as u64)?;
        let mut outputs = Vec::with_capacity(r.capacity_for(n_out, MIN_TXOUT_BYTES));
        for _ in 0..n_out {
            let value = r.u64_le()?;
            let script_pubkey = read_var_bytes(r, "scriptPubKey length", MAX_TX_BYTES as u64)?;
            outputs.push(TxOut {
                value,
                script_pubkey,
            });
        }
        let lock_time = r.u32_le()?;
        Ok(Transaction {
            version,
            inputs,
            outputs,
            lock_time,
        })
    }

    /// Decodes exactly one transaction; trailing bytes are an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let tx = Self::decode_from(&mut r)?;
        r.finish()?;
        Ok(tx)
    }

    /// SHA3-256 of the serialization.
    pub fn txid(&self) -> Hash256 {
        sha3_256(&self.encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use proptest::prelude::*;

    #[test]
    fn sample_transaction_round_trips() {
        let tx = fixture::sample_spend();
        let bytes = tx.encode();
        assert_eq!(bytes.len(), tx.encoded_len());
        assert_eq!(Transaction::decode(&bytes), Ok(tx));
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut bytes = fixture::sample_spend().encode();
        bytes.push(0);
        assert_eq!(
            Transaction::decode(&bytes),
            Err(DecodeError::TrailingBytes { count: 1 })
        );
    }

    #[test]
    fn huge_input_count_does_not_allocate() {
        // version, then an input count of 0xffff_ffff with nothing behind it.
        let bytes = [1, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            Transaction::decode(&bytes),
            Err(DecodeError::LengthOverLimit { .. })
        ));
    }

    #[test]
    fn non_canonical_count_is_rejected() {
        let mut bytes = fixture::sample_spend().encode();
        // Replace the 1-byte input count (1) by its 3-byte form.
        bytes.splice(4..5, [0xfd, 1, 0]);
        assert!(matches!(
            Transaction::decode(&bytes),
            Err(DecodeError::NonCanonicalCompactSize { value: 1, .. })
        ));
    }

    pub(crate) fn arb_tx() -> impl Strategy<Value = Transaction> {
        let input = (
            any::<[u8; 32]>(),
            any::<u32>(),
            proptest::collection::vec(any::<u8>(), 0..300),
            any::<u32>(),
        )
            .prop_map(|(t, vout, script_sig, sequence)| TxIn {
                prevout: OutPoint {
                    txid: Hash256(t),
                    vout,
                },
                script_sig,
                sequence,
            });
        let output = (any::<u64>(), proptest::collection::vec(any::<u8>(), 0..300)).prop_map(
            |(value, script_pubkey)| TxOut {
                value,
                script_pubkey,
            },
        );
        (
            any::<u32>(),
            proptest::collection::vec(input, 0..4),
            proptest::collection::vec(output, 0..4),
            any::<u32>(),
        )
            .prop_map(|(version, inputs, outputs, lock_time)| Transaction {
                version,
                inputs,
                outputs,
                lock_time,
            })
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(tx in arb_tx()) {
            let bytes = tx.encode();
            prop_assert_eq!(bytes.len(), tx.encoded_len());
            prop_assert_eq!(Transaction::decode(&bytes), Ok(tx));
        }

        #[test]
        fn decode_encode_identity(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(tx) = Transaction::decode(&bytes) {
                prop_assert_eq!(tx.encode(), bytes);
            }
        }
    }
}
