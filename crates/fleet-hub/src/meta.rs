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
    if meta.hub_id.is_empty() || meta.hub_id.len() > 64 || meta.hub_id.contains(char::is_whitespace)
    {
        return Err(bad(format!("hub_id {:?} is not an id", meta.hub_id)));
    }
    Ok(Some(meta))
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
