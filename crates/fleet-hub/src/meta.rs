//! `meta.json`, the hub's root object: which layout the hub uses and which hub it is.
//!
//! The layout number is what keeps an old fuzzfleet from writing into a hub a newer one
//! has reorganised. The `hub_id` is made when the hub is first used; a node that finds
//! it missing or changed knows the hub was wiped or replaced and pushes everything again.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::HubError;
use crate::keys::{self, LAYOUT_VERSION};
use crate::store::{Got, Store};

/// Identifies the object, so a stray `meta.json` from another tool is not taken for ours.
const FORMAT: &str = "fuzzfleet-hub";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Meta {
    pub(crate) format: String,
    pub(crate) layout: u32,
    pub(crate) hub_id: String,
    pub(crate) created: String,
    pub(crate) created_by: String,
}

/// Reads `meta.json`, creating it if the hub is new (or was wiped). Fails, writing
/// nothing, if the hub uses a newer layout.
pub(crate) async fn ensure(store: &Store, node: &str) -> Result<Meta, HubError> {
    store.check_available()?;
    let key = keys::meta();
    for _ in 0..3 {
        if let Some(meta) = read(store).await? {
            return Ok(meta);
        }
        let meta = Meta {
            format: FORMAT.to_owned(),
            layout: LAYOUT_VERSION,
            hub_id: new_hub_id(node),
            created: fleet_store::rfc3339(fleet_store::now_ms()),
            created_by: node.to_owned(),
        };
        let bytes = serde_json::to_vec_pretty(&meta).expect("meta serializes");
        // Two nodes meeting an empty hub at once: one creates, the other reads it back.
        if store.put_new(&key, Bytes::from(bytes)).await? {
            return Ok(meta);
        }
    }
    Err(HubError::BadObject {
        key: key.to_string(),
        reason: "appears and disappears while being created".to_owned(),
    })
}

/// `meta.json` if present; an error if unusable or from a newer layout.
pub(crate) async fn read(store: &Store) -> Result<Option<Meta>, HubError> {
    let key = keys::meta();
    let bytes = match store.get(&key, 1 << 20).await? {
        Got::Bytes(b) => b,
        Got::Missing => return Ok(None),
        Got::TooLarge(n) => {
            return Err(HubError::BadObject {
                key: key.to_string(),
                reason: format!("{n} bytes, not a meta.json"),
            });
        }
        // Without meta.json nothing else can be done: a hub that does not answer is
        // unreachable (degraded), not skipped.
        Got::Stalled(limit) => {
            return Err(HubError::Unreachable {
                url: store.url().to_owned(),
                op: "get",
                key: key.to_string(),
                attempts: 1,
                source: format!("no answer within {limit:?}").into(),
            });
        }
        Got::Refused(reason) => {
            return Err(HubError::BadObject {
                key: key.to_string(),
                reason: format!("{reason} (remove or replace it; the hub is unusable until then)"),
            });
        }
    };
    let bad = |reason: String| HubError::BadObject {
        key: key.to_string(),
        reason,
    };
    // The layout number first, alone: a newer layout may have changed everything else.
    #[derive(Deserialize)]
    struct LayoutOnly {
        format: String,
        layout: u32,
    }
    let head: LayoutOnly = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    if head.format != FORMAT {
        return Err(bad(format!("format is {:?}, not {FORMAT:?}", head.format)));
    }
    if head.layout > LAYOUT_VERSION {
        return Err(HubError::NewerLayout {
            url: store.url().to_owned(),
            found: head.layout,
            supported: LAYOUT_VERSION,
        });
    }
    let meta: Meta = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    check_hub_id(&meta.hub_id).map_err(|why| bad(format!("hub_id {:?} {why}", meta.hub_id)))?;
    Ok(Some(meta))
}

/// A `hub_id` follows the rule of every name fuzzfleet takes from outside (it is written
/// into local state files, and must never be able to become a path): 1 to 64 characters
/// from `A-Z a-z 0-9 _ . -`, not starting with `.`.
fn check_hub_id(id: &str) -> Result<(), String> {
    const MAX: usize = 64;
    if id.is_empty() {
        return Err("is empty".to_owned());
    }
    if id.starts_with('.') {
        return Err("starts with '.'".to_owned());
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "contains {c:?}: a hub_id has only A-Z, a-z, 0-9, '_', '.', '-'"
        ));
    }
    if id.len() > MAX {
        return Err(format!("is {} characters long (at most {MAX})", id.len()));
    }
    Ok(())
}

/// Unique enough for what it does (telling one hub's lifetime from the next):
/// time, process and node, hashed.
fn new_hub_id(node: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let seed = format!("{nanos}-{}-{node}", std::process::id());
    fleet_store::sha1_hex(seed.as_bytes())[..16].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_ids_are_names() {
        assert!(check_hub_id(&new_hub_id("n")).is_ok());
        for (bad, why) in [
            ("../../x", "starts with '.'"),
            ("a/../../x", "contains '/'"),
            ("", "is empty"),
            ("a b", "contains ' '"),
            ("bad:id", "contains ':'"),
        ] {
            let err = check_hub_id(bad).unwrap_err();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
        assert!(
            check_hub_id(&"a".repeat(65))
                .unwrap_err()
                .contains("65 characters")
        );
    }
}
