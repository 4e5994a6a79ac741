//! Project keys: generation, digests, constant-time comparison.
//!
//! Keys are 64 uppercase hex characters (256 bits from the OS random
//! source). Only their SHA-256 digests are stored; a key is shown once, in
//! the answer that creates it.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// A secret API key. `Debug` and `Display` redact it; use
/// [`ApiKey::expose`] to get the text when it must be shown to its owner.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    /// A fresh random key from the OS random source.
    pub fn generate() -> Result<ApiKey> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| Error::Io {
            path: "os random source".into(),
            source: std::io::Error::other(e.to_string()),
        })?;
        Ok(ApiKey(hex::encode_upper(bytes)))
    }

    /// Wraps a key given by a caller (not validated: an invalid key simply
    /// matches nothing).
    pub fn from_text(text: &str) -> ApiKey {
        ApiKey(text.to_string())
    }

    /// The key's text. Only for showing the key to its owner once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The SHA-256 digest stored at rest.
    pub fn digest(&self) -> KeyDigest {
        KeyDigest(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A SHA-256 key digest, compared in constant time.
#[derive(Clone, Copy, Serialize, Deserialize)]
pub struct KeyDigest(#[serde(with = "hex_digest")] [u8; 32]);

impl KeyDigest {
    /// Constant-time equality on the fixed 32 bytes.
    pub fn ct_eq(&self, other: &KeyDigest) -> bool {
        let mut diff = 0u8;
        for (a, b) in self.0.iter().zip(other.0.iter()) {
            diff |= a ^ b;
        }
        diff == 0
    }
}

impl fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyDigest({}…)", &hex::encode(self.0)[..8])
    }
}

mod hex_digest {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        let v = hex::decode(&s).map_err(serde::de::Error::custom)?;
        v.try_into().map_err(|_| serde::de::Error::custom("digest must be 32 bytes"))
    }
}

/// The kind of a project key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// Everything.
    Master,
    /// Record events.
    Write,
    /// Queries and schema.
    Read,
}

/// The three keys of a new project, shown once.
#[derive(Debug, Clone)]
pub struct ProjectKeys {
    /// The master key.
    pub master: ApiKey,
    /// The write key.
    pub write: ApiKey,
    /// The read key.
    pub read: ApiKey,
}

impl ProjectKeys {
    /// Three fresh keys.
    pub fn generate() -> Result<ProjectKeys> {
        Ok(ProjectKeys {
            master: ApiKey::generate()?,
            write: ApiKey::generate()?,
            read: ApiKey::generate()?,
        })
    }
}

/// The digests of a project's keys, as stored in `project.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyDigests {
    /// Master key digest.
    pub master: KeyDigest,
    /// Write key digest.
    pub write: KeyDigest,
    /// Read key digest.
    pub read: KeyDigest,
}

impl KeyDigests {
    /// Digests of `keys`.
    pub fn of(keys: &ProjectKeys) -> KeyDigests {
        KeyDigests {
            master: keys.master.digest(),
            write: keys.write.digest(),
            read: keys.read.digest(),
        }
    }

    /// Which project key `key` is, if any. Every digest is compared, so the
    /// time taken does not depend on which one matched.
    pub fn classify(&self, key: &ApiKey) -> Option<KeyKind> {
        let d = key.digest();
        let m = self.master.ct_eq(&d);
        let w = self.write.ct_eq(&d);
        let r = self.read.ct_eq(&d);
        if m {
            Some(KeyKind::Master)
        } else if w {
            Some(KeyKind::Write)
        } else if r {
            Some(KeyKind::Read)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_64_upper_hex_and_distinct() {
        let k = ProjectKeys::generate().unwrap();
        for key in [&k.master, &k.write, &k.read] {
            assert_eq!(key.expose().len(), 64);
            assert!(key.expose().chars().all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)));
        }
        assert_ne!(k.master.expose(), k.write.expose());
        let d = KeyDigests::of(&k);
        assert_eq!(d.classify(&k.master), Some(KeyKind::Master));
        assert_eq!(d.classify(&k.write), Some(KeyKind::Write));
        assert_eq!(d.classify(&k.read), Some(KeyKind::Read));
        assert_eq!(d.classify(&ApiKey::from_text("nope")), None);
    }

    #[test]
    fn debug_and_display_redact() {
        let k = ApiKey::generate().unwrap();
        assert!(!format!("{k:?}").contains(k.expose()));
        assert!(!format!("{k}").contains(k.expose()));
    }
}
