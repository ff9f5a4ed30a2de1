//! The 80-byte block header (Bitcoin layout) and its SHA3-256 hash.

use crate::hash::{Hash256, sha3_256};
use crate::reader::{DecodeError, Reader};

/// Serialized header size.
pub const HEADER_BYTES: usize = 80;

/// A block header: version, previous hash, merkle root, time, bits, nonce,
/// little-endian integers, exactly as Bitcoin lays it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    /// Block format version.
    pub version: i32,
    /// Hash of the previous block's header.
    pub prev_block: Hash256,
    /// Merkle root of the block's txids.
    pub merkle_root: Hash256,
    /// Seconds since the Unix epoch.
    pub time: u32,
    /// Target in compact form.
    pub bits: u32,
    /// Proof-of-work nonce.
    pub nonce: u32,
}

impl BlockHeader {
    /// The 80-byte serialization.
    pub fn encode(&self) -> [u8; HEADER_BYTES] {
        let mut out = [0u8; HEADER_BYTES];
        out[0..4].copy_from_slice(&self.version.to_le_bytes());
        out[4..36].copy_from_slice(&self.prev_block.0);
        out[36..68].copy_from_slice(&self.merkle_root.0);
        out[68..72].copy_from_slice(&self.time.to_le_bytes());
        out[72..76].copy_from_slice(&self.bits.to_le_bytes());
        out[76..80].copy_from_slice(&self.nonce.to_le_bytes());
        out
    }

    /// Reads a header from `r`.
    pub fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(BlockHeader {
            version: r.i32_le()?,
            prev_block: Hash256(r.array()?),
            merkle_root: Hash256(r.array()?),
            time: r.u32_le()?,
            bits: r.u32_le()?,
            nonce: r.u32_le()?,
        })
    }

    /// Decodes exactly 80 bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let h = Self::decode_from(&mut r)?;
        r.finish()?;
        Ok(h)
    }

    /// Block hash and proof-of-work hash: SHA3-256 of the 80 bytes.
    pub fn hash(&self) -> Hash256 {
        sha3_256(&self.encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip(version in any::<i32>(), prev in any::<[u8; 32]>(), root in any::<[u8; 32]>(),
                      time in any::<u32>(), bits in any::<u32>(), nonce in any::<u32>()) {
            let h = BlockHeader { version, prev_block: Hash256(prev), merkle_root: Hash256(root), time, bits, nonce };
            prop_assert_eq!(BlockHeader::decode(&h.encode()), Ok(h));
        }
    }

    #[test]
    fn short_header_is_eof() {
        assert!(matches!(
            BlockHeader::decode(&[0u8; 79]),
            Err(DecodeError::UnexpectedEof { .. })
        ));
    }
}
