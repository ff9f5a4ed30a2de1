//! Compact nBits encoding, proof-of-work check and the 2016-block retarget.

use crate::hash::Hash256;
use crate::params::{MIN_TARGET_BITS, POW_LIMIT_BITS, RETARGET_INTERVAL, TARGET_TIMESPAN_S};
use crate::u256::U256;
use thiserror::Error;

/// Why an nBits value or a proof of work is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PowError {
    /// The compact form has its sign bit set with a non-zero mantissa.
    #[error("nBits {0:#010x} encodes a negative target")]
    NegativeTarget(u32),
    /// The compact form does not fit in 256 bits.
    #[error("nBits {0:#010x} overflows 256 bits")]
    TargetOverflow(u32),
    /// The target is zero: no hash can meet it.
    #[error("nBits {0:#010x} encodes a zero target")]
    ZeroTarget(u32),
    /// The target is easier than the proof-of-work limit.
    #[error("nBits {0:#010x} is above the proof-of-work limit")]
    TargetAboveLimit(u32),
    /// The header hash does not meet the target.
    #[error("header hash is above the target of nBits {0:#010x}")]
    HashAboveTarget(u32),
}

/// Decodes compact nBits (Bitcoin's `SetCompact`), refusing negative and overflowing forms.
pub fn compact_to_target(bits: u32) -> Result<U256, PowError> {
    let size = bits >> 24;
    let mut word = bits & 0x007f_ffff;
    // As in Bitcoin, the sign and overflow tests look at the mantissa after a
    // small exponent has shifted it, so 0x01803456 is zero, not negative.
    if size <= 3 {
        word >>= 8 * (3 - size);
    }
    if word != 0 && bits & 0x0080_0000 != 0 {
        return Err(PowError::NegativeTarget(bits));
    }
    if word != 0 && (size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32)) {
        return Err(PowError::TargetOverflow(bits));
    }
    if size <= 3 {
        Ok(U256::from_u64(u64::from(word)))
    } else {
        Ok(U256::from_u64(u64::from(word)).shl_bits(8 * (size - 3)))
    }
}

/// Encodes a target in compact form (Bitcoin's `GetCompact`), truncating the
/// mantissa to three bytes: the result decodes to the largest representable
/// value not above `target`.
pub fn target_to_compact(target: U256) -> u32 {
    let mut size = target.bits().div_ceil(8);
    let mut compact = if size <= 3 {
        (target.low_u64() << (8 * (3 - size))) as u32
    } else {
        target.shr_bits(8 * (size - 3)).low_u64() as u32
    };
    if compact & 0x0080_0000 != 0 {
        compact >>= 8;
        size += 1;
    }
    compact | (size << 24)
}

/// The easiest target allowed (decoded [`POW_LIMIT_BITS`]).
pub fn pow_limit() -> U256 {
    compact_to_target(POW_LIMIT_BITS).unwrap_or(U256::ZERO)
}

/// The hardest target a retarget may produce (decoded [`MIN_TARGET_BITS`]).
pub fn min_target() -> U256 {
    compact_to_target(MIN_TARGET_BITS).unwrap_or(U256::ZERO)
}

/// Checks that `hash`, read as a little-endian number, meets `bits`.
pub fn check_proof_of_work(hash: &Hash256, bits: u32) -> Result<(), PowError> {
    let target = compact_to_target(bits)?;
    if target.is_zero() {
        return Err(PowError::ZeroTarget(bits));
    }
    if target > pow_limit() {
        return Err(PowError::TargetAboveLimit(bits));
    }
    if U256::from_le_bytes(hash.0) > target {
        return Err(PowError::HashAboveTarget(bits));
    }
    Ok(())
}

/// Clamps an observed retarget timespan to [T/4, 4T].
pub fn clamp_timespan(actual_timespan_s: i64) -> i64 {
    actual_timespan_s.clamp(TARGET_TIMESPAN_S / 4, TARGET_TIMESPAN_S * 4)
}

/// The target after a retarget interval that took `actual_timespan_s`:
/// old × clamped timespan / T, kept between [`min_target`] and [`pow_limit`].
pub fn retarget(prev_bits: u32, actual_timespan_s: i64) -> Result<u32, PowError> {
    let prev = compact_to_target(prev_bits)?;
    let timespan = clamp_timespan(actual_timespan_s) as u64;
    let limit = pow_limit();
    let new = prev
        .mul_div(timespan, TARGET_TIMESPAN_S as u64)
        .unwrap_or(limit)
        .clamp(min_target(), limit);
    Ok(target_to_compact(new))
}

/// nBits for the block at `height`: unchanged inside an interval, retargeted
/// from the interval's first and last block times at each multiple of 2016.
pub fn next_work_required(
    height: u32,
    prev_bits: u32,
    interval_first_time: u32,
    interval_last_time: u32,
) -> Result<u32, PowError> {
    if height == 0 || !height.is_multiple_of(RETARGET_INTERVAL) {
        return Ok(prev_bits);
    }
    let actual = i64::from(interval_last_time) - i64::from(interval_first_time);
    retarget(prev_bits, actual)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Bitcoin Core's arith_uint256 SetCompact/GetCompact vectors (src/test/arith_uint256_tests.cpp).
    #[test]
    fn bitcoin_compact_vectors() {
        let zero_cases = [
            0u32,
            0x0012_3456,
            0x0100_3456,
            0x0200_0056,
            0x0300_0000,
            0x0400_0000,
            0x0092_3456,
            0x0180_3456,
            0x0280_0056,
            0x0380_0000,
            0x0480_0000,
        ];
        for bits in zero_cases {
            let t = compact_to_target(bits).unwrap();
            assert!(t.is_zero(), "{bits:#x}");
            assert_eq!(target_to_compact(t), 0);
        }
        let cases: [(u32, u64, u32); 5] = [
            (0x0112_3456, 0x12, 0x0112_0000),
            (0x0212_3456, 0x1234, 0x0212_3400),
            (0x0312_3456, 0x12_3456, 0x0312_3456),
            (0x0412_3456, 0x1234_5600, 0x0412_3456),
            (0x0500_9234, 0x9234_0000, 0x0500_9234),
        ];
        for (bits, value, back) in cases {
            let t = compact_to_target(bits).unwrap();
            assert_eq!(t, U256::from_u64(value), "{bits:#x}");
            assert_eq!(target_to_compact(t), back, "{bits:#x}");
        }
        // 0x01fedcba: negative.
        assert_eq!(
            compact_to_target(0x01fe_dcba),
            Err(PowError::NegativeTarget(0x01fe_dcba))
        );
        // 0x04923456: negative.
        assert_eq!(
            compact_to_target(0x0492_3456),
            Err(PowError::NegativeTarget(0x0492_3456))
        );
        // 0x20123456: 0x123456 << 232.
        let t = compact_to_target(0x2012_3456).unwrap();
        assert_eq!(t, U256::from_u64(0x12_3456).shl_bits(232));
        assert_eq!(target_to_compact(t), 0x2012_3456);
        // 0xff123456: overflow.
        assert_eq!(
            compact_to_target(0xff12_3456),
            Err(PowError::TargetOverflow(0xff12_3456))
        );
        // 0x01800000 style: value 0x80 needs an extra byte.
        assert_eq!(target_to_compact(U256::from_u64(0x80)), 0x0200_8000);
    }

    #[test]
    fn bitcoin_genesis_bits() {
        let t = compact_to_target(0x1d00_ffff).unwrap();
        assert_eq!(t, U256::from_u64(0xffff).shl_bits(208));
        assert_eq!(target_to_compact(t), 0x1d00_ffff);
    }

    #[test]
    fn retarget_clamps() {
        let t = TARGET_TIMESPAN_S;
        // On schedule: unchanged.
        assert_eq!(retarget(0x1e00_ffff, t), Ok(0x1e00_ffff));
        // Slow intervals make the target easier, but never past the limit.
        assert_eq!(retarget(POW_LIMIT_BITS, 10 * t), Ok(POW_LIMIT_BITS));
        // Fast intervals make it harder, but at most 4x, and never below the minimum target.
        assert_eq!(retarget(MIN_TARGET_BITS, 0), Ok(MIN_TARGET_BITS));
        assert_eq!(retarget(0x1e00_ffff, 0), retarget(0x1e00_ffff, t / 4));
    }

    #[test]
    fn no_retarget_inside_interval() {
        assert_eq!(next_work_required(2015, 0x1e00_ffff, 0, 1), Ok(0x1e00_ffff));
        assert_eq!(
            next_work_required(2016, 0x1e00_ffff, 0, 1),
            retarget(0x1e00_ffff, 1)
        );
    }

    proptest! {
        #[test]
        fn compact_decode_encode_decode_is_stable(bits in any::<u32>()) {
            if let Ok(t) = compact_to_target(bits) {
                let again = target_to_compact(t);
                prop_assert_eq!(compact_to_target(again), Ok(t));
                prop_assert_eq!(target_to_compact(compact_to_target(again).unwrap()), again);
            }
        }

        #[test]
        fn retarget_is_monotone_and_bounded(bits in 0x1d00_8000u32..0x1f10_0000, a in any::<i64>(), b in any::<i64>()) {
            if let (Ok(x), Ok(y)) = (retarget(bits, a.min(b)), retarget(bits, a.max(b))) {
                let (tx, ty) = (compact_to_target(x).unwrap(), compact_to_target(y).unwrap());
                prop_assert!(tx <= ty);
                prop_assert!(ty <= pow_limit());
                prop_assert!(tx >= min_target());
            }
        }
    }
}
