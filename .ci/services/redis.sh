#!/usr/bin/env bash
# Start a real Redis server on 127.0.0.1 for tests (no persistence).
#
# Env:
#   CI_SERVICES_DIR   base dir for pid/log files (default /tmp/mcp-ci-services)
#   REDIS_PORT        port (default 56379)
#
# Progress goes to stderr; the last stdout line is REDIS_URL=redis://...
set -euo pipefail

log() { echo "[redis.sh] $*" >&2; }
die() { echo "[redis.sh] ERROR: $*" >&2; exit 1; }

BASE="${CI_SERVICES_DIR:-/tmp/mcp-ci-services}"
PORT="${REDIS_PORT:-56379}"
TIMEOUT=60
RDIR="$BASE/redis"
mkdir -p "$RDIR"

SUDO=""
[ "$(id -u)" = "0" ] || SUDO="sudo"

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  log "installing redis-server via apt-get"
  export DEBIAN_FRONTEND=noninteractive
  if ! $SUDO apt-get install -y -qq --no-install-recommends redis-server >&2; then
    log "apt-get install failed; running apt-get update and retrying"
    $SUDO apt-get update -q >&2 || die "apt-get update failed"
    $SUDO apt-get install -y -qq --no-install-recommends redis-server >&2 \
      || die "apt-get install redis-server failed"
  fi
  # The Debian package may auto-start a system redis on 6379; that's harmless
  # (we use our own port), so leave it alone.
fi

ping() { [ "$(redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null || true)" = "PONG" ]; }

if ping; then
  log "redis already running on 127.0.0.1:$PORT"
else
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    die "port $PORT is in use by something that does not answer redis PING"
  fi
  log "starting redis $(redis-server --version | sed -n "s/.*v=\([^ ]*\).*/\1/p") on 127.0.0.1:$PORT (log: $RDIR/redis.log)"
  redis-server --bind 127.0.0.1 --port "$PORT" --daemonize yes \
    --save '' --appendonly no --dir "$RDIR" \
    --pidfile "$RDIR/redis.pid" --logfile "$RDIR/redis.log" \
    </dev/null >&2 || die "redis-server failed to start (see $RDIR/redis.log)"
  for ((i = 0; i < TIMEOUT * 4; i++)); do
    ping && break
    sleep 0.25
  done
  if ! ping; then
    tail -n 30 "$RDIR/redis.log" >&2 || true
    die "redis did not answer PING on 127.0.0.1:$PORT within ${TIMEOUT}s"
  fi
fi
log "ready"
echo "REDIS_URL=redis://127.0.0.1:$PORT"
