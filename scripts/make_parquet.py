#!/usr/bin/env python3
"""Write a Parquet fixture from a JSON description, so binary fixtures stay reviewable.

    python3 scripts/make_parquet.py fixtures/src/liveqa.parquet.json fixtures/raw/liveqa/data/train-00000-of-00001.parquet

The JSON is {"columns": {"name": "string", ...}, "rows": [{"name": value, ...}, ...]}: column
order and Arrow types (string, int32, int64, float64, bool, or nested: {"list": <type>},
{"struct": {"field": <type>, ...}}) as the Hugging Face hub file has them; a missing or null
value is a null cell. Needs pyarrow (pip install pyarrow), for generating
fixtures only. Output is deterministic (no timestamps in Parquet metadata).
"""
import json
import sys

import pyarrow as pa
import pyarrow.parquet as pq

spec = json.load(open(sys.argv[1], encoding="utf-8"))
FLAT = {"string": pa.string(), "int32": pa.int32(), "int64": pa.int64(), "float64": pa.float64(), "bool": pa.bool_()}


def arrow_type(t):
    if isinstance(t, str):
        return FLAT[t]
    if "list" in t:
        return pa.list_(arrow_type(t["list"]))
    return pa.struct([(name, arrow_type(f)) for name, f in t["struct"].items()])


schema = pa.schema([(name, arrow_type(t)) for name, t in spec["columns"].items()])
arrays = [pa.array([row.get(name) for row in spec["rows"]], type=schema.field(name).type) for name in spec["columns"]]
table = pa.Table.from_arrays(arrays, schema=schema)
# The hub serves snappy-compressed files; the project's Parquet reader is built without snappy
# (workspace Cargo.toml: parquet features arrow + zstd), so fixtures are written uncompressed.
pq.write_table(table, sys.argv[2], compression="none")
