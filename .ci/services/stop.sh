#!/usr/bin/env bash
# Stop the services started by postgres.sh, redis.sh, neo4j.sh and jaeger.sh (local cleanup).
# Pass --purge to also delete $CI_SERVICES_DIR/{postgres/data,redis,neo4j/home} (the stores;
# the downloaded Neo4j jars and the built jaeger binary stay).
set -uo pipefail

log() { echo "[stop.sh] $*" >&2; }

BASE="${CI_SERVICES_DIR:-/tmp/mcp-ci-services}"
RUN_USER="${PG_RUN_USER:-pgrun}"
REDIS_PORT="${REDIS_PORT:-56379}"
DATA="$BASE/postgres/data"

# --- postgres
PGBIN=""
for d in "$BASE"/postgres/venv/lib/python*/site-packages/pgserver/pginstall/bin "$BASE"/postgres/dist/pgserver/pginstall/bin; do
  [ -x "$d/pg_ctl" ] && { PGBIN="$d"; break; }
done
pid_alive() {  # exists and is not a zombie
  [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || return 1
  [ "$(sed 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f1)" != Z ]
}
PID="$(head -n1 "$DATA/postmaster.pid" 2>/dev/null || true)"
if [ -n "$PGBIN" ] && pid_alive "$PID"; then
  log "stopping postgres ($DATA)"
  if [ "$(id -u)" = "0" ] && id -u "$RUN_USER" >/dev/null 2>&1; then
    runuser -u "$RUN_USER" -- "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >&2 || log "pg_ctl stop failed"
  else
    "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >&2 || log "pg_ctl stop failed"
  fi
else
  log "postgres not running"
  # drop a stale lock left by a postmaster that died uncleanly
  rm -f "$DATA/postmaster.pid" "$BASE"/postgres/run/.s.PGSQL.* 2>/dev/null || true
fi

# --- redis
if command -v redis-cli >/dev/null 2>&1 && \
   [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null || true)" = "PONG" ]; then
  log "stopping redis on port $REDIS_PORT"
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  for ((i = 0; i < 40; i++)); do
    [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null || true)" = "PONG" ] || break
    sleep 0.25
  done
else
  log "redis not running"
fi

# --- neo4j (SIGTERM: the launcher's shutdown hook closes the store cleanly)
NEO4J_PID="$(cat "$BASE/neo4j/neo4j.pid" 2>/dev/null || true)"
if pid_alive "$NEO4J_PID" && tr '\0' ' ' <"/proc/$NEO4J_PID/cmdline" 2>/dev/null | grep -q Neo4jTestServer; then
  log "stopping neo4j (pid $NEO4J_PID)"
  kill "$NEO4J_PID" 2>/dev/null || true
  for ((i = 0; i < 240; i++)); do pid_alive "$NEO4J_PID" || break; sleep 0.25; done
  if pid_alive "$NEO4J_PID"; then
    log "neo4j did not stop within 60s; killing it"
    kill -9 "$NEO4J_PID" 2>/dev/null || true
  fi
else
  log "neo4j not running"
fi
rm -f "$BASE/neo4j/neo4j.pid" "$BASE/neo4j/ready"

# --- jaeger (its pid file; the binary under $BASE/jaeger/bin is kept for the next run)
JPID="$(cat "$BASE/jaeger/jaeger.pid" 2>/dev/null || true)"
if pid_alive "$JPID" && grep -q jaeger "/proc/$JPID/cmdline" 2>/dev/null; then
  log "stopping jaeger (pid $JPID)"
  kill "$JPID" 2>/dev/null || true
  for ((i = 0; i < 40; i++)); do pid_alive "$JPID" || break; sleep 0.25; done
else
  log "jaeger not running"
fi
rm -f "$BASE/jaeger/jaeger.pid"

if [ "${1:-}" = "--purge" ]; then
  log "deleting $DATA, $BASE/redis and $BASE/neo4j/home"
  rm -rf "$DATA" "$BASE/redis" "$BASE/postgres/port" "$BASE/neo4j/home"
fi
exit 0
