//! The directory store against links and special files planted in a real directory,
//! with each way of resolving paths (the kernel's `openat2`, and the per-component
//! `openat` walk used where there is none).

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path as FsPath;

use nix::sys::stat::Mode;
use object_store::path::Path;

use super::*;

fn stores(root: &FsPath) -> Vec<DirStore> {
    let probed = DirStore::new(root.to_path_buf());
    let mut out = vec![DirStore::with_resolve(
        root.to_path_buf(),
        Resolve::PerComponent,
    )];
    if probed.resolve == Resolve::Openat2 {
        out.push(probed);
    } else {
        println!("SKIP openat2 cases: this kernel has no openat2");
    }
    out
}

fn files(dir: &FsPath) -> usize {
    fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

fn refused<T: std::fmt::Debug>(r: Result<T, DirError>) -> String {
    match r {
        Err(DirError::Refused(reason)) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_linked_directory_is_never_written_through_or_read_through() {
    let tmp = tempfile::tempdir().unwrap();
    let (hub, outside) = (tmp.path().join("hub"), tmp.path().join("outside"));
    fs::create_dir_all(hub.join("v1/corpus")).unwrap();
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("secret"), b"outside the hub").unwrap();
    symlink(&outside, hub.join("v1/corpus/t")).unwrap();
    // A relative link that stays inside the hub is refused all the same.
    fs::create_dir_all(hub.join("v1/real")).unwrap();
    symlink("real", hub.join("v1/crashes")).unwrap();
    for store in stores(&hub) {
        let key = Path::from("v1/corpus/t/new");
        let why = refused(store.put(&key, b"x", false));
        assert!(why.contains("v1/corpus/t is a symbolic link"), "{why}");
        let why = refused(store.get(&Path::from("v1/corpus/t/secret"), 100));
        assert!(why.contains("v1/corpus/t is a symbolic link"), "{why}");
        let why = refused(store.exists(&Path::from("v1/corpus/t/secret")));
        assert!(why.contains("symbolic link"), "{why}");
        let why = refused(store.put(&Path::from("v1/crashes/t/x"), b"x", false));
        assert!(why.contains("v1/crashes is a symbolic link"), "{why}");
        let why = refused(store.list(&Path::from("v1/corpus/t"), true));
        assert!(why.contains("symbolic link"), "{why}");
        // Listed from above, the link is one refused entry.
        let listed = store.list(&Path::from("v1"), true).unwrap();
        let shown: Vec<String> = listed.refused.iter().map(|r| r.to_string()).collect();
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert!(shown.iter().any(|r| r.contains("v1/corpus/t")), "{shown:?}");
        assert!(listed.keys.is_empty(), "{:?}", listed.keys);
    }
    assert_eq!(files(&outside), 1);
    assert_eq!(files(&hub.join("v1/real")), 0);
}

#[test]
fn only_regular_files_are_read_and_a_fifo_does_not_block() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = tmp.path().join("hub");
    fs::create_dir_all(hub.join("d/sub")).unwrap();
    fs::write(tmp.path().join("outside"), b"outside").unwrap();
    nix::unistd::mkfifo(&hub.join("d/fifo"), Mode::from_bits_truncate(0o644)).unwrap();
    symlink(tmp.path().join("outside"), hub.join("d/link")).unwrap();
    fs::write(hub.join("d/good"), b"good").unwrap();
    for store in stores(&hub) {
        let why = refused(store.get(&Path::from("d/fifo"), 100));
        assert_eq!(why, "a FIFO, not a regular file");
        let why = refused(store.get(&Path::from("d/link"), 100));
        assert!(why.starts_with("a symbolic link"), "{why}");
        let why = refused(store.get(&Path::from("d/sub"), 100));
        assert_eq!(why, "a directory, not a regular file");
        assert!(matches!(
            store.get(&Path::from("d/good"), 100),
            Ok(DirGot::Bytes(b)) if b.as_ref() == b"good"
        ));
        assert!(matches!(
            store.get(&Path::from("d/good"), 3),
            Ok(DirGot::TooLarge(4))
        ));
        assert!(matches!(
            store.get(&Path::from("d/none"), 3),
            Ok(DirGot::Missing)
        ));
        let listed = store.list(&Path::from("d"), true).unwrap();
        assert_eq!(listed.keys, [Path::from("d/good")]);
        let shown: Vec<String> = listed.refused.iter().map(|r| r.to_string()).collect();
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert!(
            shown.iter().any(|r| r.contains("d/fifo: a FIFO")),
            "{shown:?}"
        );
        assert!(
            shown.iter().any(|r| r.contains("d/link: a symbolic link")),
            "{shown:?}"
        );
    }
}

#[test]
fn writes_replace_a_link_at_the_name_and_never_follow_it() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = tmp.path().join("hub");
    fs::create_dir_all(hub.join("v1/heartbeats")).unwrap();
    let outside = tmp.path().join("outside");
    fs::write(&outside, b"untouched").unwrap();
    for store in stores(&hub) {
        let _ = fs::remove_file(hub.join("v1/heartbeats/n.json"));
        symlink(&outside, hub.join("v1/heartbeats/n.json")).unwrap();
        assert!(
            store
                .put(&Path::from("v1/heartbeats/n.json"), b"{}", false)
                .unwrap()
        );
        assert_eq!(fs::read(&outside).unwrap(), b"untouched");
        assert!(
            !fs::symlink_metadata(hub.join("v1/heartbeats/n.json"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        // A conditional write keeps what is there, whatever it is.
        assert!(
            !store
                .put(&Path::from("v1/heartbeats/n.json"), b"new", true)
                .unwrap()
        );
        assert!(
            store
                .put(&Path::from("v1/other/a/b"), b"made", true)
                .unwrap()
        );
        assert_eq!(fs::read(hub.join("v1/other/a/b")).unwrap(), b"made");
        fs::remove_dir_all(hub.join("v1/other")).unwrap();
        // No temporary file is left behind.
        assert_eq!(files(&hub.join("v1/heartbeats")), 1);
    }
}
