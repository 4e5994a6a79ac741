//! The README example: record events, ingest NDJSON, seal, run a Keen query.
use serde_json::json;
use tally::{Engine, FixedClock, NdjsonOptions, Response};

fn main() -> Result<(), tally::Error> {
    let dir = std::env::temp_dir().join("tally-readme-example");
    let _ = std::fs::remove_dir_all(&dir);
    let engine = Engine::builder()
        .with_data_dir(&dir)
        .with_clock(FixedClock::at(1_718_202_920_123)) // 2024-06-12T14:35:20.123Z
        .open()?;
    let (project, _) = engine.project_or_create("shop")?;
    project.record("purchases", br#"{"item": "gadget", "price": 25.5, "user": {"id": "u1"}}"#)?;
    let lines =
        b"{\"purchases\": {\"item\": \"widget\", \"price\": 3, \"user\": {\"id\": \"u2\"}}}\n";
    project.ingest_ndjson(&lines[..], &NdjsonOptions::default(), &mut |_| {})?;
    project.flush()?; // seal heads into Parquet segments (queries also see unsealed events)
    let answer = project.query_json(&json!({
        "analysis_type": "sum", "event_collection": "purchases", "target_property": "price",
        "timeframe": "this_7_days", "group_by": "item"}))?;
    let expected =
        json!({"result": [{"item": "gadget", "result": 25.5}, {"item": "widget", "result": 3}]});
    assert_eq!(answer, Response::Json(expected));
    Ok(())
}
