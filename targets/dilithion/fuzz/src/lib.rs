//! Helpers shared by the fuzz targets: input splitting and independent reference implementations.

use dilithion_core::Hash256;
use tiny_keccak::{Hasher, Sha3};

/// Splits fuzz input into fixed-width fields; reading past the end yields zeros
/// so every input maps to some value and the fuzzer never wastes an execution.
#[derive(Debug)]
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// Wraps the raw input.
    pub fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    /// Takes up to `n` bytes.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, tail) = self.data.split_at(n.min(self.data.len()));
        self.data = tail;
        head
    }

    /// Takes exactly `N` bytes, zero-padded.
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let head = self.take(N);
        out[..head.len()].copy_from_slice(head);
        out
    }

    /// One byte.
    pub fn u8(&mut self) -> u8 {
        self.array::<1>()[0]
    }

    /// Little-endian u16.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.array())
    }

    /// Little-endian u32.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    /// Little-endian i64.
    pub fn i64(&mut self) -> i64 {
        i64::from_le_bytes(self.array())
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        self.take(self.data.len())
    }
}

/// SHA3-256 by a second implementation (tiny-keccak), the reference for the suite's helpers.
pub fn ref_sha3(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha3::v256();
    for p in parts {
        h.update(p);
    }
    let mut out = [0u8; 32];
    h.finalize(&mut out);
    out
}

/// Double SHA3-256 by the reference implementation.
pub fn ref_double_sha3(data: &[u8]) -> [u8; 32] {
    ref_sha3(&[&ref_sha3(&[data])])
}

/// Reference merkle root written as the textbook recursion: returns the root
/// and whether any level paired two identical hashes (CVE-2012-2459).
pub fn naive_merkle(leaves: &[Hash256]) -> (Hash256, bool) {
    match leaves.len() {
        0 => (Hash256::ZERO, false),
        1 => (leaves[0], false),
        n => {
            let mut parents = Vec::with_capacity(n.div_ceil(2));
            let mut mutated = false;
            let mut i = 0;
            while i < n {
                let left = leaves[i];
                let right = if i + 1 < n { leaves[i + 1] } else { leaves[i] };
                if i + 1 < n && left == right {
                    mutated = true;
                }
                parents.push(Hash256(ref_sha3(&[&left.0, &right.0])));
                i += 2;
            }
            let (root, above) = naive_merkle(&parents);
            (root, mutated || above)
        }
    }
}
