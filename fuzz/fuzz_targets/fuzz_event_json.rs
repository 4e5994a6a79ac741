//! Raw bytes → parse, validate, flatten: `Ok` or a typed ingest error,
//! never a panic; a rejected event leaves the batch unchanged.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tally_ingest::{parse_event, EventLimits, FlatBatch};

fuzz_target!(|data: &[u8]| {
    let mut batch = FlatBatch::new();
    parse_event(br#"{"a": 1}"#, &mut batch, &EventLimits::default()).expect("valid seed event");
    let before = batch.clone();
    match parse_event(data, &mut batch, &EventLimits::default()) {
        Ok(()) => assert_eq!(batch.events.len(), 2),
        Err(e) => {
            let _ = e.code().as_str();
            assert_eq!(batch.events, before.events);
            assert_eq!(batch.props, before.props);
            assert_eq!(batch.arena, before.arena);
        }
    }
});
