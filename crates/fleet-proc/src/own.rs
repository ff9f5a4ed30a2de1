//! The children this process reaps itself, so that a supervisor reaping stray zombies
//! (a child subreaper) leaves them alone.

use std::collections::BTreeSet;
use std::sync::Mutex;

/// Pids of children this process spawned and will reap itself (every [`crate::Group`],
/// and whatever a caller registers with [`own_child`]). A supervisor that reaps stray
/// zombies must leave these alone, or the owner's wait fails.
static OWN_CHILDREN: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// Registers `pid` as a child its spawner reaps itself, until the guard is dropped.
pub fn own_child(pid: u32) -> OwnChild {
    OWN_CHILDREN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(pid);
    OwnChild(pid)
}

/// The children registered with [`own_child`] and not reaped yet.
pub fn own_children() -> BTreeSet<u32> {
    OWN_CHILDREN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

/// Keeps a pid registered as an owned child; unregisters it when dropped.
#[derive(Debug)]
pub struct OwnChild(u32);

impl Drop for OwnChild {
    fn drop(&mut self) {
        OWN_CHILDREN
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.0);
    }
}
