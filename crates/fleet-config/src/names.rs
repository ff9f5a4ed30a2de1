//! Validated names: targets, tiers and nodes. Names become directory names, database
//! keys and hub object keys, so they are checked once here and typed from then on.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest name accepted: long enough for any harness name, short enough to stay a
/// comfortable path component on every filesystem.
pub const MAX_NAME_LEN: usize = 64;

/// Why a string is not a valid name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} name \"{name}\": {reason}")]
pub struct NameError {
    /// "target", "tier" or "node".
    pub kind: &'static str,
    pub name: String,
    pub reason: String,
}

/// Checks the rule every name follows: 1 to 64 characters from `[A-Za-z0-9_.-]`, not
/// starting with `.` (so no name is `.`, `..` or hidden).
fn check(kind: &'static str, name: &str) -> Result<(), NameError> {
    let reason = if name.is_empty() {
        Some("is empty".to_owned())
    } else if name.starts_with('.') {
        Some("starts with '.' (names become directory names)".to_owned())
    } else if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        Some(format!(
            "contains {c:?} (names become directory names: only A-Z, a-z, 0-9, '_', '.', '-')"
        ))
    } else if name.len() > MAX_NAME_LEN {
        Some(format!(
            "is {} characters long (at most {MAX_NAME_LEN})",
            name.len()
        ))
    } else {
        None
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(NameError {
            kind,
            name: name.to_owned(),
            reason,
        }),
    }
}

macro_rules! name_type {
    ($(#[$doc:meta])* $ty:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $ty(String);

        impl $ty {
            /// Validates `name` (see [`MAX_NAME_LEN`] and the character rule).
            pub fn new(name: impl Into<String>) -> Result<Self, NameError> {
                let name = name.into();
                check($kind, &name)?;
                Ok(Self(name))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $ty {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $ty {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, NameError> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = NameError;
            fn try_from(s: String) -> Result<Self, NameError> {
                Self::new(s)
            }
        }

        impl From<$ty> for String {
            fn from(name: $ty) -> String {
                name.0
            }
        }

        impl PartialEq<str> for $ty {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $ty {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        /// Deserializing validates, so a name read from the hub or an API is safe to
        /// use as a path component.
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

name_type!(
    /// The name of a fuzz target: a cargo-fuzz binary name or a `[[target]] name`.
    TargetName,
    "target"
);
name_type!(
    /// The name of a tier, from `[tier.NAME]`.
    TierName,
    "tier"
);
name_type!(
    /// The name of a node, from `[node.NAME]`.
    NodeName,
    "node"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_directory_safe_names() {
        for ok in [
            "fuzz_block",
            "a",
            "tx-validation.v2",
            "A_1",
            &"x".repeat(64),
        ] {
            assert!(TargetName::new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_names_that_are_not_safe_path_components() {
        let reason = |s: &str| TargetName::new(s).unwrap_err().reason;
        assert_eq!(reason(""), "is empty");
        assert!(reason(".hidden").starts_with("starts with '.'"));
        assert!(reason("..").starts_with("starts with '.'"));
        assert!(reason("a/b").starts_with("contains '/'"));
        assert!(reason("a b").starts_with("contains ' '"));
        assert!(reason("é").starts_with("contains 'é'"));
        assert_eq!(
            reason(&"x".repeat(65)),
            "is 65 characters long (at most 64)"
        );
    }

    #[test]
    fn deserializing_validates() {
        let ok: TargetName = serde_json_like("\"merkle\"").unwrap();
        assert_eq!(ok, "merkle");
        assert!(serde_json_like::<TargetName>("\"../etc\"").is_err());
    }

    /// TOML is the format at hand; a one-key document stands in for a bare string.
    fn serde_json_like<T: for<'de> Deserialize<'de>>(value: &str) -> Result<T, toml::de::Error> {
        #[derive(Deserialize)]
        struct One<T> {
            v: T,
        }
        toml::from_str::<One<T>>(&format!("v = {value}")).map(|o| o.v)
    }
}
