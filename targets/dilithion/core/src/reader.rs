//! Bounds-checked cursor over untrusted bytes and the shared decoding error.

use thiserror::Error;

/// Why a byte string is not a valid encoding. Every parser in the crate returns
/// this (directly or wrapped) instead of panicking.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input ended before a field was complete.
    #[error("unexpected end of input at offset {offset}: {needed} more bytes needed")]
    UnexpectedEof {
        /// Where the incomplete field starts.
        offset: usize,
        /// How many bytes were missing.
        needed: usize,
    },
    /// A CompactSize used more bytes than its value needs (the C++ code accepts these; consensus here does not).
    #[error("non-canonical CompactSize: value {value} encoded in {encoded_len} bytes")]
    NonCanonicalCompactSize {
        /// The decoded value.
        value: u64,
        /// Bytes used, prefix included.
        encoded_len: usize,
    },
    /// A length or count prefix is larger than the field allows.
    #[error("{field} of {len} exceeds the limit of {limit}")]
    LengthOverLimit {
        /// Which field carried the length.
        field: &'static str,
        /// Announced length.
        len: u64,
        /// Largest allowed.
        limit: u64,
    },
    /// Bytes were left over after a complete object.
    #[error("{count} trailing bytes after the encoded object")]
    TrailingBytes {
        /// How many bytes were left.
        count: usize,
    },
    /// A field holds a value outside its domain (e.g. a boolean byte of 2).
    #[error("invalid value for {field}")]
    InvalidValue {
        /// Which field.
        field: &'static str,
    },
}

/// A cursor that never reads past the end and reports where it stopped.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the beginning of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Takes the next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError::UnexpectedEof {
                offset: self.pos,
                needed: n - self.remaining(),
            });
        }
        let out = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Takes exactly `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    /// Reads a little-endian u16.
    pub fn u16_le(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    /// Reads a little-endian u32.
    pub fn u32_le(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// Reads a little-endian i32.
    pub fn i32_le(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_le_bytes(self.array()?))
    }

    /// Reads a little-endian u64.
    pub fn u64_le(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// Reads a little-endian i64.
    pub fn i64_le(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    /// Fails unless every byte was consumed.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(DecodeError::TrailingBytes { count }),
        }
    }

    /// Capacity to reserve for `count` items of at least `min_item_bytes` each:
    /// never more than the remaining input could hold, so a hostile count
    /// cannot make the parser allocate without bound.
    pub fn capacity_for(&self, count: u64, min_item_bytes: usize) -> usize {
        let fit = self.remaining() / min_item_bytes.max(1);
        usize::try_from(count).unwrap_or(usize::MAX).min(fit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_past_end_reports_offset_and_shortfall() {
        let mut r = Reader::new(&[1, 2, 3]);
        r.take(2).unwrap();
        assert_eq!(
            r.u32_le(),
            Err(DecodeError::UnexpectedEof {
                offset: 2,
                needed: 3
            })
        );
        assert_eq!(r.position(), 2);
    }

    #[test]
    fn capacity_is_capped_by_remaining_bytes() {
        let r = Reader::new(&[0; 100]);
        assert_eq!(r.capacity_for(u64::MAX, 41), 2);
        assert_eq!(r.capacity_for(1, 41), 1);
    }
}
