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
        Ok(Box::new(MemFile(
            files.get(path).ok_or_else(not_found)?.clone(),
        )))
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
        self.files
            .lock()
            .unwrap()
            .remove(path)
            .map(|_| ())
            .ok_or_else(not_found)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        Ok(self
            .files
            .lock()
            .unwrap()
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .cloned()
            .collect())
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
        self.files
            .lock()
            .unwrap()
            .retain(|p, _| !p.starts_with(dir));
        Ok(())
    }
}
