#!/usr/bin/env bash
# Two `analytics-cache serve` nodes sharing one PostgreSQL event log (the tests' private cluster,
# scripts/test-postgres.sh) behind nginx (round robin, keep-alive upstreams), under wrk on the same
# 2 cores: the cached ~10 kB JSON result through nginx, next to one node directly and next to the
# constant body through nginx (the ceiling of the same path). Then the nodes benchmark of the
# Benchmarks package (appends/s vs SQLite, event on A → invalidation on B) when it is built.
# Expects `swift build -c release --product analytics-cache`; prints tables for docs/benchmarks.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/.build/release/analytics-cache"
work="$(mktemp -d)"
duration="${BENCH_DURATION:-8s}"
command -v wrk >/dev/null || { echo "bench-nodes: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
pg="$(bash "$root/scripts/test-postgres.sh")"
db="bench_nodes_$$"
psql -X -q "$pg" -c "CREATE DATABASE $db"
store="${pg%/*}/$db?sslmode=disable"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -X -q "$pg" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
start() {  # name → prints the node's URL
  "$bin" serve --port 0 --data-dir "${BENCH_DATA_DIR:-$root/.bench-server}-$1" --scale "${BENCH_SCALE:-1}" \
    --event-store "$store" --bench-constant-bytes 10000 > "$work/$1.out" 2> "$work/$1.log" &
  pids+=($!)
  for _ in $(seq 1 900); do grep -q serving "$work/$1.out" && break; sleep 0.2; done
  awk '/serving/ {print $2}' "$work/$1.out" | sed 's:/*$::'
}
a="$(start a)"; b="$(start b)"
[ -n "$a" ] && [ -n "$b" ] || { echo "bench-nodes: a node did not start (see $work)" >&2; exit 1; }
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
user=""; [ "$(id -u)" = 0 ] && user="user root;"
cat > "$work/nginx.conf" <<CONF
$user
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/body; proxy_temp_path $work/proxy; fastcgi_temp_path $work/fastcgi;
  uwsgi_temp_path $work/uwsgi; scgi_temp_path $work/scgi;
  upstream nodes { server ${a#http://}; server ${b#http://}; keepalive 64; }
  server {
    listen 127.0.0.1:$port;
    location / { proxy_pass http://nodes; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; }
  }
}
CONF
/usr/sbin/nginx -c "$work/nginx.conf" -p "$work" -g "daemon off;" &
pids+=($!)
for _ in $(seq 1 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $port))" 2>/dev/null && break; sleep 0.1; done
lb="http://127.0.0.1:$port"
q="/api/queries/top-customers?limit=150"
curl -sf "$a$q" > /dev/null; curl -sf "$b$q" > /dev/null  # cached on both nodes
run() {  # name, url
  local report
  report="$(wrk -t2 -c64 -d"$duration" --latency "$2")"
  printf '| %s | %s | %s | %s |\n' "$1" "$(awk '/Requests\/sec/ {print $2}' <<<"$report")" \
    "$(awk '$1 == "50%" {print $2}' <<<"$report")" "$(awk '$1 == "99%" {print $2}' <<<"$report")"
}
echo "| endpoint | requests/s | p50 | p99 |"
echo "|---|---|---|---|"
run "constant body through nginx (two nodes)" "$lb/bench/constant"
run "cached JSON through nginx (two nodes)" "$lb$q"
run "cached JSON, node A directly" "$a$q"
bench="$root/Benchmarks/.build/release/analytics-cache-bench"
if [ -x "$bench" ]; then
  echo
  "$bench" nodes --postgres "$pg"
fi
