//! Base58 (Bitcoin alphabet) and Base58Check with the double-SHA3 checksum.

use crate::hash::checksum4;
use thiserror::Error;

const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Maps an ASCII byte to its digit, 0xff for bytes outside the alphabet.
const DIGITS: [u8; 256] = {
    let mut table = [0xffu8; 256];
    let mut i = 0;
    while i < 58 {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Why a string is not valid Base58 or Base58Check.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Base58Error {
    /// A character outside the Base58 alphabet (0, O, I, l, non-ASCII, ...).
    #[error("invalid Base58 character {ch:?} at byte {index}")]
    InvalidCharacter {
        /// The character.
        ch: char,
        /// Its byte offset.
        index: usize,
    },
    /// Base58Check payload shorter than the 4-byte checksum.
    #[error("Base58Check data of {len} bytes is too short for a checksum")]
    TooShort {
        /// Decoded length.
        len: usize,
    },
    /// The checksum does not match.
    #[error("Base58Check checksum mismatch")]
    BadChecksum,
}

/// Encodes bytes; each leading zero byte becomes a leading '1'.
pub fn encode(data: &[u8]) -> String {
    let zeros = data.iter().take_while(|b| **b == 0).count();
    // log(256)/log(58) < 1.38: digits needed for the rest.
    let mut digits: Vec<u8> = Vec::with_capacity((data.len() - zeros) * 138 / 100 + 1);
    for &byte in &data[zeros..] {
        let mut carry = u32::from(byte);
        for d in digits.iter_mut() {
            carry += u32::from(*d) << 8;
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let mut out = String::with_capacity(zeros + digits.len());
    out.extend(std::iter::repeat_n('1', zeros));
    out.extend(digits.iter().rev().map(|d| ALPHABET[*d as usize] as char));
    out
}

/// Decodes a Base58 string; each leading '1' becomes a zero byte.
pub fn decode(s: &str) -> Result<Vec<u8>, Base58Error> {
    let bytes = s.as_bytes();
    let ones = bytes.iter().take_while(|b| **b == b'1').count();
    // log(58)/log(256) < 0.733: bytes needed for the rest.
    let mut out: Vec<u8> = Vec::with_capacity((bytes.len() - ones) * 733 / 1000 + 1);
    for (index, &c) in bytes.iter().enumerate().skip(ones) {
        let digit = DIGITS[c as usize];
        if digit == 0xff {
            let ch = s[index..].chars().next().unwrap_or('\u{fffd}');
            return Err(Base58Error::InvalidCharacter { ch, index });
        }
        let mut carry = u32::from(digit);
        for b in out.iter_mut() {
            carry += u32::from(*b) * 58;
            *b = carry as u8;
            carry >>= 8;
        }
        while carry > 0 {
            out.push(carry as u8);
            carry >>= 8;
        }
    }
    out.extend(std::iter::repeat_n(0, ones));
    out.reverse();
    Ok(out)
}

/// Encodes `payload` followed by its 4-byte double-SHA3 checksum.
pub fn encode_check(payload: &[u8]) -> String {
    let mut data = Vec::with_capacity(payload.len() + 4);
    data.extend_from_slice(payload);
    data.extend_from_slice(&checksum4(payload));
    encode(&data)
}

/// Decodes Base58Check and returns the payload without its checksum.
pub fn decode_check(s: &str) -> Result<Vec<u8>, Base58Error> {
    let mut data = decode(s)?;
    if data.len() < 4 {
        return Err(Base58Error::TooShort { len: data.len() });
    }
    let split = data.len() - 4;
    if checksum4(&data[..split]) != data[split..] {
        return Err(Base58Error::BadChecksum);
    }
    data.truncate(split);
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // Bitcoin Core's src/test/data/base58_encode_decode.json.
    const VECTORS: &[(&str, &str)] = &[
        ("", ""),
        ("61", "2g"),
        ("626262", "a3gV"),
        ("636363", "aPEr"),
        (
            "73696d706c792061206c6f6e6720737472696e67",
            "2cFupjhnEsSn59qHXstmK2ffpLv2",
        ),
        (
            "00eb15231dfceb60925886b67d065299925915aeb172c06647",
            "1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L",
        ),
        ("516b6fcd0f", "ABnLTmg"),
        ("bf4f89001e670274dd", "3SEo3LWLoPntC"),
        ("572e4794", "3EFU7m"),
        ("ecac89cad93923c02321", "EJDM8drfXA6uyA"),
        ("10c8511e", "Rt5zm"),
        ("00000000000000000000", "1111111111"),
        (
            "000111d38e5fc9071ffcd20b4a763cc9ae4f252bb4e48fd66a835e252ada93ff480d6dd43dc62a641155a5",
            "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz",
        ),
    ];

    #[test]
    fn bitcoin_core_vectors() {
        for (hex, b58) in VECTORS {
            assert_eq!(encode(&unhex(hex)), *b58, "{hex}");
            assert_eq!(decode(b58).unwrap(), unhex(hex), "{b58}");
        }
    }

    #[test]
    fn invalid_characters_are_located() {
        assert_eq!(
            decode("1a0"),
            Err(Base58Error::InvalidCharacter { ch: '0', index: 2 })
        );
        assert_eq!(
            decode("é"),
            Err(Base58Error::InvalidCharacter { ch: 'é', index: 0 })
        );
        assert!(decode("O").is_err() && decode("I").is_err() && decode("l").is_err());
    }

    #[test]
    fn check_detects_corruption() {
        let s = encode_check(b"hello");
        assert_eq!(decode_check(&s).unwrap(), b"hello");
        let mut bytes = decode(&s).unwrap();
        bytes[0] ^= 1;
        assert_eq!(decode_check(&encode(&bytes)), Err(Base58Error::BadChecksum));
        assert_eq!(decode_check("1"), Err(Base58Error::TooShort { len: 1 }));
    }

    proptest! {
        #[test]
        fn round_trip(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let s = encode(&data);
            let zeros = data.iter().take_while(|b| **b == 0).count();
            prop_assert_eq!(s.bytes().take_while(|b| *b == b'1').count(), zeros);
            prop_assert_eq!(decode(&s).unwrap(), data.clone());
            prop_assert_eq!(decode_check(&encode_check(&data)).unwrap(), data);
        }
    }
}
