#!/usr/bin/env bash
# The long fuzz run of docs/safety.md ("Fuzzing"): every reader (and container, and the
# instruction bank), manifest loading and the Python literal parser, MEDSINS_FUZZ_CASES cases
# each (default 100,000), from the fixtures. Runs the ignored fuzz tests in the test profile (the
# one CI uses: debug assertions and overflow checks on, so more bugs panic) with the 2 MiB
# worker stack each test sets up. Prints one line per target and a summary to record in
# docs/safety.md; exits non-zero on the first failure (proptest prints the minimal input).
#   scripts/fuzz.sh
#   MEDSINS_FUZZ_CASES=1000000 MEDSINS_FUZZ_SEED=42 scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export MEDSINS_FUZZ_CASES=${MEDSINS_FUZZ_CASES:-100000}
export MEDSINS_FUZZ_SEED=${MEDSINS_FUZZ_SEED:-$(date +%s)}
export RUST_BACKTRACE=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "machine: $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB; $(rustc --version)"
echo "date: $(date -u +%FT%TZ)  commit: $(git rev-parse --short=12 HEAD)$(git diff --quiet || echo ' (+ uncommitted changes)')"
echo "cases per target: $MEDSINS_FUZZ_CASES  seed: $MEDSINS_FUZZ_SEED"
start=$(date +%s)
for t in "-p medsins-readers --test fuzz fuzz_long" \
         "-p medsins-manifest --test fuzz fuzz_long" \
         "-p medsins-render --lib ops_py_literal::tests::fuzz_py_literal_long"; do
  # shellcheck disable=SC2086
  set -- $t
  set +e +o pipefail
  cargo test "${@:1:$(($# - 1))}" -- "${!#}" --ignored --exact --nocapture 2>&1 \
    | tee -a "$log" | grep --line-buffered -E '^fuzz |^test result|minimal failing'
  status=${PIPESTATUS[0]}
  set -e -o pipefail
  if [ "$status" -ne 0 ]; then
    echo "FAILED (exit $status): cargo test $t"
    exit 1
  fi
done
targets=$(grep -c '^fuzz .*, 0 failures' "$log")
echo "summary: $targets targets x $MEDSINS_FUZZ_CASES cases, 0 failures, 0 aborts, $(( $(date +%s) - start )) s"
