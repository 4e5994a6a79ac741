//! `tally`: the command-line tool for a Tally data directory.
//!
//! Exit codes: 0 ok, 1 failed, 2 bad usage, 3 some events rejected (the
//! rest stored).

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// jemalloc: queries that build large results (50k groups) and ingest
/// allocate and free many small objects; glibc's malloc spent a fifth of
/// such a query consolidating and unlinking chunks.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
use serde_json::json;
use tally::{ApiKey, Clock as _, Engine, Error, KeyedProject, NdjsonOptions, Response};

/// Tally: an embedded, Keen-compatible event analytics engine.
#[derive(Debug, Parser)]
#[command(name = "tally", version, about)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Global {
    /// Data directory (default: $TALLY_DATA_DIR, else ./tally-data).
    #[arg(long, global = true, env = "TALLY_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Project id (created on first use).
    #[arg(long, global = true, default_value = "default")]
    project: String,
    /// Act as this API key (default: the project's master key, as a local operator).
    #[arg(long, global = true)]
    key: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Record events from an NDJSON file (or `-` for stdin).
    Ingest(IngestArgs),
    /// Print collection schemas in Keen's shape.
    Schema {
        /// Only this collection.
        #[arg(long)]
        collection: Option<String>,
    },
    /// Create or show projects.
    #[command(subcommand)]
    Project(ProjectCmd),
    /// Run Keen queries (keen-semantics §2): print each response body.
    Query(QueryArgs),
    /// Manage access keys (keen-semantics §8.5; master key only).
    #[command(subcommand)]
    Keys(KeysCmd),
    /// The organization key and its projects (keen-semantics §9.7).
    #[command(subcommand)]
    Org(OrgCmd),
    /// Saved and cached queries (keen-semantics §9.1–9.2).
    #[command(subcommand)]
    Saved(SavedCmd),
    /// Cached datasets (keen-semantics §9.3).
    #[command(subcommand)]
    Datasets(DatasetsCmd),
    /// Delete events, a property or a collection (keen-semantics §9.6;
    /// master only).
    #[command(subcommand)]
    Delete(DeleteCmd),
    /// Generate a seeded sample, ingest it and run representative queries.
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
struct QueryArgs {
    /// A query object: Keen's POST body plus an `analysis_type` member.
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    query: Option<String>,
    /// A JSON Lines file of query objects; prints one line per query, in order.
    #[arg(long)]
    file: Option<PathBuf>,
    /// "Now" for relative timeframes (ISO-8601; without a zone, UTC).
    #[arg(long, value_name = "ISO")]
    now: Option<String>,
    /// Print `time_ms <line> <ms>` per query to stderr (the median with --repeat).
    #[arg(long)]
    time: bool,
    /// Run each query N times and print its result once.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,
}

#[derive(Debug, Args)]
struct IngestArgs {
    /// NDJSON input file, or `-` for standard input.
    file: String,
    /// Each line is a bare event for this collection.
    #[arg(long)]
    collection: Option<String>,
    /// The input is one Keen batch document; print Keen's per-event answer.
    #[arg(long, conflicts_with = "collection")]
    batch: bool,
    /// Sanitise collection names like the Airbyte destination (keen-semantics §11.2).
    #[arg(long)]
    sanitize_collection_names: bool,
    /// Infer keen.timestamp from this property when events lack one (§11.3).
    #[arg(long, value_name = "PROPERTY")]
    infer_timestamp: Option<String>,
    /// Seal every collection's head into segments after ingesting.
    #[arg(long)]
    flush: bool,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Number of events to generate.
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Generator seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

#[derive(Debug, Subcommand)]
enum DeleteCmd {
    /// Delete the events of COLLECTION that match --filters within
    /// --timeframe (in --timezone); with neither filters nor a timeframe,
    /// the whole collection. Prints `{"deleted": N}`.
    Events {
        /// The collection.
        collection: String,
        /// A JSON list of Keen filters.
        #[arg(long)]
        filters: Option<String>,
        /// A relative timeframe, or an absolute one as JSON.
        #[arg(long)]
        timeframe: Option<String>,
        /// A timezone name or offset for relative timeframes.
        #[arg(long)]
        timezone: Option<String>,
        /// "Now" for relative timeframes (ISO-8601; without a zone, UTC).
        #[arg(long, value_name = "ISO")]
        now: Option<String>,
    },
    /// Delete a whole collection: events, schema, uniqueness tokens.
    /// Prints `{"deleted": N}`.
    Collection {
        /// The collection.
        collection: String,
    },
    /// Delete PROPERTY (every type, and every property below it) from
    /// every event of COLLECTION and from its schema.
    Property {
        /// The collection.
        collection: String,
        /// The property's dotted path.
        property: String,
    },
}

#[derive(Debug, Subcommand)]
enum DatasetsCmd {
    /// Create or replace a dataset from `{"display_name", "query",
    /// "index_by"}`; prints the definition (master only).
    Put {
        /// The dataset's name.
        name: String,
        /// The definition.
        #[arg(long)]
        json: String,
    },
    /// A page of datasets, by name.
    List {
        /// Page size, 1–100 (default 10).
        #[arg(long)]
        limit: Option<u64>,
        /// Start after this name.
        #[arg(long)]
        after_name: Option<String>,
    },
    /// Show one definition.
    Get {
        /// The dataset's name.
        name: String,
    },
    /// Dataset results for one index value (JSON: a plain value, or an
    /// object with a value for every index path) over a timeframe.
    Results {
        /// The dataset's name.
        name: String,
        /// The index value(s), as JSON.
        #[arg(long)]
        index_by: String,
        /// A relative timeframe, or an absolute one as JSON.
        #[arg(long)]
        timeframe: String,
    },
    /// Delete a dataset (master only).
    Delete {
        /// The dataset's name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum SavedCmd {
    /// Create or replace a saved query from `{"query", "refresh_rate",
    /// "metadata", "query_name"}`; prints the definition (master only).
    Put {
        /// The saved query's name.
        name: String,
        /// The definition.
        #[arg(long)]
        json: String,
    },
    /// List saved-query definitions (master only).
    List,
    /// Show one definition (master only).
    Get {
        /// The saved query's name.
        name: String,
    },
    /// Print the definition with its result, computed now or (cached
    /// queries) served from a cache at most `refresh_rate` seconds old.
    Result {
        /// The saved query's name.
        name: String,
    },
    /// Delete a saved query (master only).
    Delete {
        /// The saved query's name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum OrgCmd {
    /// Create the data directory's organization; prints its id and key
    /// (shown only here). Local operator only.
    Create,
    /// Replace the organization key; prints the new key (shown only here).
    /// Local operator only.
    RegenerateKey,
    /// List projects (with `--key`, the organization key).
    Projects,
    /// Create a project from `{"name", "users"}`; prints it with its
    /// `api_keys`, the only time they are shown.
    AddProject {
        /// The project body.
        #[arg(long)]
        json: String,
    },
    /// Show one project.
    GetProject {
        /// The project id.
        #[arg(value_name = "PROJECT")]
        id: String,
    },
    /// Update a project's `name` and/or `users`.
    UpdateProject {
        /// The project id.
        #[arg(value_name = "PROJECT")]
        id: String,
        /// Members to replace: name, users.
        #[arg(long)]
        json: String,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCmd {
    /// Create an access key from its JSON definition; prints the key JSON,
    /// the only time the key itself is shown.
    Create {
        /// The definition: name, is_active, permitted, options.
        #[arg(long)]
        json: String,
    },
    /// List access keys (`"key": null`, `key_prefix` shown).
    List,
    /// Show one access key (by its text or its 8-character prefix).
    Get {
        /// The key or its 8-character prefix.
        #[arg(value_name = "KEY")]
        selector: String,
    },
    /// Update an access key: members sent replace the stored ones.
    Update {
        /// The key or its 8-character prefix.
        #[arg(value_name = "KEY")]
        selector: String,
        /// Members to replace: name, is_active, permitted, options.
        #[arg(long)]
        json: String,
    },
    /// Revoke an access key (refused like an unknown key from then on).
    Revoke {
        /// The key or its 8-character prefix.
        #[arg(value_name = "KEY")]
        selector: String,
    },
    /// Reactivate a revoked access key.
    Unrevoke {
        /// The key or its 8-character prefix.
        #[arg(value_name = "KEY")]
        selector: String,
    },
    /// Delete an access key for good.
    Delete {
        /// The key or its 8-character prefix.
        #[arg(value_name = "KEY")]
        selector: String,
    },
}

#[derive(Debug, Subcommand)]
enum ProjectCmd {
    /// Create a project; prints its id and keys (shown only here).
    Create {
        /// The project's name.
        name: String,
    },
    /// Show the current project (`--project`).
    Show,
}

/// A failure with its exit code.
struct Fail {
    code: u8,
    error: Error,
}

impl From<Error> for Fail {
    fn from(error: Error) -> Self {
        Fail { code: 1, error }
    }
}

fn print_json(v: &impl serde::Serialize) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer(&mut out, v);
    let _ = writeln!(out);
}

impl Global {
    fn data_dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(|| PathBuf::from(tally::DEFAULT_DATA_DIR))
    }
}

fn open_engine(g: &Global) -> Result<Engine, Error> {
    Engine::builder().with_data_dir(g.data_dir()).open()
}

/// The project named by `--project` as the caller sees it: with `--key`,
/// through that key (the project must exist; every command is then checked
/// exactly as the library checks it); without, as the local operator
/// (master), the project created on first use.
fn project(engine: &Engine, g: &Global) -> Result<KeyedProject, Error> {
    if let Some(key) = &g.key {
        // An unknown project answers like an unknown key.
        let p = engine.project(&g.project).map_err(|_| Error::InvalidApiKey)?;
        return p.with_key(&ApiKey::from_text(key));
    }
    let (p, keys) = engine.project_or_create(&g.project)?;
    if let Some(k) = keys {
        eprintln!(
            "{}",
            json!({"created_project": p.id(), "keys": {"master": k.master.expose(), "write": k.write.expose(), "read": k.read.expose()}})
        );
    }
    Ok(p.as_operator())
}

fn parse_json_arg(flag: &str, text: &str) -> Result<serde_json::Value, Error> {
    serde_json::from_str(text).map_err(|e| Error::InvalidParameter {
        name: flag.into(),
        reason: format!("not JSON: {e}"),
    })
}

fn org(g: &Global, cmd: &OrgCmd) -> Result<u8, Fail> {
    let engine = open_engine(g)?;
    let operator_only = || match &g.key {
        Some(_) => Err(Error::AdminOnly),
        None => Ok(()),
    };
    let shown = |(id, key): (String, ApiKey)| json!({"organization_id": id, "key": key.expose()});
    let o = match &g.key {
        Some(k) => engine.organization(&ApiKey::from_text(k))?,
        None => engine.organization_as_operator(),
    };
    match cmd {
        OrgCmd::Create => {
            operator_only()?;
            print_json(&shown(engine.create_organization()?));
        }
        OrgCmd::RegenerateKey => {
            operator_only()?;
            print_json(&shown(engine.regenerate_organization_key()?));
        }
        OrgCmd::Projects => print_json(&o.projects()?),
        OrgCmd::AddProject { json } => {
            print_json(&o.create_project(&parse_json_arg("--json", json)?)?)
        }
        OrgCmd::GetProject { id } => print_json(&o.project(id)?),
        OrgCmd::UpdateProject { id, json } => {
            print_json(&o.update_project(id, &parse_json_arg("--json", json)?)?)
        }
    }
    Ok(0)
}

fn datasets(g: &Global, cmd: &DatasetsCmd) -> Result<u8, Fail> {
    let engine = open_engine(g)?;
    let p = project(&engine, g)?;
    match cmd {
        DatasetsCmd::Put { name, json } => {
            print_json(&p.put_dataset(name, &parse_json_arg("--json", json)?)?.1)
        }
        DatasetsCmd::List { limit, after_name } => {
            print_json(&p.datasets(*limit, after_name.as_deref())?)
        }
        DatasetsCmd::Get { name } => print_json(&p.dataset(name)?),
        DatasetsCmd::Results { name, index_by, timeframe } => {
            print_json(&p.dataset_results(name, &loose_json(index_by), &loose_json(timeframe))?)
        }
        DatasetsCmd::Delete { name } => p.delete_dataset(name)?,
    }
    Ok(0)
}

fn saved(g: &Global, cmd: &SavedCmd) -> Result<u8, Fail> {
    let engine = open_engine(g)?;
    let p = project(&engine, g)?;
    match cmd {
        SavedCmd::Put { name, json } => {
            print_json(&p.put_saved_query(name, &parse_json_arg("--json", json)?)?.1)
        }
        SavedCmd::List => print_json(&p.saved_query_list()?),
        SavedCmd::Get { name } => print_json(&p.saved_query(name)?),
        SavedCmd::Result { name } => print_json(&p.saved_query_result(name)?),
        SavedCmd::Delete { name } => p.delete_saved_query(name)?,
    }
    Ok(0)
}

fn keys(g: &Global, cmd: &KeysCmd) -> Result<u8, Fail> {
    let engine = open_engine(g)?;
    let p = project(&engine, g)?;
    match cmd {
        KeysCmd::Create { json } => {
            print_json(&p.create_access_key(&parse_json_arg("--json", json)?)?)
        }
        KeysCmd::List => print_json(&p.access_keys()?),
        KeysCmd::Get { selector: key } => print_json(&p.access_key(key)?),
        KeysCmd::Update { selector: key, json } => {
            print_json(&p.update_access_key(key, &parse_json_arg("--json", json)?)?)
        }
        KeysCmd::Revoke { selector: key } => print_json(&p.revoke_access_key(key)?),
        KeysCmd::Unrevoke { selector: key } => print_json(&p.unrevoke_access_key(key)?),
        KeysCmd::Delete { selector: key } => p.delete_access_key(key)?,
    }
    Ok(0)
}

fn run(cli: Cli) -> Result<u8, Fail> {
    let g = &cli.global;
    match &cli.command {
        Command::Ingest(a) => ingest(g, a),
        Command::Schema { collection } => {
            let engine = open_engine(g)?;
            let p = project(&engine, g)?;
            match collection {
                Some(c) => print_json(&p.collection_schema(c)?),
                None => print_json(&p.schema()?),
            }
            Ok(0)
        }
        Command::Project(ProjectCmd::Create { name }) => {
            let engine = open_engine(g)?;
            let (p, k) = engine.create_project(name)?;
            print_json(&json!({
                "id": p.id(),
                "name": p.name(),
                "keys": {"master": k.master.expose(), "write": k.write.expose(), "read": k.read.expose()},
            }));
            Ok(0)
        }
        Command::Project(ProjectCmd::Show) => {
            let engine = open_engine(g)?;
            let p = match &g.key {
                Some(_) => project(&engine, g)?,
                None => engine.project(&g.project)?.as_operator(),
            };
            print_json(&p.describe()?);
            Ok(0)
        }
        Command::Query(a) => query(g, a),
        Command::Keys(cmd) => keys(g, cmd),
        Command::Org(cmd) => org(g, cmd),
        Command::Saved(cmd) => saved(g, cmd),
        Command::Datasets(cmd) => datasets(g, cmd),
        Command::Delete(cmd) => delete(g, cmd),
        Command::Demo(a) => demo(g, a),
    }
}

/// Prints one query response (JSON on one line, or CSV as is).
fn print_response(r: &Response) {
    match r {
        Response::Json(v) => print_json(v),
        Response::JsonText(text) => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = writeln!(out);
        }
        Response::Csv(text) => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            if !text.ends_with('\n') {
                let _ = writeln!(out);
            }
        }
    }
}

/// Runs `body` `repeat` times; returns the last answer and the median time.
fn run_query(
    p: &KeyedProject,
    body: &str,
    now_ms: i64,
    repeat: u32,
) -> (Result<Response, Error>, f64) {
    let mut times = Vec::with_capacity(repeat as usize);
    let mut last = None;
    for _ in 0..repeat {
        let t = std::time::Instant::now();
        let r =
            tally::parse_query_str(body).map_err(Error::from).and_then(|q| p.query_at(&q, now_ms));
        times.push(t.elapsed().as_secs_f64() * 1e3);
        last = Some(r);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    (
        last.unwrap_or_else(|| {
            Err(Error::InvalidParameter {
                name: "repeat".into(),
                reason: "must be at least 1".into(),
            })
        }),
        median,
    )
}

/// `--now` as Unix ms (the system clock when absent); a bad value is
/// bad usage.
fn now_arg(now: Option<&str>) -> Result<i64, Fail> {
    match now {
        Some(s) => tally_ingest::parse_timestamp(s).ok_or_else(|| Fail {
            code: 2,
            error: Error::InvalidParameter {
                name: "--now".into(),
                reason: format!("not an ISO-8601 date-time: {s:?}"),
            },
        }),
        None => Ok(tally_ingest::SystemClock.now_ms()),
    }
}

/// A value that is not JSON is taken as a string (`--index-by A`,
/// `--timeframe this_7_days`, `--timezone Europe/Paris`).
fn loose_json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_string()))
}

fn delete(g: &Global, cmd: &DeleteCmd) -> Result<u8, Fail> {
    let engine = open_engine(g)?;
    let p = project(&engine, g)?;
    match cmd {
        DeleteCmd::Events { collection, filters, timeframe, timezone, now } => {
            let now_ms = now_arg(now.as_deref())?;
            let mut params = serde_json::Map::new();
            if let Some(f) = filters {
                params.insert("filters".into(), parse_json_arg("--filters", f)?);
            }
            if let Some(t) = timeframe {
                params.insert("timeframe".into(), loose_json(t));
            }
            if let Some(z) = timezone {
                params.insert("timezone".into(), loose_json(z));
            }
            let n = p.delete_events_at(collection, &serde_json::Value::Object(params), now_ms)?;
            print_json(&json!({ "deleted": n }));
        }
        DeleteCmd::Collection { collection } => {
            print_json(&json!({ "deleted": p.delete_collection(collection)? }));
        }
        DeleteCmd::Property { collection, property } => p.delete_property(collection, property)?,
    }
    Ok(0)
}

fn query(g: &Global, a: &QueryArgs) -> Result<u8, Fail> {
    let now_ms = now_arg(a.now.as_deref())?;
    let engine = open_engine(g)?;
    let p = project(&engine, g)?;
    let lines: Vec<(usize, String)> = match (&a.query, &a.file) {
        (Some(q), _) => vec![(1, q.clone())],
        (None, Some(f)) => {
            let text = std::fs::read_to_string(f).map_err(|e| Fail {
                code: 1,
                error: Error::Io { path: f.display().to_string(), source: e },
            })?;
            text.lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(i, l)| (i + 1, l.to_string()))
                .collect()
        }
        (None, None) => Vec::new(),
    };
    let mut ok = true;
    for (line, body) in &lines {
        let (r, ms) = run_query(&p, body, now_ms, a.repeat);
        match r {
            Ok(resp) => print_response(&resp),
            Err(e) => {
                ok = false;
                print_json(&e.to_json());
            }
        }
        if a.time {
            eprintln!("time_ms {line} {ms:.3}");
        }
    }
    Ok(if ok { 0 } else { 1 })
}

fn progress_bar(total: Option<u64>) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = match total {
        Some(t) => indicatif::ProgressBar::new(t),
        None => indicatif::ProgressBar::new_spinner(),
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {bytes}/{total_bytes} {bytes_per_sec} {wide_bar} {eta}",
    ) {
        bar.set_style(style);
    }
    Some(bar)
}

fn ingest(g: &Global, a: &IngestArgs) -> Result<u8, Fail> {
    let engine = open_engine(g)?;
    let p = project(&engine, g)?;
    let (reader, total): (Box<dyn Read>, Option<u64>) = if a.file == "-" {
        (Box::new(std::io::stdin().lock()), None)
    } else {
        let f = std::fs::File::open(&a.file)
            .map_err(|e| Fail { code: 1, error: Error::Io { path: a.file.clone(), source: e } })?;
        let len = f.metadata().ok().map(|m| m.len());
        (Box::new(f), len)
    };
    if a.batch {
        let mut body = Vec::new();
        let mut reader = reader;
        reader
            .read_to_end(&mut body)
            .map_err(|e| Fail { code: 1, error: Error::Io { path: a.file.clone(), source: e } })?;
        let resp = p.record_batch(&body)?;
        if a.flush {
            p.flush()?;
        }
        print_json(&resp);
        return Ok(if resp.failed() > 0 { 3 } else { 0 });
    }
    let opts = NdjsonOptions {
        collection: a.collection.clone(),
        sanitize_collection_names: a.sanitize_collection_names,
        infer_timestamp_from: a.infer_timestamp.clone(),
    };
    let bar = progress_bar(total);
    let summary = p.ingest_ndjson(reader, &opts, &mut |n| {
        if let Some(b) = &bar {
            b.set_position(n);
        }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if a.flush {
        p.flush()?;
    }
    print_json(&summary);
    Ok(if summary.rejected > 0 { 3 } else { 0 })
}

/// "Now" of the demo: 2024-03-31T00:00:00Z, the end of the generator's window
/// (90 days from 2024-01-01), so `previous_90_days` is the whole sample.
const DEMO_NOW_MS: i64 = 1_711_843_200_000;

/// The demo's representative queries, one per kind of analysis.
const DEMO_QUERIES: &[&str] = &[
    r#"{"analysis_type": "count", "event_collection": "pageviews", "timeframe": "previous_90_days"}"#,
    r#"{"analysis_type": "count", "event_collection": "pageviews", "timeframe": "previous_90_days", "filters": [{"property_name": "device.type", "operator": "eq", "property_value": "mobile"}]}"#,
    r#"{"analysis_type": "count", "event_collection": "pageviews", "timeframe": "previous_90_days", "filters": [{"property_name": "user.plan", "operator": "in", "property_value": ["pro", "enterprise"]}, {"property_name": "referrer.domain", "operator": "exists", "property_value": true}, {"property_name": "on_sale", "operator": "eq", "property_value": false}]}"#,
    r#"{"analysis_type": "count_unique", "event_collection": "pageviews", "target_property": "user.id", "timeframe": "previous_90_days"}"#,
    r#"{"analysis_type": "sum", "event_collection": "purchases", "target_property": "price", "timeframe": "previous_90_days", "group_by": "currency"}"#,
    r#"{"analysis_type": "average", "event_collection": "purchases", "target_property": "price", "timeframe": "previous_90_days", "filters": [{"property_name": "on_sale", "operator": "eq", "property_value": true}]}"#,
    r#"{"analysis_type": "median", "event_collection": "pageviews", "target_property": "session_ms", "timeframe": "previous_90_days"}"#,
    r#"{"analysis_type": "percentile", "percentile": 95, "event_collection": "pageviews", "target_property": "page.load_ms", "timeframe": "previous_90_days"}"#,
    r#"{"analysis_type": "count", "event_collection": "pageviews", "timeframe": "previous_90_days", "group_by": "referrer.domain", "filters": [{"property_name": "referrer.domain", "operator": "ne", "property_value": "google.com"}, {"property_name": "referrer.domain", "operator": "exists", "property_value": true}], "order_by": {"property_name": "result", "direction": "DESC"}, "limit": 5}"#,
    r#"{"analysis_type": "count", "event_collection": "signups", "timeframe": "previous_7_days", "interval": "daily", "timezone": "US/Pacific"}"#,
    r#"{"analysis_type": "select_unique", "event_collection": "purchases", "target_property": "payment.method", "timeframe": "previous_90_days"}"#,
    r#"{"analysis_type": "multi_analysis", "event_collection": "purchases", "timeframe": "previous_90_days", "group_by": "device.type", "analyses": {"revenue": {"analysis_type": "sum", "target_property": "price"}, "buyers": {"analysis_type": "count_unique", "target_property": "user.id"}}}"#,
    r#"{"analysis_type": "funnel", "timeframe": "previous_90_days", "steps": [{"event_collection": "signups", "actor_property": "user.id"}, {"event_collection": "pageviews", "actor_property": "user.id"}, {"event_collection": "purchases", "actor_property": "user.id"}]}"#,
    r#"{"analysis_type": "extraction", "event_collection": "purchases", "timeframe": "previous_90_days", "latest": 2, "property_names": ["keen.timestamp", "item.name", "price"]}"#,
];

fn demo(g: &Global, a: &DemoArgs) -> Result<u8, Fail> {
    // Without --data-dir the demo works in a temporary directory that is
    // removed at the end (`tmp` drops last).
    let tmp = match &g.data_dir {
        Some(_) => None,
        None => Some(tempfile::Builder::new().prefix("tally-demo-").tempdir().map_err(|e| {
            Fail { code: 1, error: Error::Io { path: "temporary directory".into(), source: e } }
        })?),
    };
    let data_dir = match (&g.data_dir, &tmp) {
        (Some(d), _) => d.clone(),
        (None, Some(t)) => t.path().to_path_buf(),
        (None, None) => PathBuf::from(tally::DEFAULT_DATA_DIR),
    };
    let engine = Engine::builder().with_data_dir(&data_dir).open()?;
    let (p, _) = engine.project_or_create(&g.project)?;
    let operator = p.as_operator();
    eprintln!(
        "tally demo: generating {} events (seed {}) into {}",
        a.events,
        a.seed,
        data_dir.display()
    );
    let mut gen = tally_ingest::Generator::new(tally_ingest::GeneratorConfig {
        seed: a.seed,
        ..Default::default()
    });
    let mut buf = Vec::with_capacity(a.events * 420);
    gen.write_lines(a.events, &mut buf)
        .map_err(|e| Fail { code: 1, error: Error::Io { path: "generator".into(), source: e } })?;
    let bar = progress_bar(Some(buf.len() as u64));
    let t = std::time::Instant::now();
    let summary = p.ingest_ndjson(&buf[..], &NdjsonOptions::default(), &mut |n| {
        if let Some(b) = &bar {
            b.set_position(n);
        }
    })?;
    p.flush()?;
    let secs = t.elapsed().as_secs_f64();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    println!(
        "ingested {} events ({} rejected) in {:.2} s: {:.0} events/s, durable and sealed",
        summary.accepted,
        summary.rejected,
        secs,
        summary.accepted as f64 / secs.max(1e-9)
    );
    for c in p.schema() {
        let rows = p.snapshot(&c.name).map(|s| s.rows()).unwrap_or(0);
        println!("collection {:?}: {} events, {} properties", c.name, rows, c.properties.len());
    }
    // The generator spreads events over the 90 days from 2024-01-01, so
    // "now" is fixed at the end of that window for the relative timeframes.
    let now_ms = DEMO_NOW_MS;
    println!("\nqueries (now = 2024-03-31T00:00:00.000Z):");
    let mut failed = 0;
    for q in DEMO_QUERIES {
        let (r, ms) = run_query(&operator, q, now_ms, 1);
        println!("\n> {q}");
        match r {
            Ok(resp) => print_response(&resp),
            Err(e) => {
                failed += 1;
                print_json(&e.to_json());
            }
        }
        println!("  ({ms:.2} ms)");
    }
    if failed > 0 {
        return Ok(1);
    }
    Ok(0)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            print_json(&f.error.to_json());
            eprintln!("tally: {}", f.error);
            ExitCode::from(f.code)
        }
    }
}
