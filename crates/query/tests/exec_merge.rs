//! Partial states merge associatively and commutatively: merging per-chunk
//! states in any grouping and order equals folding all values at once; and
//! whole queries give the same answer however the data is split into
//! sealed segments and head parts.

mod exec_util;

use exec_util::*;
use proptest::prelude::*;
use serde_json::json;
use tally_query::exec::partial::{DistinctDicts, Partial};
use tally_query::{AnalysisKind as K, Number};

const KINDS: [K; 10] = [
    K::Count,
    K::Sum,
    K::Minimum,
    K::Maximum,
    K::Average,
    K::StandardDeviation,
    K::Median,
    K::Percentile(37.5),
    K::CountUnique,
    K::SelectUnique,
];

/// Integers, or multiples of 1/4 (exact in f64, so every float sum is exact
/// and any order must give bit-identical states).
fn value() -> impl Strategy<Value = Number> {
    prop_oneof![
        (-1_000_000i64..1_000_000).prop_map(Number::Int),
        (-4_000_000i64..4_000_000).prop_map(|q| Number::from_f64(q as f64 / 4.0)),
        Just(Number::Int(i64::MAX)),
        Just(Number::Int(i64::MIN)),
    ]
}

fn fold(kind: K, vals: &[Number]) -> Partial {
    let mut p = Partial::empty(kind);
    for &v in vals {
        p.add_number(v);
    }
    p
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, rng_seed: proptest::test_runner::RngSeed::Fixed(7), ..ProptestConfig::default() })]

    #[test]
    fn merge_in_any_grouping_and_order_equals_one_shot(
        vals in proptest::collection::vec(value(), 0..60),
        cuts in proptest::collection::vec(0usize..60, 0..6),
        order_seed in any::<u64>(),
    ) {
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(vals.len())).collect();
        cuts.sort_unstable();
        let mut chunks: Vec<&[Number]> = Vec::new();
        let mut start = 0;
        for c in cuts.iter().copied().chain([vals.len()]) {
            chunks.push(&vals[start..c.max(start)]);
            start = c.max(start);
        }
        let dicts = DistinctDicts::default();
        for kind in KINDS {
            let one = fold(kind, &vals);
            let parts: Vec<Partial> = chunks.iter().map(|c| fold(kind, c)).collect();
            // left fold in a shuffled order
            let mut idx: Vec<usize> = (0..parts.len()).collect();
            let mut s = order_seed;
            for i in (1..idx.len()).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                idx.swap(i, (s >> 33) as usize % (i + 1));
            }
            let mut left = Partial::empty(kind);
            for &i in &idx {
                left.merge(&parts[i]);
            }
            // right-nested tree: p0 + (p1 + (p2 + ...))
            let mut right = Partial::empty(kind);
            for p in parts.iter().rev() {
                let mut q = p.clone();
                q.merge(&right);
                right = q;
            }
            let (a, b, c) = (one.finish(kind, &dicts), left.finish(kind, &dicts), right.finish(kind, &dicts));
            // Every state, the standard deviation's and float sums'
            // included, merges exactly: the same bits in any grouping.
            prop_assert_eq!(&a, &b, "{:?}", kind);
            prop_assert_eq!(&a, &c, "{:?}", kind);
            if matches!(kind, K::Count | K::Sum | K::Minimum | K::Maximum | K::Average | K::CountUnique | K::StandardDeviation) {
                prop_assert_eq!(&one, &left, "{:?} state", kind);
            }
        }
    }
}

/// The same events split into different segments and head parts answer
/// every query identically.
#[test]
fn results_do_not_depend_on_how_data_is_split() {
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut rand = move |m: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % m
    };
    let evs: Vec<String> = (0..300)
        .map(|i| {
            let g = ["a", "b", "c", "d"][rand(4) as usize];
            let x = match rand(5) {
                0 => format!("{}", rand(100)),
                1 => format!("{}.5", rand(100)),
                2 => format!("\"s{}\"", rand(7)),
                3 => format!("[\"s{}\", {}]", rand(7), rand(3)),
                _ => "null".into(),
            };
            ev(DAY0 + i * 600_000, &format!(r#""g": "{g}", "x": {x}, "u": "u{}""#, rand(50)))
        })
        .collect();
    let kinds = [
        K::Count,
        K::Sum,
        K::Minimum,
        K::Maximum,
        K::Average,
        K::Median,
        K::Percentile(90.0),
        K::CountUnique,
        K::SelectUnique,
    ];
    let mut c = common(3);
    c.group_by = vec![gb("g")];
    c.filters = vec![tally_query::Filter::Exists { property: "u".into(), exists: true }];
    let b = daily(3);
    let mut reference: Option<Vec<serde_json::Value>> = None;
    for (chunk, seg_rows) in [(300, 1000), (7, 40), (50, 100), (1, 16)] {
        let snap = snapshot_of(&evs, chunk, seg_rows);
        let got: Vec<serde_json::Value> = kinds
            .iter()
            .map(|&k| {
                let a = an(k, Some("x"));
                json!([
                    run1(Some(&snap), &a, &c, range(3), Some(&b)),
                    run1(Some(&snap), &a, &common(3), range(3), None),
                ])
            })
            .collect();
        match &reference {
            None => reference = Some(got),
            Some(r) => assert_eq!(&got, r, "split chunk={chunk} segment_rows={seg_rows}"),
        }
    }
    // a sanity value: the count over everything
    let snap = snapshot_of(&evs, 300, 1000);
    assert_eq!(
        run1(Some(&snap), &an(K::Count, None), &common(3), range(3), None),
        json!({"result": 300})
    );
}
