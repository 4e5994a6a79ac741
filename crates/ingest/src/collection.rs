//! `Collection`: one named event collection — WAL, head, sealed segments,
//! dictionaries and manifest — and the write path that keeps them durable.
//!
//! # Write path
//!
//! 1. The caller parses raw events into a [`FlatBatch`] (in parallel if it
//!    likes) and hands the accepted indexes to [`Collection::append`]; a
//!    parallel parser may also look up the known column and dictionary ids
//!    ahead ([`Collection::resolve`], no writer lock) and append with
//!    [`Collection::append_resolved`], so step 4 only adds what is new.
//! 2. Under the collection's writer lock, each event is checked against the
//!    duplicate-token set and the column limit (a dry run: nothing changes).
//! 3. The events that pass are written as ONE WAL record (a batch is wholly
//!    in the log or wholly out) and, with [`Durability::Sync`], fsynced.
//! 4. Only then are they appended to the head, and the call returns: the
//!    events are acknowledged. (An append of at least 4,096 events that
//!    adds no column appends to the head while a second thread writes the
//!    record; both finish under the writer lock, so nothing is readable
//!    before the record is written, and a failed write takes the rows out
//!    of the head again.)
//! 5. When the head reaches [`CollectionOptions::segment_rows`] (or on
//!    [`Collection::flush`]), it is sealed: sorted by `keen.timestamp` into
//!    a segment, written as Parquet + index sidecar, new dictionary entries
//!    appended, a fresh WAL started, and the manifest replaced atomically.
//!
//!    A full head of at least [`BACKGROUND_SEAL_MIN_ROWS`] rows is sealed
//!    in the background, so the append that fills it does not wait for
//!    the seal: under the lock the WAL is synced and a new log takes over
//!    (its first record follows the head's last), the head is frozen and
//!    appends go on into a fresh one. A thread builds the segment and
//!    writes its files and the dictionary entries as of the freeze; the
//!    next append, flush, snapshot or close after it is done commits the
//!    manifest (the new log, the freeze's last record and schema) and
//!    removes the old log. Snapshots read the frozen rows meanwhile. At
//!    most one seal runs: a head that fills while one runs waits for it.
//!
//! A failed WAL write or fsync poisons the collection: it refuses writes
//! until the engine is reopened (retrying after a failed fsync can lose
//! acknowledged data).
//!
//! # Directory layout
//!
//! ```text
//! <collection dir>/
//!   MANIFEST                    current manifest (see crate::manifest)
//!   wal-<first seq:016x>.log    the write-ahead log named by the manifest,
//!                               and any later logs (see recovery)
//!   seg-<id:016x>.parquet       sealed segment data (plain typed Parquet)
//!   seg-<id:016x>.idx           its index sidecar (bitmaps, statistics)
//!   seg-<id:016x>-<gen:016x>.del  its deletion vector, if events were deleted
//!   dict-<column id:08x>.dict   append-only dictionary of one string/list column
//! ```
//!
//! Deletes (events, a property, the collection) are described at
//! [`Collection::delete_events`], [`Collection::delete_property`] and
//! [`Collection::delete_collection`].
//!
//! # Recovery
//!
//! Open loads the manifest, then replays the WAL chain past its
//! `last_seq`: the log the manifest names, then every log whose name
//! carries a larger first sequence number, in that order (a background
//! seal that never committed leaves the manifest's log followed by the log
//! that took over at its freeze). Each log must start exactly after the
//! previous one ends, and every log but the last was synced whole before
//! the next was created, so a gap, or a torn tail or missing header
//! before the last log, is corruption naming the file; only the last log
//! may have a torn tail, which is truncated and reported. Files the
//! manifest does not name, other than the chain, are leftovers of an
//! interrupted seal and are removed; the next seal removes the chain's
//! older logs.
//!
//! # WAL record payload
//!
//! Every WAL record (see the WAL file format) holds the events of one
//! append. Its payload starts with a version byte; all integers are
//! little-endian except inside `keen.id`.
//!
//! Version 3 (written now): the events as the parser flattened them, in
//! the binary form of the "Events in a WAL record" section, about 57 % of
//! the bytes of their JSON. Replay decodes them straight into the head:
//! the JSON parser and the event rules do not run again, so an event once
//! acknowledged replays even if the limits have changed since.
//!
//! | offset | size | field      | value |
//! |-------:|-----:|------------|-------|
//! | 0      | 1    | version    | `3` |
//! | 1      | 8    | created_at | i64, `keen.created_at` of every event (UTC ms) |
//! | 9      | 4    | count      | u32, number of events |
//! | 13     | 1    | id mode    | `0`: consecutive ids, `1`: one id per event |
//! | 14     | 12 or 12 × count | ids | mode 0: `keen.id` of the first event; mode 1: every event's `keen.id` in order |
//! | ...    | ...  | parts      | one or more parts (`u32 len` ‖ part), `count` events in all |
//!
//! A `keen.id` is `u32 BE seconds ‖ 4-byte random prefix ‖ u32 BE counter`;
//! the ids of one append share seconds and prefix and have consecutive
//! counters (a record never crosses a counter wrap: the writer takes a
//! fresh prefix first), so in mode 0 event `k` has the first id with
//! counter `+ k`. Mode 1 is for ids that are not consecutive, which the
//! writer never produces. NDJSON parsers encode the part of their batch
//! while parsing, in parallel, so a record is written from their buffers
//! without a copy (`writev`); a part of which only some events are
//! appended is encoded again by the writer.
//!
//! Version 2 (written before version 3; still read):
//!
//! | offset | size | field      | value |
//! |-------:|-----:|------------|-------|
//! | 0      | 1    | version    | `2` |
//! | 1      | 8    | created_at | i64, `keen.created_at` of every event (UTC ms) |
//! | 9      | 12   | first_id   | `keen.id` of the first event (ids consecutive as in mode 0) |
//! | 21     | 4    | count      | u32, number of events |
//! | 25     | ...  | events     | `count` × (`u32 len` ‖ `len` bytes of raw event JSON) |
//!
//! Version 1 (written by early versions; still read):
//!
//! | offset | size | field | value |
//! |-------:|-----:|-------|-------|
//! | 0      | 1    | version | `1` |
//! | 1      | 4    | count   | u32, number of events |
//! | 5      | ...  | events  | `count` × (`i64 created_at` ‖ `[u8; 12] keen.id` ‖ `u32 len` ‖ raw event JSON) |
//!
//! Records of versions 1 and 2 are parsed again on replay. A payload with
//! another version, a short field, a part that does not decode or trailing
//! bytes is corruption naming the WAL file.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use crate::clock::Clock;
use crate::dict::{DictFileState, Dictionary, Dicts};
use crate::error::{IngestError, Result};
use crate::event::EventParser;
use crate::flat::{EventLimits, FlatBatch};
use crate::head::{uniqueness_token_seen, BatchPlan, Head};
use crate::manifest::{DictFileEntry, Manifest, MANIFEST_FILE};
use crate::persist::{read_segment, write_segment, SegmentFiles};
use crate::resolve::{next_instance, Catalog, Resolved};
use crate::schema::{Schema, DEFAULT_MAX_COLUMNS};
use crate::schema::{LOCATION_PATH, UNIQUENESS_TOKEN_PATH};
use crate::segment::{build_segment, Segment};
use crate::snapshot::Snapshot;
use crate::storage::{read_all, replace_atomic, Storage};
use crate::value::{ColumnId, EventId, SegmentId, SeqNo, ValueType};
use crate::wal::{replay, replay_closed, TornTail, WalReplay, WalWriter};

mod delete;

/// When acknowledged events become durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// fsync the WAL before every append returns (the default): an
    /// acknowledged event survives process kill and power loss.
    #[default]
    Sync,
    /// Write every batch to the OS before acknowledging it, but fsync only
    /// at seal, flush, close and every [`BUFFERED_SYNC_BYTES`] of WAL.
    /// A process kill loses nothing; a power loss can lose the batches
    /// acknowledged since the last fsync.
    Buffered,
}

/// In [`Durability::Buffered`] mode, the WAL is fsynced after this many bytes.
pub const BUFFERED_SYNC_BYTES: u64 = 64 << 20;

/// Default for [`CollectionOptions::segment_rows`].
pub const DEFAULT_SEGMENT_ROWS: usize = 1 << 20;

/// Head tails frozen for snapshots are merged once there are this many.
const MAX_FROZEN_PARTS: usize = 8;

/// Segment ids at or above this are in-memory head parts, never persisted.
const HEAD_PART_ID_BASE: SegmentId = 1 << 63;

/// Tuning of one collection.
#[derive(Debug, Clone)]
pub struct CollectionOptions {
    /// When acknowledged events become durable.
    pub durability: Durability,
    /// The head is sealed into a segment at this many rows.
    pub segment_rows: usize,
    /// Per-event limits.
    pub limits: EventLimits,
    /// Maximum typed columns per collection.
    pub max_columns: usize,
}

impl Default for CollectionOptions {
    fn default() -> Self {
        CollectionOptions {
            durability: Durability::Sync,
            segment_rows: DEFAULT_SEGMENT_ROWS,
            limits: EventLimits::default(),
            max_columns: DEFAULT_MAX_COLUMNS,
        }
    }
}

/// What opening a collection found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// WAL records replayed into the head.
    pub replayed_records: usize,
    /// Events replayed into the head.
    pub replayed_events: usize,
    /// A torn WAL tail that was truncated.
    pub torn_tail: Option<TornTail>,
    /// Files not named by the manifest that were removed.
    pub removed_orphans: Vec<PathBuf>,
}

/// The result of [`Collection::append`]: one entry per event given.
#[derive(Debug, Default)]
pub struct AppendOutcome {
    /// `Ok` = acknowledged (stored, or a suppressed duplicate); `Err` = rejected.
    pub results: Vec<Result<()>>,
    /// Events stored (duplicates and rejections excluded).
    pub stored: usize,
}

/// A handle to one collection. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Collection {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Collection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collection").field("name", &self.inner.name).finish()
    }
}

struct Inner {
    name: String,
    dir: PathBuf,
    storage: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
    opts: CollectionOptions,
    /// Schema and dictionaries as of the last append that added a column:
    /// what [`Collection::resolve`] looks ids up in, off the writer lock.
    catalog: RwLock<Catalog>,
    writer: Mutex<Writer>,
}

/// One part of an append (see [`Collection::append_resolved`]).
#[derive(Debug, Clone, Copy)]
pub struct AppendPart<'a> {
    /// The parsed events.
    pub batch: &'a FlatBatch,
    /// The WAL encoding of all of `batch`'s events, in order, as
    /// [`crate::encode_wal_part`] writes it, or empty. When every event of
    /// the batch is appended, the WAL record is written from these bytes
    /// without copying them (parsers encode their batches in parallel);
    /// otherwise the collection encodes the appended events itself.
    pub wal: &'a [u8],
    /// Indexes of the events to append, into `batch.events`.
    pub events: &'a [usize],
    /// Ids looked up ahead by [`Collection::resolve`] for `batch` (ignored
    /// when made by another collection or for another batch).
    pub resolved: Option<&'a Resolved>,
}

struct Writer {
    wal: WalWriter,
    manifest: Manifest,
    segments: Vec<Arc<Segment>>,
    head: Head,
    schema: Schema,
    dicts: Dicts,
    /// Head rows `[0, frozen_upto)` are covered by `frozen`.
    frozen: Vec<Arc<Segment>>,
    frozen_upto: usize,
    next_part_id: SegmentId,
    published: Option<Arc<Snapshot>>,
    ids: EventIdGen,
    poisoned: bool,
    unsynced_bytes: u64,
    /// Reused WAL payload buffer (no fresh pages per append).
    payload_buf: Vec<u8>,
    /// A full head being sealed on a background thread.
    sealing: Option<Sealing>,
    /// Logs before the current one whose records are still in the head
    /// (found after the manifest's log at open); removed by the next seal.
    older_wals: Vec<String>,
    /// Process-unique number of this collection's current ids (see
    /// [`Resolved`]); renewed when a property is deleted.
    instance: u64,
    /// The collection was deleted: every call is refused.
    deleted: bool,
}

/// Heads of at least this many rows are sealed on a background thread
/// while appends go on into a fresh head; smaller ones seal inline (cheap,
/// and deterministic for tests with tiny segments).
pub const BACKGROUND_SEAL_MIN_ROWS: usize = 16_384;

/// A full head handed to a background seal (see the module docs).
struct Sealing {
    /// The frozen rows.
    head: Arc<Head>,
    /// Snapshot parts covering `head` rows `[0, parts_upto)`.
    parts: Vec<Arc<Segment>>,
    parts_upto: usize,
    /// The schema at the freeze: the manifest's once committed.
    schema: Schema,
    /// The last WAL record in `head`: the manifest's `last_seq` once committed.
    last_seq: SeqNo,
    /// The log that took over at the freeze: the manifest's `wal_file`.
    wal_file: String,
    /// Logs holding only `head`'s records, removed after the commit.
    covered_wals: Vec<String>,
    /// The thread writing the segment and dictionary files; `None` after
    /// it failed (the collection is poisoned then).
    job: Option<std::thread::JoinHandle<Result<SealOutput>>>,
}

/// What a seal wrote, to be committed in a manifest.
struct SealOutput {
    segment: Segment,
    files: SegmentFiles,
    dictionaries: Vec<DictFileEntry>,
}

fn wal_name(first_seq: SeqNo) -> String {
    format!("wal-{first_seq:016x}.log")
}

/// The first sequence number a log file's name carries (see [`wal_name`]).
fn wal_first_seq(name: &str) -> Option<SeqNo> {
    let hex = name.strip_prefix("wal-")?.strip_suffix(".log")?;
    (hex.len() == 16).then(|| SeqNo::from_str_radix(hex, 16).ok()).flatten()
}

fn dict_name(column: u32) -> String {
    format!("dict-{column:08x}.dict")
}

/// Limits used when replaying the WAL: acknowledged data is never refused
/// because limits were tightened between runs.
fn replay_limits() -> EventLimits {
    EventLimits {
        max_event_bytes: usize::MAX,
        max_depth: 120,
        max_properties: usize::MAX,
        max_string_chars: usize::MAX,
        max_property_name_chars: usize::MAX,
        max_list_len: usize::MAX,
    }
}

/// Each dictionary's length now: a seal persists exactly these entries.
fn dict_lens(dicts: &Dicts) -> Vec<(ColumnId, u64)> {
    dicts.iter().map(|(c, d)| (c, d.len() as u64)).collect()
}

/// Builds the segment of `head` and writes its files and the dictionary
/// entries before `lens` (from the committed states `prev`), then syncs the
/// directory: everything a manifest commit needs. Touches no in-memory
/// state of the collection, so a background thread can run it.
#[allow(clippy::too_many_arguments)]
fn write_seal(
    storage: &dyn Storage,
    dir: &Path,
    head: &Head,
    schema: &Schema,
    dicts: &Dicts,
    seg_id: SegmentId,
    prev: &[DictFileEntry],
    lens: &[(ColumnId, u64)],
) -> Result<SealOutput> {
    // The dictionary files do not depend on the segment: they are written
    // while it is built and encoded (which leave a core idle at the end of
    // each parallel step).
    let (built, dictionaries) = std::thread::scope(|s| {
        let dictionaries = s.spawn(|| -> Result<Vec<DictFileEntry>> {
            let mut dictionaries = Vec::with_capacity(lens.len());
            for &(column, len) in lens {
                let Some(dict) = dicts.get(column) else { continue };
                let state = prev
                    .iter()
                    .find(|d| d.column == column)
                    .map(|d| d.state)
                    .unwrap_or(DictFileState::default());
                let file = dict_name(column);
                let state = dict.append_prefix_to_file(storage, &dir.join(&file), state, len)?;
                dictionaries.push(DictFileEntry { column, file, state });
            }
            Ok(dictionaries)
        });
        let segment = build_segment(head, 0..head.len(), schema, dicts, seg_id);
        let built = write_segment(storage, dir, &segment, schema, dicts).map(|f| (segment, f));
        (built, dictionaries.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    });
    let ((segment, files), dictionaries) = (built?, dictionaries?);
    storage.sync_dir(dir).map_err(|e| IngestError::io(dir, e))?;
    Ok(SealOutput { segment, files, dictionaries })
}

/// Commits a written seal: the segment joins the in-memory set, then the
/// manifest naming it (and `wal_file`, `last_seq`, `schema`) replaces the
/// old one, then the logs in `covered` are removed. On error the
/// collection must be poisoned: the durable state is still the old
/// manifest with every log, which hold every acknowledged event.
#[allow(clippy::too_many_arguments)]
fn commit_seal(
    storage: &dyn Storage,
    dir: &Path,
    w: &mut Writer,
    out: SealOutput,
    last_seq: SeqNo,
    wal_file: String,
    schema: Schema,
    covered: Vec<String>,
) -> Result<()> {
    let mut manifest = w.manifest.clone();
    manifest.generation += 1;
    manifest.last_seq = last_seq;
    manifest.wal_file = wal_file;
    manifest.next_segment_id = out.files.id + 1;
    manifest.segments.push(out.files);
    manifest.schema = schema;
    manifest.dictionaries = out.dictionaries;
    w.segments.push(Arc::new(out.segment));
    w.published = None;
    let manifest_path = dir.join(MANIFEST_FILE);
    replace_atomic(storage, &manifest_path, &manifest.encode()?)
        .map_err(|e| IngestError::io(&manifest_path, e))?;
    w.manifest = manifest;
    for old in covered {
        if old != w.manifest.wal_file {
            let p = dir.join(&old);
            storage.remove(&p).map_err(|e| IngestError::io(&p, e))?;
        }
    }
    Ok(())
}

/// Commits the background seal if its thread is done (or, with `wait`,
/// once it is). Its error poisons the collection and is returned; the
/// frozen rows then stay readable.
fn finish_seal(storage: &dyn Storage, dir: &Path, w: &mut Writer, wait: bool) -> Result<()> {
    let Some(s) = &mut w.sealing else { return Ok(()) };
    let Some(job) = s.job.as_ref() else {
        return Err(IngestError::Internal("an earlier background seal failed".into()));
    };
    if !wait && !job.is_finished() {
        return Ok(());
    }
    let job = s.job.take().expect("checked above");
    let out = job
        .join()
        .unwrap_or_else(|_| Err(IngestError::Internal("the seal thread panicked".into())));
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            w.poisoned = true;
            return Err(e);
        }
    };
    let s = w.sealing.take().expect("checked above");
    commit_seal(storage, dir, w, out, s.last_seq, s.wal_file, s.schema, s.covered_wals)
        .inspect_err(|_| w.poisoned = true)
}

/// Appends the records of one replayed log past the manifest's `last_seq`
/// to the head (one record is one batch: parsed whole, appended whole).
#[allow(clippy::too_many_arguments)]
fn replay_records(
    replayed: &WalReplay,
    wal_path: &Path,
    manifest: &Manifest,
    limits: &EventLimits,
    head: &mut Head,
    schema: &mut Schema,
    dicts: &mut Dicts,
    report: &mut OpenReport,
) -> Result<()> {
    for rec in &replayed.records {
        if rec.seq <= manifest.last_seq {
            continue;
        }
        let events = decode_wal_payload(&rec.payload, wal_path)?;
        report.replayed_records += 1;
        let not_replayable = |e: IngestError| {
            IngestError::corrupt(wal_path, format!("record {} does not replay: {e}", rec.seq))
        };
        let n = events.len();
        match events {
            WalEvents::Json(events) => {
                let mut parser = EventParser::new();
                let mut batch = FlatBatch::new();
                let mut rows = Vec::with_capacity(events.len());
                for (i, ev) in events.iter().enumerate() {
                    parser.parse_at(ev.raw, 0, &mut batch, limits).map_err(not_replayable)?;
                    rows.push((i, ev.created_at, ev.id));
                }
                head.append_batch(&batch, &rows, schema, dicts).map_err(not_replayable)?;
            }
            WalEvents::Flat { batch, created_at, ids } => {
                let rows: Vec<(usize, i64, EventId)> =
                    ids.into_iter().enumerate().map(|(i, id)| (i, created_at, id)).collect();
                head.append_batch(&batch, &rows, schema, dicts).map_err(not_replayable)?;
            }
        }
        report.replayed_events += n;
    }
    Ok(())
}

impl Collection {
    /// Opens the collection in `dir`, creating it (durably) if the directory
    /// holds no manifest.
    pub fn open(
        storage: Arc<dyn Storage>,
        dir: PathBuf,
        name: &str,
        clock: Arc<dyn Clock>,
        opts: CollectionOptions,
    ) -> Result<(Collection, OpenReport)> {
        let mut report = OpenReport::default();
        storage.create_dir_all(&dir).map_err(|e| IngestError::io(&dir, e))?;
        let manifest_path = dir.join(MANIFEST_FILE);
        let exists =
            storage.exists(&manifest_path).map_err(|e| IngestError::io(&manifest_path, e))?;
        let manifest = if exists {
            let bytes = read_all(&*storage, &manifest_path)
                .map_err(|e| IngestError::io(&manifest_path, e))?;
            let manifest = Manifest::decode(&bytes, &manifest_path)?;
            // A creation whose directory syncs failed leaves a manifest that
            // is visible but maybe not durable (its bytes were synced before
            // the rename); events appended now would vanish with it on power
            // loss. Make its name and the collection's name durable first.
            storage.sync_dir(&dir).map_err(|e| IngestError::io(&dir, e))?;
            if let Some(parent) = dir.parent() {
                storage.sync_dir(parent).map_err(|e| IngestError::io(parent, e))?;
            }
            manifest
        } else {
            // A fresh collection (or one whose creation was interrupted before
            // its first manifest: nothing in it was ever acknowledged).
            for f in storage.list(&dir).map_err(|e| IngestError::io(&dir, e))? {
                storage.remove(&f).map_err(|e| IngestError::io(&f, e))?;
            }
            let wal_file = wal_name(1);
            let wal_path = dir.join(&wal_file);
            drop(WalWriter::create(storage.clone(), wal_path, 1)?);
            let manifest = Manifest {
                collection: name.to_string(),
                generation: 1,
                last_seq: 0,
                wal_file,
                next_segment_id: 1,
                segments: Vec::new(),
                schema: Schema::new().with_max_columns(opts.max_columns),
                dictionaries: Vec::new(),
            };
            replace_atomic(&*storage, &manifest_path, &manifest.encode()?)
                .map_err(|e| IngestError::io(&manifest_path, e))?;
            if let Some(parent) = dir.parent() {
                storage.sync_dir(parent).map_err(|e| IngestError::io(parent, e))?;
            }
            manifest
        };

        // The WAL chain: the manifest's log, then every later log (a
        // background seal starts a new log at its freeze and names it in
        // the manifest only when it commits).
        let first_seq = wal_first_seq(&manifest.wal_file);
        let mut later: Vec<(SeqNo, String)> = Vec::new();
        for f in storage.list(&dir).map_err(|e| IngestError::io(&dir, e))? {
            let fname = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if let (Some(first), Some(seq)) = (first_seq, wal_first_seq(&fname)) {
                if seq > first {
                    later.push((seq, fname));
                }
            }
        }
        later.sort();
        let mut chain = vec![manifest.wal_file.clone()];
        chain.extend(later.into_iter().map(|(_, name)| name));

        // Garbage from interrupted seals: anything the manifest does not
        // name, other than the WAL chain.
        let mut named: HashSet<String> = HashSet::new();
        named.insert(MANIFEST_FILE.to_string());
        named.extend(chain.iter().cloned());
        for s in &manifest.segments {
            named.insert(s.parquet.name.clone());
            named.insert(s.index.name.clone());
            if let Some(d) = &s.deletes {
                named.insert(d.name.clone());
            }
        }
        for d in &manifest.dictionaries {
            named.insert(d.file.clone());
        }
        for f in storage.list(&dir).map_err(|e| IngestError::io(&dir, e))? {
            let fname = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if !named.contains(&fname) {
                storage.remove(&f).map_err(|e| IngestError::io(&f, e))?;
                report.removed_orphans.push(f);
            }
        }
        if !report.removed_orphans.is_empty() {
            storage.sync_dir(&dir).map_err(|e| IngestError::io(&dir, e))?;
        }

        // Dictionaries: exactly the committed prefix of each file.
        // Replay never refuses acknowledged events, even if the column
        // limit was lowered since they were written; the limit applies again
        // to new writes.
        let mut schema = manifest.schema.clone().with_max_columns(usize::MAX);
        let mut dicts = Dicts::new();
        for d in &manifest.dictionaries {
            let path = dir.join(&d.file);
            let dict = Dictionary::load(&*storage, &path, d.state)?;
            dicts.insert(d.column, Arc::new(dict));
        }

        // Segments.
        // Segments, one per core at a time (decoding is CPU-bound).
        let loaded = crate::segment::par_map(manifest.segments.iter().collect(), |files| {
            read_segment(&*storage, &dir, files, &schema, &dicts).map(Arc::new)
        });
        let segments = loaded.into_iter().collect::<Result<Vec<_>>>()?;

        // WAL replay past the manifest, log by log. Every log but the last
        // was synced whole before the next one was created, and each starts
        // where the one before it ends.
        let mut head = Head::new();
        let limits = replay_limits();
        let mut next_seq: Option<SeqNo> = None;
        let mut last = None;
        for (k, file) in chain.iter().enumerate() {
            let wal_path = dir.join(file);
            let is_last = k + 1 == chain.len();
            let replayed = if is_last {
                replay(&storage, &wal_path)?
            } else {
                replay_closed(&storage, &wal_path)?
            };
            if let (Some(expected), Some(first)) = (next_seq, replayed.first_seq) {
                if first != expected {
                    return Err(IngestError::corrupt(
                        &wal_path,
                        format!(
                            "log starts at record {first}, the log before it ends at record {}",
                            expected.saturating_sub(1)
                        ),
                    ));
                }
            }
            if replayed.first_seq.is_some() {
                next_seq = Some(replayed.next_seq);
            }
            replay_records(
                &replayed,
                &wal_path,
                &manifest,
                &limits,
                &mut head,
                &mut schema,
                &mut dicts,
                &mut report,
            )?;
            if is_last {
                report.torn_tail = replayed.torn_tail;
                last = Some((wal_path, replayed));
            }
        }
        let (wal_path, replayed) = last.expect("the chain holds the manifest's log");
        let schema = schema.with_max_columns(opts.max_columns);
        let wal = if replayed.first_seq.is_none() {
            // The log's header never became durable: it holds no record.
            storage.remove(&wal_path).map_err(|e| IngestError::io(&wal_path, e))?;
            let first = next_seq.unwrap_or(manifest.last_seq + 1);
            WalWriter::create(storage.clone(), wal_path, first)?
        } else {
            WalWriter::open_append(storage.clone(), wal_path, &replayed)?
        };
        let older_wals = chain[..chain.len() - 1].to_vec();

        let instance = next_instance();
        let catalog = Catalog { schema: Arc::new(schema.clone()), dicts: dicts.clone(), instance };
        let mut id_prefix = [0u8; 4];
        getrandom::fill(&mut id_prefix)
            .map_err(|e| IngestError::Internal(format!("os random source: {e}")))?;
        let writer = Writer {
            wal,
            manifest,
            segments,
            head,
            schema,
            dicts,
            frozen: Vec::new(),
            frozen_upto: 0,
            next_part_id: HEAD_PART_ID_BASE,
            published: None,
            ids: EventIdGen { prefix: id_prefix, counter: 0 },
            poisoned: false,
            unsynced_bytes: 0,
            payload_buf: Vec::new(),
            sealing: None,
            older_wals,
            instance,
            deleted: false,
        };
        let coll = Collection {
            inner: Arc::new(Inner {
                name: name.to_string(),
                dir,
                storage,
                clock,
                opts,
                catalog: RwLock::new(catalog),
                writer: Mutex::new(writer),
            }),
        };
        Ok((coll, report))
    }

    /// The collection's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The collection's directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The options this collection was opened with.
    pub fn options(&self) -> &CollectionOptions {
        &self.inner.opts
    }

    /// Refuses a deleted or poisoned collection.
    fn refuse_if_closed(&self, w: &Writer) -> Result<()> {
        if w.deleted {
            return Err(IngestError::Deleted { collection: self.inner.name.clone() });
        }
        if w.poisoned || w.wal.is_poisoned() {
            return Err(IngestError::Poisoned { collection: self.inner.name.clone() });
        }
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Writer> {
        // A panic while holding the lock cannot leave acknowledged data
        // inconsistent (the WAL is the source of truth), so recover the guard.
        self.inner.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends the events `events` (indexes into `batch`).
    ///
    /// Returns per-event results (a suppressed duplicate is `Ok`), or an
    /// error when the WAL write failed — then nothing of this call is stored
    /// and the collection is poisoned.
    pub fn append(&self, batch: &FlatBatch, events: &[usize]) -> Result<AppendOutcome> {
        let mut out = self.append_parts(&[(batch, events)])?;
        Ok(out.pop().expect("one outcome per part"))
    }

    /// Appends several parts — `(batch, event indexes)`, as
    /// [`Collection::append`] takes — as ONE WAL record with one fsync
    /// (parallel parsers produce one batch each). One outcome per part.
    pub fn append_parts(&self, parts: &[(&FlatBatch, &[usize])]) -> Result<Vec<AppendOutcome>> {
        let parts: Vec<AppendPart<'_>> = parts
            .iter()
            .map(|&(batch, events)| AppendPart { batch, wal: &[], events, resolved: None })
            .collect();
        self.append_resolved(&parts)
    }

    /// Looks up, read-only and without the writer lock, the column and
    /// dictionary ids of every value of `batch` that the collection already
    /// knows (see the `resolve` module docs): parallel parsers call this so
    /// that [`Collection::append_resolved`] only adds what is new.
    pub fn resolve(&self, batch: &FlatBatch) -> Resolved {
        let catalog = self.inner.catalog.read().unwrap_or_else(|p| p.into_inner()).clone();
        Resolved::new(catalog.instance, &catalog, batch)
    }

    /// [`Collection::append_parts`] with resolved ids: appends all parts as
    /// ONE WAL record with one fsync; one outcome per part.
    pub fn append_resolved(&self, parts: &[AppendPart<'_>]) -> Result<Vec<AppendOutcome>> {
        let mut w = self.lock();
        self.refuse_if_closed(&w)?;
        // Checked under the lock: ids resolved before a property was
        // deleted belong to an older instance and are ignored.
        let instance = w.instance;
        let resolved: Vec<Option<&Resolved>> =
            parts.iter().map(|p| p.resolved.filter(|r| r.fits(instance, p.batch))).collect();
        // A background seal that has finished commits now (never waits).
        finish_seal(&*self.inner.storage, &self.inner.dir, &mut w, false)?;
        let now = self.inner.clock.now_ms();
        // Fast path: drop duplicate tokens, then plan every part's columns
        // once; if all new columns fit, every remaining event is accepted
        // and the plans are applied after the WAL write.
        let mut batch_tokens: HashSet<&str> = HashSet::new();
        let mut outcomes = Vec::with_capacity(parts.len());
        let mut accepted_parts: Vec<Vec<(usize, EventId)>> = Vec::with_capacity(parts.len());
        let mut candidates: Vec<Vec<usize>> = Vec::with_capacity(parts.len());
        let total: usize = parts.iter().map(|p| p.events.len()).sum();
        w.ids.reserve(total);
        for &AppendPart { batch, events, .. } in parts {
            let mut cand = Vec::with_capacity(events.len());
            for &i in events {
                if let Some(tok) = batch.events[i].uniqueness_token {
                    if duplicate_token(&w.schema, &w.dicts, batch.str(tok), &mut batch_tokens) {
                        continue;
                    }
                }
                cand.push(i);
            }
            candidates.push(cand);
        }
        let mut plans: Vec<BatchPlan> = parts
            .iter()
            .zip(&candidates)
            .zip(&resolved)
            .map(|((p, cand), &res)| BatchPlan::with_resolved(p.batch, cand, &w.schema, res))
            .collect();
        let planned_new: usize = plans.iter().map(|p| p.new_columns).sum();
        if w.schema.check_room(planned_new).is_ok() {
            for (&AppendPart { events, .. }, cand) in parts.iter().zip(&candidates) {
                let accepted: Vec<(usize, EventId)> =
                    cand.iter().map(|&i| (i, w.ids.next(now))).collect();
                outcomes.push(AppendOutcome {
                    results: events.iter().map(|_| Ok(())).collect(),
                    stored: accepted.len(),
                });
                accepted_parts.push(accepted);
            }
        } else {
            // Slow path: some event would break the column limit; decide
            // event by event which ones fit, then plan those.
            batch_tokens.clear();
            let mut new_columns: HashSet<(String, ValueType)> = HashSet::new();
            for &AppendPart { batch, events, .. } in parts {
                let mut outcome =
                    AppendOutcome { results: Vec::with_capacity(events.len()), stored: 0 };
                let mut accepted: Vec<(usize, EventId)> = Vec::with_capacity(events.len());
                for &i in events {
                    let ev = &batch.events[i];
                    if let Some(tok) = ev.uniqueness_token {
                        if duplicate_token(&w.schema, &w.dicts, batch.str(tok), &mut batch_tokens) {
                            outcome.results.push(Ok(()));
                            continue;
                        }
                    }
                    if let Err(e) = check_columns(&w.schema, batch, i, &mut new_columns) {
                        if let Some(tok) = ev.uniqueness_token {
                            batch_tokens.remove(batch.str(tok));
                        }
                        outcome.results.push(Err(e));
                        continue;
                    }
                    let id = w.ids.next(now);
                    accepted.push((i, id));
                    outcome.results.push(Ok(()));
                }
                outcome.stored = accepted.len();
                outcomes.push(outcome);
                accepted_parts.push(accepted);
            }
            plans = parts
                .iter()
                .zip(&accepted_parts)
                .zip(&resolved)
                .map(|((p, acc), &res)| {
                    let events: Vec<usize> = acc.iter().map(|a| a.0).collect();
                    BatchPlan::with_resolved(p.batch, &events, &w.schema, res)
                })
                .collect();
        }
        if accepted_parts.iter().all(|a| a.is_empty()) {
            return Ok(outcomes);
        }
        let any_new = plans.iter().any(|p| p.new_columns > 0);
        let events: usize = accepted_parts.iter().map(Vec::len).sum();
        let durability = self.inner.opts.durability;
        let mut payload = std::mem::take(&mut w.payload_buf);
        let written = {
            let pieces = encode_wal_payload(&mut payload, parts, &accepted_parts, now);
            let Writer { wal, unsynced_bytes, head, schema, dicts, .. } = &mut *w;
            head.set_row_hint(self.inner.opts.segment_rows);
            let apply = |head: &mut Head, schema: &mut Schema, dicts: &mut Dicts| {
                for (((part, accepted), plan), &res) in
                    parts.iter().zip(&accepted_parts).zip(plans).zip(&resolved)
                {
                    let rows: Vec<(usize, i64, EventId)> =
                        accepted.iter().map(|&(i, id)| (i, now, id)).collect();
                    head.apply_batch_resolved(part.batch, &rows, plan, res, schema, dicts);
                }
            };
            if !any_new && events >= OVERLAP_MIN_EVENTS {
                // The log write (a kernel copy of the raw events, and the
                // fsync) runs beside the head append; both finish under the
                // lock before anything is acknowledged or readable. If the
                // write fails, the rows are taken out of the head again and
                // the schema's event counts restored (no column was added);
                // values interned meanwhile stay in their dictionaries,
                // unused, and are never persisted: the collection is
                // poisoned until it is reopened.
                let rows_before = head.len();
                let saved_schema = schema.clone();
                let written = std::thread::scope(|s| {
                    let log = s.spawn(|| write_wal_to(wal, unsynced_bytes, &pieces, durability));
                    apply(head, schema, dicts);
                    log.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
                });
                if written.is_err() {
                    head.truncate(rows_before);
                    *schema = saved_schema;
                }
                written
            } else {
                let written = write_wal_to(wal, unsynced_bytes, &pieces, durability);
                if written.is_ok() {
                    apply(head, schema, dicts);
                }
                written
            }
        };
        if payload.capacity() > 4 * payload.len() + (64 << 20) {
            payload.shrink_to(payload.len()); // do not keep a huge buffer after one big batch
        }
        w.payload_buf = payload;
        if let Err(e) = written {
            w.poisoned = true;
            return Err(e);
        }
        let Writer { schema, dicts, .. } = &mut *w;
        if any_new {
            // New columns (and their dictionaries): publish them for resolving.
            let catalog =
                Catalog { schema: Arc::new(schema.clone()), dicts: dicts.clone(), instance };
            *self.inner.catalog.write().unwrap_or_else(|p| p.into_inner()) = catalog;
        }
        w.published = None;
        // Seal only after the whole record is in the head: the seal marks
        // every WAL record so far as sealed.
        if w.head.len() >= self.inner.opts.segment_rows {
            if w.head.len() >= BACKGROUND_SEAL_MIN_ROWS {
                self.start_seal(&mut w).inspect_err(|_| w.poisoned = true)?;
            } else {
                self.seal_locked(&mut w)?;
            }
        }
        Ok(outcomes)
    }

    /// Seals the head into a segment now (no-op when it is empty) and makes
    /// the WAL durable.
    pub fn flush(&self) -> Result<()> {
        let mut w = self.lock();
        self.refuse_if_closed(&w)?;
        finish_seal(&*self.inner.storage, &self.inner.dir, &mut w, true)?;
        if w.head.is_empty() {
            w.sync_wal().inspect_err(|_| w.poisoned = true)?;
            return Ok(());
        }
        self.seal_locked(&mut w)
    }

    /// Makes every acknowledged event durable (fsyncs a buffered WAL).
    pub fn sync(&self) -> Result<()> {
        let mut w = self.lock();
        self.refuse_if_closed(&w)?;
        w.sync_wal().inspect_err(|_| w.poisoned = true)
    }

    fn seal_locked(&self, w: &mut Writer) -> Result<()> {
        let result = self.seal_inner(w);
        if result.is_err() {
            // The durable state is still the old manifest + old WAL, which
            // hold every acknowledged event; refuse writes until reopen.
            w.poisoned = true;
        }
        result
    }

    fn seal_inner(&self, w: &mut Writer) -> Result<()> {
        let storage = &*self.inner.storage;
        let dir = &self.inner.dir;
        finish_seal(storage, dir, w, true)?;
        w.sync_wal()?;
        let seg_id = w.manifest.next_segment_id;
        let lens = dict_lens(&w.dicts);
        let out = write_seal(
            storage,
            dir,
            &w.head,
            &w.schema,
            &w.dicts,
            seg_id,
            &w.manifest.dictionaries,
            &lens,
        )?;
        // A fresh WAL for the rows that come after this seal.
        let last_seq = w.wal.next_seq() - 1;
        let (wal_file, covered) = self.next_wal(w)?;
        let schema = w.schema.clone();
        w.head = Head::new();
        w.frozen.clear();
        w.frozen_upto = 0;
        commit_seal(storage, dir, w, out, last_seq, wal_file, schema, covered)
    }

    /// Switches the writer to a new log for the records after the current
    /// one (the current log is synced); returns its name and the logs whose
    /// records are all before it. A current log without records is kept.
    fn next_wal(&self, w: &mut Writer) -> Result<(String, Vec<String>)> {
        let storage = &*self.inner.storage;
        let next_seq = w.wal.next_seq();
        let wal_file = wal_name(next_seq);
        let path = self.inner.dir.join(&wal_file);
        let mut covered = std::mem::take(&mut w.older_wals);
        if w.wal.path() == path {
            return Ok((wal_file, covered));
        }
        if let Some(current) = w.wal.path().file_name() {
            covered.push(current.to_string_lossy().into_owned());
        }
        if storage.exists(&path).map_err(|e| IngestError::io(&path, e))? {
            storage.remove(&path).map_err(|e| IngestError::io(&path, e))?;
        }
        w.wal = WalWriter::create(self.inner.storage.clone(), path, next_seq)?;
        Ok((wal_file, covered))
    }

    /// Freezes the full head and seals it on a background thread: the log
    /// is switched first, so the head holds exactly the records of the
    /// logs before the new one, and appends go on into a fresh head. The
    /// seal commits (manifest, old logs removed) at the next append,
    /// flush, snapshot or close after the thread is done; a seal still
    /// running when the next head is full is waited for.
    fn start_seal(&self, w: &mut Writer) -> Result<()> {
        finish_seal(&*self.inner.storage, &self.inner.dir, w, true)?;
        w.sync_wal()?;
        let last_seq = w.wal.next_seq() - 1;
        let (wal_file, covered_wals) = self.next_wal(w)?;
        let head = Arc::new(std::mem::take(&mut w.head));
        let schema = w.schema.clone();
        let (storage, dir) = (self.inner.storage.clone(), self.inner.dir.clone());
        let job = {
            let (head, schema, dicts) = (head.clone(), schema.clone(), w.dicts.clone());
            let (seg_id, prev, lens) =
                (w.manifest.next_segment_id, w.manifest.dictionaries.clone(), dict_lens(&w.dicts));
            std::thread::Builder::new().name("tally-seal".into()).spawn(move || {
                write_seal(&*storage, &dir, &head, &schema, &dicts, seg_id, &prev, &lens)
            })
        };
        // Without a thread the frozen rows still stay readable (as a failed
        // seal's do) and the caller poisons the collection.
        let (job, failed) = match job {
            Ok(job) => (Some(job), None),
            Err(e) => {
                (None, Some(IngestError::Internal(format!("cannot start a seal thread: {e}"))))
            }
        };
        w.sealing = Some(Sealing {
            head,
            parts: std::mem::take(&mut w.frozen),
            parts_upto: std::mem::take(&mut w.frozen_upto),
            schema,
            last_seq,
            wal_file,
            covered_wals,
            job,
        });
        w.published = None;
        failed.map_or(Ok(()), Err)
    }

    /// An immutable read view including every acknowledged event.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        let mut w = self.lock();
        // A finished background seal commits (an error poisons the
        // collection; its rows stay readable from memory).
        let _ = finish_seal(&*self.inner.storage, &self.inner.dir, &mut w, false);
        if let Some(s) = &w.published {
            return s.clone();
        }
        let Writer { sealing, next_part_id, dicts, .. } = &mut *w;
        let mut sealing_parts = Vec::new();
        if let Some(s) = sealing {
            let n = s.head.len();
            if s.parts_upto < n {
                let id = *next_part_id;
                *next_part_id += 1;
                let part = build_segment(&s.head, s.parts_upto..n, &s.schema, dicts, id);
                s.parts.push(Arc::new(part));
                s.parts_upto = n;
            }
            sealing_parts.extend(s.parts.iter().cloned());
        }
        let n = w.head.len();
        if n > w.frozen_upto {
            if w.frozen.len() >= MAX_FROZEN_PARTS {
                w.frozen.clear();
                w.frozen_upto = 0;
            }
            let id = w.next_part_id;
            w.next_part_id += 1;
            let part = build_segment(&w.head, w.frozen_upto..n, &w.schema, &w.dicts, id);
            w.frozen.push(Arc::new(part));
            w.frozen_upto = n;
        }
        let mut segments = w.segments.clone();
        segments.extend(sealing_parts);
        segments.extend(w.frozen.iter().cloned());
        let snap = Arc::new(Snapshot::new(
            self.inner.name.clone(),
            segments,
            Arc::new(w.schema.clone()),
            w.dicts.clone(),
        ));
        w.published = Some(snap.clone());
        snap
    }

    /// Number of sealed segments.
    pub fn sealed_segments(&self) -> usize {
        self.lock().segments.len()
    }

    /// Rows in the head (acknowledged, not yet sealed).
    pub fn head_rows(&self) -> usize {
        let w = self.lock();
        w.head.len() + w.sealing.as_ref().map_or(0, |s| s.head.len())
    }

    /// True when a failed write poisoned the collection.
    pub fn is_poisoned(&self) -> bool {
        self.lock().poisoned
    }
}

impl Drop for Inner {
    /// A clean close makes a buffered WAL durable (errors cannot be
    /// reported from here; call [`Collection::sync`] to see them).
    fn drop(&mut self) {
        let Inner { writer, storage, dir, .. } = self;
        let w = writer.get_mut().unwrap_or_else(|p| p.into_inner());
        if w.deleted {
            return;
        }
        // A background seal finishes and commits; were it abandoned, the
        // next open would replay its rows from the logs (nothing is lost).
        if finish_seal(&**storage, dir, w, true).is_err() {
            w.poisoned = true;
        }
        if w.unsynced_bytes > 0 && !w.poisoned && w.wal.sync().is_ok() {
            w.unsynced_bytes = 0;
        }
    }
}

/// Assigns `keen.id`s: seconds, a random prefix, a counter (see
/// [`WAL_PAYLOAD_V2`]).
#[derive(Debug)]
struct EventIdGen {
    prefix: [u8; 4],
    counter: u32,
}

impl EventIdGen {
    /// Makes sure the next `n` ids come from one prefix with consecutive
    /// counters (a WAL record stores only its first id): takes a fresh
    /// random prefix now if the counter would wrap within them.
    fn reserve(&mut self, n: usize) {
        if u64::from(self.counter) + n as u64 > 1 << 32 {
            let _ = getrandom::fill(&mut self.prefix);
            self.counter = 0;
        }
    }

    fn next(&mut self, now_ms: i64) -> EventId {
        let mut id = [0u8; 12];
        let secs = (now_ms.div_euclid(1000)) as u32;
        id[0..4].copy_from_slice(&secs.to_be_bytes());
        id[4..8].copy_from_slice(&self.prefix);
        id[8..12].copy_from_slice(&self.counter.to_be_bytes());
        self.counter = self.counter.wrapping_add(1);
        if self.counter == 0 {
            // 2^32 ids under one prefix: take a fresh random prefix.
            let _ = getrandom::fill(&mut self.prefix);
        }
        EventId(id)
    }
}

impl Writer {
    /// Makes every record written so far durable (a no-op when nothing is
    /// unsynced). Callers poison the collection on error.
    fn sync_wal(&mut self) -> Result<()> {
        if self.unsynced_bytes > 0 {
            self.wal.sync()?;
            self.unsynced_bytes = 0;
        }
        Ok(())
    }
}

/// Appends with at least this many events write their WAL record on a
/// second thread while the head takes the rows (see
/// [`Collection::append_resolved`]); smaller ones are not worth a thread.
const OVERLAP_MIN_EVENTS: usize = 4096;

/// Writes one WAL record and syncs as `durability` says (the writer's
/// `write_wal`, on the fields it touches, so it can run beside the head).
fn write_wal_to(
    wal: &mut WalWriter,
    unsynced_bytes: &mut u64,
    payload: &[&[u8]],
    durability: Durability,
) -> Result<()> {
    wal.append_vectored(payload)?;
    *unsynced_bytes += payload.iter().map(|p| p.len() as u64).sum::<u64>();
    let must_sync = match durability {
        Durability::Sync => true,
        Durability::Buffered => *unsynced_bytes >= BUFFERED_SYNC_BYTES,
    };
    if must_sync {
        wal.sync()?;
        *unsynced_bytes = 0;
    }
    Ok(())
}

/// True when `token` was already stored (the token column's dictionary is
/// the collection's token set) or appears earlier in this append; records
/// it in `seen` otherwise.
fn duplicate_token<'a>(
    schema: &Schema,
    dicts: &Dicts,
    token: &'a str,
    seen: &mut HashSet<&'a str>,
) -> bool {
    uniqueness_token_seen(schema, dicts, token) || !seen.insert(token)
}

/// Dry run of the column limit: the new columns this event would add.
fn check_columns(
    schema: &Schema,
    batch: &FlatBatch,
    i: usize,
    new_columns: &mut HashSet<(String, ValueType)>,
) -> Result<()> {
    let mut mine: Vec<(String, ValueType)> = Vec::new();
    let ev = &batch.events[i];
    let mut consider = |path: &str, ty: ValueType| {
        if schema.id(path, ty).is_none() {
            let key = (path.to_string(), ty);
            if !new_columns.contains(&key) && !mine.contains(&key) {
                mine.push(key);
            }
        }
    };
    for p in batch.props_of(i) {
        consider(batch.str(p.path), p.value.value_type());
    }
    if ev.location.is_some() {
        consider(LOCATION_PATH, ValueType::Geo);
    }
    if ev.uniqueness_token.is_some() {
        consider(UNIQUENESS_TOKEN_PATH, ValueType::String);
    }
    if mine.is_empty() {
        return Ok(());
    }
    let total = schema.live_len() + new_columns.len() + mine.len();
    if total > schema.max_columns() {
        return Err(IngestError::LimitExceeded {
            code: crate::error::ErrorCode::InvalidEvent,
            what: "collection".into(),
            limit: crate::error::Limit::ColumnCount,
            max: schema.max_columns(),
            actual: total,
        });
    }
    new_columns.extend(mine);
    Ok(())
}

/// WAL payload version 1 (written by early versions; still read):
/// `u8 version = 1 | u32 event count | per event: i64 created_at ms |
/// [u8; 12] keen.id | u32 raw length | raw JSON bytes`, little-endian.
const WAL_PAYLOAD_V1: u8 = 1;

/// WAL payload version 2 (written before version 3; still read),
/// little-endian: `u8 version = 2 | i64 created_at ms | [u8; 12] keen.id of
/// the first event | u32 event count | per event: u32 raw length | raw JSON
/// bytes`, ids consecutive as in version 3.
const WAL_PAYLOAD_V2: u8 = 2;

/// WAL payload version 3 (written now): the flattened events in binary
/// (see the module docs and [`crate::encode_wal_part`]).
const WAL_PAYLOAD_V3: u8 = 3;

/// Bytes of the version 2 payload header (version, created_at, first id, count).
const WAL_V2_HEADER_LEN: usize = 1 + 8 + 12 + 4;

/// Version 3 id modes: consecutive from one first id, or one id per event.
const IDS_CONSECUTIVE: u8 = 0;
const IDS_EXPLICIT: u8 = 1;

/// True when `wal` is the encoding of exactly the events `accepted` lists
/// of `batch`: all of them, in order (see [`AppendPart::wal`]). The
/// part's header must agree with the batch's event and property counts.
fn part_passes_through(batch: &FlatBatch, wal: &[u8], accepted: &[(usize, EventId)]) -> bool {
    accepted.len() == batch.events.len()
        && accepted.iter().enumerate().all(|(k, &(i, _))| i == k)
        && crate::walpart::part_counts(wal)
            == Some((wal.len(), batch.events.len(), batch.props.len()))
}

/// True when the ids are one prefix with consecutive counters (see
/// [`WAL_PAYLOAD_V3`]).
fn consecutive_ids(accepted: &[Vec<(usize, EventId)>]) -> Option<EventId> {
    let mut ids = accepted.iter().flatten().map(|&(_, id)| id);
    let first = ids.next()?;
    let counter = |id: &EventId| u32::from_be_bytes(id.0[8..12].try_into().expect("4 bytes"));
    let mut next = counter(&first);
    for id in ids {
        next = next.checked_add(1)?;
        if id.0[..8] != first.0[..8] || counter(&id) != next {
            return None;
        }
    }
    Some(first)
}

/// Encodes the version 3 WAL payload of one append as pieces to write back
/// to back: the header, then one part per input part with accepted events.
/// A part whose pre-encoded bytes cover exactly its accepted events
/// ([`AppendPart::wal`]) is passed through without copying; the others
/// are encoded here into `scratch`.
fn encode_wal_payload<'a>(
    scratch: &'a mut Vec<u8>,
    parts: &'a [AppendPart<'a>],
    accepted: &[Vec<(usize, EventId)>],
    created_at: i64,
) -> Vec<&'a [u8]> {
    scratch.clear();
    let count: usize = accepted.iter().map(Vec::len).sum();
    scratch.push(WAL_PAYLOAD_V3);
    scratch.extend_from_slice(&created_at.to_le_bytes());
    scratch.extend_from_slice(&(count as u32).to_le_bytes());
    match consecutive_ids(accepted) {
        Some(first) => {
            scratch.push(IDS_CONSECUTIVE);
            scratch.extend_from_slice(&first.0);
        }
        None => {
            // Never for ids from `EventIdGen::next` after `reserve`.
            scratch.push(IDS_EXPLICIT);
            for &(_, id) in accepted.iter().flatten() {
                scratch.extend_from_slice(&id.0);
            }
        }
    }
    // Pieces: a range of `scratch`, or a part's bytes as they are.
    enum Piece {
        Scratch(std::ops::Range<usize>),
        Part(usize),
    }
    let mut pieces = Vec::with_capacity(parts.len() + 1);
    let mut from = 0usize;
    let mut idx: Vec<usize> = Vec::new();
    for (k, (part, acc)) in parts.iter().zip(accepted).enumerate() {
        if acc.is_empty() {
            continue;
        }
        if part_passes_through(part.batch, part.wal, acc) {
            if scratch.len() > from {
                pieces.push(Piece::Scratch(from..scratch.len()));
            }
            from = scratch.len();
            pieces.push(Piece::Part(k));
        } else {
            idx.clear();
            idx.extend(acc.iter().map(|a| a.0));
            crate::walpart::encode_wal_part(part.batch, &idx, scratch);
        }
    }
    if scratch.len() > from {
        pieces.push(Piece::Scratch(from..scratch.len()));
    }
    let scratch: &'a [u8] = scratch;
    pieces
        .into_iter()
        .map(|p| match p {
            Piece::Scratch(r) => &scratch[r],
            Piece::Part(k) => parts[k].wal,
        })
        .collect()
}

/// One event of a version 1 or 2 record: its raw JSON.
struct WalEvent<'a> {
    created_at: i64,
    id: EventId,
    raw: &'a [u8],
}

/// The events of one WAL record.
enum WalEvents<'a> {
    /// Raw JSON (payload versions 1 and 2), parsed again on replay.
    Json(Vec<WalEvent<'a>>),
    /// Flattened events (version 3), with one `created_at` and their ids.
    Flat { batch: FlatBatch, created_at: i64, ids: Vec<EventId> },
}

impl WalEvents<'_> {
    fn len(&self) -> usize {
        match self {
            WalEvents::Json(v) => v.len(),
            WalEvents::Flat { ids, .. } => ids.len(),
        }
    }
}

fn decode_wal_payload<'a>(payload: &'a [u8], file: &Path) -> Result<WalEvents<'a>> {
    let bad = |why: &str| IngestError::corrupt(file, format!("bad wal payload: {why}"));
    let (&version, rest) = payload.split_first().ok_or_else(|| bad("empty"))?;
    match version {
        WAL_PAYLOAD_V1 => decode_wal_payload_v1(rest, &bad).map(WalEvents::Json),
        WAL_PAYLOAD_V2 => decode_wal_payload_v2(payload, &bad).map(WalEvents::Json),
        WAL_PAYLOAD_V3 => decode_wal_payload_v3(payload, &bad),
        _ => Err(bad("unknown payload version")),
    }
}

/// Consecutive ids from `first`: `count` of them (the counter is the
/// big-endian `u32` in bytes 8..12).
fn ids_from(first: [u8; 12], count: usize) -> impl Iterator<Item = EventId> {
    let counter0 = u32::from_be_bytes(first[8..12].try_into().expect("4 bytes"));
    (0..count).map(move |k| {
        let mut id = first;
        id[8..12].copy_from_slice(&counter0.wrapping_add(k as u32).to_be_bytes());
        EventId(id)
    })
}

fn decode_wal_payload_v3<'a>(
    payload: &'a [u8],
    bad: &dyn Fn(&str) -> IngestError,
) -> Result<WalEvents<'a>> {
    const HEADER: usize = 1 + 8 + 4 + 1;
    let head = payload.get(..HEADER).ok_or_else(|| bad("short header"))?;
    let created_at = i64::from_le_bytes(head[1..9].try_into().expect("8 bytes"));
    let count = u32::from_le_bytes(head[9..13].try_into().expect("4 bytes")) as usize;
    let mut pos = HEADER;
    let ids: Vec<EventId> = match head[13] {
        IDS_CONSECUTIVE => {
            let first = payload.get(pos..pos + 12).ok_or_else(|| bad("short first id"))?;
            pos += 12;
            ids_from(first.try_into().expect("12 bytes"), count).collect()
        }
        IDS_EXPLICIT => {
            let n = count.checked_mul(12).ok_or_else(|| bad("event count out of range"))?;
            let all = payload.get(pos..pos + n).ok_or_else(|| bad("short id list"))?;
            pos += n;
            all.chunks_exact(12).map(|c| EventId(c.try_into().expect("12 bytes"))).collect()
        }
        _ => return Err(bad("unknown id mode")),
    };
    let mut batch = FlatBatch::new();
    while pos < payload.len() {
        let (len, _) = crate::walpart::decode_wal_part(&payload[pos..], &mut batch)
            .map_err(|why| bad(&format!("part at byte {pos}: {why}")))?;
        pos += len;
    }
    if batch.len() != count {
        return Err(bad("event count does not match the parts"));
    }
    Ok(WalEvents::Flat { batch, created_at, ids })
}

fn decode_wal_payload_v2<'a>(
    payload: &'a [u8],
    bad: &dyn Fn(&str) -> IngestError,
) -> Result<Vec<WalEvent<'a>>> {
    if payload.len() < WAL_V2_HEADER_LEN {
        return Err(bad("short header"));
    }
    let created_at = i64::from_le_bytes(payload[1..9].try_into().expect("8 bytes"));
    let first: [u8; 12] = payload[9..21].try_into().expect("12 bytes");
    let count = u32::from_le_bytes(payload[21..25].try_into().expect("4 bytes")) as usize;
    let rest = &payload[WAL_V2_HEADER_LEN..];
    let mut pos = 0;
    let mut out = Vec::with_capacity(count.min(rest.len() / 4));
    for id in ids_from(first, count) {
        let len = rest.get(pos..pos + 4).ok_or_else(|| bad("short event header"))?;
        let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
        pos += 4;
        let raw = rest.get(pos..pos + len).ok_or_else(|| bad("short event body"))?;
        pos += len;
        out.push(WalEvent { created_at, id, raw });
    }
    if pos != rest.len() {
        return Err(bad("trailing bytes"));
    }
    Ok(out)
}

fn decode_wal_payload_v1<'a>(
    rest: &'a [u8],
    bad: &dyn Fn(&str) -> IngestError,
) -> Result<Vec<WalEvent<'a>>> {
    if rest.len() < 4 {
        return Err(bad("short count"));
    }
    let count = u32::from_le_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
    let mut pos = 4;
    let mut out = Vec::with_capacity(count.min(rest.len() / 24));
    for _ in 0..count {
        if rest.len() < pos + 24 {
            return Err(bad("short event header"));
        }
        let created_at = i64::from_le_bytes(rest[pos..pos + 8].try_into().expect("8 bytes"));
        let id: [u8; 12] = rest[pos + 8..pos + 20].try_into().expect("12 bytes");
        let len =
            u32::from_le_bytes(rest[pos + 20..pos + 24].try_into().expect("4 bytes")) as usize;
        pos += 24;
        if rest.len() < pos + len {
            return Err(bad("short event body"));
        }
        out.push(WalEvent { created_at, id: EventId(id), raw: &rest[pos..pos + len] });
        pos += len;
    }
    if pos != rest.len() {
        return Err(bad("trailing bytes"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part_batch(events: &[&str], encoded: bool) -> (FlatBatch, Vec<u8>) {
        let mut b = FlatBatch::new();
        for e in events {
            crate::parse_event(e.as_bytes(), &mut b, &Default::default()).unwrap();
        }
        let mut wal = Vec::new();
        if encoded {
            crate::encode_wal_part(&b, &(0..b.len()).collect::<Vec<_>>(), &mut wal);
        }
        (b, wal)
    }

    fn id(prefix: u8, counter: u32) -> EventId {
        let mut id = [prefix; 12];
        id[8..12].copy_from_slice(&counter.to_be_bytes());
        EventId(id)
    }

    /// One event's content, comparable across batches: its encoding alone.
    fn content(b: &FlatBatch, i: usize) -> Vec<u8> {
        let mut wal = Vec::new();
        crate::encode_wal_part(b, &[i], &mut wal);
        wal
    }

    /// `(created_at, id, content)` of every event of a payload.
    fn decoded(payload: &[u8]) -> Vec<(i64, EventId, Vec<u8>)> {
        match decode_wal_payload(payload, Path::new("/c/wal")).unwrap() {
            WalEvents::Json(events) => events
                .iter()
                .map(|e| {
                    let (b, _) = part_batch(&[std::str::from_utf8(e.raw).unwrap()], false);
                    (e.created_at, e.id, content(&b, 0))
                })
                .collect(),
            WalEvents::Flat { batch, created_at, ids } => ids
                .iter()
                .enumerate()
                .map(|(i, &id)| (created_at, id, content(&batch, i)))
                .collect(),
        }
    }

    #[test]
    fn wal_payload_v3_passes_encoded_parts_through_and_decodes_back() {
        let (b1, w1) = part_batch(&[r#"{"a": 1}"#, r#"{"b": "x"}"#], true);
        let (b2, w2) = part_batch(&[r#"{"c": true}"#, r#"{"d": null}"#, r#"{"e": [1]}"#], true);
        let (b3, w3) = part_batch(&[r#"{"f": 2.5}"#], false);
        let idx1 = [0, 1];
        let idx2 = [0, 2]; // not every event: encoded again
        let idx3 = [0]; // no pre-encoded bytes: encoded here
        let parts = [
            AppendPart { batch: &b1, wal: &w1, events: &idx1, resolved: None },
            AppendPart { batch: &b2, wal: &w2, events: &idx2, resolved: None },
            AppendPart { batch: &b3, wal: &w3, events: &idx3, resolved: None },
        ];
        let c0 = u32::MAX - 4;
        let accepted = vec![
            vec![(0, id(9, c0)), (1, id(9, c0 + 1))],
            vec![(0, id(9, c0 + 2)), (2, id(9, c0 + 3))],
            vec![(0, id(9, c0 + 4))],
        ];
        let mut scratch = Vec::new();
        let pieces = encode_wal_payload(&mut scratch, &parts, &accepted, -5);
        // header piece, part 1 as it is, parts 2 and 3 encoded
        assert_eq!(pieces.len(), 3);
        assert!(std::ptr::eq(pieces[1], &w1[..]), "an encoded part is not copied");
        let payload = pieces.concat();
        assert_eq!(payload[0], WAL_PAYLOAD_V3);
        let (want, _) = part_batch(
            &[r#"{"a": 1}"#, r#"{"b": "x"}"#, r#"{"c": true}"#, r#"{"e": [1]}"#, r#"{"f": 2.5}"#],
            false,
        );
        let got = decoded(&payload);
        assert_eq!(got.len(), 5);
        for (k, (created_at, event_id, ev)) in got.iter().enumerate() {
            assert_eq!((*created_at, *event_id), (-5, id(9, c0 + k as u32)));
            assert_eq!(ev, &content(&want, k), "event {k}");
        }
        // Every truncation and any trailing byte is corruption, never a panic.
        let file = Path::new("/c/wal");
        for n in 0..payload.len() {
            assert!(matches!(
                decode_wal_payload(&payload[..n], file),
                Err(IngestError::Corrupt { .. })
            ));
        }
        let mut longer = payload.clone();
        longer.push(0);
        assert!(decode_wal_payload(&longer, file).is_err());
        let mut bad = payload;
        bad[0] = 4;
        assert!(decode_wal_payload(&bad, file).is_err());
    }

    #[test]
    fn ids_that_are_not_consecutive_are_listed() {
        let (b, w) = part_batch(&[r#"{"a": 1}"#, r#"{"a": 2}"#], true);
        let idx = [0, 1];
        let parts = [AppendPart { batch: &b, wal: &w, events: &idx, resolved: None }];
        for accepted in [
            vec![vec![(0, id(1, 5)), (1, id(1, 7))]],        // a gap
            vec![vec![(0, id(1, 5)), (1, id(2, 6))]],        // another prefix
            vec![vec![(0, id(1, u32::MAX)), (1, id(1, 0))]], // a wrap
        ] {
            let mut scratch = Vec::new();
            let payload = encode_wal_payload(&mut scratch, &parts, &accepted, 42).concat();
            assert_eq!((payload[0], payload[13]), (WAL_PAYLOAD_V3, IDS_EXPLICIT));
            let got = decoded(&payload);
            let ids: Vec<EventId> = got.iter().map(|e| e.1).collect();
            assert_eq!(ids, accepted[0].iter().map(|a| a.1).collect::<Vec<_>>());
            assert!(got.iter().all(|e| e.0 == 42));
        }
    }

    /// Records written by earlier versions (raw JSON) still decode.
    #[test]
    fn wal_payloads_v1_and_v2_still_decode() {
        let events: [&[u8]; 2] = [br#"{"a": 1}"#, br#"{"b": ["x"]}"#];
        let mut v2 = vec![WAL_PAYLOAD_V2];
        v2.extend_from_slice(&(-5i64).to_le_bytes());
        v2.extend_from_slice(&id(3, u32::MAX - 1).0);
        v2.extend_from_slice(&2u32.to_le_bytes());
        let mut v1 = vec![WAL_PAYLOAD_V1];
        v1.extend_from_slice(&2u32.to_le_bytes());
        for (k, e) in events.iter().enumerate() {
            v2.extend_from_slice(&(e.len() as u32).to_le_bytes());
            v2.extend_from_slice(e);
            v1.extend_from_slice(&(-5i64).to_le_bytes());
            v1.extend_from_slice(&id(3, u32::MAX - 1 + k as u32).0);
            v1.extend_from_slice(&(e.len() as u32).to_le_bytes());
            v1.extend_from_slice(e);
        }
        let (want, _) = part_batch(&[r#"{"a": 1}"#, r#"{"b": ["x"]}"#], false);
        for payload in [&v1, &v2] {
            let got = decoded(payload);
            assert_eq!(got.len(), 2);
            for (k, (created_at, event_id, ev)) in got.iter().enumerate() {
                assert_eq!(
                    (*created_at, *event_id),
                    (-5, id(3, (u32::MAX - 1).wrapping_add(k as u32)))
                );
                assert_eq!(ev, &content(&want, k));
            }
            let file = Path::new("/c/wal");
            for n in 1..payload.len() {
                assert!(decode_wal_payload(&payload[..n], file).is_err());
            }
        }
    }

    #[test]
    fn event_ids_of_one_record_never_wrap() {
        let mut g = EventIdGen { prefix: [7; 4], counter: u32::MAX - 2 };
        g.reserve(3); // fits exactly: ..MAX-2, MAX-1, MAX
        let ids: Vec<EventId> = (0..3).map(|_| g.next(1_000)).collect();
        assert_eq!(ids, vec![id_at(7, u32::MAX - 2), id_at(7, u32::MAX - 1), id_at(7, u32::MAX)]);
        assert_eq!(g.counter, 0, "wrapped after the record, with a fresh prefix");
        let mut g = EventIdGen { prefix: [7; 4], counter: u32::MAX - 2 };
        g.reserve(4); // would wrap inside: fresh prefix, counter from 0
        assert_eq!(g.counter, 0);
        let first = g.next(1_000);
        assert_eq!(first.0[8..12], [0, 0, 0, 0]);
        assert_eq!(first.0[0..4], 1u32.to_be_bytes());
        assert_eq!(consecutive_ids(&[vec![(0, first), (1, g.next(1_000))]]), Some(first));
    }

    fn id_at(prefix: u8, counter: u32) -> EventId {
        let mut id = [0u8; 12];
        id[0..4].copy_from_slice(&1u32.to_be_bytes());
        id[4..8].copy_from_slice(&[prefix; 4]);
        id[8..12].copy_from_slice(&counter.to_be_bytes());
        EventId(id)
    }
}
