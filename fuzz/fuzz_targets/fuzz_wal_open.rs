//! Arbitrary bytes as a WAL file: decoding returns a (possibly empty)
//! prefix of records, a reported torn tail, or a corruption error — never a
//! panic — and the records returned have consecutive sequence numbers.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = tally_ingest::decode_wal(data) {
        assert!(d.valid_len as usize <= data.len());
        for w in d.records.windows(2) {
            assert_eq!(w[0].seq + 1, w[1].seq);
        }
    }
});
