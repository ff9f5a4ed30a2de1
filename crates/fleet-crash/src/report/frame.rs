//! Stack-frame lines: the sanitizers' and libFuzzer's `#N 0x… in FUNC FILE:LINE:COL` and the Rust standard library's `N: FUNC` + `at FILE:LINE:COL`.

use super::Frame;

/// Parses a sanitizer or libFuzzer stack line (`    #3 0x55… in foo /src/a.c:7:5`),
/// returning its frame number and frame. Other lines give `None`.
///
/// The forms seen in real reports (`fixtures/logs/`):
/// `in FUNC FILE:LINE:COL`, `in FUNC FILE` (no line), `in FUNC CGU-NAME`
/// (Rust code without line tables), `in FUNC (MODULE+0xOFF)`,
/// ` (MODULE+0xOFF)` with no function, each optionally followed by
/// `(BuildId: …)`. Function names may contain spaces and parentheses
/// (`fuzzer::RunOne(unsigned char const*, unsigned long)`,
/// `<impl Foo for Bar>::baz`).
pub fn parse_sanitizer_frame(line: &str) -> Option<(usize, Frame)> {
    let rest = line.trim_start().strip_prefix('#')?;
    let (number, rest) = rest.split_once(' ')?;
    let number: usize = number.parse().ok()?;
    let rest = rest.trim_start();
    let (_, rest) = rest
        .strip_prefix("0x")
        .map(|r| r.split_once(' ').unwrap_or((r, "")))?;
    let mut rest = rest.trim();
    if let Some(head) = strip_build_id(rest) {
        rest = head;
    }
    let mut frame = Frame {
        function: None,
        file: None,
        line: None,
        column: None,
        module: None,
    };
    let body = match rest.strip_prefix("in ") {
        Some(body) => body,
        None => {
            frame.module = module_of(rest).map(|(_, m)| m);
            return Some((number, frame));
        }
    };
    if let Some((func, module)) = module_of(body) {
        frame.function = non_empty(func);
        frame.module = Some(module);
        return Some((number, frame));
    }
    match body.rsplit_once(' ') {
        Some((func, location)) if looks_like_location(location) => {
            frame.function = non_empty(func);
            let (file, line, column) = split_location(location);
            frame.file = Some(file.to_owned());
            frame.line = line;
            frame.column = column;
        }
        _ => frame.function = non_empty(body),
    }
    Some((number, frame))
}

/// Parses a frame line of a Rust backtrace (`   3: six_bugs::lookup`, or
/// with `RUST_BACKTRACE=full` `   3:     0x55… - six_bugs::lookup::h12…`),
/// returning its number and frame; the `at FILE:LINE:COL` line that may
/// follow is read separately.
pub fn parse_backtrace_frame(line: &str) -> Option<(usize, Frame)> {
    let (number, rest) = line.trim_start().split_once(": ")?;
    let number: usize = number.parse().ok()?;
    let mut func = rest.trim();
    if let Some(after) = func
        .strip_prefix("0x")
        .and_then(|r| r.split_once(" - ").map(|(_, f)| f))
    {
        func = after.trim();
    }
    if func.is_empty() {
        return None;
    }
    let function = if func == "<unknown>" {
        None
    } else {
        Some(func.to_owned())
    };
    Some((
        number,
        Frame {
            function,
            file: None,
            line: None,
            column: None,
            module: None,
        },
    ))
}

/// The `             at FILE:LINE:COL` line under a Rust backtrace frame.
pub(crate) fn parse_backtrace_at(line: &str, frame: &mut Frame) -> bool {
    let Some(location) = line.trim_start().strip_prefix("at ") else {
        return false;
    };
    let (file, l, c) = split_location(location.trim());
    frame.file = Some(file.to_owned());
    frame.line = l;
    frame.column = c;
    true
}

/// `(BuildId: …)` at the end of a frame line, removed.
fn strip_build_id(s: &str) -> Option<&str> {
    let start = s.rfind(" (BuildId: ")?;
    s.ends_with(')').then(|| s[..start].trim_end())
}

/// `FUNC (MODULE+0xOFF)` or `(MODULE+0xOFF)` → (FUNC, MODULE).
fn module_of(s: &str) -> Option<(&str, String)> {
    let inner = s.strip_suffix(')')?;
    let open = inner.rfind('(')?;
    let (module, offset) = inner[open + 1..].rsplit_once('+')?;
    let hex = offset.strip_prefix("0x")?;
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some((s[..open].trim_end(), module.to_owned()))
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// Whether the last word of a frame is a location rather than the end of
/// a function name: `a.c:7:5`, `/src/x.rs`, `std.d28b…-cgu.0`.
fn looks_like_location(word: &str) -> bool {
    if word.contains("-cgu.") || word.starts_with('/') || word.starts_with("./") {
        return true;
    }
    let (file, line, _) = split_location(word);
    if line.is_some() {
        return !file.is_empty();
    }
    has_source_extension(file)
}

/// Whether a path ends in a source file name (`x.rs`, `a.cc`, `b.h`).
pub(crate) fn has_source_extension(path: &str) -> bool {
    const EXTENSIONS: &[&str] = &[
        "rs", "c", "cc", "cpp", "cxx", "c++", "h", "hh", "hpp", "hxx", "inc", "inl", "m", "mm",
        "s", "S", "zig", "go", "swift",
    ];
    let name = path.rsplit('/').next().unwrap_or(path);
    name.rsplit_once('.')
        .is_some_and(|(stem, ext)| !stem.is_empty() && EXTENSIONS.contains(&ext))
}

/// `FILE:LINE:COL` / `FILE:LINE` / `FILE` → parts. A trailing number is
/// only taken as a line if the part before it is non-empty.
pub(crate) fn split_location(s: &str) -> (&str, Option<u32>, Option<u32>) {
    let number = |p: &str| p.parse::<u32>().ok();
    if let Some((head, last)) = s.rsplit_once(':')
        && let Some(last_n) = number(last)
    {
        if let Some((file, mid)) = head.rsplit_once(':')
            && let Some(mid_n) = number(mid)
            && !file.is_empty()
        {
            return (file, Some(mid_n), Some(last_n));
        }
        if !head.is_empty() {
            return (head, Some(last_n), None);
        }
    }
    (s, None, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(line: &str) -> Frame {
        parse_sanitizer_frame(line).unwrap().1
    }

    #[test]
    fn sanitizer_frames_of_every_shape() {
        let fr = f("    #1 0x55da41525b33 in LLVMFuzzerTestOneInput /tmp/engine-probe/c/hbo.c:7:5");
        assert_eq!(fr.function.as_deref(), Some("LLVMFuzzerTestOneInput"));
        assert_eq!(fr.file.as_deref(), Some("/tmp/engine-probe/c/hbo.c"));
        assert_eq!((fr.line, fr.column), (Some(7), Some(5)));

        let fr = f(
            "    #21 0x557bb650c684 in fuzzer::Fuzzer::RunOne(unsigned char const*, unsigned long, bool, fuzzer::InputInfo*, bool, bool*) (/tmp/x/crash+0x173684) (BuildId: f0ae327c2dfd2c3aea6b95fe0b01973a85e8d449)",
        );
        assert_eq!(
            fr.function.as_deref(),
            Some(
                "fuzzer::Fuzzer::RunOne(unsigned char const*, unsigned long, bool, fuzzer::InputInfo*, bool, bool*)"
            )
        );
        assert_eq!(fr.module.as_deref(), Some("/tmp/x/crash"));
        assert_eq!(fr.file, None);

        let fr = f(
            "    #3 0x7f5a4c45a04f  (/lib/x86_64-linux-gnu/libc.so.6+0x3c04f) (BuildId: 93ac61ec5a8eb1396f9fbd350e3169a558528a40)",
        );
        assert_eq!(fr.function, None);
        assert_eq!(
            fr.module.as_deref(),
            Some("/lib/x86_64-linux-gnu/libc.so.6")
        );

        let fr = f(
            "    #7 0x557bb6622f69 in std::sys::pal::unix::abort_internal std.d28b1718532fa52a-cgu.0",
        );
        assert_eq!(
            fr.function.as_deref(),
            Some("std::sys::pal::unix::abort_internal")
        );
        assert_eq!(fr.file.as_deref(), Some("std.d28b1718532fa52a-cgu.0"));
        assert_eq!(fr.line, None);

        let fr = f(
            "    #0 0x56443e4fe3c7 in six_bugs::nest /work/main/fixtures/rust/fuzz/fuzz_targets/six_bugs.rs",
        );
        assert_eq!(fr.function.as_deref(), Some("six_bugs::nest"));
        assert_eq!(fr.line, None);

        let fr = f(
            "    #11 0x5633faee5f51 in <alloc::boxed::Box<dyn for<'a, 'b> core::ops::function::Fn<(&'a std::panic::PanicHookInfo<'b>,), Output = ()> + core::marker::Sync + core::marker::Send> as core::ops::function::Fn<(&std::panic::PanicHookInfo,)>>::call /rustc/e50a/library/alloc/src/boxed.rs:2289:9",
        );
        assert!(fr.function.unwrap().ends_with(">>::call"));
        assert_eq!(fr.line, Some(2289));

        let fr = f(
            "    #14 0x5633faeb6fe8 in std::sys::backtrace::__rust_end_short_backtrace::<std::panicking::panic_handler::{closure#0}, !> /rustc/e50a/library/std/src/sys/backtrace.rs:182:18",
        );
        assert!(fr.function.unwrap().ends_with("{closure#0}, !>"));

        let fr = f("    #0 0x56306b6718f1  (/work/six_bugs+0x17e8f1) (BuildId: e7650b7c)");
        assert_eq!(
            (fr.function, fr.module.as_deref()),
            (None, Some("/work/six_bugs"))
        );

        assert_eq!(
            parse_sanitizer_frame("    #12 0xabc in main").unwrap().0,
            12
        );
        assert!(parse_sanitizer_frame("#2\tINITED cov: 19").is_none());
        assert!(parse_sanitizer_frame("#435\tNEW    cov: 22").is_none());
        assert!(parse_sanitizer_frame("hello").is_none());
    }

    #[test]
    fn rust_backtrace_frames() {
        let (n, mut fr) = parse_backtrace_frame("   3: lookup").unwrap();
        assert_eq!((n, fr.function.as_deref()), (3, Some("lookup")));
        assert!(parse_backtrace_at(
            "             at /work/six_bugs.rs:35:5",
            &mut fr
        ));
        assert_eq!(fr.file.as_deref(), Some("/work/six_bugs.rs"));
        assert_eq!((fr.line, fr.column), (Some(35), Some(5)));

        let (_, fr) =
            parse_backtrace_frame("  12:     0x55d4c7c5d0b5 - crash::foo::h83a1b2c3d4e5f607")
                .unwrap();
        assert_eq!(
            fr.function.as_deref(),
            Some("crash::foo::h83a1b2c3d4e5f607")
        );
        let (_, fr) = parse_backtrace_frame(
            "   7: do_call<libfuzzer_sys::test_input_wrap::{closure_env#0}, i32>",
        )
        .unwrap();
        assert!(fr.function.unwrap().starts_with("do_call<"));
        assert!(parse_backtrace_frame("note: Some details are omitted").is_none());
    }

    #[test]
    fn locations() {
        assert_eq!(split_location("a.rs:1:2"), ("a.rs", Some(1), Some(2)));
        assert_eq!(split_location("a.rs:9"), ("a.rs", Some(9), None));
        assert_eq!(split_location("a.rs"), ("a.rs", None, None));
        assert_eq!(split_location("C:/x.rs:3:4"), ("C:/x.rs", Some(3), Some(4)));
        assert!(has_source_extension("/x/y/z.rs"));
        assert!(!has_source_extension("libfuzzer_sys.16a3-cgu.0"));
    }
}
