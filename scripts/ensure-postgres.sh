#!/usr/bin/env bash
# Prints the DATABASE_URL to use. An explicit DATABASE_URL wins; otherwise the default server at
# 127.0.0.1:5432; when nothing answers there, a private cluster under var/postgres is started
# (initialised on first use; GEOPLATFORM_EMBEDDED_PORT, default 55432) so the platform runs on a machine with nothing set up.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${DATABASE_URL:-}" ]; then
  echo "$DATABASE_URL"
  exit 0
fi
probe_port=${GEOPLATFORM_PROBE_PORT:-5432}
default_url="postgresql://postgres@127.0.0.1:$probe_port/geoplatform"
if pg_isready -q -h 127.0.0.1 -p "$probe_port" 2>/dev/null; then
  echo "$default_url"
  exit 0
fi

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/initdb" ] || { echo "no PostgreSQL server binaries found; run scripts/install-system.sh" >&2; exit 1; }
port=${GEOPLATFORM_EMBEDDED_PORT:-55432}
var=${GEOPLATFORM_VAR_DIR:-$PWD/var}
data="$var/postgres"
run_as=()
if [ "$(id -u)" -eq 0 ]; then run_as=(runuser -u postgres --); fi

mkdir -p "$var"
if [ ! -f "$data/PG_VERSION" ]; then
  echo "no PostgreSQL answers at 127.0.0.1:5432: initialising a private cluster in $data" >&2
  mkdir -p "$data"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$data"
  "${run_as[@]}" "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null
fi
if ! pg_isready -q -h 127.0.0.1 -p "$port"; then
  echo "starting the private cluster on 127.0.0.1:$port" >&2
  "${run_as[@]}" "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
    -o "-p $port -k $data -c listen_addresses=127.0.0.1" start >/dev/null
fi
echo "postgresql://postgres@127.0.0.1:$port/geoplatform"
