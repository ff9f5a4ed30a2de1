//! Transaction deserialize → serialize identity on every accepted input, txid = SHA3 of
//! the bytes, and non-minimal CompactSize forms of the counts are rejected.
//! Input: a serialized transaction.
#![no_main]

use dilithion_core::DecodeError;
use dilithion_core::compactsize::{compact_size_len, decode_compact_size};
use dilithion_core::tx::Transaction;
use dilithion_fuzz::ref_sha3;
use libfuzzer_sys::fuzz_target;

/// Re-encodes the CompactSize at `offset` in every longer form than its minimal one.
fn longer_forms(value: u64) -> Vec<Vec<u8>> {
    let mut forms = Vec::new();
    if value <= 0xffff {
        let mut f = vec![0xfe];
        f.extend_from_slice(&(value as u32).to_le_bytes());
        forms.push(f);
    }
    if value <= 0xfc {
        let mut f = vec![0xfd];
        f.extend_from_slice(&(value as u16).to_le_bytes());
        forms.push(f);
    }
    if value <= 0xffff_ffff {
        let mut f = vec![0xff];
        f.extend_from_slice(&value.to_le_bytes());
        forms.push(f);
    }
    forms
}

fuzz_target!(|data: &[u8]| {
    let Ok(tx) = Transaction::decode(data) else {
        return;
    };
    assert_eq!(tx.encode(), data, "decode → encode is not the identity");
    assert_eq!(tx.encoded_len(), data.len());
    assert_eq!(
        tx.txid().0,
        ref_sha3(&[data]),
        "txid is not SHA3-256 of the bytes"
    );

    // The input count sits right after the 4-byte version.
    let (count, used) = decode_compact_size(&data[4..]).expect("accepted tx has a count");
    assert_eq!(used, compact_size_len(count));
    for form in longer_forms(count) {
        let mut bytes = data[..4].to_vec();
        bytes.extend_from_slice(&form);
        bytes.extend_from_slice(&data[4 + used..]);
        assert!(
            matches!(
                Transaction::decode(&bytes),
                Err(DecodeError::NonCanonicalCompactSize { .. })
            ),
            "non-minimal input count accepted"
        );
    }
});
