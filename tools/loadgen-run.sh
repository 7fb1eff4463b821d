#!/usr/bin/env bash
# One end-to-end measurement for docs/PERFORMANCE.md: a fresh server, one loadgen run,
# the server's CPU (sampled from /proc over the run) and RSS at the end.
#   tools/loadgen-run.sh RATE SECONDS [loadgen flags...]
# Env: BIN (default target/release/liveguard), SERVE_ARGS (e.g. "--config nostore.toml").
set -euo pipefail
BIN=${BIN:-target/release/liveguard}
rate=$1; dur=$2; shift 2
data=$(mktemp -d)
port=18090
# shellcheck disable=SC2086
$BIN serve ${SERVE_ARGS:-} --data "$data" --listen 127.0.0.1:$port 2>"$data/server.log" &
server=$!
sleep 1
$BIN loadgen --url ws://127.0.0.1:$port/v1/ingest --rate "$rate" --duration "$dur" --json "$@" >"$data/loadgen.json" &
loadgen=$!
sleep 2
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
s1=$(cpu $server); t1=$(date +%s.%N)
sleep $((dur - 3))
s2=$(cpu $server); t2=$(date +%s.%N)
wait $loadgen
rss=$(awk '/VmRSS/{print $2}' /proc/$server/status)
kill -TERM $server; wait $server || true
cat "$data/loadgen.json"
python3 -c "print('server cpu %.0f%%, rss %d MB' % (($s2-$s1)/100/($t2-$t1)*100, $rss/1024))"
rm -rf "$data"
