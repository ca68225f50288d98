#!/usr/bin/env bash
# CPU per thread of one server under wrk load: where a request's CPU goes (the main thread's HTTP work and hand-off,
# the pool workers, V8's helper threads), which the per-process figures of bench/run.ts cannot tell apart.
#
#   bash bench/thread-cpu.sh [server flags...]      e.g. --execution inline, or nothing for the default
#
# Env: NODE_FLAGS, PORT (5401), FRAME (test/fixtures/frames/messi_416.jpg), ROUTE (/score=colorIntensity), CONNECTIONS (8),
# SECONDS_MEASURED (5). Needs wrk. Prints the requests, then each thread's CPU ticks (1/100 s) over the measured
# window and its CPU ms per request. Thread ids grow in creation order: the main thread, V8's helpers, then libuv's
# thread pool and the workers.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${PORT:-5401}
frame=${FRAME:-test/fixtures/frames/messi_416.jpg}
route=${ROUTE:-/score=colorIntensity}
path=${route%%=*}
# Started as `npm start` starts it: with the server heap flags, plus any of NODE_FLAGS (e.g. other V8 flags to try).
read -r -a flags <<<"$(node -e "import('./dist/src/cli/heap-flags.js').then((m) => console.log(m.SERVER_HEAP_FLAGS.join(' ')))") ${NODE_FLAGS:-}"
node "${flags[@]}" dist/src/cli/main.js serve -p "$port" --route "$route" --log-level warn "$@" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/health/ready" >/dev/null && break; sleep 0.2; done
run() { BODY_FILE=$frame wrk -t1 -c"${CONNECTIONS:-8}" -d"$1" -s bench/post.lua "http://127.0.0.1:$port$path"; }
ticks() { for t in /proc/$pid/task/*; do echo "$(basename "$t") $(awk '{print $14+$15}' "$t/stat")"; done | LC_ALL=C sort; }
run 2s >/dev/null
ticks >/tmp/hx-thread-cpu.before
requests=$(run "${SECONDS_MEASURED:-5}s" | sed -n 's/^RESULT requests=\([0-9]*\).*/\1/p')
ticks >/tmp/hx-thread-cpu.after
echo "requests $requests"
LC_ALL=C join /tmp/hx-thread-cpu.before /tmp/hx-thread-cpu.after |
  awk -v n="$requests" '$3 > $2 { printf "thread %s: %d ticks, %.3f CPU-ms/request\n", $1, $3 - $2, ($3 - $2) * 10 / n }'
