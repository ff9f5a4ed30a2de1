//! SHA3-256 (FIPS 202) helpers: one-shot, incremental, double hash and 4-byte checksums.

use sha3::{Digest, Sha3_256};
use std::fmt;

/// A 32-byte SHA3-256 digest, stored in the byte order the hash function produced it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash256(pub [u8; 32]);

impl Hash256 {
    /// The all-zero hash (previous-block hash of the genesis block, coinbase prevout).
    pub const ZERO: Hash256 = Hash256([0; 32]);

    /// Lowercase hex of the bytes in storage order.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash256({})", self.to_hex())
    }
}

impl fmt::Display for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// SHA3-256 of `data`.
pub fn sha3_256(data: &[u8]) -> Hash256 {
    Hash256(Sha3_256::digest(data).into())
}

/// SHA3-256 applied twice, as used for checksums and address payloads.
pub fn double_sha3_256(data: &[u8]) -> Hash256 {
    sha3_256(&sha3_256(data).0)
}

/// First four bytes of the double SHA3-256 (Base58Check and P2P checksums).
pub fn checksum4(data: &[u8]) -> [u8; 4] {
    let h = double_sha3_256(data);
    [h.0[0], h.0[1], h.0[2], h.0[3]]
}

/// Incremental SHA3-256, for data that arrives in pieces.
#[derive(Clone, Default)]
pub struct Sha3Writer {
    inner: Sha3_256,
}

impl Sha3Writer {
    /// A fresh hasher.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds more bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
    }

    /// The digest of everything fed so far.
    pub fn finish(self) -> Hash256 {
        Hash256(self.inner.finalize().into())
    }
}

impl fmt::Debug for Sha3Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sha3Writer")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // FIPS 202 example values (NIST CSRC "SHA3-256" examples).
    #[test]
    fn fips202_empty_message() {
        assert_eq!(
            sha3_256(b"").to_hex(),
            "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a"
        );
    }

    #[test]
    fn fips202_abc() {
        assert_eq!(
            sha3_256(b"abc").to_hex(),
            "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"
        );
    }

    #[test]
    fn fips202_two_block_message() {
        let msg = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        assert_eq!(
            sha3_256(msg).to_hex(),
            "41c0dba2a9d6240849100376a8235e2c82e1b9998a999e21db32dd97496d3376"
        );
    }

    #[test]
    fn fips202_million_a() {
        let mut w = Sha3Writer::new();
        for _ in 0..1000 {
            w.update(&[b'a'; 1000]);
        }
        assert_eq!(
            w.finish().to_hex(),
            "5c8875ae474a3634ba4fd55ec85bffd661f32aca75c6d699d0cdcb6c115891c1"
        );
    }

    #[test]
    fn double_hash_is_hash_of_hash() {
        assert_eq!(double_sha3_256(b"abc"), sha3_256(&sha3_256(b"abc").0));
        assert_eq!(checksum4(b"abc"), double_sha3_256(b"abc").0[..4]);
    }

    proptest! {
        #[test]
        fn incremental_equals_one_shot(data in proptest::collection::vec(any::<u8>(), 0..600), cut in any::<usize>()) {
            let cut = if data.is_empty() { 0 } else { cut % (data.len() + 1) };
            let mut w = Sha3Writer::new();
            w.update(&data[..cut]);
            w.update(&data[cut..]);
            prop_assert_eq!(w.finish(), sha3_256(&data));
        }
    }
}
