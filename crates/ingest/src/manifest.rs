//! The per-collection manifest: which segment files, dictionaries and WAL
//! make up the collection's durable state, replaced atomically.
//!
//! # Byte layout (format version 1, little-endian)
//!
//! ```text
//! offset  size  field
//! 0       8     magic  b"TLYMANI1"
//! 8       4     format version (u32) = 1
//! 12      4     body length N (u32)
//! 16      4     crc32c of the body (u32)
//! 20      N     body: UTF-8 JSON of `Manifest`
//! ```
//!
//! The manifest is written to `MANIFEST.tmp`, fsynced, renamed over
//! `MANIFEST` and the directory is fsynced ([`crate::replace_atomic`]); the
//! new state is not trusted before the directory sync returns. Any file in
//! the collection directory that the manifest does not name is garbage from
//! an interrupted seal and is removed at open.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::dict::DictFileState;
use crate::error::{IngestError, Result};
use crate::persist::SegmentFiles;
use crate::schema::Schema;
use crate::value::{ColumnId, SegmentId, SeqNo};

/// Magic bytes at the start of every manifest.
pub const MANIFEST_MAGIC: &[u8; 8] = b"TLYMANI1";
/// The manifest format version this build writes and reads.
pub const MANIFEST_VERSION: u32 = 1;
/// The manifest's file name inside a collection directory.
pub const MANIFEST_FILE: &str = "MANIFEST";

/// One persisted dictionary: the committed prefix of its append-only file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DictFileEntry {
    /// The column the dictionary belongs to.
    pub column: ColumnId,
    /// File name inside the collection directory.
    pub file: String,
    /// The committed prefix (entries and bytes); bytes past it are uncommitted.
    pub state: DictFileState,
}

/// The durable state of one collection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The collection's name.
    pub collection: String,
    /// Incremented on every commit.
    pub generation: u64,
    /// Every WAL record with `seq <= last_seq` is in the segments.
    pub last_seq: SeqNo,
    /// The current WAL file name; records past `last_seq` are replayed from it.
    pub wal_file: String,
    /// The id the next sealed segment gets.
    pub next_segment_id: SegmentId,
    /// Sealed segments, in seal order.
    pub segments: Vec<SegmentFiles>,
    /// The collection's columns.
    pub schema: Schema,
    /// Persisted dictionaries.
    pub dictionaries: Vec<DictFileEntry>,
}

impl Manifest {
    /// Encodes the manifest into its byte layout.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let body = serde_json::to_vec(self)
            .map_err(|e| IngestError::Internal(format!("manifest encode: {e}")))?;
        let len = u32::try_from(body.len())
            .map_err(|_| IngestError::Internal("manifest larger than 4 GiB".into()))?;
        let mut out = Vec::with_capacity(20 + body.len());
        out.extend_from_slice(MANIFEST_MAGIC);
        out.extend_from_slice(&MANIFEST_VERSION.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Decodes a manifest; any damage is [`IngestError::Corrupt`] naming `file`.
    pub fn decode(bytes: &[u8], file: &Path) -> Result<Manifest> {
        let corrupt = |why: &str| IngestError::corrupt(file, why.to_string());
        if bytes.len() < 20 {
            return Err(corrupt("shorter than the manifest header"));
        }
        if &bytes[0..8] != MANIFEST_MAGIC {
            return Err(corrupt("bad magic"));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        if version != MANIFEST_VERSION {
            return Err(IngestError::corrupt(
                file,
                format!("unsupported manifest version {version}"),
            ));
        }
        let len = u32::from_le_bytes(bytes[12..16].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(bytes[16..20].try_into().expect("4 bytes"));
        let body = &bytes[20..];
        if body.len() != len {
            return Err(IngestError::corrupt(
                file,
                format!("body is {} bytes, header says {len}", body.len()),
            ));
        }
        if crc32c::crc32c(body) != crc {
            return Err(corrupt("checksum mismatch"));
        }
        serde_json::from_slice(body)
            .map_err(|e| IngestError::corrupt(file, format!("bad manifest body: {e}")))
    }
}
