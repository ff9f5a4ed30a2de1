//! `BucketId`: a short hash of a target and a signature, the same on every node and across runs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha1::{Digest, Sha1};

/// Hex digits in a bucket id: 64 bits, so a collision among even a
/// million buckets has odds of about one in 36 million.
pub const BUCKET_ID_LEN: usize = 16;

/// A bucket's id: the first 16 hex digits of a SHA-1 over a versioned,
/// canonical text (see [`Signature::bucket_id`](crate::Signature::bucket_id)).
/// Computed, never allocated, so every node derives the same id for the
/// same bug without talking to the others.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BucketId(String);

impl BucketId {
    /// The id of the canonical text `canonical`.
    pub(crate) fn of_text(canonical: &str) -> BucketId {
        let digest = Sha1::digest(canonical.as_bytes());
        let mut hex = hex::encode(digest);
        hex.truncate(BUCKET_ID_LEN);
        BucketId(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BucketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A string that is not 16 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid bucket id {0:?} (expected {BUCKET_ID_LEN} lowercase hex digits)")]
pub struct InvalidBucketId(pub String);

impl FromStr for BucketId {
    type Err = InvalidBucketId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = s.len() == BUCKET_ID_LEN
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if ok {
            Ok(BucketId(s.to_owned()))
        } else {
            Err(InvalidBucketId(s.to_owned()))
        }
    }
}

impl Serialize for BucketId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for BucketId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_sixteen_hex_digits_and_validated() {
        let id = BucketId::of_text("x");
        assert_eq!(id.as_str().len(), BUCKET_ID_LEN);
        assert_eq!(id.to_string().parse::<BucketId>().unwrap(), id);
        // SHA-1("x") = 11f6ad8ec52a2984abaafd7c3b516503785c2072
        assert_eq!(id.as_str(), "11f6ad8ec52a2984");
        assert!("11F6AD8EC52A2984".parse::<BucketId>().is_err());
        assert!("11f6ad8e".parse::<BucketId>().is_err());
        assert!("../../etc/passwd".parse::<BucketId>().is_err());
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<BucketId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<BucketId>("\"zz\"").is_err());
    }
}
