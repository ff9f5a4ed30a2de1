//! The address validator agrees with an independent decode (bs58 crate) + double-SHA3
//! checksum (tiny-keccak) + version check, on every string.
//! Input: the candidate string (UTF-8).
#![no_main]

use dilithion_core::address::{ADDRESS_VERSION, validate_address};
use dilithion_fuzz::ref_double_sha3;
use libfuzzer_sys::fuzz_target;

fn reference(s: &str) -> bool {
    let Ok(bytes) = bs58::decode(s).into_vec() else {
        return false;
    };
    bytes.len() == 25
        && bytes[0] == ADDRESS_VERSION
        && ref_double_sha3(&bytes[..21])[..4] == bytes[21..]
}

fuzz_target!(|data: &[u8]| {
    // Long strings cannot be addresses; keep the quadratic reference decoder fast.
    if data.len() > 128 {
        return;
    }
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    assert_eq!(
        validate_address(s),
        reference(s),
        "validator disagrees on {s:?}"
    );
});
