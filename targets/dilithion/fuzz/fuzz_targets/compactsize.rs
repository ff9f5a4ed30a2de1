//! CompactSize: decode → encode identity on the consumed prefix; encode → decode for
//! any u64; every non-minimal form of a value is rejected as non-canonical.
//! Input: bytes decoded as a CompactSize; the first 8 bytes also give a u64 to encode.
#![no_main]

use dilithion_core::DecodeError;
use dilithion_core::compactsize::{compact_size_len, decode_compact_size, encode_compact_size};
use dilithion_fuzz::Input;
use libfuzzer_sys::fuzz_target;

fn check_value(v: u64) {
    let enc = encode_compact_size(v);
    assert_eq!(enc.len(), compact_size_len(v));
    assert_eq!(decode_compact_size(&enc), Ok((v, enc.len())));
    // Every wider prefix than the minimal one must be refused.
    let widths: [(u8, usize); 3] = [(0xfd, 2), (0xfe, 4), (0xff, 8)];
    for (prefix, width) in widths {
        if width < enc.len() || (width < 8 && v >> (8 * width) != 0) {
            continue;
        }
        let mut bytes = vec![prefix];
        bytes.extend_from_slice(&v.to_le_bytes()[..width]);
        assert_eq!(
            decode_compact_size(&bytes),
            Err(DecodeError::NonCanonicalCompactSize {
                value: v,
                encoded_len: 1 + width
            }),
            "non-minimal form {bytes:02x?} of {v} accepted"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    match decode_compact_size(data) {
        Ok((v, used)) => {
            assert_eq!(
                encode_compact_size(v),
                data[..used],
                "decode → encode is not the identity"
            );
            check_value(v);
        }
        Err(DecodeError::NonCanonicalCompactSize { value, encoded_len }) => {
            assert!(compact_size_len(value) < encoded_len);
        }
        Err(DecodeError::UnexpectedEof { .. }) => {
            let need = match data.first() {
                None => 1,
                Some(0xfd) => 3,
                Some(0xfe) => 5,
                Some(0xff) => 9,
                Some(_) => 1,
            };
            assert!(data.len() < need);
        }
        Err(e) => panic!("unexpected error {e:?}"),
    }
    check_value(u64::from_le_bytes(Input::new(data).array()));
});
