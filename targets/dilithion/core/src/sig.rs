//! ML-DSA-65 ("Dilithium3") spends: scriptSig layout, signed message, sign and verify.

use crate::address::{ADDRESS_HASH_LEN, address_hash};
use crate::hash::{Hash256, Sha3Writer, sha3_256};
use crate::reader::Reader;
use crate::tx::Transaction;
use fips204::ml_dsa_65;
use fips204::traits::{KeyGen, SerDes, Signer, Verifier};
use thiserror::Error;

/// ML-DSA-65 public key size.
pub const PUBLIC_KEY_LEN: usize = ml_dsa_65::PK_LEN;
/// ML-DSA-65 signature size.
pub const SIGNATURE_LEN: usize = ml_dsa_65::SIG_LEN;
/// `[u16 sig_len][sig][u16 pk_len][pk]`: 2 + 3309 + 2 + 1952 bytes.
pub const SCRIPT_SIG_LEN: usize = 2 + SIGNATURE_LEN + 2 + PUBLIC_KEY_LEN;
/// FIPS 204 context string: empty, as the C++ code signs.
const CONTEXT: &[u8] = b"";

/// Why a spend's signature is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SigError {
    /// The input index is not in the transaction.
    #[error("input {index} out of range ({count} inputs)")]
    InputOutOfRange {
        /// Requested index.
        index: usize,
        /// Inputs in the transaction.
        count: usize,
    },
    /// The scriptSig is not 5265 bytes.
    #[error("scriptSig is {0} bytes, expected {SCRIPT_SIG_LEN}")]
    BadScriptSigLength(usize),
    /// The signature length field is not 3309.
    #[error("signature length field is {0}, expected {SIGNATURE_LEN}")]
    BadSignatureLength(u16),
    /// The public key length field is not 1952.
    #[error("public key length field is {0}, expected {PUBLIC_KEY_LEN}")]
    BadPublicKeyLength(u16),
    /// The scriptPubKey is not a 20-byte hash.
    #[error("scriptPubKey is {0} bytes, expected a 20-byte hash")]
    BadScriptPubKey(usize),
    /// The public key does not hash to the scriptPubKey.
    #[error("public key does not match the scriptPubKey hash")]
    PubKeyHashMismatch,
    /// The public key bytes are not a valid ML-DSA-65 key.
    #[error("malformed ML-DSA-65 public key")]
    MalformedPublicKey,
    /// The signature does not verify.
    #[error("signature verification failed")]
    BadSignature,
    /// Signing failed (rejection sampling gave up; does not happen in practice).
    #[error("signing failed: {0}")]
    SigningFailed(&'static str),
}

/// A parsed scriptSig.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptSig {
    /// The 3309-byte signature.
    pub signature: Vec<u8>,
    /// The 1952-byte public key.
    pub public_key: Vec<u8>,
}

impl ScriptSig {
    /// Parses the fixed layout.
    pub fn decode(bytes: &[u8]) -> Result<Self, SigError> {
        if bytes.len() != SCRIPT_SIG_LEN {
            return Err(SigError::BadScriptSigLength(bytes.len()));
        }
        let mut r = Reader::new(bytes);
        let bad_len = |_| SigError::BadScriptSigLength(bytes.len());
        let sig_len = r.u16_le().map_err(bad_len)?;
        if usize::from(sig_len) != SIGNATURE_LEN {
            return Err(SigError::BadSignatureLength(sig_len));
        }
        let signature = r.take(SIGNATURE_LEN).map_err(bad_len)?.to_vec();
        let pk_len = r.u16_le().map_err(bad_len)?;
        if usize::from(pk_len) != PUBLIC_KEY_LEN {
            return Err(SigError::BadPublicKeyLength(pk_len));
        }
        let public_key = r.take(PUBLIC_KEY_LEN).map_err(bad_len)?.to_vec();
        Ok(ScriptSig {
            signature,
            public_key,
        })
    }

    /// The fixed layout.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.signature.len() + self.public_key.len());
        out.extend_from_slice(&(self.signature.len() as u16).to_le_bytes());
        out.extend_from_slice(&self.signature);
        out.extend_from_slice(&(self.public_key.len() as u16).to_le_bytes());
        out.extend_from_slice(&self.public_key);
        out
    }
}

/// The 32-byte message an input's signature covers:
/// `SHA3-256( SHA3-256(tx with every scriptSig emptied) ‖ u32le(input index) ‖ u32le(tx version) )`.
pub fn signature_message(tx: &Transaction, index: usize) -> Result<Hash256, SigError> {
    if index >= tx.inputs.len() {
        return Err(SigError::InputOutOfRange {
            index,
            count: tx.inputs.len(),
        });
    }
    let mut stripped = tx.clone();
    for input in &mut stripped.inputs {
        input.script_sig.clear();
    }
    let mut w = Sha3Writer::new();
    w.update(&sha3_256(&stripped.encode()).0);
    w.update(&(index as u32).to_le_bytes());
    w.update(&tx.version.to_le_bytes());
    Ok(w.finish())
}

/// An ML-DSA-65 key pair derived from a 32-byte seed (FIPS 204 `KeyGen_internal`).
#[derive(Clone)]
pub struct KeyPair {
    public: Vec<u8>,
    private: ml_dsa_65::PrivateKey,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair").finish_non_exhaustive()
    }
}

impl KeyPair {
    /// Deterministic key generation from `seed`.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let (pk, sk) = ml_dsa_65::KG::keygen_from_seed(seed);
        KeyPair {
            public: pk.into_bytes().to_vec(),
            private: sk,
        }
    }

    /// The 1952-byte public key.
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// The scriptPubKey paying to this key: its 20-byte address hash.
    pub fn script_pubkey(&self) -> Vec<u8> {
        address_hash(&self.public).to_vec()
    }

    /// Deterministic ML-DSA signature (FIPS 204 with rnd = 0³²) of `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SigError> {
        self.private
            .try_sign_with_seed(&[0u8; 32], message, CONTEXT)
            .map(|s| s.to_vec())
            .map_err(SigError::SigningFailed)
    }
}

/// Verifies an ML-DSA-65 signature; any malformed input is `Err`, never a panic.
pub fn verify_signature(
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), SigError> {
    let pk: [u8; PUBLIC_KEY_LEN] = public_key.try_into().map_err(|_| {
        SigError::BadPublicKeyLength(public_key.len().min(u16::MAX as usize) as u16)
    })?;
    let sig: [u8; SIGNATURE_LEN] = signature
        .try_into()
        .map_err(|_| SigError::BadSignatureLength(signature.len().min(u16::MAX as usize) as u16))?;
    let pk = ml_dsa_65::PublicKey::try_from_bytes(pk).map_err(|_| SigError::MalformedPublicKey)?;
    if pk.verify(message, &sig, CONTEXT) {
        Ok(())
    } else {
        Err(SigError::BadSignature)
    }
}

/// Signs input `index` of `tx` with `key`, filling its scriptSig.
pub fn sign_input(tx: &mut Transaction, index: usize, key: &KeyPair) -> Result<(), SigError> {
    let message = signature_message(tx, index)?;
    let signature = key.sign(&message.0)?;
    tx.inputs[index].script_sig = ScriptSig {
        signature,
        public_key: key.public_key().to_vec(),
    }
    .encode();
    Ok(())
}

/// Verifies input `index` of `tx` against the scriptPubKey of the output it
/// spends: layout, public-key hash, then the signature.
pub fn verify_input(tx: &Transaction, index: usize, script_pubkey: &[u8]) -> Result<(), SigError> {
    let message = signature_message(tx, index)?;
    let script_sig = ScriptSig::decode(&tx.inputs[index].script_sig)?;
    if script_pubkey.len() != ADDRESS_HASH_LEN {
        return Err(SigError::BadScriptPubKey(script_pubkey.len()));
    }
    if address_hash(&script_sig.public_key)[..] != *script_pubkey {
        return Err(SigError::PubKeyHashMismatch);
    }
    verify_signature(&script_sig.public_key, &message.0, &script_sig.signature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    #[test]
    fn sizes_match_the_spec() {
        assert_eq!(PUBLIC_KEY_LEN, 1952);
        assert_eq!(SIGNATURE_LEN, 3309);
        assert_eq!(SCRIPT_SIG_LEN, 5265);
    }

    #[test]
    fn sign_verify_and_tamper() {
        let key = KeyPair::from_seed(&[7; 32]);
        let mut tx = fixture::sample_spend();
        sign_input(&mut tx, 0, &key).unwrap();
        assert_eq!(tx.inputs[0].script_sig.len(), SCRIPT_SIG_LEN);
        let spk = key.script_pubkey();
        assert_eq!(verify_input(&tx, 0, &spk), Ok(()));

        let mut changed = tx.clone();
        changed.outputs[0].value += 1;
        assert_eq!(verify_input(&changed, 0, &spk), Err(SigError::BadSignature));

        let mut flipped = tx.clone();
        flipped.inputs[0].script_sig[100] ^= 1;
        assert_eq!(verify_input(&flipped, 0, &spk), Err(SigError::BadSignature));

        let other = KeyPair::from_seed(&[8; 32]);
        assert_eq!(
            verify_input(&tx, 0, &other.script_pubkey()),
            Err(SigError::PubKeyHashMismatch)
        );
    }

    #[test]
    fn message_ignores_script_sigs_but_binds_index_and_version() {
        let mut tx = fixture::sample_spend();
        tx.inputs.push(tx.inputs[0].clone());
        tx.inputs[1].prevout.vout += 1;
        let m0 = signature_message(&tx, 0).unwrap();
        let m1 = signature_message(&tx, 1).unwrap();
        assert_ne!(m0, m1);
        tx.inputs[0].script_sig = vec![1, 2, 3];
        assert_eq!(signature_message(&tx, 0).unwrap(), m0);
        tx.version += 1;
        assert_ne!(signature_message(&tx, 0).unwrap(), m0);
        assert!(matches!(
            signature_message(&tx, 2),
            Err(SigError::InputOutOfRange { .. })
        ));
    }

    #[test]
    fn garbage_is_rejected_without_panic() {
        assert_eq!(
            ScriptSig::decode(&[0; 10]),
            Err(SigError::BadScriptSigLength(10))
        );
        let mut bytes = vec![0u8; SCRIPT_SIG_LEN];
        assert_eq!(
            ScriptSig::decode(&bytes),
            Err(SigError::BadSignatureLength(0))
        );
        bytes[..2].copy_from_slice(&(SIGNATURE_LEN as u16).to_le_bytes());
        assert_eq!(
            ScriptSig::decode(&bytes),
            Err(SigError::BadPublicKeyLength(0))
        );
        assert!(verify_signature(&[0xff; PUBLIC_KEY_LEN], b"m", &[0xff; SIGNATURE_LEN]).is_err());
    }
}
