//! Compact nBits and retarget: round trips, clamps, pow limit, monotonicity, PoW check.
//! Input: u32 bits, i64 timespan a, i64 timespan b, u32 height, 32-byte target/hash.
#![no_main]

use dilithion_core::Hash256;
use dilithion_core::difficulty::{
    PowError, check_proof_of_work, compact_to_target, min_target, next_work_required, pow_limit,
    retarget, target_to_compact,
};
use dilithion_core::params::{RETARGET_INTERVAL, TARGET_TIMESPAN_S};
use dilithion_core::u256::U256;
use dilithion_fuzz::Input;
use libfuzzer_sys::fuzz_target;

/// Bitcoin's definition of a negative or overflowing compact value, restated.
fn expected_decode_error(bits: u32) -> Option<PowError> {
    let size = bits >> 24;
    let word = if size <= 3 {
        (bits & 0x7f_ffff) >> (8 * (3 - size))
    } else {
        bits & 0x7f_ffff
    };
    if word != 0 && bits & 0x80_0000 != 0 {
        return Some(PowError::NegativeTarget(bits));
    }
    let overflow =
        word != 0 && (size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32));
    overflow.then_some(PowError::TargetOverflow(bits))
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let bits = input.u32();
    let span_a = input.i64();
    let span_b = input.i64();
    let height = input.u32();
    let raw = input.array::<32>();

    // Decode agrees with the restated rules, and every decoded target survives encode → decode.
    let decoded = compact_to_target(bits);
    match (&decoded, expected_decode_error(bits)) {
        (Ok(target), None) => {
            let again = target_to_compact(*target);
            assert_eq!(compact_to_target(again), Ok(*target), "bits {bits:#x}");
            if again == bits {
                // Canonical input: the encoder reproduces it byte for byte.
                assert_eq!(target_to_compact(compact_to_target(bits).unwrap()), bits);
            }
        }
        (Err(e), Some(expected)) => assert_eq!(*e, expected),
        (got, expected) => panic!("bits {bits:#x}: decoded {got:?}, expected error {expected:?}"),
    }

    // Any 256-bit value encodes to a compact form that decodes to the largest
    // representable value not above it, with the same bit length.
    let t = U256::from_le_bytes(raw);
    let enc = target_to_compact(t);
    let back = compact_to_target(enc).expect("encoder output decodes");
    assert!(back <= t);
    assert_eq!(back.bits(), t.bits());
    assert_eq!(target_to_compact(back), enc);

    // Retarget: clamped, never above the limit, monotone in the timespan.
    if let Ok(prev) = decoded {
        let (lo, hi) = (span_a.min(span_b), span_a.max(span_b));
        let r_lo = retarget(bits, lo).expect("decodable bits retarget");
        let r_hi = retarget(bits, hi).expect("decodable bits retarget");
        let (t_lo, t_hi) = (
            compact_to_target(r_lo).unwrap(),
            compact_to_target(r_hi).unwrap(),
        );
        assert!(
            t_lo <= t_hi,
            "not monotone: {lo} -> {r_lo:#x}, {hi} -> {r_hi:#x}"
        );
        for t in [t_lo, t_hi] {
            assert!(t <= pow_limit(), "above the pow limit");
            assert!(t >= min_target(), "below the minimum target");
            // Within the 4x clamp of the previous target (after the min/limit clamp).
            let most = prev
                .mul_div(4, 1)
                .unwrap_or(U256([u64::MAX; 4]))
                .clamp(min_target(), pow_limit());
            let least = compact_to_target(target_to_compact(
                prev.mul_div(1, 4).unwrap().clamp(min_target(), pow_limit()),
            ))
            .unwrap();
            assert!(t <= most && t >= least, "retarget outside [T/4, 4T] clamp");
        }
        // An on-schedule interval keeps the (clamped) target.
        let same = compact_to_target(retarget(bits, TARGET_TIMESPAN_S).unwrap()).unwrap();
        assert_eq!(
            same,
            compact_to_target(target_to_compact(prev.clamp(min_target(), pow_limit()))).unwrap()
        );
        // Out-of-range timespans behave as the clamp bounds.
        assert_eq!(
            retarget(bits, i64::MIN),
            retarget(bits, TARGET_TIMESPAN_S / 4)
        );
        assert_eq!(
            retarget(bits, i64::MAX),
            retarget(bits, TARGET_TIMESPAN_S * 4)
        );
    }

    // Between retarget heights the bits do not change.
    if !height.is_multiple_of(RETARGET_INTERVAL) {
        assert_eq!(next_work_required(height, bits, 0, span_a as u32), Ok(bits));
    }

    // Proof of work: accepted only if 0 < hash ≤ target ≤ limit.
    let hash = Hash256(raw);
    if check_proof_of_work(&hash, bits).is_ok() {
        let target = decoded.expect("accepted bits decode");
        assert!(!target.is_zero() && target <= pow_limit());
        assert!(U256::from_le_bytes(hash.0) <= target);
    }
});
