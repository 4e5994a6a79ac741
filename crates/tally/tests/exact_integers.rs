//! Integers stay exact (keen-semantics §0) even in a segment whose column
//! also holds non-integers: sealed, reopened, and still in the head.

use serde_json::json;
use tally::{Engine, FixedClock, Response};

const BIG: i64 = 9_007_199_254_740_993; // 2^53 + 1: no f64 holds it

fn answer(p: &tally::Project, q: serde_json::Value) -> serde_json::Value {
    match p.query_json_at(&q, 1_718_202_920_123).unwrap() {
        Response::Csv(c) => panic!("csv {c}"),
        r => r.into_json().unwrap(),
    }
}

fn check(p: &tally::Project) {
    let tf = json!({"start": "2024-06-01T00:00:00Z", "end": "2024-07-01T00:00:00Z"});
    let q = |t: &str, extra: serde_json::Value| {
        let mut b = json!({"analysis_type": t, "event_collection": "c", "timeframe": tf, "target_property": "n"});
        b.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        b
    };
    assert_eq!(answer(p, q("maximum", json!({}))), json!({"result": BIG}));
    assert_eq!(answer(p, q("minimum", json!({}))), json!({"result": -BIG}));
    assert_eq!(answer(p, q("select_unique", json!({}))), json!({"result": [-BIG, 0.5, BIG]}));
    let eq = |v: i64| json!({"filters": [{"property_name": "n", "operator": "eq", "property_value": v}]});
    assert_eq!(answer(p, q("count", eq(BIG))), json!({"result": 1}));
    assert_eq!(answer(p, q("count", eq(BIG - 1))), json!({"result": 0}));
    assert_eq!(answer(p, q("count", eq(-BIG))), json!({"result": 1}));
    let x = answer(
        p,
        json!({"analysis_type": "extraction", "event_collection": "c", "timeframe": tf, "property_names": ["n"]}),
    );
    assert_eq!(x, json!({"result": [{"n": BIG}, {"n": 0.5}, {"n": -BIG}]}));
}

#[test]
fn big_integers_beside_floats_stay_exact() {
    let dir = tempfile::tempdir().unwrap();
    {
        let engine = Engine::builder()
            .with_data_dir(dir.path())
            .with_clock(FixedClock::at(1_718_202_920_123))
            .open()
            .unwrap();
        let (p, _) = engine.project_or_create("p").unwrap();
        for (i, n) in [json!(BIG), json!(0.5), json!(-BIG)].iter().enumerate() {
            let ts = format!("2024-06-0{}T00:00:00Z", i + 1);
            p.record("c", json!({"keen": {"timestamp": ts}, "n": n}).to_string().as_bytes())
                .unwrap();
        }
        check(&p); // head
        p.flush().unwrap();
        check(&p); // sealed
    }
    let engine = Engine::builder().with_data_dir(dir.path()).open().unwrap();
    check(&engine.project("p").unwrap()); // reopened from Parquet + sidecar
}
