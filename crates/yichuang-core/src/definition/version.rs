//! Definition versions (定义版本): a version is named by a hash of the definition's canonical
//! form, so that re-indenting a file, reordering nothing but whitespace or editing a comment
//! gives the same version, and any change of meaning gives another.
//!
//! The canonical form is the parsed file ([`super::raw::RawDefinition`], every field with its
//! default filled in) written back as compact RON; the version is the first 8 bytes of its
//! SHA-256, shown as 16 hexadecimal digits. Every case records the version it was submitted
//! under (`Submitted.definition`) and runs on it for life unless migrated.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::raw::RawDefinition;

/// A definition version: 16 hexadecimal digits of the SHA-256 of the canonical form.
///
/// ```
/// use yichuang_core::Definition;
///
/// let text = include_str!("../../../../examples/definitions/minimal.ron");
/// let a = Definition::from_ron(text, "minimal.ron").unwrap();
/// // Comments and layout are not part of the meaning: same version.
/// let b = Definition::from_ron(&format!("// 注释\n{}", text.replace("    ", "\t")), "b.ron").unwrap();
/// assert_eq!(a.version(), b.version());
/// // A changed limit is another version.
/// let c = Definition::from_ron(&text.replace("promised_days: 1", "promised_days: 2"), "c.ron").unwrap();
/// assert_ne!(a.version(), c.version());
/// assert_eq!(a.version().to_string().len(), 16);
/// assert_eq!(a.version().to_string().parse::<yichuang_core::definition::Version>(), Ok(a.version()));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version([u8; 8]);

impl Version {
    /// The version of a canonical form.
    pub(crate) fn of_canonical(canonical: &str) -> Version {
        let digest = Sha256::digest(canonical.as_bytes());
        let mut bytes = [0; 8];
        bytes.copy_from_slice(&digest[..8]);
        Version(bytes)
    }
}

/// The canonical form of a parsed definition: compact RON of every field, defaults filled in.
pub(crate) fn canonical_form(raw: &RawDefinition) -> String {
    ron::to_string(raw).expect("a parsed definition serializes back to RON")
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({self})")
    }
}

impl std::str::FromStr for Version {
    type Err = String;
    fn from_str(s: &str) -> Result<Version, String> {
        let bad = || {
            let shown: String = s.chars().take(40).collect();
            format!("`{shown}` is not a definition version; a version is 16 hexadecimal digits, e.g. 3f2a9c0b1d4e5f60")
        };
        if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let mut bytes = [0; 8];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(Version(bytes))
    }
}

impl Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
