#!/usr/bin/env bash
# The test suite's wall time against a baseline checkout, in the same hour, alternating:
#   bash bench/suite-time.sh BASELINE_DIR [ROUNDS]
# BASELINE_DIR is a built checkout of an older commit (git worktree add DIR COMMIT, then npm ci and npm run build
# there). Each round runs (1) the baseline's whole suite with its own runner flags (BASE_FLAGS, default
# --test-concurrency=1, what 1a14d48's npm test used), (2) today's version of the test files the baseline also has,
# (3) today's whole suite, both with today's flags. Prints wall seconds, the runner's test count, and the assertion
# call sites of each file set (assert.*( and assert*( helper calls in the test files themselves).
set -euo pipefail
base=$(cd "$1" && pwd)
rounds=${2:-2}
here=$(cd "$(dirname "$0")/.." && pwd)
base_flags=${BASE_FLAGS:---test-concurrency=1}
flags=(--test-concurrency=3 --test-timeout=600000)
logs=$(mktemp -d)

list() { (cd "$1/test" && ls -- *.test.ts) | sort; }
common=$(comm -12 <(list "$base") <(list "$here"))
asserts() { # DIR FILE... : assertion call sites in those test files
  local dir=$1
  shift
  (cd "$dir/test" && cat -- "$@" | grep -oE 'assert[A-Za-z]*\.[a-zA-Z]+\(|assert[A-Z][A-Za-z]*\(' | wc -l)
}
js() { sed 's#^#dist/test/#; s#\.ts$#.js#'; }

timed() { # LABEL DIR LOG ASSERTS ARGS...
  local label=$1 dir=$2 log=$3 n=$4
  shift 4
  local start end
  start=$(date +%s.%N)
  (cd "$dir" && node --test --test-reporter=spec "$@" >"$log" 2>&1) || echo "($label failed: see $log)"
  end=$(date +%s.%N)
  printf '%-32s wall %6.1f s  %s  asserts %s\n' "$label" "$(echo "$end - $start" | bc)" \
    "$(grep -E '^ℹ (tests|fail) ' "$log" | tr '\n' ' ')" "$n"
}

echo "$(date -u +%FT%TZ) $(nproc) cores, $(node --version), load $(cut -d' ' -f1-3 /proc/loadavg)"
# shellcheck disable=SC2046 # word splitting of file lists is intended
for round in $(seq 1 "$rounds"); do
  timed "baseline, all files" "$base" "$logs/base-$round.log" "$(asserts "$base" $(list "$base"))" \
    $base_flags $(list "$base" | js)
  timed "today, the baseline's files" "$here" "$logs/common-$round.log" "$(asserts "$here" $common)" \
    "${flags[@]}" $(echo "$common" | js)
  timed "today, all files" "$here" "$logs/all-$round.log" "$(asserts "$here" $(list "$here"))" \
    "${flags[@]}" $(list "$here" | js)
done
echo "logs: $logs"
