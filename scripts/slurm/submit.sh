#!/usr/bin/env bash
# Builds MedS-Ins on a Slurm cluster with a job array (docs/scale-out.md): `medsins plan` lists
# the units, one array task computes each (`medsins build-unit`, largest first), and a last
# job, started when every array task succeeded, writes the output
# (`medsins build --cached-only`). Documented, not run in CI.
#
#   MANIFESTS=corpora-manifests RAW_ROOT=/shared/raw OUT=/shared/out CACHE=/shared/cache \
#       scripts/slurm/submit.sh [BUILD OPTIONS...]
#
# CACHE, RAW_ROOT, OUT and the medsins binary (MEDSINS, default: on PATH) must be paths every
# node sees (a network file system). BUILD OPTIONS (e.g. --instructions FILE, --only ID) go to
# all three commands: they must be the same for the keys to match. PARALLEL bounds the array
# tasks running at once (default 32); CPUS is each task's CPUs (default 2).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${MANIFESTS:?set MANIFESTS}" "${RAW_ROOT:?set RAW_ROOT}" "${OUT:?set OUT}" "${CACHE:?set CACHE}"
MEDSINS=$(command -v "${MEDSINS:-medsins}")
export MEDSINS MANIFESTS RAW_ROOT OUT CACHE
export BUILD_OPTIONS="$*"
mkdir -p "$CACHE"
units="$CACHE/units-$(date +%Y%m%d-%H%M%S).txt"
# shellcheck disable=SC2086 # BUILD_OPTIONS are words
"$MEDSINS" -q plan --manifests "$MANIFESTS" --raw-root "$RAW_ROOT" --cache "$CACHE" \
    --format json $BUILD_OPTIONS \
  | python3 -c 'import json, sys
for u in json.load(sys.stdin)["units"]:
    if not u.get("cached"):
        print(u["id"])' > "$units"
n=$(wc -l < "$units")
echo "$n unit(s) to compute, listed in $units"
dependency=()
if [ "$n" -gt 0 ]; then
  array=$(sbatch --parsable --array="1-$n%${PARALLEL:-32}" --cpus-per-task="${CPUS:-2}" \
    --export=ALL,UNITS="$units" "$here/build-unit.sbatch")
  echo "array job $array"
  dependency=(--dependency="afterok:$array")
fi
sbatch "${dependency[@]}" --export=ALL "$here/assemble.sbatch"
