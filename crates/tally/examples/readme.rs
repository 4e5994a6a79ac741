//! The README example: record events, ingest NDJSON, seal, print the schema.
use tally::{Engine, FixedClock, NdjsonOptions};

fn main() -> Result<(), tally::Error> {
    let dir = std::env::temp_dir().join("tally-readme-example");
    let engine = Engine::builder()
        .with_data_dir(&dir)
        .with_clock(FixedClock::at(1_718_202_920_123)) // 2024-06-12T14:35:20.123Z
        .open()?;
    let (project, _) = engine.project_or_create("shop")?;
    project.record("purchases", br#"{"item": "gadget", "price": 25.5, "user": {"id": "u1"}}"#)?;
    let lines = b"{\"purchases\": {\"item\": \"widget\", \"price\": 3}}\n{\"signups\": {\"plan\": \"pro\"}}\n";
    let summary = project.ingest_ndjson(&lines[..], &NdjsonOptions::default(), &mut |_| {})?;
    assert_eq!((summary.accepted, summary.rejected), (2, 0));
    project.flush()?; // seal heads into Parquet segments (otherwise they seal at 1,048,576 rows)
    let schema = project.collection_schema("purchases")?;
    assert_eq!(schema.properties["price"], "num");
    println!("{}", serde_json::to_string(&project.schema()).unwrap_or_default());
    Ok(())
}
