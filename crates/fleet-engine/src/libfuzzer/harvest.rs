//! Constants harvested from a target binary's comparisons, for its dictionary.
//!
//! libFuzzer learns the operands of 4- and 8-byte comparisons while it runs (its table
//! of recent compares, printed as the recommended dictionary), but never those of 2-byte
//! ones, and only of comparisons its inputs already reach. A sanitizer-coverage build
//! calls `__sanitizer_cov_trace_const_cmp{2,4,8}(constant, value)` before every
//! comparison with a constant, and on x86-64 the constant is loaded into the first
//! argument register right before the call: `mov edi, imm32` (`BF imm32`), `mov rdi,
//! simm32` (`48 C7 C7 imm32`) or `movabs rdi, imm64` (`48 BF imm64`). Reading those
//! immediates out of the code gives every constant the target compares with — a magic
//! like `OK` behind a checksum included — before any input reaches it, as AFL++'s
//! compile-time dictionaries do.
//!
//! This module is pure: [`cmp_constants`] scans code bytes; finding the code and the
//! functions' addresses in the binary is the caller's.

/// The comparison callbacks whose first argument is a constant, with its width in bytes.
/// One-byte constants are left out: a byte is what every mutation tries anyway.
pub const CONST_CMP_FUNCTIONS: [(&str, usize); 3] = [
    ("__sanitizer_cov_trace_const_cmp2", 2),
    ("__sanitizer_cov_trace_const_cmp4", 4),
    ("__sanitizer_cov_trace_const_cmp8", 8),
];

/// At most this many constants are kept, in the order the code has them.
pub const MAX_CONSTANTS: usize = 256;

/// How far before a call the last write to its first argument may end (the second
/// argument's set-up sits between), and how far before that a register copied into it
/// may have been loaded.
const ARG_WINDOW: usize = 16;
const REG_WINDOW: usize = 32;
/// `rdi`, the first argument register, as x86-64 encodes it.
const RDI: u8 = 7;

/// The constant in `rdi` at a call at `call`: loaded into it right before, or into a
/// register copied into it (`movabs r12, imm64; mov rdi, r12`).
fn loaded_before(text: &[u8], call: usize) -> Option<u64> {
    let from = call.saturating_sub(ARG_WINDOW);
    // The write to rdi closest to the call: an immediate, or a copy of a register.
    let copy = (from..call).rev().find_map(|j| {
        let after_rex = j
            .checked_sub(1)
            .is_some_and(|k| (0x40..=0x4f).contains(&text[k]));
        copy_into_rdi(&text[j..call], after_rex).map(|r| (j, r))
    });
    let load = immediate_into(text, RDI, from, call);
    match (load, copy) {
        (Some((at, v)), copy) if copy.is_none_or(|(j, _)| at > j) => Some(v),
        (_, Some((j, src))) => {
            immediate_into(text, src, j.saturating_sub(REG_WINDOW), j).map(|(_, v)| v)
        }
        _ => None,
    }
}

/// `mov rdi, src` / `mov edi, src32` at the start of `b` (`after_rex`: the byte before
/// is a REX prefix, so an unprefixed match is the tail of another instruction): the
/// source register.
fn copy_into_rdi(b: &[u8], after_rex: bool) -> Option<u8> {
    let (rex_r, modrm) = match b {
        [0x48, 0x89, m, ..] => (0, *m),
        [0x4c, 0x89, m, ..] => (8, *m),
        [0x89, m, ..] if !after_rex => (0, *m),
        [0x44, 0x89, m, ..] => (8, *m),
        _ => return None,
    };
    (modrm & 0xc7 == 0xc7).then_some(rex_r + ((modrm >> 3) & 7))
}

/// The immediate last written to register `reg` by an instruction ending at or before
/// `end` and starting at or after `from`, with where it starts: `movabs reg, imm64`,
/// `mov reg32, imm32`, `mov reg, simm32`, or `xor reg32, reg32` (zero).
fn immediate_into(text: &[u8], reg: u8, from: usize, end: usize) -> Option<(usize, u64)> {
    let low = reg & 7;
    let high = reg >> 3;
    (from..end).rev().find_map(|j| {
        let b = &text[j..end];
        let before = j.checked_sub(1).map(|k| text[k]);
        let rex_w = 0x48 | high;
        let value = match b {
            [r, op, imm @ ..] if *r == rex_w && *op == 0xb8 + low && imm.len() >= 8 => {
                u64::from_le_bytes(imm[..8].try_into().ok()?)
            }
            [r, 0xc7, m, imm @ ..] if *r == rex_w && *m == 0xc0 + low && imm.len() >= 4 => {
                i64::from(i32::from_le_bytes(imm[..4].try_into().ok()?)) as u64
            }
            [0x41, op, imm @ ..] if high == 1 && *op == 0xb8 + low && imm.len() >= 4 => {
                u64::from(u32::from_le_bytes(imm[..4].try_into().ok()?))
            }
            // Unprefixed: not the tail of a REX-prefixed instruction.
            [op, imm @ ..]
                if high == 0
                    && *op == 0xb8 + low
                    && imm.len() >= 4
                    && !before.is_some_and(|p| (0x40..=0x4f).contains(&p)) =>
            {
                u64::from(u32::from_le_bytes(imm[..4].try_into().ok()?))
            }
            [x, m, ..]
                if high == 0 && (*x == 0x31 || *x == 0x33) && *m == 0xc0 | low << 3 | low =>
            {
                0
            }
            [0x45, x, m, ..]
                if high == 1 && (*x == 0x31 || *x == 0x33) && *m == 0xc0 | low << 3 | low =>
            {
                0
            }
            _ => return None,
        };
        Some((j, value))
    })
}

/// The constants compared with in x86-64 code `text` loaded at address `text_addr`,
/// where `functions` are the const-comparison callbacks' addresses with their widths:
/// each as the bytes an input holds it in (little-endian, the callback's width),
/// without repeats and without values that are no better than a random guess or are
/// numbers rather than magic values (all zero or all `0xff` bytes, 2-byte values with a
/// zero byte, wider ones under 65536 or over -65536, and wider ones more than half of
/// whose bytes are zero: sizes, flags and powers of two such as `1 << 16`).
pub fn cmp_constants(text: &[u8], text_addr: u64, functions: &[(u64, usize)]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut i = 0;
    while i + 5 <= text.len() && out.len() < MAX_CONSTANTS {
        if text[i] != 0xe8 {
            i += 1;
            continue;
        }
        let rel = i32::from_le_bytes([text[i + 1], text[i + 2], text[i + 3], text[i + 4]]);
        let next = text_addr.wrapping_add(i as u64 + 5);
        let target = next.wrapping_add(i64::from(rel) as u64);
        if let Some(&(_, width)) = functions.iter().find(|(addr, _)| *addr == target)
            && let Some(value) = loaded_before(text, i)
            && let Some(bytes) = worth_keeping(value, width)
            && !out.contains(&bytes)
        {
            out.push(bytes);
        }
        i += 1;
    }
    out
}

/// `value` as `width` little-endian bytes, if it is worth a dictionary entry.
fn worth_keeping(value: u64, width: usize) -> Option<Vec<u8>> {
    let bytes = value.to_le_bytes()[..width].to_vec();
    let trivial = bytes.iter().all(|&b| b == 0) || bytes.iter().all(|&b| b == 0xff);
    let number = match width {
        2 => bytes.contains(&0),
        _ => {
            let mask = u64::MAX >> (64 - 8 * width as u32);
            let v = value & mask;
            // Small, small negative (two's complement at the width), or mostly zero.
            v < 0x10000
                || v > mask - 0x10000
                || 2 * bytes.iter().filter(|&&b| b == 0).count() > width
        }
    };
    (!trivial && !number).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CMP2: u64 = 0x2d_5a80;
    const CMP4: u64 = 0x2d_5870;
    const CMP8: u64 = 0x2d_5600;
    const FUNCTIONS: [(u64, usize); 3] = [(CMP2, 2), (CMP4, 4), (CMP8, 8)];

    /// A call at `at` (address `base + at`) to `target`.
    fn call(base: u64, at: usize, target: u64) -> Vec<u8> {
        let rel = target.wrapping_sub(base + at as u64 + 5) as i64 as i32;
        let mut v = vec![0xe8];
        v.extend_from_slice(&rel.to_le_bytes());
        v
    }

    /// The code `plant_checksum`'s libFuzzer build has for `payload[..2] == b"OK"`
    /// (objdump: `mov $0x4b4f,%edi; mov %ebx,%esi; call __sanitizer_cov_trace_const_cmp2`).
    #[test]
    fn a_two_byte_magic_is_read_from_the_call_that_traces_it() {
        let base = 0x1b_a0ca;
        let mut text = vec![0xbf, 0x4f, 0x4b, 0x00, 0x00, 0x89, 0xde];
        let at = text.len();
        text.extend(call(base, at, CMP2));
        assert_eq!(cmp_constants(&text, base, &FUNCTIONS), vec![b"OK".to_vec()]);
    }

    #[test]
    fn four_and_eight_byte_constants_in_each_load_form() {
        let base = 0x1000;
        let mut text = Vec::new();
        // mov edi, 0x46555a5a ("ZZUF" little-endian); call cmp4
        text.extend([0xbf, 0x5a, 0x5a, 0x55, 0x46]);
        let at = text.len();
        text.extend(call(base, at, CMP4));
        // movabs rdi, 0x1122334455667788; mov rsi, rax; call cmp8
        text.extend([0x48, 0xbf, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);
        text.extend([0x48, 0x89, 0xc6]);
        let at = text.len();
        text.extend(call(base, at, CMP8));
        // mov rdi, -0x12345678 (sign-extended); call cmp8
        text.extend([0x48, 0xc7, 0xc7, 0x88, 0xa9, 0xcb, 0xed]);
        let at = text.len();
        text.extend(call(base, at, CMP8));
        // mov rdi, -2 (sign-extended): a small number, not a magic; call cmp8
        text.extend([0x48, 0xc7, 0xc7, 0xfe, 0xff, 0xff, 0xff]);
        let at = text.len();
        text.extend(call(base, at, CMP8));
        assert_eq!(
            cmp_constants(&text, base, &FUNCTIONS),
            vec![
                b"ZZUF".to_vec(),
                0x1122334455667788u64.to_le_bytes().to_vec(),
                (-0x1234_5678_i64).to_le_bytes().to_vec(),
            ]
        );
    }

    /// `plant_magic`'s code: the magic is loaded into r12, copied into rdi, then traced;
    /// a zeroed rdi (`xor edi, edi`) is a zero, never a byte pattern further back.
    #[test]
    fn a_constant_copied_into_the_argument_and_a_zeroed_one() {
        let base = 0x1b_89ff;
        // movabs r12, 0x1badb002deadbeef; mov rdi, r12; mov rsi, r15; call cmp8
        let mut text = vec![0x49, 0xbc, 0xef, 0xbe, 0xad, 0xde, 0x02, 0xb0, 0xad, 0x1b];
        text.extend([0x4c, 0x89, 0xe7, 0x4c, 0x89, 0xfe]);
        let at = text.len();
        text.extend(call(base, at, CMP8));
        // mov ecx, 0x45e0360e (a store's operand) ...; xor edi, edi; mov rsi, r12; call
        text.extend([0xbf, 0x0e, 0x36, 0xe0, 0x45, 0x31, 0xff, 0x4c, 0x89, 0xe6]);
        let at = text.len();
        text.extend(call(base, at, CMP8));
        assert_eq!(
            cmp_constants(&text, base, &FUNCTIONS),
            vec![0x1bad_b002_dead_beef_u64.to_le_bytes().to_vec()]
        );
    }

    #[test]
    fn small_trivial_repeated_and_unrelated_values_are_left_out() {
        let base = 0x4000;
        let mut text = Vec::new();
        for (load, target) in [
            (vec![0xbf, 0x0a, 0x00, 0x00, 0x00], CMP4), // 10: a count, not a magic
            (vec![0xbf, 0x00, 0x01, 0x00, 0x00], CMP2), // 0x0100: a zero byte
            (vec![0xbf, 0xff, 0xff, 0xff, 0xff], CMP4), // all 0xff
            (vec![0xbf, 0x4f, 0x4b, 0x00, 0x00], CMP2), // "OK"
            (vec![0xbf, 0x4f, 0x4b, 0x00, 0x00], CMP2), // "OK" again
            (vec![0xbf, 0x78, 0x56, 0x34, 0x12], 0xdead), // a call to something else
            (vec![0xbf, 0x00, 0x00, 0x01, 0x00], CMP4), // 1 << 16: mostly zero bytes
            (vec![0xbf, 0xf0, 0xff, 0xff, 0xff], CMP4), // -16 at 4 bytes: a number
            (vec![0xbf, 0x00, 0xe1, 0xf5, 0x05], CMP4), // 100,000,000: one zero byte, kept
        ] {
            text.extend(load);
            let at = text.len();
            text.extend(call(base, at, target));
        }
        // A call with no constant load before it.
        text.extend([0x90; 30]);
        let at = text.len();
        text.extend(call(base, at, CMP4));
        assert_eq!(
            cmp_constants(&text, base, &FUNCTIONS),
            vec![b"OK".to_vec(), vec![0x00, 0xe1, 0xf5, 0x05]]
        );
    }
}
