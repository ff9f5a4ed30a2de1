//! Base58: differential against the `bs58` crate for encoding and decoding, round
//! trip, leading-zero ↔ leading-'1' handling, and Base58Check round trip.
//! Input: u8 mode; even: the rest is bytes to encode; odd: the rest is a string to decode.
#![no_main]

use dilithion_core::base58::{decode, decode_check, encode, encode_check};
use dilithion_fuzz::Input;
use libfuzzer_sys::fuzz_target;

fn check_bytes(bytes: &[u8]) {
    let s = encode(bytes);
    assert_eq!(s, bs58::encode(bytes).into_string(), "encoders differ");
    assert_eq!(decode(&s).as_deref(), Ok(bytes), "round trip");
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    assert_eq!(
        s.bytes().take_while(|b| *b == b'1').count(),
        zeros,
        "leading zeros"
    );
    assert_eq!(
        decode_check(&encode_check(bytes)).as_deref(),
        Ok(bytes),
        "check round trip"
    );
}

fuzz_target!(|data: &[u8]| {
    // The codec is quadratic by nature; bound the work per input.
    if data.len() > 512 {
        return;
    }
    let mut input = Input::new(data);
    let mode = input.u8();
    let rest = input.rest();
    if mode & 1 == 0 {
        check_bytes(rest);
        return;
    }
    let Ok(s) = std::str::from_utf8(rest) else {
        return;
    };
    let mine = decode(s);
    let theirs = bs58::decode(s).into_vec();
    match (&mine, &theirs) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b, "decoders differ on {s:?}");
            assert_eq!(encode(a), s, "decode → encode is not the identity");
            check_bytes(a);
        }
        (Err(_), Err(_)) => {}
        _ => panic!("decoders disagree on {s:?}: ours {mine:?}, bs58 {theirs:?}"),
    }
});
