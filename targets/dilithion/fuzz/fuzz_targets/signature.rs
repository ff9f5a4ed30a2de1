//! ML-DSA-65 spends: verification never panics on any bytes; sign → verify round trips
//! with keys derived from the input; a flipped scriptSig bit, a changed signed field or a
//! replayed scriptSig fails; a spend that verifies stops verifying when a signed field
//! changes. Input: u8 mode (bit 0: sign, bits 1+: which tampering), u8 key id, u16
//! selector, then a transaction, or raw public-key/signature/message bytes (verify mode).
#![no_main]

use dilithion_core::address::address_hash;
use dilithion_core::fixture::sample_spend;
use dilithion_core::sig::{
    KeyPair, PUBLIC_KEY_LEN, SCRIPT_SIG_LEN, SIGNATURE_LEN, ScriptSig, sign_input, verify_input,
    verify_signature,
};
use dilithion_core::tx::Transaction;
use dilithion_fuzz::Input;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const KEYS: usize = 16;

/// Key generation is slow under the sanitizers; each of the 16 seeds is derived once per process.
fn key(id: u8) -> &'static KeyPair {
    static CACHE: [OnceLock<KeyPair>; KEYS] = [const { OnceLock::new() }; KEYS];
    let id = usize::from(id) % KEYS;
    CACHE[id].get_or_init(|| KeyPair::from_seed(&[id as u8; 32]))
}

fn verify_mode(rest: &[u8], key_id: u8, selector: usize) {
    // Arbitrary bytes as key, signature and message must never panic the verifier.
    let mut r = Input::new(rest);
    let pk = r.take(PUBLIC_KEY_LEN);
    let sig = r.take(SIGNATURE_LEN);
    let _ = verify_signature(pk, r.rest(), sig);

    let Ok(tx) = Transaction::decode(rest) else {
        return;
    };
    if tx.inputs.is_empty() {
        return;
    }
    let index = selector % tx.inputs.len();
    // Check against the key the scriptSig carries, so valid spends reach the ML-DSA check.
    let spk = ScriptSig::decode(&tx.inputs[index].script_sig)
        .map(|s| address_hash(&s.public_key).to_vec())
        .unwrap_or_else(|_| key(key_id).script_pubkey());
    if verify_input(&tx, index, &spk).is_ok() {
        let mut changed = tx.clone();
        changed.version ^= 1 << (selector % 32);
        assert!(
            verify_input(&changed, index, &spk).is_err(),
            "changed version verified"
        );
    }
}

fn sign_mode(mode: u8, rest: &[u8], key_id: u8, selector: usize) {
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

    // One tampering per execution: signing dominates the cost, so this keeps the rate up.
    match (mode >> 1) % 3 {
        0 => {
            let mut flipped = tx.clone();
            let bit = (selector * 7919) % (SCRIPT_SIG_LEN * 8);
            flipped.inputs[index].script_sig[bit / 8] ^= 1 << (bit % 8);
            assert!(
                verify_input(&flipped, index, &spk).is_err(),
                "flipped scriptSig bit {bit} verified"
            );
        }
        1 => {
            let mut changed = tx.clone();
            changed.lock_time ^= 1 << (selector % 32);
            assert!(
                verify_input(&changed, index, &spk).is_err(),
                "changed lock time verified"
            );
        }
        _ if tx.inputs.len() > 1 => {
            let other = (index + 1) % tx.inputs.len();
            let mut moved = tx.clone();
            moved.inputs[other].script_sig = tx.inputs[index].script_sig.clone();
            assert!(
                verify_input(&moved, other, &spk).is_err(),
                "signature replayed on input {other}"
            );
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let mode = input.u8();
    let key_id = input.u8();
    let selector = usize::from(input.u16());
    let rest = input.rest();
    if mode & 1 == 0 {
        verify_mode(rest, key_id, selector);
    } else {
        sign_mode(mode, rest, key_id, selector);
    }
});
