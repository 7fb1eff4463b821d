#!/usr/bin/env bash
# The soak of docs/PERFORMANCE.md: RATE events/s for SECONDS, sampling the server's RSS,
# windows and strike logs every 10 s.
#   tools/soak.sh RATE SECONDS > soak.tsv
set -euo pipefail
BIN=${BIN:-target/release/liveguard}
data=$(mktemp -d)
port=18091
$BIN serve --data "$data" --listen 127.0.0.1:$port 2>"$data/server.log" &
server=$!
sleep 1
$BIN loadgen --url ws://127.0.0.1:$port/v1/ingest --rate "$1" --duration "$2" --json >"$data/loadgen.json" &
loadgen=$!
printf 'seconds\trss_kb\twindows\tstrike_logs\n'
t=0
while kill -0 $loadgen 2>/dev/null; do
    m=$(curl -s 127.0.0.1:$port/metrics | awk '/^liveguard_windows /{w=$2} /^liveguard_strike_logs /{s=$2} END{print w"\t"s}')
    printf '%s\t%s\t%s\n' $t "$(awk '/VmRSS/{print $2}' /proc/$server/status)" "$m"
    sleep 10; t=$((t + 10))
done
kill -TERM $server; wait $server || true
cat "$data/loadgen.json" >&2
rm -rf "$data"
