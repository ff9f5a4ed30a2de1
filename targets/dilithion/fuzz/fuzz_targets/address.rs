//! Address decoding never panics; a valid decode re-encodes to the same string, starts
//! with 'D' and is accepted by the validator and the classifier.
//! Input: the address string (UTF-8).
#![no_main]

use dilithion_core::address::{Address, AddressType, classify, validate_address};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(addr) = Address::decode(s) {
        assert_eq!(
            addr.encode(),
            s,
            "valid decode does not re-encode identically"
        );
        assert!(s.starts_with('D'));
        assert!(validate_address(s));
        assert_eq!(classify(s), AddressType::PubKeyHash);
    }
});
