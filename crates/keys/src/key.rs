//! Key material: generation, digests, constant-time comparison, redaction.
//!
//! Every key is 64 uppercase hexadecimal characters: 256 bits from the OS
//! random source (keen-semantics §8.1). Only SHA-256 digests are kept at
//! rest; 256 random bits make brute force infeasible, so one fast digest
//! without salt is enough (RELIABILITY §3a). Digests are compared as fixed
//! 32-byte arrays with [`subtle`], never as variable-length strings.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{KeysError, Result};

/// Characters of a key shown as its `key_prefix` in listings.
pub const KEY_PREFIX_CHARS: usize = 8;
/// Characters of every key.
pub const KEY_CHARS: usize = 64;

/// A secret API key. It has no `PartialEq` and its `Debug` and `Display`
/// redact it; [`ApiKey::expose`] gives the text, to show it to its owner
/// once.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    /// A fresh random key from the OS random source.
    pub fn generate() -> Result<ApiKey> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| KeysError::Random(e.to_string()))?;
        Ok(ApiKey(hex::encode_upper(bytes)))
    }

    /// Wraps a key given by a caller. Not validated: a malformed key simply
    /// matches nothing, with the same error as an unknown one.
    pub fn from_text(text: &str) -> ApiKey {
        ApiKey(text.to_string())
    }

    /// The key's text. Only for showing the key to its owner once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The SHA-256 digest kept at rest.
    pub fn digest(&self) -> KeyDigest {
        KeyDigest(Sha256::digest(self.0.as_bytes()).into())
    }

    /// Whether the text has the format of a Tally key (64 uppercase hex
    /// characters).
    pub fn is_well_formed(&self) -> bool {
        self.0.len() == KEY_CHARS && self.0.bytes().all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F'))
    }

    /// The first [`KEY_PREFIX_CHARS`] characters, shown in listings.
    pub fn prefix(&self) -> String {
        self.0.chars().take(KEY_PREFIX_CHARS).collect()
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

/// A SHA-256 key digest. Equality is constant-time on the fixed 32 bytes
/// ([`KeyDigest::ct_eq`]); there is deliberately no `PartialEq`.
#[derive(Clone, Copy, Serialize, Deserialize)]
pub struct KeyDigest(#[serde(with = "hex_digest")] [u8; 32]);

impl KeyDigest {
    /// Constant-time equality on the fixed 32 bytes.
    pub fn ct_eq(&self, other: &KeyDigest) -> bool {
        bool::from(self.0.ct_eq(&other.0))
    }

    /// The raw bytes (a lookup key for digest-indexed maps; a lookup is
    /// always confirmed with [`KeyDigest::ct_eq`]).
    pub fn bytes(&self) -> [u8; 32] {
        self.0
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

/// The kind of a key (keen-semantics §8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyKind {
    /// Everything in its project.
    Master,
    /// Record events.
    Write,
    /// Queries, saved-query results, datasets and schema.
    Read,
    /// What its definition permits (keen-semantics §8.3).
    Access,
}

impl KeyKind {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Master => "master",
            KeyKind::Write => "write",
            KeyKind::Read => "read",
            KeyKind::Access => "access",
        }
    }
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

/// The digests of a project's three keys, as stored in `project.json`.
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

    /// Which of the three project keys has digest `d`, if any. Every digest
    /// is compared, so the time taken does not depend on which matched.
    pub fn classify_digest(&self, d: &KeyDigest) -> Option<KeyKind> {
        let m = self.master.ct_eq(d);
        let w = self.write.ct_eq(d);
        let r = self.read.ct_eq(d);
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

    /// Which of the three project keys `key` is, if any.
    pub fn classify(&self, key: &ApiKey) -> Option<KeyKind> {
        self.classify_digest(&key.digest())
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
            assert!(key.is_well_formed(), "{}", key.expose());
            assert_eq!(key.prefix(), key.expose()[..8]);
        }
        assert_ne!(k.master.expose(), k.write.expose());
        let d = KeyDigests::of(&k);
        assert_eq!(d.classify(&k.master), Some(KeyKind::Master));
        assert_eq!(d.classify(&k.write), Some(KeyKind::Write));
        assert_eq!(d.classify(&k.read), Some(KeyKind::Read));
        assert_eq!(d.classify(&ApiKey::from_text("nope")), None);
        assert!(!ApiKey::from_text(&k.master.expose().to_lowercase()).is_well_formed());
    }

    #[test]
    fn debug_and_display_redact() {
        let k = ApiKey::generate().unwrap();
        assert!(!format!("{k:?}").contains(k.expose()));
        assert!(!format!("{k}").contains(k.expose()));
        let d = k.digest();
        assert!(!format!("{d:?}").contains(&hex::encode(d.bytes())));
    }

    #[test]
    fn digests_compare_by_value() {
        let a = ApiKey::from_text("A");
        assert!(a.digest().ct_eq(&ApiKey::from_text("A").digest()));
        assert!(!a.digest().ct_eq(&ApiKey::from_text("B").digest()));
        let json = serde_json::to_string(&a.digest()).unwrap();
        let back: KeyDigest = serde_json::from_str(&json).unwrap();
        assert!(back.ct_eq(&a.digest()));
    }
}
