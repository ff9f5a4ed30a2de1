//! Report parsing and signatures on real captured output (`fixtures/logs/reports/`, `fixtures/logs/libfuzzer/`).
//! That the parser never panics on cut-off or garbled output is fuzzed, not sampled
//! here: `fuzz/fuzz_targets/crash_report.rs`, seeded with these logs and run by
//! `crates/fuzzfleet/tests/own_parsers.rs`.

mod common;

use common::{log, report};
use fleet_crash::{
    Access, CrashKind, Severity, Signature, SignatureConfig, meaningful_frames, parse_report, title,
};

fn sig(name: &str) -> Signature {
    Signature::of(&report(name), &SignatureConfig::default())
}

fn functions(name: &str) -> Vec<String> {
    let r = report(name);
    meaningful_frames(&r.frames)
        .iter()
        .filter_map(|f| f.function.clone())
        .collect()
}

#[test]
fn rust_panic_has_message_location_and_both_stacks_merged() {
    let r = report("rust-index-oob");
    assert_eq!(r.kind, CrashKind::Panic);
    assert_eq!(r.tool, "rust");
    let panic = r.panic.as_ref().unwrap();
    assert_eq!(
        panic.message,
        "index out of bounds: the len is 16 but the index is 32"
    );
    let location = panic.location.as_ref().unwrap();
    assert_eq!(
        (location.file.as_str(), location.line),
        ("fuzz_targets/six_bugs.rs", 35)
    );
    assert_eq!(panic.thread, "<unnamed>");
    // The frames are std's backtrace, with names qualified from the
    // deadly-signal stack llvm-symbolizer printed.
    assert_eq!(r.frames[3].function.as_deref(), Some("six_bugs::lookup"));
    assert_eq!(r.frames[3].line, Some(35));
    assert_eq!(
        functions("rust-index-oob"),
        ["six_bugs::lookup", "six_bugs::_::__libfuzzer_sys_run"]
    );
    assert_eq!(r.summary.as_deref(), Some("libFuzzer: deadly signal"));
    assert_eq!(title(&r), "panic: index out of bounds in six_bugs::lookup");
}

#[test]
fn every_rust_bug_gets_its_kind_and_top_function() {
    let cases = [
        (
            "rust-add-overflow",
            "six_bugs::add_lengths",
            "attempt to add with overflow",
        ),
        (
            "rust-unwrap-none",
            "six_bugs::find_terminator",
            "called `Option::unwrap()` on a `None` value",
        ),
        (
            "rust-assert",
            "six_bugs::check_budget",
            "cost N is over the budget of N",
        ),
        (
            "rust-assert-version",
            "six_bugs::check_header",
            "header version must not be zero",
        ),
        (
            "rust-assert-flags",
            "six_bugs::check_header",
            "reserved flag bit set in header",
        ),
        (
            "rust-caller-rows",
            "six_bugs::decode_width",
            "attempt to subtract with overflow",
        ),
        (
            "rust-caller-columns",
            "six_bugs::decode_width",
            "attempt to subtract with overflow",
        ),
    ];
    for (name, function, message) in cases {
        let r = report(name);
        assert_eq!(r.kind, CrashKind::Panic, "{name}");
        assert_eq!(functions(name)[0], function, "{name}");
        assert_eq!(sig(name).message.as_deref(), Some(message), "{name}");
        assert_eq!(Severity::of(&r.kind), Severity::Medium);
    }
    // The inlined `Option::unwrap` is std's, not the program's.
    assert!(
        report("rust-unwrap-none")
            .frames
            .iter()
            .any(|f| f.function.as_deref() == Some("unwrap<usize>"))
    );
}

#[test]
fn the_same_bug_from_another_input_and_run_has_the_same_signature() {
    let a = sig("rust-index-oob");
    let b = sig("rust-index-oob-other-input");
    assert_eq!(a, b);
    assert_eq!(a.bucket_id("six_bugs"), b.bucket_id("six_bugs"));
    assert_eq!(
        a.to_string(),
        "panic | lookup@six_bugs.rs | fuzz_targets/six_bugs.rs | index out of bounds: the len is N but the index is N"
    );
}

#[test]
fn two_asserts_in_one_function_are_two_signatures() {
    let version = sig("rust-assert-version");
    let flags = sig("rust-assert-flags");
    assert_eq!(version.frames, flags.frames);
    assert_ne!(version, flags);
    assert_ne!(version.bucket_id("six_bugs"), flags.bucket_id("six_bugs"));
}

#[test]
fn one_bug_through_two_callers_is_one_signature() {
    let rows = report("rust-caller-rows");
    let columns = report("rust-caller-columns");
    assert_eq!(functions("rust-caller-rows")[1], "six_bugs::parse_rows");
    assert_eq!(
        functions("rust-caller-columns")[1],
        "six_bugs::parse_columns"
    );
    let config = SignatureConfig::default();
    assert_eq!(
        Signature::of(&rows, &config),
        Signature::of(&columns, &config)
    );
    // With three frames for panics too, the callers would split it.
    let deep = SignatureConfig {
        panic_frames: 3,
        ..config
    };
    assert_ne!(Signature::of(&rows, &deep), Signature::of(&columns, &deep));
}

#[test]
fn different_bugs_have_different_signatures() {
    let names = [
        "rust-index-oob",
        "rust-add-overflow",
        "rust-unwrap-none",
        "rust-assert",
        "rust-stack-overflow",
        "rust-assert-version",
        "rust-assert-flags",
        "rust-caller-rows",
        "rust-timeout",
        "rust-oom-rss",
        "c-heap-buffer-overflow-read",
        "c-heap-buffer-overflow-write",
        "c-heap-use-after-free",
        "c-ubsan-signed-overflow",
        "c-segv-write",
    ];
    let ids: std::collections::BTreeSet<_> = names.iter().map(|n| sig(n).bucket_id("t")).collect();
    assert_eq!(ids.len(), names.len());
}

#[test]
fn rust_stack_overflow_is_the_recursion_cycle() {
    let r = report("rust-stack-overflow");
    assert_eq!(r.kind, CrashKind::StackOverflow);
    assert_eq!(r.tool, "AddressSanitizer");
    assert_eq!(r.frames.len(), 247);
    assert_eq!(sig("rust-stack-overflow").frames, ["nest@six_bugs.rs"]);
    assert_eq!(title(&r), "stack-overflow in six_bugs::nest");
    assert_eq!(Severity::of(&r.kind), Severity::Medium);
}

#[test]
fn c_memory_errors_have_access_and_frames() {
    let read = report("c-heap-buffer-overflow-read");
    assert_eq!(read.kind, CrashKind::HeapBufferOverflow(Access::Read));
    assert_eq!(
        sig("c-heap-buffer-overflow-read").frames,
        ["LLVMFuzzerTestOneInput@crash_heap.c"]
    );
    assert_eq!(Severity::of(&read.kind), Severity::High);

    let write = report("c-heap-buffer-overflow-write");
    assert_eq!(write.kind, CrashKind::HeapBufferOverflow(Access::Write));
    assert_eq!(
        sig("c-heap-buffer-overflow-write").frames,
        [
            "store_record@crash_memory.c",
            "LLVMFuzzerTestOneInput@crash_memory.c"
        ]
    );
    assert_eq!(title(&write), "heap-buffer-overflow WRITE in store_record");
    assert_eq!(Severity::of(&write.kind), Severity::Critical);
    assert_eq!(write.frames[0].line, Some(26));

    let uaf = report("c-heap-use-after-free");
    assert_eq!(uaf.kind, CrashKind::UseAfterFree(Access::Read));
    // The crash stack, not the freed-by or allocated-by stacks.
    assert_eq!(uaf.frames.len(), 9);
    assert_eq!(uaf.frames[0].function.as_deref(), Some("checksum_entry"));
    assert_eq!(Severity::of(&uaf.kind), Severity::Critical);
    assert_eq!(
        uaf.summary.as_deref(),
        Some(
            "AddressSanitizer: heap-use-after-free /work/main/fixtures/c/crash_memory.c:49:23 in checksum_entry"
        )
    );

    let segv = report("c-segv-write");
    assert_eq!(segv.kind, CrashKind::Segv(Access::Write));
    assert_eq!(Severity::of(&segv.kind), Severity::Critical);
    assert_eq!(title(&segv), "segv WRITE in poke");
}

#[test]
fn ubsan_report_keeps_its_message_category_and_stack() {
    let r = report("c-ubsan-signed-overflow");
    assert_eq!(r.kind.to_string(), "ubsan:signed-integer-overflow");
    assert_eq!(r.tool, "UndefinedBehaviorSanitizer");
    assert_eq!(
        sig("c-ubsan-signed-overflow").message.as_deref(),
        Some("signed integer overflow: N * N cannot be represented in type 'int'")
    );
    assert_eq!(functions("c-ubsan-signed-overflow")[0], "scale");
    assert_eq!(Severity::of(&r.kind), Severity::High);
}

#[test]
fn timeout_uses_the_alarm_stack_without_std_frames() {
    let r = report("rust-timeout");
    assert_eq!(r.kind, CrashKind::Timeout);
    assert_eq!(functions("rust-timeout"), ["hang::_::__libfuzzer_sys_run"]);
    assert_eq!(title(&r), "timeout in hang::__libfuzzer_sys_run");
    assert_eq!(Severity::of(&r.kind), Severity::Low);

    let worker = parse_report(&log("libfuzzer/timeout.log")).unwrap();
    assert_eq!(worker.kind, CrashKind::Timeout);
    assert_eq!(worker.description, "timeout after 3 seconds");
}

#[test]
fn out_of_memory_and_malloc_limit() {
    let rss = report("rust-oom-rss");
    assert_eq!(rss.kind, CrashKind::OutOfMemory);
    // The largest live allocation's stack.
    assert_eq!(rss.frames[0].function.as_deref(), Some("calloc"));
    assert_eq!(functions("rust-oom-rss"), ["oom::_::__libfuzzer_sys_run"]);

    let malloc = parse_report(&log("libfuzzer/oom-malloc-limit.log")).unwrap();
    assert_eq!(malloc.kind, CrashKind::MallocLimit);
    assert_eq!(malloc.description, "out-of-memory (malloc(314572800))");
    assert_eq!(Severity::of(&malloc.kind), Severity::Low);
    let rss_worker = parse_report(&log("libfuzzer/oom-rss-limit.log")).unwrap();
    assert_eq!(rss_worker.kind, CrashKind::OutOfMemory);
    assert_eq!(rss_worker.frames.len(), 13);
}

#[test]
fn leaks_use_the_first_direct_leak() {
    let r = parse_report(&log("libfuzzer/leak.log")).unwrap();
    assert_eq!(r.kind, CrashKind::Leak);
    assert_eq!(r.tool, "LeakSanitizer");
    assert_eq!(r.frames[0].function.as_deref(), Some("malloc"));
    let s = Signature::of(&r, &SignatureConfig::default());
    assert_eq!(s.frames, ["LLVMFuzzerTestOneInput@leak.c"]);
    assert_eq!(
        r.summary.as_deref(),
        Some("AddressSanitizer: 64 byte(s) leaked in 1 allocation(s).")
    );
    assert_eq!(Severity::of(&r.kind), Severity::Low);
}

#[test]
fn unsymbolized_worker_output_still_gives_the_panic() {
    let r = report("worker-rust-index-oob");
    assert_eq!(r.kind, CrashKind::Panic);
    assert_eq!(
        r.panic.as_ref().unwrap().message,
        "index out of bounds: the len is 16 but the index is 249"
    );
    // No symbolizer: only addresses, so no meaningful frame.
    assert_eq!(r.frames.len(), 31);
    assert!(meaningful_frames(&r.frames).is_empty());
    let s = Signature::of(&r, &SignatureConfig::default());
    assert!(s.frames.is_empty());
    assert_eq!(s.message, sig("rust-index-oob").message);
    assert_eq!(title(&r), "panic: index out of bounds");
}

#[test]
fn older_captures_parse_too() {
    let asan = parse_report(&log("libfuzzer/crash-asan-heap-buffer-overflow.log")).unwrap();
    assert_eq!(asan.kind, CrashKind::HeapBufferOverflow(Access::Write));
    assert_eq!(
        Signature::of(&asan, &SignatureConfig::default()).frames,
        ["LLVMFuzzerTestOneInput@hbo.c"]
    );
    // Unsymbolized Rust (no llvm-symbolizer, no backtrace): the symbol
    // table still names the fuzz body.
    let panic = parse_report(&log("libfuzzer/crash-rust-panic.log")).unwrap();
    assert_eq!(panic.kind, CrashKind::Panic);
    assert_eq!(
        panic.panic.as_ref().unwrap().message,
        "magic prefix reached: [67, 82, 65]"
    );
    let s = Signature::of(&panic, &SignatureConfig::default());
    assert_eq!(s.frames, ["__libfuzzer_sys_run"]);
    assert_eq!(s.message.as_deref(), Some("magic prefix reached: [N]"));
    // The worker's and the reproduction's report of one crash agree.
    let repro = parse_report(&log("libfuzzer/reproduce-crash.log")).unwrap();
    assert_eq!(Signature::of(&repro, &SignatureConfig::default()), s);
}

#[test]
fn output_without_a_crash_has_no_report() {
    for name in [
        "fuzz-final-stats",
        "done-runs-dict",
        "replay-dir",
        "replay-files",
        "merge",
        "interrupted-sigterm",
        "slow-unit",
        "unrecognized-flag",
        "startup-missing-corpus-dir",
        "startup-missing-library",
    ] {
        assert_eq!(
            parse_report(&log(&format!("libfuzzer/{name}.log"))),
            None,
            "{name}"
        );
    }
}

#[test]
fn signatures_ignore_pids_addresses_and_paths() {
    // The same report with every pid, address, build id and directory changed.
    let original = log("reports/c-heap-buffer-overflow-write.log");
    let pid = original
        .lines()
        .find_map(|l| {
            l.strip_prefix("==")?
                .split_once("==ERROR")
                .map(|(p, _)| p.to_owned())
        })
        .unwrap();
    let moved = original
        .replace("/work/main/", "/srv/node2/checkout/")
        .replace(&format!("=={pid}=="), "==424242==")
        .replace("0x5", "0x4")
        .replace("BuildId: ", "BuildId: ff");
    assert_ne!(moved, original);
    let config = SignatureConfig::default();
    let a = Signature::of(&parse_report(&original).unwrap(), &config);
    let b = Signature::of(&parse_report(&moved).unwrap(), &config);
    assert_eq!(a, b);
}

#[test]
fn a_build_without_sanitizer_gives_the_same_panic_signature() {
    // Captured from a later revision of the fixture (lines moved) built
    // without ASan: no deadly-signal stack, short names only.
    let r = report("rust-nosan-index-oob");
    assert_eq!(r.kind, CrashKind::Panic);
    assert_eq!(
        r.panic.as_ref().unwrap().location.as_ref().unwrap().line,
        41
    );
    assert_eq!(functions("rust-nosan-index-oob")[0], "lookup");
    assert_eq!(sig("rust-nosan-index-oob"), sig("rust-index-oob"));
    assert_eq!(title(&r), "panic: index out of bounds in lookup");
}

#[test]
fn a_stack_overflow_without_sanitizer_prints_no_report() {
    // The process dies of SIGSEGV; reproduction reports it from the exit
    // status (`signal_report`).
    assert_eq!(
        parse_report(&log("reports/rust-nosan-stack-overflow.log")),
        None
    );
}
