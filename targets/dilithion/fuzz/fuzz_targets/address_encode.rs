//! Address encode → decode round trip for any 20-byte payload; the address of a public
//! key is the first 20 bytes of its double SHA3-256 (checked against tiny-keccak).
//! Input: 20-byte hash, then optional public-key bytes.
#![no_main]

use dilithion_core::address::{Address, AddressType, classify, validate_address};
use dilithion_fuzz::{Input, ref_double_sha3};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let hash = input.array::<20>();
    let addr = Address { hash };
    let s = addr.encode();
    assert_eq!(s.len(), 34, "{s}");
    assert!(s.starts_with('D'), "{s}");
    assert_eq!(Address::decode(&s), Ok(addr));
    assert!(validate_address(&s));
    assert_eq!(classify(&s), AddressType::PubKeyHash);

    let pk = input.rest();
    let from_pk = Address::from_public_key(pk);
    assert_eq!(from_pk.hash[..], ref_double_sha3(pk)[..20]);
    assert_eq!(Address::decode(&from_pk.encode()), Ok(from_pk));
});
