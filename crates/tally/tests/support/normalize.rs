//! Query answers made comparable across engines and across runs.

use serde_json::Value;

/// `r` as text to compare: an error as its JSON, a CSV body as `"csv"`, a
/// JSON body with what differs between two engines or two runs of one
/// taken out, then given to `edit`, then serialized. Taken out:
/// `execution_metadata.total_processing_time` (a timing, out of scope by
/// RELIABILITY §3b) and each result row's `keen.id` (ids carry a
/// per-collection random prefix, so two engines never share them).
pub fn normalized(
    r: Result<tally::Response, tally::Error>,
    edit: impl FnOnce(&mut Value),
) -> String {
    let mut v = match r {
        Ok(r) => match r.into_json() {
            Some(v) => v,
            None => return "csv".into(),
        },
        Err(e) => return e.to_json().to_string(),
    };
    if let Some(m) = v.get_mut("execution_metadata").and_then(Value::as_object_mut) {
        m.remove("total_processing_time");
    }
    if let Some(rows) = v.get_mut("result").and_then(Value::as_array_mut) {
        for r in rows {
            if let Some(k) = r.get_mut("keen").and_then(Value::as_object_mut) {
                k.remove("id");
            }
        }
    }
    edit(&mut v);
    v.to_string()
}
