#!/usr/bin/env bash
# Idempotent set-up for swift-analytics-cache on Debian: system packages, the Python peers the tests
# compare against, and libduckdb (C API) in /usr/local. Safe to re-run; prints what it does.
#
#   DUCKDB_ARCHIVE=path/to/libduckdb-1.4.4-linux-x86_64.tar.xz  unpack this prebuilt archive
#   (unset)                                                     build libduckdb from DuckDB's source
#                                                               distribution on PyPI (~25 min, 2 cores)
#
# DuckDB 1.4.4 is the long-term-support line, pinned because its official signed extension binaries
# (httpfs, ducklake, …) are published on PyPI as wheels; the bootstrap installs those wheels into
# .venv and `Database(extensions:)` loads them from there (.venv/duckdb_extensions).
set -euo pipefail

DUCKDB_VERSION=1.4.4
DUCKDB_SDIST_SHA256=8bba52fd2acb67668a4615ee17ee51814124223de836d9e2fdcbc4c9021b3d3c
# The sdist names no commit; 6ddac802ff is the source_id the official 1.4.4 reports.
DUCKDB_GIT_DESCRIBE=v1.4.4-0-g6ddac802ff
# DuckDB's signed extension binaries for 1.4.4, as PyPI wheels (duckdb-ext-NAME).
DUCKDB_EXT_WHEEL_VERSION=1.4.4.20260205
DUCKDB_EXT_WHEELS="httpfs ducklake"
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
# chromium and chromium-driver: the dashboard's browser test (headless, driven by selenium).
# postgresql and nginx: the several-nodes tests (a private cluster and a load balancer on loopback,
# started by the tests themselves; the packages' own services are not used).
apt_packages=(pkg-config liblmdb-dev libsqlite3-dev python3 python3-venv xz-utils ca-certificates chromium chromium-driver
  postgresql nginx)
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
command -v swift >/dev/null || die "swift is not on PATH: install the Swift 6.2+ toolchain first"

# --- 2. Python peers and DuckDB extensions (.venv) ------------------------------------------------
# duckdb and pyarrow are the tests' independent peers; moto[server] is the S3-compatible server the
# remote-data tests start on loopback; duckdb-ext-* are DuckDB's signed extension binaries, copied
# to .venv/duckdb_extensions/v$DUCKDB_VERSION/linux_amd64/NAME.duckdb_extension.
venv="$root/.venv"
ext_dir="$venv/duckdb_extensions"
py_wanted=("duckdb==$DUCKDB_VERSION" pyarrow "moto[server]" selenium schemathesis)
for e in $DUCKDB_EXT_WHEELS; do py_wanted+=("duckdb-ext-$e==$DUCKDB_EXT_WHEEL_VERSION"); done
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "
import duckdb, pyarrow, moto, selenium, schemathesis, sys, os
ok = duckdb.__version__ == '$DUCKDB_VERSION' and all(
    os.path.isfile(os.path.join('$ext_dir', 'v$DUCKDB_VERSION', 'linux_amd64', e + '.duckdb_extension'))
    for e in '$DUCKDB_EXT_WHEELS'.split())
sys.exit(0 if ok else 1)" 2>/dev/null; then
  say "Python peers and extensions present in .venv (duckdb $DUCKDB_VERSION, pyarrow, moto, selenium, schemathesis; $DUCKDB_EXT_WHEELS)"
else
  say "installing into .venv: ${py_wanted[*]}"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv" || die "python3 -m venv failed: install python3-venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "${py_wanted[@]}" \
    || die "pip install ${py_wanted[*]} failed (is PyPI reachable?)"
  # The wheels put the binaries under site-packages/duckdb_ext/extensions/vX/PLATFORM/; one stable
  # directory for Database(extensionDirectory:) regardless of the Python version.
  site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  for e in $DUCKDB_EXT_WHEELS; do
    f="$(find "$site/duckdb_ext" -path "*/v$DUCKDB_VERSION/*/$e.duckdb_extension" 2>/dev/null | head -1)"
    [ -n "$f" ] || die "the wheel duckdb-ext-$e==$DUCKDB_EXT_WHEEL_VERSION holds no $e.duckdb_extension for v$DUCKDB_VERSION"
    platform="$(basename "$(dirname "$f")")"
    mkdir -p "$ext_dir/v$DUCKDB_VERSION/$platform"
    cp -f "$f" "$ext_dir/v$DUCKDB_VERSION/$platform/$e.duckdb_extension"
  done
  say "extensions in $ext_dir: $DUCKDB_EXT_WHEELS"
fi
# A real binary built for another DuckDB version, for the test that an incompatible extension is
# refused with a clear error (never loaded by the product).
other="$venv/duckdb_extensions_other/ducklake-v1.4.3.duckdb_extension"
if [ ! -f "$other" ]; then
  say "fetching ducklake for DuckDB 1.4.3 (test fixture: an incompatible extension)"
  tmp="$(mktemp -d)"
  "$venv/bin/pip" download -q --disable-pip-version-check --no-deps -d "$tmp" "duckdb-ext-ducklake==1.4.3.20251209" \
    || die "pip download duckdb-ext-ducklake==1.4.3.20251209 failed"
  mkdir -p "$(dirname "$other")"
  "$venv/bin/python" - "$tmp"/*.whl "$other" <<'PY' || die "could not unpack the 1.4.3 ducklake wheel"
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    name = next(n for n in z.namelist() if n.endswith("/ducklake.duckdb_extension"))
    with z.open(name) as src, open(sys.argv[2] + ".part", "wb") as dst:
        shutil.copyfileobj(src, dst)
shutil.move(sys.argv[2] + ".part", sys.argv[2])
PY
  rm -rf "$tmp"
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
  say "no DUCKDB_ARCHIVE given: building libduckdb $DUCKDB_VERSION from source in $work (about 25 minutes on 2 cores)"
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
    cmake -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHELL=0 -DBUILD_UNITTESTS=0 -DENABLE_SANITIZER=0 \
      -DBUILD_EXTENSIONS="$DUCKDB_EXTENSIONS" -DSTATICALLY_LINK_EXTENSIONS="$DUCKDB_EXTENSIONS" \
      -DOVERRIDE_GIT_DESCRIBE="$DUCKDB_GIT_DESCRIBE" -B build >/dev/null
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
