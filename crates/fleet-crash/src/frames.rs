//! Which stack frames say something about the bug: everything except sanitizer runtime, libFuzzer, libfuzzer-sys, Rust panic machinery, std/core/alloc, libc (its wait, join and sleep calls included) and unknown frames.

use crate::normalize::clean_function;
use crate::report::Frame;

/// Name prefixes of frames that are never the bug's: the Rust standard
/// library and panic machinery, libFuzzer (its C++ namespace, mangled or
/// not) and libfuzzer-sys's glue, sanitizer runtimes and interceptors,
/// libc start-up and signal delivery, C++ runtime support.
const RUNTIME_PREFIXES: &[&str] = &[
    "std::",
    "core::",
    "alloc::",
    "<std::",
    "<core::",
    "<alloc::",
    "<&",
    "__rust",
    "__rdl_",
    "__rg_",
    "rust_begin_unwind",
    "rust_panic",
    "rust_fuzzer_test_input",
    "libfuzzer_sys::",
    "<libfuzzer_sys::",
    "fuzzer::",
    "_ZN6fuzzer",
    "__sanitizer",
    "__asan",
    "__lsan",
    "__ubsan",
    "__msan",
    "__tsan",
    "__hwasan",
    "__interceptor_",
    "___interceptor_",
    "__interception::",
    "__libc_",
    "__GI_",
    "__pthread",
    "__cxa_",
    "__gxx_",
    "_Unwind_",
    "__restore_rt",
    "__sigaction",
    // Where a hung thread sits inside glibc: futex and low-level lock waits.
    "__futex",
    "futex_",
    "__lll_",
];

/// Exact names of frames that are never the bug's: process start, signal
/// delivery, and the allocation and string functions sanitizers intercept
/// (the bug is in whoever called them).
const RUNTIME_NAMES: &[&str] = &[
    "main",
    "_start",
    "abort",
    "raise",
    "gsignal",
    "pthread_kill",
    "malloc",
    "calloc",
    "realloc",
    "reallocarray",
    "free",
    "posix_memalign",
    "memalign",
    "aligned_alloc",
    "valloc",
    "pvalloc",
    "operator new",
    "operator new[]",
    "operator delete",
    "operator delete[]",
    "memcpy",
    "memmove",
    "memset",
    "memcmp",
    "bcmp",
    "strlen",
    "strnlen",
    "strcpy",
    "strncpy",
    "strcat",
    "strncat",
    "strcmp",
    "strncmp",
    "strdup",
    "strndup",
    "strchr",
    "strrchr",
    "strstr",
    "sprintf",
    "snprintf",
    "vsprintf",
    "vsnprintf",
    "printf",
    "fprintf",
    // Waits, joins and sleeps: a hang's innermost frames when a thread blocks (the
    // alarm interrupts the main thread, e.g. in a destructor joining a worker). The
    // hang is in whoever called them; these are libc's names, which a program cannot
    // reuse without interposing on libc.
    "pthread_join",
    "pthread_timedjoin_np",
    "pthread_clockjoin_np",
    "pthread_cond_wait",
    "pthread_cond_timedwait",
    "pthread_cond_clockwait",
    "pthread_mutex_lock",
    "pthread_mutex_timedlock",
    "pthread_rwlock_rdlock",
    "pthread_rwlock_wrlock",
    "pthread_barrier_wait",
    "pthread_spin_lock",
    "sem_wait",
    "sem_timedwait",
    "sem_clockwait",
    "nanosleep",
    "clock_nanosleep",
    "usleep",
    "sleep",
    "sched_yield",
    "poll",
    "ppoll",
    "select",
    "pselect",
    "epoll_wait",
    "epoll_pwait",
    "syscall",
    "wait",
    "waitpid",
    "pause",
];

/// Source-path fragments of runtime code, for frames whose (inlined,
/// short) name alone does not say where they come from: Rust's standard
/// library sources, libfuzzer-sys and its bundled libFuzzer, compiler-rt,
/// glibc's own source directories.
const RUNTIME_PATH_PARTS: &[&str] = &[
    "/rustc/",
    "/library/std/",
    "/library/core/",
    "/library/alloc/",
    "/library/panic_",
    "/library/stdarch/",
    "/lib/rustlib/src/",
    "/libfuzzer-sys-",
    "/libfuzzer/Fuzzer",
    "compiler-rt/lib/",
];

/// Relative source paths glibc's frames carry (`nptl/pthread_kill.c`,
/// `./csu/../csu/libc-start.c`).
const LIBC_PATH_PREFIXES: &[&str] = &[
    "nptl/", "csu/", "stdlib/", "signal/", "sysdeps/", "string/", "malloc/", "libio/", "posix/",
];

/// Shared libraries whose frames are runtime, when a frame has only its module.
const RUNTIME_MODULE_PARTS: &[&str] = &[
    "/libc.so",
    "/libc-",
    "/libpthread",
    "/libstdc++",
    "/libc++",
    "/libgcc",
    "/ld-linux",
    "/libm.so",
];

/// The frames of `frames` that belong to the program under test, in order.
///
/// `LLVMFuzzerTestOneInput` is the harness itself in a C/C++ target but
/// libfuzzer-sys's glue in a Rust one (whose stacks have
/// `rust_fuzzer_test_input` below the target), so it is kept only in
/// stacks without that frame.
pub fn meaningful_frames(frames: &[Frame]) -> Vec<&Frame> {
    let rust_harness = frames
        .iter()
        .filter_map(|f| f.function.as_deref())
        .any(|f| f == "rust_fuzzer_test_input" || f.ends_with("__libfuzzer_sys_run"));
    frames
        .iter()
        .filter(|f| !is_runtime(f, rust_harness))
        .collect()
}

/// Whether one frame is runtime (see [`meaningful_frames`]).
pub fn is_runtime(frame: &Frame, rust_harness: bool) -> bool {
    let Some(function) = frame.function.as_deref() else {
        return true;
    };
    if let Some(file) = frame.file.as_deref() {
        let file = file.strip_prefix("./").unwrap_or(file);
        if RUNTIME_PATH_PARTS.iter().any(|p| file.contains(p))
            || LIBC_PATH_PREFIXES.iter().any(|p| file.starts_with(p))
        {
            return true;
        }
    }
    if frame.file.is_none()
        && frame
            .module
            .as_deref()
            .is_some_and(|m| RUNTIME_MODULE_PARTS.iter().any(|p| m.contains(p)))
    {
        return true;
    }
    let name = clean_function(function);
    if name == "LLVMFuzzerTestOneInput" {
        return rust_harness;
    }
    RUNTIME_PREFIXES.iter().any(|p| name.starts_with(p))
        || RUNTIME_NAMES.contains(&name.as_str())
        || name.starts_with("__libc")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::parse_sanitizer_frame;

    fn frame(line: &str) -> Frame {
        parse_sanitizer_frame(line).unwrap().1
    }

    #[test]
    fn runtime_frames_are_skipped() {
        for line in [
            "#0 0x1 in __sanitizer_print_stack_trace /rustc/llvm/src/llvm-project/compiler-rt/lib/asan/asan_stack.cpp:87:3",
            "#0 0x1 in fuzzer::PrintStackTrace() /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/libfuzzer-sys-0.4.13/libfuzzer/FuzzerUtil.cpp:210:38",
            "#0 0x1 in fuzzer::Fuzzer::ExecuteCallback(unsigned char const*, unsigned long) (/tmp/c/hbo+0x422f3)",
            "#0 0x1  (/lib/x86_64-linux-gnu/libc.so.6+0x3c04f) (BuildId: 93ac)",
            "#0 0x1 in __pthread_kill_implementation nptl/./nptl/pthread_kill.c:43:17",
            "#0 0x1 in abort stdlib/./stdlib/abort.c:79:7",
            "#0 0x1 in std::process::abort (/x/crash+0x288da8)",
            "#0 0x1 in libfuzzer_sys::initialize::{closure#0} libfuzzer_sys.53e090d9ad111b3d-cgu.0",
            "#0 0x1 in __rustc::rust_begin_unwind /rustc/e50a/library/std/src/panicking.rs:689:5",
            "#0 0x1 in core::panicking::panic_bounds_check /rustc/e50a/library/core/src/panicking.rs:271:5",
            "#0 0x1 in rust_fuzzer_test_input (/x/crash+0x1441b5)",
            "#0 0x1 in {closure#0} /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/libfuzzer-sys-0.4.13/src/lib.rs:62:9",
            "#0 0x1 in __rust_try libfuzzer_sys.16a3ea3309296e0e-cgu.0",
            "#0 0x1 in spin_loop /rustc/e50a/library/core/src/hint.rs:287:13",
            "#0 0x1 in __asan_memcpy (/tmp/c/hbo+0xddfd9)",
            "#0 0x1 in __interceptor_free (/tmp/c/m+0xde952)",
            "#0 0x1 in malloc (/tmp/c/m+0xdebfe)",
            "#0 0x1 in main /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/libfuzzer-sys-0.4.13/libfuzzer/FuzzerMain.cpp:20:30",
            "#0 0x1 in __libc_start_call_main csu/../sysdeps/nptl/libc_start_call_main.h:58:16",
            "#0 0x1 in _start (/x/six_bugs+0xd0b10)",
            "#0 0x1 in <alloc::vec::Vec<T> as core::ops::index::Index<I>>::index /rustc/x/library/alloc/src/vec/mod.rs:3:3",
            // A hang's waits and joins, symbolized or not, static or shared.
            "#4 0x1 in __futex_abstimed_wait_common64 nptl/./nptl/futex-internal.c:57:12",
            "#5 0x1 in __futex_abstimed_wait_common (/x/static-harness+0x8af15)",
            "#6 0x1 in __pthread_clockjoin_ex nptl/./nptl/pthread_join_common.c:102:14",
            "#7 0x1 in std::thread::join() (/lib/x86_64-linux-gnu/libstdc++.so.6+0xd4516)",
            "#1 0x1 in pthread_join (/x/static-harness+0x1234)",
            "#1 0x1 in pthread_cond_wait ../sysdeps/nptl/pthread_cond_wait.c:10:3",
            "#1 0x1 in std::condition_variable::wait(std::unique_lock<std::mutex>&) (/x/h+0x1)",
            "#1 0x1 in std::__1::thread::join() (/x/h+0x1)",
            "#1 0x1 in __lll_lock_wait (/x/static-harness+0x1)",
            "#1 0x1 in nanosleep (/x/static-harness+0x1)",
            "#1 0x1 in epoll_wait ../sysdeps/unix/sysv/linux/epoll_wait.c:30:10",
            "#1 0x1 in poll (/x/static-harness+0x1)",
            "#2 0x1 in fuzzer::Fuzzer::AlarmCallback() (/x/h+0x41e69)",
        ] {
            assert!(is_runtime(&frame(line), true), "{line}");
        }
    }

    #[test]
    fn program_frames_are_kept() {
        for line in [
            "#0 0x1 in six_bugs::lookup /work/main/fixtures/rust/fuzz/fuzz_targets/six_bugs.rs:35:5",
            "#0 0x1 in six_bugs::_::__libfuzzer_sys_run /work/main/fixtures/rust/fuzz/fuzz_targets/six_bugs.rs:123:23",
            "#0 0x1 in crash::_::__libfuzzer_sys_run crash.560b1065df7af128-cgu.0",
            "#0 0x1 in store_record /work/main/fixtures/c/crash_memory.c:26:19",
            "#0 0x1 in <my::Parser as my::Decode>::decode /src/p.rs:3:3",
            "#8 0x1 in (anonymous namespace)::Pool::~Pool() /work/main/fixtures/cpp/hang_join.cc:45:13",
            "#0 0x1 in Pool::wait_for_jobs() /src/pool.cc:10:3",
        ] {
            assert!(!is_runtime(&frame(line), true), "{line}");
        }
        let harness = frame("#1 0x1 in LLVMFuzzerTestOneInput /tmp/engine-probe/c/hbo.c:7:5");
        assert!(!is_runtime(&harness, false));
        assert!(is_runtime(&harness, true));
    }
}
