#!/usr/bin/env python3
"""Write a Parquet fixture from a JSON description, so binary fixtures stay reviewable.

    python3 scripts/make_parquet.py fixtures/src/liveqa.parquet.json fixtures/raw/liveqa/data/train-00000-of-00001.parquet

The JSON is {"columns": {"name": "string", ...}, "rows": [{"name": value, ...}, ...]}: column
order and Arrow types (string, int64, float64, bool) as the Hugging Face hub file has them; a
missing or null value is a null cell. Needs pyarrow (pip install pyarrow), for generating
fixtures only. Output is deterministic (no timestamps in Parquet metadata).
"""
import json
import sys

import pyarrow as pa
import pyarrow.parquet as pq

spec = json.load(open(sys.argv[1], encoding="utf-8"))
types = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64(), "bool": pa.bool_()}
schema = pa.schema([(name, types[t]) for name, t in spec["columns"].items()])
arrays = [pa.array([row.get(name) for row in spec["rows"]], type=schema.field(name).type) for name in spec["columns"]]
table = pa.Table.from_arrays(arrays, schema=schema)
# The hub serves snappy-compressed files; the project's Parquet reader is built without snappy
# (workspace Cargo.toml: parquet features arrow + zstd), so fixtures are written uncompressed.
pq.write_table(table, sys.argv[2], compression="none")
