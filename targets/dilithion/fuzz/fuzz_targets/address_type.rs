//! The address classifier agrees with the decoders on every string, and no string is
//! both a valid Base58 address and a valid witness address.
//! Input: the candidate string (UTF-8).
#![no_main]

use bech32::primitives::decode::SegwitHrpstring;
use dilithion_core::address::{Address, AddressType, BECH32_HRP, classify};
use dilithion_core::bech32::WitnessAddress;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() > 128 {
        return;
    }
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let base58 = Address::decode(s).is_ok();
    let witness = WitnessAddress::decode(s)
        .ok()
        .filter(|a| a.hrp == BECH32_HRP);
    assert!(!(base58 && witness.is_some()), "{s:?} is both kinds");
    let expected = match (base58, &witness) {
        (true, _) => AddressType::PubKeyHash,
        (false, Some(a)) => AddressType::Witness { version: a.version },
        (false, None) => AddressType::Unknown,
    };
    assert_eq!(classify(s), expected, "{s:?}");

    // Second opinion on witness addresses from the bech32 crate's segwit decoder.
    if let Ok(seg) = SegwitHrpstring::new(s) {
        if seg.hrp().to_lowercase() == BECH32_HRP {
            assert_eq!(
                classify(s),
                AddressType::Witness {
                    version: seg.witness_version().to_u8()
                },
                "{s:?}"
            );
        }
    } else {
        assert!(
            witness.is_none(),
            "bech32 crate rejects witness address {s:?}"
        );
    }
});
