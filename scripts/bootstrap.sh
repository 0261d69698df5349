#!/usr/bin/env bash
# Idempotent set-up for swift-analytics-cache on Debian: system packages, the Python peers the tests
# compare against, and libduckdb (C API) in /usr/local. Safe to re-run; prints what it does.
#
#   DUCKDB_ARCHIVE=path/to/libduckdb-2.0.1-linux-x86_64.tar.xz  unpack this prebuilt archive
#   (unset)                                                     build libduckdb from DuckDB's source
#                                                               distribution on PyPI (~40 min, 2 cores)
set -euo pipefail

DUCKDB_VERSION=2.0.1
DUCKDB_SDIST_SHA256=5b3f493140e35b75298ee0fc606d98e3065e8601e64fe81b09326de7a6fd68e0
DUCKDB_COMMIT=8d78114e90a53823803660bf821f6073ac87da8c
DUCKDB_EXTENSIONS="core_functions;json;parquet;icu;tpch"
PREFIX=/usr/local

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { printf 'bootstrap: %s\n' "$*"; }
die() { printf 'bootstrap: error: %s\n' "$*" >&2; exit 1; }

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "not root and no sudo: run as root, or install sudo"
  sudo_cmd=(sudo)
fi

# --- 1. Debian packages -------------------------------------------------------------------------
apt_packages=(pkg-config liblmdb-dev libsqlite3-dev python3 python3-venv xz-utils ca-certificates)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || die "apt-get not found: install ${missing[*]} by hand"
  say "installing Debian packages: ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq || die "apt-get update failed (network or mirror?)"
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
else
  say "Debian packages present: ${apt_packages[*]}"
fi
command -v swift >/dev/null || die "swift is not on PATH: install the Swift 6.1+ toolchain first"

# --- 2. Python peers (.venv) --------------------------------------------------------------------
venv="$root/.venv"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "
import duckdb, pyarrow, sys
sys.exit(0 if duckdb.__version__ == '$DUCKDB_VERSION' else 1)" 2>/dev/null; then
  say "Python peers present in .venv (duckdb $DUCKDB_VERSION, pyarrow)"
else
  say "creating .venv with duckdb==$DUCKDB_VERSION and pyarrow"
  python3 -m venv "$venv" || die "python3 -m venv failed: install python3-venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "duckdb==$DUCKDB_VERSION" pyarrow \
    || die "pip install duckdb==$DUCKDB_VERSION pyarrow failed (is PyPI reachable?)"
fi

# --- 3. libduckdb -------------------------------------------------------------------------------
installed_version() {
  [ -f "$PREFIX/lib/libduckdb.so" ] && [ -f "$PREFIX/include/duckdb.h" ] || return 1
  PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig" pkg-config --modversion duckdb 2>/dev/null
}

write_pc() {
  "${sudo_cmd[@]}" mkdir -p "$PREFIX/lib/pkgconfig"
  "${sudo_cmd[@]}" tee "$PREFIX/lib/pkgconfig/duckdb.pc" >/dev/null <<PC
prefix=$PREFIX
libdir=\${prefix}/lib
includedir=\${prefix}/include
Name: duckdb
Description: DuckDB in-process analytical database (C API)
Version: $DUCKDB_VERSION
Libs: -L\${libdir} -lduckdb
Cflags: -I\${includedir}
PC
}

build_from_source() {
  local work="${DUCKDB_BUILD_DIR:-$root/.build-duckdb}"
  local sdist="$work/duckdb-$DUCKDB_VERSION.tar.gz"
  say "no DUCKDB_ARCHIVE given: building libduckdb $DUCKDB_VERSION from source in $work (about 40 minutes on 2 cores)"
  local tools=(cmake ninja-build g++ make)
  local need=()
  for p in "${tools[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
  done
  if [ ${#need[@]} -gt 0 ]; then
    say "installing build tools: ${need[*]}"
    "${sudo_cmd[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${need[@]}" >/dev/null \
      || die "could not install ${need[*]}"
  fi
  mkdir -p "$work"
  if [ ! -f "$sdist" ] || ! echo "$DUCKDB_SDIST_SHA256  $sdist" | sha256sum -c --status; then
    rm -f "$sdist"
    say "downloading DuckDB's source distribution (duckdb==$DUCKDB_VERSION) through pip"
    # --no-binary for duckdb alone: its build backend may come as a wheel, which pip needs to
    # prepare the sdist's metadata before it saves the file.
    rm -rf "$work/pip"
    "$venv/bin/pip" download -q --no-binary duckdb --no-deps -d "$work/pip" "duckdb==$DUCKDB_VERSION" \
      || die "pip download of duckdb==$DUCKDB_VERSION's source distribution failed"
    cp "$work/pip/duckdb-$DUCKDB_VERSION.tar.gz" "$sdist" || die "pip saved no duckdb-$DUCKDB_VERSION.tar.gz"
    echo "$DUCKDB_SDIST_SHA256  $sdist" | sha256sum -c --status \
      || die "sha256 of $sdist does not match the pinned $DUCKDB_SDIST_SHA256: refusing to build it"
  fi
  local src="$work/src"
  if [ ! -d "$src/external/duckdb" ]; then
    rm -rf "$src" && mkdir -p "$src"
    tar -xzf "$sdist" -C "$src" --strip-components=1 || die "could not unpack $sdist"
  fi
  (
    cd "$src/external/duckdb"
    export DUCKDB_COMMIT
    cmake -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHELL=0 -DBUILD_UNITTESTS=0 -DENABLE_SANITIZER=0 \
      -DBUILD_EXTENSIONS="$DUCKDB_EXTENSIONS" -DSTATICALLY_LINK_EXTENSIONS="$DUCKDB_EXTENSIONS" \
      -DOVERRIDE_GIT_DESCRIBE="v$DUCKDB_VERSION" -B build >/dev/null
    ninja -C build duckdb
  ) || die "building libduckdb failed (see the output above); a prebuilt archive can be given as DUCKDB_ARCHIVE"
  local so="$src/external/duckdb/build/src/libduckdb.so"
  strip --strip-unneeded "$so"
  "${sudo_cmd[@]}" install -D -m 0644 "$src/external/duckdb/src/include/duckdb.h" "$PREFIX/include/duckdb.h"
  "${sudo_cmd[@]}" install -D -m 0755 "$so" "$PREFIX/lib/libduckdb.so"
  write_pc
}

if [ "$(installed_version || true)" = "$DUCKDB_VERSION" ]; then
  say "libduckdb $DUCKDB_VERSION present in $PREFIX"
else
  if [ -n "${DUCKDB_ARCHIVE:-}" ]; then
    [ -f "$DUCKDB_ARCHIVE" ] || die "DUCKDB_ARCHIVE=$DUCKDB_ARCHIVE does not exist"
    say "installing libduckdb from $DUCKDB_ARCHIVE into $PREFIX"
    "${sudo_cmd[@]}" tar -xJf "$DUCKDB_ARCHIVE" -C "$PREFIX" --no-same-owner \
      || die "could not unpack $DUCKDB_ARCHIVE into $PREFIX"
    [ -f "$PREFIX/lib/pkgconfig/duckdb.pc" ] || write_pc
  else
    build_from_source
  fi
  "${sudo_cmd[@]}" ldconfig
  v=$(installed_version || true)
  [ "$v" = "$DUCKDB_VERSION" ] || die "libduckdb install check failed (pkg-config says '${v:-nothing}')"
  say "libduckdb $v installed"
fi
say "done"
