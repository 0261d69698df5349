#!/usr/bin/env bash
# The server under wrk (Debian's): a cached ~10 kB JSON result, the same as Arrow IPC, the same
# endpoint with the cache bypassed (DuckDB every time), and a constant body served by the same
# Hummingbird server (/openapi.json, ~9 kB: the server's own ceiling), 64 connections on the
# machine's cores; then 2 000 SSE streams, one event, delivery to all. Expects
# `swift build -c release --product analytics-cache`; prints a table for docs/benchmarks.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/.build/release/analytics-cache"
dir="${BENCH_DATA_DIR:-$root/.bench-server}"
duration="${BENCH_DURATION:-10s}"
command -v wrk >/dev/null || { echo "bench-server: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
out="$(mktemp)"
"$bin" serve --port 0 --data-dir "$dir" --scale "${BENCH_SCALE:-1}" > "$out" 2> "$dir.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 1 600); do grep -q serving "$out" && break; sleep 0.2; done
url="$(awk '/serving/ {print $2}' "$out")"
[ -n "$url" ] || { echo "bench-server: the server did not start (see $dir.log)" >&2; exit 1; }
url="${url%/}"
q="$url/api/queries/top-customers"
curl -sf "$q" > /dev/null  # computed once: what follows is cached
echo "json bytes: $(curl -s "$q" | wc -c), arrow bytes: $(curl -s -H 'Accept: application/vnd.apache.arrow.stream' "$q" | wc -c), constant bytes: $(curl -s "$url/openapi.json" | wc -c)"
run() {  # name, wrk arguments…
  local name="$1"; shift
  local report
  report="$(wrk -t2 -c64 -d"$duration" --latency "$@")"
  local rps p50 p99
  rps="$(awk '/Requests\/sec/ {print $2}' <<<"$report")"
  p50="$(awk '$1 == "50%" {print $2}' <<<"$report")"
  p99="$(awk '$1 == "99%" {print $2}' <<<"$report")"
  local errors
  errors="$(awk '/Non-2xx|Socket errors/' <<<"$report" | tr '\n' ' ')"
  printf '| %s | %s | %s | %s | %s |\n' "$name" "$rps" "$p50" "$p99" "${errors:-none}"
}
echo "| endpoint | requests/s | p50 | p99 | errors |"
echo "|---|---|---|---|---|"
run "constant body (/openapi.json)" "$url/openapi.json"
run "cached JSON (top-customers)" "$q"
run "cached Arrow IPC (top-customers)" -H "Accept: application/vnd.apache.arrow.stream" "$q"
BENCH_DURATION_BYPASS="${BENCH_DURATION_BYPASS:-10s}"
duration="$BENCH_DURATION_BYPASS" run "bypass: DuckDB every time (top-customers)" -H "Cache-Control: no-cache" "$q"
echo
"$root/.venv/bin/python" "$root/scripts/testservers/sse_fanout.py" "$url" "${SSE_STREAMS:-2000}" "$pid"
