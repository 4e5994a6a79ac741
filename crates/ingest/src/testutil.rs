//! Test-only helpers: a tiny in-memory [`Storage`].

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::storage::{Storage, StorageFile};

type Files = Arc<Mutex<BTreeMap<PathBuf, Arc<Mutex<Vec<u8>>>>>>;

/// An in-memory file system (no crash model; every byte is durable).
#[derive(Default, Clone)]
pub(crate) struct MemStorage {
    files: Files,
}

#[allow(dead_code, reason = "used by the persist tests")]
impl MemStorage {
    /// Mutates a stored file in place (for corruption tests).
    pub(crate) fn with_file<R>(&self, path: &Path, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        let files = self.files.lock().unwrap();
        let mut data = files.get(path).expect("file exists").lock().unwrap();
        f(&mut data)
    }
}

struct MemFile(Arc<Mutex<Vec<u8>>>);

impl StorageFile for MemFile {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let d = self.0.lock().unwrap();
        let off = (offset as usize).min(d.len());
        let n = buf.len().min(d.len() - off);
        buf[..n].copy_from_slice(&d[off..off + n]);
        Ok(n)
    }
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(())
    }
    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.0.lock().unwrap().resize(len as usize, 0);
        Ok(())
    }
    fn sync_data(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.lock().unwrap().len() as u64)
    }
}

fn not_found() -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, "no such file")
}

impl Storage for MemStorage {
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        let mut files = self.files.lock().unwrap();
        if files.contains_key(path) {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, "exists"));
        }
        let f = Arc::new(Mutex::new(Vec::new()));
        files.insert(path.to_path_buf(), f.clone());
        Ok(Box::new(MemFile(f)))
    }
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        let files = self.files.lock().unwrap();
        Ok(Box::new(MemFile(files.get(path).ok_or_else(not_found)?.clone())))
    }
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        self.open_read(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut files = self.files.lock().unwrap();
        let f = files.remove(from).ok_or_else(not_found)?;
        files.insert(to.to_path_buf(), f);
        Ok(())
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        self.files.lock().unwrap().remove(path).map(|_| ()).ok_or_else(not_found)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        Ok(self.files.lock().unwrap().keys().filter(|p| p.parent() == Some(dir)).cloned().collect())
    }
    fn create_dir_all(&self, _dir: &Path) -> io::Result<()> {
        Ok(())
    }
    fn sync_dir(&self, _dir: &Path) -> io::Result<()> {
        Ok(())
    }
    fn exists(&self, path: &Path) -> io::Result<bool> {
        Ok(self.files.lock().unwrap().contains_key(path))
    }
    fn remove_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.files.lock().unwrap().retain(|p, _| !p.starts_with(dir));
        Ok(())
    }
}

/// Generated events for segment tests.
pub(crate) mod gen {
    use rand::{Rng, SeedableRng};
    use rand_pcg::Pcg64;

    use crate::dict::Dicts;
    use crate::flat::{FlatBatch, FlatEvent, FlatProp, FlatScalar, FlatValue};
    use crate::head::Head;
    use crate::schema::Schema;
    use crate::value::EventId;

    /// A batch of `n` varied events (seeded): low and high cardinality
    /// strings, ints and floats, a bool, a list, a datetime, a null, a
    /// type-conflicting path, location and tokens on some, timestamps out of
    /// order with ties.
    pub(crate) fn batch(n: usize, seed: u64) -> FlatBatch {
        let mut rng = Pcg64::seed_from_u64(seed);
        let mut b = FlatBatch::new();
        let countries = ["NO", "SE", "DK", "FI", "IS", "DE", "ünï"];
        for i in 0..n {
            let start = b.props.len() as u32;
            let prop = |b: &mut FlatBatch, path: &str, v: FlatValue| {
                let path = b.push_str(path);
                b.props.push(FlatProp { path, value: v });
            };
            let user = b.push_str(&format!("user-{}", rng.random_range(0..n.max(2) / 2)));
            prop(&mut b, "user.id", FlatValue::Scalar(FlatScalar::Str(user)));
            let c = b.push_str(countries[rng.random_range(0..countries.len())]);
            prop(&mut b, "user.address.country", FlatValue::Scalar(FlatScalar::Str(c)));
            let price = if rng.random_bool(0.9) {
                FlatScalar::Int(rng.random_range(-1000..1000))
            } else {
                FlatScalar::Float(rng.random_range(0.0..100.0))
            };
            prop(&mut b, "item.price", FlatValue::Scalar(price));
            prop(
                &mut b,
                "count",
                FlatValue::Scalar(FlatScalar::Int(rng.random_range(0..i64::MAX))),
            );
            if rng.random_bool(0.7) {
                prop(&mut b, "ok", FlatValue::Scalar(FlatScalar::Bool(rng.random_bool(0.5))));
            }
            if rng.random_bool(0.5) {
                let l0 = b.list_elems.len() as u32;
                for _ in 0..rng.random_range(0..4) {
                    let e = match rng.random_range(0..5) {
                        0 => FlatScalar::Int(rng.random_range(0..5)),
                        1 => FlatScalar::Bool(true),
                        2 => FlatScalar::Null,
                        3 => FlatScalar::Datetime(1_700_000_000_000 + rng.random_range(0..3)),
                        _ => FlatScalar::Str(b.push_str(["a", "b", "c"][rng.random_range(0..3)])),
                    };
                    b.list_elems.push(e);
                }
                let l1 = b.list_elems.len() as u32;
                prop(&mut b, "tags", FlatValue::List(l0..l1));
            }
            prop(
                &mut b,
                "when",
                FlatValue::Scalar(FlatScalar::Datetime(
                    1_600_000_000_000 + rng.random_range(0..1_000_000),
                )),
            );
            if rng.random_bool(0.1) {
                prop(&mut b, "gone", FlatValue::Scalar(FlatScalar::Null));
            }
            if rng.random_bool(0.5) {
                prop(&mut b, "v", FlatValue::Scalar(FlatScalar::Int(i as i64)));
            } else {
                let s = b.push_str(&format!("v{}", i % 13));
                prop(&mut b, "v", FlatValue::Scalar(FlatScalar::Str(s)));
            }
            let end = b.props.len() as u32;
            let token = rng.random_bool(0.2).then(|| b.push_str(&format!("tok-{i}")));
            let location = rng
                .random_bool(0.3)
                .then(|| [rng.random_range(-180.0..180.0), rng.random_range(-90.0..90.0)]);
            let timestamp = rng
                .random_bool(0.9)
                .then(|| 1_700_000_000_000 + rng.random_range(0..(n as i64 / 3 + 1)) * 1000);
            b.events.push(FlatEvent {
                props: start..end,
                timestamp,
                uniqueness_token: token,
                location,
                raw: 0..0,
            });
        }
        b
    }

    /// Appends every event of `b` to a head.
    pub(crate) fn fill(
        head: &mut Head,
        b: &FlatBatch,
        schema: &mut Schema,
        dicts: &mut Dicts,
        base: u64,
    ) {
        for i in 0..b.len() {
            let mut id = [0u8; 12];
            id[..8].copy_from_slice(&(base + i as u64).to_be_bytes());
            head.append(b, i, 1_700_000_000_500 + i as i64, EventId(id), schema, dicts).unwrap();
        }
    }
}
