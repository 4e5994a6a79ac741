#!/usr/bin/env python3
"""Peer yardstick for queries: DuckDB over the same events as Tally's query
benchmark. Usage: query_duckdb.py EVENTS.jsonl [REPEAT]

EVENTS.jsonl holds bare events (one collection), made by
    cargo run --release -p tally-benches --example query_dataset -- 10000000 42 > events.jsonl
The Tally side is
    tally --data-dir D ingest --collection events --flush events.jsonl
    tally --data-dir D query --file benches/peer/queries.jsonl --time --repeat 20
Each line of queries.sql is the SQL equivalent of the same line of
queries.jsonl. Prints, per query, `name median_ms result`; the table is loaded
into memory first (load time printed separately), so only query time counts.
"""
import os
import statistics
import sys
import time

import duckdb

here = os.path.dirname(os.path.abspath(__file__))
src = sys.argv[1]
repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 20
con = duckdb.connect()
t = time.perf_counter()
con.execute(
    "CREATE TABLE events AS SELECT *, CAST(keen.timestamp AS TIMESTAMP) AS ts FROM read_json(?, "
    "format='newline_delimited', union_by_name=true, maximum_object_size=1000000)",
    [src],
)
n = con.execute("SELECT count(*) FROM events").fetchone()[0]
print(f"load {n} events {time.perf_counter() - t:.1f} s", file=sys.stderr)
names = open(os.path.join(here, "query_names.txt")).read().split()
sqls = [s.strip() for s in open(os.path.join(here, "queries.sql")).read().split(";") if s.strip()]
for name, sql in zip(names, sqls):
    sql = "\n".join(l for l in sql.splitlines() if not l.startswith("--"))
    res = con.execute(sql).fetchall()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        con.execute(sql).fetchall()
        times.append((time.perf_counter() - t) * 1e3)
    shown = res[0][0] if len(res) == 1 and len(res[0]) == 1 else f"{len(res)} rows"
    print(f"{name} {statistics.median(times):.3f} {shown}")
