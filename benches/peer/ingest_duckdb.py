#!/usr/bin/env python3
"""Peer yardstick for NDJSON ingest: DuckDB's read_json into a persistent
table (durable after CHECKPOINT). Usage: ingest_duckdb.py FILE.jsonl DBFILE

The Tally side of the comparison is
    tally --data-dir DIR ingest --flush FILE.jsonl
(events durable, sealed into Parquet segments and indexed when it returns).
Time both whole processes, e.g. with `/usr/bin/time -v` or hyperfine.
"""
import os
import sys

import duckdb

src, db = sys.argv[1], sys.argv[2]
if os.path.exists(db):
    os.remove(db)
con = duckdb.connect(db)
con.execute(
    "CREATE TABLE events AS SELECT * FROM read_json(?, format='newline_delimited', "
    "union_by_name=true, maximum_object_size=1000000)",
    [src],
)
con.execute("CHECKPOINT")
n = con.execute("SELECT count(*) FROM events").fetchone()[0]
print(n)
