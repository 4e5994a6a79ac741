//! Arbitrary manifest bytes: decode returns a manifest or a corruption
//! error naming the file, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("MANIFEST");
    if let Err(e) = tally_ingest::Manifest::decode(data, path) {
        assert!(e.to_string().contains("MANIFEST"));
    }
});
