#!/usr/bin/env bash
# A worker's cost per event when it is never idle (docs/SCALING.md): fill a fresh
# events stream with EVENTS events, start one worker, and time it and its CPU until
# it has judged them all.
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
nats-server -js -a 127.0.0.1 -p 14555 -sd "$tmp/js" 2>"$tmp/nats.log" &
pids+=($!)
sleep 0.5
url=nats://127.0.0.1:14555
$FILL $url "$events"
TOKIO_WORKER_THREADS=${WORKER_THREADS:-1} $BIN worker --nats $url --name drain \
    --metrics 127.0.0.1:14556 "$@" 2>"$tmp/worker.log" &
worker=$!; pids+=("$worker")
start=$(date +%s.%N)
judged=0
while [ "$judged" -lt "$events" ]; do
    sleep 0.2
    judged=$(curl -s 127.0.0.1:14556/metrics | awk '/^liveguard_cluster_events_total /{print $2}' || true)
    judged=${judged:-0}
done
end=$(date +%s.%N)
cpu=$(awk '{print ($14+$15)/100}' "/proc/$worker/stat")
python3 -c "
s = $end - $start
print(f'drained $events events in {s:.1f} s: {$events / s:,.0f} events/s; worker {$cpu:.1f} cpu-s, '
      f'{$cpu / $events * 1e6:.1f} cpu-s per M events (start-up and takeover included)')"
