//! File-tree helpers for tests that open copies of frozen data
//! directories (included by path, so those tests need not build the rest
//! of `support`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// For the ignored tests that write a frozen sample: true when asked to
/// (`TALLY_MAKE_COMPAT` is set); panics if `dir` already exists, since a
/// frozen sample is never regenerated.
pub fn may_write_frozen(dir: &Path, what: &str) -> bool {
    if std::env::var_os("TALLY_MAKE_COMPAT").is_none() {
        return false;
    }
    assert!(!dir.exists(), "the {what} sample is frozen: never regenerate it");
    true
}

/// Copies the tree `from` to `to` (created).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        let dst = to.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &dst);
        } else {
            std::fs::copy(&p, &dst).unwrap();
        }
    }
}

/// Every file under `dir`, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The first directory named `name` below `dir` (depth first), if any.
pub fn find_dir(dir: &Path, name: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.ends_with(name) {
                return Some(p);
            }
            if let Some(f) = find_dir(&p, name) {
                return Some(f);
            }
        }
    }
    None
}

/// The first `n` lines of the testdata sample (`testdata/events/sample.jsonl`),
/// each ending in a newline: the input the frozen data directories were
/// written from.
pub fn sample_lines(n: usize) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/events/sample.jsonl");
    let all = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    for l in all.split(|&b| b == b'\n').filter(|l| !l.is_empty()).take(n) {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    out
}
