//! Bitcoin's CompactSize integer encoding, canonical (minimal) forms only.

use crate::reader::{DecodeError, Reader};

/// Appends the minimal CompactSize encoding of `value`.
pub fn write_compact_size(out: &mut Vec<u8>, value: u64) {
    match value {
        0..=0xfc => out.push(value as u8),
        0xfd..=0xffff => {
            out.push(0xfd);
            out.extend_from_slice(&(value as u16).to_le_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xfe);
            out.extend_from_slice(&(value as u32).to_le_bytes());
        }
        _ => {
            out.push(0xff);
            out.extend_from_slice(&value.to_le_bytes());
        }
    }
}

/// The minimal CompactSize encoding of `value`.
pub fn encode_compact_size(value: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(9);
    write_compact_size(&mut out, value);
    out
}

/// Length in bytes of the minimal encoding of `value`.
pub fn compact_size_len(value: u64) -> usize {
    match value {
        0..=0xfc => 1,
        0xfd..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// Reads one CompactSize, rejecting encodings longer than necessary.
pub fn read_compact_size(r: &mut Reader<'_>) -> Result<u64, DecodeError> {
    let start = r.position();
    let prefix = r.u8()?;
    let (value, min) = match prefix {
        0..=0xfc => return Ok(u64::from(prefix)),
        0xfd => (u64::from(r.u16_le()?), 0xfd),
        0xfe => (u64::from(r.u32_le()?), 0x1_0000),
        0xff => (r.u64_le()?, 0x1_0000_0000),
    };
    if value < min {
        return Err(DecodeError::NonCanonicalCompactSize {
            value,
            encoded_len: r.position() - start,
        });
    }
    Ok(value)
}

/// Reads a CompactSize length prefix and checks it against `limit`.
pub fn read_length(
    r: &mut Reader<'_>,
    field: &'static str,
    limit: u64,
) -> Result<u64, DecodeError> {
    let len = read_compact_size(r)?;
    if len > limit {
        return Err(DecodeError::LengthOverLimit { field, len, limit });
    }
    Ok(len)
}

/// Reads a CompactSize-prefixed byte string of at most `limit` bytes.
pub fn read_var_bytes(
    r: &mut Reader<'_>,
    field: &'static str,
    limit: u64,
) -> Result<Vec<u8>, DecodeError> {
    let len = read_length(r, field, limit)?;
    // len <= limit, and the limits used in this crate all fit in usize.
    let len =
        usize::try_from(len).map_err(|_| DecodeError::LengthOverLimit { field, len, limit })?;
    Ok(r.take(len)?.to_vec())
}

/// Appends a CompactSize-prefixed byte string.
pub fn write_var_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_compact_size(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Decodes one CompactSize from the start of `data`, returning it and the bytes used.
pub fn decode_compact_size(data: &[u8]) -> Result<(u64, usize), DecodeError> {
    let mut r = Reader::new(data);
    let v = read_compact_size(&mut r)?;
    Ok((v, r.position()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn boundary_encodings() {
        assert_eq!(encode_compact_size(0), [0]);
        assert_eq!(encode_compact_size(0xfc), [0xfc]);
        assert_eq!(encode_compact_size(0xfd), [0xfd, 0xfd, 0]);
        assert_eq!(encode_compact_size(0xffff), [0xfd, 0xff, 0xff]);
        assert_eq!(encode_compact_size(0x1_0000), [0xfe, 0, 0, 1, 0]);
        assert_eq!(
            encode_compact_size(0x1_0000_0000),
            [0xff, 0, 0, 0, 0, 1, 0, 0, 0]
        );
    }

    #[test]
    fn non_minimal_forms_are_rejected() {
        assert_eq!(
            decode_compact_size(&[0xfd, 0xfc, 0]),
            Err(DecodeError::NonCanonicalCompactSize {
                value: 0xfc,
                encoded_len: 3
            })
        );
        assert_eq!(
            decode_compact_size(&[0xfe, 0xff, 0xff, 0, 0]),
            Err(DecodeError::NonCanonicalCompactSize {
                value: 0xffff,
                encoded_len: 5
            })
        );
        assert_eq!(
            decode_compact_size(&[0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]),
            Err(DecodeError::NonCanonicalCompactSize {
                value: 0xffff_ffff,
                encoded_len: 9
            })
        );
    }

    #[test]
    fn truncated_forms_are_eof() {
        assert!(matches!(
            decode_compact_size(&[]),
            Err(DecodeError::UnexpectedEof { .. })
        ));
        assert!(matches!(
            decode_compact_size(&[0xfe, 1]),
            Err(DecodeError::UnexpectedEof { .. })
        ));
    }

    proptest! {
        #[test]
        fn round_trip(v in any::<u64>()) {
            let enc = encode_compact_size(v);
            prop_assert_eq!(enc.len(), compact_size_len(v));
            prop_assert_eq!(decode_compact_size(&enc), Ok((v, enc.len())));
        }

        #[test]
        fn decode_then_encode_is_identity(bytes in proptest::collection::vec(any::<u8>(), 0..10)) {
            if let Ok((v, used)) = decode_compact_size(&bytes) {
                prop_assert_eq!(encode_compact_size(v), bytes[..used].to_vec());
            }
        }
    }
}
