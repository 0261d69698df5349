#!/usr/bin/env bash
# Starts a private PostgreSQL cluster for the tests on loopback — once: later calls find it running
# and print the same URL — and prints its URL (postgres://postgres@127.0.0.1:PORT/postgres).
# `stop` stops it. Nothing here touches a system service: the cluster lives in its own directory
# (initdb, trust authentication on loopback only, a free port). Debian's postgresql package
# provides the binaries (scripts/bootstrap.sh installs it). As root, the server runs as the
# `postgres` user the package creates (PostgreSQL refuses to run as root).
set -euo pipefail
dir="${ANALYTICS_CACHE_PG_DIR:-/tmp/swift-analytics-cache-pg-$(id -u)}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "test-postgres: PostgreSQL is not installed (run scripts/bootstrap.sh, or apt-get install postgresql)" >&2
  exit 1
fi
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
mkdir -p "$dir"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
exec 9>"$dir.lock"
flock 9
if [ "${1:-start}" = stop ]; then
  as_owner "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
  exit 0
fi
if [ -f "$dir/port" ] && as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
  echo "postgres://postgres@127.0.0.1:$(cat "$dir/port")/postgres"
  exit 0
fi
if [ ! -f "$dir/data/PG_VERSION" ]; then
  rm -rf "$dir/data"
  as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync >/dev/null
fi
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
rm -f "$dir/data/postmaster.pid.stale"
# The server outlives this script: it must not inherit any descriptor of its caller beyond the
# standard three. A caller waiting for this script's end through a descriptor (Foundation's Process
# watches a socket its child inherits) would otherwise wait for the server's end, forever.
closefds=(python3 -c 'import os, sys; os.closerange(3, os.sysconf("SC_OPEN_MAX")); os.execv(sys.argv[1], sys.argv[1:])')
as_owner "${closefds[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/data/server.log" -w -t 60 \
  -o "-p $port -k $dir/data -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=64MB" start >/dev/null 9>&-
echo "$port" > "$dir/port"
echo "postgres://postgres@127.0.0.1:$port/postgres"
