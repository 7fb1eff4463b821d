#!/usr/bin/env bash
# A worker's cost per event when it is never idle (docs/SCALING.md): fill a fresh
# events stream with EVENTS events, start one worker, and count its CPU from its
# first judged event to its last (start-up, the lexicon compile and the 64
# takeovers before the first event are left out; takeovers after it are in).
# Then, as the baseline in the same run, one `liveguard serve` is offered the
# worker's drain rate by the load generator, and its CPU per event is read the
# same way.
#   tools/worker-drain.sh EVENTS [worker flags...]
# Env: BIN (default target/release/liveguard), WORKER_THREADS (default 1),
#      FILL (default target/release/examples/fill_events).
set -euo pipefail
BIN=${BIN:-target/release/liveguard}
FILL=${FILL:-target/release/examples/fill_events}
events=$1; shift
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
nats-server -js -a 127.0.0.1 -p 14555 -sd "$tmp/js" 2>"$tmp/nats.log" &
pids+=($!)
sleep 0.5
url=nats://127.0.0.1:14555
$FILL $url "$events"
TOKIO_WORKER_THREADS=${WORKER_THREADS:-1} $BIN worker --nats $url --name drain \
    --metrics 127.0.0.1:14556 "$@" 2>"$tmp/worker.log" &
worker=$!; pids+=("$worker")
judged() {
    local n
    n=$(curl -s 127.0.0.1:14556/metrics | awk '/^liveguard_cluster_events_total /{print $2}' || true)
    echo "${n:-0}"
}
first=0
while [ "$first" -eq 0 ]; do sleep 0.05; first=$(judged); done
start=$(date +%s.%N); t0=$(ticks "$worker")
last=$first
while [ "$last" -lt "$events" ]; do sleep 0.2; last=$(judged); done
end=$(date +%s.%N); t1=$(ticks "$worker")
kill -9 "$worker"
echo "takeovers: $(grep -c 'Serving partition' "$tmp/worker.log"), lease losses or failures: $(grep -c 'Lease lost\|failed\|Cannot' "$tmp/worker.log")"
rate=$(python3 -c "print(int(($last - $first) / ($end - $start)))")
python3 -c "
n = $last - $first; s = $end - $start; cpu = ($t1 - $t0) / $hz
print(f'worker: {n:,} events in {s:.1f} s: {n / s:,.0f} events/s, {cpu:.1f} cpu-s, '
      f'{cpu / n * 1e6:.2f} cpu-s per M events')"

# The baseline: one process offered the same rate for 20 s.
$BIN serve --listen 127.0.0.1:14557 2>"$tmp/serve.log" &
serve=$!; pids+=("$serve")
until curl -s -o /dev/null 127.0.0.1:14557/healthz; do sleep 0.1; done
s0=$(ticks "$serve")
$BIN loadgen --url ws://127.0.0.1:14557/v1/ingest --rate "$rate" --duration 20 --json >"$tmp/single.json"
s1=$(ticks "$serve")
python3 - "$tmp/single.json" "$s0" "$s1" "$hz" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
cpu = (int(sys.argv[3]) - int(sys.argv[2])) / int(sys.argv[4])
n = r["answered"]
print(f"single process at the same rate: {n:,} events answered, p99 {r['latency_ms']['p99']} ms, "
      f"{cpu:.1f} cpu-s, {cpu / n * 1e6:.2f} cpu-s per M events")
PY
