//! Dilithion addresses: Base58Check of version 0x1E and a 20-byte public-key hash, and a classifier.

use crate::base58::{self, Base58Error};
use crate::bech32::WitnessAddress;
use crate::hash::double_sha3_256;
use thiserror::Error;

/// Mainnet address version byte; addresses start with 'D'.
pub const ADDRESS_VERSION: u8 = 0x1E;
/// Bytes in an address hash.
pub const ADDRESS_HASH_LEN: usize = 20;
/// Decoded length: version, hash, checksum.
pub const DECODED_LEN: usize = 1 + ADDRESS_HASH_LEN + 4;
/// Longest string worth decoding: 25 bytes never need more than 35 Base58
/// characters. Longer strings are refused before the quadratic decoder runs.
pub const MAX_ADDRESS_CHARS: usize = 35;
/// Human-readable part of the (not yet deployed) witness-style addresses.
pub const BECH32_HRP: &str = "dil";

/// Why a string is not a valid Dilithion address.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AddressError {
    /// Longer than any address can be.
    #[error("address of {0} characters is too long")]
    TooLong(usize),
    /// Not Base58, or the checksum failed.
    #[error(transparent)]
    Base58(#[from] Base58Error),
    /// Decoded to the wrong number of bytes.
    #[error("decoded address has {0} bytes, expected 21")]
    WrongLength(usize),
    /// Version byte is not 0x1E.
    #[error("address version {0:#04x} is not 0x1e")]
    WrongVersion(u8),
}

/// The 20-byte hash a scriptPubKey locks to: first 20 bytes of double SHA3-256 of the public key.
pub fn address_hash(public_key: &[u8]) -> [u8; ADDRESS_HASH_LEN] {
    let h = double_sha3_256(public_key);
    let mut out = [0u8; ADDRESS_HASH_LEN];
    out.copy_from_slice(&h.0[..ADDRESS_HASH_LEN]);
    out
}

/// A decoded address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Address {
    /// The public-key hash.
    pub hash: [u8; ADDRESS_HASH_LEN],
}

impl Address {
    /// The address of a public key.
    pub fn from_public_key(public_key: &[u8]) -> Self {
        Address {
            hash: address_hash(public_key),
        }
    }

    /// Base58Check of the version byte and the hash.
    pub fn encode(&self) -> String {
        let mut payload = [0u8; 1 + ADDRESS_HASH_LEN];
        payload[0] = ADDRESS_VERSION;
        payload[1..].copy_from_slice(&self.hash);
        base58::encode_check(&payload)
    }

    /// Decodes and checks length, checksum and version.
    pub fn decode(s: &str) -> Result<Self, AddressError> {
        if s.len() > MAX_ADDRESS_CHARS {
            return Err(AddressError::TooLong(s.len()));
        }
        let payload = base58::decode_check(s)?;
        if payload.len() != 1 + ADDRESS_HASH_LEN {
            return Err(AddressError::WrongLength(payload.len()));
        }
        if payload[0] != ADDRESS_VERSION {
            return Err(AddressError::WrongVersion(payload[0]));
        }
        let mut hash = [0u8; ADDRESS_HASH_LEN];
        hash.copy_from_slice(&payload[1..]);
        Ok(Address { hash })
    }

    /// The scriptPubKey paying to this address: the bare 20-byte hash.
    pub fn script_pubkey(&self) -> Vec<u8> {
        self.hash.to_vec()
    }
}

/// Whether `s` is a valid mainnet address (the wallet's `ValidateAddress`).
/// Cheap rejections first, then a full decode.
pub fn validate_address(s: &str) -> bool {
    if s.is_empty() || s.len() > MAX_ADDRESS_CHARS || !s.starts_with('D') {
        return false;
    }
    Address::decode(s).is_ok()
}

/// What kind of address a string is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddressType {
    /// A Base58Check pay-to-public-key-hash address (version 0x1E).
    PubKeyHash,
    /// A witness-style Bech32/Bech32m address with the "dil" hrp.
    Witness {
        /// Witness version 0..=16.
        version: u8,
    },
    /// Neither.
    Unknown,
}

/// Classifies `s`. Base58 and Bech32 strings cannot both be valid: a
/// witness address has the separator '1' after an hrp of lowercase letters,
/// and 'l' is not in the Base58 alphabet ("dil").
pub fn classify(s: &str) -> AddressType {
    if Address::decode(s).is_ok() {
        return AddressType::PubKeyHash;
    }
    match WitnessAddress::decode(s) {
        Ok(a) if a.hrp == BECH32_HRP => AddressType::Witness { version: a.version },
        _ => AddressType::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn addresses_start_with_d() {
        for fill in [0u8, 1, 0x7f, 0xff] {
            let s = Address { hash: [fill; 20] }.encode();
            assert!(s.starts_with('D'), "{s}");
            assert!(validate_address(&s));
            assert_eq!(classify(&s), AddressType::PubKeyHash);
        }
    }

    #[test]
    fn wrong_version_is_reported() {
        let mut payload = vec![0x00];
        payload.extend_from_slice(&[9; 20]);
        let s = base58::encode_check(&payload);
        assert_eq!(Address::decode(&s), Err(AddressError::WrongVersion(0)));
        assert!(!validate_address(&s));
    }

    #[test]
    fn witness_addresses_are_classified() {
        let a = WitnessAddress {
            hrp: BECH32_HRP.into(),
            version: 0,
            program: vec![3; 20],
        };
        assert_eq!(
            classify(&a.encode().unwrap()),
            AddressType::Witness { version: 0 }
        );
        assert_eq!(
            classify("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"),
            AddressType::Unknown
        );
        assert_eq!(classify(""), AddressType::Unknown);
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(hash in any::<[u8; 20]>()) {
            let a = Address { hash };
            let s = a.encode();
            prop_assert!(s.len() <= MAX_ADDRESS_CHARS);
            prop_assert_eq!(Address::decode(&s), Ok(a));
        }

        #[test]
        fn decode_encode_identity(s in "D[1-9A-HJ-NP-Za-km-z]{20,34}") {
            if let Ok(a) = Address::decode(&s) {
                prop_assert_eq!(a.encode(), s);
            }
        }
    }
}
