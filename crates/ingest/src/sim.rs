//! [`SimStorage`]: a deterministic, fault-injecting, crash-simulating
//! [`Storage`] (RELIABILITY.md §2a). Compiled for tests and with the
//! `test-util` feature.
//!
//! # Model
//!
//! * **Files** are inodes. Each keeps a *durable* byte image (what the disk
//!   holds after the last successful `sync_data`) and the list of *unsynced*
//!   operations since (appends and `set_len`s). What callers read is the
//!   durable image with the unsynced operations applied.
//! * **Names** map paths to inodes. Paths are opaque keys used exactly as
//!   given; the directory of a path is `path.parent()` (an empty parent is
//!   `"."`). `create_new`, `rename` and `remove` change the visible name
//!   table at once but stay *volatile* until `sync_dir` of the parent
//!   directory succeeds (for a rename, `sync_dir` of either directory makes
//!   the whole rename durable).
//! * **Directories** are recorded by `create_dir_all`, and are durable at
//!   once; `remove_dir_all` is also durable at once (names below it included).
//!   A file can only be created in, or renamed into, a recorded directory,
//!   `"."` or a root.
//! * **Ops**: every [`Storage`] and [`StorageFile`] call, numbered from 0 in
//!   the order it reaches the simulator, increments the op counter
//!   ([`SimStorage::op_count`]) and consults the [`FaultPlan`]. The test
//!   helpers ([`SimStorage::file_bytes`] and friends) and
//!   [`SimStorage::crash_image`] neither count nor fail.
//! * **Faults**: a failed call has no effect, except a
//!   [`FaultKind::ShortWrite`] on `append`, which appends the first half of
//!   the data and then fails. After [`SimStorage::crash_at`]`(n)`, call `n` and
//!   every later call fails with an `io::Error` of kind `Other` and message
//!   `"crashed"`, so `Drop` code cannot sneak a flush in.
//!
//! # Crash images
//!
//! [`SimStorage::crash_image`] returns a fresh storage (op counter 0, no
//! faults) holding what a restart would see under a [`CrashModel`], chosen
//! deterministically from a seed (`rand_pcg::Pcg64`). Files whose names do
//! not survive are gone; handles into the old storage keep pointing at it.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

use crate::storage::{Storage, StorageFile};

/// Sector size used by the torn and reordered crash models.
const SECTOR: usize = 512;

/// The kind of error an injected fault produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// `EIO`: an `io::Error` of kind `Other`, "input/output error (simulated)".
    Eio,
    /// `ENOSPC`: an `io::Error` of kind `StorageFull`.
    Enospc,
    /// On `append`: the first half of the data is appended, then the call
    /// fails with kind `WriteZero`. On any other call it acts as [`FaultKind::Eio`].
    ShortWrite,
}

/// Whether an injected fault fires once or from its call on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Persistence {
    /// Only call `n` fails (SQLite's transient I/O error).
    Once,
    /// Call `n` and every later call fail (SQLite's persistent I/O error).
    Always,
}

/// What survives a simulated crash (RELIABILITY.md §2a, models M1–M4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrashModel {
    /// M1, `kill -9` with the OS alive: everything written, synced or not,
    /// and every name change.
    ProcessKill,
    /// M2, power loss on a well-behaved disk: only durable bytes and names.
    PowerLossClean,
    /// M3: durable state plus, per file, a random prefix of its unsynced
    /// operations, the last append cut at a random byte or at a 512- or
    /// 4096-byte file offset. Names: durable only.
    PowerLossTorn,
    /// M4: durable state plus a random subset of the unsynced 512-byte
    /// sectors, some of them filled with garbage instead (bytes that were
    /// durable are never garbled); the file length is the durable or the
    /// written one. Each unsynced create, rename or remove is applied or not
    /// at random (in order).
    PowerLossReordered,
}

impl CrashModel {
    /// All four models, M1 to M4.
    pub const ALL: [CrashModel; 4] = [
        CrashModel::ProcessKill,
        CrashModel::PowerLossClean,
        CrashModel::PowerLossTorn,
        CrashModel::PowerLossReordered,
    ];
}

/// Which calls fail, and how.
///
/// ```
/// use tally_ingest::{FaultKind, FaultPlan, Persistence, SimStorage};
/// let sim = SimStorage::new().with_fault_plan(
///     FaultPlan::new().fail_at(3, FaultKind::Eio, Persistence::Once),
/// );
/// assert_eq!(sim.op_count(), 0);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultPlan {
    fails: Vec<(u64, FaultKind, Persistence)>,
    crash_at: Option<u64>,
}

impl FaultPlan {
    /// A plan with no faults.
    pub fn new() -> FaultPlan {
        FaultPlan::default()
    }

    /// Call `n` (0-based) fails with `kind`; with [`Persistence::Always`] so
    /// does every later call.
    pub fn fail_at(mut self, n: u64, kind: FaultKind, persistence: Persistence) -> FaultPlan {
        self.fails.push((n, kind, persistence));
        self
    }

    /// From call `n` (0-based) on, every call fails with "crashed".
    pub fn crash_at(mut self, n: u64) -> FaultPlan {
        self.crash_at = Some(self.crash_at.map_or(n, |c| c.min(n)));
        self
    }

    fn check(&self, op: u64) -> Option<Fault> {
        if self.crash_at.is_some_and(|c| op >= c) {
            return Some(Fault::Crashed);
        }
        self.fails
            .iter()
            .find(|(n, _, p)| match p {
                Persistence::Once => op == *n,
                Persistence::Always => op >= *n,
            })
            .map(|(_, kind, _)| Fault::Kind(*kind))
    }
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    Crashed,
    Kind(FaultKind),
}

impl Fault {
    fn error(self) -> io::Error {
        match self {
            Fault::Crashed => io::Error::other("crashed"),
            Fault::Kind(FaultKind::Eio) | Fault::Kind(FaultKind::ShortWrite) => {
                io::Error::other("input/output error (simulated)")
            }
            Fault::Kind(FaultKind::Enospc) => {
                io::Error::new(io::ErrorKind::StorageFull, "no space left on device (simulated)")
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Pending {
    Append(Vec<u8>),
    SetLen(u64),
}

#[derive(Debug, Clone, Default)]
struct Inode {
    durable: Vec<u8>,
    current: Vec<u8>,
    pending: Vec<Pending>,
}

impl Inode {
    fn with_bytes(bytes: Vec<u8>) -> Inode {
        Inode { durable: bytes.clone(), current: bytes, pending: Vec::new() }
    }
}

#[derive(Debug, Clone)]
enum NameOp {
    Create { path: PathBuf, ino: u64 },
    Rename { from: PathBuf, to: PathBuf, ino: u64 },
    Remove { path: PathBuf },
}

impl NameOp {
    fn touches(&self, dir: &Path) -> bool {
        match self {
            NameOp::Create { path, .. } | NameOp::Remove { path } => parent(path) == dir,
            NameOp::Rename { from, to, .. } => parent(from) == dir || parent(to) == dir,
        }
    }

    fn apply(&self, names: &mut BTreeMap<PathBuf, u64>) {
        match self {
            NameOp::Create { path, ino } => {
                names.insert(path.clone(), *ino);
            }
            NameOp::Rename { from, to, ino } => {
                if names.get(from) == Some(ino) {
                    names.remove(from);
                }
                names.insert(to.clone(), *ino);
            }
            NameOp::Remove { path } => {
                names.remove(path);
            }
        }
    }
}

#[derive(Debug, Default)]
struct SimState {
    ops: u64,
    plan: FaultPlan,
    next_ino: u64,
    inodes: BTreeMap<u64, Inode>,
    names: BTreeMap<PathBuf, u64>,
    durable_names: BTreeMap<PathBuf, u64>,
    pending_names: Vec<NameOp>,
    dirs: BTreeSet<PathBuf>,
}

impl SimState {
    /// Counts one call and returns the fault it must fail with, if any.
    fn op(&mut self) -> Option<Fault> {
        let n = self.ops;
        self.ops += 1;
        self.plan.check(n)
    }

    fn begin(&mut self) -> io::Result<()> {
        match self.op() {
            Some(f) => Err(f.error()),
            None => Ok(()),
        }
    }

    fn dir_exists(&self, dir: &Path) -> bool {
        dir == Path::new(".") || dir.parent().is_none() || self.dirs.contains(dir)
    }

    fn lookup(&self, path: &Path) -> io::Result<u64> {
        self.names.get(path).copied().ok_or_else(|| not_found(path))
    }

    fn inode(&mut self, ino: u64) -> io::Result<&mut Inode> {
        // An inode lives as long as the storage; only crash images drop them.
        self.inodes
            .get_mut(&ino)
            .ok_or_else(|| io::Error::other("simulated inode vanished (simulator bug)"))
    }
}

/// The directory of `path` as the simulator keys it: `path.parent()`, with
/// an empty parent (a bare relative name) meaning `"."`.
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn dir_key(dir: &Path) -> &Path {
    if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    }
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{}: not found (simulated)", path.display()))
}

/// A simulated disk: cheap to clone, clones share one state.
///
/// ```
/// use std::path::Path;
/// use tally_ingest::{CrashModel, SimStorage, Storage};
/// let sim = SimStorage::new();
/// let mut f = sim.create_new(Path::new("log"))?;
/// f.append(b"synced")?;
/// f.sync_data()?;
/// sim.sync_dir(Path::new("."))?;
/// f.append(b" lost")?;
/// let image = sim.crash_image(CrashModel::PowerLossClean, 7);
/// assert_eq!(image.file_bytes(Path::new("log")).as_deref(), Some(&b"synced"[..]));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct SimStorage {
    state: Arc<Mutex<SimState>>,
}

impl SimStorage {
    /// An empty disk with no faults planned.
    pub fn new() -> SimStorage {
        SimStorage::default()
    }

    fn lock(&self) -> MutexGuard<'_, SimState> {
        // A panicking test thread must not hide the state from the others.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the fault plan (shared by all clones); returns `self`.
    pub fn with_fault_plan(self, plan: FaultPlan) -> SimStorage {
        self.set_fault_plan(plan);
        self
    }

    /// Replaces the fault plan of this storage and all its clones.
    pub fn set_fault_plan(&self, plan: FaultPlan) {
        self.lock().plan = plan;
    }

    /// Adds a fault: call `n` (0-based) fails with `kind`; with
    /// [`Persistence::Always`] every later call fails too.
    pub fn fail_at(self, n: u64, kind: FaultKind, persistence: Persistence) -> SimStorage {
        {
            let mut st = self.lock();
            let plan = std::mem::take(&mut st.plan);
            st.plan = plan.fail_at(n, kind, persistence);
        }
        self
    }

    /// From call `n` (0-based) on, every call fails with "crashed".
    pub fn crash_at(self, n: u64) -> SimStorage {
        {
            let mut st = self.lock();
            let plan = std::mem::take(&mut st.plan);
            st.plan = plan.crash_at(n);
        }
        self
    }

    /// Number of [`Storage`] / [`StorageFile`] calls made so far (failed
    /// and crashed ones included); the next call has this index.
    pub fn op_count(&self) -> u64 {
        self.lock().ops
    }

    /// The bytes a reader sees now (unsynced writes included), or `None`
    /// when no such file name is visible. Not counted, never fails.
    pub fn file_bytes(&self, path: &Path) -> Option<Vec<u8>> {
        let st = self.lock();
        let ino = st.names.get(path)?;
        st.inodes.get(ino).map(|i| i.current.clone())
    }

    /// The durable bytes of a visible file (what survives `PowerLossClean`
    /// if its name does). Not counted, never fails.
    pub fn durable_bytes(&self, path: &Path) -> Option<Vec<u8>> {
        let st = self.lock();
        let ino = st.names.get(path)?;
        st.inodes.get(ino).map(|i| i.durable.clone())
    }

    /// Creates or replaces `path` with `bytes`, content and name durable at
    /// once (parent directories are recorded). For setting up tests; not
    /// counted, never fails.
    pub fn write_file_durable(&self, path: &Path, bytes: &[u8]) {
        let mut st = self.lock();
        record_dirs(&mut st.dirs, parent(path));
        let ino = st.next_ino;
        st.next_ino += 1;
        st.inodes.insert(ino, Inode::with_bytes(bytes.to_vec()));
        st.names.insert(path.to_path_buf(), ino);
        st.durable_names.insert(path.to_path_buf(), ino);
    }

    /// Flips bit `bit` (bit `bit % 8` of byte `bit / 8`) of a visible file,
    /// in both its durable and its current image (bit rot). Returns false
    /// when the file or the bit does not exist. Not counted, never fails.
    pub fn flip_bit(&self, path: &Path, bit: u64) -> bool {
        let mut st = self.lock();
        let Some(&ino) = st.names.get(path) else {
            return false;
        };
        let Some(inode) = st.inodes.get_mut(&ino) else {
            return false;
        };
        let Ok(byte) = usize::try_from(bit / 8) else {
            return false;
        };
        let mask = 1u8 << (bit % 8);
        let mut hit = false;
        for image in [&mut inode.durable, &mut inode.current] {
            if let Some(b) = image.get_mut(byte) {
                *b ^= mask;
                hit = true;
            }
        }
        hit
    }

    /// Truncates (or zero-extends) a visible file to `len` bytes, durably.
    /// Returns false when no such file is visible. Not counted, never fails.
    pub fn truncate_file(&self, path: &Path, len: u64) -> bool {
        let mut st = self.lock();
        let Some(&ino) = st.names.get(path) else {
            return false;
        };
        let Some(inode) = st.inodes.get_mut(&ino) else {
            return false;
        };
        let Ok(len) = usize::try_from(len) else {
            return false;
        };
        inode.current.resize(len, 0);
        inode.durable = inode.current.clone();
        inode.pending.clear();
        true
    }

    /// The visible file names, sorted. Not counted, never fails.
    pub fn file_names(&self) -> Vec<PathBuf> {
        self.lock().names.keys().cloned().collect()
    }

    /// What a restart would find after a crash now, under `model`, chosen
    /// deterministically from `seed`: a fresh storage with op counter 0 and
    /// no faults, whose bytes and names are all durable.
    pub fn crash_image(&self, model: CrashModel, seed: u64) -> SimStorage {
        let st = self.lock();
        let mut rng = Pcg64::seed_from_u64(seed);
        let names = match model {
            CrashModel::ProcessKill => st.names.clone(),
            CrashModel::PowerLossClean | CrashModel::PowerLossTorn => st.durable_names.clone(),
            CrashModel::PowerLossReordered => {
                let mut names = st.durable_names.clone();
                for op in &st.pending_names {
                    if rng.random_bool(0.5) {
                        op.apply(&mut names);
                    }
                }
                names
            }
        };
        let live: BTreeSet<u64> = names.values().copied().collect();
        let mut inodes = BTreeMap::new();
        for (&ino, inode) in &st.inodes {
            if !live.contains(&ino) {
                continue;
            }
            let bytes = match model {
                CrashModel::ProcessKill => inode.current.clone(),
                CrashModel::PowerLossClean => inode.durable.clone(),
                CrashModel::PowerLossTorn => torn(inode, &mut rng),
                CrashModel::PowerLossReordered => reordered(inode, &mut rng),
            };
            inodes.insert(ino, Inode::with_bytes(bytes));
        }
        let mut dirs = st.dirs.clone();
        for path in names.keys() {
            record_dirs(&mut dirs, parent(path));
        }
        let state = SimState {
            ops: 0,
            plan: FaultPlan::new(),
            next_ino: st.next_ino,
            inodes,
            durable_names: names.clone(),
            names,
            pending_names: Vec::new(),
            dirs,
        };
        SimStorage { state: Arc::new(Mutex::new(state)) }
    }
}

fn record_dirs(dirs: &mut BTreeSet<PathBuf>, dir: &Path) {
    let mut d = Some(dir);
    while let Some(p) = d {
        if p.as_os_str().is_empty() {
            break;
        }
        dirs.insert(p.to_path_buf());
        d = p.parent();
    }
}

fn apply_set_len(image: &mut Vec<u8>, len: u64) {
    // Lengths beyond memory cannot have been written by `set_len` either.
    image.resize(usize::try_from(len).unwrap_or(usize::MAX), 0);
}

/// M3: durable bytes plus a prefix of the unsynced operations, the append
/// at the cut point kept up to a random byte or a sector-aligned offset.
fn torn(inode: &Inode, rng: &mut Pcg64) -> Vec<u8> {
    let total: usize = inode
        .pending
        .iter()
        .map(|p| match p {
            Pending::Append(d) => d.len(),
            Pending::SetLen(_) => 0,
        })
        .sum();
    let mut budget = rng.random_range(0..=total);
    let align = [1usize, SECTOR, 4096][rng.random_range(0..3usize)];
    let mut image = inode.durable.clone();
    for p in &inode.pending {
        match p {
            Pending::SetLen(len) => apply_set_len(&mut image, *len),
            Pending::Append(data) if data.len() <= budget => {
                budget -= data.len();
                image.extend_from_slice(data);
            }
            Pending::Append(data) => {
                let start = image.len();
                let end = (start + budget) / align * align;
                let keep = end.saturating_sub(start);
                image.extend_from_slice(&data[..keep]);
                break;
            }
        }
    }
    image
}

/// M4: durable bytes plus a random subset of the unsynced sectors, some
/// garbled; bytes that were durable and unchanged are never garbled.
fn reordered(inode: &Inode, rng: &mut Pcg64) -> Vec<u8> {
    if inode.pending.is_empty() {
        return inode.durable.clone();
    }
    let durable = &inode.durable;
    let current = &inode.current;
    let len = if rng.random_bool(0.5) { durable.len() } else { current.len() };
    let mut image = durable.clone();
    image.resize(len, 0);
    let target = |i: usize| current.get(i).or(durable.get(i)).copied().unwrap_or(0);
    let unsynced = |i: usize| i >= durable.len() || durable[i] != target(i);
    for start in (0..len).step_by(SECTOR) {
        let end = (start + SECTOR).min(len);
        if !(start..end).any(unsynced) {
            continue;
        }
        match rng.random_range(0..100u32) {
            0..45 => {
                for (i, b) in image[start..end].iter_mut().enumerate() {
                    *b = target(start + i);
                }
            }
            45..55 => {
                for (i, b) in image[start..end].iter_mut().enumerate() {
                    if unsynced(start + i) {
                        *b = rng.random::<u8>();
                    }
                }
            }
            _ => {}
        }
    }
    image
}

/// An open file of a [`SimStorage`].
#[derive(Debug)]
struct SimFile {
    state: Arc<Mutex<SimState>>,
    ino: u64,
    writable: bool,
}

impl SimFile {
    fn lock(&self) -> MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn read_only() -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, "file opened read-only (simulated)")
}

impl StorageFile for SimFile {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let mut st = self.lock();
        st.begin()?;
        let data = &st.inode(self.ino)?.current;
        let Ok(start) = usize::try_from(offset) else {
            return Ok(0);
        };
        if start >= data.len() {
            return Ok(0);
        }
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        Ok(n)
    }

    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        let mut st = self.lock();
        let fault = st.op();
        if !self.writable {
            return Err(fault.map_or_else(read_only, Fault::error));
        }
        let written = match fault {
            None => data,
            Some(Fault::Kind(FaultKind::ShortWrite)) => &data[..data.len() / 2],
            Some(f) => return Err(f.error()),
        };
        let inode = st.inode(self.ino)?;
        inode.current.extend_from_slice(written);
        inode.pending.push(Pending::Append(written.to_vec()));
        if written.len() < data.len() {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "short write (simulated)"));
        }
        Ok(())
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        let mut st = self.lock();
        st.begin()?;
        if !self.writable {
            return Err(read_only());
        }
        let inode = st.inode(self.ino)?;
        apply_set_len(&mut inode.current, len);
        inode.pending.push(Pending::SetLen(len));
        Ok(())
    }

    fn sync_data(&mut self) -> io::Result<()> {
        let mut st = self.lock();
        st.begin()?;
        let inode = st.inode(self.ino)?;
        inode.durable = inode.current.clone();
        inode.pending.clear();
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        let mut st = self.lock();
        st.begin()?;
        Ok(st.inode(self.ino)?.current.len() as u64)
    }
}

impl Storage for SimStorage {
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        let mut st = self.lock();
        st.begin()?;
        if st.names.contains_key(path) || st.dirs.contains(path) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{}: already exists (simulated)", path.display()),
            ));
        }
        if !st.dir_exists(parent(path)) {
            return Err(not_found(parent(path)));
        }
        let ino = st.next_ino;
        st.next_ino += 1;
        st.inodes.insert(ino, Inode::default());
        st.names.insert(path.to_path_buf(), ino);
        st.pending_names.push(NameOp::Create { path: path.to_path_buf(), ino });
        Ok(Box::new(SimFile { state: Arc::clone(&self.state), ino, writable: true }))
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        let mut st = self.lock();
        st.begin()?;
        let ino = st.lookup(path)?;
        Ok(Box::new(SimFile { state: Arc::clone(&self.state), ino, writable: false }))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        let mut st = self.lock();
        st.begin()?;
        let ino = st.lookup(path)?;
        Ok(Box::new(SimFile { state: Arc::clone(&self.state), ino, writable: true }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut st = self.lock();
        st.begin()?;
        let ino = st.lookup(from)?;
        if !st.dir_exists(parent(to)) {
            return Err(not_found(parent(to)));
        }
        if from == to {
            return Ok(());
        }
        st.names.remove(from);
        st.names.insert(to.to_path_buf(), ino);
        st.pending_names.push(NameOp::Rename {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
            ino,
        });
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut st = self.lock();
        st.begin()?;
        st.lookup(path)?;
        st.names.remove(path);
        st.pending_names.push(NameOp::Remove { path: path.to_path_buf() });
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let mut st = self.lock();
        st.begin()?;
        let dir = dir_key(dir);
        if !st.dir_exists(dir) {
            return Err(not_found(dir));
        }
        let mut out: Vec<PathBuf> = st
            .names
            .keys()
            .chain(st.dirs.iter())
            .filter(|p| parent(p) == dir && p.as_path() != dir)
            .cloned()
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut st = self.lock();
        st.begin()?;
        if st.names.contains_key(dir) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{}: is a file (simulated)", dir.display()),
            ));
        }
        record_dirs(&mut st.dirs, dir);
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut st = self.lock();
        st.begin()?;
        let dir = dir_key(dir);
        if !st.dir_exists(dir) {
            return Err(not_found(dir));
        }
        let pending = std::mem::take(&mut st.pending_names);
        let mut keep = Vec::with_capacity(pending.len());
        for op in pending {
            if op.touches(dir) {
                op.apply(&mut st.durable_names);
            } else {
                keep.push(op);
            }
        }
        st.pending_names = keep;
        Ok(())
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        let mut st = self.lock();
        st.begin()?;
        Ok(st.names.contains_key(path) || st.dir_exists(dir_key(path)))
    }

    fn remove_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut st = self.lock();
        st.begin()?;
        let dir = dir_key(dir);
        if !st.dirs.contains(dir) {
            return Err(not_found(dir));
        }
        st.dirs.retain(|d| !d.starts_with(dir));
        st.names.retain(|p, _| !p.starts_with(dir));
        st.durable_names.retain(|p, _| !p.starts_with(dir));
        st.pending_names.retain(|op| match op {
            NameOp::Create { path, .. } | NameOp::Remove { path } => !path.starts_with(dir),
            NameOp::Rename { from, to, .. } => !from.starts_with(dir) && !to.starts_with(dir),
        });
        Ok(())
    }
}

#[cfg(test)]
mod storage_sim {
    use super::*;
    use crate::storage::read_all;

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    /// A file with 1000 synced bytes and 3000 unsynced ones, its name durable.
    fn half_synced() -> (SimStorage, Vec<u8>, Vec<u8>) {
        let sim = SimStorage::new();
        sim.create_dir_all(&p("/d")).unwrap();
        let mut f = sim.create_new(&p("/d/f")).unwrap();
        let synced: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let unsynced: Vec<u8> = (0..3000u32).map(|i| (i % 241) as u8 ^ 0x5a).collect();
        f.append(&synced).unwrap();
        f.sync_data().unwrap();
        sim.sync_dir(&p("/d")).unwrap();
        f.append(&unsynced[..1500]).unwrap();
        f.append(&unsynced[1500..]).unwrap();
        (sim, synced, unsynced)
    }

    #[test]
    fn synced_bytes_survive_every_model() {
        let (sim, synced, _) = half_synced();
        for model in CrashModel::ALL {
            for seed in 0..50 {
                let img = sim.crash_image(model, seed);
                let bytes = img.file_bytes(&p("/d/f")).unwrap();
                assert!(bytes.len() >= synced.len(), "{model:?} seed {seed}");
                assert_eq!(&bytes[..synced.len()], &synced[..], "{model:?} seed {seed}");
            }
        }
    }

    #[test]
    fn unsynced_bytes_survive_process_kill_only() {
        let (sim, synced, unsynced) = half_synced();
        let full: Vec<u8> = [synced.clone(), unsynced.clone()].concat();
        for seed in 0..20 {
            let img = sim.crash_image(CrashModel::ProcessKill, seed);
            assert_eq!(img.file_bytes(&p("/d/f")).unwrap(), full);
            let img = sim.crash_image(CrashModel::PowerLossClean, seed);
            assert_eq!(img.file_bytes(&p("/d/f")).unwrap(), synced);
        }
        // The power-loss models lose or garble unsynced bytes for some seed.
        for model in [CrashModel::PowerLossTorn, CrashModel::PowerLossReordered] {
            let lost = (0..50)
                .any(|seed| sim.crash_image(model, seed).file_bytes(&p("/d/f")).unwrap() != full);
            assert!(lost, "{model:?} never lost unsynced bytes");
        }
    }

    #[test]
    fn torn_images_are_prefixes() {
        let (sim, synced, unsynced) = half_synced();
        let full: Vec<u8> = [synced.clone(), unsynced].concat();
        let mut lens = BTreeSet::new();
        for seed in 0..100 {
            let bytes =
                sim.crash_image(CrashModel::PowerLossTorn, seed).file_bytes(&p("/d/f")).unwrap();
            assert!(full.starts_with(&bytes));
            lens.insert(bytes.len());
        }
        assert!(lens.len() > 5, "torn cut points vary: {lens:?}");
        assert!(lens.iter().any(|l| l % 512 == 0 && *l > 1000), "sector cuts: {lens:?}");
        assert!(lens.iter().any(|l| l % 512 != 0), "byte cuts: {lens:?}");
    }

    #[test]
    fn unsynced_file_name_vanishes_on_power_loss() {
        let sim = SimStorage::new();
        let mut f = sim.create_new(&p("new")).unwrap();
        f.append(b"data").unwrap();
        f.sync_data().unwrap();
        // The bytes are durable but the name is not.
        assert!(sim.crash_image(CrashModel::ProcessKill, 0).file_bytes(&p("new")).is_some());
        assert!(sim.crash_image(CrashModel::PowerLossClean, 0).file_bytes(&p("new")).is_none());
        assert!(sim.crash_image(CrashModel::PowerLossTorn, 0).file_bytes(&p("new")).is_none());
        sim.sync_dir(Path::new("")).unwrap();
        for model in CrashModel::ALL {
            assert_eq!(sim.crash_image(model, 1).file_bytes(&p("new")).unwrap(), b"data");
        }
    }

    #[test]
    fn rename_without_sync_dir_may_vanish() {
        let sim = SimStorage::new();
        sim.create_dir_all(&p("/m")).unwrap();
        sim.write_file_durable(&p("/m/manifest"), b"old");
        let mut f = sim.create_new(&p("/m/manifest.tmp")).unwrap();
        f.append(b"new").unwrap();
        f.sync_data().unwrap();
        sim.rename(&p("/m/manifest.tmp"), &p("/m/manifest")).unwrap();
        assert_eq!(sim.file_bytes(&p("/m/manifest")).unwrap(), b"new");
        assert_eq!(
            sim.crash_image(CrashModel::ProcessKill, 0).file_bytes(&p("/m/manifest")).unwrap(),
            b"new"
        );
        for model in [CrashModel::PowerLossClean, CrashModel::PowerLossTorn] {
            let img = sim.crash_image(model, 0);
            assert_eq!(img.file_bytes(&p("/m/manifest")).unwrap(), b"old", "{model:?}");
            assert!(img.file_bytes(&p("/m/manifest.tmp")).is_none());
        }
        // Reordered: the rename is applied for some seeds and not for others,
        // and the target always holds either the old or the new content.
        let outcomes: BTreeSet<Vec<u8>> = (0..40)
            .map(|seed| {
                sim.crash_image(CrashModel::PowerLossReordered, seed)
                    .file_bytes(&p("/m/manifest"))
                    .unwrap()
            })
            .collect();
        assert_eq!(outcomes, BTreeSet::from([b"new".to_vec(), b"old".to_vec()]));
        sim.sync_dir(&p("/m")).unwrap();
        for model in CrashModel::ALL {
            for seed in 0..10 {
                let img = sim.crash_image(model, seed);
                assert_eq!(img.file_bytes(&p("/m/manifest")).unwrap(), b"new");
                assert!(img.file_bytes(&p("/m/manifest.tmp")).is_none());
            }
        }
    }

    #[test]
    fn remove_is_volatile_until_sync_dir() {
        let sim = SimStorage::new();
        sim.write_file_durable(&p("/x/a"), b"1");
        sim.remove(&p("/x/a")).unwrap();
        assert!(!sim.exists(&p("/x/a")).unwrap());
        assert!(sim.crash_image(CrashModel::PowerLossClean, 0).file_bytes(&p("/x/a")).is_some());
        sim.sync_dir(&p("/x")).unwrap();
        assert!(sim.crash_image(CrashModel::PowerLossClean, 0).file_bytes(&p("/x/a")).is_none());
    }

    fn workload(sim: &SimStorage) -> io::Result<()> {
        sim.create_dir_all(&p("/w"))?;
        let mut f = sim.create_new(&p("/w/log"))?;
        for i in 0..5u8 {
            f.append(&[i; 700])?;
            if i % 2 == 0 {
                f.sync_data()?;
            }
        }
        sim.sync_dir(&p("/w"))?;
        let _ = sim.list(&p("/w"))?;
        let _ = read_all(sim, &p("/w/log"))?;
        sim.rename(&p("/w/log"), &p("/w/log2"))?;
        Ok(())
    }

    #[test]
    fn op_counting_is_deterministic() {
        let a = SimStorage::new();
        workload(&a).unwrap();
        let b = SimStorage::new();
        workload(&b).unwrap();
        assert_eq!(a.op_count(), b.op_count());
        // create_dir_all, create_new, 5 appends, 3 syncs, sync_dir, list,
        // read_all (open_read, len, read_at), rename.
        assert_eq!(a.op_count(), 1 + 1 + 5 + 3 + 1 + 1 + 3 + 1);
        // Crashing at every op makes the workload fail exactly there.
        for n in 0..a.op_count() {
            let sim = SimStorage::new().crash_at(n);
            let err = workload(&sim).unwrap_err();
            assert_eq!(err.to_string(), "crashed");
            assert_eq!(err.kind(), io::ErrorKind::Other);
            assert_eq!(sim.op_count(), n + 1);
            // Every later call fails too.
            assert!(sim.exists(&p("/w")).is_err());
        }
    }

    #[test]
    fn same_seed_same_image() {
        let (sim, _, _) = half_synced();
        sim.rename(&p("/d/f"), &p("/d/g")).unwrap();
        for model in CrashModel::ALL {
            for seed in 0..20 {
                let a = sim.crash_image(model, seed);
                let b = sim.crash_image(model, seed);
                assert_eq!(a.file_names(), b.file_names());
                for name in a.file_names() {
                    assert_eq!(a.file_bytes(&name), b.file_bytes(&name));
                }
                assert_eq!(a.op_count(), 0);
            }
        }
    }

    #[test]
    fn fail_at_once_and_always() {
        let sim = SimStorage::new().fail_at(1, FaultKind::Eio, Persistence::Once);
        let mut f = sim.create_new(&p("f")).unwrap(); // op 0
        assert!(f.append(b"x").is_err()); // op 1
        assert_eq!(sim.file_bytes(&p("f")).unwrap(), b"");
        f.append(b"y").unwrap(); // op 2
        assert_eq!(sim.file_bytes(&p("f")).unwrap(), b"y");

        let sim = SimStorage::new().fail_at(2, FaultKind::Enospc, Persistence::Always);
        let mut f = sim.create_new(&p("f")).unwrap();
        f.append(b"a").unwrap();
        for _ in 0..3 {
            let err = f.append(b"b").unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        }
        assert!(f.sync_data().is_err());
        assert_eq!(sim.file_bytes(&p("f")).unwrap(), b"a");

        let sim = SimStorage::new().fail_at(1, FaultKind::ShortWrite, Persistence::Once);
        let mut f = sim.create_new(&p("f")).unwrap();
        let err = f.append(b"abcdef").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WriteZero);
        assert_eq!(sim.file_bytes(&p("f")).unwrap(), b"abc");
        // A failed sync leaves the bytes unsynced.
        let sim = SimStorage::new().fail_at(2, FaultKind::Eio, Persistence::Once);
        let mut f = sim.create_new(&p("f")).unwrap();
        f.append(b"abc").unwrap();
        assert!(f.sync_data().is_err());
        assert_eq!(sim.durable_bytes(&p("f")).unwrap(), b"");
    }

    #[test]
    fn namespace_rules() {
        let sim = SimStorage::new();
        assert_eq!(sim.create_new(&p("/no/such/f")).err().unwrap().kind(), io::ErrorKind::NotFound);
        sim.create_dir_all(&p("/a/b")).unwrap();
        sim.create_new(&p("/a/b/f")).unwrap();
        sim.create_new(&p("/a/b/e")).unwrap();
        assert_eq!(
            sim.create_new(&p("/a/b/f")).err().unwrap().kind(),
            io::ErrorKind::AlreadyExists
        );
        assert_eq!(sim.list(&p("/a")).unwrap(), vec![p("/a/b")]);
        assert_eq!(sim.list(&p("/a/b")).unwrap(), vec![p("/a/b/e"), p("/a/b/f")]);
        assert!(sim.open_read(&p("/a/b/zz")).is_err());
        let mut r = sim.open_read(&p("/a/b/f")).unwrap();
        assert_eq!(r.append(b"x").unwrap_err().kind(), io::ErrorKind::PermissionDenied);
        sim.remove_dir_all(&p("/a")).unwrap();
        assert!(!sim.exists(&p("/a/b/f")).unwrap());
        assert!(sim.list(&p("/a/b")).is_err());
        assert!(sim.crash_image(CrashModel::ProcessKill, 0).file_names().is_empty());
    }

    #[test]
    fn helpers_flip_and_truncate() {
        let sim = SimStorage::new();
        sim.write_file_durable(&p("/h/f"), &[0u8; 4]);
        assert!(sim.flip_bit(&p("/h/f"), 9));
        assert_eq!(sim.file_bytes(&p("/h/f")).unwrap(), [0, 2, 0, 0]);
        assert!(!sim.flip_bit(&p("/h/f"), 32));
        assert!(sim.truncate_file(&p("/h/f"), 2));
        let img = sim.crash_image(CrashModel::PowerLossClean, 3);
        assert_eq!(img.file_bytes(&p("/h/f")).unwrap(), [0, 2]);
        assert!(!sim.truncate_file(&p("/h/none"), 0));
    }
}
