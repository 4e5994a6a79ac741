//! # tally-keys: master, write, read and access keys
//!
//! ## Data flow
//!
//! ```text
//! caller's key text ──SHA-256──▶ KeyDigest ──constant-time compare──▶ Principal
//!     (project keys: KeyDigests; access keys: AccessKeyStore, active only)
//! Principal × Operation ──authorize (the §8.2 table)──▶ Scope | InvalidApiKey | AdminOnly
//! Scope ──restrict_query──▶ Query with the key's filters ANDed on every path
//!       ──apply_autofill──▶ event with the key's autofill merged (autofill wins)
//!       ──saved_query / cached_query / dataset──▶ allowed, blocked, index_by checks
//! ```
//!
//! - [`key`]: key text, digests, redaction. Keys are never stored; a key
//!   type has no `PartialEq`, and its `Debug`/`Display` print
//!   `<redacted>`.
//! - [`access`]: access-key definitions, validated strictly (an unknown
//!   member anywhere is an error naming it).
//! - [`authz`]: [`Operation`] (every facade entry point), [`Principal`],
//!   [`authorize`], [`Scope`].
//! - [`inject`]: filter injection into every query path, autofill.
//! - [`store`]: a project's access keys at rest (digests only) and their
//!   versioned file format.
//!
//! The facade (`tally`) resolves the key, calls [`authorize`] once at the
//! start of every keyed entry point, and applies the scope; nothing here
//! touches files.
//!
//! ## Choices the spec leaves open
//!
//! - Management calls name a key by its full text or by its 8-character
//!   `key_prefix` when that names exactly one key (a master who lost a key
//!   can still revoke it).
//! - A definition may echo an answer's `key: null`, `key_prefix` and
//!   `project_id` (so an answer can be sent back as an update); a non-null
//!   `key` is refused: keys are generated, never chosen.
//! - `permitted` defaults to none; repeats are dropped.
//! - Saved-query, cached-query and dataset names in allow and block lists
//!   must be valid resource names (1–256 of `[A-Za-z0-9_-]`), compared as
//!   exact bytes (RELIABILITY T8).
//! - An access key's `schema` permission shows the whole collection
//!   schema, other tenants' property names included; give filtered keys
//!   `schema` only where that is acceptable (RELIABILITY T11). Without it
//!   schema calls are refused.
//! - Timing side channels in query latency are out of scope; key
//!   comparison is constant-time.
#![deny(missing_docs)]

pub mod access;
pub mod authz;
pub mod error;
pub mod inject;
pub mod key;
pub mod store;

pub use access::{AccessKeyDef, AccessOptions, DatasetOp, NameLists, Permission};
pub use authz::{authorize, Operation, Principal, Scope};
pub use error::{KeysError, Result};
pub use inject::{apply_autofill, restrict_query};
pub use key::{ApiKey, KeyDigest, KeyDigests, KeyKind, ProjectKeys, KEY_CHARS, KEY_PREFIX_CHARS};
pub use store::{AccessKeyRecord, AccessKeyStore, ACCESS_KEYS_FORMAT_VERSION};
