//! Unit tests of the generator.

use super::*;
use serde_json::Value;

fn lines(cfg: GeneratorConfig, n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    Generator::new(cfg).write_lines(n, &mut out).unwrap();
    out
}

fn parsed(n: usize) -> Vec<(String, Value)> {
    let mut g = Generator::new(GeneratorConfig::default());
    let mut line = String::new();
    (0..n)
        .map(|_| {
            line.clear();
            let name = g.next_line(&mut line);
            let v: Value = serde_json::from_str(&line).unwrap();
            (name.to_string(), v)
        })
        .collect()
}

fn walk_names(v: &Value, path: &str, seen: &mut Vec<String>) {
    if let Value::Object(m) = v {
        for (k, v) in m {
            assert!(
                !k.is_empty() && !k.contains('.') && !k.starts_with('$'),
                "bad name {k:?} at {path}"
            );
            let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            walk_names(v, &p, seen);
            seen.push(p);
        }
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = lines(GeneratorConfig::default(), 2_000);
    let b = lines(GeneratorConfig::default(), 2_000);
    assert_eq!(a, b);
    let c = lines(GeneratorConfig { seed: 43, ..GeneratorConfig::default() }, 2_000);
    assert_ne!(a, c);
}

#[test]
fn next_event_matches_next_line() {
    let cfg = GeneratorConfig::sample();
    let (mut a, mut b) = (Generator::new(cfg.clone()), Generator::new(cfg));
    for _ in 0..500 {
        let (mut line, mut event) = (String::new(), String::new());
        let n1 = a.next_line(&mut line);
        let n2 = b.next_event(&mut event);
        assert_eq!(n1, n2);
        assert_eq!(line, format!("{{\"{n1}\":{event}}}"));
    }
}

#[test]
fn write_lines_equals_next_line() {
    let mut g = Generator::new(GeneratorConfig::sample());
    let mut expected = String::new();
    for _ in 0..3_000 {
        g.next_line(&mut expected);
        expected.push('\n');
    }
    assert_eq!(lines(GeneratorConfig::sample(), 3_000), expected.into_bytes());
}

#[test]
fn every_line_is_one_collection_wrapping_an_object() {
    for (name, v) in parsed(10_000) {
        let m = v.as_object().unwrap();
        assert_eq!(m.len(), 1);
        let (k, event) = m.iter().next().unwrap();
        assert_eq!(*k, name);
        assert!(Collection::from_name(k).is_some());
        assert!(event.is_object());
        let mut seen = Vec::new();
        walk_names(event, "", &mut seen);
        assert!(seen.iter().any(|p| p == "keen.timestamp"));
        assert!(seen.iter().any(|p| p == "user.id"));
    }
}

#[test]
fn average_line_is_300_to_500_bytes() {
    let bytes = lines(GeneratorConfig::default(), 10_000);
    let n = bytes.iter().filter(|&&b| b == b'\n').count();
    assert_eq!(n, 10_000);
    let avg = (bytes.len() - n) / n;
    assert!((300..=500).contains(&avg), "average line {avg} bytes");
}

#[test]
fn collection_shares_are_about_right() {
    let all = parsed(20_000);
    let share = |c: &str| all.iter().filter(|(n, _)| n == c).count() as f64 / all.len() as f64;
    for (c, want) in [("pageviews", 0.70), ("purchases", 0.15), ("signups", 0.10), ("errors", 0.05)]
    {
        let got = share(c);
        assert!((got - want).abs() < 0.02, "{c}: {got}");
    }
}

#[test]
fn conflict_nulls_and_missing_properties_occur() {
    let all = parsed(10_000);
    let events: Vec<&Value> = all.iter().map(|(n, v)| &v[n.as_str()]).collect();
    let app = |pred: fn(&Value) -> bool| {
        events.iter().filter(|e| e.get("app_version").is_some_and(pred)).count()
    };
    assert!(app(Value::is_number) > 8_000);
    assert!(app(Value::is_string) > 500);
    assert!(events.iter().any(|e| e.get("app_version").is_none()));
    for key in ["coupon", "experiment"] {
        assert!(events.iter().any(|e| e.get(key).is_some_and(Value::is_null)), "{key}");
        assert!(events.iter().any(|e| e.get(key).is_some_and(Value::is_string)), "{key}");
    }
    assert!(events.iter().any(|e| e["error"].get("stack").is_some_and(Value::is_null)));
    assert!(events.iter().any(|e| e.get("referrer").is_none()));
    assert!(events.iter().any(|e| e["user"].get("address").is_none()));
    assert!(events.iter().any(|e| e["device"].get("os").is_none()));
    let tags: Vec<usize> =
        events.iter().filter_map(|e| e.get("tags")).map(|t| t.as_array().unwrap().len()).collect();
    assert!(tags.contains(&0) && tags.contains(&3) && tags.iter().all(|&n| n <= 3));
}

#[test]
fn purchases_carry_typed_values() {
    for (name, v) in parsed(5_000) {
        if name != "purchases" {
            continue;
        }
        let e = &v[name.as_str()];
        assert!(e["price"].is_f64() || e["price"].is_u64());
        assert!(e["quantity"].is_u64());
        assert!(e["on_sale"].is_boolean());
        assert!(e["item"]["id"].is_string());
    }
}

#[test]
fn value_cardinalities_are_bounded() {
    use std::collections::HashSet;
    let all = parsed(20_000);
    let mut sets: [HashSet<String>; 6] = Default::default();
    for (n, v) in &all {
        let e = &v[n.as_str()];
        let fields = [
            &e["user"]["plan"],
            &e["user"]["address"]["country"],
            &e["user"]["address"]["city"],
            &e["device"]["type"],
            &e["referrer"]["domain"],
            &e["page"]["url"],
        ];
        for (set, f) in sets.iter_mut().zip(fields) {
            if let Some(s) = f.as_str() {
                set.insert(s.to_string());
            }
        }
    }
    let lens: Vec<usize> = sets.iter().map(HashSet::len).collect();
    assert_eq!(lens[0], 3);
    assert!(lens[1] > 50 && lens[1] <= 200, "{lens:?}");
    assert!(lens[2] > 100 && lens[2] <= 200, "{lens:?}");
    assert_eq!(lens[3], 3);
    assert!(lens[4] > 50 && lens[4] <= 200, "{lens:?}");
    assert!(lens[5] > 1_000 && lens[5] <= 50_000, "{lens:?}");
}

#[test]
fn user_attributes_are_fixed_per_user() {
    use std::collections::HashMap;
    let mut plan: HashMap<String, String> = HashMap::new();
    for (n, v) in parsed(10_000) {
        let u = &v[n.as_str()]["user"];
        let id = u["id"].as_str().unwrap().to_string();
        assert!(id.starts_with('u') && id.len() == 7);
        let p = u["plan"].as_str().unwrap().to_string();
        assert_eq!(plan.entry(id).or_insert_with(|| p.clone()), &p);
    }
    // Skewed: the lowest 1% of ids (u000000..u009999) get about 21.5% of events.
    let top = plan.keys().filter(|id| id.as_str() < "u010000").count();
    let mut g = Generator::new(GeneratorConfig::default());
    let hot = (0..10_000).filter(|_| g.skewed(DEFAULT_USERS, 3) < DEFAULT_USERS / 100).count();
    assert!((1_800..2_500).contains(&hot), "{hot}");
    assert!(top > 0 && top < plan.len());
}

#[test]
fn timestamps_are_iso_utc_ms_inside_the_window() {
    let cfg = GeneratorConfig::sample();
    let (lo, hi) = (cfg.start_ms, cfg.start_ms + cfg.span_ms);
    let mut g = Generator::new(cfg);
    let mut days = std::collections::HashSet::new();
    for _ in 0..3_000 {
        let mut s = String::new();
        g.next_event(&mut s);
        let v: Value = serde_json::from_str(&s).unwrap();
        let ts = v["keen"]["timestamp"].as_str().unwrap();
        assert_eq!(ts.len(), 24, "{ts}");
        let t = chrono::DateTime::parse_from_rfc3339(ts).unwrap().timestamp_millis();
        assert!((lo..hi).contains(&t), "{ts}");
        days.insert(ts[..10].to_string());
    }
    assert_eq!(days.len(), 30);
}

#[test]
fn timestamp_formatting_matches_chrono() {
    let mut g = Generator::new(GeneratorConfig::default());
    for ms in [0, 951_782_400_000, 1_709_164_800_000, 4_107_542_400_000, MAX_MS]
        .into_iter()
        .chain((0..2_000).map(|_| g.below(MAX_MS as u64 + 1) as i64))
    {
        let mut s = String::new();
        push_timestamp(&mut s, ms);
        let want = chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        assert_eq!(s, want);
    }
}

#[test]
fn config_constants_are_what_they_say() {
    let day = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis();
    assert_eq!(DEFAULT_START_MS, day("2024-01-01T00:00:00Z"));
    assert_eq!(GeneratorConfig::sample().start_ms, day("2024-06-01T00:00:00Z"));
    assert_eq!(MAX_MS, day("9999-12-31T23:59:59.999Z"));
}

#[test]
fn degenerate_config_is_clamped_not_fatal() {
    let cfg = GeneratorConfig {
        span_ms: 0,
        users: 0,
        pages: 0,
        start_ms: -5,
        ..GeneratorConfig::default()
    };
    let mut g = Generator::new(cfg);
    for _ in 0..200 {
        let mut s = String::new();
        g.next_line(&mut s);
        serde_json::from_str::<Value>(&s).unwrap();
    }
}

#[test]
fn helpers() {
    let mut s = String::new();
    push_price(&mut s, 2550);
    s.push(' ');
    push_price(&mut s, 5);
    s.push(' ');
    push_padded(&mut s, 123, 6);
    s.push(' ');
    push_u64(&mut s, u64::MAX);
    assert_eq!(s, "25.50 0.05 000123 18446744073709551615");
    assert_eq!(digits(999_999), 6);
    assert_eq!(digits(1_000_000), 7);
    assert_eq!(Collection::from_name("signups"), Some(Collection::Signups));
    assert_eq!(Collection::from_name("nope"), None);
}

#[test]
fn tables_are_safe_ascii() {
    let safe = |s: &str| s.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
    let strs = REFERRERS
        .iter()
        .chain(&REFERRER_PREFIXES)
        .chain(&SECTIONS)
        .chain(&ADJECTIVES)
        .chain(&NOUNS)
        .chain(&TAGS);
    assert!(strs.copied().all(safe));
    assert!(CITIES.iter().all(|(a, b)| safe(a) && safe(b)));
    assert!(ERRORS.iter().all(|(a, _, b)| safe(a) && safe(b)));
}
