//! Collection-wide, append-only string dictionaries.
//!
//! A collection has one [`Dictionary`] per string column and one per list
//! column. Ids are dense `u32`s from 0 in insertion order and never change,
//! so the same value has the same id in every segment and after reopening;
//! group_by and count_unique merge ids, never strings.
//!
//! List elements are interned as their canonical JSON text (see
//! [`list_elem_text`]): `"a"`, `42`, `1.5`, `true`, `null`, and datetimes as
//! the JSON string `"YYYY-MM-DDTHH:MM:SS.sssZ"`. That is unambiguous because a
//! string holding a zoned date-time is always typed `datetime` (§0).
//!
//! # Memory
//!
//! Values live in one byte arena with a `u64` end offset each; the lookup
//! table is a `hashbrown::HashTable` of 12-byte slots (the id and a 64-bit
//! key that holds a short value whole, so a lookup of one never reads the
//! arena), hashed with foldhash, randomly seeded. A value costs its bytes
//! plus about 23 bytes (about 38 right after a growth), not an allocation
//! per value.
//!
//! # Concurrency
//!
//! The single writer calls [`Dictionary::intern`] through `&self`; query
//! threads call [`Dictionary::lookup`] / [`Dictionary::value`] or take a
//! [`DictReader`] for bulk access. An interior `RwLock` guards the state.
//!
//! # File format
//!
//! One append-only file per dictionary, little-endian:
//!
//! ```text
//! offset  size  field
//! 0       8     magic b"TLYDICT1"
//! 8       ...   chunk*
//!
//! chunk:
//! 0       4     count   u32   entries in this chunk (> 0)
//! 4       4     crc32c  u32   over the entry bytes that follow (not count)
//! 8       ...   count × entry
//!
//! entry:
//! 0       4     len     u32   byte length of the value
//! 4       len   bytes         UTF-8 value
//! ```
//!
//! Entries appear in id order, so entry *k* of the file has id *k*. The
//! manifest records the committed byte length and entry count
//! ([`DictFileState`]); bytes past the committed length (a crash after an
//! append but before the manifest) are ignored and truncated by the next
//! append.

use std::hash::BuildHasher;
use std::path::Path;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde::{Deserialize, Serialize};

use crate::datetime::format_datetime;
use crate::error::{IngestError, Result};
use crate::flat::{FlatBatch, FlatScalar};
use crate::storage::{read_all, Storage};
use crate::value::{ColumnId, DictId};

/// Magic bytes at the start of every dictionary file.
pub const DICT_MAGIC: &[u8; 8] = b"TLYDICT1";

/// The hasher of every dictionary's lookup table (foldhash, randomly
/// seeded per dictionary, so crafted values cannot force collisions).
type Hasher = hashbrown::DefaultHashBuilder;

struct Inner {
    /// All values' bytes, back to back.
    bytes: Vec<u8>,
    /// End offset of each value in `bytes`; value `id` is `ends[id-1]..ends[id]`.
    ends: Vec<u64>,
    /// One [`Slot`] per value, hashed by its key (see [`Probe`]).
    table: hashbrown::HashTable<Slot>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner").field("values", &self.ends.len()).finish_non_exhaustive()
    }
}

/// Values of at most this many bytes are held whole in their [`Slot`]'s key.
const INLINE_BYTES: usize = 7;

/// One entry of the lookup table: a value's id and its 64-bit key, in
/// 12 bytes (two `u32` halves keep the alignment at 4). The key of a value
/// of at most [`INLINE_BYTES`] bytes is the value itself (bytes 0..7, its
/// length in the top byte), so finding it compares one word and never
/// reads the value arena, which for large dictionaries (user ids) is one
/// or two cache misses per lookup. A longer value's key is 56 bits of its
/// seeded hash with its length (at least 8, capped at 255) on top: a slot
/// whose key matches still has its bytes compared.
#[derive(Clone, Copy)]
struct Slot {
    key_lo: u32,
    key_hi: u32,
    id: DictId,
}

impl Slot {
    fn key(&self) -> u64 {
        u64::from(self.key_lo) | u64::from(self.key_hi) << 32
    }
}

/// A value's table key and hash, computed once per lookup (see [`Slot`]).
/// The table hash is the seeded hash of the key, so a growth rehashes every
/// slot without reading a value.
#[derive(Clone, Copy)]
struct Probe {
    key: u64,
    hash: u64,
    /// The key is the whole value: a matching key is a match.
    exact: bool,
}

impl Probe {
    fn of(hasher: &Hasher, b: &[u8]) -> Probe {
        const LOW_56: u64 = (1 << 56) - 1;
        let n = b.len();
        let (key, exact) = if n <= INLINE_BYTES {
            (inline_key(b), true)
        } else {
            let len = n.min(255) as u64;
            ((hasher.hash_one(b) & LOW_56) | len << 56, false)
        };
        Probe { key, hash: hasher.hash_one(key), exact }
    }
}

/// The bytes of a value of at most [`INLINE_BYTES`] bytes, little-endian,
/// with its length in the top byte; built from overlapping loads rather
/// than through a stack buffer (which stalls on store forwarding).
fn inline_key(b: &[u8]) -> u64 {
    let n = b.len();
    let w4 = |i: usize| u64::from(u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]));
    let bytes = match n {
        0 => 0,
        1..=3 => {
            u64::from(b[0])
                | u64::from(b[n / 2]) << (8 * (n / 2))
                | u64::from(b[n - 1]) << (8 * (n - 1))
        }
        // Two overlapping words: the shared bytes are equal, so OR is exact.
        _ => w4(0) | w4(n - 4) << (8 * (n - 4)),
    };
    bytes | (n as u64) << 56
}

fn value_bytes<'a>(bytes: &'a [u8], ends: &[u64], id: usize) -> &'a [u8] {
    let start = if id == 0 { 0 } else { ends[id - 1] as usize };
    &bytes[start..ends[id] as usize]
}

/// `a == b`, comparing short values (most dictionary values) with a few
/// word loads instead of a call to `memcmp`.
#[inline]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let w8 = |x: &[u8], i: usize| {
        x.get(i..i + 8)
            .map(|w| u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]))
    };
    let w4 =
        |x: &[u8], i: usize| x.get(i..i + 4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
    match n {
        0 => true,
        // positions 0, n/2 and n-1 cover every byte of 1..=3
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        // two overlapping words cover the value
        4..=7 => w4(a, 0) == w4(b, 0) && w4(a, n - 4) == w4(b, n - 4),
        8..=16 => w8(a, 0) == w8(b, 0) && w8(a, n - 8) == w8(b, n - 8),
        17..=32 => {
            w8(a, 0) == w8(b, 0)
                && w8(a, 8) == w8(b, 8)
                && w8(a, n - 16) == w8(b, n - 16)
                && w8(a, n - 8) == w8(b, n - 8)
        }
        _ => a == b,
    }
}

impl Inner {
    fn get(&self, id: usize) -> &str {
        std::str::from_utf8(value_bytes(&self.bytes, &self.ends, id))
            .expect("the arena holds whole UTF-8 values")
    }

    fn find(&self, p: Probe, s: &str) -> Option<DictId> {
        self.table
            .find(p.hash, |slot| {
                slot.key() == p.key
                    && (p.exact
                        || same_bytes(
                            value_bytes(&self.bytes, &self.ends, slot.id as usize),
                            s.as_bytes(),
                        ))
            })
            .map(|slot| slot.id)
    }

    /// Adds `s` (known to be absent) and returns its id.
    fn push(&mut self, p: Probe, s: &str, hasher: &Hasher) -> DictId {
        let id =
            DictId::try_from(self.ends.len()).expect("a dictionary holds fewer than 2^32 values");
        self.bytes.extend_from_slice(s.as_bytes());
        self.ends.push(self.bytes.len() as u64);
        let slot = Slot { key_lo: p.key as u32, key_hi: (p.key >> 32) as u32, id };
        self.table.insert_unique(p.hash, slot, |slot| hasher.hash_one(slot.key()));
        id
    }
}

/// An append-only string dictionary (see the module docs).
#[derive(Debug)]
pub struct Dictionary {
    inner: RwLock<Inner>,
    hasher: Hasher,
    /// Ids in ascending byte order of their values, for the ids that
    /// existed when last asked ([`Dictionary::sorted_ids`]); extended, not
    /// rebuilt, as the dictionary grows.
    sorted: std::sync::Mutex<Arc<Vec<DictId>>>,
}

impl Default for Dictionary {
    fn default() -> Self {
        Dictionary::new()
    }
}

impl PartialEq for Dictionary {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.read(), other.read());
        a.ends == b.ends && a.bytes == b.bytes
    }
}

/// Read access to a [`Dictionary`] under one lock acquisition, for bulk work.
pub struct DictReader<'a> {
    inner: RwLockReadGuard<'a, Inner>,
    hasher: &'a Hasher,
    sorted: &'a std::sync::Mutex<Arc<Vec<DictId>>>,
}

impl DictReader<'_> {
    /// Every id, in ascending byte order of its value (the canonical order
    /// of strings, keen-semantics §0): group_by output sorts by it instead
    /// of comparing strings. Computed on first use and kept; ids added
    /// since are sorted alone and merged in (values never change, so the
    /// order of old ids stays valid). Costs 4 bytes per value once used.
    pub fn sorted_ids(&self) -> Arc<Vec<DictId>> {
        let mut cache = self.sorted.lock().unwrap_or_else(|e| e.into_inner());
        let inner = &self.inner;
        let n = inner.ends.len();
        if cache.len() == n {
            return Arc::clone(&cache);
        }
        let val = |id: DictId| value_bytes(&inner.bytes, &inner.ends, id as usize);
        let old: &[DictId] = &cache;
        let mut fresh: Vec<DictId> = (old.len() as DictId..n as DictId).collect();
        fresh.sort_unstable_by(|&a, &b| val(a).cmp(val(b)));
        let mut merged = Vec::with_capacity(n);
        let (mut i, mut j) = (0, 0);
        while i < old.len() && j < fresh.len() {
            // Values are distinct: never equal.
            if val(old[i]) < val(fresh[j]) {
                merged.push(old[i]);
                i += 1;
            } else {
                merged.push(fresh[j]);
                j += 1;
            }
        }
        merged.extend_from_slice(&old[i..]);
        merged.extend_from_slice(&fresh[j..]);
        *cache = Arc::new(merged);
        Arc::clone(&cache)
    }

    /// The value of `id`.
    pub fn value(&self, id: DictId) -> Option<&str> {
        ((id as usize) < self.inner.ends.len()).then(|| self.inner.get(id as usize))
    }

    /// The id of `s`, if interned.
    pub fn lookup(&self, s: &str) -> Option<DictId> {
        self.inner.find(Probe::of(self.hasher, s.as_bytes()), s)
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.inner.ends.len()
    }

    /// True when no value is interned.
    pub fn is_empty(&self) -> bool {
        self.inner.ends.is_empty()
    }
}

/// Write access to a [`Dictionary`] under one lock acquisition.
pub struct DictWriter<'a> {
    inner: RwLockWriteGuard<'a, Inner>,
    hasher: &'a Hasher,
}

impl DictWriter<'_> {
    /// The id of `s`, adding it if new.
    pub fn intern(&mut self, s: &str) -> DictId {
        let p = Probe::of(self.hasher, s.as_bytes());
        match self.inner.find(p, s) {
            Some(id) => id,
            None => self.inner.push(p, s, self.hasher),
        }
    }
}

/// The single writer's interning into one dictionary over many values:
/// lookups run under the read lock, so resolving threads go on reading; the
/// write lock is taken only to add a value and is released after `burst`
/// additions (see the concurrency notes of [`crate::Resolved`]'s module).
pub(crate) struct BurstInterner<'a> {
    dict: &'a Dictionary,
    guard: Guard<'a>,
    added: u32,
    burst: u32,
}

/// The lock a [`BurstInterner`] holds between calls.
enum Guard<'a> {
    None,
    Read(RwLockReadGuard<'a, Inner>),
    Write(RwLockWriteGuard<'a, Inner>),
}

impl<'a> BurstInterner<'a> {
    /// An interner into `dict` that holds its write lock for at most
    /// `burst` additions at a time.
    pub(crate) fn new(dict: &'a Dictionary, burst: u32) -> Self {
        BurstInterner { dict, guard: Guard::None, added: 0, burst: burst.max(1) }
    }

    /// The id of `s`, adding it if new.
    pub(crate) fn intern(&mut self, s: &str) -> DictId {
        let p = Probe::of(&self.dict.hasher, s.as_bytes());
        let found = match &self.guard {
            Guard::Read(g) => g.find(p, s),
            Guard::Write(g) => g.find(p, s),
            Guard::None => {
                let g = self.dict.read();
                let found = g.find(p, s);
                self.guard = Guard::Read(g);
                found
            }
        };
        if let Some(id) = found {
            return id;
        }
        if !matches!(self.guard, Guard::Write(_)) {
            // Release the read lock before waiting for the write lock.
            self.guard = Guard::None;
            self.guard = Guard::Write(self.dict.inner.write().unwrap_or_else(|e| e.into_inner()));
        }
        let Guard::Write(g) = &mut self.guard else { unreachable!("taken just above") };
        // This is the only thread that adds values, so `s` is still absent.
        let id = g.push(p, s, &self.dict.hasher);
        self.added += 1;
        if self.added >= self.burst {
            self.guard = Guard::None;
            self.added = 0;
        }
        id
    }
}

impl Dictionary {
    /// An empty dictionary.
    pub fn new() -> Self {
        Dictionary {
            inner: RwLock::new(Inner {
                bytes: Vec::new(),
                ends: Vec::new(),
                table: hashbrown::HashTable::new(),
            }),
            hasher: Hasher::default(),
            sorted: std::sync::Mutex::new(Arc::new(Vec::new())),
        }
    }

    /// Every id, in ascending byte order of its value: see
    /// [`DictReader::sorted_ids`].
    pub fn sorted_ids(&self) -> Arc<Vec<DictId>> {
        self.reader().sorted_ids()
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-added value
        // visible: `ends` is pushed only after the bytes, the slot last.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the read lock once for many lookups.
    pub fn reader(&self) -> DictReader<'_> {
        DictReader { inner: self.read(), hasher: &self.hasher, sorted: &self.sorted }
    }

    /// [`Dictionary::reader`] if the read lock is free now (never waits):
    /// for threads that already hold other dictionaries' read locks.
    pub fn try_reader(&self) -> Option<DictReader<'_>> {
        let inner = match self.inner.try_read() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        Some(DictReader { inner, hasher: &self.hasher, sorted: &self.sorted })
    }

    /// The id of `s`, adding it if new.
    pub fn intern(&self, s: &str) -> DictId {
        let p = Probe::of(&self.hasher, s.as_bytes());
        if let Some(id) = self.read().find(p, s) {
            return id;
        }
        let mut g = self.inner.write().unwrap_or_else(|e| e.into_inner());
        match g.find(p, s) {
            Some(id) => id,
            None => g.push(p, s, &self.hasher),
        }
    }

    /// Takes the write lock once for many [`DictWriter::intern`] calls
    /// (readers wait meanwhile; the single writer batches its interning).
    pub fn writer(&self) -> DictWriter<'_> {
        DictWriter {
            inner: self.inner.write().unwrap_or_else(|e| e.into_inner()),
            hasher: &self.hasher,
        }
    }

    /// The id of `s`, if interned.
    pub fn lookup(&self, s: &str) -> Option<DictId> {
        self.read().find(Probe::of(&self.hasher, s.as_bytes()), s)
    }

    /// The value of `id` (one small allocation; use [`Dictionary::reader`]
    /// for bulk access).
    pub fn value(&self, id: DictId) -> Option<Arc<str>> {
        self.reader().value(id).map(Arc::from)
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.read().ends.len()
    }

    /// True when no value is interned.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate heap bytes held.
    pub fn memory_bytes(&self) -> usize {
        let g = self.read();
        g.bytes.capacity()
            + g.ends.capacity() * 8
            + g.table.capacity() * (std::mem::size_of::<Slot>() + 1)
    }

    /// Encodes entries `from..to` as one file chunk (see the module docs).
    /// Returns an empty vector when the range is empty; `to` is clamped to
    /// [`Dictionary::len`].
    pub fn encode_range(&self, from: DictId, to: DictId) -> Vec<u8> {
        let g = self.read();
        let to = (to as usize).min(g.ends.len());
        let from = (from as usize).min(to);
        if from == to {
            return Vec::new();
        }
        let start = if from == 0 { 0 } else { g.ends[from - 1] as usize };
        let end = g.ends[to - 1] as usize;
        let mut out = Vec::with_capacity(8 + (to - from) * 4 + (end - start));
        out.extend_from_slice(&((to - from) as u32).to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        for id in from..to {
            let v = g.get(id);
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
            out.extend_from_slice(v.as_bytes());
        }
        let crc = crc32c::crc32c(&out[8..]);
        out[4..8].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes a dictionary file's committed prefix (`bytes`, header
    /// included) that must hold exactly `expected_count` entries. Any
    /// mismatch is [`IngestError::Corrupt`] naming `file`.
    pub fn decode(bytes: &[u8], file: &Path, expected_count: u64) -> Result<Dictionary> {
        let corrupt = |reason: String| IngestError::corrupt(file, reason);
        if bytes.len() < 8 || &bytes[..8] != DICT_MAGIC {
            return Err(corrupt("bad dictionary magic".into()));
        }
        let dict = Dictionary::new();
        let mut pos = 8usize;
        while pos < bytes.len() {
            let head = bytes
                .get(pos..pos + 8)
                .ok_or_else(|| corrupt(format!("truncated chunk header at byte {pos}")))?;
            let count = u32::from_le_bytes(head[..4].try_into().expect("4 bytes"));
            let crc = u32::from_le_bytes(head[4..].try_into().expect("4 bytes"));
            let body_start = pos + 8;
            let mut p = body_start;
            let mut values = Vec::with_capacity((count as usize).min(1 << 16));
            for _ in 0..count {
                let len = bytes
                    .get(p..p + 4)
                    .ok_or_else(|| corrupt(format!("truncated entry at byte {p}")))?;
                let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
                let v = bytes
                    .get(p + 4..p + 4 + len)
                    .ok_or_else(|| corrupt(format!("truncated entry at byte {p}")))?;
                values.push(v);
                p += 4 + len;
            }
            if count == 0 || crc32c::crc32c(&bytes[body_start..p]) != crc {
                return Err(corrupt(format!("bad chunk checksum at byte {pos}")));
            }
            for v in values {
                let s = std::str::from_utf8(v).map_err(|_| corrupt("entry is not UTF-8".into()))?;
                let before = dict.len();
                if dict.intern(s) as usize != before {
                    return Err(corrupt(format!("duplicate entry {s:?}")));
                }
            }
            pos = p;
        }
        if dict.len() as u64 != expected_count {
            return Err(corrupt(format!(
                "holds {} entries, manifest says {expected_count}",
                dict.len()
            )));
        }
        Ok(dict)
    }

    /// Loads a dictionary file whose committed state is `state` (bytes past
    /// `state.bytes` are ignored).
    pub fn load(storage: &dyn Storage, path: &Path, state: DictFileState) -> Result<Dictionary> {
        let bytes = read_all(storage, path).map_err(|e| IngestError::io(path, e))?;
        let len = usize::try_from(state.bytes).unwrap_or(usize::MAX);
        if bytes.len() < len {
            return Err(IngestError::corrupt(
                path,
                format!("file has {} bytes, manifest says {}", bytes.len(), state.bytes),
            ));
        }
        Dictionary::decode(&bytes[..len], path, state.entries)
    }

    /// Appends the entries added since `state` to the file at `path`
    /// (creating it with the header when `state.bytes == 0`, truncating any
    /// uncommitted tail first), fsyncs it, and returns the new state for the
    /// manifest. A new file's name is durable only after the caller syncs the
    /// directory.
    pub fn append_to_file(
        &self,
        storage: &dyn Storage,
        path: &Path,
        state: DictFileState,
    ) -> Result<DictFileState> {
        self.append_prefix_to_file(storage, path, state, self.len() as u64)
    }

    /// [`Dictionary::append_to_file`] for the entries before `len` only
    /// (the dictionary as it was when a background seal froze its head;
    /// values added since then belong to later WAL records).
    pub fn append_prefix_to_file(
        &self,
        storage: &dyn Storage,
        path: &Path,
        state: DictFileState,
        len: u64,
    ) -> Result<DictFileState> {
        let io = |e| IngestError::io(path, e);
        let len = len.min(self.len() as u64);
        if state.entries > len {
            return Err(IngestError::Internal(format!(
                "dictionary {} has {len} entries, manifest says {}",
                path.display(),
                state.entries
            )));
        }
        if state.entries == len && state.bytes != 0 {
            return Ok(state);
        }
        let mut file = if state.bytes == 0 {
            if storage.exists(path).map_err(io)? {
                let mut f = storage.open_append(path).map_err(io)?;
                f.set_len(0).map_err(io)?;
                f
            } else {
                storage.create_new(path).map_err(io)?
            }
        } else {
            let mut f = storage.open_append(path).map_err(io)?;
            let have = f.len().map_err(io)?;
            if have < state.bytes {
                return Err(IngestError::corrupt(
                    path,
                    format!("file has {have} bytes, manifest says {}", state.bytes),
                ));
            }
            if have > state.bytes {
                f.set_len(state.bytes).map_err(io)?;
            }
            f
        };
        let mut bytes = if state.bytes == 0 { DICT_MAGIC.to_vec() } else { Vec::new() };
        let to = DictId::try_from(len).expect("a dictionary holds fewer than 2^32 values");
        bytes.extend_from_slice(&self.encode_range(state.entries as DictId, to));
        file.append(&bytes).map_err(io)?;
        file.sync_data().map_err(io)?;
        Ok(DictFileState { bytes: state.bytes + bytes.len() as u64, entries: len })
    }
}

/// The committed state of a dictionary file, kept in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DictFileState {
    /// Committed byte length of the file (header included); 0 = no file yet.
    pub bytes: u64,
    /// Entries in the committed prefix.
    pub entries: u64,
}

/// The dictionaries of one collection, by column id: one per string and per
/// list column. Cloning is one `Arc` bump; adding a column copies the small
/// table only if a clone (a snapshot) still shares it.
#[derive(Debug, Clone, Default)]
pub struct Dicts {
    by_column: Arc<Vec<Option<Arc<Dictionary>>>>,
}

impl Dicts {
    /// No dictionaries.
    pub fn new() -> Self {
        Dicts::default()
    }

    /// The dictionary of a column, if it has one.
    pub fn get(&self, column: ColumnId) -> Option<&Arc<Dictionary>> {
        self.by_column.get(column as usize)?.as_ref()
    }

    /// The dictionary of a column, creating an empty one if missing.
    pub fn get_or_create(&mut self, column: ColumnId) -> Arc<Dictionary> {
        self.dict_mut(column).clone()
    }

    /// The dictionary of `column`, created if missing, without touching its
    /// reference count (the hot path of head appends).
    pub fn dict_mut(&mut self, column: ColumnId) -> &Arc<Dictionary> {
        if self.get(column).is_none() {
            self.insert(column, Arc::new(Dictionary::new()));
        }
        self.get(column).expect("just inserted")
    }

    /// Sets the dictionary of a column (used when loading).
    pub fn insert(&mut self, column: ColumnId, dict: Arc<Dictionary>) {
        let v = Arc::make_mut(&mut self.by_column);
        if v.len() <= column as usize {
            v.resize(column as usize + 1, None);
        }
        v[column as usize] = Some(dict);
    }

    /// Forgets the dictionary of a column (its property was deleted).
    pub fn remove(&mut self, column: ColumnId) {
        if self.get(column).is_some() {
            Arc::make_mut(&mut self.by_column)[column as usize] = None;
        }
    }

    /// All dictionaries with their column ids, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (ColumnId, &Arc<Dictionary>)> + '_ {
        self.by_column.iter().enumerate().filter_map(|(i, d)| Some((i as ColumnId, d.as_ref()?)))
    }

    /// Approximate heap bytes held by all dictionaries.
    pub fn memory_bytes(&self) -> usize {
        self.iter().map(|(_, d)| d.memory_bytes()).sum()
    }
}

/// Appends the canonical JSON text of a list element to `out`: JSON string
/// literal, shortest round-trip number (integers without a fraction),
/// `true`/`false`, `null`, or a datetime as the JSON string
/// `"YYYY-MM-DDTHH:MM:SS.sssZ"`.
pub fn list_elem_text(batch: &FlatBatch, elem: &FlatScalar, out: &mut String) {
    match elem {
        FlatScalar::Str(r) => json_string(batch.str(*r), out),
        FlatScalar::Int(i) => {
            use std::fmt::Write;
            let _ = write!(out, "{i}"); // writing to a String cannot fail
        }
        FlatScalar::Float(f) => match serde_json::Number::from_f64(*f) {
            Some(n) => out.push_str(&n.to_string()),
            None => out.push_str("null"),
        },
        FlatScalar::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        FlatScalar::Datetime(ms) => {
            out.push('"');
            out.push_str(&format_datetime(*ms));
            out.push('"');
        }
        FlatScalar::Null => out.push_str("null"),
    }
}

/// Appends `s` as a JSON string literal exactly as serde_json writes it:
/// `"` and `\\` escaped, control characters as `\b \f \n \r \t` or
/// `\u00XX` (lowercase hex), everything else (non-ASCII included) as is.
fn json_string(s: &str, out: &mut String) {
    out.reserve(s.len() + 2);
    out.push('"');
    let mut rest = s;
    while let Some(i) = rest.bytes().position(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(&rest[..i]);
        let b = rest.as_bytes()[i];
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 0xf)] as char);
            }
        }
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::MemStorage;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Ids match a reference map for values short enough to live in
        /// their slot's key and longer ones, including values that share
        /// a prefix, differ only in length or hold NULs, across growths.
        #[test]
        fn ids_match_a_reference_map(
            values in proptest::collection::vec("[ab\\x00]{0,10}", 0..400),
            probes in proptest::collection::vec("[ab\\x00]{0,10}", 0..50),
        ) {
            let d = Dictionary::new();
            let mut reference: std::collections::HashMap<String, DictId> = Default::default();
            for v in &values {
                let next = reference.len() as DictId;
                let want = *reference.entry(v.clone()).or_insert(next);
                proptest::prop_assert_eq!(d.intern(v), want);
            }
            for v in probes.iter().chain(&values) {
                proptest::prop_assert_eq!(d.lookup(v), reference.get(v).copied());
                let mut w = d.writer();
                let next = w.inner.ends.len() as DictId;
                let got = w.intern(v);
                drop(w);
                let want = *reference.entry(v.clone()).or_insert(next);
                proptest::prop_assert_eq!(got, want);
            }
            for (v, &id) in &reference {
                let got = d.value(id);
                proptest::prop_assert_eq!(got.as_deref(), Some(v.as_str()));
            }
        }
    }

    /// The sorted order stays right as the dictionary grows between
    /// calls (old and new values interleaving, prefixes, empty string).
    #[test]
    fn sorted_ids_follow_growth() {
        let d = Dictionary::new();
        let check = |d: &Dictionary| {
            let got = d.sorted_ids();
            let r = d.reader();
            let mut want: Vec<DictId> = (0..r.len() as DictId).collect();
            want.sort_by(|&a, &b| r.value(a).cmp(&r.value(b)));
            assert_eq!(*got, want);
        };
        check(&d);
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for round in 0..6 {
            for _ in 0..(1 + round * 37) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let len = (state % 9) as usize;
                let s: String = (0..len)
                    .map(|i| ['a', 'b', '\u{e9}', '/'][(state >> (8 + i * 2)) as usize % 4])
                    .collect();
                d.intern(&s);
            }
            check(&d);
            check(&d);
        }
        assert!(d.len() > 100);
    }

    #[test]
    fn intern_lookup_value() {
        let d = Dictionary::new();
        let words: Vec<String> = (0..5000).map(|i| format!("w{i}")).collect();
        for (i, w) in words.iter().enumerate() {
            assert_eq!(d.intern(w), i as DictId);
        }
        for (i, w) in words.iter().enumerate() {
            assert_eq!(d.intern(w), i as DictId);
            assert_eq!(d.lookup(w), Some(i as DictId));
            assert_eq!(d.value(i as DictId).as_deref(), Some(w.as_str()));
        }
        assert_eq!(d.lookup("nope"), None);
        assert_eq!(d.intern(""), 5000);
        assert_eq!(d.reader().value(5000), Some(""));
        assert_eq!(d.value(5001), None);
    }

    #[test]
    fn memory_per_value_is_small() {
        let d = Dictionary::new();
        let n = 200_000usize;
        let mut payload = 0;
        for i in 0..n {
            let s = format!("user-{i:08}");
            payload += s.len();
            d.intern(&s);
        }
        let overhead = (d.memory_bytes() - payload) / n;
        assert!(overhead < 60, "overhead {overhead} bytes per value");
    }

    #[test]
    fn encode_decode_round_trip_and_corruption() {
        let d = Dictionary::new();
        for w in ["a", "b", "ünï", "", "\"q\""] {
            d.intern(w);
        }
        let mut file = DICT_MAGIC.to_vec();
        file.extend(d.encode_range(0, 2));
        file.extend(d.encode_range(2, 5));
        assert!(d.encode_range(5, 5).is_empty());
        let p = Path::new("/c/d-3.dict");
        let back = Dictionary::decode(&file, p, 5).unwrap();
        assert_eq!(back, d);
        assert!(matches!(Dictionary::decode(&file, p, 4), Err(IngestError::Corrupt { .. })));
        for i in 0..file.len() {
            let mut bad = file.clone();
            bad[i] ^= 0x10;
            match Dictionary::decode(&bad, p, 5) {
                Err(IngestError::Corrupt { file, .. }) => assert_eq!(file, p),
                other => panic!("flip at {i}: {other:?}"),
            }
        }
        // truncation at any point is corruption too
        for n in 0..file.len() {
            assert!(Dictionary::decode(&file[..n], p, 5).is_err());
        }
    }

    #[test]
    fn append_to_file_truncates_uncommitted_tail() {
        let st = MemStorage::default();
        let p = Path::new("/c/d.dict");
        let d = Dictionary::new();
        d.intern("x");
        let s1 = d.append_to_file(&st, p, DictFileState::default()).unwrap();
        assert_eq!(s1.entries, 1);
        d.intern("y");
        let _uncommitted = d.append_to_file(&st, p, s1).unwrap();
        // crash: manifest still says s1; reopen from s1
        let back = Dictionary::load(&st, p, s1).unwrap();
        assert_eq!(back.len(), 1);
        back.intern("z");
        let s2 = back.append_to_file(&st, p, s1).unwrap();
        let again = Dictionary::load(&st, p, s2).unwrap();
        assert_eq!(again.lookup("z"), Some(1));
        assert_eq!(again.lookup("y"), None);
        let too_long = DictFileState { bytes: s2.bytes + 1, entries: 2 };
        assert!(matches!(Dictionary::load(&st, p, too_long), Err(IngestError::Corrupt { .. })));
    }

    #[test]
    fn canonical_list_text() {
        let mut b = FlatBatch::new();
        let r = b.push_str("a\"b");
        let cases = [
            (FlatScalar::Str(r), r#""a\"b""#),
            (FlatScalar::Int(42), "42"),
            (FlatScalar::Float(1.5), "1.5"),
            (FlatScalar::Bool(true), "true"),
            (FlatScalar::Null, "null"),
            (FlatScalar::Datetime(1_718_000_000_123), r#""2024-06-10T06:13:20.123Z""#),
        ];
        for (v, want) in cases {
            let mut s = String::new();
            list_elem_text(&b, &v, &mut s);
            assert_eq!(s, want);
        }
    }

    #[test]
    fn list_text_escapes_exactly_like_serde_json() {
        let mut b = FlatBatch::new();
        let mut all: String = (0u8..0x80).map(char::from).collect();
        all.push_str("é✓😀\u{7f}\u{2028}/");
        let mut cases: Vec<String> = all.chars().map(String::from).collect();
        cases.extend([all.clone(), String::new(), "plain".into(), "a\"b\\c\nd".into()]);
        for c in cases {
            let r = b.push_str(&c);
            let mut s = String::new();
            list_elem_text(&b, &FlatScalar::Str(r), &mut s);
            assert_eq!(s, serde_json::Value::from(c.as_str()).to_string(), "{c:?}");
        }
        for i in [0i64, -1, 42, i64::MIN, i64::MAX] {
            let mut s = String::new();
            list_elem_text(&b, &FlatScalar::Int(i), &mut s);
            assert_eq!(s, i.to_string());
        }
    }

    #[test]
    fn same_bytes_is_equality() {
        for n in 0..70usize {
            let a: Vec<u8> = (0..n as u8).map(|i| i.wrapping_mul(37)).collect();
            assert!(same_bytes(&a, &a.clone()));
            for i in 0..n {
                let mut b = a.clone();
                b[i] ^= 0x40;
                assert!(!same_bytes(&a, &b), "n={n} i={i}");
            }
            assert!(!same_bytes(&a, &a[..n.saturating_sub(1)]) || n == 0);
        }
    }

    #[test]
    fn dicts_clone_is_a_snapshot() {
        let mut ds = Dicts::new();
        let d = ds.get_or_create(5);
        d.intern("v");
        let snap = ds.clone();
        ds.get_or_create(7);
        assert!(snap.get(7).is_none());
        assert_eq!(snap.get(5).unwrap().lookup("v"), Some(0));
        assert_eq!(ds.iter().map(|(c, _)| c).collect::<Vec<_>>(), vec![5, 7]);
    }
}
