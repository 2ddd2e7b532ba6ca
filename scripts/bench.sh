#!/usr/bin/env bash
# The benchmarks of docs/benchmarks.md. For each scale: a synthetic raw root (`medsins synth`),
# then a release build of it at 1 and 2 threads under /usr/bin/time -v, with --timings (per-stage
# seconds in stats.json). Prints wall time, samples/s, raw MB/s, peak RSS and the stage seconds,
# and checks that the -j1 and -j2 outputs are byte-identical (every file but stats.json, whose
# timings differ by design). With TOKENIZER=1, also trains a tokenizer on the raw root and
# measures a --tokenizer build at 2 threads. Large data goes to $BENCH_DIR (default
# /tmp/medsins-bench), never into the repository; scale 1.0 needs ≈ 12 GB for the raw root and
# ≈ 5 GB per output.
#   scripts/bench.sh [SCALE ...]                  (default: 0.1 1.0)
#   JOBS="2" KEEP_RAW=1 TOKENIZER=1 scripts/bench.sh 0.1
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-/tmp/medsins-bench}
JOBS=${JOBS:-1 2}
if [ $# -eq 0 ]; then SCALES=(0.1 1.0); else SCALES=("$@"); fi
mkdir -p "$BENCH_DIR"
cargo build --release -p medsins-cli
BIN=target/release/medsins
echo "machine: $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "date: $(date -u +%FT%TZ)  commit: $(git rev-parse --short=12 HEAD)$(git diff --quiet || echo ' (+ uncommitted changes)')"

report() { # time-file stats-json raw-mb
  python3 - "$@" <<'PY'
import json, sys
time_file, stats_file, raw_mb = sys.argv[1], sys.argv[2], float(sys.argv[3])
t = {}
for line in open(time_file):
    k, _, v = line.strip().rpartition(': ')
    t[k] = v
wall = sum(float(x) * 60 ** i for i, x in enumerate(reversed(t['Elapsed (wall clock) time (h:mm:ss or m:ss)'].split(':'))))
cpu = float(t['User time (seconds)']) + float(t['System time (seconds)'])
rss = int(t['Maximum resident set size (kbytes)']) / 1024 / 1024
s = json.load(open(stats_file))
n = s['samples']
print(f"  wall {wall:.1f} s (cpu {cpu:.1f} s), peak RSS {rss:.2f} GiB, {n:,} samples ({n / wall:,.0f}/s), "
      f"raw input {raw_mb:,.0f} MB ({raw_mb / wall:.1f} MB/s)")
stages = s['timings']['stages']
print("  stage seconds:", ", ".join(f"{k} {v:.1f}" for k, v in stages.items()))
top = sorted(s['timings']['per_task'].items(), key=lambda kv: -sum(kv[1].values()))[:5]
print("  costliest tasks (cpu-s):", ", ".join(f"{k} {sum(v.values()):.1f}" for k, v in top))
PY
}

same_output() { # dir-a dir-b: equal checksums of every file but stats.json
  cmp -s <(grep -v ' stats.json$' "$1/SHA256SUMS") <(grep -v ' stats.json$' "$2/SHA256SUMS")
}

for s in "${SCALES[@]}"; do
  raw="$BENCH_DIR/raw-$s"
  echo "== scale $s"
  if [ -z "${KEEP_RAW:-}" ] || [ ! -d "$raw" ]; then
    rm -rf "$raw"
    /usr/bin/time -v -o "$BENCH_DIR/synth-$s.time" "$BIN" synth --scale "$s" --seed 0 --out "$raw" | tail -1
    echo "  synth: $(grep 'Elapsed (wall clock)' "$BENCH_DIR/synth-$s.time" | awk '{print $NF}') wall, peak RSS $(grep 'Maximum resident' "$BENCH_DIR/synth-$s.time" | awk '{print $NF}') kB"
  fi
  raw_mb=$(du -sm "$raw" | cut -f1)
  for j in $JOBS; do
    out="$BENCH_DIR/out-$s-j$j"
    # exit 1 = a failing semantic check or corpus: still measured, the report says which
    /usr/bin/time -v -o "$BENCH_DIR/build-$s-j$j.time" "$BIN" build --raw-root "$raw" --skip-checksums --out "$out" \
      --jobs "$j" --timings --format json > "$BENCH_DIR/build-$s-j$j.json" || true
    echo " build --jobs $j:"
    report "$BENCH_DIR/build-$s-j$j.time" "$out/stats.json" "$raw_mb"
  done
  if [ -d "$BENCH_DIR/out-$s-j1" ] && [ -d "$BENCH_DIR/out-$s-j2" ]; then
    if same_output "$BENCH_DIR/out-$s-j1" "$BENCH_DIR/out-$s-j2"; then
      echo "  -j1 and -j2 outputs: byte-identical (all files but stats.json)"
    else
      echo "  -j1 and -j2 outputs DIFFER"
    fi
  fi
  if [ -n "${TOKENIZER:-}" ]; then
    tok="$BENCH_DIR/tokenizer.json"
    # trained on the first 20 MB of the raw root's discharge notes: nothing downloaded
    head -c 20000000 "$raw"/mimic-iv-discharge/note/discharge.csv > "$BENCH_DIR/tokenizer-text.txt" || true
    cargo run --release -q -p medsins-pipeline --example train_tokenizer -- --vocab 16000 --out "$tok" \
      "$BENCH_DIR/tokenizer-text.txt" | tail -1
    out="$BENCH_DIR/out-$s-tok"
    /usr/bin/time -v -o "$BENCH_DIR/build-$s-tok.time" "$BIN" build --raw-root "$raw" --skip-checksums --out "$out" \
      --jobs 2 --timings --tokenizer "$tok" --format json > "$BENCH_DIR/build-$s-tok.json" || true
    echo " build --jobs 2 --tokenizer:"
    report "$BENCH_DIR/build-$s-tok.time" "$out/stats.json" "$raw_mb"
  fi
done
