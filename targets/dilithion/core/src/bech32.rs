//! Bech32 (BIP-173) and Bech32m (BIP-350) codec, and witness-style addresses on top of it.

use thiserror::Error;

const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const GENERATOR: [u32; 5] = [
    0x3b6a_57b2,
    0x2650_8e6d,
    0x1ea1_19fa,
    0x3d42_33dd,
    0x2a14_62b3,
];
/// Longest string BIP-173 allows.
pub const MAX_LENGTH: usize = 90;
const CHECKSUM_LEN: usize = 6;

/// Which checksum constant a string uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    /// BIP-173, constant 1.
    Bech32,
    /// BIP-350, constant 0x2bc830a3.
    Bech32m,
}

impl Variant {
    fn constant(self) -> u32 {
        match self {
            Variant::Bech32 => 1,
            Variant::Bech32m => 0x2bc8_30a3,
        }
    }
}

/// Why a string or a witness address is not valid.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Bech32Error {
    /// Longer than 90 characters.
    #[error("string of {0} characters exceeds 90")]
    TooLong(usize),
    /// No '1' separator.
    #[error("missing separator '1'")]
    MissingSeparator,
    /// The human-readable part is empty or over 83 characters.
    #[error("human-readable part has invalid length {0}")]
    InvalidHrpLength(usize),
    /// A character outside US-ASCII 33..=126 in the human-readable part.
    #[error("invalid character in human-readable part at {0}")]
    InvalidHrpChar(usize),
    /// A character outside the 32-letter data charset.
    #[error("invalid data character at {0}")]
    InvalidDataChar(usize),
    /// Both upper and lower case letters.
    #[error("mixed case")]
    MixedCase,
    /// Fewer than six data characters.
    #[error("data part too short for a checksum")]
    TooShort,
    /// Neither checksum constant matches.
    #[error("invalid checksum")]
    BadChecksum,
    /// A data value is not a 5-bit number.
    #[error("data value {0} is not 5-bit")]
    InvalidDataValue(u8),
    /// Bit regrouping left non-zero padding or too many padding bits.
    #[error("invalid padding")]
    InvalidPadding,
    /// Witness version above 16 or missing.
    #[error("invalid witness version")]
    InvalidWitnessVersion,
    /// Witness program length outside the rules for its version.
    #[error("invalid witness program length {0}")]
    InvalidProgramLength(usize),
    /// Version 0 must use Bech32, later versions Bech32m.
    #[error("wrong checksum variant for the witness version")]
    WrongVariant,
    /// The human-readable part is not the expected one.
    #[error("unexpected human-readable part {0:?}")]
    WrongHrp(String),
}

fn polymod(values: impl Iterator<Item = u8>) -> u32 {
    let mut chk = 1u32;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x01ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in GENERATOR.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

fn hrp_expand(hrp: &[u8]) -> impl Iterator<Item = u8> + '_ {
    hrp.iter()
        .map(|c| c >> 5)
        .chain(std::iter::once(0))
        .chain(hrp.iter().map(|c| c & 31))
}

fn check_hrp(hrp: &str) -> Result<(), Bech32Error> {
    if hrp.is_empty() || hrp.len() > 83 {
        return Err(Bech32Error::InvalidHrpLength(hrp.len()));
    }
    if let Some(i) = hrp.bytes().position(|c| !(33..=126).contains(&c)) {
        return Err(Bech32Error::InvalidHrpChar(i));
    }
    Ok(())
}

/// Encodes `hrp` and 5-bit `data` with the checksum of `variant`. The hrp is lowercased.
pub fn encode(hrp: &str, data: &[u8], variant: Variant) -> Result<String, Bech32Error> {
    check_hrp(hrp)?;
    if let Some(v) = data.iter().find(|v| **v > 31) {
        return Err(Bech32Error::InvalidDataValue(*v));
    }
    let total = hrp.len() + 1 + data.len() + CHECKSUM_LEN;
    if total > MAX_LENGTH {
        return Err(Bech32Error::TooLong(total));
    }
    let hrp = hrp.to_ascii_lowercase();
    let pm = polymod(
        hrp_expand(hrp.as_bytes())
            .chain(data.iter().copied())
            .chain([0; CHECKSUM_LEN]),
    ) ^ variant.constant();
    let mut out = String::with_capacity(total);
    out.push_str(&hrp);
    out.push('1');
    out.extend(data.iter().map(|d| CHARSET[*d as usize] as char));
    out.extend((0..CHECKSUM_LEN).map(|i| CHARSET[((pm >> (5 * (5 - i))) & 31) as usize] as char));
    Ok(out)
}

/// A decoded string: lowercase hrp, 5-bit data without the checksum, variant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// Human-readable part, lowercase.
    pub hrp: String,
    /// Data values (each < 32), checksum removed.
    pub data: Vec<u8>,
    /// Which checksum matched.
    pub variant: Variant,
}

/// Decodes a Bech32 or Bech32m string (BIP-173 rules, 90-character limit).
pub fn decode(s: &str) -> Result<Decoded, Bech32Error> {
    if s.len() > MAX_LENGTH {
        return Err(Bech32Error::TooLong(s.len()));
    }
    let has_lower = s.bytes().any(|c| c.is_ascii_lowercase());
    let has_upper = s.bytes().any(|c| c.is_ascii_uppercase());
    if has_lower && has_upper {
        return Err(Bech32Error::MixedCase);
    }
    let sep = s.rfind('1').ok_or(Bech32Error::MissingSeparator)?;
    let (hrp, rest) = (&s[..sep], &s[sep + 1..]);
    check_hrp(hrp)?;
    if rest.len() < CHECKSUM_LEN {
        return Err(Bech32Error::TooShort);
    }
    let mut values = Vec::with_capacity(rest.len());
    for (i, c) in rest.bytes().enumerate() {
        let lower = c.to_ascii_lowercase();
        let v = CHARSET
            .iter()
            .position(|x| *x == lower)
            .ok_or(Bech32Error::InvalidDataChar(sep + 1 + i))?;
        values.push(v as u8);
    }
    let hrp = hrp.to_ascii_lowercase();
    let pm = polymod(hrp_expand(hrp.as_bytes()).chain(values.iter().copied()));
    let variant = match pm {
        1 => Variant::Bech32,
        0x2bc8_30a3 => Variant::Bech32m,
        _ => return Err(Bech32Error::BadChecksum),
    };
    values.truncate(values.len() - CHECKSUM_LEN);
    Ok(Decoded {
        hrp,
        data: values,
        variant,
    })
}

/// Regroups bits (8→5 with `pad`, 5→8 without), refusing bad padding.
pub fn convert_bits(data: &[u8], from: u32, to: u32, pad: bool) -> Result<Vec<u8>, Bech32Error> {
    let mut acc = 0u32;
    let mut bits = 0u32;
    let max = (1u32 << to) - 1;
    let mut out = Vec::with_capacity(data.len() * from as usize / to as usize + 1);
    for &v in data {
        if u32::from(v) >> from != 0 {
            return Err(Bech32Error::InvalidDataValue(v));
        }
        acc = ((acc << from) | u32::from(v)) & 0xfff;
        bits += from;
        while bits >= to {
            bits -= to;
            out.push(((acc >> bits) & max) as u8);
        }
    }
    if pad {
        if bits > 0 {
            out.push(((acc << (to - bits)) & max) as u8);
        }
    } else if bits >= from || (acc << (to - bits)) & max != 0 {
        return Err(Bech32Error::InvalidPadding);
    }
    Ok(out)
}

/// A witness-style address: version 0..=16 and a 2..=40-byte program
/// (20 or 32 bytes for version 0), Bech32 for v0 and Bech32m after (BIP-350).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessAddress {
    /// Human-readable part ("dil" on Dilithion mainnet).
    pub hrp: String,
    /// Witness version.
    pub version: u8,
    /// Witness program.
    pub program: Vec<u8>,
}

impl WitnessAddress {
    /// Decodes and checks the witness rules.
    pub fn decode(s: &str) -> Result<Self, Bech32Error> {
        let d = decode(s)?;
        let (&version, rest) = d
            .data
            .split_first()
            .ok_or(Bech32Error::InvalidWitnessVersion)?;
        if version > 16 {
            return Err(Bech32Error::InvalidWitnessVersion);
        }
        let program = convert_bits(rest, 5, 8, false)?;
        check_program(version, program.len())?;
        let expected = if version == 0 {
            Variant::Bech32
        } else {
            Variant::Bech32m
        };
        if d.variant != expected {
            return Err(Bech32Error::WrongVariant);
        }
        Ok(WitnessAddress {
            hrp: d.hrp,
            version,
            program,
        })
    }

    /// Encodes, checking the witness rules.
    pub fn encode(&self) -> Result<String, Bech32Error> {
        if self.version > 16 {
            return Err(Bech32Error::InvalidWitnessVersion);
        }
        check_program(self.version, self.program.len())?;
        let variant = if self.version == 0 {
            Variant::Bech32
        } else {
            Variant::Bech32m
        };
        let mut data = vec![self.version];
        data.extend(convert_bits(&self.program, 8, 5, true)?);
        encode(&self.hrp, &data, variant)
    }
}

fn check_program(version: u8, len: usize) -> Result<(), Bech32Error> {
    if !(2..=40).contains(&len) || (version == 0 && len != 20 && len != 32) {
        return Err(Bech32Error::InvalidProgramLength(len));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
