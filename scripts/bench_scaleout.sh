#!/usr/bin/env bash
# The figures of docs/scale-out.md, on a synthetic raw root of scale SCALE (default 0.03):
# a build without cache; a first build with an empty cache; a rebuild with nothing changed;
# rebuilds after one manifest changes (a small corpus, MeQSum, and the corpus of the largest
# unit), each checked against a clean build of the edited catalogue (same bytes); and, first,
# scripts/ray_build.py on a local 2-CPU Ray cluster against the single-process build. Large
# data goes to $BENCH_DIR (default /tmp/medsins-bench), never into the repository.
#   scripts/bench_scaleout.sh [SCALE]
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-0.03}
dir=${BENCH_DIR:-/tmp/medsins-bench}/scaleout-$scale
cargo build --release -p medsins-cli
bin=$PWD/target/release/medsins
echo "machine: $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "date: $(date -u +%FT%TZ)  commit: $(git rev-parse --short=12 HEAD)$(git diff --quiet || echo ' (+ uncommitted changes)')"
rm -rf "$dir" && mkdir -p "$dir"
"$bin" -q synth --scale "$scale" --seed 0 --out "$dir/raw" --manifests corpora-manifests --fixtures fixtures/raw
echo "raw root: $(du -sm "$dir/raw" | cut -f1) MB"
cp -r corpora-manifests "$dir/manifests"
common=(--manifests "$dir/manifests" --raw-root "$dir/raw" --skip-checksums --jobs 2)
TIMEFORMAT=%R
timed() { # label command...: prints "label: seconds"
  local label=$1 secs
  shift
  secs=$( { time "$@" >"$dir/last.out" 2>"$dir/last.err"; } 2>&1 ) || { cat "$dir/last.err"; exit 1; }
  echo "$label: $secs s"
}
same() { diff -r "$1" "$2" >/dev/null && echo "  same bytes: $1 = $2" || { echo "  DIFFERENT: $1 $2"; exit 1; }; }

timed "build without cache" "$bin" build "${common[@]}" --out "$dir/plain"
if python3 -c 'import ray' 2>/dev/null; then
  timed "plan" "$bin" -q plan --manifests "$dir/manifests" --raw-root "$dir/raw" --skip-checksums
  timed "ray_build.py, 2 CPUs, empty cache" python3 scripts/ray_build.py --manifests "$dir/manifests" \
    --raw-root "$dir/raw" --out "$dir/ray" --cache "$dir/ray-cache" --num-cpus 2 --medsins "$bin" -- --skip-checksums
  grep -E "^(plan|units|assemble)" "$dir/last.out" | sed "s/^/  /"
  same "$dir/plain" "$dir/ray"
else
  echo "ray is not installed (pip install ray): no Ray figures"
fi
timed "first build, empty cache" "$bin" build "${common[@]}" --out "$dir/first" --cache "$dir/cache"
same "$dir/plain" "$dir/first"
echo "  cache: $(du -sm "$dir/cache/units" | cut -f1) MB of units, $(du -sm "$dir/cache/written" | cut -f1) MB of written shards"
timed "rebuild, nothing changed" "$bin" build "${common[@]}" --out "$dir/again" --cache "$dir/cache"
same "$dir/plain" "$dir/again"
largest=$("$bin" -q plan "${common[@]}" --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["units"][0]["corpus"])')
for corpus in meqsum "$largest"; do
  echo "# edited" >> "$dir/manifests/$corpus.toml"
  timed "rebuild after editing $corpus.toml" "$bin" build "${common[@]}" --out "$dir/edit-$corpus" --cache "$dir/cache"
  timed "  clean build of the edited catalogue" "$bin" build "${common[@]}" --out "$dir/clean-$corpus"
  same "$dir/clean-$corpus" "$dir/edit-$corpus"
done
