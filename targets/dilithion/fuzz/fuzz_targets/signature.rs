//! ML-DSA-65 spends: verification never panics on any bytes; sign → verify round trips
//! with keys derived from the input; a flipped bit in the scriptSig or the signed
//! transaction fails. Input: u8 mode, u8 key id, u16 bit selector, then either a
//! transaction (sign mode) or raw scriptSig/public-key/signature bytes (verify mode).
#![no_main]

use dilithion_core::fixture::sample_spend;
use dilithion_core::sig::{
    KeyPair, PUBLIC_KEY_LEN, SCRIPT_SIG_LEN, SIGNATURE_LEN, sign_input, verify_input,
    verify_signature,
};
use dilithion_core::tx::Transaction;
use dilithion_fuzz::Input;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const KEYS: usize = 16;

/// Key generation is the slow part; each of the 16 seeds is derived once per process.
fn key(id: u8) -> &'static KeyPair {
    static CACHE: [OnceLock<KeyPair>; KEYS] = [const { OnceLock::new() }; KEYS];
    let id = usize::from(id) % KEYS;
    CACHE[id].get_or_init(|| KeyPair::from_seed(&[id as u8; 32]))
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let mode = input.u8();
    let key_id = input.u8();
    let selector = usize::from(input.u16());
    let rest = input.rest();

    if mode & 1 == 0 {
        // Verify mode: arbitrary bytes must never panic the verifier.
        let mut r = Input::new(rest);
        let pk = r.take(PUBLIC_KEY_LEN);
        let sig = r.take(SIGNATURE_LEN);
        let msg = r.rest();
        let _ = verify_signature(pk, msg, sig);
        if let Ok(tx) = Transaction::decode(rest) {
            for i in 0..tx.inputs.len().min(4) {
                let _ = verify_input(&tx, i, &key(key_id).script_pubkey());
            }
        }
        return;
    }

    // Sign mode: a transaction from the input (or the fixture with the input as an output script).
    let mut tx = match Transaction::decode(rest) {
        Ok(tx) if !tx.inputs.is_empty() && tx.inputs.len() <= 8 => tx,
        _ => {
            let mut tx = sample_spend();
            tx.outputs[0].script_pubkey = rest.iter().take(64).copied().collect();
            tx
        }
    };
    let key = key(key_id);
    let index = selector % tx.inputs.len();
    sign_input(&mut tx, index, key).expect("signing succeeds");
    let spk = key.script_pubkey();
    assert_eq!(tx.inputs[index].script_sig.len(), SCRIPT_SIG_LEN);
    assert_eq!(
        verify_input(&tx, index, &spk),
        Ok(()),
        "fresh signature does not verify"
    );

    // Flip one bit of the scriptSig: layout, key hash or signature must fail.
    let mut flipped = tx.clone();
    let bit = (selector * 7919) % (SCRIPT_SIG_LEN * 8);
    flipped.inputs[index].script_sig[bit / 8] ^= 1 << (bit % 8);
    assert!(
        verify_input(&flipped, index, &spk).is_err(),
        "flipped scriptSig bit {bit} verified"
    );

    // Change a signed field of the transaction: the signature must fail.
    let mut changed = tx.clone();
    changed.lock_time ^= 1 << (selector % 32);
    assert!(
        verify_input(&changed, index, &spk).is_err(),
        "changed lock time verified"
    );

    // The same scriptSig does not authorize another input.
    if tx.inputs.len() > 1 {
        let other = (index + 1) % tx.inputs.len();
        let mut moved = tx.clone();
        moved.inputs[other].script_sig = tx.inputs[index].script_sig.clone();
        assert!(
            verify_input(&moved, other, &spk).is_err(),
            "signature replayed on input {other}"
        );
    }
});
