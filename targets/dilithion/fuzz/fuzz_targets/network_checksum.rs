//! The message checksum is the first four bytes of the payload's double SHA3-256
//! (checked against tiny-keccak), and a flipped payload bit is detected.
//! Input: u32 bit selector, then the payload.
#![no_main]

use dilithion_core::hash::checksum4;
use dilithion_core::message::{Command, HEADER_BYTES, Message, MessageError, Network};
use dilithion_fuzz::{Input, ref_double_sha3};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let selector = input.u32() as usize;
    let payload = input.rest();
    let sum = checksum4(payload);
    assert_eq!(sum, ref_double_sha3(payload)[..4]);

    let msg = Message::new(
        Network::Mainnet,
        Command::new("tx").unwrap(),
        payload.to_vec(),
    );
    let mut bytes = msg.encode().unwrap();
    assert_eq!(bytes[20..24], sum);
    if payload.is_empty() {
        return;
    }
    let bit = selector % (payload.len() * 8);
    bytes[HEADER_BYTES + bit / 8] ^= 1 << (bit % 8);
    match Message::decode(&bytes, Network::Mainnet.magic()) {
        Err(MessageError::BadChecksum) => {}
        // Only a genuine 32-bit collision may pass, and then the checksums must really match.
        Ok(_) => assert_eq!(ref_double_sha3(&bytes[HEADER_BYTES..])[..4], sum),
        Err(e) => panic!("flipped payload bit {bit} gave {e:?}"),
    }
});
