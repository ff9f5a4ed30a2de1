//! Crashing inputs of the planted bugs of the crash fixtures (Rust `six_bugs`, C
//! `crash_heap` and `crash_memory`), generated from a seed: for tests that need hundreds
//! of distinct crashes of known bugs, and for the triage benchmark.

/// A planted bug: its name, the target, and a generator of crashing inputs.
pub struct Bug {
    pub name: &'static str,
    pub target: &'static str,
    pub make: fn(&mut Rng) -> Vec<u8>,
}

/// xorshift64: the same inputs on every run from the same seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn byte_in(&mut self, lo: u8, hi: u8) -> u8 {
        lo + (self.next_u64() % (u64::from(hi - lo) + 1)) as u8
    }
    /// Up to `max` bytes, each at least `lo`.
    pub fn tail(&mut self, max: usize, lo: u8) -> Vec<u8> {
        let n = (self.next_u64() % (max as u64 + 1)) as usize;
        (0..n).map(|_| self.byte_in(lo, 255)).collect()
    }
}

fn with(prefix: &[u8], rest: Vec<u8>) -> Vec<u8> {
    [prefix, &rest].concat()
}

/// Every planted bug of the crash fixtures, with a generator of distinct inputs for each.
pub fn bugs() -> Vec<Bug> {
    vec![
        Bug {
            name: "index",
            target: "six_bugs",
            make: |r| with(&[b'A', r.byte_in(16, 255)], r.tail(12, 0)),
        },
        Bug {
            name: "add-overflow",
            target: "six_bugs",
            make: |r| {
                let a = r.byte_in(129, 255);
                with(
                    &[
                        b'B',
                        a,
                        r.byte_in(256u16.saturating_sub(u16::from(a)) as u8, 255),
                    ],
                    r.tail(12, 0),
                )
            },
        },
        Bug {
            name: "unwrap-none",
            target: "six_bugs",
            make: |r| with(b"C", r.tail(16, 1)),
        },
        Bug {
            name: "assert-budget",
            target: "six_bugs",
            make: |r| with(&[b'D', r.byte_in(201, 255)], r.tail(12, 0)),
        },
        Bug {
            name: "stack-overflow",
            target: "six_bugs",
            make: |r| with(&[b'E', r.byte_in(0, 127) * 2 + 1], r.tail(12, 0)),
        },
        Bug {
            name: "assert-version",
            target: "six_bugs",
            make: |r| with(&[b'F', 0], r.tail(12, 0)),
        },
        Bug {
            name: "assert-flags",
            target: "six_bugs",
            make: |r| {
                with(
                    &[b'G', r.byte_in(1, 255), r.byte_in(0x80, 0xff)],
                    r.tail(12, 0),
                )
            },
        },
        Bug {
            name: "width-via-rows",
            target: "six_bugs",
            make: |r| with(&[b'H', 0], r.tail(12, 0)),
        },
        Bug {
            name: "width-via-columns",
            target: "six_bugs",
            make: |r| with(&[b'I', 0], r.tail(12, 0)),
        },
        Bug {
            name: "c-heap-read",
            target: "crash_heap",
            make: |r| with(&[b'B', b'U', b'G', r.byte_in(0, 255)], r.tail(12, 0)),
        },
        Bug {
            name: "c-heap-write",
            target: "crash_memory",
            make: |r| {
                with(
                    &[b'W', b'R', r.byte_in(8, 255), r.byte_in(0, 255)],
                    r.tail(12, 0),
                )
            },
        },
        Bug {
            name: "c-use-after-free",
            target: "crash_memory",
            make: |r| with(&[b'U', b'F', r.byte_in(0, 127) * 2 + 1], r.tail(12, 0)),
        },
    ]
}
