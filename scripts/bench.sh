#!/usr/bin/env bash
# Benchmarks of docs/benchmarks.md: synthetic raw roots at the given scales, then a release
# build of each at 1 and 2 threads, under /usr/bin/time -v. Large data goes to $BENCH_DIR
# (default /tmp/medsins-bench), never into the repository.
#   scripts/bench.sh [SCALE ...]        (default: 0.1)
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-/tmp/medsins-bench}
SCALES=("${@:-0.1}")
mkdir -p "$BENCH_DIR"
cargo build --release -p medsins-cli
BIN=target/release/medsins
echo "machine: $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB"
echo "date: $(date -u +%FT%TZ)  commit: $(git rev-parse HEAD)"
summary() { # time-file report-json
  local wall rss
  wall=$(grep 'Elapsed (wall clock)' "$1" | awk '{print $NF}')
  rss=$(grep 'Maximum resident set size' "$1" | awk '{print $NF}')
  python3 - "$2" "$wall" "$rss" "$3" <<'PY'
import json, sys
rep = json.load(open(sys.argv[1])); wall = sys.argv[2]; rss_kb = int(sys.argv[3]); raw_mb = float(sys.argv[4])
p = [float(x) for x in wall.split(':')]; secs = sum(v * 60 ** i for i, v in enumerate(reversed(p)))
print(f"  wall {secs:.1f} s, peak RSS {rss_kb/1024/1024:.2f} GiB, {rep['samples']} samples "
      f"({rep['samples']/secs:,.0f}/s), raw input {raw_mb:.0f} MB ({raw_mb/secs:.1f} MB/s)")
print("  stage seconds:", ", ".join(f"{k} {v:.1f}" for k, v in rep['stage_seconds']))
PY
}
for s in "${SCALES[@]}"; do
  raw="$BENCH_DIR/raw-$s"
  echo "== scale $s"
  rm -rf "$raw"
  /usr/bin/time -v -o "$BENCH_DIR/synth-$s.time" "$BIN" synth --scale "$s" --seed 0 --out "$raw" | tail -1
  echo "  synth: $(grep 'Elapsed (wall clock)' "$BENCH_DIR/synth-$s.time" | awk '{print $NF}') wall, peak RSS $(grep 'Maximum resident' "$BENCH_DIR/synth-$s.time" | awk '{print $NF}') kB"
  raw_mb=$(du -sm "$raw" | cut -f1)
  for j in 1 2; do
    out="$BENCH_DIR/out-$s-j$j"
    /usr/bin/time -v -o "$BENCH_DIR/build-$s-j$j.time" "$BIN" build --raw-root "$raw" --out "$out" --jobs "$j" --format json \
      > "$BENCH_DIR/build-$s-j$j.json" || true   # exit 1 = failing semantic checks/corpora: still measured
    echo " build --jobs $j:"
    summary "$BENCH_DIR/build-$s-j$j.time" "$BENCH_DIR/build-$s-j$j.json" "$raw_mb"
  done
  if cmp -s "$BENCH_DIR/out-$s-j1/SHA256SUMS" "$BENCH_DIR/out-$s-j2/SHA256SUMS"; then echo "  -j1 and -j2 outputs: byte-identical"; else echo "  -j1 and -j2 outputs DIFFER"; fi
done
