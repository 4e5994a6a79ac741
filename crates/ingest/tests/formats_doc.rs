//! `FORMATS.md` (rendered as the crate's `formats` docs) is assembled from
//! the module docs of the files that define each format, so the two never
//! drift: this test regenerates it and compares. `TALLY_BLESS=1` rewrites it.

use std::path::Path;

const SOURCES: [(&str, &str); 6] = [
    ("collection.rs", "Collection directory and write path"),
    ("manifest.rs", "Manifest (`MANIFEST`)"),
    ("wal.rs", "Write-ahead log (`wal-<seq>.log`)"),
    ("walpart.rs", "Events in a WAL record (payload version 3)"),
    ("dict.rs", "Dictionaries (`dict-<column>.dict`)"),
    ("persist.rs", "Segments (`seg-<id>.parquet`, `.idx`, `.del`)"),
];

/// `[`x`]` and `[`x`](path)` become plain `` `x` `` (links do not resolve
/// outside their module).
fn unlink(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find("[`") {
        let Some(j) = rest[i..].find("`]") else { break };
        out.push_str(&rest[..i]);
        out.push_str(&rest[i + 1..i + j + 1]);
        rest = &rest[i + j + 2..];
        if rest.starts_with('(') {
            if let Some(k) = rest.find(')') {
                rest = &rest[k + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn generate(root: &Path) -> String {
    let mut out = vec![
        "# Tally on-disk formats, version 1".to_string(),
        String::new(),
        "Every file Tally writes, byte by byte. All integers are little-endian.".to_string(),
        "Frozen samples of every file kind live in `testdata/compat/v1/`.".to_string(),
        String::new(),
    ];
    for (file, title) in SOURCES {
        let text = std::fs::read_to_string(root.join("src").join(file)).unwrap();
        out.push(format!("## {title}"));
        out.push(String::new());
        for l in text.lines().filter(|l| l.starts_with("//!")) {
            let t = l[3..].strip_prefix(' ').unwrap_or(&l[3..]);
            let t = if t.starts_with('#') { format!("##{t}") } else { t.to_string() };
            out.push(unlink(&t));
        }
        out.push(String::new());
    }
    out.join("\n")
}

#[test]
fn formats_md_matches_the_module_docs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let want = generate(root);
    let path = root.join("FORMATS.md");
    if std::env::var_os("TALLY_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "FORMATS.md is stale: run TALLY_BLESS=1 cargo test -p tally-ingest --test formats_doc"
    );
}
