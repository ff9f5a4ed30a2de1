//! Merkle root against a naive recursive reference; the duplicate-last-leaf mutation is flagged.
//! Input: first byte selects the leaf source (odd: each byte is a small leaf id, so
//! duplicates are common; even: 32-byte chunks are leaves).
#![no_main]

use dilithion_core::Hash256;
use dilithion_core::hash::sha3_256;
use dilithion_core::merkle::merkle_root;
use dilithion_fuzz::naive_merkle;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let leaves: Vec<Hash256> = if mode & 1 == 1 {
        rest.iter().take(512).map(|b| sha3_256(&[*b])).collect()
    } else {
        rest.chunks_exact(32)
            .take(512)
            .map(|c| Hash256(c.try_into().unwrap()))
            .collect()
    };
    let got = merkle_root(&leaves);
    let (root, mutated) = naive_merkle(&leaves);
    assert_eq!(got.root, root, "root differs from the naive reference");
    assert_eq!(
        got.mutated, mutated,
        "mutation flag differs from the naive reference"
    );

    // Duplicating the last leaf of an odd list (n > 1) keeps the root and is flagged.
    if leaves.len() > 1 && !leaves.len().is_multiple_of(2) {
        let mut dup = leaves.clone();
        dup.push(leaves[leaves.len() - 1]);
        let m = merkle_root(&dup);
        assert_eq!(
            m.root, got.root,
            "CVE-2012-2459: duplicated tail changed the root"
        );
        assert!(m.mutated, "CVE-2012-2459: duplicated tail not flagged");
    }
});
