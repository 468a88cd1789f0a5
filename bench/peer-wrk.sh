#!/usr/bin/env bash
# The benchmarks' wrk protocol against any HTTP server already running, for the peer row of docs/benchmarks.md:
# a 5 s warm-up that is discarded, then 3 runs of `wrk -t2 -c64 -d10s --latency`, the median run by throughput, and
# the server's CPU per completed request (utime + stime of --pid from /proc over the 3 runs). It starts and builds
# nothing: the server, its database and its data are the caller's (docs/benchmarks.md says how Nango was set up).
#
#   bench/peer-wrk.sh --url http://127.0.0.1:3003/connection/c0?provider_config_key=github \
#                     --header "Authorization: Bearer $KEY" --pid "$(pgrep -f packages/server/dist/server.js)"
set -euo pipefail

url="" pid="" runs=3 seconds=10 warmup=5 connections=64
headers=()
usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --url) url="$2"; shift 2 ;;
    --header) headers+=(-H "$2"); shift 2 ;;
    --pid) pid="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    *) usage ;;
  esac
done
[ -n "$url" ] || usage
command -v wrk >/dev/null || { echo "wrk is missing: sudo apt-get install -y wrk" >&2; exit 1; }
if [ -n "$pid" ] && [ ! -r "/proc/$pid/stat" ]; then echo "no process $pid" >&2; exit 1; fi

status=$(curl -s -o /dev/null -w '%{http_code}' "${headers[@]}" "$url")
[ "$status" = 200 ] || { echo "the URL answers $status, not 200: check the URL and the headers" >&2; exit 1; }

# utime + stime in clock ticks (fields 14 and 15; the command name in field 2 has no spaces for the servers measured).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

wrk -t2 -c"$connections" -d"${warmup}s" "${headers[@]}" "$url" >/dev/null
[ -n "$pid" ] && before=$(cpu_ticks "$pid")
for i in $(seq 1 "$runs"); do
  wrk -t2 -c"$connections" -d"${seconds}s" --latency "${headers[@]}" "$url" >"$out/run$i.txt"
done
[ -n "$pid" ] && after=$(cpu_ticks "$pid")

# Per run: requests/s, p50, p99, completed requests, non-2xx answers, socket errors.
for i in $(seq 1 "$runs"); do
  awk -v run="$i" '
    /Requests\/sec:/ { rate = $2 }
    /^ +50%/ { p50 = $2 }
    /^ +99%/ { p99 = $2 }
    /requests in/ { requests = $1 }
    /Non-2xx or 3xx responses:/ { non2xx = $NF }
    /Socket errors:/ { gsub(",", ""); errors = $4 + $6 + $8 + $10 }
    END { printf "%s %s %s %s %s %s %s\n", run, rate, p50, p99, requests, non2xx + 0, errors + 0 }' "$out/run$i.txt"
done >"$out/runs.txt"

median=$(sort -k2 -g "$out/runs.txt" | sed -n "$(( (runs + 1) / 2 ))p")
total=$(awk '{ s += $5 } END { print s }' "$out/runs.txt")
echo "runs (run, req/s, p50, p99, requests, non-2xx, socket errors):"
cat "$out/runs.txt"
read -r _ rate p50 p99 _ _ _ <<<"$median"
echo "median: $rate req/s, p50 $p50, p99 $p99"
if [ -n "$pid" ]; then
  hz=$(getconf CLK_TCK)
  awk -v t="$((after - before))" -v hz="$hz" -v n="$total" 'BEGIN { printf "server CPU per completed request: %.0f us\n", t / hz * 1e6 / n }'
fi
