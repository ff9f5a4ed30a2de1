//! Merkle root over txids, with Bitcoin's CVE-2012-2459 mutation detection.

use crate::hash::{Hash256, Sha3Writer};

/// A merkle root and whether the tree was mutated: some level paired a hash
/// with an identical neighbour, which is what duplicating the last
/// transaction(s) of a block produces. Such a tree has the same root as the
/// honest one, so a block with `mutated` set must be rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MerkleRoot {
    /// The root (all zero for an empty list).
    pub root: Hash256,
    /// The CVE-2012-2459 flag.
    pub mutated: bool,
}

/// SHA3-256 of the 64-byte concatenation of two child hashes.
pub fn hash_pair(left: &Hash256, right: &Hash256) -> Hash256 {
    let mut w = Sha3Writer::new();
    w.update(&left.0);
    w.update(&right.0);
    w.finish()
}

/// Computes the root of `leaves`, duplicating the last hash of odd levels.
pub fn merkle_root(leaves: &[Hash256]) -> MerkleRoot {
    if leaves.is_empty() {
        return MerkleRoot {
            root: Hash256::ZERO,
            mutated: false,
        };
    }
    let mut level = leaves.to_vec();
    let mut mutated = false;
    while level.len() > 1 {
        for pair in level.chunks_exact(2) {
            if pair[0] == pair[1] {
                mutated = true;
            }
        }
        if !level.len().is_multiple_of(2) {
            let last = level[level.len() - 1];
            level.push(last);
        }
        level = level
            .chunks_exact(2)
            .map(|pair| hash_pair(&pair[0], &pair[1]))
            .collect();
    }
    MerkleRoot {
        root: level[0],
        mutated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::sha3_256;
    use proptest::prelude::*;

    fn leaf(i: u8) -> Hash256 {
        sha3_256(&[i])
    }

    #[test]
    fn single_leaf_is_its_own_root() {
        assert_eq!(
            merkle_root(&[leaf(1)]),
            MerkleRoot {
                root: leaf(1),
                mutated: false
            }
        );
    }

    #[test]
    fn three_leaves_duplicate_the_last() {
        let (a, b, c) = (leaf(1), leaf(2), leaf(3));
        let expected = hash_pair(&hash_pair(&a, &b), &hash_pair(&c, &c));
        assert_eq!(merkle_root(&[a, b, c]).root, expected);
        assert!(!merkle_root(&[a, b, c]).mutated);
    }

    #[test]
    fn cve_2012_2459_duplicate_last_leaf_is_flagged() {
        let honest = [leaf(1), leaf(2), leaf(3)];
        let mutated = [leaf(1), leaf(2), leaf(3), leaf(3)];
        let h = merkle_root(&honest);
        let m = merkle_root(&mutated);
        assert_eq!(h.root, m.root);
        assert!(!h.mutated);
        assert!(m.mutated);
    }

    proptest! {
        #[test]
        fn duplicating_an_odd_tail_keeps_root_and_flags(seeds in proptest::collection::vec(any::<u8>(), 1..20)) {
            let mut leaves: Vec<Hash256> = seeds.iter().enumerate().map(|(i, s)| sha3_256(&[i as u8, *s])).collect();
            if leaves.len().is_multiple_of(2) { leaves.pop(); }
            if leaves.len() > 1 {
                let honest = merkle_root(&leaves);
                prop_assert!(!honest.mutated);
                leaves.push(*leaves.last().unwrap());
                let m = merkle_root(&leaves);
                prop_assert_eq!(m.root, honest.root);
                prop_assert!(m.mutated);
            }
        }
    }
}
