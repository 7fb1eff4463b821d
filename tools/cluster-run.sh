#!/usr/bin/env bash
# One cluster measurement for docs/PERFORMANCE.md and docs/SCALING.md, beside its
# baseline in the same run: the same loadgen run against
#   1. one `liveguard serve` (the single process), then
#   2. a cluster on this machine: nats-server, one gateway (`serve --nats`),
#      WORKERS `liveguard worker`s and the archiver.
# For each process: CPU-seconds over the run (from /proc, loadgen start to end) and
# CPU-seconds per million events answered.
#   tools/cluster-run.sh RATE SECONDS [WORKERS] [loadgen flags...]
# Env: BIN (default target/release/liveguard).
set -euo pipefail
BIN=${BIN:-target/release/liveguard}
rate=$1; dur=$2; workers=${3:-2}; shift 3 || shift $#
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }

measure() {
    local label=$1; shift
    local names=("$@")
    declare -A before
    for np in "${names[@]}"; do before[$np]=$(cpu "${np#*=}"); done
    $BIN loadgen --url ws://127.0.0.1:18090/v1/ingest --rate "$rate" --duration "$dur" \
        --json "${LOADGEN_ARGS[@]}" >"$tmp/$label.json"
    python3 - "$tmp/$label.json" "$label" "${names[@]}" <<EOF
import json, sys
report = json.load(open(sys.argv[1]))
label = sys.argv[2]
answered = report["answered"]
lat = report["latency_ms"]
print(f"{label}: sent {report['sent']}, answered {answered}, missing {report['missing']}, "
      f"errors {report['errors']}, throughput {report['throughput_eps']:.0f}/s, "
      f"p50 {lat['p50']:.2f} ms, p99 {lat['p99']:.2f} ms, p99.9 {lat['p999']:.2f} ms")
after = {$(for np in "${names[@]}"; do printf '"%s": %s, ' "${np%%=*}" "$(cpu "${np#*=}")"; done)}
before = {$(for np in "${names[@]}"; do printf '"%s": %s, ' "${np%%=*}" "${before[$np]}"; done)}
total = 0
for name in after:
    secs = (after[name] - before[name]) / 100
    total += secs
    print(f"  {name:10} {secs:7.2f} cpu-s  {secs / answered * 1e6 if answered else 0:7.2f} cpu-s per M events")
print(f"  {'all':10} {total:7.2f} cpu-s  {total / answered * 1e6 if answered else 0:7.2f} cpu-s per M events")
EOF
}
LOADGEN_ARGS=("$@")

# 1. The single process.
$BIN serve --data "$tmp/single" --listen 127.0.0.1:18090 2>"$tmp/single.log" &
single=$!; pids+=("$single")
sleep 1
measure single "server=$single"
kill -TERM "$single"; wait "$single" || true

# 2. The cluster.
nats-server -js -a 127.0.0.1 -p 14333 -sd "$tmp/js" 2>"$tmp/nats.log" &
nats=$!; pids+=("$nats")
sleep 0.5
url=nats://127.0.0.1:14333
$BIN archive --nats $url --data "$tmp/evidence" 2>"$tmp/archive.log" &
archive=$!; pids+=("$archive")
worker_args=()
for i in $(seq 1 "$workers"); do
    TOKIO_WORKER_THREADS=${WORKER_THREADS:-2} $BIN worker --nats $url --name "w$i" 2>"$tmp/w$i.log" &
    w=$!; pids+=("$w"); worker_args+=("worker$i=$w")
done
$BIN serve --nats $url --listen 127.0.0.1:18090 2>"$tmp/gateway.log" &
gateway=$!; pids+=("$gateway")
sleep 3
measure cluster "gateway=$gateway" "${worker_args[@]}" "nats=$nats" "archive=$archive"
