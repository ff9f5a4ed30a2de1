//! Minimal 256-bit unsigned integer for targets and proof-of-work comparisons.

use std::cmp::Ordering;

/// A 256-bit unsigned integer, four little-endian 64-bit limbs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct U256(pub [u64; 4]);

impl U256 {
    /// Zero.
    pub const ZERO: U256 = U256([0; 4]);

    /// A value from a u64.
    pub fn from_u64(v: u64) -> Self {
        U256([v, 0, 0, 0])
    }

    /// Interprets 32 bytes as a little-endian number, as Bitcoin reads a hash for PoW.
    pub fn from_le_bytes(bytes: [u8; 32]) -> Self {
        let mut limbs = [0u64; 4];
        for (i, limb) in limbs.iter_mut().enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
            *limb = u64::from_le_bytes(b);
        }
        U256(limbs)
    }

    /// The 32 little-endian bytes.
    pub fn to_le_bytes(self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, limb) in self.0.iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&limb.to_le_bytes());
        }
        out
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 4]
    }

    /// The low 64 bits.
    pub fn low_u64(&self) -> u64 {
        self.0[0]
    }

    /// Number of significant bits (0 for zero).
    pub fn bits(&self) -> u32 {
        for i in (0..4).rev() {
            if self.0[i] != 0 {
                return 64 * i as u32 + 64 - self.0[i].leading_zeros();
            }
        }
        0
    }

    /// Left shift; bits shifted past 256 are lost, shifts of 256 or more give zero.
    pub fn shl_bits(self, n: u32) -> Self {
        if n >= 256 {
            return Self::ZERO;
        }
        let (limbs, bits) = ((n / 64) as usize, n % 64);
        let mut out = [0u64; 4];
        for i in (limbs..4).rev() {
            out[i] = self.0[i - limbs] << bits;
            if bits > 0 && i > limbs {
                out[i] |= self.0[i - limbs - 1] >> (64 - bits);
            }
        }
        U256(out)
    }

    /// Right shift; shifts of 256 or more give zero.
    pub fn shr_bits(self, n: u32) -> Self {
        if n >= 256 {
            return Self::ZERO;
        }
        let (limbs, bits) = ((n / 64) as usize, n % 64);
        let mut out = [0u64; 4];
        for (i, limb) in out.iter_mut().enumerate().take(4 - limbs) {
            *limb = self.0[i + limbs] >> bits;
            if bits > 0 && i + limbs + 1 < 4 {
                *limb |= self.0[i + limbs + 1] << (64 - bits);
            }
        }
        U256(out)
    }

    /// `self * m / d` computed exactly through a 320-bit intermediate; `None`
    /// when `d` is zero or the quotient does not fit in 256 bits.
    pub fn mul_div(self, m: u64, d: u64) -> Option<Self> {
        if d == 0 {
            return None;
        }
        let mut wide = [0u64; 5];
        let mut carry = 0u128;
        for (w, limb) in wide.iter_mut().zip(self.0) {
            let p = u128::from(limb) * u128::from(m) + carry;
            *w = p as u64;
            carry = p >> 64;
        }
        wide[4] = carry as u64;
        let mut rem = 0u128;
        for limb in wide.iter_mut().rev() {
            let cur = (rem << 64) | u128::from(*limb);
            *limb = (cur / u128::from(d)) as u64;
            rem = cur % u128::from(d);
        }
        if wide[4] != 0 {
            return None;
        }
        Some(U256([wide[0], wide[1], wide[2], wide[3]]))
    }
}

impl Ord for U256 {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.iter().rev().cmp(other.0.iter().rev())
    }
}

impl PartialOrd for U256 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn to_u128(v: U256) -> Option<u128> {
        (v.0[2] == 0 && v.0[3] == 0).then(|| u128::from(v.0[0]) | (u128::from(v.0[1]) << 64))
    }

    fn from_u128(v: u128) -> U256 {
        U256([v as u64, (v >> 64) as u64, 0, 0])
    }

    #[test]
    fn bits_counts_significant_bits() {
        assert_eq!(U256::ZERO.bits(), 0);
        assert_eq!(U256::from_u64(1).bits(), 1);
        assert_eq!(U256::from_u64(1).shl_bits(255).bits(), 256);
    }

    proptest! {
        #[test]
        fn shifts_match_u128(v in any::<u64>(), n in 0u32..64) {
            prop_assert_eq!(to_u128(U256::from_u64(v).shl_bits(n)), Some(u128::from(v) << n));
            prop_assert_eq!(U256::from_u64(v).shl_bits(n).shr_bits(n), U256::from_u64(v));
        }

        #[test]
        fn mul_div_matches_u128(a in any::<u64>(), m in any::<u32>(), d in 1u64..u64::MAX) {
            let expect = u128::from(a) * u128::from(m) / u128::from(d);
            prop_assert_eq!(U256::from_u64(a).mul_div(u64::from(m), d), Some(from_u128(expect)));
        }

        #[test]
        fn ordering_matches_u128(a in any::<u128>(), b in any::<u128>()) {
            prop_assert_eq!(from_u128(a).cmp(&from_u128(b)), a.cmp(&b));
        }

        #[test]
        fn le_bytes_round_trip(bytes in any::<[u8; 32]>()) {
            prop_assert_eq!(U256::from_le_bytes(bytes).to_le_bytes(), bytes);
        }
    }
}
