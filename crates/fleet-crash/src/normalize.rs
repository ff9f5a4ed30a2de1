//! Normalization that makes reports from different inputs, runs, nodes and rebuilds comparable: function names, panic messages and source paths.

use crate::report::Frame;
use crate::report::has_source_extension;

/// Longest normalized message kept in a signature, in characters.
pub const MAX_MESSAGE_CHARS: usize = 160;

/// A function name without what changes between builds and inputs:
/// legacy symbol hashes (`::h0123456789abcdef`), `+0x…` offsets, generic
/// arguments (`Vec<T>`, `::<u8>` — monomorphizations), C++ parameter
/// lists, closure and shim numbering (`{closure#3}` → `{closure}`), and
/// the `_` module of `const _: () = { … }` (libfuzzer-sys's macro). Paths
/// and `<impl X for Y>` / `<T as Trait>` qualifications are kept.
pub fn clean_function(name: &str) -> String {
    let mut s = name.trim();
    if let Some(i) = s.rfind("+0x")
        && s[i + 3..].bytes().all(|b| b.is_ascii_hexdigit())
    {
        s = &s[..i];
    }
    s = strip_legacy_hash(s);
    s = strip_cpp_params(s);
    if !s.contains(['<', '{']) && !s.contains("::_::") {
        return s.to_owned();
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    clean_into(&chars, &mut out);
    while let Some(i) = out.find("::_::") {
        out.replace_range(i..i + 5, "::");
    }
    out
}

/// The last path segment of a cleaned name: `six_bugs::lookup` and the
/// inlined frame's `lookup` both give `lookup`; `<Foo as Bar>::baz` gives
/// `baz`; closures give `{closure}`.
pub fn last_segment(name: &str) -> String {
    let cleaned = clean_function(name);
    let mut depth = 0i32;
    let bytes = cleaned.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'<' => depth += 1,
            b'>' if i > 0 && bytes[i - 1] != b'-' => depth -= 1,
            b':' if depth == 0 && bytes.get(i + 1) == Some(&b':') => {
                start = i + 2;
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    let last = &cleaned[start.min(cleaned.len())..];
    if last.is_empty() {
        cleaned
    } else {
        last.to_owned()
    }
}

/// A frame's identity in a signature: its function's last segment, and
/// the base name of its source file when symbolized (`lookup@six_bugs.rs`).
/// The file tells apart equal names in different files; no line numbers,
/// no directories, no addresses: they change with every edit, checkout
/// directory and build.
pub fn frame_key(frame: &Frame) -> Option<String> {
    let function = frame.function.as_deref()?;
    let name = last_segment(function);
    match frame.file.as_deref().filter(|f| has_source_extension(f)) {
        Some(file) => Some(format!(
            "{name}@{}",
            file.rsplit('/').next().unwrap_or(file)
        )),
        None => Some(name),
    }
}

/// A source path as it reads on any node: the Rust source behind
/// `/rustc/<hash>/` becomes `library/…`, crates from the registry
/// `<crate>-<version>/…`, git checkouts the path inside the checkout;
/// relative paths (a workspace crate's, as panics print them) are kept;
/// other absolute paths keep their last two components (the checkout
/// directory differs between nodes).
pub fn normalize_path(path: &str) -> String {
    let path = path.strip_prefix("./").unwrap_or(path);
    if let Some(rest) = path.strip_prefix("/rustc/") {
        return rest.split_once('/').map_or(rest, |(_, r)| r).to_owned();
    }
    for marker in ["/registry/src/", "/git/checkouts/"] {
        if let Some((_, rest)) = path.split_once(marker) {
            // Skip the index (or checkout) directory, and a git checkout's revision.
            let skip = if marker.contains("git") { 2 } else { 1 };
            let mut parts = rest.splitn(skip + 1, '/');
            let tail = parts.nth(skip).unwrap_or(rest);
            return tail.to_owned();
        }
    }
    if !path.starts_with('/') {
        return path.to_owned();
    }
    let parts: Vec<&str> = path.rsplitn(3, '/').collect();
    match parts.as_slice() {
        [name, dir, _] => format!("{dir}/{name}"),
        _ => path.trim_start_matches('/').to_owned(),
    }
}

/// A panic (or UBSan) message with the parts that vary between inputs
/// replaced, so one bug has one message: numbers become `N`, hex
/// addresses `0x?`, long hex strings `H`, double-quoted strings `"…"`,
/// runs of numbers (`[N, N, N]`) one `N`; only the first line is kept
/// (`assert_eq!` prints the values on the next lines), whitespace is
/// collapsed and the result cut to [`MAX_MESSAGE_CHARS`].
///
/// `assertion failed: COND` is kept verbatim: the condition is source
/// text, not data, and tells two asserts apart. The `Err` payload after
/// `called \`Result::unwrap()\` on an \`Err\` value` is dropped: it is data.
pub fn normalize_message(message: &str) -> String {
    let first = message
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if first.starts_with("assertion failed: ") {
        return truncate(&collapse_whitespace(first));
    }
    const DATA_TAILS: &[&str] = &[
        "called `Result::unwrap()` on an `Err` value",
        "called `Result::unwrap_err()` on an `Ok` value",
    ];
    let first = DATA_TAILS
        .iter()
        .find(|p| first.starts_with(*p))
        .map_or(first, |p| &first[..p.len()]);
    let replaced = replace_data(first);
    let mut collapsed = collapse_whitespace(&replaced);
    for run in ["N, N", "N,N", "N N"] {
        while let Some(i) = collapsed.find(run) {
            collapsed.replace_range(i..i + run.len(), "N");
        }
    }
    truncate(&collapsed)
}

fn truncate(s: &str) -> String {
    match s.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Replaces numbers, hex and double-quoted strings (see [`normalize_message`]).
fn replace_data(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '"' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            if j < chars.len() {
                out.push_str("\"…\"");
                i = j + 1;
                continue;
            }
        }
        if c.is_ascii_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            // A decimal fraction belongs to its number.
            if i + 1 < chars.len() && chars[i] == '.' && chars[i + 1].is_ascii_digit() {
                let all_digits = chars[start..i].iter().all(char::is_ascii_digit);
                if all_digits {
                    i += 1;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let token: String = chars[start..i].iter().collect();
            out.push_str(&replace_token(&token));
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

fn replace_token(token: &str) -> String {
    if token.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return "N".into();
    }
    if let Some(hex) = token.strip_prefix("0x")
        && !hex.is_empty()
        && hex.chars().all(|c| c.is_ascii_hexdigit())
    {
        return "0x?".into();
    }
    if token.len() >= 8
        && token.chars().all(|c| c.is_ascii_hexdigit())
        && token.chars().any(|c| c.is_ascii_digit())
    {
        return "H".into();
    }
    token.to_owned()
}

fn strip_legacy_hash(s: &str) -> &str {
    if let Some(i) = s.rfind("::h") {
        let hash = &s[i + 3..];
        if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return &s[..i];
        }
    }
    s
}

/// `ns::f(int, char*)` / `ns::C::m() const` → `ns::f` / `ns::C::m`.
fn strip_cpp_params(s: &str) -> &str {
    let body = s.strip_suffix(" const").unwrap_or(s);
    if !body.ends_with(')') {
        return s;
    }
    let bytes = body.as_bytes();
    let mut depth = 0i32;
    for i in (0..bytes.len()).rev() {
        match bytes[i] {
            b')' => depth += 1,
            b'(' => {
                depth -= 1;
                if depth == 0 {
                    let before = body[..i].chars().last();
                    let is_call = before
                        .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ')' || c == '>');
                    return if is_call { &body[..i] } else { s };
                }
            }
            _ => {}
        }
    }
    s
}

/// Index of the `>` closing the `<` at `open`, skipping `->`.
fn matching_angle(chars: &[char], open: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (i, &c) in chars.iter().enumerate().skip(open) {
        match c {
            '<' => depth += 1,
            '>' if i == 0 || chars[i - 1] != '-' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

fn matching_brace(chars: &[char], open: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (i, &c) in chars.iter().enumerate().skip(open) {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Whether the text inside `<…>` is a qualified path (`impl X for Y`,
/// `T as Trait`) rather than generic arguments.
fn is_qualified(inner: &[char]) -> bool {
    let text: String = inner.iter().collect();
    if text.starts_with("impl ") {
        return true;
    }
    let mut depth = 0i32;
    let bytes = text.as_bytes();
    for i in 0..bytes.len() {
        match bytes[i] {
            b'<' | b'(' | b'[' => depth += 1,
            b'>' | b')' | b']' if i == 0 || bytes[i - 1] != b'-' => depth -= 1,
            b' ' if depth == 0 && text[i..].starts_with(" as ") => return true,
            _ => {}
        }
    }
    false
}

fn clean_into(chars: &[char], out: &mut String) {
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '<'
            && !out.ends_with("operator")
            && let Some(close) = matching_angle(chars, i)
        {
            let inner = &chars[i + 1..close];
            let at_segment_start = out.is_empty() || out.ends_with("::");
            if at_segment_start && is_qualified(inner) {
                out.push('<');
                clean_into(inner, out);
                out.push('>');
            } else if out.ends_with("::") {
                // A turbofish: `f::<T>` → `f`.
                out.truncate(out.len() - 2);
            }
            i = close + 1;
            continue;
        }
        if c == '{'
            && let Some(close) = matching_brace(chars, i)
        {
            let inner: String = chars[i + 1..close].iter().collect();
            let inner = inner.trim_start_matches('{').trim_end_matches('}');
            let name = inner.split('#').next().unwrap_or(inner);
            let name = name.strip_suffix("_env").unwrap_or(name);
            let name = name.split(':').next().unwrap_or(name);
            out.push('{');
            out.push_str(name);
            out.push('}');
            i = close + 1;
            continue;
        }
        out.push(c);
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_lose_hashes_generics_and_closure_numbers() {
        let cases = [
            ("crash::foo::h83a1b2c3d4e5f607", "crash::foo"),
            (
                "six_bugs::_::__libfuzzer_sys_run",
                "six_bugs::__libfuzzer_sys_run",
            ),
            (
                "std::panicking::catch_unwind::do_call::<libfuzzer_sys::test_input_wrap::{closure#0}, i32>",
                "std::panicking::catch_unwind::do_call",
            ),
            (
                "do_call<libfuzzer_sys::test_input_wrap::{closure_env#0}, i32>",
                "do_call",
            ),
            (
                "libfuzzer_sys::initialize::{closure#0}",
                "libfuzzer_sys::initialize::{closure}",
            ),
            ("my::f::{{closure}}", "my::f::{closure}"),
            (
                "core::slice::index::<impl core::ops::index::Index<I> for [T]>::index",
                "core::slice::index::<impl core::ops::index::Index for [T]>::index",
            ),
            (
                "<alloc::vec::Vec<T,A> as core::ops::index::Index<I>>::index",
                "<alloc::vec::Vec as core::ops::index::Index>::index",
            ),
            (
                "<my::Parser<'a> as my::Decode>::decode",
                "<my::Parser as my::Decode>::decode",
            ),
            (
                "fuzzer::Fuzzer::RunOne(unsigned char const*, unsigned long, bool, fuzzer::InputInfo*, bool, bool*)",
                "fuzzer::Fuzzer::RunOne",
            ),
            ("Foo::bar() const", "Foo::bar"),
            (
                "std::vector<int, std::allocator<int> >::at(unsigned long)",
                "std::vector::at",
            ),
            ("foo+0x1a2b", "foo"),
            ("apply<fn(u8) -> u8, u8>", "apply"),
            ("LLVMFuzzerTestOneInput", "LLVMFuzzerTestOneInput"),
        ];
        for (raw, want) in cases {
            assert_eq!(clean_function(raw), want, "{raw}");
        }
    }

    #[test]
    fn last_segments_match_inlined_and_full_names() {
        assert_eq!(last_segment("six_bugs::lookup"), "lookup");
        assert_eq!(last_segment("lookup"), "lookup");
        assert_eq!(
            last_segment("six_bugs::_::__libfuzzer_sys_run"),
            "__libfuzzer_sys_run"
        );
        assert_eq!(
            last_segment("<my::P<u8> as my::D>::decode::h0123456789abcdef"),
            "decode"
        );
        assert_eq!(last_segment("my::f::{closure#2}"), "{closure}");
        assert_eq!(last_segment("{closure#0}"), "{closure}");
    }

    #[test]
    fn frame_keys_use_base_names_of_source_files_only() {
        let frame = |function: &str, file: Option<&str>| Frame {
            function: Some(function.into()),
            file: file.map(Into::into),
            line: Some(3),
            column: None,
            module: None,
        };
        assert_eq!(
            frame_key(&frame(
                "six_bugs::lookup",
                Some("/work/a/fuzz_targets/six_bugs.rs")
            ))
            .unwrap(),
            "lookup@six_bugs.rs"
        );
        assert_eq!(
            frame_key(&frame("lookup", Some("/srv/b/fuzz_targets/six_bugs.rs"))).unwrap(),
            "lookup@six_bugs.rs"
        );
        assert_eq!(
            frame_key(&frame(
                "__rust_try",
                Some("libfuzzer_sys.16a3ea3309296e0e-cgu.0")
            ))
            .unwrap(),
            "__rust_try"
        );
    }

    #[test]
    fn paths_read_the_same_on_every_node() {
        assert_eq!(
            normalize_path("fuzz_targets/six_bugs.rs"),
            "fuzz_targets/six_bugs.rs"
        );
        assert_eq!(
            normalize_path(
                "/rustc/e50aa6fba4e63ab34c72bf9acfd2c307c1155d1a/library/core/src/panicking.rs"
            ),
            "library/core/src/panicking.rs"
        );
        assert_eq!(
            normalize_path(
                "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/libfuzzer-sys-0.4.13/src/lib.rs"
            ),
            "libfuzzer-sys-0.4.13/src/lib.rs"
        );
        assert_eq!(
            normalize_path("/home/u/.cargo/git/checkouts/foo-0123abcd/4f2e1aa/src/lib.rs"),
            "src/lib.rs"
        );
        assert_eq!(
            normalize_path("/work/main/fixtures/c/crash_memory.c"),
            "c/crash_memory.c"
        );
    }

    #[test]
    fn messages_lose_data_but_keep_source_text() {
        let cases = [
            (
                "index out of bounds: the len is 16 but the index is 249",
                "index out of bounds: the len is N but the index is N",
            ),
            (
                "magic prefix reached: [67, 82, 65]",
                "magic prefix reached: [N]",
            ),
            (
                "cost 240 is over the budget of 200",
                "cost N is over the budget of N",
            ),
            ("assertion failed: len < 16", "assertion failed: len < 16"),
            (
                "assertion `left == right` failed\n  left: 1\n right: 2",
                "assertion `left == right` failed",
            ),
            (
                "called `Result::unwrap()` on an `Err` value: ParseIntError { kind: InvalidDigit }",
                "called `Result::unwrap()` on an `Err` value",
            ),
            (
                "bad name \"x\\\"y\" at 0x7ffdacd0dfa0",
                "bad name \"…\" at 0x?",
            ),
            ("block 3fa9c0de11 rejected", "block H rejected"),
            ("ratio 0.75 too high for u8", "ratio N too high for u8"),
            (
                "signed integer overflow: 2147483392 * 7 cannot be represented in type 'int'",
                "signed integer overflow: N * N cannot be represented in type 'int'",
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(normalize_message(raw), want, "{raw}");
        }
        let long = "x".repeat(500);
        assert_eq!(
            normalize_message(&long).chars().count(),
            MAX_MESSAGE_CHARS + 1
        );
    }
}
