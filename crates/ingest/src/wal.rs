//! The per-collection write-ahead log: length-prefixed, checksummed, salted
//! records with consecutive sequence numbers (RELIABILITY.md §1c.3–5).
//!
//! # File format, version 1
//!
//! All integers are little-endian (`to_le_bytes`). CRCs are CRC-32C
//! (Castagnoli, the `crc32c` crate).
//!
//! ## Header: 32 bytes at offset 0
//!
//! | offset | size | field       | value |
//! |-------:|-----:|-------------|-------|
//! | 0      | 8    | magic       | `b"TLYWAL01"` |
//! | 8      | 4    | version     | u32, `1` |
//! | 12     | 8    | salt        | u64, random per file (OS CSPRNG via `getrandom`) |
//! | 20     | 8    | first_seq   | u64, sequence number of the first record |
//! | 28     | 4    | header_crc  | u32, CRC-32C of bytes 0..28 |
//!
//! ## Records: from offset 32 to the end of the file, back to back
//!
//! | offset | size | field   | value |
//! |-------:|-----:|---------|-------|
//! | 0      | 4    | len     | u32, payload length, at most [`MAX_RECORD_PAYLOAD`] (256 MiB) |
//! | 4      | 4    | crc     | u32, CRC-32C of `salt ‖ seq ‖ len ‖ payload` (8 + 8 + 4 bytes LE, then the payload) |
//! | 8      | 8    | seq     | u64, sequence number: `first_seq`, `first_seq + 1`, … |
//! | 16     | len  | payload | opaque bytes |
//!
//! There is no padding and no footer; a record is valid when all of it is in
//! the file, `len` is in range and `crc` matches. The salt in every record's
//! CRC means bytes from another log file (an earlier generation of the same
//! collection, say, or bytes crafted without knowledge of the salt) never
//! validate; CRC-32C is a crash detector, not a security boundary (§1c.5).
//!
//! # Recovery mode (§7 item 2)
//!
//! [`replay`] reads the records in order and stops at the first invalid
//! one. Then:
//!
//! * if no valid record follows anywhere later in the file (scanning byte by
//!   byte for a record that validates with this file's salt and has a larger
//!   sequence number), the rest is a **torn tail**: it is truncated
//!   (`set_len` + `sync_data`) and reported in [`WalReplay::torn_tail`];
//! * otherwise it is **mid-log corruption**: [`IngestError::Corrupt`] naming
//!   the file. Nothing is ever skipped silently.
//!
//! A file shorter than the header (a crash during [`WalWriter::create`]) is
//! an empty log with a torn tail and no header ([`WalReplay::first_seq`] is
//! `None`); the caller removes it and creates the log again. A complete
//! header with a bad magic, checksum or version is corrupt, and so is a
//! valid record whose sequence number is not the next one (a gap).
//!
//! Caveat for the reordered power-loss model (M4): a crash that persists a
//! later unsynced sector but not an earlier one leaves a hole followed by a
//! valid record, which this format cannot tell from mid-log corruption, so
//! replay reports it as corrupt. Synced records are never lost either way.
//!
//! # Failure handling (§7 item 3)
//!
//! A failed `sync` poisons the [`WalWriter`]: the failing call returns
//! [`IngestError::Io`], every later call [`IngestError::Poisoned`], until the
//! log is replayed and reopened. A failed `append` is rolled back with
//! `set_len`; if that fails too, the writer is poisoned as well.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{IngestError, Result};
use crate::storage::{read_all, Storage, StorageFile};
use crate::value::SeqNo;

/// The magic bytes at the start of every WAL file.
pub const WAL_MAGIC: [u8; 8] = *b"TLYWAL01";
/// The WAL format version this crate writes and reads.
pub const WAL_VERSION: u32 = 1;
/// Length of the file header in bytes.
pub const WAL_HEADER_LEN: usize = 32;
/// Length of a record's fixed header (`len`, `crc`, `seq`) in bytes.
pub const WAL_RECORD_HEADER_LEN: usize = 16;
/// Largest record payload (256 MiB); a larger `len` field is invalid.
pub const MAX_RECORD_PAYLOAD: usize = 256 << 20;

/// The decoded file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalHeader {
    /// The file's random salt, mixed into every record's CRC.
    pub salt: u64,
    /// Sequence number of the file's first record.
    pub first_seq: SeqNo,
}

/// One record read back from a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalRecord {
    /// Its sequence number.
    pub seq: SeqNo,
    /// Its payload.
    pub payload: Vec<u8>,
}

/// Invalid bytes at the end of a log, after the last valid record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TornTail {
    /// Offset of the first invalid byte (the valid length of the log).
    pub offset: u64,
    /// How many bytes were invalid (and truncated by [`replay`]).
    pub dropped_bytes: u64,
}

/// The result of [`decode`]: everything valid in a log's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedWal {
    /// The header, or `None` when the bytes are shorter than a header.
    pub header: Option<WalHeader>,
    /// The valid records, in order, with consecutive sequence numbers.
    pub records: Vec<WalRecord>,
    /// The sequence number the next record gets (0 without a header).
    pub next_seq: SeqNo,
    /// Bytes up to the end of the last valid record (0 without a header).
    pub valid_len: u64,
    /// The invalid tail, if any.
    pub torn_tail: Option<TornTail>,
}

/// Why bytes are not a valid log (beyond a torn tail, which is not an error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WalDecodeError {
    /// The first 8 bytes are not [`WAL_MAGIC`].
    #[error("bad wal magic {found:02x?}")]
    BadMagic {
        /// The bytes found.
        found: [u8; 8],
    },
    /// The header CRC does not match.
    #[error("wal header checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    HeaderChecksum {
        /// The CRC in the file.
        stored: u32,
        /// The CRC of the header bytes.
        computed: u32,
    },
    /// A version this crate does not read.
    #[error("unsupported wal format version {version}")]
    UnsupportedVersion {
        /// The version found.
        version: u32,
    },
    /// A valid record with the wrong sequence number.
    #[error("record at offset {offset} has sequence number {found}, expected {expected}")]
    SeqGap {
        /// Offset of the record.
        offset: u64,
        /// The sequence number expected there.
        expected: SeqNo,
        /// The sequence number found.
        found: SeqNo,
    },
    /// An invalid record followed later by a valid one.
    #[error(
        "invalid record at offset {offset} is followed by a valid record \
         (sequence number {next_seq}) at offset {next_offset}"
    )]
    MidLogCorruption {
        /// Offset of the invalid record.
        offset: u64,
        /// Offset of the later valid record.
        next_offset: u64,
        /// Its sequence number.
        next_seq: SeqNo,
    },
    /// A record carries sequence number `u64::MAX`, leaving none for the next.
    #[error("record at offset {offset} exhausts the sequence numbers")]
    SeqOverflow {
        /// Offset of the record.
        offset: u64,
    },
}

/// What [`replay`] found (after truncating any torn tail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalReplay {
    /// The valid records, in order, with consecutive sequence numbers.
    pub records: Vec<WalRecord>,
    /// The sequence number the next appended record gets (0 without a header).
    pub next_seq: SeqNo,
    /// The file's salt (0 without a header).
    pub salt: u64,
    /// The file's length after replay: header plus valid records (0 without a header).
    pub valid_len: u64,
    /// The invalid tail that replay truncated, if any.
    pub torn_tail: Option<TornTail>,
    /// The header's first sequence number; `None` when the file was shorter
    /// than a header (a crash during [`WalWriter::create`]): it was truncated
    /// to 0 bytes and must be removed and created again.
    pub first_seq: Option<SeqNo>,
}

/// Encodes a file header.
pub fn encode_header(salt: u64, first_seq: SeqNo) -> [u8; WAL_HEADER_LEN] {
    let mut h = [0u8; WAL_HEADER_LEN];
    h[0..8].copy_from_slice(&WAL_MAGIC);
    h[8..12].copy_from_slice(&WAL_VERSION.to_le_bytes());
    h[12..20].copy_from_slice(&salt.to_le_bytes());
    h[20..28].copy_from_slice(&first_seq.to_le_bytes());
    let crc = crc32c::crc32c(&h[0..28]);
    h[28..32].copy_from_slice(&crc.to_le_bytes());
    h
}

fn record_crc(salt: u64, seq: SeqNo, len: u32, payload: &[u8]) -> u32 {
    let mut pre = [0u8; 20];
    pre[0..8].copy_from_slice(&salt.to_le_bytes());
    pre[8..16].copy_from_slice(&seq.to_le_bytes());
    pre[16..20].copy_from_slice(&len.to_le_bytes());
    crc32c::crc32c_append(crc32c::crc32c(&pre), payload)
}

fn payload_len(payload: &[u8]) -> Result<u32> {
    payload_len_of(payload.len())
}

fn payload_len_of(n: usize) -> Result<u32> {
    match u32::try_from(n) {
        Ok(len) if n <= MAX_RECORD_PAYLOAD => Ok(len),
        _ => Err(IngestError::InvalidParameter {
            name: "payload",
            reason: format!(
                "wal record payload of {n} bytes is over the {MAX_RECORD_PAYLOAD}-byte maximum"
            ),
        }),
    }
}

fn encode_record_into(out: &mut Vec<u8>, salt: u64, seq: SeqNo, payload: &[u8]) -> Result<()> {
    let len = payload_len(payload)?;
    out.reserve(WAL_RECORD_HEADER_LEN + payload.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&record_crc(salt, seq, len, payload).to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// Encodes one record for a file with `salt`. Fails with
/// [`IngestError::InvalidParameter`] when the payload is over
/// [`MAX_RECORD_PAYLOAD`].
///
/// ```
/// use tally_ingest::{decode_wal as decode, encode_header, encode_record};
/// let mut file = encode_header(42, 7).to_vec();
/// file.extend(encode_record(42, 7, b"hello")?);
/// let wal = decode(&file)?;
/// assert_eq!(wal.records[0].payload, b"hello");
/// assert_eq!(wal.next_seq, 8);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn encode_record(salt: u64, seq: SeqNo, payload: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    encode_record_into(&mut out, salt, seq, payload)?;
    Ok(out)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// A record that validates at `pos`: `(seq, payload range end = record end)`.
fn valid_record_at(bytes: &[u8], pos: usize, salt: u64) -> Option<(SeqNo, usize)> {
    let body = pos.checked_add(WAL_RECORD_HEADER_LEN)?;
    if body > bytes.len() {
        return None;
    }
    let len = u32_at(bytes, pos);
    let len_usize = usize::try_from(len).ok()?;
    if len_usize > MAX_RECORD_PAYLOAD {
        return None;
    }
    let end = body.checked_add(len_usize)?;
    if end > bytes.len() {
        return None;
    }
    let seq = u64_at(bytes, pos + 8);
    (record_crc(salt, seq, len, &bytes[body..end]) == u32_at(bytes, pos + 4)).then_some((seq, end))
}

/// Looks for a valid record after the invalid one at `pos` whose sequence
/// number is at least `expected`. Records are at least 16 bytes, so a real
/// one has `seq - expected <= (len - pos) / 16`; that cheap check on the seq
/// field runs first, keeping the scan linear.
fn find_later_record(
    bytes: &[u8],
    pos: usize,
    salt: u64,
    expected: SeqNo,
) -> Option<(usize, SeqNo)> {
    let max_ahead = ((bytes.len() - pos) / WAL_RECORD_HEADER_LEN) as u64;
    let last = bytes.len().checked_sub(WAL_RECORD_HEADER_LEN)?;
    (pos + 1..=last).find_map(|q| {
        let seq = u64_at(bytes, q + 8);
        if seq < expected || seq - expected > max_ahead {
            return None;
        }
        valid_record_at(bytes, q, salt).map(|(s, _)| (q, s))
    })
}

/// Decodes a log's bytes without I/O; [`replay`] builds on it and fuzz
/// targets can feed it anything (it never panics).
///
/// Returns the header and the longest run of valid records, with any
/// invalid tail reported in [`DecodedWal::torn_tail`]; mid-log corruption,
/// a sequence gap or a bad header is an error.
pub fn decode(bytes: &[u8]) -> Result<DecodedWal, WalDecodeError> {
    if bytes.len() < WAL_HEADER_LEN {
        return Ok(DecodedWal {
            header: None,
            records: Vec::new(),
            next_seq: 0,
            valid_len: 0,
            torn_tail: Some(TornTail { offset: 0, dropped_bytes: bytes.len() as u64 }),
        });
    }
    let mut magic = [0u8; 8];
    magic.copy_from_slice(&bytes[0..8]);
    if magic != WAL_MAGIC {
        return Err(WalDecodeError::BadMagic { found: magic });
    }
    let stored = u32_at(bytes, 28);
    let computed = crc32c::crc32c(&bytes[0..28]);
    if stored != computed {
        return Err(WalDecodeError::HeaderChecksum { stored, computed });
    }
    let version = u32_at(bytes, 8);
    if version != WAL_VERSION {
        return Err(WalDecodeError::UnsupportedVersion { version });
    }
    let header = WalHeader { salt: u64_at(bytes, 12), first_seq: u64_at(bytes, 20) };

    let mut records = Vec::new();
    let mut expected = header.first_seq;
    let mut pos = WAL_HEADER_LEN;
    let mut torn_tail = None;
    while pos < bytes.len() {
        match valid_record_at(bytes, pos, header.salt) {
            Some((seq, end)) => {
                if seq != expected {
                    return Err(WalDecodeError::SeqGap {
                        offset: pos as u64,
                        expected,
                        found: seq,
                    });
                }
                records.push(WalRecord {
                    seq,
                    payload: bytes[pos + WAL_RECORD_HEADER_LEN..end].to_vec(),
                });
                expected =
                    seq.checked_add(1).ok_or(WalDecodeError::SeqOverflow { offset: pos as u64 })?;
                pos = end;
            }
            None => {
                if let Some((q, seq)) = find_later_record(bytes, pos, header.salt, expected) {
                    return Err(WalDecodeError::MidLogCorruption {
                        offset: pos as u64,
                        next_offset: q as u64,
                        next_seq: seq,
                    });
                }
                torn_tail = Some(TornTail {
                    offset: pos as u64,
                    dropped_bytes: (bytes.len() - pos) as u64,
                });
                break;
            }
        }
    }
    Ok(DecodedWal {
        header: Some(header),
        records,
        next_seq: expected,
        valid_len: pos as u64,
        torn_tail,
    })
}

/// Reads the log at `path`, truncating (and syncing) a torn tail; see the
/// module docs for the recovery rules.
///
/// Errors: [`IngestError::Io`] naming the file for storage failures,
/// [`IngestError::Corrupt`] naming the file for mid-log corruption, a
/// sequence gap or a bad header.
pub fn replay(storage: &Arc<dyn Storage>, path: &Path) -> Result<WalReplay> {
    let decoded = read_log(storage, path)?;
    if let Some(tail) = decoded.torn_tail.filter(|t| t.dropped_bytes > 0) {
        let truncate = || -> io::Result<()> {
            let mut file = storage.open_append(path)?;
            file.set_len(tail.offset)?;
            file.sync_data()
        };
        truncate().map_err(|e| IngestError::io(path, e))?;
    }
    Ok(into_replay(decoded))
}

/// Reads and decodes the log at `path` (storage errors and mid-log
/// corruption name the file).
fn read_log(storage: &Arc<dyn Storage>, path: &Path) -> Result<DecodedWal> {
    let bytes = read_all(storage.as_ref(), path).map_err(|e| IngestError::io(path, e))?;
    decode(&bytes).map_err(|e| IngestError::corrupt(path, e.to_string()))
}

fn into_replay(decoded: DecodedWal) -> WalReplay {
    WalReplay {
        records: decoded.records,
        next_seq: decoded.next_seq,
        salt: decoded.header.map_or(0, |h| h.salt),
        valid_len: decoded.valid_len,
        torn_tail: decoded.torn_tail,
        first_seq: decoded.header.map(|h| h.first_seq),
    }
}

/// Reads a log that a later log follows (see the collection's WAL chain):
/// it was synced whole before its successor was created, so unlike
/// [`replay`] a torn tail or a missing header is corruption naming the
/// file, and nothing is truncated.
pub fn replay_closed(storage: &Arc<dyn Storage>, path: &Path) -> Result<WalReplay> {
    let decoded = read_log(storage, path)?;
    if decoded.torn_tail.is_some_and(|t| t.dropped_bytes > 0) || decoded.header.is_none() {
        return Err(IngestError::corrupt(
            path,
            "a log followed by a later log ends in an incomplete record or header",
        ));
    }
    Ok(WalReplay { torn_tail: None, ..into_replay(decoded) })
}

/// Appends records to one log file. `Send`; one writer per file.
///
/// ```
/// use std::sync::Arc;
/// use tally_ingest::{replay_wal as replay, StdStorage, Storage, WalWriter};
/// # let dir = tempfile::tempdir().unwrap();
/// let storage: Arc<dyn Storage> = Arc::new(StdStorage::new());
/// let path = dir.path().join("events.wal");
/// let mut wal = WalWriter::create(Arc::clone(&storage), path.clone(), 1)?;
/// assert_eq!(wal.append(b"a")?, 1);
/// assert_eq!(wal.append(b"b")?, 2);
/// wal.sync()?;
/// let log = replay(&storage, &path)?;
/// assert_eq!(log.records.len(), 2);
/// let mut wal = WalWriter::open_append(storage, path, &log)?;
/// assert_eq!(wal.append(b"c")?, 3);
/// # Ok::<(), tally_ingest::IngestError>(())
/// ```
pub struct WalWriter {
    path: PathBuf,
    file: Box<dyn StorageFile>,
    salt: u64,
    next_seq: SeqNo,
    len: u64,
    poisoned: bool,
}

impl fmt::Debug for WalWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WalWriter")
            .field("path", &self.path)
            .field("next_seq", &self.next_seq)
            .field("len", &self.len)
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

impl WalWriter {
    /// Creates a new log file (fails if it exists) whose first record gets
    /// `first_seq`, writes and fsyncs the header, and syncs the parent
    /// directory so the file's name is durable.
    pub fn create(storage: Arc<dyn Storage>, path: PathBuf, first_seq: SeqNo) -> Result<WalWriter> {
        let mut salt = [0u8; 8];
        getrandom::fill(&mut salt).map_err(|e| {
            IngestError::io(&path, io::Error::other(format!("os random source failed: {e}")))
        })?;
        let salt = u64::from_le_bytes(salt);
        let header = encode_header(salt, first_seq);
        let mut file = storage.create_new(&path).map_err(|e| IngestError::io(&path, e))?;
        file.append(&header).map_err(|e| IngestError::io(&path, e))?;
        file.sync_data().map_err(|e| IngestError::io(&path, e))?;
        let dir = parent_dir(&path);
        storage.sync_dir(dir).map_err(|e| IngestError::io(dir, e))?;
        Ok(WalWriter {
            path,
            file,
            salt,
            next_seq: first_seq,
            len: WAL_HEADER_LEN as u64,
            poisoned: false,
        })
    }

    /// Reopens a log for appending after [`replay`] (which already truncated
    /// any torn tail); the next record gets `replay.next_seq`.
    ///
    /// Fails with [`IngestError::InvalidParameter`] when the replay found no
    /// header (remove the file and [`create`](WalWriter::create) it again) or
    /// the file's length is no longer the replayed one.
    pub fn open_append(
        storage: Arc<dyn Storage>,
        path: PathBuf,
        replay: &WalReplay,
    ) -> Result<WalWriter> {
        if replay.first_seq.is_none() {
            return Err(IngestError::InvalidParameter {
                name: "replay",
                reason: format!("{} has no header; remove it and create it again", path.display()),
            });
        }
        let file = storage.open_append(&path).map_err(|e| IngestError::io(&path, e))?;
        let len = file.len().map_err(|e| IngestError::io(&path, e))?;
        if len != replay.valid_len {
            return Err(IngestError::InvalidParameter {
                name: "replay",
                reason: format!(
                    "{} has {len} bytes but its replay validated {}",
                    path.display(),
                    replay.valid_len
                ),
            });
        }
        Ok(WalWriter {
            path,
            file,
            salt: replay.salt,
            next_seq: replay.next_seq,
            len,
            poisoned: false,
        })
    }

    fn poisoned_error(&self) -> IngestError {
        let collection = self
            .path
            .file_name()
            .map_or_else(|| self.path.display().to_string(), |n| n.to_string_lossy().into_owned());
        IngestError::Poisoned { collection }
    }

    /// Appends one record with the next sequence number, which it returns;
    /// not durable until [`sync`](WalWriter::sync).
    ///
    /// A payload over [`MAX_RECORD_PAYLOAD`] is refused with
    /// [`IngestError::InvalidParameter`]. A storage error is returned as
    /// [`IngestError::Io`] after the partial record is cut off again; if
    /// that fails too, the writer is poisoned.
    pub fn append(&mut self, payload: &[u8]) -> Result<SeqNo> {
        self.append_vectored(&[payload])
    }

    /// [`WalWriter::append`] of the payload `pieces` concatenated, written
    /// without copying them into one buffer first.
    pub fn append_vectored(&mut self, pieces: &[&[u8]]) -> Result<SeqNo> {
        if self.poisoned {
            return Err(self.poisoned_error());
        }
        let seq = self.next_seq;
        let next = seq.checked_add(1).ok_or_else(|| {
            IngestError::Internal(format!(
                "wal sequence numbers exhausted in {}",
                self.path.display()
            ))
        })?;
        let total: usize = pieces.iter().map(|p| p.len()).sum();
        let len = payload_len_of(total)?;
        let mut crc = record_crc(self.salt, seq, len, &[]);
        for p in pieces {
            crc = crc32c::crc32c_append(crc, p);
        }
        let mut header = [0u8; WAL_RECORD_HEADER_LEN];
        header[0..4].copy_from_slice(&len.to_le_bytes());
        header[4..8].copy_from_slice(&crc.to_le_bytes());
        header[8..16].copy_from_slice(&seq.to_le_bytes());
        let mut bufs: Vec<&[u8]> = Vec::with_capacity(pieces.len() + 1);
        bufs.push(&header);
        bufs.extend(pieces.iter().copied().filter(|p| !p.is_empty()));
        if let Err(e) = self.file.append_vectored(&bufs) {
            if self.file.set_len(self.len).is_err() {
                self.poisoned = true;
            }
            return Err(IngestError::io(&self.path, e));
        }
        self.len += (WAL_RECORD_HEADER_LEN + total) as u64;
        self.next_seq = next;
        Ok(seq)
    }

    /// Makes every appended record durable (`sync_data`).
    ///
    /// On failure the writer is poisoned: this call returns
    /// [`IngestError::Io`] and every later call [`IngestError::Poisoned`],
    /// because after a failed fsync it is unknown what reached the disk
    /// (§1c.4); replay and reopen the log to continue.
    pub fn sync(&mut self) -> Result<()> {
        if self.poisoned {
            return Err(self.poisoned_error());
        }
        self.file.sync_data().map_err(|e| {
            self.poisoned = true;
            IngestError::io(&self.path, e)
        })
    }

    /// Syncs and closes the log.
    pub fn close(mut self) -> Result<()> {
        self.sync()
    }

    /// The sequence number the next appended record gets.
    pub fn next_seq(&self) -> SeqNo {
        self.next_seq
    }

    /// The log file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True after a failed `sync` (or a failed append rollback).
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// The log file's length as written by this writer: header plus every
    /// appended record, synced or not.
    pub fn bytes_written(&self) -> u64 {
        self.len
    }
}

#[cfg(test)]
mod wal_codec {
    use super::*;
    use proptest::prelude::*;

    fn config() -> ProptestConfig {
        let cases = if std::env::var_os("TALLY_FULL").is_some() { 2048 } else { 64 };
        ProptestConfig::with_cases(cases)
    }

    /// A log's bytes and the end offset of each record.
    fn build(salt: u64, first_seq: SeqNo, payloads: &[Vec<u8>]) -> (Vec<u8>, Vec<usize>) {
        let mut bytes = encode_header(salt, first_seq).to_vec();
        let mut ends = Vec::new();
        for (i, p) in payloads.iter().enumerate() {
            bytes.extend(encode_record(salt, first_seq + i as u64, p).unwrap());
            ends.push(bytes.len());
        }
        (bytes, ends)
    }

    fn payloads() -> impl Strategy<Value = Vec<Vec<u8>>> {
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..6)
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn round_trip(salt in any::<u64>(), first in 0u64..1 << 40, ps in payloads()) {
            let (bytes, _) = build(salt, first, &ps);
            let wal = decode(&bytes).unwrap();
            prop_assert_eq!(wal.header, Some(WalHeader { salt, first_seq: first }));
            prop_assert_eq!(wal.records.len(), ps.len());
            for (i, (r, p)) in wal.records.iter().zip(&ps).enumerate() {
                prop_assert_eq!(r.seq, first + i as u64);
                prop_assert_eq!(&r.payload, p);
            }
            prop_assert_eq!(wal.next_seq, first + ps.len() as u64);
            prop_assert_eq!(wal.valid_len, bytes.len() as u64);
            prop_assert_eq!(wal.torn_tail, None);
        }

        #[test]
        fn every_prefix_decodes_to_whole_records(salt in any::<u64>(), first in 0u64..1000, ps in payloads()) {
            let (bytes, ends) = build(salt, first, &ps);
            for n in 0..=bytes.len() {
                let wal = decode(&bytes[..n]).unwrap();
                if n < WAL_HEADER_LEN {
                    prop_assert_eq!(wal.header, None);
                    prop_assert!(wal.records.is_empty());
                    prop_assert_eq!(wal.torn_tail, Some(TornTail { offset: 0, dropped_bytes: n as u64 }));
                    continue;
                }
                let whole = ends.iter().filter(|&&e| e <= n).count();
                let valid = if whole == 0 { WAL_HEADER_LEN } else { ends[whole - 1] };
                prop_assert_eq!(wal.records.len(), whole);
                for (r, p) in wal.records.iter().zip(&ps) {
                    prop_assert_eq!(&r.payload, p);
                }
                prop_assert_eq!(wal.valid_len, valid as u64);
                prop_assert_eq!(wal.next_seq, first + whole as u64);
                let tail = (n > valid).then_some(TornTail { offset: valid as u64, dropped_bytes: (n - valid) as u64 });
                prop_assert_eq!(wal.torn_tail, tail);
            }
        }

        #[test]
        fn every_single_bit_flip_is_detected(salt in any::<u64>(), ps in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..24), 1..5)) {
            let (bytes, ends) = build(salt, 5, &ps);
            for bit in WAL_HEADER_LEN * 8..bytes.len() * 8 {
                let mut b = bytes.clone();
                b[bit / 8] ^= 1 << (bit % 8);
                // The record holding the flipped byte.
                let hit = ends.iter().position(|&e| bit / 8 < e).unwrap();
                let start = if hit == 0 { WAL_HEADER_LEN } else { ends[hit - 1] };
                match decode(&b) {
                    Ok(wal) => {
                        // Only the last record can be dropped, as a torn tail.
                        prop_assert_eq!(hit, ps.len() - 1, "bit {} silently accepted", bit);
                        prop_assert_eq!(wal.records.len(), hit);
                        for (r, p) in wal.records.iter().zip(&ps) {
                            prop_assert_eq!(&r.payload, p);
                        }
                        prop_assert_eq!(wal.torn_tail, Some(TornTail { offset: start as u64, dropped_bytes: (b.len() - start) as u64 }));
                    }
                    Err(WalDecodeError::MidLogCorruption { offset, next_offset, .. }) => {
                        prop_assert!(hit < ps.len() - 1, "bit {} in the last record", bit);
                        prop_assert_eq!(offset, start as u64);
                        prop_assert_eq!(next_offset, ends[hit] as u64);
                    }
                    Err(e) => prop_assert!(false, "bit {}: unexpected {:?}", bit, e),
                }
            }
        }

        #[test]
        fn header_bit_flips_are_corrupt(salt in any::<u64>(), ps in payloads()) {
            let (bytes, _) = build(salt, 0, &ps);
            for bit in 0..WAL_HEADER_LEN * 8 {
                let mut b = bytes.clone();
                b[bit / 8] ^= 1 << (bit % 8);
                prop_assert!(decode(&b).is_err(), "header bit {} accepted", bit);
            }
        }

        #[test]
        fn records_from_another_salt_never_validate(
            salt in any::<u64>(), other in any::<u64>(), ps in payloads(), foreign in prop::collection::vec(any::<u8>(), 0..40),
        ) {
            prop_assume!(salt != other);
            let (bytes, _) = build(salt, 3, &ps);
            let next = 3 + ps.len() as u64;
            // Appended at the end it is a torn tail, not a record.
            let mut b = bytes.clone();
            b.extend(encode_record(other, next, &foreign).unwrap());
            let wal = decode(&b).unwrap();
            prop_assert_eq!(wal.records.len(), ps.len());
            prop_assert_eq!(wal.valid_len, bytes.len() as u64);
            prop_assert!(wal.torn_tail.is_some());
            // Spliced in before a valid record it is mid-log corruption.
            let mut b = bytes.clone();
            b.extend(encode_record(other, next, &foreign).unwrap());
            b.extend(encode_record(salt, next, b"after").unwrap());
            let is_mid_log = matches!(decode(&b), Err(WalDecodeError::MidLogCorruption { .. }));
            prop_assert!(is_mid_log);
        }

        #[test]
        fn arbitrary_bytes_never_panic(mut bytes in prop::collection::vec(any::<u8>(), 0..200), salt in any::<u64>()) {
            // With a valid header, so the record scanner sees the garbage.
            let mut file = encode_header(salt, 0).to_vec();
            file.append(&mut bytes);
            if let Ok(wal) = decode(&file) {
                prop_assert!(wal.valid_len as usize <= file.len());
                prop_assert_eq!(wal.next_seq, wal.records.len() as u64);
            }
        }
    }

    #[test]
    fn seq_gap_is_corrupt() {
        let mut b = encode_header(9, 10).to_vec();
        b.extend(encode_record(9, 10, b"a").unwrap());
        b.extend(encode_record(9, 12, b"c").unwrap());
        assert_eq!(decode(&b), Err(WalDecodeError::SeqGap { offset: 49, expected: 11, found: 12 }));
    }

    #[test]
    fn oversized_len_field_is_invalid() {
        let mut b = encode_header(1, 0).to_vec();
        let mut rec = encode_record(1, 0, b"x").unwrap();
        rec[0..4].copy_from_slice(&(MAX_RECORD_PAYLOAD as u32 + 1).to_le_bytes());
        b.extend(rec);
        let wal = decode(&b).unwrap();
        assert!(wal.records.is_empty());
        assert_eq!(wal.torn_tail, Some(TornTail { offset: 32, dropped_bytes: 17 }));
        assert!(encode_record(1, 0, &vec![0; MAX_RECORD_PAYLOAD + 1]).is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{CrashModel, FaultKind, FaultPlan, Persistence, SimStorage};
    use crate::storage_std::StdStorage;

    fn payload(i: u64) -> Vec<u8> {
        format!("event-{i}-").repeat(1 + (i as usize % 7)).into_bytes()
    }

    fn sim() -> (SimStorage, Arc<dyn Storage>) {
        let sim = SimStorage::new();
        sim.create_dir_all(Path::new("/c")).unwrap();
        let storage: Arc<dyn Storage> = Arc::new(sim.clone());
        (sim, storage)
    }

    fn wal_path() -> PathBuf {
        PathBuf::from("/c/wal")
    }

    #[test]
    fn write_replay_reopen_std() {
        let dir = tempfile::tempdir().unwrap();
        let storage: Arc<dyn Storage> = Arc::new(StdStorage::new());
        let path = dir.path().join("events.wal");
        let mut w = WalWriter::create(Arc::clone(&storage), path.clone(), 100).unwrap();
        for i in 0..10 {
            assert_eq!(w.append(&payload(i)).unwrap(), 100 + i);
        }
        w.sync().unwrap();
        let written = w.bytes_written();
        drop(w);
        let r = replay(&storage, &path).unwrap();
        assert_eq!(r.records.len(), 10);
        assert_eq!(r.next_seq, 110);
        assert_eq!(r.valid_len, written);
        assert_eq!(r.first_seq, Some(100));
        let mut w = WalWriter::open_append(Arc::clone(&storage), path.clone(), &r).unwrap();
        assert_eq!(w.append(b"more").unwrap(), 110);
        w.close().unwrap();
        // A torn tail on a real file is truncated.
        let mut f = storage.open_append(&path).unwrap();
        f.append(&[0xab; 7]).unwrap();
        let r = replay(&storage, &path).unwrap();
        assert_eq!(r.records.len(), 11);
        assert_eq!(r.torn_tail.unwrap().dropped_bytes, 7);
        assert_eq!(storage.open_read(&path).unwrap().len().unwrap(), r.valid_len);
    }

    #[test]
    fn create_refuses_existing_file() {
        let (_sim, storage) = sim();
        WalWriter::create(Arc::clone(&storage), wal_path(), 0).unwrap();
        let err = WalWriter::create(storage, wal_path(), 0).unwrap_err();
        assert!(matches!(err, IngestError::Io { ref file, .. } if file == &wal_path()), "{err}");
    }

    #[test]
    fn failed_sync_poisons_the_writer() {
        let (sim, storage) = sim();
        let mut w = WalWriter::create(storage, wal_path(), 1).unwrap();
        w.append(b"a").unwrap();
        sim.set_fault_plan(FaultPlan::new().fail_at(
            sim.op_count(),
            FaultKind::Eio,
            Persistence::Once,
        ));
        let err = w.sync().unwrap_err();
        assert!(matches!(err, IngestError::Io { ref file, .. } if file == &wal_path()), "{err}");
        assert!(w.is_poisoned());
        // The fault was one-off, but the writer stays poisoned.
        for _ in 0..2 {
            assert!(
                matches!(w.sync(), Err(IngestError::Poisoned { ref collection }) if collection == "wal")
            );
            assert!(matches!(w.append(b"b"), Err(IngestError::Poisoned { .. })));
        }
        assert_eq!(w.next_seq(), 2);
    }

    #[test]
    fn failed_append_rolls_back() {
        let (sim, storage) = sim();
        let mut w = WalWriter::create(Arc::clone(&storage), wal_path(), 1).unwrap();
        w.append(b"first").unwrap();
        for kind in [FaultKind::ShortWrite, FaultKind::Enospc, FaultKind::Eio] {
            sim.set_fault_plan(FaultPlan::new().fail_at(sim.op_count(), kind, Persistence::Once));
            assert!(matches!(w.append(b"lost record"), Err(IngestError::Io { .. })));
            assert!(!w.is_poisoned());
        }
        assert_eq!(w.append(b"second").unwrap(), 2);
        w.sync().unwrap();
        let r = replay(&storage, &wal_path()).unwrap();
        let got: Vec<_> = r.records.iter().map(|r| r.payload.as_slice()).collect();
        assert_eq!(got, [&b"first"[..], b"second"]);
        assert_eq!(r.torn_tail, None);
        // When the rollback fails too, the writer is poisoned.
        sim.set_fault_plan(FaultPlan::new().fail_at(
            sim.op_count(),
            FaultKind::ShortWrite,
            Persistence::Always,
        ));
        assert!(matches!(w.append(b"x"), Err(IngestError::Io { .. })));
        assert!(w.is_poisoned());
    }

    #[test]
    fn oversized_payload_is_refused_without_poisoning() {
        let (_sim, storage) = sim();
        let mut w = WalWriter::create(storage, wal_path(), 1).unwrap();
        let big = vec![0u8; MAX_RECORD_PAYLOAD + 1];
        assert!(matches!(w.append(&big), Err(IngestError::InvalidParameter { .. })));
        assert_eq!(w.append(b"ok").unwrap(), 1);
    }

    /// Writes `synced` records and syncs, then `unsynced` more without.
    fn half_synced_log(synced: u64, unsynced: u64) -> SimStorage {
        let (sim, storage) = sim();
        let mut w = WalWriter::create(storage, wal_path(), 1).unwrap();
        for i in 0..synced {
            w.append(&payload(i)).unwrap();
        }
        w.sync().unwrap();
        for i in synced..synced + unsynced {
            w.append(&payload(i)).unwrap();
        }
        sim
    }

    fn check_records(r: &WalReplay, at_least: usize, at_most: usize) {
        assert!(
            r.records.len() >= at_least && r.records.len() <= at_most,
            "{} records",
            r.records.len()
        );
        for (i, rec) in r.records.iter().enumerate() {
            assert_eq!(rec.seq, 1 + i as u64);
            assert_eq!(rec.payload, payload(i as u64));
        }
        assert_eq!(r.next_seq, 1 + r.records.len() as u64);
    }

    #[test]
    fn crash_images_replay_to_a_prefix_with_torn_tail_truncated() {
        let sim = half_synced_log(20, 30);
        let mut torn_seen = false;
        for model in
            [CrashModel::ProcessKill, CrashModel::PowerLossClean, CrashModel::PowerLossTorn]
        {
            for seed in 0..30 {
                let image = sim.crash_image(model, seed);
                let storage: Arc<dyn Storage> = Arc::new(image.clone());
                let r = replay(&storage, &wal_path()).unwrap();
                match model {
                    CrashModel::ProcessKill => check_records(&r, 50, 50),
                    CrashModel::PowerLossClean => check_records(&r, 20, 20),
                    _ => check_records(&r, 20, 50),
                }
                if let Some(t) = r.torn_tail {
                    torn_seen = true;
                    assert_eq!(t.offset, r.valid_len);
                    assert!(t.dropped_bytes > 0);
                }
                // The tail was cut off durably.
                let after = image.crash_image(CrashModel::PowerLossClean, 0);
                assert_eq!(after.file_bytes(&wal_path()).unwrap().len() as u64, r.valid_len);
                // Appending after replay continues the sequence.
                let mut w = WalWriter::open_append(Arc::clone(&storage), wal_path(), &r).unwrap();
                assert_eq!(w.append(b"next").unwrap(), r.next_seq);
                w.sync().unwrap();
                let again = replay(&storage, &wal_path()).unwrap();
                assert_eq!(again.records.len(), r.records.len() + 1);
                assert_eq!(again.torn_tail, None);
            }
        }
        assert!(torn_seen, "no torn tail in 30 torn images");
    }

    #[test]
    fn reordered_crash_images_keep_synced_records_or_report_corruption() {
        // See the module docs: a hole before a surviving unsynced sector is
        // indistinguishable from mid-log corruption in this format.
        let sim = half_synced_log(20, 30);
        let mut corrupt = 0;
        for seed in 0..200 {
            let storage: Arc<dyn Storage> =
                Arc::new(sim.crash_image(CrashModel::PowerLossReordered, seed));
            match replay(&storage, &wal_path()) {
                Ok(r) => check_records(&r, 20, 50),
                Err(IngestError::Corrupt { file, .. }) => {
                    assert_eq!(file, wal_path());
                    corrupt += 1;
                }
                Err(e) => panic!("seed {seed}: {e}"),
            }
        }
        eprintln!("reordered images reported corrupt: {corrupt}/200");
        assert!(corrupt < 200);
    }

    #[test]
    fn crash_during_create_is_an_empty_log_or_no_file() {
        // create: create_new, append header, sync_data, sync_dir.
        for n in 0..4 {
            for model in CrashModel::ALL {
                let (sim, storage) = sim();
                sim.set_fault_plan(FaultPlan::new().crash_at(n));
                assert!(WalWriter::create(storage, wal_path(), 7).is_err());
                let image = sim.crash_image(model, n);
                if image.file_bytes(&wal_path()).is_none() {
                    continue;
                }
                let storage: Arc<dyn Storage> = Arc::new(image);
                let r = replay(&storage, &wal_path()).unwrap();
                assert!(r.records.is_empty());
                if r.first_seq.is_none() {
                    assert!(r.torn_tail.is_some());
                    assert!(WalWriter::open_append(Arc::clone(&storage), wal_path(), &r).is_err());
                    storage.remove(&wal_path()).unwrap();
                    WalWriter::create(storage, wal_path(), 7).unwrap();
                } else {
                    assert_eq!(r.next_seq, 7);
                }
            }
        }
    }

    #[test]
    fn bit_rot_in_synced_records_is_named_corruption() {
        let sim = half_synced_log(10, 0);
        // A bit in the first record's payload; nine valid records follow.
        sim.flip_bit(&wal_path(), (WAL_HEADER_LEN as u64 + 20) * 8 + 3);
        let storage: Arc<dyn Storage> = Arc::new(sim.clone());
        let before = sim.file_bytes(&wal_path()).unwrap();
        let err = replay(&storage, &wal_path()).unwrap_err();
        assert!(
            matches!(err, IngestError::Corrupt { ref file, .. } if file == &wal_path()),
            "{err}"
        );
        assert!(err.to_string().contains("/c/wal"), "{err}");
        // Nothing was truncated.
        assert_eq!(sim.file_bytes(&wal_path()).unwrap(), before);
        // A damaged header is corrupt too.
        let sim = half_synced_log(1, 0);
        sim.flip_bit(&wal_path(), 13 * 8);
        let storage: Arc<dyn Storage> = Arc::new(sim);
        assert!(matches!(replay(&storage, &wal_path()), Err(IngestError::Corrupt { .. })));
    }

    #[test]
    fn missing_file_is_io_error_naming_it() {
        let (_sim, storage) = sim();
        let err = replay(&storage, &wal_path()).unwrap_err();
        assert!(matches!(err, IngestError::Io { ref file, .. } if file == &wal_path()), "{err}");
    }

    #[test]
    fn writer_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<WalWriter>();
    }
}
