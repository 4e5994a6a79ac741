//! The one storage trait every file access goes through.
//!
//! [`StdStorage`] is the real file system. `SimStorage` (feature
//! `test-util`) models durable versus volatile bytes and names so crash and
//! I/O-error suites can enumerate every call (RELIABILITY.md §2a).

use std::io;
use std::path::{Path, PathBuf};

/// File-system operations the engine uses. All paths are absolute or
/// relative to the process's working directory, exactly as given.
pub trait Storage: Send + Sync + 'static {
    /// Creates a new file; fails with `AlreadyExists` if it exists.
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn StorageFile>>;
    /// Opens an existing file for reading.
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn StorageFile>>;
    /// Opens an existing file for appending (and `set_len`).
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn StorageFile>>;
    /// Atomically renames `from` to `to`, replacing `to` if it exists.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Lists the entries of a directory (full paths, sorted).
    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>>;
    /// Creates a directory and its parents.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Makes a directory's entries (creates, renames, removes) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// True if the path exists (file or directory).
    fn exists(&self, path: &Path) -> io::Result<bool>;
    /// Removes a directory and everything below it.
    fn remove_dir_all(&self, dir: &Path) -> io::Result<()>;
}

/// An open file.
pub trait StorageFile: Send + Sync {
    /// Reads at `offset`; returns the bytes read (0 at end of file).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
    /// Appends bytes at the end of the file.
    fn append(&mut self, data: &[u8]) -> io::Result<()>;
    /// Appends `bufs` back to back as one write (the default copies them
    /// into one buffer and calls [`StorageFile::append`] once).
    fn append_vectored(&mut self, bufs: &[&[u8]]) -> io::Result<()> {
        match bufs {
            [] => Ok(()),
            [one] => self.append(one),
            _ => self.append(&bufs.concat()),
        }
    }
    /// Truncates (or extends with zeros) to `len` bytes.
    fn set_len(&mut self, len: u64) -> io::Result<()>;
    /// Makes the file's bytes durable.
    fn sync_data(&mut self) -> io::Result<()>;
    /// The file's current length.
    fn len(&self) -> io::Result<u64>;
    /// True when the file is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
}

/// Reads a whole file through a [`Storage`].
pub fn read_all(storage: &dyn Storage, path: &Path) -> io::Result<Vec<u8>> {
    let file = storage.open_read(path)?;
    let len = file.len()?;
    let len = usize::try_from(len).map_err(|_| io::Error::other("file too large"))?;
    let mut buf = vec![0u8; len];
    let mut done = 0;
    while done < len {
        let n = file.read_at(done as u64, &mut buf[done..])?;
        if n == 0 {
            buf.truncate(done);
            break;
        }
        done += n;
    }
    Ok(buf)
}

/// Writes a whole new file durably: create (fails if present), append,
/// fsync. The caller syncs the directory when the name must be durable.
pub fn write_new(storage: &dyn Storage, path: &Path, data: &[u8]) -> io::Result<()> {
    let mut f = storage.create_new(path)?;
    f.append(data)?;
    f.sync_data()
}

/// Atomically replaces `path` with `data`: write `path.tmp`, fsync, rename,
/// fsync the directory. The rename is not trusted until the directory sync
/// returns.
pub fn replace_atomic(storage: &dyn Storage, path: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    if storage.exists(&tmp)? {
        storage.remove(&tmp)?;
    }
    write_new(storage, &tmp, data)?;
    storage.rename(&tmp, path)?;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    storage.sync_dir(dir)
}
