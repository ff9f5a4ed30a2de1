//! SHA3-256 helpers: incremental hashing equals one-shot for any three-way split, and
//! both match a second implementation (tiny-keccak); double hash and checksum agree.
//! Input: u16 split a, u16 split b, then the message.
#![no_main]

use dilithion_core::hash::{Sha3Writer, checksum4, double_sha3_256, sha3_256};
use dilithion_fuzz::{Input, ref_double_sha3, ref_sha3};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let a = usize::from(input.u16());
    let b = usize::from(input.u16());
    let msg = input.rest();
    let n = msg.len();
    let (x, y) = (
        (a % (n + 1)).min(b % (n + 1)),
        (a % (n + 1)).max(b % (n + 1)),
    );

    let one_shot = sha3_256(msg);
    let mut w = Sha3Writer::new();
    w.update(&msg[..x]);
    w.update(&msg[x..y]);
    w.update(&msg[y..]);
    assert_eq!(
        w.finish(),
        one_shot,
        "split at {x},{y} differs from one-shot"
    );
    assert_eq!(one_shot.0, ref_sha3(&[msg]), "differs from tiny-keccak");
    assert_eq!(one_shot.0, ref_sha3(&[&msg[..y], &msg[y..]]));

    let double = double_sha3_256(msg);
    assert_eq!(double.0, ref_double_sha3(msg));
    assert_eq!(checksum4(msg), double.0[..4]);
});
