//! The suite's own bech32/bech32m codec: decode → encode round trip, encode → decode for
//! any data, witness addresses round trip, and differential against the `bech32` crate.
//! Input: u8 mode; mode even: the rest is a string to decode; odd: u8 hrp length, hrp, data bytes.
#![no_main]

use bech32::primitives::decode::CheckedHrpstring;
use bech32::{Bech32, Bech32m, Hrp};
use dilithion_core::bech32::{MAX_LENGTH, Variant, WitnessAddress, convert_bits, decode, encode};
use dilithion_fuzz::Input;
use libfuzzer_sys::fuzz_target;

const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

fn check_string(s: &str) {
    let mine = decode(s);
    if let Ok(d) = &mine {
        // Round trip: re-encoding gives the string back, in lowercase.
        assert_eq!(
            encode(&d.hrp, &d.data, d.variant).as_deref(),
            Ok(s.to_ascii_lowercase().as_str())
        );
    }
    if s.len() <= MAX_LENGTH {
        // Differential: the reference accepts under exactly one checksum iff we do.
        let theirs = [
            (Variant::Bech32, CheckedHrpstring::new::<Bech32>(s).ok()),
            (Variant::Bech32m, CheckedHrpstring::new::<Bech32m>(s).ok()),
        ];
        for (variant, checked) in theirs {
            let ours = mine.as_ref().ok().filter(|d| d.variant == variant);
            match (ours, checked) {
                (None, None) => {}
                (Some(d), Some(c)) => {
                    assert_eq!(c.hrp().to_lowercase(), d.hrp, "hrp differs on {s:?}");
                    let data: Vec<u8> = d.data.iter().map(|v| CHARSET[*v as usize]).collect();
                    assert_eq!(
                        c.data_part_ascii_no_checksum().to_ascii_lowercase(),
                        data,
                        "data differs on {s:?}"
                    );
                }
                (_, theirs) => panic!(
                    "{variant:?} disagreement on {s:?}: ours {:?}, bech32 crate {}",
                    mine,
                    if theirs.is_some() {
                        "accepts"
                    } else {
                        "rejects"
                    }
                ),
            }
        }
    }
    if let Ok(a) = WitnessAddress::decode(s) {
        assert_eq!(a.encode().as_deref(), Ok(s.to_ascii_lowercase().as_str()));
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let mode = input.u8();
    if mode & 1 == 0 {
        if let Ok(s) = std::str::from_utf8(input.rest()) {
            check_string(s);
        }
        return;
    }
    let hrp_len = usize::from(input.u8() % 16) + 1;
    let hrp: String = input
        .take(hrp_len)
        .iter()
        .map(|b| (33 + b % 94) as char)
        .collect::<String>()
        .to_ascii_lowercase();
    let bytes = input.rest();
    let five = convert_bits(bytes, 8, 5, true).expect("8-bit data regroups");
    assert_eq!(convert_bits(&five, 5, 8, false).as_deref(), Ok(bytes));
    let variant = if mode & 2 == 0 {
        Variant::Bech32
    } else {
        Variant::Bech32m
    };
    match encode(&hrp, &five, variant) {
        Ok(s) => {
            let d = decode(&s).expect("our encoding decodes");
            assert_eq!(
                (d.hrp.as_str(), d.data.as_slice(), d.variant),
                (hrp.as_str(), five.as_slice(), variant)
            );
            // The reference encoder produces the same string.
            let h = Hrp::parse(&hrp).expect("valid hrp");
            let theirs = match variant {
                Variant::Bech32 => bech32::encode::<Bech32>(h, bytes),
                Variant::Bech32m => bech32::encode::<Bech32m>(h, bytes),
            };
            assert_eq!(theirs.ok().as_deref(), Some(s.as_str()), "encoders differ");
            check_string(&s);
        }
        Err(_) => assert!(hrp.len() + 1 + five.len() + 6 > MAX_LENGTH || hrp.is_empty()),
    }
});
