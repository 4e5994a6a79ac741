//! [`StdStorage`]: the [`Storage`] trait over the real file system (`std::fs`).
//!
//! * `create_new` opens with `OpenOptions::create_new` (fails if the file
//!   exists) in append mode (readable too); `open_append` opens an existing file in append
//!   mode; `open_read` opens read-only (appending through it fails).
//! * `sync_data` is [`File::sync_data`]; `sync_dir` opens the directory and
//!   calls [`File::sync_all`] on it (on non-unix platforms, where a directory
//!   cannot be opened as a file, it is a no-op).
//! * `list` returns the full paths of a directory's entries, sorted.
//! * `read_at` is positional (`pread` through `std::os::unix::fs::FileExt`)
//!   on unix; elsewhere it seeks and reads under a lock.
//!
//! Errors are the operating system's `io::Error`s, unchanged; callers wrap
//! them into [`IngestError::Io`](crate::IngestError::Io) naming the file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::storage::{Storage, StorageFile};

/// The real file system.
///
/// ```
/// use tally_ingest::{read_all, write_new, StdStorage, Storage};
/// let dir = tempfile::tempdir()?;
/// let storage = StdStorage::new();
/// let path = dir.path().join("a.bin");
/// write_new(&storage, &path, b"hello")?;
/// storage.sync_dir(dir.path())?;
/// assert_eq!(read_all(&storage, &path)?, b"hello");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StdStorage;

impl StdStorage {
    /// The real file system (a unit value; all instances are the same).
    pub fn new() -> StdStorage {
        StdStorage
    }
}

/// An open file of [`StdStorage`].
#[derive(Debug)]
struct StdFile {
    file: File,
    /// Serialises seek + read on platforms without positional reads.
    #[cfg(not(unix))]
    read_lock: std::sync::Mutex<()>,
}

impl StdFile {
    fn new(file: File) -> StdFile {
        StdFile {
            file,
            #[cfg(not(unix))]
            read_lock: std::sync::Mutex::new(()),
        }
    }
}

impl StorageFile for StdFile {
    #[cfg(unix)]
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        loop {
            match self.file.read_at(buf, offset) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    #[cfg(not(unix))]
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        use std::io::{Read, Seek, SeekFrom};
        let _guard = self.read_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut f = &self.file;
        f.seek(SeekFrom::Start(offset))?;
        loop {
            match f.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        // The file is opened in append mode, so every write lands at the end.
        self.file.write_all(data)
    }

    fn append_vectored(&mut self, bufs: &[&[u8]]) -> io::Result<()> {
        // writev, looping over short writes (and the kernel's IOV_MAX).
        let mut slices: Vec<io::IoSlice<'_>> = bufs.iter().map(|b| io::IoSlice::new(b)).collect();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            match self.file.write_vectored(rest) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "wrote 0 bytes")),
                Ok(n) => io::IoSlice::advance_slices(&mut rest, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }
}

impl Storage for StdStorage {
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        let file = OpenOptions::new().read(true).append(true).create_new(true).open(path)?;
        Ok(Box::new(StdFile::new(file)))
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        let file = OpenOptions::new().read(true).open(path)?;
        Ok(Box::new(StdFile::new(file)))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        // `read` too, so a writer can also read back what it wrote.
        let file = OpenOptions::new().read(true).append(true).open(path)?;
        Ok(Box::new(StdFile::new(file)))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(dir)? {
            out.push(entry?.path());
        }
        out.sort();
        Ok(out)
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    #[cfg(unix)]
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    #[cfg(not(unix))]
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        // Directories cannot be opened as files here; check it exists.
        fs::metadata(dir).map(|_| ())
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        path.try_exists()
    }

    fn remove_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::remove_dir_all(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{read_all, replace_atomic, write_new};

    #[test]
    fn create_append_read_truncate() {
        let dir = tempfile::tempdir().unwrap();
        let s = StdStorage::new();
        let p = dir.path().join("f");
        let mut f = s.create_new(&p).unwrap();
        f.append(b"hello ").unwrap();
        f.append(b"world").unwrap();
        f.sync_data().unwrap();
        assert_eq!(f.len().unwrap(), 11);
        let mut buf = [0u8; 5];
        assert_eq!(f.read_at(6, &mut buf).unwrap(), 5);
        assert_eq!(&buf, b"world");
        f.set_len(5).unwrap();
        f.append(b"!").unwrap();
        assert_eq!(read_all(&s, &p).unwrap(), b"hello!");
        // create_new refuses an existing file.
        let err = s.create_new(&p).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        // open_append appends at the end.
        let mut g = s.open_append(&p).unwrap();
        g.append(b"?").unwrap();
        assert_eq!(read_all(&s, &p).unwrap(), b"hello!?");
        // a read-only handle cannot append.
        let mut r = s.open_read(&p).unwrap();
        assert!(r.append(b"x").is_err());
        let mut end = [0u8; 4];
        assert_eq!(r.read_at(100, &mut end).unwrap(), 0);
    }

    #[test]
    fn dirs_list_rename_remove() {
        let dir = tempfile::tempdir().unwrap();
        let s = StdStorage::new();
        let sub = dir.path().join("a/b");
        s.create_dir_all(&sub).unwrap();
        s.sync_dir(&sub).unwrap();
        write_new(&s, &sub.join("y"), b"1").unwrap();
        write_new(&s, &sub.join("x"), b"2").unwrap();
        assert_eq!(s.list(&sub).unwrap(), vec![sub.join("x"), sub.join("y")]);
        replace_atomic(&s, &sub.join("x"), b"3").unwrap();
        assert_eq!(read_all(&s, &sub.join("x")).unwrap(), b"3");
        s.rename(&sub.join("y"), &sub.join("z")).unwrap();
        assert!(!s.exists(&sub.join("y")).unwrap());
        assert!(s.exists(&sub.join("z")).unwrap());
        s.remove(&sub.join("z")).unwrap();
        assert_eq!(s.list(&sub).unwrap(), vec![sub.join("x")]);
        s.remove_dir_all(&dir.path().join("a")).unwrap();
        assert!(!s.exists(&sub).unwrap());
        assert!(s.list(&sub).is_err());
    }
}
