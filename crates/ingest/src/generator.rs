//! Seeded, deterministic generator of realistic Keen-style events.
//!
//! [`Generator`] produces events in Tally's NDJSON line format: one JSON object
//! per line, `{"<collection>": {event}}`. The same [`GeneratorConfig`] always
//! yields the same bytes, on every platform: the only source of randomness is a
//! [`rand_pcg::Pcg64`] seeded with `seed_from_u64`, and every value is derived
//! from its raw 64-bit outputs with integer arithmetic and exact float
//! multiplications (no `ln`/`exp`/`powf`, whose last bits vary by platform).
//!
//! The mix of collections is about 70% `pageviews`, 15% `purchases`, 10%
//! `signups` and 5% `errors`; a line is about 400 bytes on average. Events
//! exercise what the engine must handle (see keen-semantics §0, §1):
//!
//! - `keen.timestamp`: uniform over `[start_ms, start_ms + span_ms)`, written
//!   as `YYYY-MM-DDTHH:MM:SS.sssZ` (not in time order);
//! - nested objects: `user.id` (`"u000123"`, skewed so a few users are very
//!   active), `user.plan` (`free`/`pro`/`enterprise`, fixed per user),
//!   `user.address.city` / `user.address.country` (200 cities, fixed per
//!   user, sometimes missing), `device.type` / `device.os` / `device.browser`,
//!   `page.url` (about [`GeneratorConfig::pages`] distinct), `referrer.domain`
//!   (about 200 distinct, missing for direct traffic);
//! - numbers: `session_ms` and `quantity` (integers), `price` (two decimals);
//! - `on_sale` (bool), `tags` (a list of 0–3 strings);
//! - `null` values (`coupon`, `experiment`, `error.stack`) and properties that
//!   are sometimes absent;
//! - a deliberate type conflict: `app_version` is a number (`4.2`) in most
//!   events and a string (`"4.2.1"`) in some.
//!
//! Every string written is printable ASCII without `"` or `\`, so no escaping
//! is needed and every line is valid JSON. Property names never contain `.` and
//! never start with `$` (§1.4).
//!
//! ```
//! use tally_ingest::generator::{Generator, GeneratorConfig};
//!
//! let mut gen = Generator::new(GeneratorConfig { seed: 7, ..GeneratorConfig::default() });
//! let mut line = String::new();
//! let collection = gen.next_line(&mut line);
//! let v: serde_json::Value = serde_json::from_str(&line).unwrap();
//! assert!(v[collection]["keen"]["timestamp"].is_string());
//! ```

use rand::{RngCore, SeedableRng};
use rand_pcg::Pcg64;

mod tables;

use tables::{
    ADJECTIVES, CITIES, ERRORS, ITEMS, NOUNS, REFERRERS, REFERRER_COUNT, REFERRER_PREFIXES,
    SECTIONS, TAGS,
};

/// One day in milliseconds.
const DAY_MS: i64 = 86_400_000;

/// `2024-01-01T00:00:00Z` in Unix milliseconds: the default [`GeneratorConfig::start_ms`].
pub const DEFAULT_START_MS: i64 = 1_704_067_200_000;
/// 90 days: the default [`GeneratorConfig::span_ms`].
pub const DEFAULT_SPAN_MS: i64 = 90 * DAY_MS;
/// The default seed, [`GeneratorConfig::seed`].
pub const DEFAULT_SEED: u64 = 42;
/// The default number of distinct users, [`GeneratorConfig::users`].
pub const DEFAULT_USERS: u64 = 1_000_000;
/// The default number of distinct page URLs, [`GeneratorConfig::pages`].
pub const DEFAULT_PAGES: u64 = 50_000;

/// Largest instant written: `9999-12-31T23:59:59.999Z`.
const MAX_MS: i64 = 253_402_300_799_999;

/// The collections a [`Generator`] writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Collection {
    /// `pageviews`: about 70% of events.
    Pageviews,
    /// `purchases`: about 15% of events; carries `price`, `quantity`, `on_sale`.
    Purchases,
    /// `signups`: about 10% of events.
    Signups,
    /// `errors`: about 5% of events.
    Errors,
}

impl Collection {
    /// Every collection, in the order of their share (largest first).
    pub const ALL: [Collection; 4] =
        [Collection::Pageviews, Collection::Purchases, Collection::Signups, Collection::Errors];

    /// The collection name as written in a line: `"pageviews"`, `"purchases"`, `"signups"`, `"errors"`.
    pub fn name(self) -> &'static str {
        match self {
            Collection::Pageviews => "pageviews",
            Collection::Purchases => "purchases",
            Collection::Signups => "signups",
            Collection::Errors => "errors",
        }
    }

    /// The collection with this name, if it is one of [`Collection::ALL`].
    pub fn from_name(name: &str) -> Option<Collection> {
        Collection::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// What a [`Generator`] produces. Build it with struct-update syntax:
/// `GeneratorConfig { seed: 7, ..GeneratorConfig::default() }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratorConfig {
    /// Seed of the random stream; the same config always gives the same bytes.
    pub seed: u64,
    /// First instant of the window `keen.timestamp` is drawn from (Unix ms, UTC).
    pub start_ms: i64,
    /// Length of that window in ms; values below 1 are read as 1.
    pub span_ms: i64,
    /// Number of distinct user ids (`u000000` …); 0 is read as 1. Activity is
    /// skewed: low ids are far more frequent than high ones.
    pub users: u64,
    /// Number of distinct `page.url` values; 0 is read as 1.
    pub pages: u64,
}

impl Default for GeneratorConfig {
    /// Seed 42, start 2024-01-01T00:00:00Z, span 90 days, 1,000,000 users, 50,000 pages.
    fn default() -> Self {
        GeneratorConfig {
            seed: DEFAULT_SEED,
            start_ms: DEFAULT_START_MS,
            span_ms: DEFAULT_SPAN_MS,
            users: DEFAULT_USERS,
            pages: DEFAULT_PAGES,
        }
    }
}

impl GeneratorConfig {
    /// Number of lines in `testdata/events/sample.jsonl`.
    pub const SAMPLE_LINES: usize = 3_000;

    /// The config that produced `testdata/events/sample.jsonl` (with
    /// [`GeneratorConfig::SAMPLE_LINES`] lines): seed 7, 30 days from
    /// 2024-06-01T00:00:00Z, 1,000 users, 500 pages.
    pub fn sample() -> Self {
        GeneratorConfig {
            seed: 7,
            start_ms: 1_717_200_000_000,
            span_ms: 30 * DAY_MS,
            users: 1_000,
            pages: 500,
        }
    }
}

/// A seeded, deterministic stream of events; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Generator {
    cfg: GeneratorConfig,
    rng: Pcg64,
    /// Digits in a user id: at least 6, more if `users` needs them.
    id_width: usize,
}

impl Generator {
    /// A generator for `cfg`. Out-of-range settings are clamped (see the
    /// [`GeneratorConfig`] fields); this never fails.
    pub fn new(mut cfg: GeneratorConfig) -> Self {
        cfg.span_ms = cfg.span_ms.max(1);
        cfg.users = cfg.users.max(1);
        cfg.pages = cfg.pages.max(1);
        let id_width = digits(cfg.users - 1).max(6);
        let rng = Pcg64::seed_from_u64(cfg.seed);
        Generator { cfg, rng, id_width }
    }

    /// The config in effect (after clamping).
    pub fn config(&self) -> &GeneratorConfig {
        &self.cfg
    }

    /// Appends the next event's line to `out` (no trailing newline) and
    /// returns its collection name. The line is `{"<collection>": {event}}`.
    pub fn next_line(&mut self, out: &mut String) -> &'static str {
        let c = self.pick_collection();
        out.push_str("{\"");
        out.push_str(c.name());
        out.push_str("\":");
        self.write_event(c, out);
        out.push('}');
        c.name()
    }

    /// Writes the next `n` lines to `out`, each followed by `'\n'`.
    pub fn write_lines(&mut self, n: usize, out: &mut impl std::io::Write) -> std::io::Result<()> {
        const FLUSH_AT: usize = 64 * 1024;
        let mut buf = String::with_capacity(FLUSH_AT + 4096);
        for _ in 0..n {
            self.next_line(&mut buf);
            buf.push('\n');
            if buf.len() >= FLUSH_AT {
                out.write_all(buf.as_bytes())?;
                buf.clear();
            }
        }
        out.write_all(buf.as_bytes())
    }

    /// Appends just the next event object (no collection wrapper) to `out` and
    /// returns its collection name, for writers that send one collection's
    /// events. It consumes the random stream exactly as [`Generator::next_line`]
    /// does, so the two interleave freely and yield the same events.
    pub fn next_event(&mut self, out: &mut String) -> &'static str {
        let c = self.pick_collection();
        self.write_event(c, out);
        c.name()
    }

    /// Appends the next event of collection `c` (no wrapper) to `out`, for a
    /// stream of one collection only.
    pub fn next_event_of(&mut self, c: Collection, out: &mut String) {
        self.write_event(c, out);
    }
}

// ---------------------------------------------------------------------------
// Random draws: only integer math and exact float products on raw u64 outputs.

impl Generator {
    /// A uniform integer in `[0, n)` (0 when `n` is 0), by multiply-shift.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.rng.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `per_mille / 1000`.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    /// An integer in `[0, n)` skewed toward 0: `floor(n * u^power)`, u uniform.
    fn skewed(&mut self, n: u64, power: u32) -> u64 {
        skew(unit(self.rng.next_u64()), n, power)
    }

    /// A uniform element of `table`.
    fn pick(&mut self, table: &[&'static str]) -> &'static str {
        table[self.below(table.len() as u64) as usize]
    }

    /// An element of `table` drawn by its weight (weights need not sum to anything).
    fn weighted<T: Copy>(&mut self, table: &[(T, u64)]) -> T {
        let total: u64 = table.iter().map(|&(_, w)| w).sum();
        let mut r = self.below(total);
        for &(v, w) in table {
            if r < w {
                return v;
            }
            r -= w;
        }
        table[table.len() - 1].0
    }

    fn pick_collection(&mut self) -> Collection {
        match self.below(100) {
            0..=69 => Collection::Pageviews,
            70..=84 => Collection::Purchases,
            85..=94 => Collection::Signups,
            _ => Collection::Errors,
        }
    }
}

/// A uniform f64 in `[0, 1)` from the top 53 bits of `x`.
fn unit(x: u64) -> f64 {
    (x >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// `floor(n * u^power)`, kept below `n`.
fn skew(u: f64, n: u64, power: u32) -> u64 {
    let mut v = u;
    for _ in 1..power {
        v *= u;
    }
    ((v * n as f64) as u64).min(n.saturating_sub(1))
}

/// splitmix64's finaliser: a fixed, well-mixed hash for per-user and per-item attributes.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

// ---------------------------------------------------------------------------
// Writing: every string is a table entry or digits, all safe ASCII.

fn digits(mut n: u64) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

fn push_u64(out: &mut String, n: u64) {
    push_padded(out, n, 1);
}

/// `n` in decimal, left-padded with zeros to `width` digits.
fn push_padded(out: &mut String, mut n: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let start = i.min(buf.len() - width.min(buf.len()));
    for &b in &buf[start..] {
        out.push(char::from(b));
    }
}

/// `cents` as a JSON number with two decimals: `2550` → `25.50`.
fn push_price(out: &mut String, cents: u64) {
    push_u64(out, cents / 100);
    out.push('.');
    push_padded(out, cents % 100, 2);
}

/// `,"key":"value"`.
fn kv_str(out: &mut String, key: &str, value: &str) {
    out.push_str(",\"");
    out.push_str(key);
    out.push_str("\":\"");
    out.push_str(value);
    out.push('"');
}

/// `,"key":<n>`.
fn kv_u64(out: &mut String, key: &str, n: u64) {
    out.push_str(",\"");
    out.push_str(key);
    out.push_str("\":");
    push_u64(out, n);
}

/// `,"key":true|false`.
fn kv_bool(out: &mut String, key: &str, b: bool) {
    out.push_str(",\"");
    out.push_str(key);
    out.push_str(if b { "\":true" } else { "\":false" });
}

/// `,"key":` (the value follows).
fn key(out: &mut String, key: &str) {
    out.push_str(",\"");
    out.push_str(key);
    out.push_str("\":");
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `ms` (clamped to years 1970–9999) as `YYYY-MM-DDTHH:MM:SS.sssZ`.
fn push_timestamp(out: &mut String, ms: i64) {
    let ms = ms.clamp(0, MAX_MS);
    let (y, mo, d) = civil_from_days(ms.div_euclid(DAY_MS));
    let t = ms.rem_euclid(DAY_MS) as u64;
    push_padded(out, y as u64, 4);
    out.push('-');
    push_padded(out, u64::from(mo), 2);
    out.push('-');
    push_padded(out, u64::from(d), 2);
    out.push('T');
    push_padded(out, t / 3_600_000, 2);
    out.push(':');
    push_padded(out, t / 60_000 % 60, 2);
    out.push(':');
    push_padded(out, t / 1000 % 60, 2);
    out.push('.');
    push_padded(out, t % 1000, 3);
    out.push('Z');
}

// ---------------------------------------------------------------------------
// Events.

impl Generator {
    fn write_event(&mut self, c: Collection, out: &mut String) {
        let ts = self.cfg.start_ms.saturating_add(self.below(self.cfg.span_ms as u64) as i64);
        out.push_str("{\"keen\":{\"timestamp\":\"");
        push_timestamp(out, ts);
        out.push_str("\"}");
        self.write_user(out);
        self.write_device(out);
        match c {
            Collection::Pageviews => self.write_pageview(out),
            Collection::Purchases => self.write_purchase(out),
            Collection::Signups => self.write_signup(out),
            Collection::Errors => self.write_error(out),
        }
        out.push('}');
    }

    /// `user`: id (skewed), and plan and address fixed per user.
    fn write_user(&mut self, out: &mut String) {
        let idx = self.skewed(self.cfg.users, 3);
        let h = mix(self.cfg.seed.wrapping_mul(0xA076_1D64_78BD_642F) ^ idx);
        out.push_str(",\"user\":{\"id\":\"u");
        push_padded(out, idx, self.id_width);
        out.push('"');
        let plan = match h % 100 {
            0..=79 => "free",
            80..=96 => "pro",
            _ => "enterprise",
        };
        kv_str(out, "plan", plan);
        // About 4% of users never shared an address.
        if (h >> 8) % 100 >= 4 {
            let (city, country) = CITIES[skew(unit(mix(h)), CITIES.len() as u64, 2) as usize];
            out.push_str(",\"address\":{\"city\":\"");
            out.push_str(city);
            out.push_str("\",\"country\":\"");
            out.push_str(country);
            out.push_str("\"}");
        }
        out.push('}');
    }

    /// `device`: type, os (sometimes missing), browser.
    fn write_device(&mut self, out: &mut String) {
        let ty = self.weighted(&[("mobile", 55), ("desktop", 37), ("tablet", 8)]);
        let os = match ty {
            "mobile" => self.weighted(&[("Android", 60), ("iOS", 40)]),
            "tablet" => self.weighted(&[("iPadOS", 65), ("Android", 35)]),
            _ => self.weighted(&[("Windows", 62), ("macOS", 28), ("Linux", 6), ("ChromeOS", 4)]),
        };
        let browser = match os {
            "iOS" | "iPadOS" => self.weighted(&[("Safari", 85), ("Chrome", 15)]),
            "macOS" => self.weighted(&[("Safari", 50), ("Chrome", 42), ("Firefox", 8)]),
            _ => self.weighted(&[
                ("Chrome", 70),
                ("Edge", 14),
                ("Firefox", 10),
                ("Samsung Internet", 6),
            ]),
        };
        out.push_str(",\"device\":{\"type\":\"");
        out.push_str(ty);
        out.push('"');
        if !self.chance(30) {
            kv_str(out, "os", os);
        }
        kv_str(out, "browser", browser);
        out.push('}');
    }

    /// `app_version`: a number in most events, a string in about 10%, absent in 3%.
    fn write_app_version(&mut self, out: &mut String) {
        match self.below(100) {
            0..=86 => {
                key(out, "app_version");
                out.push_str(self.weighted(&[
                    ("4.2", 50),
                    ("4.1", 25),
                    ("4", 12),
                    ("3.9", 8),
                    ("5.0", 5),
                ]));
            }
            87..=96 => {
                kv_str(out, "app_version", self.pick(&["4.2.1", "4.3.0-beta", "4.2.2", "5.0.1"]))
            }
            _ => {}
        }
    }

    /// `tags`: a list of 0–3 distinct strings.
    fn write_tags(&mut self, out: &mut String) {
        let n = self.weighted(&[(0u64, 30), (1, 35), (2, 25), (3, 10)]);
        let start = self.below(TAGS.len() as u64) as usize;
        key(out, "tags");
        out.push('[');
        for i in 0..n as usize {
            if i > 0 {
                out.push(',');
            }
            out.push('"');
            out.push_str(TAGS[(start + 7 * i) % TAGS.len()]);
            out.push('"');
        }
        out.push(']');
    }

    /// `referrer`: missing for direct traffic (about 30%).
    fn write_referrer(&mut self, out: &mut String) {
        if self.chance(300) {
            return;
        }
        let idx = self.skewed(REFERRER_COUNT, 5) as usize;
        out.push_str(",\"referrer\":{\"domain\":\"");
        if let Some(d) = REFERRERS.get(idx) {
            out.push_str(d);
        } else {
            out.push_str(REFERRER_PREFIXES[idx % REFERRER_PREFIXES.len()]);
            push_u64(out, idx as u64);
            out.push_str(".example.org");
        }
        out.push_str("\"}");
    }

    /// `,"url":"…"` for page `p`.
    fn push_url(out: &mut String, p: u64) {
        out.push_str("\"url\":\"https://www.example.com/");
        out.push_str(SECTIONS[(p % SECTIONS.len() as u64) as usize]);
        out.push('/');
        out.push_str(ADJECTIVES[(mix(p) % ADJECTIVES.len() as u64) as usize]);
        out.push('-');
        out.push_str(NOUNS[((p / SECTIONS.len() as u64) % NOUNS.len() as u64) as usize]);
        out.push('-');
        push_u64(out, p);
        out.push('"');
    }

    fn write_pageview(&mut self, out: &mut String) {
        let p = self.skewed(self.cfg.pages, 2);
        out.push_str(",\"page\":{");
        Self::push_url(out, p);
        kv_str(out, "section", SECTIONS[(p % SECTIONS.len() as u64) as usize]);
        kv_u64(out, "load_ms", 80 + self.skewed(4_000, 3) + self.below(40));
        out.push('}');
        self.write_referrer(out);
        kv_u64(out, "session_ms", self.skewed(1_800_000, 3) + self.below(1000));
        kv_bool(out, "on_sale", self.chance(150));
        self.write_app_version(out);
        self.write_tags(out);
        match self.below(100) {
            0..=9 => {
                key(out, "experiment");
                out.push_str("null");
            }
            10..=24 => {
                kv_str(out, "experiment", self.pick(&["checkout-v2", "new-nav", "dark-mode"]))
            }
            _ => {}
        }
    }

    fn write_purchase(&mut self, out: &mut String) {
        let i = self.skewed(ITEMS, 2);
        let noun = (i % NOUNS.len() as u64) as usize;
        out.push_str(",\"item\":{\"id\":\"sku-");
        push_padded(out, i, 5);
        out.push_str("\",\"name\":\"");
        out.push_str(ADJECTIVES[(mix(i ^ 0x5EED) % ADJECTIVES.len() as u64) as usize]);
        out.push(' ');
        out.push_str(NOUNS[noun]);
        out.push('"');
        kv_str(out, "category", SECTIONS[noun % SECTIONS.len()]);
        out.push('}');
        let on_sale = self.chance(200);
        let base = 199 + mix(i) % 29_801;
        let cents = if on_sale { base * 80 / 100 } else { base };
        key(out, "price");
        push_price(out, cents);
        kv_u64(out, "quantity", 1 + self.skewed(6, 3));
        kv_bool(out, "on_sale", on_sale);
        kv_str(
            out,
            "currency",
            self.weighted(&[("USD", 60), ("EUR", 25), ("GBP", 10), ("JPY", 5)]),
        );
        let method =
            self.weighted(&[("card", 62), ("paypal", 20), ("apple_pay", 12), ("gift_card", 6)]);
        out.push_str(",\"payment\":{\"method\":\"");
        out.push_str(method);
        out.push('"');
        if method == "card" {
            kv_str(
                out,
                "card_brand",
                self.weighted(&[("visa", 55), ("mastercard", 35), ("amex", 10)]),
            );
        }
        out.push('}');
        match self.below(100) {
            0..=49 => {
                key(out, "coupon");
                out.push_str("null");
            }
            50..=64 => {
                kv_str(out, "coupon", self.pick(&["SPRING10", "WELCOME5", "VIP20", "FREESHIP"]))
            }
            _ => {}
        }
        self.write_app_version(out);
        self.write_tags(out);
    }

    fn write_signup(&mut self, out: &mut String) {
        let method = self.weighted(&[("email", 55), ("google", 30), ("github", 10), ("apple", 5)]);
        out.push_str(",\"signup\":{\"method\":\"");
        out.push_str(method);
        out.push('"');
        kv_bool(out, "newsletter", self.chance(350));
        kv_u64(out, "form_ms", 4_000 + self.skewed(120_000, 2));
        out.push('}');
        self.write_referrer(out);
        if self.chance(400) {
            out.push_str(",\"campaign\":{\"source\":\"");
            out.push_str(self.pick(&["newsletter", "twitter", "adwords", "partner"]));
            out.push('"');
            kv_str(out, "medium", self.pick(&["email", "social", "cpc", "referral"]));
            kv_str(
                out,
                "name",
                self.pick(&["summer-sale", "launch-week", "black-friday", "q2-brand"]),
            );
            out.push('}');
        }
        self.write_app_version(out);
        self.write_tags(out);
    }

    fn write_error(&mut self, out: &mut String) {
        let (kind, code, message) = ERRORS[self.skewed(ERRORS.len() as u64, 2) as usize];
        out.push_str(",\"error\":{\"type\":\"");
        out.push_str(kind);
        out.push('"');
        kv_u64(out, "code", code);
        kv_str(out, "message", message);
        kv_bool(out, "fatal", self.chance(120));
        if self.chance(500) {
            key(out, "stack");
            out.push_str("null");
        } else if self.chance(500) {
            kv_u64(out, "stack_depth", 1 + self.below(40));
        }
        out.push('}');
        let p = self.skewed(self.cfg.pages, 2);
        out.push_str(",\"page\":{");
        Self::push_url(out, p);
        out.push('}');
        kv_u64(out, "session_ms", self.skewed(1_800_000, 3) + self.below(1000));
        self.write_app_version(out);
    }
}

#[cfg(test)]
mod tests;
